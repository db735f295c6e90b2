"""Trainers: one budget in environment steps, one evaluation protocol, one set of logger tags.

- :class:`BlackBoxTrainer` drives any registered ask/tell optimizer (``zerograds``, ``es``, ``cma``,
  ``random``) through an :class:`~zg_agent.objective.EpisodeObjective`: ``ask`` -> episodes on a backend ->
  ``tell(-returns)``.
- :class:`PPOTrainer` wraps stable-baselines3's ``PPO`` (Schulman et al. 2017, https://arxiv.org/abs/1707.06347)
  and forwards its records into the same logger.

Both write a run folder ``<run_root>/<env>__<algo>__s<seed>__<time>/``::

    config.yaml        the full RunConfig (``zg-train --resume`` reads it back)
    command.txt        the command line that started the run
    status.json        running / interrupted / failed / finished, budget, env steps, the checkpoint's env steps, error
    events.out.tfevents.*  TensorBoard (logger), progress.csv (logger)
    evaluations.csv    one row per evaluation: env steps, wall time, mean/std return (what compare.py reads)
    checkpoints/       the last checkpoint (optimizer / PPO model, policy statistics, progress, RNG states)
    solution.pkl       the final solution (theta and policy statistics) / final_model.zip for PPO
    error.txt          the traceback when a run failed
    run.lock           locked (``flock``) and holding the pid while a process trains here (:class:`RunLock`)

Evaluation protocol (every algorithm): at step 0, then whenever the training env steps pass a multiple of
``eval_every``, and at the end, the current solution (the optimizer's ``mean``; PPO's deterministic policy)
runs ``eval_episodes`` episodes with the fixed reset seeds :func:`eval_seeds` (the same for every algorithm and
run seed). Evaluation episodes (and the ZeroGrads slice plot's) are not counted in the training budget; they
are logged as ``time/eval_env_steps``.

Shared tags: ``rollout/ep_rew_mean``, ``eval/mean_reward``, ``time/fps``, ``time/elapsed_s``; diagnostics under
``zerograds/``, ``es/``, ``cma/``, ``random/`` (the optimizer's ``tell`` metrics) and PPO's ``train/``.
Pictures: ``eval/render`` (last frame of an episode of the best design, for envs that render ``rgb_array``),
``eval/frames`` (a strip of frames of that episode), ``zerograds/surrogate_slice`` (surrogate vs true loss
along a line through theta).

Budget rule (every algorithm): a run is made of whole iterations. PPO's iteration is a rollout of
``n_steps x n_envs`` env steps and starts only when it fits, so PPO never exceeds its budget. A black-box
iteration costs ``popsize x episodes_per_candidate x episode length``, which varies when episodes end early
(a fall); it starts when the cost of the iteration before it still fits in what is left (the first one: its
worst case, every episode running to the time limit). So a black-box run uses its budget up to less than one
iteration, and can exceed it only when its last iteration costs more than the one before (bounded by one
worst-case iteration; never with fixed-length episodes). Waiting for the worst case instead would leave up to
half of a locomotion budget unused. The env steps actually used are in ``evaluations.csv``, ``status.json``
and every report.

Setup errors (unknown env, rejected ``env_kwargs``, a bad optimizer option, a budget below one iteration, a
non-Box action space) are raised by :meth:`Trainer.prepare` before the run folder is created.

Interruption: the first Ctrl-C or SIGTERM finishes the current iteration (PPO: stops at the next env step, or
after the update in progress, and saves the part of the rollout collected so far), saves a checkpoint there and
returns with status ``interrupted``; a second one or a crash stops at once and keeps the state of the last
iteration (rollout) boundary: PPO writes the boundary state it kept in memory (never a model caught in the
middle of an update) unless a newer checkpoint is on disk, a black-box run writes its state when it is at a
boundary and otherwise keeps the last checkpoint on disk. Checkpoints are written atomically at step 0, every
``checkpoint_every`` iterations when that is set, otherwise every ``checkpoint_seconds`` of wall time (default
30 s; PPO also inside a rollout, see :mod:`zg_agent._ppo`), and at the end or on a stop request; the state is
serialised only when a checkpoint is written. ``resume=True`` continues from it, and a black-box run resumed
this way reproduces the uninterrupted run exactly.

Run folder safety: :meth:`Trainer.train` takes the folder's :class:`RunLock` (a second process is refused
naming the pid) and, when resuming, reads and restores the checkpoint before anything in the folder is written;
a checkpoint that cannot be read and a budget below the env steps it holds raise :class:`RunFolderError` then.
"""

from __future__ import annotations

import csv
import errno
import json
import math
import os
import pickle
import random
import signal
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import BLACK_BOX_ALGOS, RunConfig, hparams, load_run_config, markdown_table, optimizer_kwargs

#: first reset seed of the evaluation episodes (fixed: the same for every algorithm and run seed)
EVAL_SEED_BASE = 1_000_003
CHECKPOINT_VERSION = 1
EVAL_COLUMNS = ("env_steps", "elapsed_s", "iteration", "mean_reward", "std_reward", "mean_length")
#: columns of ``evaluations.csv`` that hold integers (kept integer when the file is rewritten on resume)
EVAL_INT_COLUMNS = ("env_steps", "iteration")


def eval_seeds(episodes: int) -> list[int]:
    """The reset seeds of the evaluation episodes."""
    return [EVAL_SEED_BASE + i for i in range(int(episodes))]


def env_tag(env_id: str) -> str:
    """The env id as a folder name (``zg/ShadowCaster-v0`` -> ``zg_ShadowCaster-v0``)."""
    return env_id.replace("/", "_").replace(":", "_")


