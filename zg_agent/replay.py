"""Replay the saved solution of a run folder: ``zg-replay RUN_DIR [--episodes N] [--video out.mp4] [--seed S]``.

A black-box run (zerograds, es, cma, random) saves its final theta and policy statistics in ``solution.pkl``
(:func:`zg_agent.training.load_solution`); a PPO run saves ``final_model.zip`` (and ``vecnormalize.pkl`` with
``options.normalize``). :func:`replay` reruns that solution the way the trainer evaluates it: the black-box
controller, or PPO's deterministic policy on normalised observations, one episode per reset seed, in the run's
evaluation env (``env_kwargs`` with ``eval_env_kwargs`` over them). By default
the reset seeds and the number of episodes are the run's own evaluation protocol
(:func:`zg_agent.training.eval_seeds` with ``eval_episodes``), so the mean return equals the run's final
evaluation in ``evaluations.csv``.

With ``video=...`` every episode is rendered (``render_mode="rgb_array"``; the frame after ``reset`` and one
after each step) and written one after the other to a single video with imageio and imageio-ffmpeg (whose
wheel ships an ffmpeg binary), at the env's ``metadata["render_fps"]`` unless ``fps`` is given.

Example::

    zg-replay runs/zg_ShadowCaster-v0__zerograds__s0__20250101-120000 --video shadow.mp4
    zg-replay runs/Pendulum-v1__ppo__s0__20250101-120000 --episodes 10 --seed 7
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

#: video containers written through imageio-ffmpeg
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")


class ReplayError(ValueError):
    """A run folder that cannot be replayed (not a run folder, no saved solution yet, bad arguments)."""


@dataclass
class ReplayResult:
    """What :func:`replay` returns."""

    run_dir: Path
    env_id: str
    algo: str
    seeds: list[int]
    returns: list[float]
    lengths: list[int]
    video: Path | None = None
    """the video written, if any"""
    frames: int = 0
    """frames in the video (sum over episodes of length + 1)"""
    fps: float | None = None
    run_final_return: float | None = None
    """the run's last evaluation (``evaluations.csv``), for comparison"""
    same_protocol: bool = False
    """whether the seeds are the run's evaluation seeds (then ``mean_return == run_final_return``)"""
    frame_list: list = field(default_factory=list, repr=False)

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))


# ---------------------------------------------------------------------------------------------- loading
class _Agent:
    """The saved behaviour of a run: ``start()`` gives a fresh ``act(obs, t) -> action`` for each episode."""

    def __init__(self, start: Callable[[], Callable], close: Callable[[], None] = lambda: None):
        self.start = start
        self.close = close


