"""Reproductions of the papers' figures and claims, one module per paper.

Each experiment is registered under a stable name (``williams2019.fig3``, ...); see
:func:`names` and :func:`get`, or ``relu1d list``.
"""

from ._registry import (
    MIN_SEEDS_CONTRADICTED,
    VERDICTS,
    Claim,
    Experiment,
    ExperimentResult,
    Reading,
    Run,
    format_counts,
    get,
    names,
    register,
    verdict_counts,
)

__all__ = ["Claim", "Reading", "VERDICTS", "MIN_SEEDS_CONTRADICTED", "verdict_counts",
           "format_counts", "Experiment", "ExperimentResult", "Run", "get", "names", "register"]