# ---------------------------------------------------------------------------------------------- results
@dataclass
class TrainResult:
    """What a trainer returns."""

    run_dir: Path
    status: str
    """finished, interrupted or failed"""
    env_steps: int
    iterations: int
    elapsed_s: float
    final_return: float | None
    """mean return of the last evaluation"""
    best_return: float | None
    """best mean return over the evaluations"""
    evaluations: list[dict[str, float]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- run folder
class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: in use by another process, an unreadable checkpoint, a budget
    below what the run already spent, a run root that cannot be written. Raised before anything in the folder
    changes; the command-line tools report it with exit status 2."""


def new_run_dir(cfg: RunConfig, name: str | None = None) -> Path:
    """Create ``<run_root>/<env>__<algo>__s<seed>__<time>`` (or ``<run_root>/<name>``); never reuses one (a
    suffix ``_2``, ``_3``... is added). Raises :class:`RunFolderError` when the run root cannot be written."""
    root = Path(cfg.run_root)
    base = name or f"{env_tag(cfg.env_id)}__{cfg.algo}__s{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
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
    """``config.yaml`` and ``command.txt`` (appended on resume) in the run folder."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(cfg.to_yaml())
    cmd = command if command is not None else " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
    with open(run_dir / "command.txt", "a") as f:
        f.write(cmd.rstrip() + "\n")


def read_status(run_dir) -> dict[str, Any]:
    """The run's ``status.json`` (``{}`` when missing)."""
    path = Path(run_dir) / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_status(run_dir: Path, **fields) -> None:
    status = read_status(run_dir)
    status.update(fields, updated=time.strftime("%Y-%m-%d %H:%M:%S"))
    _atomic_write(run_dir / "status.json", json.dumps(status, indent=1).encode())


def _atomic_write(path: Path, data: bytes) -> None:
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


# ---------------------------------------------------------------------------------------------- helpers
class _Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM (``kill``, ``timeout``, cluster schedulers) while training: the first asks
    for a graceful stop (save at the next iteration boundary), the second raises ``KeyboardInterrupt``."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self._old: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\n{name}: stopping after this iteration and saving a checkpoint ({name} again to stop now)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old.clear()
        return False


def _rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"numpy": np.random.get_state(), "python": random.getstate()}
    if "torch" in sys.modules:
        states["torch"] = sys.modules["torch"].get_rng_state()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "torch" in states:
        import torch

        torch.set_rng_state(states["torch"])


def _describe_run(cfg: RunConfig) -> str:
    return f"{cfg.algo} on {cfg.env_id} seed {cfg.seed}"