def _check_run_dir(run_dir):
    from .config import ConfigError, load_run_config

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReplayError(f"{str(run_dir)!r} is not a run folder (no such folder)")
    if not (run_dir / "config.yaml").is_file():
        inside = sorted(d.name for d in run_dir.iterdir() if (d / "config.yaml").is_file())
        hint = (f"; it holds run folders, give one of them: {', '.join(inside[:3])}" + (", ..." if len(inside) > 3
                else "") if inside else "; run folders are made by zg-train / zg-compare under runs/")
        raise ReplayError(f"{str(run_dir)!r} is not a run folder (no config.yaml){hint}")
    try:
        cfg = load_run_config(run_dir)
    except (ConfigError, OSError) as exc:
        raise ReplayError(f"cannot read the config of {str(run_dir)!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. malformed YAML: a message, not a traceback
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ReplayError(f"cannot read {str(run_dir / 'config.yaml')!r}: {reason}") from None
    return run_dir, cfg


def _no_solution(run_dir: Path, cfg, expected: str) -> ReplayError:
    from .training import read_status

    status = read_status(run_dir)
    state = status.get("state", "unknown")
    at = status.get("env_steps")
    where = f" at {at} env steps" if at is not None else ""
    hint = (f"; continue it with: zg-train --resume {run_dir}" if state in ("interrupted", "failed") else
            "; wait until it finishes" if state == "running" else "")
    return ReplayError(f"{str(run_dir)!r} has no saved solution yet ({expected} is written when a run finishes "
                       f"its budget; this {cfg.algo} run is {state}{where}){hint}")


def load_agent(run_dir) -> tuple[object, _Agent]:
    """``(RunConfig, agent)`` of a finished run folder; raises :class:`ReplayError` when it cannot be replayed."""
    from .config import BLACK_BOX_ALGOS

    run_dir, cfg = _check_run_dir(run_dir)
    if cfg.algo in BLACK_BOX_ALGOS:
        if not (run_dir / "solution.pkl").is_file():
            raise _no_solution(run_dir, cfg, "solution.pkl")
        from .training import load_solution

        try:
            policy, theta, _ = load_solution(run_dir)
        except (OSError, EOFError, KeyError, ValueError, TypeError) as exc:
            raise ReplayError(f"cannot load {str(run_dir / 'solution.pkl')!r}: {type(exc).__name__}: {exc}") \
                from None
        return cfg, _Agent(lambda: policy.controller(theta))
    return cfg, _ppo_agent(run_dir, cfg)


def _ppo_agent(run_dir: Path, cfg) -> _Agent:
    model_path = run_dir / "final_model.zip"
    if not model_path.is_file():
        raise _no_solution(run_dir, cfg, "final_model.zip")
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from .envs import make_env

    model = PPO.load(str(model_path), device="cpu")
    vecnorm = None
    if cfg.options.normalize:
        stats = run_dir / "vecnormalize.pkl"
        if not stats.is_file():
            raise ReplayError(f"{str(stats)!r} is missing: the run normalises observations (options.normalize) "
                              f"and its statistics are needed to replay it")
        vecnorm = VecNormalize.load(str(stats), DummyVecEnv([lambda: make_env(cfg.env_id, cfg.env_kwargs,
                                                                                cfg.max_episode_steps)]))
        vecnorm.training = False

    def act(obs, t):  # what PPOTrainer evaluates: the deterministic policy on normalised observations
        if vecnorm is not None:
            obs = vecnorm.normalize_obs(obs)
        return model.predict(obs, deterministic=True)[0]

    return _Agent(lambda: act, close=(vecnorm.close if vecnorm is not None else (lambda: None)))


# ---------------------------------------------------------------------------------------------- replay
def _render(env):
    try:
        return env.render()
    except Exception as exc:  # noqa: BLE001 - e.g. a display library that is not installed
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ReplayError(f"env {env.spec.id if env.spec else env!r} failed to render: {type(exc).__name__}: "
                          f"{reason}") from None


def _episode(env, act, seed: int, render: bool):
    from .envs import play_episode

    total, t, frames = play_episode(env, act, seed, render, render_frame=_render)
    return total, t, frames if render else []


def _as_rgb(frame) -> np.ndarray:
    f = np.asarray(frame)
    if f.ndim == 2:
        f = np.repeat(f[:, :, None], 3, axis=2)
    if f.ndim != 3 or f.shape[2] not in (3, 4):
        raise ReplayError(f"render() returned an array of shape {f.shape}, not an RGB(A) picture")
    if f.dtype != np.uint8:
        f = np.clip(f, 0, 255).astype(np.uint8)
    return f[:, :, :3]


class _VideoWriter:
    """Frames to a video file through imageio-ffmpeg (H.264 in .mp4). Frames are padded with black to even
    sizes (what yuv420p needs) instead of imageio's default resize to multiples of 16."""

    def __init__(self, path: Path, fps: float):
        try:
            import imageio.v2 as imageio
            import imageio_ffmpeg  # noqa: F401 - the ffmpeg binary comes with its wheel
        except ImportError as exc:
            raise ReplayError(f"writing a video needs imageio and imageio-ffmpeg ({exc}); "
                              f"pip install imageio imageio-ffmpeg") from None
        self.path = path
        self._writer = imageio.get_writer(str(path), fps=fps, macro_block_size=1, ffmpeg_log_level="error")
        self._shape = None
        self.frames = 0

    def append(self, frame) -> None:
        f = _as_rgb(frame)
        if self._shape is None:
            self._shape = (f.shape[0] + f.shape[0] % 2, f.shape[1] + f.shape[1] % 2)
        h, w = self._shape
        if f.shape[0] > h or f.shape[1] > w:
            raise ReplayError(f"frame size changed during the replay: {f.shape[:2]} after {self._shape}")
        if f.shape[:2] != (h, w):
            f = np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1]), (0, 0)))
        self._writer.append_data(f)
        self.frames += 1

    def close(self) -> None:
        self._writer.close()


