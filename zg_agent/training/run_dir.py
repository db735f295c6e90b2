"""The run folder: its name (written once, :func:`run_dir_name`), its files, ``status.json``, atomic writes,
the checkpoint file, ``evaluations.csv``, the lock, and the saved black-box solution.

A run folder ``<run_root>/<env>__<algo>__s<seed>__<time>/`` holds::

    config.yaml        the full RunConfig (``zg-train --resume`` reads it back)
    command.txt        the command line that started the run (one line per start: resumes append)
    versions.json      Python, platform and the versions of the libraries that shape the numbers, one entry per
                       start (a run that does not reproduce elsewhere can be traced to a library that moved)
    status.json        running / interrupted / failed / finished, budget, env steps, the checkpoint's env steps, error
    events.out.tfevents.*  TensorBoard (logger), progress.csv (logger)
    evaluations.csv    one row per evaluation: env steps, wall time, mean/std return (what compare reads)
    checkpoints/       the last checkpoint (optimizer / PPO model, policy statistics, progress, RNG states)
    solution.pkl       the final solution (theta and policy statistics) / final_model.zip for PPO
    error.txt          the traceback when a run failed
    run.lock           locked (``flock``) and holding the pid while a process trains here (:class:`RunLock`)
"""

from __future__ import annotations

import csv
import errno
import json
import os
import pickle
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RunConfig

CHECKPOINT_VERSION = 1
EVAL_COLUMNS = ("env_steps", "elapsed_s", "iteration", "mean_reward", "std_reward", "mean_length")
#: columns of ``evaluations.csv`` that hold integers (kept integer when the file is rewritten on resume)
EVAL_INT_COLUMNS = ("env_steps", "iteration")


def env_tag(env_id: str) -> str:
    """The env id as a folder name (``zg/ShadowCaster-v0`` -> ``zg_ShadowCaster-v0``)."""
    return env_id.replace("/", "_").replace(":", "_")



class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: in use by another process, an unreadable checkpoint, a budget
    below what the run already spent, a run root that cannot be written. Raised before anything in the folder
    changes; the command-line tools report it with exit status 2."""



def run_dir_name(env_id: str, algo: str, seed: int) -> str:
    """The name of a run of ``(env_id, algo, seed)``: ``<env>__<algo>__s<seed>`` (a comparison's run folder);
    :func:`new_run_dir` adds ``__<time>``."""
    return f"{env_tag(env_id)}__{algo}__s{seed}"


def new_run_dir(cfg: RunConfig, name: str | None = None) -> Path:
    """Create ``<run_root>/<env>__<algo>__s<seed>__<time>`` (or ``<run_root>/<name>``); never reuses one (a
    suffix ``_2``, ``_3``... is added). Raises :class:`RunFolderError` when the run root cannot be written."""
    root = Path(cfg.run_root)
    base = name or f"{run_dir_name(cfg.env_id, cfg.algo, cfg.seed)}__{time.strftime('%Y%m%d-%H%M%S')}"
    k = 1
    try:
        root.mkdir(parents=True, exist_ok=True)
        while True:
            path = root / (base if k == 1 else f"{base}_{k}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                k += 1
    except OSError as exc:
        raise RunFolderError(f"cannot create a run folder under the run root {str(root)!r}: "
                             f"{exc.strerror or exc}") from None


def read_config_dict(run_dir) -> dict:
    """The run's ``config.yaml`` as a plain dict (``{}`` when missing or unreadable)."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text()) if path.is_file() else {}
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


LOCK_NAME = "run.lock"


class RunLock:
    """An exclusive lock on a run folder, held while one process trains in it: ``run.lock`` locked with
    ``fcntl.flock`` and holding the owner's pid.

    The kernel drops the lock when its process exits, however it exits (``kill -9`` included), so a lock left
    by a dead process never blocks a resume; the file itself stays (emptied on a normal release). Where
    ``fcntl`` does not exist (Windows) the lock is a no-op.
    """

    def __init__(self, run_dir):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        """Take the lock, or raise :class:`RunFolderError` naming the pid of the process that holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on Linux / macOS
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunFolderError(f"cannot open the lock file {str(self.path)!r}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):  # e.g. no flock on this filesystem
                os.close(fd)
                warnings.warn(f"cannot lock {str(self.path)!r} ({exc.strerror or exc}): nothing stops a second "
                              f"process from using this folder at the same time", RuntimeWarning, stacklevel=2)
                return self
            owner = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunFolderError(f"the folder {str(self.path.parent)!r} is in use by process {owner} (it "
                                 f"holds {LOCK_NAME}); wait for it to end or stop it (Ctrl-C or kill {owner} "
                                 f"saves and stops it), then resume") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Empty the lock file and release the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def write_run_files(run_dir: Path, cfg: RunConfig, command: str | None = None) -> None:
    """``config.yaml``, and ``command.txt`` and ``versions.json`` (both appended on every start: resumes too)
    in the run folder."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(cfg.to_yaml())
    cmd = command if command is not None else " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
    with open(run_dir / "command.txt", "a") as f:
        f.write(cmd.rstrip() + "\n")
    versions_path = run_dir / "versions.json"
    try:
        starts = json.loads(versions_path.read_text())
    except FileNotFoundError:
        starts = []
    except ValueError:  # damaged: kept aside, not overwritten
        versions_path.replace(versions_path.with_name("versions.unreadable.json"))
        starts = []
    starts = starts if isinstance(starts, list) else [starts]
    atomic_write(versions_path, json.dumps(starts + [{"command": cmd.rstrip(), **library_versions()}],
                                           indent=1).encode())


#: the distributions whose versions can change a run's numbers (``None`` in versions.json: not installed)
VERSIONED = ("zerograds-gym", "numpy", "torch", "gymnasium", "pybullet", "cma", "stable-baselines3", "ray")


def library_versions() -> dict[str, Any]:
    """Python, the platform, the installed versions of :data:`VERSIONED` and, when this code runs from a git
    checkout, its commit and whether it had uncommitted changes (the package version alone does not move)."""
    import platform
    import subprocess
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    here = Path(__file__).resolve().parents[1]  # the zg_agent package
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10,
                                  check=True).stdout.strip()
        # this project's checkout only: an install inside some other repository is not its code
        ours = Path(git("rev-parse", "--show-toplevel")).resolve() == here.parent
        code = ({"commit": git("rev-parse", "HEAD"), "uncommitted_changes": bool(git("status", "--porcelain"))}
                if ours else None)
    except (OSError, subprocess.SubprocessError):  # no git, or not a checkout (an installed wheel)
        code = None
    return {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "python": platform.python_version(),
            "platform": platform.platform(), "code": code, "packages": {name: version(name) for name in VERSIONED}}


