"""relu1d: gradient dynamics of shallow univariate ReLU networks.

f(x) = (1/α(m)) Σᵢ cᵢ [aᵢ x − bᵢ]₊. The public API is what this module exports; the
submodules ``kernel``, ``splines``, ``knots``, ``hessian``, ``meanfield``,
``splineview``, ``plot``, ``experiments``, ``report`` and ``sweep`` are namespaces of
their own (the first six are imported here; the others on first use).
"""

__version__ = "0.1.0"

from . import data as datasets
from .data import Dataset
from .init import SCHEMES, init_network
from .network import Network, PiecewiseLinear
from .train import Trajectory, TrainingDiverged, train, train_many
from . import hessian, kernel, knots, meanfield, splines, splineview

__all__ = ["__version__", "Network", "PiecewiseLinear", "Dataset", "datasets", "init_network", "SCHEMES",
           "train", "train_many", "Trajectory", "TrainingDiverged",
           "kernel", "splines", "knots", "meanfield", "hessian", "splineview"]
