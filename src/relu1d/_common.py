"""Private helpers shared by several modules of relu1d (not public API).

Each helper here is used by more than one module; keeping it in this private helper
module, rather than importing one module's ``_private`` name from another, is the
convention (``tests/test_private_imports.py`` checks it). Sections:

* network parameters: the output scale α(m) and the canonical ↔ full maps of one
  neuron (used by :mod:`relu1d.network`, :mod:`relu1d.init`, :mod:`relu1d.kernel` and
  :mod:`relu1d.splineview`);
* argument checks and numerics for functions of x: the data check, an interval pair,
  declared breakpoints, second derivatives and piecewise quadrature (used by
  :mod:`relu1d.splines`, :mod:`relu1d.kernel`, :mod:`relu1d.splineview` and
  :mod:`relu1d.endpoints`);
* residual moments of a network on data (used by :mod:`relu1d.hessian` and
  :mod:`relu1d.splineview`);
* Ctrl-C inside a compiled call (used by the training loops of :mod:`relu1d.train`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ._validation import _short, as_real

if TYPE_CHECKING:
    from .data import Dataset
    from .network import Network

__all__: list[str] = []

_ALPHA_NAMES = ("one", "sqrt", "m")


# --------------------------------------------------------------------------- network parameters
def _resolve_alpha(alpha, m: int) -> float:
    """α(m) from "one", "sqrt", "m" or a positive number."""
    if isinstance(alpha, str):
        if alpha not in _ALPHA_NAMES:
            raise ValueError(f"alpha must be 'one', 'sqrt', 'm' or a positive number, "
                             f"got {alpha!r}")
        return {"one": 1.0, "sqrt": float(np.sqrt(m)), "m": float(m)}[alpha]
    try:
        return as_real(alpha, "alpha", positive=True)
    except TypeError:
        raise TypeError(f"alpha must be 'one', 'sqrt', 'm' or a positive number, "
                        f"got {_short(alpha)}") from None


def _canonical_of(a, b, c, m: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(r, θ) of eq. 5 for neurons (a, b, c) of a width-m network with scale α: elementwise,
    so that a wide network can be converted in slices with the same bits."""
    r = (m / alpha) * c * np.hypot(a, b)
    theta = np.mod(np.arctan2(-b, a), 2 * np.pi)
    theta[theta >= 2 * np.pi] = 0.0  # mod can round −0.0-ish angles up to 2π
    return r, theta


