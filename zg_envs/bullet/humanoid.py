"""Joint layout of the DeepMimic humanoid (``pybullet_data/humanoid/humanoid.urdf``).

The humanoid is a Y-up character: a massless base whose fixed ``root`` joint carries the pelvis, then
eight spherical joints (three rotational degrees of freedom, driven as quaternions) and four revolute
joints (knees and elbows). Motion clips list the joints in the order of :data:`JOINTS`, which is also the
order of the actions and observations of ``zg/CharacterMimic-v0``.

PD gains and torque limits follow the DeepMimic humanoid character (Peng et al. 2018): proportional gain
``kp`` [N m / rad], derivative gain ``kd`` [N m s / rad], torque limit ``max_force`` [N m] per axis.
``weight`` is the joint's share of the pose and velocity tracking errors (they sum to one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

URDF_PATH = "humanoid/humanoid.urdf"
#: the URDF is modelled at four times human size; loading it with this scale gives a 1.6 m character
URDF_SCALE = 0.25


@dataclass(frozen=True)
class Joint:
    name: str
    index: int  # PyBullet joint (= link) index in humanoid.urdf
    spherical: bool  # True: 3 DoF driven by a quaternion; False: 1 DoF revolute
    kp: float
    kd: float
    max_force: float
    weight: float


#: Actuated joints in motion-clip order.
JOINTS: tuple[Joint, ...] = (
    Joint("chest", 1, True, 1000.0, 100.0, 200.0, 0.16),
    Joint("neck", 2, True, 100.0, 10.0, 50.0, 0.06),
    Joint("right_hip", 3, True, 500.0, 50.0, 200.0, 0.12),
    Joint("right_knee", 4, False, 500.0, 50.0, 150.0, 0.08),
    Joint("right_ankle", 5, True, 400.0, 40.0, 90.0, 0.06),
    Joint("right_shoulder", 6, True, 400.0, 40.0, 100.0, 0.08),
    Joint("right_elbow", 7, False, 300.0, 30.0, 60.0, 0.05),
    Joint("left_hip", 9, True, 500.0, 50.0, 200.0, 0.12),
    Joint("left_knee", 10, False, 500.0, 50.0, 150.0, 0.08),
    Joint("left_ankle", 11, True, 400.0, 40.0, 90.0, 0.06),
    Joint("left_shoulder", 12, True, 400.0, 40.0, 100.0, 0.08),
    Joint("left_elbow", 13, False, 300.0, 30.0, 60.0, 0.05),
)

JOINT_INDICES: list[int] = [j.index for j in JOINTS]
SPHERICAL = np.array([j.spherical for j in JOINTS])
#: positions of the spherical / revolute joints inside JOINTS
SPHERICAL_SLOTS = np.flatnonzero(SPHERICAL)
REVOLUTE_SLOTS = np.flatnonzero(~SPHERICAL)
NUM_SPHERICAL = int(SPHERICAL.sum())  # 8
NUM_REVOLUTE = len(JOINTS) - NUM_SPHERICAL  # 4
#: actuated degrees of freedom: 3 per spherical joint, 1 per revolute joint (= action size, 28)
NUM_DOFS = 3 * NUM_SPHERICAL + NUM_REVOLUTE
#: pose weights of the spherical and revolute joints, in slot order
SPHERICAL_WEIGHTS = np.array([JOINTS[i].weight for i in SPHERICAL_SLOTS])
REVOLUTE_WEIGHTS = np.array([JOINTS[i].weight for i in REVOLUTE_SLOTS])

#: number of values a clip frame holds: duration, root position (3), root quaternion (4), then
#: 4 values per spherical joint (quaternion, w first) and 1 per revolute joint (angle in radians)
FRAME_SIZE = 1 + 3 + 4 + 4 * NUM_SPHERICAL + NUM_REVOLUTE  # 44

#: links whose world positions enter the end-effector reward: ankles (feet) and wrists (hands)
END_EFFECTORS: tuple[int, ...] = (5, 8, 11, 14)
#: links allowed to touch the ground; any other link touching it ends the episode
FEET: tuple[int, ...] = (5, 11)
#: number of links after the base (root/pelvis .. left_wrist)
NUM_LINKS = 15

#: PD settings for setJointMotorControlMultiDofArray, in JOINTS order
KP: list[float] = [j.kp for j in JOINTS]
KD: list[float] = [j.kd for j in JOINTS]
MAX_FORCES: list[list[float]] = [[j.max_force] * (3 if j.spherical else 1) for j in JOINTS]


def joint_targets(spherical_rot: np.ndarray, revolute_angle: np.ndarray) -> list[list[float]]:
    """Per-joint target lists for PyBullet (quaternions x, y, z, w for spherical, [angle] for revolute)."""
    out: list[list[float]] = [None] * len(JOINTS)  # type: ignore[list-item]
    for slot, q in zip(SPHERICAL_SLOTS, spherical_rot):
        out[slot] = q.tolist()
    for slot, a in zip(REVOLUTE_SLOTS, revolute_angle):
        out[slot] = [float(a)]
    return out


def joint_velocities(spherical_vel: np.ndarray, revolute_vel: np.ndarray) -> list[list[float]]:
    """Per-joint velocity lists for PyBullet (local angular velocity for spherical, [rate] for revolute)."""
    out: list[list[float]] = [None] * len(JOINTS)  # type: ignore[list-item]
    for slot, w in zip(SPHERICAL_SLOTS, spherical_vel):
        out[slot] = w.tolist()
    for slot, v in zip(REVOLUTE_SLOTS, revolute_vel):
        out[slot] = [float(v)]
    return out


def split_joint_states(states) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``getJointStatesMultiDof(body, JOINT_INDICES)`` into arrays.

    Returns spherical rotations (8, 4), spherical local angular velocities (8, 3), revolute angles (4,)
    and revolute rates (4,).
    """
    sph_rot = np.array([states[i][0] for i in SPHERICAL_SLOTS], dtype=np.float64)
    sph_vel = np.array([states[i][1] for i in SPHERICAL_SLOTS], dtype=np.float64)
    rev_ang = np.array([states[i][0][0] for i in REVOLUTE_SLOTS], dtype=np.float64)
    rev_vel = np.array([states[i][1][0] for i in REVOLUTE_SLOTS], dtype=np.float64)
    return sph_rot, sph_vel, rev_ang, rev_vel
