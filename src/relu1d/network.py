"""Shallow univariate ReLU networks and their three parameterisations.

A network is f(x) = (1/α) Σᵢ cᵢ [aᵢ x − bᵢ]₊ (Williams et al. 2019, eq. 1). Besides the
full parameters z = (a, b, c) it has

* canonical parameters (rᵢ, θᵢ), rᵢ = (m/α)·cᵢ·√(aᵢ² + bᵢ²), θᵢ = atan2(−bᵢ, aᵢ) ∈ [0, 2π)
  (eqs. 4–5), which remove the rescaling symmetry (a, b, c) ↦ (ka, kb, c/k);
* invariants δᵢ = cᵢ² − aᵢ² − bᵢ² (eq. 11), conserved by the gradient flow (Lemma 3),
  which together with (r, θ) determine (a, b, c) again;
* the spline view of Sahs et al.: breakpoints βᵢ = bᵢ/aᵢ and delta-slopes
  μᵢ = cᵢ|aᵢ|/α, the jump of f' across βᵢ; :meth:`Network.to_spline` gives the exact
  piecewise-linear function.

Neurons with aᵢ = 0 have no knot: they add the constant (cᵢ/α)[−bᵢ]₊ everywhere.
Their knot, breakpoint and delta-slope are reported as NaN, NaN and 0.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ._common import _canonical_of, _full_of, _resolve_alpha
from ._storage import atomic_write
from ._validation import _short, as_choice, as_float_array

__all__ = ["Network", "PiecewiseLinear"]

# Evaluation works on blocks of at most this many (neuron, point) pairs (32 MB of float64).
_EVAL_BLOCK = 1 << 22
# From this many (neuron, point) pairs on, f(x) is evaluated through the exact spline
# (sort the knots once, then one binary search per point: O((m + n) log m) instead of
# O(m·n)); below it the direct sum, which is then at most a fraction of a second.
_SPLINE_PAIRS = 1 << 24


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def available_memory() -> int | None:
    """Bytes the kernel estimates can be allocated now without swapping (Linux
    ``MemAvailable``; None elsewhere)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def require_memory(nbytes: float, what: str, hint: str = "reduce the size") -> None:
    """Refuse (ValueError) a request whose estimated memory ``nbytes`` does not fit: more
    than 90 % of the machine's physical memory, or more than is available now (Linux),
    saying how much it needs and how much there is."""
    total = physical_memory()
    if total is not None and nbytes > 0.9 * total:
        raise ValueError(f"{what} needs about {_format_bytes(nbytes)} of memory; this machine has "
                         f"{_format_bytes(total)} in all; {hint}")
    free = available_memory()
    if free is not None and nbytes > free:
        raise ValueError(
            f"{what} needs about {_format_bytes(nbytes)} of memory; this machine has "
            f"{_format_bytes(free)} available now (of {_format_bytes(total or 0)}); {hint}"
        )


