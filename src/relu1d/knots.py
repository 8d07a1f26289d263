"""Knots of a network: clusters, concentration at the samples, counts between samples.

Neuron i has its knot at eᵢ = bᵢ/aᵢ and changes the slope of f there by the
delta-slope μᵢ = cᵢ|aᵢ|/α (Sahs et al.; ``Network.delta_slopes``), so
f'' = Σᵢ μᵢ δ(x − eᵢ) as a measure. Everything here weighs knots by |μᵢ|: a neuron
with a negligible delta-slope is not a knot of f in any useful sense. Neurons with
aᵢ = 0 have no knot and are ignored.

Thresholds (documented defaults; every function takes them as arguments):

* ``tol`` — clustering resolution. A cluster is a maximal run of sorted knots, each
  within ``tol`` of the cluster's first (leftmost) knot, so a cluster is at most ``tol``
  wide (no chaining: a smooth spread of knots is cut into pieces of width ``tol``,
  not merged into one). Default: 1% of the data range x_s − x_1.
* ``min_fraction`` — a cluster is an *effective knot* when its net jump |Σμᵢ| is at
  least ``min_fraction`` (default 0.01) of the variation of f' at resolution ``tol``,
  Σ_clusters |Σμᵢ|. Opposite delta-slopes that cancel inside one cluster make no kink
  of f and do not count. A smooth curvature density gives about (length/tol) clusters
  of jump ≈ density·tol each, so whether it counts depends on ``tol``: the count is a
  statement about f at that resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_real, check_network_and_data
from .data import Dataset
from .network import Network

__all__ = [
    "Clusters",
    "KnotCounts",
    "clusters",
    "concentration",
    "count_between_data",
    "affine_misfit_bound",
]

_DEFAULT_TOL_FRACTION = 0.01
_DEFAULT_MIN_FRACTION = 0.01


def _tol(data: Dataset, tol) -> float:
    if tol is None:
        span = float(data.x[-1] - data.x[0])
        return _DEFAULT_TOL_FRACTION * (span if span > 0 else 1.0)
    return as_real(tol, "tol", nonnegative=True)


@dataclass(frozen=True, eq=False)
class Clusters:
    """Knot clusters, sorted by position; every array has one entry per cluster.

    Attributes
    ----------
    position : |μ|-weighted mean knot of the cluster (its plain mean if all μ are 0).
    mass : Σ|μᵢ| over the cluster.
    jump : Σμᵢ, the jump of f' across the cluster.
    size : number of neurons.
    nearest : index of the nearest sample.
    distance : |position − x_nearest|.
    effective : |jump| >= min_fraction · Σ|jump| (see the module docstring).
    tol, min_fraction : the thresholds used.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import knots
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, 1.0, -1.0], [-0.5, 0.49, 0.5], [1.0, 1.0, 1.0])
    >>> found = knots.clusters(net, data)          # two knots at −0.5, one at 0.49
    >>> found.position, found.size, found.mass
    (array([-0.5 ,  0.49]), array([2, 1]), array([2., 1.]))
    """

    position: np.ndarray
    mass: np.ndarray
    jump: np.ndarray
    size: np.ndarray
    nearest: np.ndarray
    distance: np.ndarray
    effective: np.ndarray
    tol: float
    min_fraction: float

    def __len__(self) -> int:
        return int(self.position.size)


@dataclass(frozen=True, eq=False)
class KnotCounts:
    """Effective knots at and between the samples.

    Attributes
    ----------
    at_samples : (s,) int — effective clusters within ``tol`` of sample j.
    between : (s + 1,) int — the others, by interval: (−∞, x_1), (x_1, x_2), …, (x_s, ∞).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import knots
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, 1.0, -1.0], [-0.5, 0.49, 0.5], [1.0, 1.0, 1.0])
    >>> counts = knots.count_between_data(net, data)
    >>> counts.at_samples, counts.between          # s entries, then s + 1 intervals
    (array([0, 0, 0]), array([0, 1, 1, 0]))
    """

    at_samples: np.ndarray
    between: np.ndarray

    @property
    def total(self) -> int:
        return int(self.at_samples.sum() + self.between.sum())


def _group_starts(sorted_knots: np.ndarray, tol: float) -> np.ndarray:
    """First index of every cluster: greedy left to right, width at most tol."""
    starts = []
    i = 0
    n = sorted_knots.size
    while i < n:
        starts.append(i)
        i = int(np.searchsorted(sorted_knots, sorted_knots[i] + tol, side="right"))
    return np.asarray(starts, dtype=np.int64)


def clusters(net: Network, data: Dataset, tol: float | None = None,
             min_fraction: float = _DEFAULT_MIN_FRACTION) -> Clusters:
    """Group the knots eᵢ into clusters at most ``tol`` wide, weighted by |μᵢ|.

    Parameters
    ----------
    net : Network
    data : Dataset
    tol : float, optional
        Cluster width; default 1% of the data range.
    min_fraction : float in [0, 1]
        Threshold of an effective knot (module docstring).

    Returns
    -------
    Clusters

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import knots
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, 1.0, -1.0], [-0.5, 0.49, 0.5], [1.0, 1.0, 1.0])
    >>> found = knots.clusters(net, data)
    >>> found.position, found.nearest, found.distance   # nearest sample and distance to it
    (array([-0.5 ,  0.49]), array([0, 1]), array([0.5 , 0.49]))
    """
    check_network_and_data(net, data)
    tol = _tol(data, tol)
    min_fraction = as_real(min_fraction, "min_fraction", nonnegative=True)
    if min_fraction > 1:
        raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction}")
    knots = net.knots
    has = np.isfinite(knots)
    e, mu = knots[has], net.delta_slopes[has]
    order = np.argsort(e, kind="stable")
    e, mu = e[order], mu[order]
    if e.size == 0:
        empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
        return Clusters(
            empty_f,
            empty_f,
            empty_f,
            empty_i,
            empty_i,
            empty_f,
            np.zeros(0, bool),
            tol,
            min_fraction,
        )
    starts = _group_starts(e, tol)
    size = np.diff(np.append(starts, e.size))
    mass = np.add.reduceat(np.abs(mu), starts)
    jump = np.add.reduceat(mu, starts)
    weighted = np.add.reduceat(np.abs(mu) * e, starts)
    plain = np.add.reduceat(e, starts) / size
    with np.errstate(invalid="ignore", divide="ignore"):
        position = np.where(mass > 0, weighted / np.where(mass > 0, mass, 1.0), plain)
    # Clip: rounding in the weighted mean must not push a position outside its cluster.
    position = np.clip(position, e[starts], e[starts + size - 1])
    gaps = np.abs(position[:, None] - data.x[None, :])
    nearest = np.argmin(gaps, axis=1)
    distance = gaps[np.arange(position.size), nearest]
    variation = float(np.sum(np.abs(jump)))
    effective = (np.abs(jump) >= min_fraction * variation) & (np.abs(jump) > 0)
    return Clusters(position, mass, jump, size.astype(np.int64), nearest.astype(np.int64), distance,
                    effective, tol, min_fraction)


def concentration(net: Network, data: Dataset, eps: float) -> float:
    """Fraction of the total |delta-slope| Σ|μᵢ| whose knots lie within ``eps`` of a sample.

    1 for a network whose knots all sit on the data (a linear interpolating spline);
    about (2·eps·s)/(knot range) for knots spread evenly (a kernel solution). NaN if
    Σ|μᵢ| = 0 (f is affine and has no knots to place).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import knots
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, 1.0], [0.0, 0.5], [3.0, 1.0])   # knots at 0 and 0.5
    >>> knots.concentration(net, data, eps=0.1)                     # |μ| = 3 of 4 at a sample
    0.75
    """
    check_network_and_data(net, data)
    eps = as_real(eps, "eps", nonnegative=True)
    knots = net.knots
    has = np.isfinite(knots)
    e, weight = knots[has], np.abs(net.delta_slopes[has])
    total = float(weight.sum())
    if total == 0:
        return float("nan")
    pos = np.searchsorted(data.x, e)
    left = np.abs(e - data.x[np.clip(pos - 1, 0, data.s - 1)])
    right = np.abs(e - data.x[np.clip(pos, 0, data.s - 1)])
    near = np.minimum(left, right) <= eps
    return float(weight[near].sum() / total)


def count_between_data(net: Network, data: Dataset, tol: float | None = None,
                       min_fraction: float = _DEFAULT_MIN_FRACTION) -> KnotCounts:
    """Effective knots (:func:`clusters` with ``effective``) at each sample and in each
    interval between consecutive samples.

    A cluster whose position is within ``tol`` of a sample counts at that sample; the
    rest count in the interval holding them, with (−∞, x_1) and (x_s, ∞) first and last.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import knots
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, 1.0], [0.0, 0.5], [3.0, 1.0])   # knots at 0 and 0.5
    >>> counts = knots.count_between_data(net, data)
    >>> counts.at_samples, counts.between
    (array([0, 1, 0]), array([0, 0, 1, 0]))
    """
    found = clusters(net, data, tol, min_fraction)
    keep = found.effective
    pos, nearest, dist = found.position[keep], found.nearest[keep], found.distance[keep]
    at = dist <= found.tol
    at_samples = np.bincount(nearest[at], minlength=data.s).astype(np.int64)
    between = np.bincount(np.searchsorted(data.x, pos[~at]), minlength=data.s + 1).astype(np.int64)
    return KnotCounts(at_samples, between)


def affine_misfit_bound(net: Network, data: Dataset, rel: float = 1e-9) -> float:
    """Lower bound on the data loss ½Σρⱼ² from the samples that no knot separates.

    The samples are split into maximal runs of consecutive xⱼ with no knot (|μᵢ| above
    ``rel``·Σ|μᵢ|) strictly between the first and the last; f is affine on each run, so
    the loss is at least Σ over runs of ½‖residual of the least-squares line‖². It equals
    the loss exactly when f fits every other sample and is the best line on each run,
    which is what the stalled adaptive runs of Williams et al.'s Fig. 4 reach.

    Parameters
    ----------
    net : Network
    data : Dataset
    rel : float, >= 0
        Knots whose |μᵢ| is at most ``rel``·Σ|μᵢ| are ignored.

    Returns
    -------
    float

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import knots
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> no_knot = relu1d.Network([1.0], [-2.0], [1.0])      # knot at −2: affine on the data
    >>> round(knots.affine_misfit_bound(no_knot, data), 6)   # best line through the 3 samples
    0.333333
    """
    check_network_and_data(net, data)
    rel = as_real(rel, "rel", nonnegative=True)
    mu = np.abs(net.delta_slopes)
    has = np.isfinite(net.knots)
    found = net.knots[has & (mu > rel * mu[has].sum())]
    x, y = data.x, data.y
    bound, start = 0.0, 0
    while start < x.size:
        end = start
        while end + 1 < x.size and not np.any((found > x[start]) & (found < x[end + 1])):
            end += 1
        if end - start >= 2:       # two points always lie on a line
            design = np.column_stack((x[start:end + 1], np.ones(end - start + 1)))
            coef = np.linalg.lstsq(design, y[start:end + 1], rcond=None)[0]
            residual = y[start:end + 1] - design @ coef
            bound += 0.5 * float(residual @ residual)
        start = end + 1
    return bound


