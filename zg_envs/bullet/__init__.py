"""PyBullet environments of physics-driven animated characters.

* :mod:`zg_envs.bullet.base`: the base class (one physics client per environment instance).
* :mod:`zg_envs.bullet.motion`: DeepMimic motion clips (``walk``, ``run``, ``backflip``, ...).
* :mod:`zg_envs.bullet.humanoid`: joint layout and PD gains of the DeepMimic humanoid.
* :mod:`zg_envs.bullet.character_mimic_v0`: ``zg/CharacterMimic-v0``, motion imitation.
* :mod:`zg_envs.bullet.character_locomotion_v0`: ``zg/CharacterLocomotion-v0``, MJCF locomotion.
"""
