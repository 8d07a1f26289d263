"""Initialisation schemes.

Every scheme draws a, b (the first layer, whose bias enters as −b) and c (the output
layer) independently across neurons, as PyTorch would for
``Sequential(Linear(1, m), ReLU(), Linear(m, 1))`` with the named initialiser:

=========  ======================  ======================  ========================
scheme     aᵢ                      bᵢ                      cᵢ
=========  ======================  ======================  ========================
uniform    U(−1, 1)                U(−1, 1)                U(−1/√m, 1/√m)
gaussian   N(0, 1)                 N(0, 1)                 N(0, 1/m)
he         N(0, 2)                 0                       N(0, 2/m)
xavier     N(0, 2/(1 + m))         0                       N(0, 2/(m + 1))
lecun      N(0, 1)                 0                       N(0, 1/m)
=========  ======================  ======================  ========================

"uniform" is PyTorch's default for ``Linear`` (U(±1/√fan_in) for weights and bias).
He (Kaiming normal, fan-in, gain √2), Xavier (Glorot normal) and LeCun normal set the
biases to zero, as is usual with them: **every breakpoint bᵢ/aᵢ then starts at 0**,
so these networks start as a single kink at the origin.

``ab_scale`` multiplies (a, b) and ``c_scale`` multiplies c after drawing.

Two options reshape any scheme's draw (both off by default; with both off a seed gives the
same bits as before they existed):

* ``antisymmetric=True``, the doubling trick (Chizat et al. 2019; Zhang et al. 2020;
  Jin & Montúfar, JMLR 2023, App. B.2 "ASI"): m/2 neurons are drawn with the laws of a
  width-m network and neuron i + m/2 is neuron i with c negated, (a, b, c) and
  (a, b, −c), so f₀ ≡ 0. Every neuron keeps the marginal law of the table above (Jin &
  Montúfar instead double a width-n network and multiply c by √2/2; here the width is m
  throughout, so no such factor is needed).
* ``balance``, the families of Boursier & Flammarion (JMLR 2025, eq. 4 and §6), in terms
  of the ratio κ = |cᵢ|/‖(aᵢ, bᵢ)‖: "balanced" (κ = 1, δᵢ = 0), "dominated" (κ = 2,
  δᵢ > 0: the output weight dominates; the sign of cᵢ can never change) and "unbalanced"
  (κ = 1/2, δᵢ < 0), or any κ > 0 as a number. It is the δ move of ``delta=`` with the
  per-neuron value δᵢ = (κ − 1/κ)·|cᵢ|·‖(aᵢ, bᵢ)‖ (of the drawn, scaled neuron): each
  neuron slides along its rescaling orbit (a, b, c) → (a/t, b/t, t·c), which keeps
  |cᵢ|·‖(aᵢ, bᵢ)‖, the canonical point (rᵢ, θᵢ) and so f₀, and ends with |cᵢ| = κ‖(aᵢ, bᵢ)‖.

Correspondence with Boursier & Flammarion. Their network hθ(x) = Σⱼ aⱼ σ(⟨wⱼ, (x, 1)⟩)
is ours with α = 1 (``alpha="one"``), their aⱼ our cⱼ and wⱼ = (aⱼ, −bⱼ); their loss is
the mean (``train(..., loss="mean")``). Their balancedness aⱼ² − ‖wⱼ‖² (Lemma 1) is our
δᵢ = cᵢ² − aᵢ² − bᵢ², conserved by the gradient flow whatever α (α divides ∂L/∂c·c and
∂L/∂(a, b)·(a, b) alike), so the families are stated on the raw parameters for every α.
Their init (eq. 3) (aⱼ⁰, wⱼ⁰) = (λ/√m)(ãⱼ, w̃ⱼ) with w̃ⱼ ~ N(0, I₂), ãⱼ ~ N(0, 1) (App.
B.2) is exactly ``scheme="gaussian", alpha="one", ab_scale=λ/√m, c_scale=λ``. Their
balanced init ãⱼ = ±‖w̃ⱼ‖ (App. B.1) has the same directions, independent random signs and
scale as that draw with ``balance="balanced"``, but not the same radial law: theirs has
‖wⱼ‖ = (λ/√m)·‖w̃ⱼ‖, ours (λ/√m)·(|ãⱼ|‖w̃ⱼ‖)^½ (f₀ is kept instead), whose mean is
1/√2 of theirs (E|ã|^½·E‖w̃‖^½ = √π/2 against E‖w̃‖ = √(π/2)).
"""

