"""zg/TreeGrowth-v0: grow a procedural tree, generation by generation, to match a target silhouette."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from zg_envs import tree_grammar as tg
from zg_envs.render.tree import tree_silhouette
from zg_envs.targets import load_image_mask
from zg_envs.tree_memory import estimate_memory
from zg_envs.tree_observation import N_STATS, pooled_mask, tree_statistics
from zg_envs.utils import (check_action, check_bool, check_choice, check_float, check_int_arg, check_memory,
                           check_reset_options, deprecated_alias, episode_ended_error, warn_no_render_mode,
                           PickleByArguments)

# Hidden targets are redrawn (up to this many times) until they cover a readable part of the canvas.
_TARGET_COVERAGE = (0.04, 0.6)
_TARGET_TRIES = 100
# Stream key mixed into target_seed, so hidden targets never coincide with an action sampler seeded alike.
_TARGET_STREAM = 0x7EE


class TreeGrowthEnv(gym.Env, PickleByArguments):
    """
    ## Description

    Procedural modelling with discrete choices. A 2-D tree starts as a trunk and grows one generation per
    step: every live tip sprouts new branches under a rule set by the action (how many children, how far
    they spread, how much shorter and thinner they are, how they bend, how big their leaves are). The goal
    is a tree whose binary silhouette matches a target silhouette, measured by intersection over union
    (IoU). The number of children is an integer picked by rounding, so the silhouette - and the loss - is
    piecewise constant in that action entry: it has zero gradient almost everywhere and jumps in between,
    the kind of problem ZeroGrads is built for. Grown for a fixed number of generations, it is also a short
    sequential decision problem for RL.

    The grammar is in `zg_envs.tree_grammar` and the rasteriser in `zg_envs.render.tree`; the tree is
    deterministic given the actions (no randomness anywhere in growth or drawing).

    By default the target is itself a tree grown from hidden actions drawn from `target_seed`, so a
    perfect match (IoU = 1) is reachable; `env.unwrapped.target_actions()` returns those actions. A user
    image (path or array) can be the target instead (dark pixels are "in", see
    `zg_envs.targets.load_image_mask`); an exact match is then usually out of reach.
    `env.unwrapped.target_mask` and `env.unwrapped.design_mask` return copies of the target and of the
    current silhouette (bool images).

    ## Action Space

    `Box(-1, 1, (6,), float32)`: the rule of the generation grown by this step. Finite values outside
    [-1, 1] are clipped; NaN or inf raise `ValueError`.

    | Num | Action          | Mapping of a in [-1, 1]                                                        |
    |-----|-----------------|--------------------------------------------------------------------------------|
    | 0   | children        | `rint(2.5 + 1.5 a)` (half to even): 1, 2, 3 or 4 children per live tip         |
    | 1   | spread          | 0.2 .. 2.4 rad between the outermost children of a fan (unused for 1 child)   |
    | 2   | length ratio    | 0.5 .. 0.9 child length / parent length                                        |
    | 3   | thickness ratio | 0.5 .. 0.9 radius at a new segment's end / radius at its start                 |
    | 4   | bend            | tropism `theta <- theta - 0.5 a sin(theta)`: a > 0 bends up, a < 0 droops      |
    | 5   | leaf size       | leaf half-length `0.05 max(0, (a + 0.5) / 1.5)` canvas units; none if a <= -0.5 |

    Children of one tip fan out evenly around the parent's direction; each new segment starts at its
    parent's tip with the parent's tip radius. Leaves are ellipses (half-width = half the half-length)
    hanging from the new tips along the branch direction. Leaves of earlier generations stay.

    Segment cap: the tree never has more than `max_segments` segments (trunk included). When growing
    every tip would pass the cap, only the `k` children that still fit are kept, spread evenly over the
    generation (indices `round(linspace(0, m - 1, k))` of the `m` children in left-to-right fan order); the
    rest are dropped together with their leaves and future growth. Once at the cap, later generations add
    nothing (the step still counts and `info["at_cap"]` is True).

    ## Observation Space

    `Box(0, 1, (2 k^2 + 14,), float32)` with `k = obs_resolution` (default 16, so 526 entries), flat so
    that stable-baselines3's `MlpPolicy` works out of the box:

    | Index                 | Observation                                                            | Min | Max |
    |-----------------------|------------------------------------------------------------------------|-----|-----|
    | 0 .. k^2 - 1          | current silhouette, average-pooled to k x k (fraction covered, row-major, top row first) | 0 | 1 |
    | k^2 .. 2 k^2 - 1      | target silhouette, pooled the same way                                 | 0   | 1   |
    | 2 k^2 + 0             | generations grown / `generations`                                      | 0   | 1   |
    | 2 k^2 + 1             | segments / `max_segments`                                              | 0   | 1   |
    | 2 k^2 + 2             | live tips / `max_segments`                                             | 0   | 1   |
    | 2 k^2 + 3             | leaves / `max_segments`                                                | 0   | 1   |
    | 2 k^2 + 4             | IoU of silhouette and target                                           | 0   | 1   |
    | 2 k^2 + 5             | precision: covered target pixels / silhouette pixels (0 if empty)      | 0   | 1   |
    | 2 k^2 + 6             | recall: covered target pixels / target pixels                          | 0   | 1   |
    | 2 k^2 + 7             | silhouette pixels / all pixels                                         | 0   | 1   |
    | 2 k^2 + 8             | target pixels / all pixels                                             | 0   | 1   |
    | 2 k^2 + 9             | mean x of the live tips (canvas units, clipped to [0, 1]; 0 if none)   | 0   | 1   |
    | 2 k^2 + 10            | mean y of the live tips (canvas units, y up, clipped; 0 if none)       | 0   | 1   |
    | 2 k^2 + 11            | standard deviation of the live tips' x (clipped; 0 if none)            | 0   | 1   |
    | 2 k^2 + 12            | length of the newest segments / trunk length (0 if no live tip)        | 0   | 1   |
    | 2 k^2 + 13            | radius at the live tips / trunk radius (0 if no live tip)              | 0   | 1   |

    ## Rewards

    `reward = reward_iou + reward_segments` with
    - `reward_iou = iou_weight * (IoU_t - IoU_{t-1})`: the increase of IoU brought by this generation, so
      with the default weights the return of an episode is exactly final IoU - initial IoU (the trunk's);
    - `reward_segments = -segment_penalty * new_segments / max_segments`: an optional parsimony cost
      (0 by default).

    `info` holds `iou`, `loss` (= 1 - IoU, the quantity optimisers minimise), `precision`, `recall`,
    `n_segments`, `n_leaves`, `n_tips`, `new_segments`, `children` (this step's decoded count),
    `generation`, `at_cap`, `reward_iou` and `reward_segments`. `reset` returns the same keys except the
    step-only ones (`new_segments`, `children`, reward terms).

    ## Starting State

    The trunk alone: a vertical tapered segment at the bottom centre of the canvas. Nothing is random
    except the target when `randomize_target=True`: then each `reset` draws new hidden actions from the
    env's `np_random` (seed it with `reset(seed=...)`). Otherwise the target is fixed per instance.

    ## Episode End

    Terminated after `generations` steps (`env.unwrapped.horizon`). No truncation. Calling `step` after the end raises
    `RuntimeError`; call `reset` first. `reset` takes no `options`: any key raises `ValueError` naming it.

    ## Arguments

    ```python
    import gymnasium as gym
    import zg_envs

    env = gym.make("zg/TreeGrowth-v0", generations=6, target_seed=3, render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    for action in env.unwrapped.target_actions():
        obs, reward, terminated, truncated, info = env.step(action)
    assert info["iou"] == 1.0
    ```

    | Parameter           | Type                          | Default | Description                                              |
    |---------------------|-------------------------------|---------|----------------------------------------------------------|
    | `resolution`        | int                           | 64      | side of the square silhouette in pixels, 8 .. 1024       |
    | `generations`       | int                           | 6       | steps per episode G, 1 .. 16                             |
    | `max_segments`      | int                           | 512     | segment cap (trunk included), 1 .. 1,000,000, within the memory bound (below) |
    | `target`            | None, path, or array          | None    | None: a tree grown from hidden actions; a path or an image array: that silhouette |
    | `target_seed`       | int                           | 0       | seed of the hidden target actions (when `target` is None and not randomised) |
    | `randomize_target`  | bool                          | False   | draw new hidden target actions from `np_random` at each reset (needs `target=None`) |
    | `obs_resolution`    | int                           | 16      | side k of the pooled silhouettes in the observation; must divide `resolution` |
    | `iou_weight`        | float                         | 1.0     | weight of the IoU increase in the reward                 |
    | `segment_penalty`   | float                         | 0.0     | cost per new segment, relative to `max_segments` (>= 0)  |
    | `render_resolution` | int                           | 256     | side of each panel of the `rgb_array` picture, 16 .. 2048 |
    | `render_mode`       | str or None                   | None    | keyword-only; `"rgb_array"`: `render()` returns a uint8 picture: a title (generation, segments, leaves, IoU), the coloured tree with the target outline in blue (left), the silhouette/target overlap at `resolution` (right: dark blue = tree on target, orange = tree only, light blue = target only) and a colour legend |

    Hidden target actions are uniform in [-1, 1], drawn from `np.random.default_rng([target_seed, 0x7EE])`
    (the extra key keeps them apart from an action sampler seeded with the same number), or from
    `np_random` when `randomize_target=True`. They are redrawn from the same generator until they cover between 4 % and 60 % of the canvas
    (at most 100 draws), so they are neither specks nor solid blocks.

    Memory: the rasteriser tests every pixel in each new branch's and leaf's bounding box at once, about
    112 bytes per candidate pixel, so a step can need up to `112 min(4^G, max_segments) x (largest
    branch or leaf box)` bytes, and a render as much again at `render_resolution` for the whole tree;
    `estimate_memory(resolution, generations, max_segments, render_resolution)` gives this upper bound (4 MiB
    with the defaults, 62 MiB with a render mode). Arguments whose estimate exceeds the bound of every zg
    env, `zg_envs.utils.MEMORY_BOUND_BYTES` (2 GiB), are refused in `__init__` with the estimate: for
    example `resolution=1024, max_segments=1000000, generations=16` (up to 701 GiB). The largest
    `max_segments` allowed (no render mode): 1,673 at `resolution=1024, generations=6`; 8,082 at 512 and
    8 generations; 37,857 at 256 and 10; 491,574 at 64 and 16.

    ## Version History

    - v0: initial version; `render_mode` made keyword-only (it was the first positional argument) and the
      accessor `silhouette` renamed `design_mask`, as in every zg image env (the old name still works, with
      a `DeprecationWarning`).
    - v0: pickled as its constructor arguments (`zg_envs.utils.PickleByArguments`): a copy starts without an
      episode, and `reset(seed=s)` gives the original's episode.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        resolution: int = 64,
        generations: int = 6,
        max_segments: int = 512,
        target=None,
        target_seed: int = 0,
        randomize_target: bool = False,
        obs_resolution: int = 16,
        iou_weight: float = 1.0,
        segment_penalty: float = 0.0,
        render_resolution: int = 256,
        *,
        render_mode: str | None = None,
    ):
        PickleByArguments.__init__(self, resolution=resolution, generations=generations, max_segments=max_segments,
                                   target=target, target_seed=target_seed, randomize_target=randomize_target,
                                   obs_resolution=obs_resolution, iou_weight=iou_weight,
                                   segment_penalty=segment_penalty, render_resolution=render_resolution,
                                   render_mode=render_mode)
        if render_mode is not None:
            check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        self.render_mode = render_mode
        self.resolution = check_int_arg("resolution", resolution, 8, 1024)
        self.generations = check_int_arg("generations", generations, 1, 16)
        #: steps per episode: one generation each
        self.horizon = self.generations
        self.max_segments = check_int_arg("max_segments", max_segments, 1, 1_000_000)
        self.target_seed = check_int_arg("target_seed", target_seed, 0)
        self.randomize_target = check_bool("randomize_target", randomize_target)
        self.obs_resolution = check_int_arg("obs_resolution", obs_resolution, 1, self.resolution)
        if self.resolution % self.obs_resolution:
            raise ValueError(
                f"obs_resolution must divide resolution={self.resolution}, got {obs_resolution!r} "
                f"(allowed: {[d for d in range(1, self.resolution + 1) if self.resolution % d == 0]})"
            )
        self.iou_weight = check_float("iou_weight", iou_weight)
        self.segment_penalty = check_float("segment_penalty", segment_penalty, minimum=0.0)
        self.render_resolution = check_int_arg("render_resolution", render_resolution, 16, 2048)
        check_memory(
            "zg/TreeGrowth-v0",
            estimate_memory(self.resolution, self.generations, self.max_segments,
                            self.render_resolution if render_mode is not None else None),
            f"up to {min(4 ** self.generations, self.max_segments - 1):,} new branches and as many leaves in "
            f"one generation, rasterised at once at resolution={self.resolution}"
            + (f", and the whole tree at render_resolution={self.render_resolution}" if render_mode else ""),
            "lower resolution, max_segments or generations",
        )

        if target is None:
            self._image_target = None
        elif isinstance(target, (str, os.PathLike, np.ndarray, list, tuple)):
            if self.randomize_target:
                raise ValueError(
                    "randomize_target=True needs target=None (hidden tree targets); an image target is fixed"
                )
            mask = load_image_mask(target, self.resolution, argument="target")
            if not mask.any():
                raise ValueError("target: the image gives an empty mask (no pixel is 'in'); use a visible shape")
            self._image_target = mask
        else:
            raise ValueError(
                f"target must be None (a hidden tree), an image file path or an image array, got {type(target).__name__}"
            )

        self.action_space = spaces.Box(-1.0, 1.0, (tg.ACTION_DIM,), dtype=np.float32)
        k = self.obs_resolution
        self.observation_space = spaces.Box(0.0, 1.0, (2 * k * k + N_STATS,), dtype=np.float32)

        self._pool = self.resolution // k
        self._n_pixels = float(self.resolution * self.resolution)
        self._target_actions: np.ndarray | None = None
        self._target: np.ndarray | None = None
        self._target_obs: np.ndarray | None = None
        self._target_count = 0
        self._trunk: np.ndarray | None = None
        if self._image_target is not None:
            self._set_target(self._image_target, None)
        elif not self.randomize_target:
            actions, mask = self._draw_target(np.random.default_rng([self.target_seed, _TARGET_STREAM]))
            self._set_target(mask, actions)

        self._tree: tg.Tree | None = None
        self._silhouette = np.zeros((self.resolution, self.resolution), dtype=bool)
        self._iou = 0.0
        self._precision = 0.0
        self._recall = 0.0
        self._done = True

    # ------------------------------------------------------------------ target
    def _draw_target(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = _TARGET_COVERAGE
        for _ in range(_TARGET_TRIES):
            actions = rng.uniform(-1.0, 1.0, size=(self.generations, tg.ACTION_DIM)).astype(np.float32)
            mask = self._grow_silhouette(actions)
            if lo <= mask.mean() <= hi:
                break
        return actions, mask

    def _trunk_mask(self) -> np.ndarray:
        """A fresh copy of the trunk's silhouette (the same at every reset, so drawn once)."""
        if self._trunk is None:
            self._trunk = tree_silhouette(tg.trunk()[0], None, self.resolution)
        return self._trunk.copy()

    def _grow_silhouette(self, actions) -> np.ndarray:
        """Silhouette of the tree grown from ``actions`` by exactly the env's own step path."""
        tree = tg.Tree(self.max_segments)
        out = self._trunk_mask()
        for action in actions:
            seg, leaves = tree.grow(check_action(action, self.action_space))
            tree_silhouette(seg, leaves, self.resolution, out=out)
        return out

    def _set_target(self, mask: np.ndarray, actions: np.ndarray | None) -> None:
        self._target = mask
        self._target_actions = None if actions is None else np.array(actions, dtype=np.float32)
        self._target_count = int(mask.sum())
        self._target_obs = self._pooled(mask)

    def target_actions(self) -> np.ndarray | None:
        """The hidden ``(generations, 6)`` actions that grow the current target, or None for an image target.

        Stepping with these rows in order reproduces the target exactly (IoU = 1).
        """
        if self._target_actions is None:
            return None
        return self._target_actions.copy()

    @property
    def target_mask(self) -> np.ndarray:
        """The current target silhouette, a ``(resolution, resolution)`` bool array (a copy)."""
        if self._target is None:
            raise RuntimeError("the target is drawn at reset() when randomize_target=True; call reset() first")
        return self._target.copy()

    @property
    def design_mask(self) -> np.ndarray:
        """The current tree's silhouette, a ``(resolution, resolution)`` bool array (a copy)."""
        return self._silhouette.copy()

    silhouette = deprecated_alias("design_mask", "silhouette")

    @property
    def tree(self) -> tg.Tree | None:
        """The growing tree (segments, leaves, tips); None before the first reset."""
        return self._tree

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, (), "zg/TreeGrowth-v0")  # none are understood; a typo must not pass silently
        super().reset(seed=seed)
        if self.randomize_target:
            actions, mask = self._draw_target(self.np_random)
            self._set_target(mask, actions)
        self._tree = tg.Tree(self.max_segments)
        self._silhouette = self._trunk_mask()
        self._update_scores()
        self._done = False
        return self._observation(), self._info()

    def step(self, action):
        if self._done:
            raise episode_ended_error("zg/TreeGrowth-v0")
        action = check_action(action, self.action_space)
        tree = self._tree
        before = tree.n_segments
        previous_iou = self._iou
        seg, leaves = tree.grow(action)
        tree_silhouette(seg, leaves, self.resolution, out=self._silhouette)
        self._update_scores()
        new_segments = tree.n_segments - before
        reward_iou = self.iou_weight * (self._iou - previous_iou)
        reward_segments = -self.segment_penalty * new_segments / self.max_segments
        terminated = tree.generation >= self.generations
        self._done = terminated
        info = self._info()
        info.update(
            new_segments=new_segments,
            children=tree.rules[-1].children,
            reward_iou=reward_iou,
            reward_segments=reward_segments,
        )
        return self._observation(), float(reward_iou + reward_segments), terminated, False, info

    def render(self):
        if self.render_mode is None:
            warn_no_render_mode()
            return None
        from zg_envs.render.tree_view import growth_picture

        tree = self._tree if self._tree is not None else tg.Tree(self.max_segments)
        target = self._target if self._target is not None else np.zeros_like(self._silhouette)
        title = (f"TreeGrowth-v0  generation {tree.generation}/{self.generations}   {tree.n_segments} segments, "
                 f"{tree.n_leaves} leaves   IoU {self._iou:.2f}")
        return growth_picture(tree.segments, tree.leaves, self._silhouette, target, title, self.render_resolution)

    # ------------------------------------------------------------------ helpers
    def _pooled(self, mask: np.ndarray) -> np.ndarray:
        return pooled_mask(mask, self.obs_resolution, self._pool)

    def _update_scores(self) -> None:
        sil, tgt = self._silhouette, self._target
        inter = int(np.count_nonzero(sil & tgt))
        count = int(np.count_nonzero(sil))
        union = count + self._target_count - inter
        self._iou = inter / union if union else 1.0
        self._precision = inter / count if count else 0.0
        self._recall = inter / self._target_count if self._target_count else 0.0
        self._count = count

    def _observation(self) -> np.ndarray:
        scores = (self._iou, self._precision, self._recall, self._count / self._n_pixels,
                  self._target_count / self._n_pixels)
        stats = tree_statistics(self._tree, self.generations, self.max_segments, scores)
        return np.concatenate([self._pooled(self._silhouette), self._target_obs, stats.astype(np.float32)])

    def _info(self) -> dict:
        tree = self._tree
        return {
            "iou": self._iou,
            "loss": 1.0 - self._iou,
            "precision": self._precision,
            "recall": self._recall,
            "n_segments": tree.n_segments,
            "n_leaves": tree.n_leaves,
            "n_tips": int(tree.tips.shape[0]),
            "generation": tree.generation,
            "at_cap": tree.at_cap,
        }

