"""The characters of zg/CharacterLocomotion-v0 and their constants, taken from PyBullet's locomotion port.

The values are those of ``pybullet_envs`` (``robot_locomotors.py``, ``gym_locomotion_envs.py``; also in
``pybullet_envs_gymnasium``), so that returns compare with the scores published for ``HopperBulletEnv-v0``
and its siblings. :class:`~zg_envs.bullet.character_locomotion_v0.CharacterLocomotionEnv`'s docstring has
the table; this module only holds the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CharacterSpec:
    """What differs between the characters; see the table in CharacterLocomotionEnv's docstring."""

    file: str  # MJCF file under pybullet_data/mjcf
    planar: bool  # moves in the x-z plane through two slider joints and a hinge (hopper, walker, cheetah)
    feet: tuple[str, ...]  # links whose ground contact is observed
    power: float  # torque = power * motor_coef * action
    min_height: float | None  # fall when the torso's centre of mass is lower (m)
    max_pitch: float | None  # planar: fall when |torso pitch| is larger (rad)
    camera_distance: float
    #: per-motor torque coefficient by joint name; motors not named get :data:`DEFAULT_MOTOR_COEF`. The
    #: port ignores the MJCF files' ``gear`` and uses these.
    motor_coef: tuple[tuple[str, float], ...] = ()
    #: links whose ground contact is a fall (the port's half_cheetah: shins and thighs)
    falling_contacts: tuple[str, ...] = ()
    alive_bonus: float = 1.0  # reward per step while standing (the port's humanoid: 2)
    cost_scale: float = 1.0  # multiplies the electricity and stall costs (the port's humanoid: 4.25)
    #: whether a fall ends the episode (the port's half_cheetah runs on, scoring -1 per fallen step)
    fall_terminates: bool = True


#: the port's ``power_coef`` of every motor it does not set otherwise
DEFAULT_MOTOR_COEF = 100.0

_HUMANOID_COEF = (
    ("right_hip_y", 300.0), ("left_hip_y", 300.0), ("right_knee", 200.0), ("left_knee", 200.0),
    *((f"{side}_{joint}", 75.0) for side in ("right", "left") for joint in ("shoulder1", "shoulder2", "elbow")),
)

CHARACTERS: dict[str, CharacterSpec] = {
    "hopper": CharacterSpec("hopper.xml", True, ("foot",), 0.75, 0.8, 1.0, 1.8),
    "walker2d": CharacterSpec("walker2d.xml", True, ("foot", "foot_left"), 0.40, 0.8, 1.0, 1.8,
                              motor_coef=(("foot_joint", 30.0), ("foot_left_joint", 30.0))),
    "half_cheetah": CharacterSpec("half_cheetah.xml", True, ("bfoot", "ffoot"), 0.90, None, 1.0, 1.8,
                                  motor_coef=(("bthigh", 120.0), ("bshin", 90.0)),
                                  falling_contacts=("fshin", "fthigh", "bshin", "bthigh"), fall_terminates=False),
    "ant": CharacterSpec(
        "ant.xml", False, ("front_left_foot", "front_right_foot", "left_back_foot", "right_back_foot"),
        2.5, 0.26, None, 2.0,
    ),
    "humanoid": CharacterSpec("humanoid_symmetric.xml", False, ("right_foot", "left_foot"), 0.41, 0.78, None, 2.2,
                              motor_coef=_HUMANOID_COEF, alive_bonus=2.0, cost_scale=4.25),
}


def motor_coefficients(spec: CharacterSpec, joints: list[str]) -> list[float]:
    """The torque coefficient of each motor, in the order of ``joints``."""
    named = dict(spec.motor_coef)
    return [named.get(name, DEFAULT_MOTOR_COEF) for name in joints]
