"""ZeroGrads and baselines: black-box optimisation and training on Gymnasium environments.

- :func:`minimize` optimises any black box ``f(x)`` with a registered method.
- :mod:`zg_agent.optim` holds the ask/tell optimizers and their registry.
"""

from .minimize import MinimizeResult, minimize
from .optim import OPTIMIZERS, make_optimizer

__all__ = ["minimize", "MinimizeResult", "make_optimizer", "OPTIMIZERS"]
