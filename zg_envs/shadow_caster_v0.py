"""zg/ShadowCaster-v0: place occluders under a point light so that their hard shadow matches a target."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from zg_envs._shadow_common import GLYPH_POOL, LOSSES, cached_glyph, image_losses, mask_target, target_kind, target_rng
from zg_envs.render.shadow import (area_weights, box_shadow_window, ground_coordinates, ground_shadow,
                                   sphere_shadow_window)
from zg_envs.utils import (check_action, check_bool, check_choice, check_float, check_int_arg, check_memory,
                           check_reset_options, deprecated_alias, episode_ended_error, warn_no_render_mode,
                           PickleByArguments)

#: Scene constants: the imaged ground square is [-EXTENT, EXTENT]^2 at z = 0, the point light is at LIGHT.
EXTENT = 1.0
LIGHT = (0.0, 0.0, 2.0)
#: Action -> occluder mapping ranges (see the class docstring).
XY_RANGE = 0.5
Z_RANGE = (0.35, 1.05)
SIZE_RANGE = (0.06, 0.20)
OBS_TYPES = ("flat", "image")
#: Largest shadow image side: memory grows as resolution^2 (see estimate_memory), 4096 needs up to ~1.1 GiB.
MAX_RESOLUTION = 4096


def estimate_memory(resolution: int, obs_resolution: int, obs_type: str, render: bool) -> float:
    """Upper bound (bytes) of the memory a ShadowCaster-v0 env with these arguments can need.

    Per pixel: the shadow and target masks (1 byte each) and the working space of one occluder's shadow,
    six float64 arrays over its window, counted as the whole image (48 bytes); an image observation adds
    two copies of 3 bytes, a render about 16 bytes. The flat observation's area weights add
    ``2 * 4 * obs_resolution * resolution``.
    """
    per_pixel = 2 + 48 + (6 if obs_type == "image" else 0) + (16 if render else 0)
    return float(per_pixel * resolution**2 + 8 * obs_resolution * resolution)
SHAPE_NAMES = ("sphere", "box")


def action_to_occluder(action) -> tuple[float, float, float, float]:
    """Map one action in [-1, 1]^4 to ``(x, y, z, size)``: centre and radius (sphere) or half-size (cube)."""
    a0, a1, a2, a3 = (float(v) for v in action)
    z = Z_RANGE[0] + 0.5 * (a2 + 1.0) * (Z_RANGE[1] - Z_RANGE[0])
    size = SIZE_RANGE[0] + 0.5 * (a3 + 1.0) * (SIZE_RANGE[1] - SIZE_RANGE[0])
    return XY_RANGE * a0, XY_RANGE * a1, z, size


class ShadowCasterEnv(gym.Env, PickleByArguments):
    """
    ## Description
    A point light hangs above a ground plane. The agent places `n_casters` occluders (spheres, or cubes with
    `shape="box"`), one per step, between the light and the ground. The hard shadow they cast on the ground
    is compared with a target shadow. Visibility makes this loss piecewise constant: nudging an occluder
    usually changes no pixel, and then flips a whole row of them at once, so its gradient is zero almost
    everywhere (the first example of the ZeroGrads paper).

    Scene: the ground is the plane `z = 0`; the image covers the square `[-1, 1]^2` at `resolution` x
    `resolution` pixels (row 0 at `y = +1`, column 0 at `x = -1`); the light is at `(0, 0, 2)`.

    ## Action Space
    `Box(-1, 1, (4,), float32)`: one occluder per step.

    | Num | Action | Maps to |
    |-----|--------|---------|
    | 0 | x position | `x = 0.5 * a0` |
    | 1 | y position | `y = 0.5 * a1` |
    | 2 | height of the centre | `z = 0.35 + 0.35 * (a2 + 1)`, in [0.35, 1.05] |
    | 3 | size | radius (sphere) or half-size (cube) `0.06 + 0.07 * (a3 + 1)`, in [0.06, 0.20] |

    Occluders always float strictly between the ground and the light. Finite values outside [-1, 1] are
    clipped into the Box; NaN or inf raises `ValueError`.

    ## Observation Space
    `obs_type="flat"` (default, works with stable-baselines3 `MlpPolicy`): `Box(-1, 1, (2 o^2 + 4 N + 1,),
    float32)` with `o = obs_resolution`, `N = n_casters`:

    | Slice | Observation | Min | Max |
    |-------|-------------|-----|-----|
    | `[0, o^2)` | current shadow, area-downsampled to o x o (fraction of shadowed pixels) | 0 | 1 |
    | `[o^2, 2 o^2)` | target, downsampled the same way | 0 | 1 |
    | `[2 o^2, 2 o^2 + 4 N)` | the actions placed so far, in order (zeros for the ones not placed yet) | -1 | 1 |
    | last | progress: occluders placed / N | 0 | 1 |

    `obs_type="image"` (for `CnnPolicy`): `Box(0, 255, (resolution, resolution, 3), uint8)`, channels
    current shadow, target, and a constant plane of 255 * progress.

    ## Rewards
    The image loss is `loss="l1"` (default): the fraction of pixels where the shadow and the target differ
    (mean absolute difference of the binary images), or `loss="iou"`: `1 - IoU` (IoU is 1 when both are
    empty). The reward of a step is `reward_scale * (loss before - loss after)`, so the undiscounted return
    of an episode is `reward_scale * (initial loss - final loss)`; the initial loss is that of an empty
    scene. `info` holds `loss`, `l1`, `iou`, `reward_loss_decrease` (the reward) and `n_placed`; `reset`
    returns the same keys but the reward term, for the empty scene.

    ## Starting State
    No occluder, no shadow. The target is fixed for the env instance (`target_seed`), unless
    `randomize_target=True`, in which case a new one is drawn from the env's `np_random` at every reset.

    Targets: `"random"` (default) is a hidden scene of `n_casters` occluders of the same shape, drawn from
    `target_seed`; placing its occluders (in any order) gives loss 0, and `env.unwrapped.target_actions()`
    returns them as an `(N, 4)` array (also for the trainer's sanity checks). `"glyph:<text>"` renders
    letters with the bundled DejaVu font; `"disc"`, `"square"`, `"triangle"`, `"star"`, `"heart"` are
    shapes; a file path or a 2-D array is read as a silhouette (dark on light, or an alpha channel). With
    `randomize_target=True` a random target draws a new hidden scene, and a glyph or shape target draws a
    random letter or shape; an image target cannot be randomised. `env.unwrapped.target_mask` and
    `env.unwrapped.design_mask` return copies of the target and of the current shadow (bool images).

    ## Episode End
    Terminated after `n_casters` placements; never truncated by the env itself. `env.unwrapped.horizon` is
    that length, `n_casters` (read it instead of repeating it in a time limit). Calling `step` after the
    end raises `RuntimeError`; call `reset` first. `reset` takes no `options`: any key raises `ValueError`
    naming it.

    ## Arguments
    ```python
    import gymnasium as gym
    import zg_envs
    env = gym.make("zg/ShadowCaster-v0", n_casters=8, target="glyph:Z")
    ```

    | Parameter | Type | Default | Description |
    |-----------|------|---------|-------------|
    | `n_casters` | int | `8` | occluders per episode, >= 1 |
    | `shape` | str | `"sphere"` | `"sphere"` or `"box"` (axis-aligned cube) |
    | `resolution` | int | `64` | shadow image side in pixels, 8..4096 (memory, below) |
    | `obs_resolution` | int | `16` | side of the downsampled images in the flat observation, 1..resolution |
    | `target` | str, path or array | `"random"` | see Starting State |
    | `target_seed` | int | `0` | seed of the hidden random target scene |
    | `randomize_target` | bool | `False` | draw a new target at every reset |
    | `loss` | str | `"l1"` | `"l1"` or `"iou"` |
    | `reward_scale` | float | `1.0` | weight of the loss decrease in the reward, >= 0 |
    | `obs_type` | str | `"flat"` | `"flat"` or `"image"` |
    | `render_mode` | str or None | `None` | keyword-only; `"rgb_array"`: ground from above (shadow vs target) and a side view |

    Cost: a step computes one occluder's shadow inside its bounding window and updates the loss counts
    incrementally, so it does not grow with `n_casters`.

    Memory: at most about `50 resolution^2` bytes (+6 with `obs_type="image"`, +16 with a render mode),
    so about 1.1 GiB at the largest `resolution=4096`; see `estimate_memory`. Arguments whose estimate exceeds
    the bound of every zg env, `zg_envs.utils.MEMORY_BOUND_BYTES` (2 GiB), are refused in `__init__`.

    ## Version History
    * v0: initial version; the accessors `target` and `shadow` renamed `target_mask` and `design_mask`, as in
      every zg image env (the old names still work, with a `DeprecationWarning`).
    * v0: `render_mode` made keyword-only, as in every zg env.
    * v0: pickled as its constructor arguments (`zg_envs.utils.PickleByArguments`): a copy starts without an
      episode, and `reset(seed=s)` gives the original's episode.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, n_casters: int = 8, shape: str = "sphere", resolution: int = 64, obs_resolution: int = 16,
                 target="random", target_seed: int = 0, randomize_target: bool = False, loss: str = "l1",
                 reward_scale: float = 1.0, obs_type: str = "flat", *, render_mode: str | None = None):
        PickleByArguments.__init__(self, n_casters=n_casters, shape=shape, resolution=resolution,
                                   obs_resolution=obs_resolution, target=target, target_seed=target_seed,
                                   randomize_target=randomize_target, loss=loss, reward_scale=reward_scale,
                                   obs_type=obs_type, render_mode=render_mode)
        self.n_casters = check_int_arg("n_casters", n_casters, 1)
        #: steps per episode: the env terminates after the last occluder
        self.horizon = self.n_casters
        self.shape = check_choice("shape", shape, SHAPE_NAMES)
        self.resolution = check_int_arg("resolution", resolution, 8)
        if self.resolution > MAX_RESOLUTION:
            need = estimate_memory(self.resolution, 1, "flat", False) / 2**30
            raise ValueError(f"resolution must be an integer in [8, {MAX_RESOLUTION}] (memory grows as "
                             f"resolution^2: {resolution} would need up to about {need:.3g} GiB), got {resolution!r}")
        self.obs_resolution = check_int_arg("obs_resolution", obs_resolution, 1, self.resolution)
        self.target_seed = check_int_arg("target_seed", target_seed, 0)
        self.randomize_target = check_bool("randomize_target", randomize_target)
        self.loss = check_choice("loss", loss, LOSSES)
        self.reward_scale = check_float("reward_scale", reward_scale, 0.0)
        self.obs_type = check_choice("obs_type", obs_type, OBS_TYPES)
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        check_memory("zg/ShadowCaster-v0",
                     estimate_memory(self.resolution, self.obs_resolution, self.obs_type, render_mode is not None),
                     f"resolution={self.resolution}, obs_type={self.obs_type!r}", "lower resolution")

        self._target_kind = target_kind(target, "target")
        if self._target_kind == "image" and self.randomize_target:
            raise ValueError("randomize_target=True needs target 'random' or a glyph/shape target; "
                             "an image target cannot be randomised")
        self._target_spec = target
        res = self.resolution
        self._xs, self._ys = ground_coordinates(res, EXTENT)
        self._window = sphere_shadow_window if self.shape == "sphere" else box_shadow_window
        self._weights = area_weights(res, self.obs_resolution).astype(np.float32)
        self._weights_t = np.ascontiguousarray(self._weights.T)

        # the fixed target (also the first one when randomising)
        if self._target_kind == "random":
            self._target_actions = self._random_scene(target_rng(self.target_seed))
            self._target = self._render_actions(self._target_actions)
        else:
            self._target_actions = None
            self._target = mask_target(target, res, "target")

        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        o2 = self.obs_resolution ** 2
        self._n_obs = 2 * o2 + 4 * self.n_casters + 1
        if self.obs_type == "flat":
            self.observation_space = spaces.Box(-1.0, 1.0, shape=(self._n_obs,), dtype=np.float32)
        else:
            self.observation_space = spaces.Box(0, 255, shape=(res, res, 3), dtype=np.uint8)

        self._shadow = np.zeros((res, res), dtype=bool)
        self._placed = np.zeros((self.n_casters, 4), dtype=np.float32)
        self._occluders: list[tuple[float, float, float, float]] = []
        self._obs = np.zeros(self._n_obs, dtype=np.float32)
        self._counts = (0, 0, 0)
        self._loss_value = 0.0
        self._done = True

    # ------------------------------------------------------------------------------------------------
    def _random_scene(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, size=(self.n_casters, 4)).astype(np.float32)

    def _render_actions(self, actions: np.ndarray) -> np.ndarray:
        occluders = [action_to_occluder(a) for a in actions]
        return ground_shadow(self.shape, [o[:3] for o in occluders], [o[3] for o in occluders], LIGHT,
                             self.resolution, EXTENT)

    def _downsample(self, mask: np.ndarray) -> np.ndarray:
        return self._weights @ mask.astype(np.float32) @ self._weights_t

    def _loss_from_counts(self) -> tuple[float, float, float]:
        mismatch, inter, union = self._counts
        l1, iou = image_losses(mismatch, inter, union, self._shadow.size)
        return (l1 if self.loss == "l1" else 1.0 - iou), l1, iou

    def _observation(self) -> np.ndarray:
        if self.obs_type == "flat":
            return self._obs.copy()
        img = np.empty((self.resolution, self.resolution, 3), dtype=np.uint8)
        img[..., 0] = self._shadow * np.uint8(255)
        img[..., 1] = self._target * np.uint8(255)
        img[..., 2] = round(255 * len(self._occluders) / self.n_casters)
        return img

    def target_actions(self) -> np.ndarray | None:
        """The hidden target scene's actions, ``(n_casters, 4)`` float32, or ``None`` for glyph/image targets.

        Stepping through these rows (in any order) reproduces the target exactly: loss 0.
        """
        return None if self._target_actions is None else self._target_actions.copy()

    @property
    def target_mask(self) -> np.ndarray:
        """The current target mask (``resolution`` x ``resolution`` bool, a copy)."""
        return self._target.copy()

    @property
    def design_mask(self) -> np.ndarray:
        """The shadow of the occluders placed so far (``resolution`` x ``resolution`` bool, a copy)."""
        return self._shadow.copy()

    target = deprecated_alias("target_mask", "target")
    shadow = deprecated_alias("design_mask", "shadow")

    # ------------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        check_reset_options(options, (), "zg/ShadowCaster-v0")  # none are understood; a typo must not pass silently
        super().reset(seed=seed)
        if self.randomize_target:
            if self._target_kind == "random":
                self._target_actions = self._random_scene(self.np_random)
                self._target = self._render_actions(self._target_actions)
            else:
                text = GLYPH_POOL[int(self.np_random.integers(len(GLYPH_POOL)))]
                self._target = cached_glyph(text, self.resolution)
        self._shadow[...] = False
        self._placed[...] = 0.0
        self._occluders = []
        n_target = int(np.count_nonzero(self._target))
        self._counts = (n_target, 0, n_target)  # (mismatch, intersection, union) of an empty shadow
        self._loss_value, l1, iou = self._loss_from_counts()
        o2 = self.obs_resolution ** 2
        self._obs[:] = 0.0
        self._obs[o2:2 * o2] = self._downsample(self._target).ravel()
        self._done = False
        return self._observation(), {"loss": self._loss_value, "l1": l1, "iou": iou, "n_placed": 0}

    def step(self, action):
        if self._done:
            raise episode_ended_error("zg/ShadowCaster-v0")
        a = check_action(action, self.action_space)
        x, y, z, size = action_to_occluder(a)
        r0, r1, c0, c1, sub = self._window((x, y, z), size, LIGHT, self._xs, self._ys, EXTENT)
        if sub.size:
            window = self._shadow[r0:r1, c0:c1]
            new = sub & ~window
            n_new = int(np.count_nonzero(new))
            if n_new:
                n_hit = int(np.count_nonzero(new & self._target[r0:r1, c0:c1]))
                mismatch, inter, union = self._counts
                self._counts = (mismatch + n_new - 2 * n_hit, inter + n_hit, union + n_new - n_hit)
                window |= new
        k = len(self._occluders)
        self._occluders.append((x, y, z, size))
        self._placed[k] = a
        previous = self._loss_value
        self._loss_value, l1, iou = self._loss_from_counts()
        reward = self.reward_scale * (previous - self._loss_value)
        terminated = k + 1 == self.n_casters
        self._done = terminated
        o2 = self.obs_resolution ** 2
        obs = self._obs
        obs[:o2] = self._downsample(self._shadow).ravel()
        obs[2 * o2 + 4 * k:2 * o2 + 4 * k + 4] = a
        obs[-1] = (k + 1) / self.n_casters
        info = {"loss": self._loss_value, "l1": l1, "iou": iou, "reward_loss_decrease": reward,
                "n_placed": k + 1}
        return self._observation(), float(reward), terminated, False, info

    def render(self):
        if self.render_mode != "rgb_array":
            warn_no_render_mode()
            return None
        from zg_envs.render.shadow_view import caster_picture

        occluders = self._occluders
        _, l1, iou = self._loss_from_counts()
        kind = "spheres" if self.shape == "sphere" else "cubes"
        title = (f"ShadowCaster-v0  {len(occluders)}/{self.n_casters} {kind} placed   "
                 f"loss ({self.loss}) {self._loss_value:.3f}   IoU {iou:.2f}")
        return caster_picture(self._shadow, self._target, [self.shape] * len(occluders),
                              [o[:3] for o in occluders], [o[3] for o in occluders], LIGHT, EXTENT, title)