def _full_of(r, theta, delta, m: int, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, c) with canonical point (r, θ) and invariants δ (see
    :meth:`Network.from_canonical`); elementwise, like :func:`_canonical_of`."""
    big_r = np.abs(r) * alpha / m
    root = np.hypot(delta, 2 * big_r)
    with np.errstate(divide="ignore", invalid="ignore"):
        c2 = np.where(delta >= 0, (delta + root) / 2, 2 * big_r ** 2 / (root - delta))
        rho2 = np.where(delta <= 0, (root - delta) / 2, 2 * big_r ** 2 / (root + delta))
    c2 = np.nan_to_num(c2, nan=0.0)
    rho2 = np.nan_to_num(rho2, nan=0.0)
    c = np.where(r < 0, -1.0, 1.0) * np.sqrt(c2)
    rho = np.sqrt(rho2)
    return rho * np.cos(theta), -rho * np.sin(theta), c


# --------------------------------------------------------------------------- functions of x
def _check_data(data) -> Dataset:
    """``data`` itself if it is a :class:`relu1d.Dataset`; TypeError otherwise."""
    from .data import Dataset  # here: data.py is imported by modules that import this one

    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a relu1d.Dataset, got {type(data).__name__}; "
                        "build one with relu1d.Dataset(x, y)")
    return data


def _interval(interval, *, allow_inf: bool) -> tuple[float, float]:
    """(low, high) from a pair, with low < high (infinite ends only when ``allow_inf``)."""
    try:
        lo, hi = interval
    except (TypeError, ValueError):
        raise ValueError(f"interval must be a pair (low, high), got {_short(interval)}") from None
    lo = as_real(lo, "interval low", allow_inf=allow_inf)
    hi = as_real(hi, "interval high", allow_inf=allow_inf)
    if not lo < hi:
        raise ValueError(f"interval must have low < high, got ({lo}, {hi})")
    return lo, hi


def _breakpoints_of(f) -> np.ndarray:
    """The finite breakpoints ``f`` declares (empty if none)."""
    from scipy.interpolate import PPoly

    if isinstance(f, PPoly):
        pts = f.x
    else:
        pts = getattr(f, "breakpoints", None)
        if pts is None:
            return np.empty(0)
    pts = np.asarray(pts, float).ravel()
    return np.unique(pts[np.isfinite(pts)])


def _second_derivative_fn(f):
    """x -> f''(x) for objects that provide it."""
    from scipy.interpolate import PPoly

    if isinstance(f, PPoly):
        return lambda x: f(x, 2)
    d2 = getattr(f, "second_derivative", None)
    if callable(d2):
        return d2
    raise TypeError(f"f must provide its second derivative: an object with second_derivative(x) "
                    f"(relu1d.splines.Spline, relu1d.kernel.KernelInterpolant) or a scipy PPoly; "
                    f"got {type(f).__name__}")


def _integrate(fn, lo: float, hi: float, points, tol: float = 1e-11) -> float:
    """∫_lo^hi fn (scalar callable) by adaptive quadrature split at ``points`` (infinite
    ends allowed: the outer pieces are mapped by quad's own substitution)."""
    from scipy import integrate

    pts = np.asarray(points, float)
    pts = np.unique(pts[(pts > lo) & (pts < hi)])
    if pts.size == 0 and (np.isinf(lo) or np.isinf(hi)):
        both = np.isinf(lo) and np.isinf(hi)
        pts = np.array([0.0 if both else (lo if np.isfinite(lo) else hi) - 1.0])
        pts = pts[(pts > lo) & (pts < hi)]
    edges = [lo, *pts, hi]
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        total += integrate.quad(fn, a, b, epsabs=tol, epsrel=tol, limit=400)[0]
    return total


# --------------------------------------------------------------------------- residual moments
def _activation(net: Network, x: np.ndarray) -> np.ndarray:
    """(s, m) booleans 1[aᵢxⱼ > bᵢ] (strict: the kink convention of :mod:`relu1d.hessian`)."""
    return np.multiply.outer(x, net.a) > net.b


def _moments(net: Network, data: Dataset):
    """act (s, m), residuals ρ (s,), Rᵢ = Σ_{Aᵢ} ρⱼ and Eᵢ = Σ_{Aᵢ} ρⱼ xⱼ (m,)."""
    x = data.x
    act = _activation(net, x)
    actf = act.astype(np.float64)
    pre = np.where(act, np.multiply.outer(x, net.a) - net.b, 0.0)
    rho = pre @ net.c / net.alpha - data.y
    return act, rho, rho @ actf, (rho * x) @ actf


# --------------------------------------------------------------------------- interrupts
@contextlib.contextmanager
def interrupt_from_kernel() -> Iterator[None]:
    """Turn Ctrl-C that lands inside a call of a compiled (numba) function back into a
    KeyboardInterrupt.

    A SIGINT delivered while a compiled function calls back into Python (numba's
    ``_numba_unpickle`` of its constants, or the dispatcher typing the arguments) raises
    KeyboardInterrupt there; the call returns its result anyway, and CPython reports that
    as a SystemError ("returned a result with an exception set") whose ``__cause__`` is
    the KeyboardInterrupt, or another such SystemError, one per level of calls. Any other
    SystemError passes through unchanged.
    """
    try:
        yield
    except SystemError as exc:
        cause = exc.__cause__
        while isinstance(cause, SystemError):
            cause = cause.__cause__
        if isinstance(cause, KeyboardInterrupt):
            raise KeyboardInterrupt from exc
        raise
