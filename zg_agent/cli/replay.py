"""``zg-replay``: argparse, printing and the exit status of a replay (:func:`zg_agent.replay.replay`)."""

from __future__ import annotations

import argparse
import math
import sys

from ..replay import VIDEO_SUFFIXES, replay


def _int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``, with a message that says so."""
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}" if minimum else "a non-negative integer"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}")
        return value

    return parse


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zg-replay", description="Rerun the saved solution of a finished run (black-box theta or PPO model), "
                                      "print each episode's return and the mean, optionally write a video.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder made by zg-train or zg-compare")
    p.add_argument("--episodes", type=_int_at_least(1), default=None,
                   help="episodes to run (default: the run's eval_episodes)")
    p.add_argument("--seed", type=_int_at_least(0), default=None,
                   help="reset seed of the first episode, then +1 per episode (default: the run's evaluation "
                        "seeds, so the mean is the run's final evaluation)")
    p.add_argument("--video", default=None, metavar="OUT.mp4",
                   help=f"write every episode's frames to this video ({', '.join(VIDEO_SUFFIXES)})")
    p.add_argument("--fps", type=_fps, default=None, help="video frame rate (default: the env's render_fps)")
    return p


def replay_main(argv: list[str] | None = None) -> int:
    """``zg-replay``: exit status 0, or 2 for a folder that cannot be replayed or bad arguments."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = replay(args.run_dir, episodes=args.episodes, seed=args.seed, video=args.video, fps=args.fps,
                        report=lambda line: print(line, flush=True))
    except ValueError as exc:  # ReplayError, and make_env's errors (an env that cannot be built any more)
        print(f"zg-replay: error: {exc}", file=sys.stderr)
        return 2
    print(f"mean return over {len(result.returns)} episode(s): {result.mean_return:.6g} "
          f"({result.algo} on {result.env_id})")
    if result.run_final_return is not None:
        same = ("same reset seeds" if result.same_protocol else
                "other reset seeds or episode count, so it may differ")
        print(f"the run's final evaluation: {result.run_final_return:.6g} ({same})")
    if result.video is not None:
        print(f"video: {result.video} ({result.frames} frames at {result.fps:g} fps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(replay_main())