def _numeric(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    return None


# ---------------------------------------------------------------------------------------------- base trainer
class Trainer:
    """Shared machinery: run folder, logger, evaluation bookkeeping, status, checkpoints, interrupts.

    Args:
        cfg: the run's configuration.
        run_dir: its folder; ``None`` creates ``<run_root>/<env>__<algo>__s<seed>__<time>`` when training
            starts (after :meth:`prepare` has passed). ``config.yaml`` and ``command.txt`` are written there.
        resume: continue from ``run_dir``'s checkpoint (a fresh start if there is none).
        progress: ``progress(env_steps, info)`` after each iteration; ``info`` has ``budget``,
            ``best_return``, ``eval_return``, ``fps``.
        callback: ``callback(trainer)`` after each iteration (after the checkpoint); may call
            :meth:`request_stop`.
        command: the command line to record (default: ``sys.argv``).
    """

    def __init__(self, cfg: RunConfig, run_dir=None, *, resume: bool = False,
                 progress: Callable[[int, dict], None] | None = None,
                 callback: Callable[["Trainer"], None] | None = None, command: str | None = None):
        self.cfg = cfg.validate()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.resume = bool(resume) and self.run_dir is not None and has_checkpoint(self.run_dir)
        self.progress = progress
        self.callback = callback
        self.command = command
        self.logger = None
        self._interrupts = _Interrupts()
        self._stop = False
        self._render_ok = cfg.render != "off"
        self._render_error_logged = False
        self._prepared = False
        #: env steps of one iteration (its worst case for variable-length episodes), set by :meth:`prepare`
        self.iteration_cost: int | None = None
        #: how :attr:`iteration_cost` is made up, e.g. ``popsize 16 x 1 episode(s) x up to 200 steps``
        self.iteration_desc = ""
        self.variable_cost = False
        # checkpoint schedule: every ``checkpoint_every`` iterations when set, else every ``checkpoint_seconds``
        self.checkpoint_every: int | None = cfg.checkpoint_every
        self.checkpoint_seconds = float(cfg.checkpoint_seconds)
        #: env steps / iteration of the checkpoint on disk (None: none written or loaded yet)
        self.checkpoint_step: int | None = None
        self._ckpt_iteration: int | None = None
        self._last_ckpt_time = time.perf_counter()
        # progress state (saved in checkpoints)
        self.iteration = 0
        self.env_steps = 0
        self.next_eval = 0
        self.num_evals = 0
        self.best_eval = -math.inf
        self.last_eval: float | None = None
        self.eval_env_steps = 0
        self.elapsed_before = 0.0
        self.last_cost: int | None = None
        self._t0 = time.perf_counter()

    # ------------------------------------------------------------------ public
    def request_stop(self) -> None:
        """Stop after the current iteration (with a checkpoint), as the first Ctrl-C does."""
        self._stop = True

    @property
    def stop_requested(self) -> bool:
        return self._stop or self._interrupts.requested

    def elapsed(self) -> float:
        """Wall time of the run so far, resumed parts included."""
        return self.elapsed_before + (time.perf_counter() - self._t0)

    def prepare(self) -> "Trainer":
        """Build the env(s), policy and optimizer / model and check the budget against one iteration, without
        touching the run folder; raises ``ValueError`` naming what is wrong. :meth:`train` calls it first, so
        a setup error never leaves a run folder behind."""
        if not self._prepared:
            try:
                self._prepare()
            except BaseException:
                self._close()
                raise
            self._prepared = True
        return self

    def close(self) -> None:
        """Release envs and workers of a prepared trainer that will not train (``train`` closes by itself)."""
        self._close()
        self._prepared = False

    def usable_budget(self) -> int:
        """The env steps a fresh run can use: whole iterations that fit in the budget (an upper bound when
        episodes can end early)."""
        cost = self.iteration_cost or 1
        return self.cfg.budget // cost * cost

    def budget_note(self) -> str | None:
        """A sentence when the budget is not a multiple of one iteration (so part of it stays unused)."""
        cost = self.iteration_cost
        if not cost or self.cfg.budget % cost == 0:
            return None
        when = " when every episode runs to its time limit" if self.variable_cost else ""
        return (f"budget {self.cfg.budget} env steps is not a multiple of one iteration ({cost} env steps: "
                f"{self.iteration_desc}); a run uses whole iterations only: {self.usable_budget()} env steps{when}")

    def train(self) -> TrainResult:
        """Run until the budget is spent (or a stop is requested); always leaves the run folder usable.

        Raises :class:`RunFolderError` before anything in the run folder changes when the folder is in use by
        another process (:class:`RunLock`), its checkpoint cannot be read, or the budget is below the env steps
        the run already used."""
        self.prepare()  # setup errors are raised here, before a run folder exists
        if self.run_dir is None:
            try:
                self.run_dir = new_run_dir(self.cfg)
            except BaseException:
                self._close()
                raise
        lock = RunLock(self.run_dir)
        try:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RunFolderError(f"cannot create the run folder {str(self.run_dir)!r}: "
                                     f"{exc.strerror or exc}") from None
            lock.acquire()
            if self.resume:
                self._resume()  # reads and restores the checkpoint; writes nothing
        except BaseException:
            lock.release()
            self._close()
            raise
        try:
            return self._train_locked()
        finally:
            lock.release()

    def _train_locked(self) -> TrainResult:
        write_run_files(self.run_dir, self.cfg, self.command)
        status = "failed"
        _write_status(self.run_dir, state="running", algo=self.cfg.algo, env_id=self.cfg.env_id,
                      seed=self.cfg.seed, budget=self.cfg.budget, iteration_cost=self.iteration_cost,
                      pid=os.getpid())
        try:
            with self._interrupts:
                self._open()
                self._t0 = time.perf_counter()
                self._run()
            status = "finished" if self.budget_spent() else "interrupted"
        except KeyboardInterrupt:
            status = "interrupted"
            self._save_on_exit()
        except BaseException as exc:
            self._save_on_exit()
            (self.run_dir / "error.txt").write_text(traceback.format_exc())
            _write_status(self.run_dir, state="failed", error=f"{type(exc).__name__}: {exc}",
                          env_steps=self.env_steps, checkpoint_env_steps=self.checkpoint_step)
            raise
        finally:
            self._close()
            if status != "failed":
                _write_status(self.run_dir, state=status, env_steps=self.env_steps, iterations=self.iteration,
                              elapsed_s=round(self.elapsed(), 3), final_return=self.last_eval,
                              best_return=None if self.best_eval == -math.inf else self.best_eval,
                              checkpoint_env_steps=self.checkpoint_step)
        return TrainResult(self.run_dir, status, self.env_steps, self.iteration, self.elapsed(), self.last_eval,
                           None if self.best_eval == -math.inf else self.best_eval,
                           list(self.eval_log.rows) if getattr(self, "eval_log", None) else [])

    # ------------------------------------------------------------------ subclass hooks
    def budget_spent(self) -> bool:
        """Whether another iteration could exceed the budget."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """Build everything that can be checked without the run folder (see :meth:`prepare`)."""
        raise NotImplementedError

    def _resume(self) -> None:
        """Read the checkpoint and restore the state it holds, without writing anything; raises
        :class:`RunFolderError` when it cannot be read or the budget is below the env steps it holds."""
        raise NotImplementedError

    def _check_budget_covers(self, ckpt: dict[str, Any]) -> None:
        spent = int(ckpt["progress"]["env_steps"])
        if self.cfg.budget < spent:
            raise RunFolderError(
                f"budget {self.cfg.budget} env steps is below the {spent} env steps that the run in "
                f"{str(self.run_dir)!r} has already used (its checkpoint); give a budget of at least {spent} "
                f"(--budget {spent} finishes it there, with a final evaluation)")

    def _open(self) -> None:
        """Open ``evaluations.csv`` and the logger (the folder exists; a resumed state is already loaded)."""
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    def _save_on_exit(self) -> None:
        """Save what can be saved after an interruption or a crash (never raises)."""

    def _close(self) -> None:
        if self.logger is not None:
            try:
                self.logger.close()
            except Exception:  # noqa: BLE001 - closing must not hide the real error
                pass
            self.logger = None

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_due(self) -> bool:
        """Whether the periodic schedule asks for a checkpoint at this iteration boundary."""
        if self.checkpoint_every is not None:
            return self.iteration % int(self.checkpoint_every) == 0
        return time.perf_counter() - self._last_ckpt_time >= self.checkpoint_seconds

    def _checkpoint_written(self) -> None:
        self.checkpoint_step = self.env_steps
        self._ckpt_iteration = self.iteration
        self._last_ckpt_time = time.perf_counter()

    # ------------------------------------------------------------------ shared pieces
    def _make_logger(self, resume_step: int | None):
        from .logger import make_logger

        return make_logger(self.run_dir, formats=tuple(self.cfg.log_formats), resume_step=resume_step)

    def _progress_state(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "env_steps": self.env_steps, "next_eval": self.next_eval,
                "num_evals": self.num_evals, "best_eval": self.best_eval, "last_eval": self.last_eval,
                "eval_env_steps": self.eval_env_steps, "elapsed": self.elapsed(), "last_cost": self.last_cost}

    def _load_progress_state(self, s: dict[str, Any]) -> None:
        self.iteration = int(s["iteration"])
        self.env_steps = int(s["env_steps"])
        self.next_eval = int(s["next_eval"])
        self.num_evals = int(s["num_evals"])
        self.best_eval = float(s["best_eval"])
        self.last_eval = s["last_eval"]
        self.eval_env_steps = int(s["eval_env_steps"])
        self.elapsed_before = float(s["elapsed"])
        self.last_cost = s.get("last_cost")

    def _record_eval(self, returns: np.ndarray, lengths: np.ndarray) -> None:
        """Log one evaluation (``returns``/``lengths`` of the ``eval_episodes`` episodes)."""
        mean = float(np.mean(returns))
        self.num_evals += 1
        self.last_eval = mean
        self.best_eval = max(self.best_eval, mean)
        self.eval_env_steps += int(np.sum(lengths))
        self.logger.record("eval/mean_reward", mean)
        self.logger.record("eval/std_reward", float(np.std(returns)))
        self.logger.record("eval/mean_ep_length", float(np.mean(lengths)))
        self.logger.record("eval/best_mean_reward", self.best_eval)
        self.logger.record("time/eval_env_steps", float(self.eval_env_steps))
        self.eval_log.append({"env_steps": self.env_steps, "elapsed_s": round(self.elapsed(), 4),
                              "iteration": self.iteration, "mean_reward": mean,
                              "std_reward": float(np.std(returns)), "mean_length": float(np.mean(lengths))})
        every = self.cfg.eval_every
        self.next_eval = (self.env_steps // every + 1) * every

    def _render_due(self, final: bool) -> bool:
        return self._render_ok and (final or (self.num_evals - 1) % self.cfg.render_every == 0)

    def _log_frames(self, frames) -> None:
        if not frames:
            return
        frames = [np.asarray(f) for f in frames if f is not None]
        if not frames or frames[-1].ndim != 3:
            return
        self.logger.record_image("eval/render", frames[-1].astype(np.uint8)[:, :, :3])
        if len(frames) > 2:
            from .logger import frame_strip

            # up to 8 frames in rows of at most 4 (fewer when the frames are wide), each at its own size; only a
            # frame wider than ~2048 pixels by itself is downscaled
            width = max(f.shape[1] for f in frames)
            strip = frame_strip(frames, max_frames=8, per_row=max(1, min(4, 2048 // max(width, 1))))
            stride = -(-strip.shape[1] // 2048)
            self.logger.record_image("eval/frames", strip[::stride, ::stride] if stride > 1 else strip)

    def _render_failed(self, exc: BaseException) -> None:
        self._render_ok = False
        if not self._render_error_logged:
            self._render_error_logged = True
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.logger.record_text("eval/render_error", f"rendering disabled for this run: {exc}")
            print(f"note: rendering disabled for this run, no pictures in TensorBoard ({_describe_run(self.cfg)}): "
                  f"{reason}", file=sys.stderr, flush=True)

    def _report_progress(self, fps: float) -> None:
        if self.progress is not None:
            self.progress(self.env_steps, {
                "budget": self.cfg.budget, "fps": fps, "eval_return": self.last_eval,
                "best_return": None if self.best_eval == -math.inf else self.best_eval})

    def _log_hparams_text(self) -> None:
        self.logger.record_text("hparams", markdown_table(self.cfg))

    def _log_hparams_final(self) -> None:
        metrics = {"eval/mean_reward": None, "eval/best_mean_reward": None, "rollout/ep_rew_mean": None}
        hp = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams(self.cfg).items()}
        self.logger.record_hparams(hp, metrics)


# ---------------------------------------------------------------------------------------------- black box
class BlackBoxTrainer(Trainer):
    """Drives a registered ask/tell optimizer through an :class:`~zg_agent.objective.EpisodeObjective`.

    One iteration: ``ask()`` a population, run every candidate for ``episodes_per_candidate`` episodes with the
    same reset seeds (common random numbers, drawn from ``(seed, iteration)``), ``tell`` the losses
    (``-mean return``), merge the observation statistics into the policy (linear / MLP policies).
    """

    def _prepare(self) -> None:
        from .objective import EpisodeObjective
        from .optim import make_optimizer

        cfg = self.cfg
        if cfg.algo not in BLACK_BOX_ALGOS:
            raise ValueError(f"algo must be one of {list(BLACK_BOX_ALGOS)} for BlackBoxTrainer, got {cfg.algo!r}")
        self.objective = EpisodeObjective(
            cfg.env_id, cfg.env_kwargs, cfg.policy, cfg.policy_options, episodes=cfg.episodes_per_candidate,
            max_episode_steps=cfg.max_episode_steps, backend=cfg.backend, num_workers=cfg.num_workers,
            ray_address=cfg.ray_address, seed=cfg.seed, episode_timeout_s=cfg.episode_timeout_s)
        self.policy = self.objective.policy
        theta0 = self.objective.initial_params(cfg.seed)
        try:
            self.opt = make_optimizer(cfg.algo, theta0, seed=cfg.seed, **optimizer_kwargs(cfg.options))
        except TypeError as exc:  # an option the optimizer does not take
            raise ValueError(f"options of {cfg.algo!r} were rejected: {exc}") from exc
        horizon = self.objective.horizon
        # an episode can end before its time limit, so the cost of an iteration is only bounded from above
        self.variable_cost = True
        self.iteration_cost = self.opt.popsize * cfg.episodes_per_candidate * (horizon or 1)
        length = f"up to {horizon} steps" if horizon else "episode length (the env declares no time limit)"
        self.iteration_desc = f"popsize {self.opt.popsize} x {cfg.episodes_per_candidate} episode(s) x {length}"
        if cfg.budget < self.iteration_cost:
            raise ValueError(
                f"budget {cfg.budget} env steps is smaller than one iteration of {cfg.algo!r} on {cfg.env_id!r}: "
                f"{self.iteration_desc} = {self.iteration_cost}; raise the budget to at least "
                f"{self.iteration_cost} or lower options.popsize / episodes_per_candidate / max_episode_steps")
        self._horizon = horizon

    def _open(self) -> None:
        resume_step = self.env_steps if self.resume else None
        self._at_boundary = True
        self.eval_log = EvalLog(self.run_dir / "evaluations.csv", resume_step=resume_step)
        self.logger = self._make_logger(resume_step)

    def _resume(self) -> None:
        cfg = self.cfg
        ckpt = read_checkpoint(self.run_dir, {"kind": "blackbox", "algo": cfg.algo, "env_id": cfg.env_id,
                                              "seed": cfg.seed})
        self._check_budget_covers(ckpt)
        try:
            self.opt.load_state_dict(ckpt["optimizer"])
            self.policy.load_state_dict(ckpt["policy"])
            self._load_progress_state(ckpt["progress"])
            _set_rng_states(ckpt["rng"])
        except Exception as exc:  # noqa: BLE001
            raise RunFolderError(f"the checkpoint {str(checkpoint_path(self.run_dir))!r} does not hold a state "
                                 f"this run can use ({type(exc).__name__}: {exc})") from None
        self._checkpoint_written()

    def _write_checkpoint(self) -> None:
        """Serialise the optimizer, policy, progress and RNG states now (call at an iteration boundary only)."""
        ckpt = {"version": CHECKPOINT_VERSION, "kind": "blackbox", "algo": self.cfg.algo,
                "env_id": self.cfg.env_id, "seed": self.cfg.seed, "optimizer": self.opt.state_dict(),
                "policy": self.policy.state_dict(), "progress": self._progress_state(), "rng": _rng_states()}
        path = checkpoint_path(self.run_dir)
        path.parent.mkdir(exist_ok=True)
        _atomic_write(path, pickle.dumps(ckpt, protocol=pickle.HIGHEST_PROTOCOL))
        self._checkpoint_written()

    def _save_on_exit(self) -> None:
        # only a state at an iteration boundary is saved; in the middle of one (ask/tell half done) the last
        # checkpoint on disk stays the one to resume from
        try:
            if getattr(self, "_at_boundary", False) and self._ckpt_iteration != self.iteration:
                self._write_checkpoint()
            if self.logger is not None:
                self.logger.dump(self.env_steps)
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ loop
    def budget_spent(self) -> bool:
        # the next iteration is expected to cost what the last one did (the first: its worst case); see the
        # budget rule in the module docstring
        if self.env_steps >= self.cfg.budget:
            return True
        expected = self.last_cost if self.last_cost is not None else self.iteration_cost
        return self.env_steps + expected > self.cfg.budget

    def _run(self) -> None:
        cfg, opt, logger = self.cfg, self.opt, self.logger
        prefix = cfg.algo
        if self.num_evals == 0:
            self._log_hparams_text()
            self._evaluate(final=False)
            logger.dump(self.env_steps)
            self._write_checkpoint()
        while not self.budget_spent() and not self.stop_requested:
            self._at_boundary = False
            seeds = self.objective.episode_seeds(self.iteration)
            mean_before = opt.mean
            candidates = opt.ask()
            res = self.objective.evaluate(candidates, seeds)
            metrics = opt.tell(candidates, res.losses)
            self.policy.update_statistics(res.obs_stats)
            self.iteration += 1
            self.env_steps += res.env_steps
            self.last_cost = res.env_steps
            elapsed = self.elapsed()
            fps = self.env_steps / max(elapsed, 1e-9)
            logger.record("rollout/ep_rew_mean", float(res.returns.mean()))
            logger.record("rollout/ep_len_mean", float(res.lengths.mean()))
            logger.record("rollout/best_return", float(-opt.best.f))
            for key, value in metrics.items():
                v = _numeric(value)
                if v is not None:
                    logger.record(f"{prefix}/{key}", v)
            logger.record("time/fps", fps)
            logger.record("time/elapsed_s", elapsed)
            logger.record("time/iterations", float(self.iteration))
            logger.record("time/total_timesteps", float(self.env_steps))
            final = self.budget_spent()
            if self.env_steps >= self.next_eval or final:
                self._evaluate(final=final)
            if cfg.slice_every and self.iteration % cfg.slice_every == 0 and hasattr(opt, "predict"):
                self._slice_plot(mean_before, seeds, metrics)
            if final:
                self._log_hparams_final()
            logger.dump(self.env_steps)
            self._at_boundary = True
            if not final and not self.stop_requested and self._checkpoint_due():
                self._write_checkpoint()
            self._report_progress(fps)
            if self.callback is not None:
                self.callback(self)
        if self.budget_spent() and self.eval_log.rows and self.eval_log.rows[-1]["env_steps"] != self.env_steps:
            # resumed with a budget that the checkpoint already covers: the final evaluation is still due
            self._evaluate(final=True)
            self._log_hparams_final()
            logger.dump(self.env_steps)
        if self._ckpt_iteration != self.iteration:  # the end of the budget or a stop request
            self._write_checkpoint()
        if self.budget_spent():
            self._save_solution()

    def _evaluate(self, final: bool) -> None:
        theta = self.opt.mean
        res = self.objective.evaluate(theta[None, :], eval_seeds(self.cfg.eval_episodes))
        self._record_eval(res.returns[0], res.lengths[0])
        if self._render_due(final):
            self._render()

    def _render(self) -> None:
        best = self.opt.best
        theta = best.x if math.isfinite(best.f) else self.opt.mean
        try:
            _, _, frames = self.objective.rollout(theta, eval_seeds(1)[0], render=True)
        except Exception as exc:  # noqa: BLE001 - no display library, no rgb_array mode: keep training
            self._render_failed(exc)
            return
        self._log_frames(frames)

    def _slice_plot(self, mean_before: np.ndarray, seeds: list[int], metrics: dict) -> None:
        """Surrogate vs true loss along the last update direction through the current theta."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        opt = self.opt
        centre = opt.mean
        direction = centre - mean_before
        norm = float(np.linalg.norm(direction))
        if norm < 1e-12:
            direction = np.random.default_rng([self.cfg.seed, self.iteration]).standard_normal(centre.size)
            norm = float(np.linalg.norm(direction))
        direction /= norm
        sigma = _numeric(metrics.get("sigma"))
        sigma = sigma if sigma and sigma > 0 else float(getattr(opt, "sigma", 0.1) or 0.1)
        radius = 3.0 * sigma
        ts = np.linspace(-radius, radius, self.cfg.slice_points)
        res = self.objective.evaluate(centre[None, :] + ts[:, None] * direction[None, :], seeds)
        self.eval_env_steps += res.env_steps
        dense = np.linspace(-radius, radius, 101)
        pred = np.asarray(opt.predict(centre[None, :] + dense[:, None] * direction[None, :]), dtype=float).ravel()
        fig = Figure(figsize=(5, 3.2), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        # The surrogate is fitted to rank-transformed or standardised losses of a sliding window, so its
        # level is arbitrary; its slope and shape are what it claims. Shift it to meet the true loss at t = 0.
        pred = pred - np.interp(0.0, dense, pred) + np.interp(0.0, ts, res.losses)
        ax.plot(dense, pred, label="surrogate (shifted to the true loss at t = 0)", color="tab:blue")
        ax.plot(ts, res.losses, "o", label="true loss", color="tab:red")
        ax.axvline(0.0, color="gray", lw=0.8, ls="--")
        ax.set_xlabel("t along the last update direction (theta = mean + t d)")
        ax.set_ylabel("loss (-return)")
        ax.set_title(f"iteration {self.iteration}, {self.env_steps} env steps")
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        self.logger.record_figure("zerograds/surrogate_slice", fig, close=False)

    def _save_solution(self) -> None:
        best = self.opt.best
        sol = {"env_id": self.cfg.env_id, "env_kwargs": self.cfg.env_kwargs, "algo": self.cfg.algo,
               "max_episode_steps": self.cfg.max_episode_steps, "policy_kind": self.cfg.policy,
               "policy_options": self.cfg.policy_options, "theta": self.opt.mean, "best_theta": best.x,
               "best_train_return": -best.f, "policy_state": self.policy.state_dict(),
               "eval_return": self.last_eval, "env_steps": self.env_steps}
        _atomic_write(self.run_dir / "solution.pkl", pickle.dumps(sol, protocol=pickle.HIGHEST_PROTOCOL))

    def _close(self) -> None:
        super()._close()
        objective = getattr(self, "objective", None)
        if objective is not None:
            objective.close()


def load_solution(run_dir):
    """``(policy, theta, solution dict)`` of a finished black-box run; ``policy.controller(theta)`` acts.

    Example:
        >>> policy, theta, sol = load_solution("runs/Pendulum-v1__es__s0__20250101-120000")
        >>> ctrl = policy.controller(theta)   # ctrl(obs, t) -> action
    """
    from .objective import make_env
    from .policies import make_policy

    path = Path(run_dir) / "solution.pkl"
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist (PPO runs save final_model.zip instead)")
    with open(path, "rb") as f:
        sol = pickle.load(f)
    env = make_env(sol["env_id"], sol["env_kwargs"], sol["max_episode_steps"])
    try:
        horizon = sol["max_episode_steps"] or (env.spec.max_episode_steps if env.spec else None)
        policy = make_policy(sol["policy_kind"], env.observation_space, env.action_space, horizon,
                             **sol["policy_options"])
    finally:
        env.close()
    policy.load_state_dict(sol["policy_state"])
    return policy, np.asarray(sol["theta"]), sol


# ---------------------------------------------------------------------------------------------- PPO
class PPOTrainer(Trainer):
    """stable-baselines3 ``PPO`` with the shared budget, evaluation protocol, logger tags and run folder.

    SB3's own records (``rollout/``, ``train/``, ``time/fps``) are forwarded into the run's logger by a
    ``KVWriter``; evaluation, pictures, checkpoints and Ctrl-C / SIGTERM are handled by a callback. A checkpoint
    (model, VecNormalize statistics, progress) is written at a rollout boundary after every ``checkpoint_every``
    rollouts, or, by default, every ``checkpoint_seconds`` of wall time also in the middle of a rollout, with the
    part of the rollout collected so far (:mod:`zg_agent._ppo`); a stop request saves at the next env step. A
    resumed run continues that rollout but does not repeat the uninterrupted run bit for bit (the envs restart
    their episodes). A crash or ``kill -9`` in the middle of an update loses that update and what was collected
    after the last checkpoint.
    """

    def _prepare(self) -> None:
        from gymnasium import spaces
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        from ._ppo import ResumablePPO

        from .objective import make_env

        cfg, opts = self.cfg, self.cfg.options
        probe = make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)
        try:
            if not isinstance(probe.action_space, spaces.Box):
                raise ValueError(f"env {cfg.env_id!r} has action space {probe.action_space!r}; only "
                                 f"gymnasium.spaces.Box action spaces are supported")
        finally:
            probe.close()
        rollout = opts.n_steps * opts.n_envs
        self.iteration_cost = rollout
        self.iteration_desc = f"one PPO rollout, n_steps {opts.n_steps} x n_envs {opts.n_envs}"
        if cfg.budget < rollout:
            raise ValueError(f"budget {cfg.budget} env steps is smaller than one PPO rollout on {cfg.env_id!r}: "
                             f"n_steps {opts.n_steps} x n_envs {opts.n_envs} = {rollout}; raise the budget to at "
                             f"least {rollout} or lower options.n_steps / options.n_envs")

        def env_fn():
            return make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)

        self.venv = make_vec_env(env_fn, n_envs=opts.n_envs, seed=cfg.seed, vec_env_cls=DummyVecEnv)
        self.model = None
        if not self.resume:
            if opts.normalize:
                self.venv = VecNormalize(self.venv, gamma=opts.gamma)
            try:
                self.model = ResumablePPO(opts.policy, self.venv, seed=cfg.seed, device="cpu", verbose=0,
                                          **opts.ppo_kwargs())
            except (TypeError, AssertionError) as exc:  # SB3 checks its arguments with asserts
                raise ValueError(f"PPO rejected options of {cfg.env_id!r}: {exc}") from exc

    def _resume(self) -> None:
        from stable_baselines3.common.vec_env import VecNormalize

        from ._ppo import ResumablePPO

        cfg, opts = self.cfg, self.cfg.options
        ckpt_dir = self.run_dir / "checkpoints"
        ckpt = read_checkpoint(self.run_dir, {"kind": "ppo", "env_id": cfg.env_id, "seed": cfg.seed})
        self._check_budget_covers(ckpt)
        name = "vecnormalize.pkl"
        try:
            if opts.normalize:
                self.venv = VecNormalize.load(str(ckpt_dir / name), self.venv)
            name = "ppo_model.zip"
            self.model = ResumablePPO.load(str(ckpt_dir / name), env=self.venv, device="cpu")
            name = "checkpoint.pkl"
            self._load_progress_state(ckpt["progress"])
            _set_rng_states(ckpt["rng"])
            # a checkpoint in the middle of a rollout holds the part collected so far: continue it
            prefix = ckpt.get("rollout")
            self.model.num_timesteps = self.env_steps
            self.model.resume_prefix = prefix
            self._prefix_steps = int(prefix["pos"]) * opts.n_envs if prefix else 0
        except Exception as exc:  # noqa: BLE001 - a damaged zip or pickle raises almost anything
            raise RunFolderError(f"the checkpoint file {str(ckpt_dir / name)!r} cannot be read "
                                 f"({type(exc).__name__}: {exc}); it is damaged, so this run cannot be resumed "
                                 f"from it. Its evaluations so far are in evaluations.csv; start a new run "
                                 f"instead") from None
        self._checkpoint_written()

    def _open(self) -> None:
        from .objective import make_env

        cfg = self.cfg
        resume_step = self.env_steps if self.resume else None
        self.clean_stop_step: int | None = None
        self._boundary: dict[str, Any] | None = None
        self.eval_log = EvalLog(self.run_dir / "evaluations.csv", resume_step=resume_step)
        self.logger = self._make_logger(resume_step)
        self._eval_env = make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)
        self._render_env = None

    def _run(self) -> None:
        from stable_baselines3.common.logger import Logger as SB3Logger

        cfg = self.cfg
        forward_writer, callback = _ppo_helpers()
        self.model.set_logger(SB3Logger(folder=None, output_formats=[forward_writer(self)]))
        if self.num_evals == 0:
            self._log_hparams_text()
            self._evaluate(final=False)
            self.logger.dump(self.env_steps)
            self._write_checkpoint()
        # whole rollouts only, never past the budget (SB3 would finish a started rollout); a resumed rollout
        # began at env_steps - prefix
        prefix = getattr(self, "_prefix_steps", 0)
        start = self.env_steps - prefix
        remaining = (cfg.budget - start) // self.iteration_cost * self.iteration_cost - prefix
        if remaining <= 0 and prefix:  # the rollout begun cannot be finished within this budget: dropped
            self.model.resume_prefix = None
            self.env_steps = self.model.num_timesteps = start
            remaining = 0
        self.target_steps = self.env_steps + remaining
        if remaining > 0 and not self.stop_requested:
            self.model.learn(total_timesteps=remaining, callback=callback(self), reset_num_timesteps=False,
                             progress_bar=False, log_interval=1)
        if self.clean_stop_step is not None:
            # stopped on request at a rollout boundary, already saved; the few steps of the rollout that had
            # just begun are discarded with it
            self.env_steps = self.clean_stop_step
            return
        self.env_steps = int(self.model.num_timesteps)
        self._keep_boundary()  # learn() returned after its last update: a consistent state
        if self.budget_spent():
            if self.last_eval_step != self.env_steps:
                self._evaluate(final=True)
            self._log_hparams_final()
            self.logger.dump(self.env_steps)
        self._write_checkpoint()
        if self.budget_spent():
            self.model.save(str(self.run_dir / "final_model.zip"))
            if cfg.options.normalize:
                self.venv.save(str(self.run_dir / "vecnormalize.pkl"))

    # ------------------------------------------------------------------ rollout boundaries
    def _keep_boundary(self) -> None:
        """Remember (in memory, no serialisation) the state at a rollout boundary, where the model has trained
        on every rollout it collected: what a crash or a second Ctrl-C saves."""
        import copy

        pol = self.model.policy
        normalize = self.cfg.options.normalize
        self._boundary = {
            "policy": {k: v.detach().clone() for k, v in pol.state_dict().items()},
            "optimizer": copy.deepcopy(pol.optimizer.state_dict()),
            "num_timesteps": int(self.model.num_timesteps),
            "n_updates": int(getattr(self.model, "_n_updates", 0)),
            "progress_remaining": float(getattr(self.model, "_current_progress_remaining", 1.0)),
            "rms": (copy.deepcopy(self.venv.obs_rms), copy.deepcopy(self.venv.ret_rms)) if normalize else None,
            "progress": self._progress_state(), "rng": _rng_states()}

    def _restore_boundary(self) -> None:
        b = self._boundary
        pol = self.model.policy
        pol.load_state_dict(b["policy"])
        pol.optimizer.load_state_dict(b["optimizer"])
        self.model.num_timesteps = b["num_timesteps"]
        self.model._n_updates = b["n_updates"]
        self.model._current_progress_remaining = b["progress_remaining"]
        if b["rms"] is not None:
            self.venv.obs_rms, self.venv.ret_rms = b["rms"]
        elapsed = self.elapsed()  # the wall time really spent, the discarded part included
        self._load_progress_state(b["progress"])
        self.elapsed_before, self._t0 = elapsed, time.perf_counter()
        _set_rng_states(b["rng"])

    def budget_spent(self) -> bool:
        return self.env_steps + self.iteration_cost > self.cfg.budget

    @property
    def last_eval_step(self) -> int | None:
        return int(self.eval_log.rows[-1]["env_steps"]) if self.eval_log.rows else None

    def _predict(self, obs) -> np.ndarray:
        if self.cfg.options.normalize:
            obs = self.venv.normalize_obs(obs)
        action, _ = self.model.predict(obs, deterministic=True)
        return action

    def _episode(self, env, seed: int, render: bool):
        obs, _ = env.reset(seed=seed)
        frames = [env.render()] if render else None
        total, length = 0.0, 0
        while True:
            obs, reward, terminated, truncated, _ = env.step(self._predict(obs))
            total += float(reward)
            length += 1
            if render:
                frames.append(env.render())
            if terminated or truncated:
                return total, length, frames

    def _evaluate(self, final: bool) -> None:
        results = [self._episode(self._eval_env, s, False) for s in eval_seeds(self.cfg.eval_episodes)]
        returns = np.array([r[0] for r in results])
        if not np.all(np.isfinite(returns)):
            i = int(np.flatnonzero(~np.isfinite(returns))[0])
            raise ValueError(f"evaluation episode return is {returns[i]} with reset seed {eval_seeds(i + 1)[i]} "
                             f"(env {self.cfg.env_id!r})")
        self._record_eval(returns, np.array([r[1] for r in results]))
        if self._render_due(final):
            self._render()

    def _render(self) -> None:
        from .objective import make_env

        try:
            if self._render_env is None:
                modes = (self._eval_env.metadata or {}).get("render_modes", [])
                if "rgb_array" not in modes:
                    raise ValueError(f"env {self.cfg.env_id!r} does not render rgb_array (modes {modes})")
                self._render_env = make_env(self.cfg.env_id, self.cfg.env_kwargs, self.cfg.max_episode_steps,
                                            "rgb_array")
            _, _, frames = self._episode(self._render_env, eval_seeds(1)[0], True)
        except Exception as exc:  # noqa: BLE001
            self._render_failed(exc)
            return
        self._log_frames(frames)

    def _partial_checkpoint_due(self) -> bool:
        """Whether the wall-time schedule asks for a checkpoint in the middle of a rollout."""
        return (self.checkpoint_every is None and self.checkpoint_seconds > 0
                and time.perf_counter() - self._last_ckpt_time >= self.checkpoint_seconds)

    def _write_partial_checkpoint(self) -> None:
        """A checkpoint in the middle of a rollout (called from the callback's ``on_step``): the model (unchanged
        since the rollout began) and the steps stored in the rollout buffer; the step being taken is dropped."""
        from ._ppo import rollout_prefix

        prefix = rollout_prefix(self.model)
        if prefix is None:
            # nothing stored yet: the state of the rollout boundary; a buffer that cannot be stored (dict
            # observations) keeps the boundary checkpoint on disk
            if self.model.rollout_buffer.pos == 0 and self._ckpt_iteration != self.iteration:
                self.env_steps = int(self.model.num_timesteps) - self.model.n_envs
                self._write_checkpoint()
            return
        self.env_steps = int(self.model.num_timesteps) - self.model.n_envs
        self._write_checkpoint(rollout=prefix)

    def _write_checkpoint(self, rollout: dict[str, Any] | None = None) -> None:
        """Save the model, VecNormalize statistics, progress and RNG states (call at a rollout boundary, or with
        ``rollout``, the part of the current rollout collected so far: see :meth:`_write_partial_checkpoint`)."""
        ckpt_dir = self.run_dir / "checkpoints"
        ckpt_dir.mkdir(exist_ok=True)
        tmp = ckpt_dir / "ppo_model.tmp.zip"
        self.model.save(str(tmp))
        os.replace(tmp, ckpt_dir / "ppo_model.zip")
        if self.cfg.options.normalize:
            self.venv.save(str(ckpt_dir / "vecnormalize.tmp.pkl"))
            os.replace(ckpt_dir / "vecnormalize.tmp.pkl", ckpt_dir / "vecnormalize.pkl")
        ckpt = {"version": CHECKPOINT_VERSION, "kind": "ppo", "algo": "ppo", "env_id": self.cfg.env_id,
                "seed": self.cfg.seed, "progress": self._progress_state(), "rng": _rng_states(), "rollout": rollout}
        _atomic_write(checkpoint_path(self.run_dir), pickle.dumps(ckpt, protocol=pickle.HIGHEST_PROTOCOL))
        self._checkpoint_written()

    def _save_on_exit(self) -> None:
        # never the model as it is now (a crash or a second Ctrl-C may land in the middle of an update): the
        # state of the last rollout boundary, unless the checkpoint on disk already holds it
        try:
            if getattr(self, "_boundary", None) is not None and getattr(self, "model", None) is not None:
                self._restore_boundary()
                if self._ckpt_iteration != self.iteration:
                    self._write_checkpoint()
            elif self.checkpoint_step is not None:
                self.env_steps = self.checkpoint_step
            if self.logger is not None:
                self.logger.dump(self.env_steps)
        except Exception:  # noqa: BLE001
            pass

    def _close(self) -> None:
        super()._close()
        for name in ("venv", "_eval_env", "_render_env"):
            env = getattr(self, name, None)
            if env is not None:
                try:
                    env.close()
                except Exception:  # noqa: BLE001
                    pass
                setattr(self, name, None)


