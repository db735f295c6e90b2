"""The DeepMimic tracking similarities of zg/CharacterMimic-v0: how closely a simulated pose follows the clip.

Each similarity is in [0, 1] and is 1 exactly when the simulated quantity equals the reference one; the
env's docstring gives the formulas and the weights that turn them into the reward.
"""

from __future__ import annotations

import numpy as np

from zg_envs.bullet import humanoid as hm
from zg_envs.bullet.motion import ReferencePose

#: the five terms of the reward, in the order they are summed: ``reward_<term>``, ``<term>_similarity``
TERMS = ("pose", "velocity", "end_effector", "root", "com")

_sum = np.add.reduce  # what np.sum calls, without its Python wrapper


def similarities(s: dict[str, np.ndarray], ref: ReferencePose, ee: np.ndarray, ref_ee: np.ndarray,
                 com_vel: np.ndarray, ref_com_vel: np.ndarray) -> dict[str, float]:
    """The five similarities ``<term>_similarity`` of the simulated state ``s`` against the reference.

    ``s`` holds the root and joint state as read from the simulation (``root_pos``, ``root_rot``,
    ``root_lin_vel``, ``root_ang_vel``, ``joint_rot``, ``joint_ang_vel``, ``joint_angle``, ``joint_rate``);
    ``ee`` and ``ref_ee`` are the world positions (4, 3) of the feet and hands, ``com_vel`` and
    ``ref_com_vel`` the centre-of-mass velocities.
    """
    sph_err = angle_between(s["joint_rot"], ref.joint_rot) ** 2
    rev_err = (s["joint_angle"] - ref.joint_angle) ** 2
    pose_err = hm.SPHERICAL_WEIGHTS @ sph_err + hm.REVOLUTE_WEIGHTS @ rev_err
    vel_err = hm.SPHERICAL_WEIGHTS @ _sum((s["joint_ang_vel"] - ref.joint_ang_vel) ** 2, axis=1)
    vel_err += hm.REVOLUTE_WEIGHTS @ (s["joint_rate"] - ref.joint_rate) ** 2
    ee_rel = ee - s["root_pos"]
    ref_rel = ref_ee - ref.root_pos
    ee_err = float(_sum((ee_rel - ref_rel) ** 2, axis=None))
    root_err = (
        float(_sum((s["root_pos"] - ref.root_pos) ** 2))
        + 0.1 * float(angle_between(s["root_rot"], ref.root_rot)) ** 2
        + 0.01 * float(_sum((s["root_lin_vel"] - ref.root_lin_vel) ** 2))
        + 0.001 * float(_sum((s["root_ang_vel"] - ref.root_ang_vel) ** 2))
    )
    com_err = float(_sum((com_vel - ref_com_vel) ** 2))
    return {
        "pose_similarity": float(np.exp(-2.0 * pose_err)),
        "velocity_similarity": float(np.exp(-0.1 * vel_err)),
        "end_effector_similarity": float(np.exp(-40.0 * ee_err)),
        "root_similarity": float(np.exp(-5.0 * root_err)),
        "com_similarity": float(np.exp(-10.0 * com_err)),
    }


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``quaternion.angle_between`` for float arrays, the same numbers without the wrappers' cost (once a step).

    ``np.sum`` is ``np.add.reduce`` and ``|dot|`` is never below 0, so only the upper clip is needed.
    """
    return 2.0 * np.arccos(np.minimum(np.abs(_sum(a * b, axis=-1)), 1.0))
