"""zg/CharacterLocomotion-v0: torque-controlled MJCF characters learn to run forward."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data
from gymnasium import spaces

from zg_envs.bullet.base import BulletEnv, Camera
from zg_envs.bullet.locomotion_characters import CHARACTERS, CharacterSpec, motor_coefficients
from zg_envs.utils import PickleByArguments, check_action, check_float, deprecated_alias


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
    (``humanoid_symmetric.xml``, 3D biped). Feet hitting and leaving the ground make the return a
    discontinuous function of the torques. The world is Z-up; physics at ``sim_frequency`` (240 Hz),
    torques held for one control step at ``control_frequency`` (60 Hz). No self-collision.

    Rewards, torques, falls and physics settings are those of PyBullet's port of the Roboschool tasks
    (``pybullet_envs``, for Gymnasium ``pybullet_envs_gymnasium``: ``HopperBulletEnv-v0``,
    ``Walker2DBulletEnv-v0``, ``HalfCheetahBulletEnv-v0``, ``AntBulletEnv-v0``, ``HumanoidBulletEnv-v0``),
    so that the scores published for those envs apply; for hopper RL Baselines3 Zoo reports PPO 2,575
    (2M steps) and SAC 2,603 (1M steps). What still differs, all small: the control step is 1/60 s
    against the port's 0.0165 s (a 1,000-step episode lasts 16.7 s against 16.5 s, and the same distance
    gives 1% less progress reward); ours has no self-collision (the port collides non-adjacent links of
    the ant and humanoid); the start is clipped into the joint ranges (the port starts the ant's ankles
    outside theirs, at 0, and its ant collapses within 20 steps of the zero action; ours stands); the
    observation is ours (below), not the port's.

    ```python
    import gymnasium as gym, zg_envs
    env = gym.make("zg/CharacterLocomotion-v0", character="walker2d", render_mode="rgb_array")
    ```

    ## Action Space
    ``Box(-1, 1, (n,), float32)``, one value per motor of the MJCF file in file order (``n`` = 3 hopper,
    6 walker2d, 6 half_cheetah, 8 ant, 17 humanoid). The joint torque is ``power * coef * action``, as in
    the port: ``power`` per character (0.75 hopper, 0.40 walker2d, 0.90 half_cheetah, 2.5 ant, 0.41
    humanoid) unless the ``power`` argument overrides it, and the port's ``coef``, 100 for every motor
    except walker2d's feet (30), half_cheetah's ``bthigh`` (120) and ``bshin`` (90), and humanoid's
    hips ``*_hip_y`` (300), knees (200) and arms (75). The port ignores the files' ``gear`` and so does
    this env. Finite values outside [-1, 1] are clipped; NaN or inf raise ``ValueError``.

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
    ``reward = reward_forward + reward_alive + reward_energy + reward_stall + reward_joint_limits``, each
    in ``info``, with the port's terms (``WalkerBaseBulletEnv.step``; the port's name in brackets):

    | term | definition | port |
    |------|------------|------|
    | ``reward_forward`` | ``forward_weight * (d_before - d_after) / dt``, ``d`` the distance from the port's body position to the walk target 1 km ahead on the x axis | ``progress`` |
    | ``reward_alive`` | ``alive_weight * bonus`` while standing (``bonus`` 2 for humanoid, else 1), ``-alive_weight`` on a fallen step (see Episode End) | ``_alive`` |
    | ``reward_energy`` | ``-energy_weight * cost_scale * mean_i abs(action_i * joint_velocity_i)`` | ``electricity_cost`` (-2 times 0.1 rad/s units) |
    | ``reward_stall`` | ``-stall_weight * cost_scale * mean_i action_i^2`` | ``stall_torque_cost`` |
    | ``reward_joint_limits`` | ``-joint_limit_weight *`` the number of joints within 0.5% of the range's width from either end (rescaled position beyond 0.99) | ``joints_at_limit_cost`` |

    ``cost_scale`` is 4.25 for the humanoid (the port's 17 / 4 joints), else 1. The port's body position
    is the mean of the centres of mass of the character's links, and of the ground's origin (it counts the
    floor among the character's parts; for the ant and humanoid also the base, their torso), so
    ``reward_forward`` is about 10/11 (hopper) of the links' mean forward speed. The defaults are the
    port's weights; ``alive_weight=0`` removes the alive bonus (Augmented Random Search trains so on
    hopper, to avoid the local optimum of standing still). ``info`` also holds ``x_position`` (the
    torso's x) and ``x_velocity``; ``reset`` returns these two (the reward terms belong to a step).

    Reference returns (hopper): the zero action falls after 34-46 steps and scores about 50 (seeds 0-2;
    the port: 28-68 steps, 40-51); standing for all 1,000 steps earns at most 1,000, the alive bonus
    (OpenES's standing policy: 790, the rest lost to the costs); the published scores above, about 2,600.

    ## Starting State
    The file's pose (every joint at 0, clipped into the joint's range) with every actuated joint position
    perturbed by uniform noise in [-``reset_noise_scale``, ``reset_noise_scale``] drawn from
    ``self.np_random`` (clipped into the range again) and every joint at rest, as in the port. The
    characters start slightly above the ground and drop onto it.

    ## Episode End
    Termination on a fall, the port's conditions (``alive_bonus`` in ``robot_locomotors.py``):

    | character | falls when |
    |-----------|------------|
    | hopper, walker2d | torso centre of mass at or below 0.8 m, or torso pitch at or beyond 1 rad |
    | half_cheetah | never: the episode runs on, and a step with the torso pitch at or beyond 1 rad or a thigh or shin on the ground scores the fall's -1 instead of the bonus |
    | ant | torso centre of mass at or below 0.26 m |
    | humanoid | torso centre of mass at or below 0.78 m |

    or when the simulation state stops being finite. Truncation: ``max_episode_steps`` = 1000 through
    ``gymnasium.make`` (the registration's TimeLimit, ``env.spec.max_episode_steps``), as the port's
    registration; the env itself has no limit, so ``env.unwrapped.horizon`` is ``None``. ``step()`` after
    termination (or before the first ``reset()``) raises ``RuntimeError``.

    ``reset`` restores the saved world and clears every contact the last episode left, so an episode
    with a given seed and actions is bit-identical whatever ran before it (see
    :mod:`zg_envs.bullet.base`). ``reset`` takes no ``options``; any key raises ``ValueError``.

    ## Arguments
    | Parameter | Type | Default | Description |
    |-----------|------|---------|-------------|
    | `character` | str | `"hopper"` | `hopper`, `walker2d`, `half_cheetah`, `ant` or `humanoid` |
    | `forward_weight` | float | `1.0` | weight of the progress towards the walk target |
    | `alive_weight` | float | `1.0` | weight of the alive bonus (and of the fall's -1) |
    | `energy_weight` | float | `0.2` | weight of the electricity cost, per rad/s (the port's 2.0 per 10 rad/s) |
    | `stall_weight` | float | `0.1` | weight of the stall-torque cost |
    | `joint_limit_weight` | float | `0.1` | cost per joint at its limit |
    | `power` | float or None | `None` | torque scale; `None`: the character's default |
    | `reset_noise_scale` | float | `0.1` | half-width of the uniform start noise of the joint positions |
    | `control_frequency` | int | `60` | actions per second |
    | `sim_frequency` | int | `240` | physics steps per second, a multiple of `control_frequency` |
    | `solver_iterations` | int | `5` | PyBullet's constraint-solver iterations per sub-step (the port's 5) |
    | `render_mode` | str or None | `None` | keyword-only; `"rgb_array"`: picture from a camera following the torso |
    | `render_width`, `render_height` | int | `240`, `180` | picture size, 16..4096 each |

    Physics as in the port's stadium scene: gravity 9.8 m/s^2, ground friction 0.8 and restitution 0.5,
    default contact ERP 0.9, link friction 0.8 (the files' value).

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
    - v0, **rewards, torques, falls and physics changed** (no version bump, as for the changes above; returns
      before and after do not compare): made the port's, so that published PyBullet scores apply. The
      progress term replaced the torso's forward speed, the stall and joint-limit costs were added, a fall
      costs -1 (it scored 0), the humanoid's bonus and costs follow the port, torques use the port's
      coefficients instead of the files' ``gear`` (hopper's torques halved), half_cheetah no longer terminates
      (it ended when the torso touched the ground; now a pitch or a thigh or shin contact scores -1 a step), humanoid below 0.78 m (0.8),
      the start has no velocity noise, and the physics is the port's (5 solver iterations, was 50; gravity
      9.8, was 9.81; ground restitution 0.5, was 0; contact ERP 0.9).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(
        self,
        character: str = "hopper",
        forward_weight: float = 1.0,
        alive_weight: float = 1.0,
        energy_weight: float = 0.2,
        stall_weight: float = 0.1,
        joint_limit_weight: float = 0.1,
        power: float | None = None,
        reset_noise_scale: float = 0.1,
        control_frequency: int = 60,
        sim_frequency: int = 240,
        solver_iterations: int = 5,
        render_width: int = 240,
        render_height: int = 180,
        *,
        render_mode: str | None = None,
    ):
        PickleByArguments.__init__(self, character=character, forward_weight=forward_weight,
                                   alive_weight=alive_weight, energy_weight=energy_weight, stall_weight=stall_weight,
                                   joint_limit_weight=joint_limit_weight, power=power,
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
            gravity=(0.0, 0.0, -9.8),  # the port's
        )
        self.character = character
        #: no episode limit of the env's own: the registration's TimeLimit (``spec.max_episode_steps``) ends it
        self.horizon = None
        self.character_spec = CHARACTERS[character]
        self.forward_weight = check_float("forward_weight", forward_weight, minimum=0.0)
        self.alive_weight = check_float("alive_weight", alive_weight, minimum=0.0)
        self.energy_weight = check_float("energy_weight", energy_weight, minimum=0.0)
        self.stall_weight = check_float("stall_weight", stall_weight, minimum=0.0)
        self.joint_limit_weight = check_float("joint_limit_weight", joint_limit_weight, minimum=0.0)
        self.power = self.character_spec.power if power is None else check_float("power", power, 0.0, strict=True)
        self.reset_noise_scale = check_float("reset_noise_scale", reset_noise_scale, minimum=0.0)

        self._mjcf = Path(pybullet_data.getDataPath()) / "mjcf" / self.character_spec.file
        self._motors = mjcf_motors(self._mjcf)
        n, f = len(self._motors), len(self.character_spec.feet)
        self._motor_coef = np.array(motor_coefficients(self.character_spec, [name for name, _ in self._motors]))
        self._torque_scale = self.power * self._motor_coef
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
        client.changeDynamics(self._plane, -1, lateralFriction=0.8, restitution=0.5)  # the port's stadium floor
        client.setDefaultContactERP(0.9)
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
        self._falling_links = {link_index[name] for name in self.character_spec.falling_contacts}
        # the port's body position averages these links' centres and the floor's origin (see Rewards)
        self._part_links = list(range(client.getNumJoints(body)))
        self._part_base = "torso" not in link_index
        self._part_count = len(self._part_links) + self._part_base + 1
        span = self._upper - self._lower
        self._limited = span > 0
        self._span = np.where(self._limited, span, 1.0)
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
        for j, q in zip(self._joints, qpos):
            client.resetJointState(self._body, j, float(q), 0.0)
        obs, torso_x, _ = self._observe()
        self._x = torso_x
        self._distance = self._target_distance(forward_kinematics=True)
        return obs, {"x_position": torso_x, "x_velocity": 0.0}

    #: the port's walk target: 1 km ahead on the x axis
    _TARGET_X = 1000.0

    def _target_distance(self, forward_kinematics: bool = False) -> float:
        """Distance from the port's body position (mean of the parts' centres, floor included) to the target."""
        links = self.client.getLinkStates(self._body, self._part_links,
                                          computeForwardKinematics=int(forward_kinematics))
        x = sum(link[0][0] for link in links)
        y = sum(link[0][1] for link in links)
        if self._part_base:
            base = self._c_base_pose(self._body)[0]
            x, y = x + base[0], y + base[1]
        x, y = x / self._part_count, y / self._part_count  # the floor's origin adds (0, 0)
        return float(np.hypot(self._TARGET_X - x, y))

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
        fallen = (  # the port's alive_bonus: alive while z > min_height and |pitch| < max_pitch
            (spec.min_height is not None and pos[2] <= spec.min_height)
            or (spec.max_pitch is not None and abs(pitch) >= spec.max_pitch)
            or not self._falling_links.isdisjoint(touching)
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
        joint_pos, joint_vel = obs[11 : 11 + n], obs[11 + n : 11 + 2 * n]
        x_velocity = (x - self._x) / self.dt
        self._x = x
        distance = self._target_distance()
        progress = (self._distance - distance) / self.dt
        self._distance = distance
        finite = bool(np.all(np.isfinite(obs))) and np.isfinite(progress)
        if not finite:
            obs = np.nan_to_num(obs, nan=0.0, posinf=0.0, neginf=0.0)
        spec = self.character_spec
        terminated = (fallen and spec.fall_terminates) or not finite
        # the port's joints_at_limit: rescaled position 2 (q - lower) / (upper - lower) - 1 beyond 0.99
        scaled = 2 * (joint_pos - self._lower) / self._span - 1
        at_limit = int(np.count_nonzero(self._limited & (np.abs(scaled) > 0.99)))
        info = {
            "reward_forward": self.forward_weight * progress if finite else 0.0,
            "reward_alive": -self.alive_weight if fallen or not finite else self.alive_weight * spec.alive_bonus,
            "reward_energy": (-self.energy_weight * spec.cost_scale * float(np.mean(np.abs(action * joint_vel)))
                              if finite else 0.0),
            "reward_stall": -self.stall_weight * spec.cost_scale * float(np.mean(np.square(action))),
            "reward_joint_limits": -self.joint_limit_weight * at_limit if finite else 0.0,
            "x_position": x,
            "x_velocity": x_velocity,
        }
        reward = (info["reward_forward"] + info["reward_alive"] + info["reward_energy"] + info["reward_stall"]
                  + info["reward_joint_limits"])
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