def read_status(run_dir) -> dict[str, Any]:
    """The run's ``status.json`` (``{}`` when missing)."""
    path = Path(run_dir) / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_status(run_dir: Path, **fields) -> None:
    status = read_status(run_dir)
    status.update(fields, updated=time.strftime("%Y-%m-%d %H:%M:%S"))
    atomic_write(run_dir / "status.json", json.dumps(status, indent=1).encode())


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def checkpoint_path(run_dir) -> Path:
    return Path(run_dir) / "checkpoints" / "checkpoint.pkl"


def has_checkpoint(run_dir) -> bool:
    return checkpoint_path(run_dir).is_file()


def read_checkpoint(run_dir, expected: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's ``checkpoints/checkpoint.pkl`` as a dict; :class:`RunFolderError` naming the file when it
    cannot be read (truncated, garbled, not a checkpoint) or does not match ``expected`` (for example
    ``{"kind": "ppo", "env_id": ..., "seed": ...}``)."""
    path = checkpoint_path(run_dir)
    try:
        with open(path, "rb") as f:
            ckpt = pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - a damaged pickle raises almost anything
        raise RunFolderError(
            f"the checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); it is damaged (truncated "
            f"or overwritten), so this run cannot be resumed from it. Its evaluations so far are in "
            f"evaluations.csv; start a new run instead") from None
    if not isinstance(ckpt, dict) or not {"version", "kind", "progress", "rng"} <= set(ckpt):
        raise RunFolderError(f"the checkpoint {str(path)!r} is not a checkpoint of this program (got a "
                             f"{type(ckpt).__name__} without its keys); start a new run instead")
    expected = {"version": CHECKPOINT_VERSION, **(expected or {})}
    found = {k: ckpt.get(k) for k in expected}
    if found != expected:
        raise RunFolderError(f"the checkpoint {str(path)!r} is for {found}, not {expected}; resume it with its own "
                             f"config")
    return ckpt


# ---------------------------------------------------------------------------------------------- evaluations.csv
class EvalLog:
    """``evaluations.csv``: one row per evaluation (:data:`EVAL_COLUMNS`), flushed at once."""

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = Path(path)
        rows = read_evaluations(self.path) if (resume_step is not None and self.path.exists()) else []
        self.rows = [r for r in rows if r["env_steps"] <= resume_step] if resume_step is not None else []
        with open(self.path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(EVAL_COLUMNS)
            for r in self.rows:
                w.writerow([r[c] for c in EVAL_COLUMNS])

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([row[c] for c in EVAL_COLUMNS])


def read_evaluations(path) -> list[dict[str, float]]:
    """Rows of an ``evaluations.csv`` (or of a run folder's) as dicts of numbers (``env_steps`` and
    ``iteration`` as ints, the rest floats)."""
    path = Path(path)
    if path.is_dir():
        path = path / "evaluations.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        out = []
        for row in csv.DictReader(f):
            try:
                out.append({k: (int(float(v)) if k in EVAL_INT_COLUMNS else float(v)) for k, v in row.items()})
            except (TypeError, ValueError):
                continue  # a torn last line after a kill
        return out


# ---------------------------------------------------------------------------------------------- solution.pkl
def save_solution(run_dir, solution: dict[str, Any]) -> None:
    """Write a finished black-box run's ``solution.pkl`` atomically (see :func:`load_solution`)."""
    atomic_write(Path(run_dir) / "solution.pkl", pickle.dumps(solution, protocol=pickle.HIGHEST_PROTOCOL))


def load_solution(run_dir):
    """``(policy, theta, solution dict)`` of a finished black-box run; ``policy.controller(theta)`` acts.

    Example:
        >>> policy, theta, sol = load_solution("runs/Pendulum-v1__es__s0__20250101-120000")
        >>> ctrl = policy.controller(theta)   # ctrl(obs, t) -> action
    """
    from ..envs import episode_horizon, make_env
    from ..policies import make_policy

    path = Path(run_dir) / "solution.pkl"
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist (PPO runs save final_model.zip instead)")
    with open(path, "rb") as f:
        sol = pickle.load(f)
    env = make_env(sol["env_id"], sol["env_kwargs"], sol["max_episode_steps"])
    try:
        horizon = episode_horizon(env, sol["max_episode_steps"])
        policy = make_policy(sol["policy_kind"], env.observation_space, env.action_space, horizon,
                             **sol["policy_options"])
    finally:
        env.close()
    policy.load_state_dict(sol["policy_state"])
    return policy, np.asarray(sol["theta"]), sol

