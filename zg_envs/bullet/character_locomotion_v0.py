"""zg/CharacterLocomotion-v0: torque-controlled MJCF characters learn to run forward."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data
from gymnasium import spaces

from zg_envs.bullet.base import BulletEnv, Camera
from zg_envs.utils import PickleByArguments, check_action, check_float, deprecated_alias


@dataclass(frozen=True)
class CharacterSpec:
    """What differs between the characters; see the table in CharacterLocomotionEnv's docstring."""

    file: str  # MJCF file under pybullet_data/mjcf
    planar: bool  # moves in the x-z plane through two slider joints and a hinge (hopper, walker, cheetah)
    feet: tuple[str, ...]  # links whose ground contact is observed
    power: float  # torque = power * gear * action
    min_height: float | None  # fall when the torso's centre of mass is lower (m)
    max_pitch: float | None  # planar: fall when |torso pitch| is larger (rad)
    torso_touch_falls: bool  # fall when the torso touches the ground
    camera_distance: float


CHARACTERS: dict[str, CharacterSpec] = {
    "hopper": CharacterSpec("hopper.xml", True, ("foot",), 0.75, 0.8, 1.0, False, 1.8),
    "walker2d": CharacterSpec("walker2d.xml", True, ("foot", "foot_left"), 0.40, 0.8, 1.0, False, 1.8),
    "half_cheetah": CharacterSpec("half_cheetah.xml", True, ("bfoot", "ffoot"), 0.90, None, None, True, 1.8),
    "ant": CharacterSpec(
        "ant.xml", False, ("front_left_foot", "front_right_foot", "left_back_foot", "right_back_foot"),
        2.5, 0.26, None, False, 2.0,
    ),
    "humanoid": CharacterSpec("humanoid_symmetric.xml", False, ("right_foot", "left_foot"), 0.41, 0.8, None, False, 2.2),
}


def mjcf_motors(path: Path) -> list[tuple[str, float]]:
    """``(joint name, gear)`` of every ``<motor>`` in an MJCF file, in file order (= action order)."""
    root = ET.parse(path).getroot()
    return [(m.get("joint"), float(m.get("gear", "1"))) for a in root.iter("actuator") for m in a.iter("motor")]


