"""zg/CharacterMimicOpenLoop-v0: open-loop trajectory optimisation of a clip segment through contacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zg_envs.bullet import quaternion as quat
from zg_envs.bullet.character_mimic_v0 import CharacterMimicEnv
from zg_envs.utils import PickleByArguments, check_float, check_int_arg


_UP = np.array([0.0, 1.0, 0.0])  # the pelvis' up axis in its own frame (the clips are Y-up)


def _check_phase(value) -> float:
    """``start_phase`` as a float in [0, 1); the error names the argument and the half-open range."""
    message = f"start_phase must be a finite number in [0, 1), got {value!r}"
    try:
        phase = check_float("start_phase", value, 0.0, 1.0)
    except ValueError:
        raise ValueError(message) from None
    if phase >= 1.0:
        raise ValueError(message)
    return phase


class CharacterMimicOpenLoopEnv(CharacterMimicEnv):
    r"""
    ## Description
    Optimal control in physics-driven animation: the DeepMimic humanoid of ``zg/CharacterMimic-v0`` must get
    through a short, fixed segment of a motion clip (by default one walk cycle, 1.27 s) by PD tracking of
    the clip plus offsets that a controller plans in advance. Every episode starts from the same state, the
    clip's pose at ``start_phase``, so an episode is a deterministic function of its actions alone and an
    open-loop plan (a few knots per joint, interpolated over the episode: ``policy: open_loop`` with
    ``knots`` in the shipped configs) is a complete solution. Ground contacts make the return a
    discontinuous function of the plan: a plan that trips ends the episode at the fall.

    The character must stay with the clip: an episode also ends when its root (pelvis) is more than
    ``max_root_deviation`` (0.5 m) from the clip's, since staying upright while the clip moves on is not
    tracking it, and when its pelvis is lower than ``min_height_ratio`` (0.7) times the clip's: a plan that
    keeps its root with the clip by diving forward is falling, though nothing but its feet touches the
    ground yet; and when its pelvis tilts more than ``max_tilt`` (30 degrees) from the clip's (the angle
    between the two pelvises' up axes, so heading does not count): a body that pitches forward while
    its pelvis is still high is falling too (plans of the height rule alone "completed" the
    cycle that way, 47-55 degrees off the clip's on the last step). Pure tracking of the walk cycle
    (all-zero offsets) tilts past 30 degrees after 23 of its 38 steps (return 15.9; without the tilt rule its
    pelvis goes too low at step 28, without the height rule too it is left behind at step 31, and without
    any of them it falls at step 34). The task is solved when the character
    completes the segment: ``info["progress"] == 1`` without termination. The kick (``motion="kick"``, 46
    steps) is much harder: its clip moves the root 1 m forward and 0.66 m sideways, which PD offsets drive
    only through the contacts; pure tracking is left behind after 16 steps (return 7.4; without the deviation
    limit it tilts over at step 18, and with none of the three limits it falls at step 28).

    ```python
    import gymnasium as gym, zg_envs
    env = gym.make("zg/CharacterMimicOpenLoop-v0")                  # one walk cycle
    env = gym.make("zg/CharacterMimicOpenLoop-v0", cycles=2)        # two walk cycles
    env = gym.make("zg/CharacterMimicOpenLoop-v0", motion="kick")   # the kick, 46 steps
    ```

    ## Action Space, Observation Space, Rewards
    As ``zg/CharacterMimic-v0`` (its docstring is the manual): 28 PD-target offsets in [-1, 1], the
    80-number observation, and the DeepMimic tracking reward, at most ``pose_weight + velocity_weight +
    end_effector_weight + root_weight + com_weight`` (1 with the defaults) per step, plus
    ``completion_bonus`` (1) on the step that completes the segment (``info["reward_completion"]``, 0 on
    every other step). The return therefore measures how far the character gets through the segment and
    how closely it tracks the clip on the way; the bonus tells a plan that completes the segment from one
    that falls or loses the clip on its last step, whose returns would otherwise be alike.

    ``self.max_return`` is the best possible return: every step of the segment tracked perfectly (each
    similarity 1) and the segment completed, ``horizon * (sum of the five weights) + completion_bonus``: 39
    for one walk cycle with the defaults (47 for the kick).
    ``info`` holds everything ``zg/CharacterMimic-v0`` reports plus ``progress``, the fraction of the
    segment's steps done (0 at reset, 1 at the end of a completed segment), ``root_deviation``, the
    distance (m) of the root from the clip's, ``tracking_lost``, whether this step ended the episode
    for a deviation above ``max_root_deviation``, ``too_low``, whether it ended it for a pelvis below
    ``min_height_ratio`` of the clip's, ``tilt``, the angle (degrees) between the pelvis' up axis and the
    clip's, and ``tilted``, whether it ended the episode for a tilt above ``max_tilt``. At most one of
    ``tracking_lost``, ``too_low`` and ``tilted`` is true: the rules are checked in that order, after a fall.

    ## Starting State
    The clip's pose and velocities at ``start_phase`` (no random start); the seed changes nothing.
    ``reset(options={"phase": p})`` starts elsewhere, as in ``zg/CharacterMimic-v0``, for the same
    number of steps.

    ## Episode End
    - Termination: a fall (a body part other than the feet touches the ground), a non-finite state, or
      the root more than ``max_root_deviation`` from the clip's root (``info["tracking_lost"]``), or the
      pelvis below ``min_height_ratio`` times the clip's pelvis height (``info["too_low"]``), or the
      pelvis tilted more than ``max_tilt`` degrees from the clip's (``info["tilted"]``).
    - Truncation: after ``horizon`` control steps: ``cycles`` clip durations of a looping clip, or the
      rest of the clip after ``start_phase`` for a ``"none"`` clip (``cycles`` must then be 1).

    ## Arguments
    | Parameter | Type | Default | Description |
    |-----------|------|---------|-------------|
    | `motion` | str or Path | `"walk"` | a shipped clip name or a path, as in `zg/CharacterMimic-v0` |
    | `cycles` | int | `1` | clip durations in the segment (1 for a clip that does not loop) |
    | `start_phase` | float | `0.0` | where in the clip the segment starts, in [0, 1) |
    | `max_root_deviation` | float or None | `0.5` | root-to-clip distance (m) that ends an episode; `None`: no limit |
    | `min_height_ratio` | float or None | `0.7` | pelvis height, relative to the clip's, below which an episode ends; `None`: no limit |
    | `max_tilt` | float or None | `30.0` | pelvis tilt from the clip's (degrees, in (0, 180]) above which an episode ends; `None`: no limit |
    | `completion_bonus` | float | `1.0` | reward added on the step that completes the segment (>= 0) |
    | `control_frequency`, `sim_frequency` | int | `30`, `240` | as in `zg/CharacterMimic-v0` |
    | `pose_weight` ... `com_weight` | float | `0.5`, `0.05`, `0.15`, `0.2`, `0.1` | reward weights, as there |
    | `spherical_action_scale`, `revolute_action_scale` | float | `0.5`, `0.5` | radians per unit action |
    | `solver_iterations` | int | `20` | PyBullet's constraint-solver iterations per sub-step |
    | `render_width`, `render_height`, `ghost_offset` | | `240`, `180`, `1.0` | pictures, as there |
    | `render_mode` | str or None | `None` | keyword-only; `"rgb_array"` |

    ## Version History
    - v0: initial version. The default motion was the kick before it became the walk cycle (the kick is
      not completed by any shipped method at the configured budgets; ``motion="kick"`` gives it). The tilt
      rule (``max_tilt``) came later, once plans were seen to "complete" the cycle by pitching forward with the
      pelvis still high; ``max_tilt=None`` gives the episodes of before.
    """

    def __init__(
        self,
        motion: str | Path = "walk",
        cycles: int = 1,
        start_phase: float = 0.0,
        max_root_deviation: float | None = 0.5,
        min_height_ratio: float | None = 0.7,
        max_tilt: float | None = 30.0,
        completion_bonus: float = 1.0,
        control_frequency: int = 30,
        sim_frequency: int = 240,
        pose_weight: float = 0.5,
        velocity_weight: float = 0.05,
        end_effector_weight: float = 0.15,
        root_weight: float = 0.2,
        com_weight: float = 0.1,
        spherical_action_scale: float = 0.5,
        revolute_action_scale: float = 0.5,
        solver_iterations: int = 20,
        render_width: int = 240,
        render_height: int = 180,
        ghost_offset: float = 1.0,
        *,
        render_mode: str | None = None,
    ):
        cycles = check_int_arg("cycles", cycles, 1)
        start_phase = _check_phase(start_phase)
        super().__init__(
            motion=motion, control_frequency=control_frequency, sim_frequency=sim_frequency,
            pose_weight=pose_weight, velocity_weight=velocity_weight, end_effector_weight=end_effector_weight,
            root_weight=root_weight, com_weight=com_weight, spherical_action_scale=spherical_action_scale,
            revolute_action_scale=revolute_action_scale, random_start=False, episode_length=None,
            solver_iterations=solver_iterations, render_width=render_width, render_height=render_height,
            ghost_offset=ghost_offset, render_mode=render_mode,
        )
        # after the parent's: pickling rebuilds this class from these arguments
        PickleByArguments.__init__(self, motion=motion, cycles=cycles, start_phase=start_phase,
                                   max_root_deviation=max_root_deviation, min_height_ratio=min_height_ratio,
                                   max_tilt=max_tilt, completion_bonus=completion_bonus,
                                   control_frequency=control_frequency, sim_frequency=sim_frequency,
                                   pose_weight=pose_weight, velocity_weight=velocity_weight,
                                   end_effector_weight=end_effector_weight, root_weight=root_weight,
                                   com_weight=com_weight, spherical_action_scale=spherical_action_scale,
                                   revolute_action_scale=revolute_action_scale,
                                   solver_iterations=solver_iterations, render_width=render_width,
                                   render_height=render_height, ghost_offset=ghost_offset, render_mode=render_mode)
        if self.clip.loop != "wrap" and cycles != 1:
            raise ValueError(f"cycles must be 1 for the clip {str(motion)!r}, which does not loop "
                             f"(Loop 'none'), got {cycles!r}")
        self.cycles = cycles
        self.max_root_deviation = (None if max_root_deviation is None
                                   else check_float("max_root_deviation", max_root_deviation, 0.0, strict=True))
        self.start_phase = start_phase
        if self.clip.loop == "wrap":
            duration = cycles * self.clip.duration
        else:
            duration = (1.0 - start_phase) * self.clip.duration
        self.episode_length = max(1, round(duration / self.dt))
        #: the most control steps an episode lasts: every episode that does not fall lasts this long
        self.horizon = self.episode_length
        self.min_height_ratio = (None if min_height_ratio is None
                                 else check_float("min_height_ratio", min_height_ratio, 0.0, strict=True))
        self.max_tilt = None if max_tilt is None else check_float("max_tilt", max_tilt, 0.0, 180.0, strict=True)
        self.completion_bonus = check_float("completion_bonus", completion_bonus, 0.0)
        #: the best possible return: every step tracked perfectly (each similarity 1), and the segment completed
        self.max_return = float(self.horizon * self.max_reward + self.completion_bonus)

    @property
    def max_reward(self) -> float:
        """The largest reward of one step: the sum of the five weights (perfect tracking), added as the step
        reward adds them (the defaults give 1.0000000000000002, so no return can exceed ``max_return``)."""
        return (self.pose_weight + self.velocity_weight + self.end_effector_weight + self.root_weight
                + self.com_weight)

    def reset_model(self, options: dict):
        options = {"phase": self.start_phase, **options}
        obs, info = super().reset_model(options)
        return obs, {**info, "progress": 0.0, "root_deviation": float(np.sqrt(np.sum(obs[77:80] ** 2))),
                     "tracking_lost": False, "too_low": False, "tilt": 0.0, "tilted": False}

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        deviation = float(np.sqrt(np.sum(obs[77:80] ** 2)))  # root minus reference root
        lost = self.max_root_deviation is not None and not terminated and not deviation <= self.max_root_deviation
        height, clip_height = float(obs[2]), float(obs[2] - obs[78])  # pelvis heights (y up), the clip's from obs
        low = (self.min_height_ratio is not None and not terminated and not lost
               and not height >= self.min_height_ratio * clip_height)
        up = quat.rotate(np.stack([obs[3:7], self._last_reference.root_rot]), _UP)  # both pelvises' up axes
        tilt = float(np.degrees(np.arccos(np.clip(up[0] @ up[1], -1.0, 1.0))))
        tilted = (self.max_tilt is not None and not terminated and not lost and not low
                  and not tilt <= self.max_tilt)
        if lost or low or tilted:  # left behind, or going down: sinking or pitching over (seen before the contacts)
            terminated, truncated = True, False
            self.end_step(terminated, truncated)
        # Without it, a plan that loses the clip on the last step would score as one that completes the segment.
        completion = self.completion_bonus if truncated and not terminated else 0.0
        info.update(reward_completion=completion, progress=self._steps / self.horizon, root_deviation=deviation,
                    tracking_lost=lost, too_low=low, tilt=tilt, tilted=tilted)
        return obs, reward + completion, terminated, truncated, info
