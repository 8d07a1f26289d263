"""Reproductions of the papers' figures and claims, one module per paper.

Each experiment is registered under a stable name (``williams2019.fig3``, ...); see
:func:`names` and :func:`get`, or ``relu1d list``.
"""

from ._registry import Claim, Experiment, ExperimentResult, get, names, register

__all__ = ["Claim", "Experiment", "ExperimentResult", "get", "names", "register"]
