"""zg/CharacterMimic-v0: a physically simulated humanoid imitates a motion-capture clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet
from gymnasium import spaces

from zg_envs.bullet import humanoid as hm
from zg_envs.bullet import quaternion as quat
from zg_envs.bullet.base import BulletEnv, Camera
from zg_envs.bullet.mimic_reference import (ClipSampler, ReferenceKinematics, build_ghost, offset_rotations,
                                           set_humanoid_state)
from zg_envs.bullet.mimic_reward import TERMS, similarities
from zg_envs.bullet.motion import MotionClip, load_motion_clip
from zg_envs.utils import PickleByArguments, check_action, check_bool, check_float

OBS_SIZE = 2 + 1 + 4 + 3 + 3 + 4 * hm.NUM_SPHERICAL + hm.NUM_REVOLUTE + hm.NUM_DOFS + 3  # 80
_Y_UP = pybullet.getQuaternionFromEuler([-np.pi / 2, 0.0, 0.0])  # turns the Z-up plane into a Y-up floor


class CharacterMimicEnv(BulletEnv, PickleByArguments):
    r"""
    ## Description
    The DeepMimic humanoid (``pybullet_data/humanoid/humanoid.urdf``, 15 links, 8 spherical and 4 revolute
    joints, 45 kg) is simulated by PyBullet and must imitate a motion-capture clip (``walk`` by default;
    any clip shipped in ``pybullet_data/data/motions`` by name, or a path to a clip in the same JSON
    format, see :mod:`zg_envs.bullet.motion`). Every joint, the spherical ones included, is driven by a
    stable PD controller (PyBullet's ``STABLE_PD_CONTROL``) towards a target rotation: the clip's
    reference pose, offset by the action. Ground contacts make the rollout a discontinuous function of
    the actions, the setting of Peng et al., *DeepMimic*, SIGGRAPH 2018.

    The world is Y-up, as the clips are. The physics runs at ``sim_frequency`` (240 Hz) and the policy
    acts at ``control_frequency`` (30 Hz): one ``step`` sets the PD targets once and simulates
    ``sim_frequency // control_frequency`` sub-steps.

    ```python
    import gymnasium as gym, zg_envs
    env = gym.make("zg/CharacterMimic-v0", motion="run", render_mode="rgb_array")
    ```

    ## Action Space
    ``Box(-1, 1, (28,), float32)``: offsets from the reference pose, joint by joint in the order chest,
    neck, right hip, right knee, right ankle, right shoulder, right elbow, left hip, left knee, left ankle,
    left shoulder, left elbow. A spherical joint takes 3 values, a rotation vector ``a``; its PD target is
    ``q_ref * exp(spherical_action_scale * a)`` (the offset rotation is applied in the joint's own frame,
    so a rotation of up to ``sqrt(3) * spherical_action_scale`` radians). A revolute joint (knee, elbow)
    takes 1 value; its target is ``angle_ref + revolute_action_scale * a``. All zeros is "follow the
    clip". Finite values outside [-1, 1] are clipped; NaN or inf raise ``ValueError``.

    PD gains per joint (kp, kd, torque limit in N m): chest 1000, 100, 200; neck 100, 10, 50; hips 500,
    50, 200; knees 500, 50, 150; ankles 400, 40, 90; shoulders 400, 40, 100; elbows 300, 30, 60. The
    target velocity is the clip's joint velocity.

    ## Observation Space
    ``Box(-inf, inf, (80,), float64)``; quaternions are (x, y, z, w), velocities in world frame unless
    said otherwise:

    | Num | Observation | Size |
    |-----|-------------|------|
    | 0-1 | sin, cos of 2 pi x clip phase | 2 |
    | 2 | root (pelvis) height (m) | 1 |
    | 3-6 | root orientation quaternion | 4 |
    | 7-9 | root linear velocity (m/s) | 3 |
    | 10-12 | root angular velocity (rad/s) | 3 |
    | 13-44 | spherical joint rotations, 8 quaternions in action order | 32 |
    | 45-48 | revolute joint angles: right knee, right elbow, left knee, left elbow (rad) | 4 |
    | 49-72 | spherical joint angular velocities, joint-local frame (rad/s) | 24 |
    | 73-76 | revolute joint rates (rad/s) | 4 |
    | 77-79 | root position minus the reference root position (m) | 3 |

    ## Rewards
    The DeepMimic tracking reward: ``reward = reward_pose + reward_velocity + reward_end_effector
    + reward_root + reward_com`` with ``reward_pose = pose_weight * r_pose``, ``reward_velocity =
    velocity_weight * r_velocity``, ``reward_end_effector = end_effector_weight * r_end_effector``,
    ``reward_root = root_weight * r_root`` and ``reward_com = com_weight * r_com`` (at most 1 with the
    default weights). Each similarity ``r_*`` is in [0, 1]; with joint weights ``w_j`` summing to one
    (see :mod:`zg_envs.bullet.humanoid`),

    - ``r_pose = exp(-2 * sum_j w_j * angle(q_j, q_ref_j)^2)``: joint rotation errors;
    - ``r_velocity = exp(-0.1 * sum_j w_j * |omega_j - omega_ref_j|^2)``: joint velocity errors;
    - ``r_end_effector = exp(-40 * sum_e |(p_e - p_root) - (p_ref_e - p_ref_root)|^2)`` over both feet and
      both hands, positions relative to the root;
    - ``r_root = exp(-5 * (|p_root - p_ref|^2 + 0.1 angle(q_root, q_ref)^2 + 0.01 |v - v_ref|^2
      + 0.001 |omega - omega_ref|^2))``;
    - ``r_com = exp(-10 * |v_com - v_ref_com|^2)``: centre-of-mass velocity error.

    The reference pose, root position, end-effector positions and centre-of-mass velocity are blended
    linearly between the two clip frames around the current time (quaternions by slerp); the root and
    joint velocities are the clip's finite differences over that frame interval, the rates of the blend.

    ``info`` holds the five weighted terms ``reward_*`` (they sum to the reward, as in Gymnasium's
    ``hopper_v5``), the unweighted similarities ``pose_similarity``, ``velocity_similarity``,
    ``end_effector_similarity``, ``root_similarity`` and ``com_similarity`` (``r_pose`` ... ``r_com``), and
    ``time`` (seconds into the clip) and ``phase`` (fraction of the clip). If the simulation state stops
    being finite, the reward, every term and every similarity are 0. ``reset`` returns ``time`` and
    ``phase`` (the terms belong to a step).

    ## Starting State
    The character starts at the clip's pose and velocities at time 0, or, with ``random_start=True``
    (reference-state initialisation, the default), at a phase drawn uniformly from [0, 1) with
    ``self.np_random``. ``reset(options={"phase": p})`` starts at phase ``p`` whatever ``random_start``;
    ``phase`` is the only reset option, any other key raises ``ValueError``. ``reset`` restores the saved
    world and clears every contact the last episode left, so an episode with a given seed and actions is
    bit-identical whatever ran before it (see :mod:`zg_envs.bullet.base`).

    ## Episode End
    - Termination: a body part other than the two feet touches the ground (a fall), or the simulation
      state stops being finite.
    - Truncation: after ``episode_length`` control steps when given; otherwise once one clip duration
      has elapsed (a looping clip) or the clip's end is reached (a ``"none"`` clip). The id is
      registered without a TimeLimit; ``gymnasium.make(..., max_episode_steps=n)`` adds one on top.
      ``env.unwrapped.horizon`` is the longest an episode can last: ``episode_length``, else one clip
      duration in control steps (an episode of a ``"none"`` clip that starts late is shorter).
    - ``step()`` after termination or truncation (or before the first ``reset()``) raises ``RuntimeError``.

    ## Arguments
    | Parameter | Type | Default | Description |
    |-----------|------|---------|-------------|
    | `motion` | str or Path | `"walk"` | shipped clip name (`walk`, `run`, `jump`, `backflip`, `cartwheel`, `kick`, `punch`, `spin`, `roll`, `dance_a`, ...) or a path to a clip |
    | `control_frequency` | int | `30` | policy steps per second |
    | `sim_frequency` | int | `240` | physics steps per second, a multiple of `control_frequency` |
    | `pose_weight` | float | `0.5` | weight of `r_pose` |
    | `velocity_weight` | float | `0.05` | weight of `r_velocity` |
    | `end_effector_weight` | float | `0.15` | weight of `r_end_effector` |
    | `root_weight` | float | `0.2` | weight of `r_root` |
    | `com_weight` | float | `0.1` | weight of `r_com` |
    | `spherical_action_scale` | float | `0.5` | radians of offset per unit action, spherical joints |
    | `revolute_action_scale` | float | `0.5` | radians of offset per unit action, knees and elbows |
    | `random_start` | bool | `True` | reference-state initialisation at a random phase |
    | `episode_length` | int or None | `None` | control steps per episode; `None`: one clip duration |
    | `solver_iterations` | int | `20` | PyBullet's constraint-solver iterations per sub-step |
    | `render_mode` | str or None | `None` | keyword-only; `"rgb_array"`: a picture from a camera following the character, with the reference pose as a blue kinematic ghost beside it |
    | `render_width`, `render_height` | int | `240`, `180` | picture size, 16..4096 each |
    | `ghost_offset` | float | `1.0` | sideways distance (m) between the character and the ghost; 0 overlays them |

    Memory: the world takes well under 64 MiB, plus about 3 KiB per clip frame; a render mode adds 32
    bytes per pixel (0.5 GiB at the largest 4096 x 4096). Arguments above the bound of every zg env,
    `zg_envs.utils.MEMORY_BOUND_BYTES` (2 GiB), are refused in `__init__` with the estimate.

    ## Version History
    - v0: initial version; resets made exact (the ground is now a multibody, so that its contacts can be
      cleared) and ``step()`` after the episode's end made an error without a version bump.
    - v0 (info keys): the ``reward_*`` entries of ``info`` are now the weighted terms that sum to the
      reward; the unweighted ones moved to ``*_similarity`` (the reward itself is unchanged).
    - v0: ``render_mode`` made keyword-only, the last argument, as in every zg env.
    - v0: picklable (it was not), as its constructor arguments (``zg_envs.utils.PickleByArguments``): a
      copy connects its own physics client, starts without an episode, and ``reset(seed=s)`` gives the
      original's episode.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}
    reset_options = ("phase",)

    def __init__(
        self,
        motion: str | Path = "walk",
        control_frequency: int = 30,
        sim_frequency: int = 240,
        pose_weight: float = 0.5,
        velocity_weight: float = 0.05,
        end_effector_weight: float = 0.15,
        root_weight: float = 0.2,
        com_weight: float = 0.1,
        spherical_action_scale: float = 0.5,
        revolute_action_scale: float = 0.5,
        random_start: bool = True,
        episode_length: int | None = None,
        solver_iterations: int = 20,
        render_width: int = 240,
        render_height: int = 180,
        ghost_offset: float = 1.0,
        *,
        render_mode: str | None = None,
    ):
        PickleByArguments.__init__(self, motion=motion, control_frequency=control_frequency,
                                   sim_frequency=sim_frequency, pose_weight=pose_weight,
                                   velocity_weight=velocity_weight, end_effector_weight=end_effector_weight,
                                   root_weight=root_weight, com_weight=com_weight,
                                   spherical_action_scale=spherical_action_scale,
                                   revolute_action_scale=revolute_action_scale, random_start=random_start,
                                   episode_length=episode_length, solver_iterations=solver_iterations,
                                   render_width=render_width, render_height=render_height,
                                   ghost_offset=ghost_offset, render_mode=render_mode)
        if episode_length is not None and (
            isinstance(episode_length, bool)
            or not isinstance(episode_length, (int, np.integer))
            or episode_length < 1
        ):
            raise ValueError(f"episode_length must be an integer >= 1 or None, got {episode_length!r}")
        random_start = check_bool("random_start", random_start)
        super().__init__(control_frequency=control_frequency, sim_frequency=sim_frequency,
                         solver_iterations=solver_iterations, render_mode=render_mode, render_width=render_width,
                         render_height=render_height, gravity=(0.0, -9.81, 0.0))
        self.clip: MotionClip = load_motion_clip(motion)
        self.motion = motion
        self.pose_weight = check_float("pose_weight", pose_weight, minimum=0.0)
        self.velocity_weight = check_float("velocity_weight", velocity_weight, minimum=0.0)
        self.end_effector_weight = check_float("end_effector_weight", end_effector_weight, minimum=0.0)
        self.root_weight = check_float("root_weight", root_weight, minimum=0.0)
        self.com_weight = check_float("com_weight", com_weight, minimum=0.0)
        self.spherical_action_scale = check_float("spherical_action_scale", spherical_action_scale, 0.0, strict=True)
        self.revolute_action_scale = check_float("revolute_action_scale", revolute_action_scale, 0.0, strict=True)
        self.random_start = random_start
        self.episode_length = None if episode_length is None else int(episode_length)
        self.ghost_offset = check_float("ghost_offset", ghost_offset, minimum=0.0)
        #: the most control steps an episode lasts (the truncation of ``reset_model`` at phase 0)
        self.horizon = self.episode_length or max(1, int(round(self.clip.duration / self.dt)))

        self.action_space = spaces.Box(-1.0, 1.0, shape=(hm.NUM_DOFS,), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(OBS_SIZE,), dtype=np.float64)
        self._action_scale = np.concatenate([np.full(3 * hm.NUM_SPHERICAL, self.spherical_action_scale),
                                             np.full(hm.NUM_REVOLUTE, self.revolute_action_scale)])
        self._time = 0.0
        self._start_time = 0.0
        self._steps = 0
        self._step_limit = 1
        self._sampler = ClipSampler(self.clip)
        self._ref_kin: ReferenceKinematics | None = None
        self._body = self._plane = -1
        self._ghost_parts: list[tuple[int, int]] = []
        # per clip frame: the clip's arrays, the sampler's arcs and the kinematics of 15 links (about 3 KiB)
        self.check_memory(3072.0 * self.clip.num_frames, f", a clip of {self.clip.num_frames:,} frames")

    # ------------------------------------------------------------------ world
    def build_world(self, client) -> int:
        self._plane = client.loadURDF("plane.urdf", [0, 0, 0], _Y_UP)
        client.changeDynamics(self._plane, -1, lateralFriction=0.9)
        root = self.clip.sample(0.0)
        self._body = client.loadURDF(
            hm.URDF_PATH, root.root_pos.tolist(), root.root_rot.tolist(), flags=pybullet.URDF_MAINTAIN_LINK_ORDER,
            globalScaling=hm.URDF_SCALE,
        )
        body = self._body
        for link in range(-1, hm.NUM_LINKS):
            client.changeDynamics(body, link, lateralFriction=0.9, linearDamping=0.0, angularDamping=0.0)
        # The URDF gives revolute joints a default velocity motor; switch them off, PD does the driving.
        revolute = [hm.JOINTS[s].index for s in hm.REVOLUTE_SLOTS]
        client.setJointMotorControlArray(body, revolute, pybullet.VELOCITY_CONTROL, forces=[0.0] * len(revolute))
        self._masses = np.array([client.getDynamicsInfo(body, link)[0] for link in range(hm.NUM_LINKS)])
        self._mass_total = self._masses.sum()
        self._all_links = list(range(hm.NUM_LINKS))
        self._ref_kin = ReferenceKinematics(client, body, self.clip, self._masses)
        if self.render_mode == "rgb_array":
            for link in range(hm.NUM_LINKS):  # colour only: the simulated character in orange
                client.changeVisualShape(body, link, rgbaColor=[0.95, 0.55, 0.25, 1.0])
            self._ghost_parts = build_ghost(client, body)
        # bind the per-step calls once (BulletClient builds a partial on every attribute access)
        self._c_set_pd = client.setJointMotorControlMultiDofArray
        self._c_base_pose = client.getBasePositionAndOrientation
        self._c_base_vel = client.getBaseVelocity
        self._c_joint_states = client.getJointStatesMultiDof
        self._c_link_states = client.getLinkStates
        self._c_contacts = client.getContactPoints
        return self._plane

    # ------------------------------------------------------------------ Gymnasium API
    def reset_model(self, options: dict):
        if "phase" in options:
            phase = float(options["phase"])
            if not 0.0 <= phase <= 1.0:
                raise ValueError(f"options['phase'] must be in [0, 1], got {options['phase']!r}")
        elif self.random_start:
            phase = float(self.np_random.uniform(0.0, 1.0))
        else:
            phase = 0.0
        self._start_time = self._time = phase * self.clip.duration
        self._steps = 0
        if self.episode_length is not None:
            self._step_limit = self.episode_length
        else:
            remaining = self.clip.duration if self.clip.loop == "wrap" else self.clip.duration - self._start_time
            self._step_limit = max(1, int(round(remaining / self.dt)))
        ref, _ = self._sampler.sample(self._time)
        set_humanoid_state(self.client, self._body, ref.root_pos, ref.root_rot, ref.root_lin_vel, ref.root_ang_vel,
                           ref.joint_rot, ref.joint_ang_vel, ref.joint_angle, ref.joint_rate)
        state = self._read_state()
        obs = self._observation(state, ref)
        return obs, {"time": self._time, "phase": self._phase()}

    def _phase(self) -> float:
        return (self._time % self.clip.duration) / self.clip.duration if self.clip.loop == "wrap" else min(
            self._time / self.clip.duration, 1.0
        )

    def _read_state(self) -> dict[str, np.ndarray]:
        body = self._body
        pos, rot = self._c_base_pose(body)
        lin, ang = self._c_base_vel(body)
        sph_rot, sph_vel, rev_ang, rev_vel = hm.split_joint_states(self._c_joint_states(body, hm.JOINT_INDICES))
        return {
            "root_pos": np.array(pos),
            "root_rot": np.array(rot),
            "root_lin_vel": np.array(lin),
            "root_ang_vel": np.array(ang),
            "joint_rot": sph_rot,
            "joint_ang_vel": sph_vel,
            "joint_angle": rev_ang,
            "joint_rate": rev_vel,
        }

    def _observation(self, s, ref) -> np.ndarray:
        angle = 2.0 * np.pi * self._phase()
        return np.concatenate(
            [
                [np.sin(angle), np.cos(angle), s["root_pos"][1]],
                s["root_rot"],
                s["root_lin_vel"],
                s["root_ang_vel"],
                s["joint_rot"].ravel(),
                s["joint_angle"],
                s["joint_ang_vel"].ravel(),
                s["joint_rate"],
                s["root_pos"] - ref.root_pos,
            ]
        )

    def step(self, action):
        self.check_running()
        action = check_action(action, self.action_space) * self._action_scale
        target_time = self._time + self.dt
        ref, where = self._sampler.sample(target_time)
        self._last_reference = ref  # the clip's pose at the end of this step, for subclasses' episode rules
        n_sph = 3 * hm.NUM_SPHERICAL
        targets = offset_rotations(ref.joint_rot, action[:n_sph].reshape(hm.NUM_SPHERICAL, 3))
        angles = ref.joint_angle + action[n_sph:]
        self._c_set_pd(self._body, hm.JOINT_INDICES, pybullet.STABLE_PD_CONTROL,
                       targetPositions=hm.joint_targets(targets, angles),
                       targetVelocities=hm.joint_velocities(ref.joint_ang_vel, ref.joint_rate),
                       positionGains=hm.KP, velocityGains=hm.KD, forces=hm.MAX_FORCES)
        self.do_simulation()
        self._time = target_time
        self._steps += 1

        s = self._read_state()
        states = self._c_link_states(self._body, self._all_links, computeLinkVelocity=1, computeForwardKinematics=1)
        com_vel = self._masses @ np.array([st[6] for st in states]) / self._mass_total
        ee = np.array([states[i][4] for i in hm.END_EFFECTORS])
        ref_ee, ref_com_vel = self._ref_kin.extras(where)
        similarity = similarities(s, ref, ee, ref_ee, com_vel, ref_com_vel)
        terms = {f"reward_{term}": getattr(self, f"{term}_weight") * similarity[f"{term}_similarity"]
                 for term in TERMS}
        reward = sum(terms.values())  # pose + velocity + end effector + root + com, in this order
        obs = self._observation(s, ref)
        finite = bool(np.isfinite(obs).all())
        terminated = (not finite) or self._fallen()
        if not finite:
            obs = np.nan_to_num(obs, nan=0.0, posinf=0.0, neginf=0.0)
            reward = 0.0
            terms = dict.fromkeys(terms, 0.0)
            similarity = dict.fromkeys(similarity, 0.0)
        truncated = (not terminated) and self._steps >= self._step_limit
        info = {**terms, **similarity, "time": self._time, "phase": self._phase()}
        self.end_step(terminated, truncated)
        return obs, float(reward), terminated, truncated, info

    def _fallen(self) -> bool:
        for contact in self._c_contacts(bodyA=self._body, bodyB=self._plane):
            if contact[3] not in hm.FEET:
                return True
        return False

    # ------------------------------------------------------------------ rendering
    _CAMERA_YAW = -25.0  # a three-quarter side view of a clip that travels along +x
    _CAMERA_PITCH = -10.0

    def _ghost_offset_vector(self) -> np.ndarray:
        """World offset of the ghost: ``ghost_offset`` along the camera's right axis (beside the character)."""
        view = self.client.computeViewMatrixFromYawPitchRoll([0, 0, 0], 1.0, self._CAMERA_YAW, self._CAMERA_PITCH,
                                                             0.0, 1)
        right = np.array([view[0], 0.0, view[8]])  # first row of the view rotation: the camera's right axis
        return self.ghost_offset * right / np.linalg.norm(right)

    def pose_visuals(self) -> None:
        """Pose the reference ghost at the clip's current time, beside the character (``render()`` only)."""
        if not self._ghost_parts:
            return
        i, j, a, cycle = self.clip.locate(self._time)
        kin = self._ref_kin
        shift = cycle * self.clip.cycle_offset + self._ghost_offset_vector()
        link_pos = (1 - a) * kin.link_pos[i] + a * kin.link_pos[j] + shift
        link_rot = quat.slerp(kin.link_rot[i], kin.link_rot[j], a)
        for link, body in self._ghost_parts:
            self.client.resetBasePositionAndOrientation(body, link_pos[link].tolist(), link_rot[link].tolist())

    def camera_target(self) -> Camera:
        """The camera: a three-quarter view of the character and its ghost. Reads the state, changes nothing."""
        pos = np.array(self.client.getBasePositionAndOrientation(self._body)[0])
        target = pos + 0.5 * self._ghost_offset_vector()
        target[1] = 0.75
        return Camera(target=tuple(target), distance=2.6, yaw=self._CAMERA_YAW, pitch=self._CAMERA_PITCH, up_axis=1)