def replay(run_dir, episodes: int | None = None, seed: int | None = None, video=None, fps: float | None = None,
           keep_frames: bool = False, report: Callable[[str], None] | None = None) -> ReplayResult:
    """Rerun the saved solution of ``run_dir``.

    Args:
        run_dir: a finished run folder of ``zg-train`` / ``zg-compare`` (any algorithm).
        episodes: episodes to run (default: the run's ``eval_episodes``).
        seed: reset seed of the first episode, then ``seed + 1``, ... (default: the run's evaluation seeds,
            :func:`zg_agent.training.eval_seeds`, so the mean return is the run's final evaluation).
        video: path of a video to write (``.mp4``, ``.mkv``, ``.webm``, ``.avi`` or ``.mov``) with every
            episode's rendered frames, one episode after the other.
        fps: frames per second of the video (default: the env's ``metadata["render_fps"]``, else 30).
        keep_frames: also return the frames in ``ReplayResult.frame_list``.
        report: called with one line per episode as it ends (the CLI prints them).

    Raises:
        ReplayError: not a run folder, no saved solution yet, bad arguments, an env that cannot render.
    """
    from .envs import make_eval_env
    from .training import eval_seeds, read_evaluations

    if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer))
                                 or episodes < 1):
        raise ReplayError(f"episodes must be a positive integer, got {episodes!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ReplayError(f"seed must be a non-negative integer, got {seed!r}")
    if video is not None:
        video = Path(video)
        if video.suffix.lower() not in VIDEO_SUFFIXES:
            raise ReplayError(f"video {str(video)!r}: the file name must end in one of {', '.join(VIDEO_SUFFIXES)}")
        if not video.parent.is_dir():
            raise ReplayError(f"video {str(video)!r}: the folder {str(video.parent)!r} does not exist")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ReplayError(f"fps must be a positive number, got {fps!r}")
    cfg, agent = load_agent(run_dir)
    run_dir = Path(run_dir)
    n = int(episodes) if episodes is not None else cfg.eval_episodes
    seeds = eval_seeds(n) if seed is None else [int(seed) + i for i in range(n)]
    render = video is not None or keep_frames
    env = None
    writer = None
    try:
        env = make_eval_env(cfg, "rgb_array" if render else None)
        if render:
            modes = (env.metadata or {}).get("render_modes", [])
            if "rgb_array" not in modes:
                raise ReplayError(f"env {cfg.env_id!r} does not render rgb_array (render modes {modes}); "
                                  f"replay it without --video")
        if video is not None:
            fps = float(fps or (env.unwrapped.metadata or {}).get("render_fps") or 30)
            writer = _VideoWriter(video, fps)
        result = ReplayResult(run_dir, cfg.env_id, cfg.algo, seeds, [], [], video=video, fps=fps)
        for i, s in enumerate(seeds):
            ret, length, frames = _episode(env, agent.start(), s, render)
            result.returns.append(ret)
            result.lengths.append(length)
            if writer is not None:
                for f in frames:
                    writer.append(f)
            if keep_frames:
                result.frame_list.extend(frames)
            if report is not None:
                report(f"episode {i + 1} (reset seed {s}): return {ret:.6g}, {length} steps")
    except BaseException:
        if writer is not None:  # no half-written video left behind
            writer.close()
            writer = None
            video.unlink(missing_ok=True)
        raise
    finally:
        if writer is not None:
            writer.close()
        if env is not None:
            env.close()
        agent.close()
    result.frames = writer.frames if writer is not None else 0
    evals = read_evaluations(run_dir)
    result.run_final_return = evals[-1]["mean_reward"] if evals else None
    result.same_protocol = seeds == eval_seeds(cfg.eval_episodes)
    return result