from __future__ import annotations

import numpy as np

from . import __version__
from ._common import _canonical_of, _full_of, _resolve_alpha
from ._validation import as_choice, as_float_array, as_int, as_real, as_rng
from .network import Network, require_memory

__all__ = ["init_network", "SCHEMES", "BALANCE_RATIOS"]

SCHEMES = ("uniform", "gaussian", "he", "xavier", "lecun")
BALANCE_RATIOS = {"balanced": 1.0, "dominated": 2.0, "unbalanced": 0.5}
"""The ratio κ = |cᵢ|/‖(aᵢ, bᵢ)‖ that each named ``balance`` of :func:`init_network` sets."""
# Neurons moved to their invariant δ per slice: bounds the temporaries of the move
# (about a dozen arrays of this length) whatever the width.
_DELTA_BLOCK = 1 << 20


def _draw(scheme: str, m: int, rng: np.random.Generator, n: int | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` neurons (default m) with the laws of a width-m network."""
    # scaled in place: the peak memory is the three arrays themselves
    n = m if n is None else n
    if scheme == "uniform":
        a = rng.uniform(-1.0, 1.0, n)
        b = rng.uniform(-1.0, 1.0, n)
        c = rng.uniform(-1.0, 1.0, n)
        c /= np.sqrt(m)
    elif scheme == "gaussian":
        a = rng.standard_normal(n)
        b = rng.standard_normal(n)
        c = rng.standard_normal(n)
        c /= np.sqrt(m)
    else:
        var_a, var_c = {"he": (2.0, 2.0 / m), "xavier": (2.0 / (1 + m), 2.0 / (m + 1)),
                        "lecun": (1.0, 1.0 / m)}[scheme]
        a = rng.standard_normal(n)
        a *= np.sqrt(var_a)
        b = np.zeros(n)
        c = rng.standard_normal(n)
        c *= np.sqrt(var_c)
    return a, b, c


def _balance_ratio(balance) -> float:
    """κ of ``balance``: a name of :data:`BALANCE_RATIOS` or a positive number."""
    if isinstance(balance, str):
        as_choice(balance, "balance", tuple(BALANCE_RATIOS))
        return BALANCE_RATIOS[balance]
    try:
        return as_real(balance, "balance", positive=True)
    except (TypeError, ValueError):
        raise ValueError(
            f"balance must be one of {', '.join(map(repr, BALANCE_RATIOS))} or a ratio "
            f"|c|/‖(a, b)‖ > 0; got {balance!r}"
        ) from None


def init_bytes(m: int, delta=None, *, balance=None, antisymmetric: bool = False) -> int:
    """Estimated peak memory (bytes) of :func:`init_network` for width ``m``: the three
    parameter arrays (24 bytes per neuron), a finiteness mask, and, with ``delta`` or
    ``balance``, the per-slice temporaries of the move to δ (and a per-neuron δ array);
    ``antisymmetric`` adds the drawn half (12 bytes per neuron)."""
    moves = delta is not None or balance is not None
    per_neuron = (3 * 8 + 1 + (8 if delta is not None and np.ndim(delta) > 0 else 0)
                  + (12 if antisymmetric else 0))
    slice_temps = (
        (14 + (1 if balance is not None else 0)) * 8 * min(m, _DELTA_BLOCK) if moves else 0
    )
    return per_neuron * m + slice_temps


def init_network(m: int, scheme: str = "uniform", alpha="sqrt", ab_scale: float = 1.0,
                 c_scale: float = 1.0, seed=0, delta=None, antisymmetric: bool = False,
                 balance=None) -> Network:
    """A random network of m neurons.

    Parameters
    ----------
    m : int
        Width, >= 1 (even with ``antisymmetric``).
    scheme : {"uniform", "gaussian", "he", "xavier", "lecun"}
        Distributions in the module docstring.
    alpha : {"one", "sqrt", "m"} or float, default "sqrt"
        Output scale α(m).
    ab_scale, c_scale : float, >= 0
        Multipliers of (a, b) and of c. ``c_scale=0`` starts the output layer at zero.
    seed : int or numpy.random.Generator
    delta : float or array_like, optional
        If given, every neuron is moved along its rescaling orbit to invariant δ,
        keeping its canonical parameters (r, θ) and so the function (Lemma 3), as
        Williams et al.'s Figs. 2 and 4 do. With ``antisymmetric``, a per-neuron array
        must give neurons i and i + m/2 the same value.
    antisymmetric : bool, default False
        Draw m/2 neurons (with the laws of width m) and pair each with its copy whose c
        is negated: neuron i + m/2 is (aᵢ, bᵢ, −cᵢ), so f₀ ≡ 0 (the doubling trick of
        Chizat et al. and Jin & Montúfar). Scales, ``delta`` and ``balance`` act on both
        members of a pair alike, so the pairing survives them.
    balance : {"balanced", "dominated", "unbalanced"} or float, optional
        Boursier & Flammarion's families: set |cᵢ| = κ‖(aᵢ, bᵢ)‖ for every neuron, with
        κ = 1, 2, 1/2 for the names (:data:`BALANCE_RATIOS`) or κ = the number given.
        It is the move of ``delta`` with δᵢ = (κ − 1/κ)·|cᵢ|·‖(aᵢ, bᵢ)‖, so it keeps
        (rᵢ, θᵢ) and f₀; δᵢ = 0, > 0, < 0 for κ = 1, > 1, < 1. Exclusive with ``delta``;
        needs ``c_scale > 0`` and ``ab_scale > 0`` (a neuron with c = 0 or (a, b) = 0
        would be moved to 0).

    Returns
    -------
    Network
        With ``provenance`` recording the arguments and the package version
        (``antisymmetric`` and ``balance`` only when used).

    Raises
    ------
    ValueError
        For invalid arguments (an odd m with ``antisymmetric``, ``delta`` together with
        ``balance``, ...), or when the network would not fit in this machine's memory
        (:func:`init_bytes`, 24 bytes per neuron plus a little; the check comes before
        anything is allocated).

    Notes
    -----
    The arrays are drawn and scaled in place, the move to δ runs on slices of 2²⁰
    neurons, and the network takes the arrays without copying them, so the peak memory
    is about that of the result (1.5 times with ``antisymmetric``).

    Examples
    --------
    An antisymmetric network is zero at initialisation, pair by pair:

    >>> import numpy as np
    >>> import relu1d as r1
    >>> net = r1.init_network(6, scheme="gaussian", seed=0, antisymmetric=True)
    >>> bool(np.array_equal(net.c[3:], -net.c[:3]) and np.array_equal(net.a[3:], net.a[:3]))
    True
    >>> float(np.max(np.abs(net(np.linspace(-2, 2, 9))))) < 1e-15
    True

    A dominated network (|cᵢ| = 2‖(aᵢ, bᵢ)‖, so δᵢ > 0) computes the same function as
    the plain draw it was moved from:

    >>> plain = r1.init_network(100, seed=1)
    >>> dominated = r1.init_network(100, seed=1, balance="dominated")
    >>> bool(np.allclose(np.abs(dominated.c), 2 * np.hypot(dominated.a, dominated.b)))
    True
    >>> bool(np.all(dominated.invariants() > 0)), bool(np.allclose(dominated([0.5]), plain([0.5])))
    (True, True)

    Boursier & Flammarion's initialisation at scale λ, width m (their eq. 3 with
    w̃ ~ N(0, I₂); their App. B.1 is the balanced one):

    >>> lam, m = 1e-3, 1000
    >>> net = r1.init_network(m, "gaussian", alpha="one", ab_scale=lam / m ** 0.5, c_scale=lam,
    ...                       seed=0, balance="balanced")
    >>> float(np.max(np.abs(net.invariants()))) < 1e-20
    True
    """
    m = as_int(m, "m", minimum=1)
    as_choice(scheme, "scheme", SCHEMES)
    alpha_value = _resolve_alpha(alpha, m)
    ab_scale = as_real(ab_scale, "ab_scale", nonnegative=True)
    c_scale = as_real(c_scale, "c_scale", nonnegative=True)
    rng = as_rng(seed)
    if not isinstance(antisymmetric, (bool, np.bool_)):
        raise TypeError(f"antisymmetric must be True or False, got {antisymmetric!r}")
    antisymmetric = bool(antisymmetric)
    if antisymmetric and m % 2:
        raise ValueError(
            "antisymmetric=True pairs neuron i with neuron i + m/2, so m must be even; "
            f"got m = {m} (use m = {m - 1} or {m + 1})"
        )
    kappa = None
    if balance is not None:
        kappa = _balance_ratio(balance)
        if delta is not None:
            raise ValueError(
                "give delta or balance, not both: balance = κ sets δᵢ = (κ − 1/κ)·|cᵢ|·‖(aᵢ, bᵢ)‖ "
                "per neuron, delta sets δ directly"
            )
        if c_scale == 0 or ab_scale == 0:
            which = "c_scale" if c_scale == 0 else "ab_scale"
            raise ValueError(
                f"balance needs {which} > 0: it keeps |cᵢ|·‖(aᵢ, bᵢ)‖, so with {which} = 0 every "
                "neuron would become (0, 0, 0); use delta to move them instead"
            )
    if delta is not None:
        delta_arr = as_float_array(delta, "delta", ndim=None)
        if delta_arr.size == 1:
            delta_arr = delta_arr.reshape(())
        elif delta_arr.shape != (m,):
            raise ValueError(
                f"delta must be a number or have length m = {m}; got shape {delta_arr.shape}"
            )
        elif antisymmetric and not np.array_equal(delta_arr[:m // 2], delta_arr[m // 2:]):
            raise ValueError(
                "with antisymmetric=True, delta must give neurons i and i + m/2 (a pair) the same "
                "value: pass one number, or an array whose two halves are equal"
            )
    require_memory(init_bytes(m, delta, balance=balance, antisymmetric=antisymmetric),
                   f"a network of m = {m:,} neurons")
    if antisymmetric:
        half = _draw(scheme, m, rng, m // 2)
        a, b, c = (np.concatenate((v, v)) for v in half)
        del half
        c[m // 2:] *= -1.0
    else:
        a, b, c = _draw(scheme, m, rng)
    a *= ab_scale
    b *= ab_scale
    c *= c_scale
    provenance = {"scheme": scheme, "seed": seed if isinstance(seed, int) else "generator",
                  "alpha": alpha if isinstance(alpha, str) else alpha_value,
                  "ab_scale": ab_scale, "c_scale": c_scale, "relu1d_version": __version__}
    if antisymmetric:
        provenance["antisymmetric"] = True
    if delta is not None:
        provenance["delta"] = delta if np.ndim(delta) == 0 else "per-neuron"
    if kappa is not None:
        provenance["balance"] = balance if isinstance(balance, str) else kappa
    if delta is not None or kappa is not None:
        for start in range(0, m, _DELTA_BLOCK):
            part = slice(start, start + _DELTA_BLOCK)
            r, theta = _canonical_of(a[part], b[part], c[part], m, alpha_value)
            if kappa is not None:  # δᵢ = (κ − 1/κ)·Rᵢ with Rᵢ = |rᵢ|·α/m = |cᵢ|·‖(aᵢ, bᵢ)‖
                d = np.abs(r)
                d *= (kappa - 1.0 / kappa) * (alpha_value / m)
            else:
                d = np.full(r.size, float(delta_arr)) if delta_arr.ndim == 0 else delta_arr[part]
            zero_b = b[part] == 0
            a[part], b[part], c[part] = _full_of(r, theta, d, m, alpha_value)
            if kappa is not None:  # he/xavier/lecun: the knot stays exactly at 0 (sin π ≠ 0);
                b[part][zero_b] = 0.0  # not for delta, whose stored draws keep their bits
    return Network._adopt(a, b, c, alpha_value, provenance)
