"""zg/ShadowArt-v0: carve one voxel sculpture whose shadows on two or three screens match three targets."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from zg_envs._shadow_common import GLYPH_POOL, LOSSES, cached_glyph, mask_target, target_kind, target_rng
from zg_envs.render.shadow import (SCREEN_DIRECTIONS, SCREEN_UPS, area_weights, axis_hull, axis_shadows,
                                   axis_shadows_batch, grid_ray_cells, screen_rays)
from zg_envs.utils import (check_action, check_bool, check_choice, check_float, check_int_arg, check_memory,
                           check_reset_options, deprecated_alias, episode_ended_error, warn_no_render_mode,
                           PickleByArguments)

DEFAULT_TARGETS = ("glyph:Z", "glyph:G", "heart")
LIGHT_TYPES = ("directional", "point")
#: Point lights sit this far from the grid centre, screens this far on the other side (grid half-size 1).
LIGHT_DISTANCE = 5.0
SCREEN_DISTANCE = 2.0
MAX_GRID = 256
# rays traced at once when a point light's ray table is built (zg_envs.render.shadow.grid_ray_cells)
_RAY_CHUNK = 8192


def estimate_memory(grid: int, n_screens: int, resolution: int, light: str) -> float:
    """Upper bound (bytes) of the memory a ShadowArt-v0 env with these arguments can need.

    A fixed 32 MiB (fonts, glyph rendering). Per voxel 48 bytes, measured 36 at K = 128: the action space's
    float32 bounds, the caller's float32 action and a sample's float64 draw, its float64 check and clip,
    the occupancy grids. Per screen pixel 16 bytes: targets, shadows, the loss's comparisons and the
    observation's float32 copy. A point light adds its ray table, ``S R^2 (3K + 3)`` entries of 10 bytes
    (int32 cells, the per-screen tables it is assembled from, their entry axes and one evaluation's
    gather), and the working space of tracing ``_RAY_CHUNK`` rays at a time, about 128 bytes per
    ray-plane crossing.
    """
    total = 32.0 * 2**20 + 48.0 * grid**3 + 16.0 * n_screens * resolution**2
    if light == "point":
        total += 10.0 * n_screens * resolution**2 * (3 * grid + 3) + 128.0 * _RAY_CHUNK * 3 * (grid + 1)
    return total


class ShadowArtEnv(gym.Env, PickleByArguments):
    """
    ## Description
    Shadow art (Mitra and Pauly, "Shadow Art", SIGGRAPH Asia 2009): one sculpture casts different shadows
    in different directions. The sculpture is a grid of `K^3` voxels filling the cube `[-1, 1]^3`; two or
    three lights each cast its shadow onto its own screen, and each screen has its own target silhouette.
    A screen pixel is lit only if every voxel on its ray to the light is empty, so every voxel is linked to
    one pixel per screen and the loss is a sum of ORs: a huge, flat, gradient-free landscape
    (`K = 16`: 4,096 variables; `K = 32`: 32,768).

    Screens (directional lights, the default): screen 0 is lit along `+x` (image up `+z`, right `-y`),
    screen 1 along `+y` (up `+z`, right `+x`), screen 2 from above along `-z` (up `+y`, right `+x`), each
    an orthographic OR-projection of the grid at `resolution` pixels (default `K`: one pixel per voxel
    column). With two screens, screens 0 and 1 (the two walls) are used. `light="point"` puts a point
    light 5 units from the centre on the light's side and the screen 2 units behind the centre (shadows
    are magnified and shear through the grid; rays are traversed exactly, see
    `zg_envs.render.shadow.grid_ray_cells`).

    ## Action Space
    `Box(-1, 1, (K^3,), float32)`: the whole design at once. Entry `(ix * K + iy) * K + iz` is the voxel
    at `x, y, z` indices `ix, iy, iz`; the voxel is solid where the value is `> 0`. Finite values outside
    the Box are clipped (which changes nothing here); NaN or inf raises `ValueError`.

    ## Observation Space
    `Box(0, 1, (2 S o^2,), float32)` with `S` screens and `o = obs_resolution` (works with
    stable-baselines3 `MlpPolicy`):

    | Slice | Observation | Min | Max |
    |-------|-------------|-----|-----|
    | `[0, S o^2)` | the current shadows, area-downsampled to o x o, screen by screen (zeros after reset) | 0 | 1 |
    | `[S o^2, 2 S o^2)` | the targets, downsampled the same way | 0 | 1 |

    ## Rewards
    `reward = -mean_s loss_s - volume_weight * occupied_fraction`. The per-screen image loss is
    `loss="l1"` (default): the fraction of pixels where shadow and target differ, or `loss="iou"`:
    `1 - IoU`. `info` holds `loss` (the mean), `loss_per_screen`, `l1`, `iou` (means over screens),
    `occupied_fraction`, and the terms `reward_loss` and `reward_volume`. `reset` returns the same keys but
    the reward terms, for the empty design (no voxel: every target pixel is missed).

    ## Starting State
    Nothing is carved yet (the observation shows empty shadows). The targets are fixed for the env instance
    unless `randomize_target=True`, in which case new ones are drawn from `np_random` at every reset.

    Targets: `targets=None` gives three different glyphs (`"Z"`, `"G"`, a heart; the first two with
    `n_screens=2`). `targets="random"` draws a hidden sculpture (a union of a few random boxes and balls)
    from `target_seed` and uses its shadows, so loss 0 is reachable: `env.unwrapped.target_actions()`
    returns that sculpture as an action (+1 solid, -1 empty). A sequence of 2 or 3 specs sets each screen:
    `"glyph:<text>"`, a shape (`"disc"`, `"square"`, `"triangle"`, `"star"`, `"heart"`), an image path or a
    2-D array. With `randomize_target=True`, `"random"` draws a new sculpture and glyph targets draw random
    letters or shapes; image targets cannot be randomised. Glyph targets need not be consistent with one
    another, so their best loss is usually above 0; `env.unwrapped.visual_hull()` returns the largest
    design that shadows nothing outside the targets (their visual hull), a good start and loss 0 for
    `targets="random"`. `env.unwrapped.target_masks` and `env.unwrapped.design_masks` return copies of the
    targets and of the last design's shadows, `(S, R, R)` bool.

    ## Episode End
    Terminated after the single step (`env.unwrapped.horizon` is 1). Calling `step` again raises `RuntimeError`; call `reset` first.
    `reset` takes no `options`: any key raises `ValueError` naming it.

    ## Arguments
    ```python
    import gymnasium as gym
    import zg_envs
    env = gym.make("zg/ShadowArt-v0", grid=32, targets=("glyph:A", "glyph:B", "glyph:C"))
    ```

    | Parameter | Type | Default | Description |
    |-----------|------|---------|-------------|
    | `grid` | int | `16` | voxels per side `K`, 4..256, within the memory bound (below) |
    | `targets` | None, str or sequence | `None` | see Starting State |
    | `n_screens` | int or None | `None` | 2 or 3; default: the number of targets given, else 3 |
    | `light` | str | `"directional"` | `"directional"` (orthographic, fast) or `"point"` |
    | `resolution` | int or None | `None` | screen image side, >= 8, within the memory bound (below); default `max(K, 8)` |
    | `obs_resolution` | int or None | `None` | observed image side, 1..resolution; default `min(16, resolution)` |
    | `target_seed` | int | `0` | seed of the hidden random sculpture |
    | `randomize_target` | bool | `False` | draw new targets at every reset |
    | `loss` | str | `"l1"` | `"l1"` or `"iou"` |
    | `volume_weight` | float | `0.0` | penalty per unit occupied fraction, >= 0 |
    | `render_mode` | str or None | `None` | keyword-only; `"rgb_array"`: the sculpture and each screen's shadow vs target |

    Scaling: with directional lights an evaluation is a threshold and three OR reductions over `K^3`
    cells: time and memory grow as `K^3` (the action itself is `8 K^3` bytes as float64 once checked;
    `K = 64` is 2 MB, `K = 128` 16 MB). Point lights precompute, once per env, the cells on each pixel's
    ray (`S R^2 (3K + 3)` int32 entries at most, e.g. 1.2 MB for `K = R = 32`) and then cost one gather of
    that size per evaluation.

    Memory: `estimate_memory(grid, n_screens, resolution, light)` bounds the peak: about
    `48 K^3 + 16 S R^2` bytes + 32 MiB, plus `10 S R^2 (3K + 3)` and the ray tracer's working space for a
    point light (K = 256 directional: 0.8 GiB; K = R = 128 point: 0.7 GiB). Arguments whose estimate exceeds the bound of every
    zg env, `zg_envs.utils.MEMORY_BOUND_BYTES` (2 GiB), are refused in `__init__` with the estimate.

    ## Version History
    * v0: initial version; `reset` returns the empty design's `info` (it returned `{}`) without a version bump.
    * v0: the accessors `targets` and `shadows` renamed `target_masks` and `design_masks`, as in every zg
      image env (the old names still work, with a `DeprecationWarning`).
    * v0: `render_mode` made keyword-only, as in every zg env.
    * v0: pickled as its constructor arguments (`zg_envs.utils.PickleByArguments`): a copy starts without an
      episode, and `reset(seed=s)` gives the original's episode.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, grid: int = 16, targets=None, n_screens: int | None = None, light: str = "directional",
                 resolution: int | None = None, obs_resolution: int | None = None, target_seed: int = 0,
                 randomize_target: bool = False, loss: str = "l1", volume_weight: float = 0.0, *,
                 render_mode: str | None = None):
        PickleByArguments.__init__(self, grid=grid, targets=targets, n_screens=n_screens, light=light,
                                   resolution=resolution, obs_resolution=obs_resolution, target_seed=target_seed,
                                   randomize_target=randomize_target, loss=loss, volume_weight=volume_weight,
                                   render_mode=render_mode)
        self.grid = check_int_arg("grid", grid, 4, MAX_GRID)
        #: steps per episode: one, the whole design
        self.horizon = 1
        k = self.grid
        self.light = check_choice("light", light, LIGHT_TYPES)
        self.resolution = max(k, 8) if resolution is None else check_int_arg("resolution", resolution, 8)
        res = self.resolution
        self.obs_resolution = (min(16, res) if obs_resolution is None
                               else check_int_arg("obs_resolution", obs_resolution, 1, res))
        self.target_seed = check_int_arg("target_seed", target_seed, 0)
        self.randomize_target = check_bool("randomize_target", randomize_target)
        self.loss = check_choice("loss", loss, LOSSES)
        self.volume_weight = check_float("volume_weight", volume_weight, 0.0)
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode

        # --- targets and screens
        if n_screens is not None:
            n_screens = check_int_arg("n_screens", n_screens, 2, 3)
        if targets is None:
            specs = DEFAULT_TARGETS[:n_screens or 3]
        elif isinstance(targets, str) and targets == "random":
            specs = "random"
        elif isinstance(targets, (list, tuple)) and not (len(targets) and np.ndim(targets[0]) == 1):
            specs = tuple(targets)
            if len(specs) not in (2, 3):
                raise ValueError(f"targets must hold 2 or 3 target specs (one per screen), got {len(specs)}")
            if n_screens is not None and n_screens != len(specs):
                raise ValueError(f"n_screens={n_screens} but {len(specs)} targets were given; they must agree")
            for i, spec in enumerate(specs):
                if isinstance(spec, str) and spec == "random":
                    raise ValueError(f"targets[{i}]: 'random' applies to all screens at once: targets='random'")
        else:
            raise ValueError("targets must be None (default glyphs), 'random' (hidden sculpture from "
                             "target_seed), or a sequence of 2 or 3 per-screen targets ('glyph:<text>', a "
                             f"shape name, an image path or array); got {targets!r}")
        self.n_screens = n_screens or (3 if specs == "random" else len(specs))
        check_memory("zg/ShadowArt-v0", estimate_memory(k, self.n_screens, res, self.light),
                     f"grid={k}, resolution={res}, {self.n_screens} screens, light={self.light!r}",
                     "lower grid or resolution" + (", or use light='directional'" if self.light == "point" else ""))
        self._screens = tuple(range(self.n_screens))
        if specs == "random":
            self._target_kind = "random"
        else:
            kinds = [target_kind(spec, f"targets[{i}]") for i, spec in enumerate(specs)]
            self._target_kind = "image" if "image" in kinds else "glyph"
        if self._target_kind == "image" and self.randomize_target:
            raise ValueError("randomize_target=True needs targets='random' or glyph/shape targets; "
                             "image targets cannot be randomised")

        # --- renderer geometry
        self._sentinel = k ** 3
        self._occ_padded = np.zeros(k ** 3 + 1, dtype=bool)
        if self.light == "point":
            tables = []
            for s in self._screens:
                origins, dirs, t_max, _ = screen_rays(SCREEN_DIRECTIONS[s], SCREEN_UPS[s], res, "point",
                                                      LIGHT_DISTANCE, SCREEN_DISTANCE)
                tables.append(grid_ray_cells(origins, dirs, k, t_max=t_max)[0])
            width = max(t.shape[1] for t in tables)
            self._cells = np.full((len(tables) * res * res, width), self._sentinel, dtype=tables[0].dtype)
            for i, t in enumerate(tables):
                self._cells[i * res * res:(i + 1) * res * res, :t.shape[1]] = t
            self._pixel_index = None
        else:
            self._cells = None
            coords = -1.0 + (np.arange(res) + 0.5) * (2.0 / res)
            idx = np.minimum(np.floor((coords + 1.0) * (k / 2.0)).astype(np.intp), k - 1)
            self._pixel_index = None if res == k else np.ix_(idx, idx)
        self._weights = area_weights(res, self.obs_resolution).astype(np.float32)
        self._weights_t = np.ascontiguousarray(self._weights.T)

        if self._target_kind == "random":
            self._target_occ = self._random_sculpture(target_rng(self.target_seed))
            self._targets = self._shadows(self._target_occ)
        else:
            self._target_occ = None
            self._targets = np.stack([mask_target(spec, res, f"targets[{i}]") for i, spec in enumerate(specs)])

        n = self.grid ** 3
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        o2 = self.obs_resolution ** 2
        self.observation_space = spaces.Box(0.0, 1.0, shape=(2 * self.n_screens * o2,), dtype=np.float32)
        self._reset_obs = np.zeros(2 * self.n_screens * o2, dtype=np.float32)
        self._occ = np.zeros((k, k, k), dtype=bool)
        self._shadow_images = np.zeros_like(self._targets)
        self._set_target_obs()
        self._done = True

    # ------------------------------------------------------------------------------------------------
    def _random_sculpture(self, rng: np.random.Generator) -> np.ndarray:
        """A union of 3 to 6 random boxes and balls inside the grid, never empty."""
        k = self.grid
        c = -1.0 + (np.arange(k) + 0.5) * (2.0 / k)
        x, y, z = c[:, None, None], c[None, :, None], c[None, None, :]
        occ = np.zeros((k, k, k), dtype=bool)
        for _ in range(int(rng.integers(3, 7))):
            centre = rng.uniform(-0.55, 0.55, size=3)
            half = rng.uniform(0.15, 0.45, size=3)
            if rng.random() < 0.5:
                occ |= (np.abs(x - centre[0]) <= half[0]) & (np.abs(y - centre[1]) <= half[1]) \
                    & (np.abs(z - centre[2]) <= half[2])
            else:
                r = half[0]
                occ |= (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 <= r * r
        if not occ.any():  # pragma: no cover - a 0.15-half-size primitive always covers a cell centre
            occ[k // 2, k // 2, k // 2] = True
        return occ

    def _shadows(self, occ: np.ndarray) -> np.ndarray:
        """``(S, R, R)`` bool shadows of a bool grid on the env's screens."""
        if self._cells is not None:
            self._occ_padded[:-1] = occ.ravel()
            res = self.resolution
            return self._occ_padded[self._cells].any(axis=1).reshape(self.n_screens, res, res)
        views = axis_shadows(occ, self._screens)
        if self._pixel_index is not None:
            views = [v[self._pixel_index] for v in views]
        return np.stack(views)

    def _set_target_obs(self) -> None:
        targets_ds = self._weights @ self._targets.astype(np.float32) @ self._weights_t
        self._reset_obs[self._reset_obs.shape[0] // 2:] = targets_ds.ravel()

    def _observation(self, shadows: np.ndarray | None) -> np.ndarray:
        obs = self._reset_obs.copy()
        if shadows is not None:
            half = obs.shape[0] // 2
            obs[:half] = (self._weights @ shadows.astype(np.float32) @ self._weights_t).ravel()
        return obs

    def target_actions(self) -> np.ndarray | None:
        """The hidden target sculpture as an action (``K^3`` float32, +1 solid, -1 empty), or ``None``
        for glyph/image targets. Stepping with it gives loss 0."""
        if self._target_occ is None:
            return None
        return np.where(self._target_occ.ravel(), 1.0, -1.0).astype(np.float32)

    def visual_hull(self) -> np.ndarray:
        """The carved design: every voxel whose shadow falls inside the target on every screen, as an action
        (``K^3`` float32, +1 solid, -1 empty).

        It is the largest sculpture that casts no shadow outside any target (the visual hull of the
        targets): a natural starting design, and an exact solution (loss 0) whenever the targets are the
        shadows of one sculpture, e.g. with ``targets="random"``. For inconsistent targets (most glyph
        triples) some target pixels stay lit; the loss of this design shows how far from consistent they are.
        """
        k = self.grid
        outside = ~self._targets
        if self._cells is not None:  # point lights: carve every cell on a ray to a pixel outside its target
            keep = np.ones(k ** 3 + 1, dtype=bool)
            keep[self._cells[outside.reshape(-1)].ravel()] = False
            hull = keep[:-1]
        else:
            if self._pixel_index is None:
                views = self._targets
            else:  # a voxel column is inside a view when every pixel sampled from it is inside the target
                coords = -1.0 + (np.arange(self.resolution) + 0.5) * (2.0 / self.resolution)
                col = np.minimum(np.floor((coords + 1.0) * (k / 2.0)).astype(np.intp), k - 1)
                onehot = (col[:, None] == np.arange(k)[None, :]).astype(np.float64)
                views = np.stack([onehot.T @ o @ onehot == 0 for o in outside.astype(np.float64)])
            hull = axis_hull(views, self._screens).ravel()
        return np.where(hull, 1.0, -1.0).astype(np.float32)

    @property
    def design_masks(self) -> np.ndarray:
        """The shadows of the last design, one per screen, ``(S, R, R)`` bool (a copy; all False after reset)."""
        return self._shadow_images.copy()

    @property
    def target_masks(self) -> np.ndarray:
        """The current targets, one per screen, ``(S, R, R)`` bool (a copy)."""
        return self._targets.copy()

    shadows = deprecated_alias("design_masks", "shadows")
    targets = deprecated_alias("target_masks", "targets")

    def _scores(self, occ: np.ndarray, shadows: np.ndarray) -> dict:
        """The losses of a design (``occ``) and its ``shadows``: ``info`` without the reward terms."""
        targets = self._targets
        n_pix = self.resolution * self.resolution
        wrong = np.count_nonzero(shadows != targets, axis=(1, 2))
        l1 = wrong / n_pix
        inter = np.count_nonzero(shadows & targets, axis=(1, 2))
        union = inter + wrong
        iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        per_screen = l1 if self.loss == "l1" else 1.0 - iou
        return {"loss": float(per_screen.mean()), "loss_per_screen": per_screen, "l1": float(l1.mean()),
                "iou": float(iou.mean()), "occupied_fraction": np.count_nonzero(occ) / occ.size}

    def batch_rewards(self, actions) -> np.ndarray:
        """The rewards ``step(a)`` would give for each row ``a`` of ``actions`` (``(n, K^3)``), in one vectorised
        evaluation, without stepping: for optimizers that evaluate a whole population of designs.

        Call it after ``reset`` (the rewards are those of the current episode's targets); the env's state is
        left as it was. Row ``i`` equals ``env.step(actions[i])[1]`` after the same reset exactly, bit for bit.
        Bad rows raise like ``step`` does, naming the row.
        """
        a = np.asarray(actions)
        if a.dtype not in (np.float32, np.float64):  # float32 rows (the action dtype) are read without a copy
            a = a.astype(np.float64)
        n = self.action_space.shape[0]
        if a.ndim != 2 or a.shape[1] != n:
            raise ValueError(f"actions must have shape (n, {n}), got {a.shape}")
        bad = np.flatnonzero(~np.all(np.isfinite(a), axis=1))
        if bad.size:
            raise ValueError(f"actions contain non-finite values (NaN or inf) in rows {bad[:10].tolist()}; every "
                             f"entry must be a finite number in [-1.0, 1.0]")
        k = self.grid
        occ = (a > 0.0).reshape(-1, k, k, k)  # clipping to the Box keeps every sign, so it is skipped
        if self._cells is not None:
            shadows = np.stack([self._shadows(o) for o in occ])
        else:
            shadows = axis_shadows_batch(occ, self._screens)
            if self._pixel_index is not None:
                shadows = shadows[(slice(None), slice(None)) + self._pixel_index]
        targets = self._targets[None]
        wrong = np.count_nonzero(shadows != targets, axis=(2, 3))
        per_screen = wrong / (self.resolution * self.resolution)
        if self.loss == "iou":
            inter = np.count_nonzero(shadows & targets, axis=(2, 3))
            union = inter + wrong
            per_screen = 1.0 - np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        reward_loss = -per_screen.mean(axis=1)
        reward_volume = -self.volume_weight * (np.count_nonzero(occ, axis=(1, 2, 3)) / k ** 3)
        return reward_loss + reward_volume

    # ------------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, (), "zg/ShadowArt-v0")  # none are understood; a typo must not pass silently
        super().reset(seed=seed)
        if self.randomize_target:
            if self._target_kind == "random":
                self._target_occ = self._random_sculpture(self.np_random)
                self._targets = self._shadows(self._target_occ)
            else:
                picks = self.np_random.choice(len(GLYPH_POOL), size=self.n_screens, replace=False)
                self._targets = np.stack([cached_glyph(GLYPH_POOL[int(i)], self.resolution) for i in picks])
            self._set_target_obs()
        self._occ[...] = False
        self._shadow_images[...] = False
        self._done = False
        return self._observation(None), self._scores(self._occ, self._shadow_images)

    def step(self, action):
        if self._done:
            raise episode_ended_error("zg/ShadowArt-v0 (one step per episode)")
        a = check_action(action, self.action_space)
        k = self.grid
        occ = (a > 0.0).reshape(k, k, k)
        shadows = self._shadows(occ)
        info = self._scores(occ, shadows)
        reward_loss = -info["loss"]
        reward_volume = -self.volume_weight * info["occupied_fraction"]
        self._occ = occ
        self._shadow_images = shadows
        self._done = True
        info.update(reward_loss=reward_loss, reward_volume=reward_volume)
        return self._observation(shadows), float(reward_loss + reward_volume), True, False, info

    def render(self):
        if self.render_mode != "rgb_array":
            warn_no_render_mode()
            return None
        from zg_envs.render.shadow_view import art_picture

        names = (["screen 0: light along +x", "screen 1: light along +y", "screen 2: light from above"]
                 if self.light == "directional" else
                 ["screen 0: point light at -x", "screen 1: point light at -y", "screen 2: point light above"])
        shadows, targets = self._shadow_images, self._targets
        wrong = np.count_nonzero(shadows != targets, axis=(1, 2)).mean() / self.resolution ** 2
        title = (f"ShadowArt-v0  K={self.grid} ({self.grid ** 3:,} voxels, {np.count_nonzero(self._occ):,} solid)"
                 f"   {self.light} lights   l1 loss {wrong:.3f}")
        return art_picture(self._occ, list(shadows), list(targets), names[:self.n_screens], title)
