"""relu1d: gradient dynamics of shallow univariate ReLU networks.

f(x) = (1/α(m)) Σᵢ cᵢ [aᵢ x − bᵢ]₊. The public API is what this module exports; the
submodules ``kernel``, ``splines``, ``knots``, ``hessian``, ``meanfield``,
``splineview``, ``endpoints`` (exact function-space endpoints of wide networks),
``plot``, ``animate`` (movies), ``viewer`` (interactive pages), ``experiments``,
``report`` and ``sweep`` are namespaces of their own,
imported on first use (``relu1d.kernel`` or ``from relu1d import kernel`` both work), so
that ``import relu1d`` loads numpy but not scipy, numba, xarray or
matplotlib.
"""

__version__ = "0.1.0"

import importlib as _importlib

from . import data as datasets
from .data import Dataset
from .init import SCHEMES, init_network
from .network import Network, PiecewiseLinear

# Eager, not lazy: the first import of the subpackage relu1d.train binds the attribute
# ``relu1d.train`` to that subpackage, so it must happen here, before the function
# ``train`` takes the name (later imports of relu1d.train.* leave the name alone).
from .train import (
    GD,
    SGD,
    Flow,
    Langevin,
    TrainingDiverged,
    TrainingInterrupted,
    Trajectory,
    train,
    train_many,
)

# namespaces loaded on first attribute access (PEP 562); _LAZY_PUBLIC are public API
_LAZY_PUBLIC = ("kernel", "splines", "knots", "meanfield", "hessian", "splineview", "endpoints")
_LAZY_OTHER = ("plot", "animate", "viewer", "experiments", "report", "sweep")

__all__ = [
    "__version__",
    "Network",
    "PiecewiseLinear",
    "Dataset",
    "datasets",
    "init_network",
    "SCHEMES",
    "train",
    "train_many",
    "GD",
    "Flow",
    "SGD",
    "Langevin",
    "Trajectory",
    "TrainingDiverged",
    "TrainingInterrupted",
    *_LAZY_PUBLIC,
]


def __getattr__(name: str):
    if name in _LAZY_PUBLIC or name in _LAZY_OTHER:
        # import_module also binds the submodule as an attribute of this package
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_LAZY_OTHER))
