"""What every population-based optimizer here needs per batch: Gaussian noise, drawn fast and reproducibly, and
small linear algebra that does not fight the evaluation workers for the cores."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def gaussian_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """A ``(rows, dim)`` float32 array of standard normal draws.

    One number from ``rng`` seeds torch's sampler for the whole batch (about 3x faster than numpy's here, and
    float32 halves the memory traffic), so an optimizer's random state stays one numpy generator that
    ``state_dict`` saves and a resumed run continues exactly.

    Exactly on the same torch build and CPU kernel: torch's normal sampler may give other low bits under
    another vectorisation (``ATEN_CPU_CAPABILITY``) or torch version, so a run moved to another machine
    continues with statistically equal, not identical, draws.
    """
    generator = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
    return torch.randn((rows, dim), generator=generator).numpy()


def single_threaded_blas():
    """A context in which numpy's BLAS uses one thread.

    An optimizer's matrix products are small (a few dozen rows by d); with several BLAS threads on cores that
    the evaluation workers also use, they ran 3-4x slower than on one thread on the 2-core machine of
    ``benchmarks/optimizers.md``.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    if not _controller.select(user_api="blas").lib_controllers:
        return contextlib.nullcontext()
    return _controller.limit(limits=1, user_api="blas")