@dataclass(frozen=True, eq=False)
class PiecewiseLinear:
    """An exact continuous piecewise-linear function.

    Parameters
    ----------
    breakpoints : (k,) array
        Strictly increasing breakpoints, k >= 1.
    values : (k,) array
        f at the breakpoints.
    slopes : (k + 1,) array
        ``slopes[0]`` on (−∞, breakpoints[0]), ``slopes[j]`` on
        (breakpoints[j-1], breakpoints[j]), ``slopes[k]`` on (breakpoints[-1], ∞).

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> relu = relu1d.PiecewiseLinear(breakpoints=[0.0], values=[0.0], slopes=[0.0, 1.0])
    >>> relu(np.array([-1.0, 0.5, 2.0]))
    array([0. , 0.5, 2. ])
    >>> relu.delta_slopes, relu.derivative(np.array([-1.0, 0.0]))
    (array([1.]), array([0., 1.]))
    """

    breakpoints: np.ndarray
    values: np.ndarray
    slopes: np.ndarray

    def __post_init__(self):
        bp = as_float_array(self.breakpoints, "breakpoints", min_size=1)
        vals = as_float_array(self.values, "values", min_size=1)
        sl = as_float_array(self.slopes, "slopes", min_size=2)
        if vals.size != bp.size or sl.size != bp.size + 1:
            raise ValueError(
                f"need len(values) == len(breakpoints) and len(slopes) == len(breakpoints) + 1; "
                f"got {vals.size}, {bp.size}, {sl.size}"
            )
        if np.any(np.diff(bp) <= 0):
            raise ValueError("breakpoints must be strictly increasing")
        for name, arr in (("breakpoints", bp), ("values", vals), ("slopes", sl)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def __reduce__(self):
        # rebuilt through __init__, so that the arrays are read-only again after unpickling
        return (
            type(self),
            (np.array(self.breakpoints), np.array(self.values), np.array(self.slopes)),
        )

    @property
    def delta_slopes(self) -> np.ndarray:
        """Jump of the derivative at each breakpoint."""
        return np.diff(self.slopes)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        piece = np.searchsorted(self.breakpoints, x, side="right")
        anchor = np.maximum(piece - 1, 0)
        return self.values[anchor] + self.slopes[piece] * (x - self.breakpoints[anchor])

    def derivative(self, x) -> np.ndarray:
        """f'(x); at a breakpoint, the slope on its right."""
        x = np.asarray(x, dtype=np.float64)
        return self.slopes[np.searchsorted(self.breakpoints, x, side="right")]


@dataclass(frozen=True, eq=False)
class Network:
    """A shallow univariate ReLU network f(x) = (1/α) Σᵢ cᵢ [aᵢ x − bᵢ]₊ (eq. 1).

    Immutable: the arrays are read-only float64 copies, and training returns new
    networks.

    Parameters
    ----------
    a, b, c : array_like, shape (m,)
        First-layer weights, biases (entering as −bᵢ) and output weights; m >= 1.
    alpha : float or {"one", "sqrt", "m"}, default 1.0
        Output scale α(m) > 0. The names resolve to 1, √m and m.
    provenance : mapping, optional
        Free-form record of how the network was made (scheme, seed, version); saved
        with it and ignored by every computation.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> net = relu1d.Network(a=[1.0, -1.0], b=[0.0, 0.5], c=[1.0, 2.0])
    >>> net
    Network(m=2, alpha=1)
    >>> net(np.array([-1.0, 0.0, 1.0]))            # [x]₊ + 2[−x − 0.5]₊
    array([1., 0., 1.])
    >>> net.knots, net.delta_slopes
    (array([ 0. , -0.5]), array([1., 2.]))
    """

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    alpha: float = 1.0
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        arrays = {name: as_float_array(getattr(self, name), name, min_size=1) for name in "abc"}
        self._settle(arrays)

    def _settle(self, arrays: dict) -> None:
        sizes = {name: arr.size for name, arr in arrays.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"a, b and c must have the same length m; got lengths {sizes}")
        for name, arr in arrays.items():
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "alpha", _resolve_alpha(self.alpha, arrays["a"].size))
        if not isinstance(self.provenance, Mapping):
            raise TypeError(f"provenance must be a mapping, got {_short(self.provenance)}")
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    @classmethod
    def _adopt(cls, a: np.ndarray, b: np.ndarray, c: np.ndarray, alpha, provenance) -> Network:
        """A network that takes ownership of three fresh 1-d float64 arrays without
        copying them (for very wide networks, whose copy would double the memory);
        the arrays are checked as the constructor checks them and made read-only."""
        arrays = {"a": a, "b": b, "c": c}
        for name, arr in arrays.items():
            if not (
                isinstance(arr, np.ndarray)
                and arr.dtype == np.float64
                and arr.ndim == 1
                and arr.size >= 1
            ):
                return cls(a, b, c, alpha, provenance)  # not adoptable: the ordinary checked copy
            if not np.isfinite(arr).all():
                as_float_array(arr, name)  # raises with the usual message
        net = object.__new__(cls)
        object.__setattr__(net, "alpha", alpha)
        object.__setattr__(net, "provenance", provenance)
        net._settle(arrays)
        return net

    def __reduce__(self):
        # provenance is a read-only mappingproxy, which cannot be pickled: rebuild through
        # __init__ from a plain dict (so copy.deepcopy, multiprocessing and Dask work)
        return (type(self), (np.array(self.a), np.array(self.b), np.array(self.c), self.alpha,
                             dict(self.provenance)))

    def __repr__(self) -> str:
        return f"Network(m={self.m}, alpha={self.alpha:g})"

    def _repr_html_(self) -> str:
        """Jupyter display: m, α, provenance and a small inline PNG of f with its knots
        (see relu1d._display; cheap, never raises)."""
        from ._display import network_html, safe_html

        return safe_html(network_html, self)

    # ------------------------------------------------------------------ evaluation
    @property
    def m(self) -> int:
        """Number of neurons."""
        return int(self.a.size)

    def __call__(self, x) -> np.ndarray:
        """f(x) for x of any shape.

        Small m × len(x): the direct sum, in blocks that bound memory. From 2²⁴
        (neuron, point) pairs on: through the exact spline (:meth:`to_spline`), which
        sorts the knots once and then costs one binary search per point, O((m + n) log m)
        instead of O(m·n) (a 10⁶-neuron network on 10⁶ points: about a second instead of
        an hour). Both are exact up to rounding (of order ε·Σᵢ|cᵢ|(|aᵢx| + |bᵢ|)/α); the
        direct sum is kept when a knot lies so far out (|βᵢ| > 10⁸·(1 + max|x|)) that the
        spline's prefix sums would lose precision.
        """
        xs = as_float_array(x, "x", ndim=None)
        flat = xs.ravel()
        if self.m * flat.size >= _SPLINE_PAIRS and self.m >= 32 and flat.size >= 32:
            with np.errstate(divide="ignore", invalid="ignore"):
                far = np.abs(self.b) > 1e8 * (1.0 + float(np.max(np.abs(flat)))) * np.abs(self.a)
            if not np.any(far & (self.a != 0)):
                return self.to_spline()(flat).reshape(xs.shape)
        return self._direct(flat).reshape(xs.shape)

    def _direct(self, flat: np.ndarray) -> np.ndarray:
        """The direct sum (1/α) Σᵢ cᵢ [aᵢ x − bᵢ]₊ at the points ``flat``."""
        out = np.empty(flat.size)
        rows = max(1, _EVAL_BLOCK // self.m)
        for start in range(0, flat.size, rows):
            block = flat[start:start + rows]
            pre = np.multiply.outer(block, self.a)
            pre -= self.b
            np.maximum(pre, 0.0, out=pre)
            out[start:start + rows] = pre @ self.c
        return out / self.alpha

    # ------------------------------------------------------------------ parameterisations
    @property
    def knots(self) -> np.ndarray:
        """eᵢ = bᵢ/aᵢ, where neuron i switches on or off; NaN where aᵢ = 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.a != 0, self.b / np.where(self.a != 0, self.a, 1.0), np.nan)

    @property
    def breakpoints(self) -> np.ndarray:
        """Sahs et al.'s breakpoints βᵢ = bᵢ/aᵢ (the knots; NaN where aᵢ = 0)."""
        return self.knots

    @property
    def delta_slopes(self) -> np.ndarray:
        """μᵢ = cᵢ|aᵢ|/α, the jump of f' across βᵢ (0 where aᵢ = 0)."""
        return self.c * np.abs(self.a) / self.alpha

    def invariants(self) -> np.ndarray:
        """δᵢ = cᵢ² − aᵢ² − bᵢ² (eq. 11), constant along the gradient flow (Lemma 3).

        Examples
        --------
        >>> import relu1d
        >>> relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0]).invariants()
        array([0.  , 2.75])
        """
        return self.c ** 2 - self.a ** 2 - self.b ** 2

    def canonical(self) -> tuple[np.ndarray, np.ndarray]:
        """Canonical parameters (r, θ) of eq. 5.

        Returns
        -------
        r : (m,) array
            rᵢ = (m/α)·cᵢ·√(aᵢ² + bᵢ²); its sign is the sign of cᵢ.
        theta : (m,) array
            θᵢ = atan2(−bᵢ, aᵢ) in [0, 2π).
        """
        return _canonical_of(self.a, self.b, self.c, self.m, self.alpha)

    @classmethod
    def from_canonical(
        cls, r, theta, delta, alpha=1.0, provenance: Mapping[str, Any] | None = None
    ) -> Network:
        """The unique (a, b, c) with canonical point (r, θ) and invariants δ (Lemma 3).

        With R = |r|·α/m = |c|·ρ and ρ = √(a² + b²): c² − ρ² = δ and |c|·ρ = R give
        c² = (δ + √(δ² + 4R²))/2 and ρ² = (−δ + √(δ² + 4R²))/2 (computed without
        cancellation); c carries the sign of r, and (a, −b) = ρ·(cos θ, sin θ).

        Parameters
        ----------
        r, theta : array_like, shape (m,)
        delta : float or array_like, shape (m,)
            Invariant of every neuron, or one value for all.
        alpha : float or {"one", "sqrt", "m"}

        Examples
        --------
        >>> import numpy as np
        >>> import relu1d
        >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
        >>> r, theta = net.canonical()
        >>> back = relu1d.Network.from_canonical(r, theta, net.invariants())
        >>> bool(np.allclose(back.a, net.a) and np.allclose(back.b, net.b)
        ...      and np.allclose(back.c, net.c))
        True
        """
        r = as_float_array(r, "r", min_size=1)
        theta = as_float_array(theta, "theta")
        if theta.size != r.size:
            raise ValueError(
                f"r and theta must have the same length; got {r.size} and {theta.size}"
            )
        delta = as_float_array(delta, "delta", ndim=None)
        if delta.ndim == 0 or delta.size == 1:
            delta = np.full(r.size, float(delta.ravel()[0]))
        elif delta.shape != r.shape:
            raise ValueError(
                f"delta must be a number or have the length of r ({r.size}); "
                f"got shape {delta.shape}"
            )
        m = r.size
        alpha_value = _resolve_alpha(alpha, m)
        a, b, c = _full_of(r, theta, delta, m, alpha_value)
        return cls(a, b, c, alpha_value, provenance or {})

    def to_spline(self) -> PiecewiseLinear:
        """The exact piecewise-linear function f (Sahs et al.).

        Breakpoints shared by several neurons are merged. A network whose aᵢ are all 0
        is constant; its spline has one breakpoint, at 0, with no change of slope.
        Values come from prefix sums, so their rounding error is of order
        ε·max|βᵢ|·Σ|cᵢaᵢ|/α: exact to rounding for knots at moderate distance, not for a
        knot at 10⁹⁸ from a subnormal aᵢ.

        Examples
        --------
        >>> import relu1d
        >>> f = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0]).to_spline()
        >>> f.breakpoints, f.slopes
        (array([-0.5,  0. ]), array([-2.,  0.,  1.]))
        """
        a, b, c, alpha = self.a, self.b, self.c, self.alpha
        has_knot = a != 0
        const = np.sum(c[~has_knot] * np.maximum(-b[~has_knot], 0.0)) / alpha
        if not np.any(has_knot):
            return PiecewiseLinear(np.array([0.0]), np.array([const]), np.array([0.0, 0.0]))
        a, b, c = a[has_knot], b[has_knot], c[has_knot]
        beta = b / a
        order = np.argsort(beta, kind="stable")
        a, b, c, beta = a[order], b[order], c[order], beta[order]
        points, first = np.unique(beta, return_index=True)
        pos = a > 0
        # f(x) = Σ_{a>0, β<x} c(ax − b)/α + Σ_{a<0, β>x} c(ax − b)/α + const: prefix sums.
        ca_pos = np.where(pos, c * a, 0.0)
        cb_pos = np.where(pos, c * b, 0.0)
        ca_neg = np.where(pos, 0.0, c * a)
        cb_neg = np.where(pos, 0.0, c * b)

        def strictly_before(v):  # Σ over sorted entries whose β < each point
            return np.concatenate(([0.0], np.cumsum(v)))[first]

        def strictly_after(v):  # Σ over entries whose β > each point
            last = np.append(first[1:], beta.size)
            return np.concatenate((np.cumsum(v[::-1])[::-1], [0.0]))[last]

        values = (points * (strictly_before(ca_pos) + strictly_after(ca_neg))
                  - strictly_before(cb_pos) - strictly_after(cb_neg)) / alpha + const
        left = np.sum(ca_neg) / alpha
        jumps = np.add.reduceat(c * np.abs(a), first) / alpha
        slopes = left + np.concatenate(([0.0], np.cumsum(jumps)))
        return PiecewiseLinear(points, values, slopes)

    # ------------------------------------------------------------------ PyTorch layout
    @classmethod
    def from_torch_state(
        cls, state: Mapping[str, Any], alpha=1.0, output_bias: str = "refuse"
    ) -> Network:
        """From the state of ``Sequential(Linear(1, m), ReLU(), Linear(m, 1))``.

        Takes plain arrays or tensors (torch is never imported): keys ``0.weight``
        (m, 1), ``0.bias`` (m,), ``2.weight`` (1, m) and optionally ``2.bias`` (1,);
        a ``state_dict()`` works as it is. The torch network computes
        W₂ relu(W₁x + b₁) + b₂, so a = W₁, b = −b₁ and c = α·W₂ give the same function
        divided into the network's α.

        The same function is not the same training dynamics when α ≠ 1: c = α·W₂ gives
        ∂L/∂W₂ = α·∂L/∂c, so one plain SGD step of size η on (W₁, b₁, W₂) moves c by
        η·α²·∂L/∂c. relu1d's ``train(..., lr=η)`` corresponds exactly to PyTorch SGD with
        lr η on the first layer and η/α² on ``2.weight`` (two parameter groups), for the
        loss ``0.5 * ((model(x) - y) ** 2).sum()``.

        The papers' networks have no output bias. ``output_bias`` says what to do
        with a non-zero one: "refuse" (default) raises; "neuron" appends an exact
        constant neuron (a = 0, b = −1, c = α·b₂), so f is unchanged and m grows by
        one; "drop" discards it (f changes by −b₂).
        """
        as_choice(output_bias, "output_bias", ("refuse", "neuron", "drop"))
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state must be a mapping such as module.state_dict(), got {type(state).__name__}"
            )
        missing = [k for k in ("0.weight", "0.bias", "2.weight") if k not in state]
        if missing:
            raise ValueError(
                f"state lacks {missing}; expected keys '0.weight', '0.bias', '2.weight' "
                f"and optionally '2.bias' of Sequential(Linear(1, m), ReLU(), Linear(m, 1))"
            )
        w1 = as_float_array(state["0.weight"], "state['0.weight']", ndim=2)
        b1 = as_float_array(state["0.bias"], "state['0.bias']")
        w2 = as_float_array(state["2.weight"], "state['2.weight']", ndim=2)
        if (
            w1.shape[1] != 1
            or w2.shape[0] != 1
            or w2.shape[1] != w1.shape[0]
            or b1.size != w1.shape[0]
        ):
            raise ValueError(
                f"shapes must be (m, 1), (m,), (1, m); got {w1.shape}, {b1.shape}, {w2.shape}"
            )
        bias = 0.0
        if "2.bias" in state:
            bias_arr = as_float_array(state["2.bias"], "state['2.bias']")
            if bias_arr.size != 1:
                raise ValueError(f"state['2.bias'] must have one entry, got shape {bias_arr.shape}")
            bias = float(bias_arr[0])
        alpha_value = _resolve_alpha(alpha, w1.shape[0])
        a, b, c = w1[:, 0], -b1, alpha_value * w2[0]
        if bias != 0.0:
            if output_bias == "refuse":
                raise ValueError(
                    f"state['2.bias'] = {bias} is non-zero but relu1d networks have no output "
                    "bias; "
                    "pass output_bias='neuron' to fold it into a constant neuron exactly, "
                    "or output_bias='drop' to discard it"
                )
            if output_bias == "neuron":
                a, b, c = np.append(a, 0.0), np.append(b, -1.0), np.append(c, alpha_value * bias)
        return cls(a, b, c, alpha_value)

    def to_torch_state(self, output_bias: bool = True) -> dict[str, np.ndarray]:
        """Plain arrays for ``Sequential(Linear(1, m), ReLU(), Linear(m, 1))``.

        Load with ``model.load_state_dict({k: torch.as_tensor(v) for k, v in ...})``.

        Parameters
        ----------
        output_bias : bool
            Include ``"2.bias"`` (zero). Pass False for the papers' bias-free
            ``Linear(m, 1, bias=False)``, which a strict ``load_state_dict`` requires.

        Notes
        -----
        W₂ = c/α: the function is the same, the SGD dynamics are the same only with lr/α²
        on ``2.weight`` (see :meth:`from_torch_state`).

        Examples
        --------
        >>> import relu1d
        >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
        >>> state = net.to_torch_state()
        >>> sorted(state), state["0.bias"] + 0.0    # Linear computes a·x + bias, bias = −b
        (['0.bias', '0.weight', '2.bias', '2.weight'], array([ 0. , -0.5]))
        >>> relu1d.Network.from_torch_state(state).b + 0.0
        array([0. , 0.5])
        """
        if not isinstance(output_bias, (bool, np.bool_)):
            raise TypeError(f"output_bias must be True or False, got {output_bias!r}")
        state = {"0.weight": self.a[:, None].copy(), "0.bias": -self.b.copy(),
                 "2.weight": (self.c / self.alpha)[None, :].copy()}
        if output_bias:
            state["2.bias"] = np.zeros(1)
        return state

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write a ``.npz`` with a, b, c, alpha and the provenance (as JSON).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import relu1d
        >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0], alpha=2.0)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = net.save(pathlib.Path(tmp) / "net.npz")
        ...     back = relu1d.Network.load(path)
        >>> back, back.c
        (Network(m=2, alpha=2), array([1., 2.]))
        """
        from . import __version__

        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"path must end in .npz, got {str(path)!r}")
        prov = {"relu1d_version": __version__, **self.provenance}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
                np.savez(fh, a=self.a, b=self.b, c=self.c, alpha=self.alpha,
                         provenance=np.array(json.dumps(prov, default=str)))

        return atomic_write(path, write)

    @classmethod
    def load(cls, path) -> Network:
        """Read a network written by :meth:`save`.

        Raises
        ------
        ValueError
            Naming the file and what is wrong with it: missing, empty, not a .npz (zip)
            archive, damaged or truncated, or lacking the arrays a, b, c, alpha.
        """
        path = Path(path)
        expected = "expected a .npz written by Network.save or `relu1d init`"
        if not path.is_file():
            raise ValueError(f"path {str(path)!r} is not a file; {expected}")
        try:
            with open(path, "rb") as fh:
                head = fh.read(4)
        except OSError as exc:
            raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        if not head:
            raise ValueError(f"{str(path)!r} is empty; {expected}")
        if head != b"PK\x03\x04":
            raise ValueError(f"{str(path)!r} is not a .npz (zip) archive; {expected}")
        try:
            with np.load(path, allow_pickle=False) as f:
                missing = {"a", "b", "c", "alpha"} - set(f.files)
                if missing:
                    raise ValueError(f"{str(path)!r} lacks {sorted(missing)}; {expected}")
                arrays = [f[name] for name in ("a", "b", "c", "alpha")]
                prov_text = str(f["provenance"]) if "provenance" in f.files else "{}"
        except ValueError as exc:
            if str(path) in str(exc):
                raise
            raise ValueError(f"{str(path)!r} is damaged: {exc}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, RuntimeError) as exc:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ValueError(f"{str(path)!r} is damaged or truncated ({why}); {expected}") from None
        try:
            prov = json.loads(prov_text)
        except json.JSONDecodeError:
            raise ValueError(f"{str(path)!r} has a damaged provenance record (not JSON)") from None
        if not isinstance(prov, dict):
            prov = {"provenance": prov}
        a, b, c, alpha = arrays
        if alpha.size != 1:
            raise ValueError(f"{str(path)!r}: alpha must hold one number, got shape {alpha.shape}")
        try:
            return cls(a, b, c, float(alpha.ravel()[0]), prov)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{str(path)!r} holds an invalid network: {exc}") from None
