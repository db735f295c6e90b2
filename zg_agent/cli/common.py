"""What the commands share: exit statuses, the version, the recorded command line and the env-id check."""

from __future__ import annotations

import argparse
import shlex

from ..config import ConfigError
from ..envs import check_env_id, unknown_env_message
from ..session import RunOutcome

EXIT_INTERRUPTED = 130
#: the exit status of each :class:`~zg_agent.session.RunOutcome` status
EXIT_STATUS = {"finished": 0, "interrupted": EXIT_INTERRUPTED, "refused": 2, "failed": 1}


def exit_status(outcome: RunOutcome) -> int:
    return EXIT_STATUS[outcome.status]


def version() -> str:
    """The installed version of the ``zerograds-gym`` distribution (from its metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("zerograds-gym")
    except PackageNotFoundError:
        return "unknown (the zerograds-gym distribution is not installed)"


def _add_version(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", action="version", version=f"%(prog)s (zerograds-gym) {version()}")


def _command_line(prog: str, argv) -> str:
    return " ".join([prog] + [shlex.quote(a) for a in argv])


def check_env(env_id: str, flag: str = "--env") -> str:
    """``env_id`` if it is registered; otherwise a short :class:`ConfigError`: close matches, this project's
    ids and how to list every id."""
    try:
        return check_env_id(env_id)
    except ValueError as exc:
        if "not a registered" not in str(exc):
            raise
    raise ConfigError(unknown_env_message(env_id, flag)) from None


# ---------------------------------------------------------------------------------------------- zg-train