class CharacterLocomotionEnv(BulletEnv, PickleByArguments):
    r"""
    ## Description
    A torque-controlled character from ``pybullet_data/mjcf`` learns to move forward (along +x) without
    falling, in PyBullet: ``character="hopper"`` (one-legged, planar), ``"walker2d"`` (two-legged,
    planar), ``"half_cheetah"`` (planar quadruped-like runner), ``"ant"`` (3D quadruped) or ``"humanoid"``
    (``humanoid_symmetric.xml``, 3D biped). The classic MuJoCo locomotion tasks, rebuilt here on PyBullet
    for Gymnasium; feet hitting and leaving the ground make the return a discontinuous function of the
    torques. The world is Z-up; physics at ``sim_frequency`` (240 Hz), torques held for one control step
    at ``control_frequency`` (60 Hz). No self-collision.

    ```python
    import gymnasium as gym, zg_envs
    env = gym.make("zg/CharacterLocomotion-v0", character="walker2d", render_mode="rgb_array")
    ```

    ## Action Space
    ``Box(-1, 1, (n,), float32)``, one value per motor of the MJCF file in file order (``n`` = 3 hopper,
    6 walker2d, 6 half_cheetah, 8 ant, 17 humanoid). The joint torque is ``power * gear * action`` with
    ``gear`` from the file and ``power`` per character (0.75 hopper, 0.40 walker2d, 0.90 half_cheetah,
    2.5 ant, 0.41 humanoid, the Roboschool values) unless the ``power`` argument overrides it. Finite
    values outside [-1, 1] are clipped; NaN or inf raise ``ValueError``.

    ## Observation Space
    ``Box(-inf, inf, (11 + 2 n + f,), float64)``, ``f`` feet (1 hopper, 2 walker2d, 2 half_cheetah,
    4 ant, 2 humanoid), so 18 / 25 / 25 / 31 / 47 values:

    | Num | Observation | Size |
    |-----|-------------|------|
    | 0 | torso height: z of its centre of mass (m) | 1 |
    | 1-4 | torso orientation quaternion (x, y, z, w) | 4 |
    | 5-7 | torso linear velocity, world frame (m/s) | 3 |
    | 8-10 | torso angular velocity, world frame (rad/s) | 3 |
    | 11 .. 10+n | actuated joint positions (rad) | n |
    | 11+n .. 10+2n | actuated joint velocities (rad/s) | n |
    | 11+2n .. | foot contacts, 1.0 when the foot touches the ground | f |

    ## Rewards
    ``reward = reward_forward + reward_alive + reward_energy``, each in ``info``:

    - ``reward_forward = forward_weight * (x_after - x_before) / dt``: forward speed of the torso;
    - ``reward_alive = alive_weight`` while the character has not fallen, else 0;
    - ``reward_energy = -energy_weight * mean_i |action_i * joint_velocity_i|``: an electricity cost,
      the (normalised) torque times the joint speed.

    ``info`` also holds ``x_position`` and ``x_velocity``; ``reset`` returns these two (the reward terms
    belong to a step).

    ## Starting State
    The file's pose (every joint at 0, clipped into the joint's range) with every actuated joint position
    and velocity perturbed by uniform noise in [-``reset_noise_scale``, ``reset_noise_scale``] drawn from
    ``self.np_random`` (positions clipped into the range again). The characters start slightly above the
    ground and drop onto it.

    ## Episode End
    Termination on a fall:

    | character | falls when |
    |-----------|------------|
    | hopper, walker2d | torso centre of mass below 0.8 m, or torso pitch beyond 1 rad |
    | half_cheetah | the torso (or head) touches the ground, i.e. it flipped over |
    | ant | torso centre of mass below 0.26 m |
    | humanoid | torso centre of mass below 0.8 m |

    or when the simulation state stops being finite. Truncation: ``max_episode_steps`` = 1000 through
    ``gymnasium.make`` (the registration's TimeLimit, ``env.spec.max_episode_steps``); the env itself has
    no limit, so ``env.unwrapped.horizon`` is ``None``. ``step()`` after termination (or before the first
    ``reset()``) raises ``RuntimeError``.

    ``reset`` restores the saved world and clears every contact the last episode left, so an episode
    with a given seed and actions is bit-identical whatever ran before it (see
    :mod:`zg_envs.bullet.base`). ``reset`` takes no ``options``; any key raises ``ValueError``.

    ## Arguments
    | Parameter | Type | Default | Description |
    |-----------|------|---------|-------------|
    | `character` | str | `"hopper"` | `hopper`, `walker2d`, `half_cheetah`, `ant` or `humanoid` |
    | `forward_weight` | float | `1.0` | weight of the forward speed |
    | `alive_weight` | float | `1.0` | bonus per step while not fallen |
    | `energy_weight` | float | `0.2` | weight of the electricity cost |
    | `power` | float or None | `None` | torque scale; `None`: the character's default |
    | `reset_noise_scale` | float | `0.1` | half-width of the uniform start noise |
    | `control_frequency` | int | `60` | actions per second |
    | `sim_frequency` | int | `240` | physics steps per second, a multiple of `control_frequency` |
    | `solver_iterations` | int | `50` | PyBullet's constraint-solver iterations per sub-step |
    | `render_mode` | str or None | `None` | keyword-only; `"rgb_array"`: picture from a camera following the torso |
    | `render_width`, `render_height` | int | `240`, `180` | picture size, 16..4096 each |

    Memory: the world takes well under 64 MiB; a render mode adds 32 bytes per pixel (0.5 GiB at the
    largest 4096 x 4096). Arguments above the bound of every zg env, `zg_envs.utils.MEMORY_BOUND_BYTES`
    (2 GiB), are refused in `__init__` with the estimate.

    ## Version History
    - v0: initial version; resets made exact (no contact left from the previous episode) and
      ``step()`` after termination made an error without a version bump.
    - v0: the attribute ``spec_`` (the character's constants, easily confused with ``Env.spec``) renamed
      ``character_spec``; ``spec_`` still works, with a ``DeprecationWarning``.
    - v0: ``render_mode`` made keyword-only, the last argument, as in every zg env.
    - v0: picklable (it was not), as its constructor arguments (``zg_envs.utils.PickleByArguments``): a
      copy connects its own physics client, starts without an episode, and ``reset(seed=s)`` gives the
      original's episode.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(
        self,
        character: str = "hopper",
        forward_weight: float = 1.0,
        alive_weight: float = 1.0,
        energy_weight: float = 0.2,
        power: float | None = None,
        reset_noise_scale: float = 0.1,
        control_frequency: int = 60,
        sim_frequency: int = 240,
        solver_iterations: int = 50,
        render_width: int = 240,
        render_height: int = 180,
        *,
        render_mode: str | None = None,
    ):
        PickleByArguments.__init__(self, character=character, forward_weight=forward_weight,
                                   alive_weight=alive_weight, energy_weight=energy_weight, power=power,
                                   reset_noise_scale=reset_noise_scale, control_frequency=control_frequency,
                                   sim_frequency=sim_frequency, solver_iterations=solver_iterations,
                                   render_width=render_width, render_height=render_height, render_mode=render_mode)
        if not isinstance(character, str) or character not in CHARACTERS:
            raise ValueError(f"character must be one of {list(CHARACTERS)}, got {character!r}")
        super().__init__(
            control_frequency=control_frequency,
            sim_frequency=sim_frequency,
            solver_iterations=solver_iterations,
            render_mode=render_mode,
            render_width=render_width,
            render_height=render_height,
            gravity=(0.0, 0.0, -9.81),
        )
        self.character = character
        #: no episode limit of the env's own: the registration's TimeLimit (``spec.max_episode_steps``) ends it
        self.horizon = None
        self.character_spec = CHARACTERS[character]
        self.forward_weight = check_float("forward_weight", forward_weight, minimum=0.0)
        self.alive_weight = check_float("alive_weight", alive_weight, minimum=0.0)
        self.energy_weight = check_float("energy_weight", energy_weight, minimum=0.0)
        self.power = self.character_spec.power if power is None else check_float("power", power, 0.0, strict=True)
        self.reset_noise_scale = check_float("reset_noise_scale", reset_noise_scale, minimum=0.0)

        self._mjcf = Path(pybullet_data.getDataPath()) / "mjcf" / self.character_spec.file
        self._motors = mjcf_motors(self._mjcf)
        n, f = len(self._motors), len(self.character_spec.feet)
        self._gears = np.array([g for _, g in self._motors])
        self._torque_scale = self.power * self._gears
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(11 + 2 * n + f,), dtype=np.float64)
        self._body = self._plane = -1
        self._x = 0.0
        self.check_memory()

    #: the old name of ``character_spec``, which read like Gymnasium's ``Env.spec``
    spec_ = deprecated_alias("character_spec", "spec_")

    # ------------------------------------------------------------------ world
    def build_world(self, client) -> int:
        self._plane = client.loadURDF("plane.urdf")
        client.changeDynamics(self._plane, -1, lateralFriction=0.8, restitution=0.0)
        bodies = client.loadMJCF(str(self._mjcf))
        self._body = body = bodies[0]
        joint_index, link_index = {}, {}
        for j in range(client.getNumJoints(body)):
            info = client.getJointInfo(body, j)
            joint_index[info[1].decode()] = j
            link_index[info[12].decode()] = j
            client.changeDynamics(body, j, lateralFriction=0.8)
        missing = [name for name, _ in self._motors if name not in joint_index]
        if missing:  # pragma: no cover - the shipped files are consistent
            raise RuntimeError(f"{self._mjcf}: motors on unknown joints {missing}")
        self._joints = [joint_index[name] for name, _ in self._motors]
        limits = np.array([client.getJointInfo(body, j)[8:10] for j in self._joints])
        self._lower, self._upper = limits[:, 0], limits[:, 1]
        self._feet = np.array([link_index[name] for name in self.character_spec.feet])
        self._torso = link_index["torso"] if self.character_spec.planar else -1
        # planar characters: slide x, slide z, hinge pitch come first in the file
        self._root_joints = list(range(3)) if self.character_spec.planar else []
        self._state_joints = self._root_joints + self._joints
        if self.render_mode == "rgb_array":  # colour only, for contrast with the floor
            for link in range(-1, client.getNumJoints(body)):
                client.changeVisualShape(body, link, rgbaColor=[0.95, 0.55, 0.25, 1.0])
        # switch off PyBullet's default velocity motors so that only our torques act
        every = list(range(client.getNumJoints(body)))
        client.setJointMotorControlArray(body, every, pybullet.VELOCITY_CONTROL, forces=[0.0] * len(every))
        self._c_torques = client.setJointMotorControlArray
        self._c_joint_states = client.getJointStates
        self._c_link_state = client.getLinkState
        self._c_base_pose = client.getBasePositionAndOrientation
        self._c_base_vel = client.getBaseVelocity
        self._c_contacts = client.getContactPoints
        self._zero_torques = [0.0] * len(self._joints)
        return self._plane

    # ------------------------------------------------------------------ Gymnasium API
    def reset_model(self, options: dict):
        client = self.client
        n = len(self._joints)
        scale = self.reset_noise_scale
        # PyBullet enforces joint ranges but does not pull a joint that starts outside its range back
        # in (the ant's ankles are 0 in the file but limited to 30-100 degrees): start inside the range.
        start = np.clip(0.0, self._lower, self._upper)
        qpos = np.clip(start + self.np_random.uniform(-scale, scale, size=n), self._lower, self._upper)
        qvel = self.np_random.uniform(-scale, scale, size=n)
        for j, q, v in zip(self._joints, qpos, qvel):
            client.resetJointState(self._body, j, float(q), float(v))
        obs, torso_x, _ = self._observe()
        self._x = torso_x
        return obs, {"x_position": torso_x, "x_velocity": 0.0}

    def _observe(self):
        states = self._c_joint_states(self._body, self._state_joints)
        if self.character_spec.planar:
            link = self._c_link_state(self._body, self._torso, computeLinkVelocity=1, computeForwardKinematics=1)
            pos, rot, lin, ang = link[0], link[1], link[6], link[7]
            pitch = states[2][0]
            states = states[3:]
        else:
            pos, rot = self._c_base_pose(self._body)
            lin, ang = self._c_base_vel(self._body)
            pitch = 0.0
        contacts = self._c_contacts(bodyA=self._body, bodyB=self._plane)
        touching = {c[3] for c in contacts}
        feet = np.array([1.0 if f in touching else 0.0 for f in self._feet])
        q = np.array([s[0] for s in states])
        qd = np.array([s[1] for s in states])
        obs = np.concatenate([[pos[2]], rot, lin, ang, q, qd, feet])
        spec = self.character_spec
        fallen = (
            (spec.min_height is not None and pos[2] < spec.min_height)
            or (spec.max_pitch is not None and abs(pitch) > spec.max_pitch)
            or (spec.torso_touch_falls and self._torso in touching)
        )
        return obs, float(pos[0]), bool(fallen)

    def step(self, action):
        self.check_running()
        action = check_action(action, self.action_space)
        torques = (action * self._torque_scale).tolist()
        self._c_torques(self._body, self._joints, pybullet.TORQUE_CONTROL, forces=torques)
        self.do_simulation()
        obs, x, fallen = self._observe()
        n = len(self._joints)
        joint_vel = obs[11 + n : 11 + 2 * n]
        x_velocity = (x - self._x) / self.dt
        self._x = x
        finite = bool(np.all(np.isfinite(obs)))
        if not finite:
            obs = np.nan_to_num(obs, nan=0.0, posinf=0.0, neginf=0.0)
        terminated = fallen or not finite
        info = {
            "reward_forward": self.forward_weight * x_velocity if finite else 0.0,
            "reward_alive": 0.0 if terminated else self.alive_weight,
            "reward_energy": -self.energy_weight * float(np.mean(np.abs(action * joint_vel))) if finite else 0.0,
            "x_position": x,
            "x_velocity": x_velocity,
        }
        reward = info["reward_forward"] + info["reward_alive"] + info["reward_energy"]
        self.end_step(terminated, False)
        return obs, float(reward), terminated, False, info

    # ------------------------------------------------------------------ rendering
    _CAMERA_YAW = 15.0  # from the character's left side, slightly ahead

    def camera_target(self) -> Camera:
        client = self.client
        if self.character_spec.planar:
            pos = client.getLinkState(self._body, self._torso, computeForwardKinematics=1)[0]
        else:
            pos = client.getBasePositionAndOrientation(self._body)[0]
        target = (pos[0], pos[1], {"ant": 0.3, "half_cheetah": 0.4}.get(self.character, 0.7))
        return Camera(target=target, distance=self.character_spec.camera_distance, yaw=self._CAMERA_YAW, pitch=-12.0, up_axis=2)