def _ppo_helpers():
    """The SB3 ``KVWriter`` and callback classes (built on first use: SB3 is imported only for PPO runs)."""
    global _PPO_HELPERS
    if _PPO_HELPERS is not None:
        return _PPO_HELPERS
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import KVWriter

    class ForwardWriter(KVWriter):
        """Forwards SB3's logger records (numbers only) into the run's logger at SB3's step."""

        def __init__(self, trainer: PPOTrainer):
            self.trainer = trainer

        def write(self, key_values, key_excluded, step: int = 0) -> None:
            tr = self.trainer
            for key, value in key_values.items():
                v = _numeric(value)
                if v is not None and key not in ("time/fps", "time/time_elapsed"):
                    tr.logger.record(key, v)
            tr.env_steps = int(step)
            elapsed = tr.elapsed()
            # fps over the whole run (resumed parts included), like the black-box trainer's
            tr.logger.record("time/fps", step / max(elapsed, 1e-9))
            tr.logger.record("time/elapsed_s", elapsed)
            tr.logger.record("time/total_timesteps", float(step))
            tr.logger.dump(int(step))

        def close(self) -> None:
            pass

    class Callback(BaseCallback):
        """Evaluation every ``eval_every`` env steps, checkpoints, progress and stop requests inside ``learn``."""

        def __init__(self, trainer: PPOTrainer):
            super().__init__(verbose=0)
            self.trainer = trainer

        def _on_step(self) -> bool:
            # called after each env step, before SB3 stores it: checkpoints here hold the rollout so far
            tr = self.trainer
            if tr.clean_stop_step is not None:
                return False
            if tr.stop_requested:  # a stop request (Ctrl-C, SIGTERM) saves and stops now
                tr._write_partial_checkpoint()
                tr.clean_stop_step = tr.checkpoint_step
                return False
            if tr._partial_checkpoint_due():  # before the evaluation, whose row the checkpoint must not hold
                tr._write_partial_checkpoint()
            tr.env_steps = int(self.num_timesteps)
            if tr.env_steps >= tr.next_eval and tr.env_steps < tr.target_steps:
                tr._evaluate(final=False)
                tr.logger.dump(tr.env_steps)
            return True

        def _on_rollout_start(self) -> None:
            # here the model has trained on every rollout collected so far: a consistent state, kept in memory
            # for a crash. A stop request made during the update saves here and ends learn() at the next step;
            # periodic checkpoints are written here too.
            tr = self.trainer
            tr.env_steps = int(self.num_timesteps)
            tr._keep_boundary()
            saved = tr._ckpt_iteration == tr.iteration
            if tr.stop_requested:
                if not saved:
                    tr._write_checkpoint()
                tr.clean_stop_step = tr.env_steps
            elif not saved and tr._checkpoint_due():
                tr._write_checkpoint()

        def _on_rollout_end(self) -> None:
            tr = self.trainer
            tr.iteration += 1
            tr.env_steps = int(self.num_timesteps)
            tr._report_progress(tr.env_steps / max(tr.elapsed(), 1e-9))
            if tr.callback is not None:
                tr.callback(tr)

    _PPO_HELPERS = (ForwardWriter, Callback)
    return _PPO_HELPERS


