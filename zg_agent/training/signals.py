"""Interrupts (SIGINT, SIGTERM) while training, and the global RNG states a checkpoint saves."""

from __future__ import annotations

import random
import signal
import sys
import threading
from typing import Any

import numpy as np

class Interrupts:
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


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"numpy": np.random.get_state(), "python": random.getstate()}
    if "torch" in sys.modules:
        states["torch"] = sys.modules["torch"].get_rng_state()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "torch" in states:
        import torch

        torch.set_rng_state(states["torch"])