_PPO_HELPERS = None


# ---------------------------------------------------------------------------------------------- entry point
TRAINERS: dict[str, type[Trainer]] = {**{a: BlackBoxTrainer for a in BLACK_BOX_ALGOS}, "ppo": PPOTrainer}


def make_trainer(cfg: RunConfig, run_dir=None, **kwargs) -> Trainer:
    """The trainer for ``cfg.algo``; with ``run_dir=None`` a new run folder under ``cfg.run_root`` is created
    when training starts, after :meth:`Trainer.prepare` has checked the setup."""
    cfg.validate()
    return TRAINERS[cfg.algo](cfg, run_dir, **kwargs)


def train(cfg: RunConfig, run_dir=None, **kwargs) -> TrainResult:
    """Train one run (see :class:`Trainer` for the keyword arguments) and return its :class:`TrainResult`."""
    return make_trainer(cfg, run_dir, **kwargs).train()


def resume(run_dir, budget: int | None = None, **kwargs) -> TrainResult:
    """Continue the run in ``run_dir`` from its checkpoint (its own ``config.yaml``; optionally a new budget)."""
    cfg = load_run_config(run_dir)
    if budget is not None:
        cfg.budget = int(budget)
    return TRAINERS[cfg.algo](cfg, run_dir, resume=True, **kwargs).train()


__all__ = ["BlackBoxTrainer", "EVAL_SEED_BASE", "PPOTrainer", "TRAINERS", "TrainResult", "Trainer",
           "env_tag", "eval_seeds", "has_checkpoint", "load_solution", "make_trainer", "new_run_dir",
           "read_evaluations", "read_status", "resume", "train"]
