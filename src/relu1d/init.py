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
"""

from __future__ import annotations

import numpy as np

from . import __version__
from ._validation import as_choice, as_float_array, as_int, as_real, as_rng
from .network import Network, _canonical_of, _full_of, _resolve_alpha, require_memory

__all__ = ["init_network", "SCHEMES"]

SCHEMES = ("uniform", "gaussian", "he", "xavier", "lecun")
# Neurons moved to their invariant δ per slice: bounds the temporaries of the move
# (about a dozen arrays of this length) whatever the width.
_DELTA_BLOCK = 1 << 20


def _draw(scheme: str, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # scaled in place: the peak memory is the three arrays themselves
    if scheme == "uniform":
        a = rng.uniform(-1.0, 1.0, m)
        b = rng.uniform(-1.0, 1.0, m)
        c = rng.uniform(-1.0, 1.0, m)
        c /= np.sqrt(m)
    elif scheme == "gaussian":
        a = rng.standard_normal(m)
        b = rng.standard_normal(m)
        c = rng.standard_normal(m)
        c /= np.sqrt(m)
    else:
        var_a, var_c = {"he": (2.0, 2.0 / m), "xavier": (2.0 / (1 + m), 2.0 / (m + 1)),
                        "lecun": (1.0, 1.0 / m)}[scheme]
        a = rng.standard_normal(m)
        a *= np.sqrt(var_a)
        b = np.zeros(m)
        c = rng.standard_normal(m)
        c *= np.sqrt(var_c)
    return a, b, c


def init_bytes(m: int, delta=None) -> int:
    """Estimated peak memory (bytes) of :func:`init_network` for width ``m``: the three
    parameter arrays (24 bytes per neuron), a finiteness mask, and, with ``delta``, the
    per-slice temporaries of the move to δ (and a per-neuron δ array)."""
    per_neuron = 3 * 8 + 1 + (8 if delta is not None and np.ndim(delta) > 0 else 0)
    slice_temps = 14 * 8 * min(m, _DELTA_BLOCK) if delta is not None else 0
    return per_neuron * m + slice_temps


def init_network(m: int, scheme: str = "uniform", alpha="sqrt", ab_scale: float = 1.0,
                 c_scale: float = 1.0, seed=0, delta=None) -> Network:
    """A random network of m neurons.

    Parameters
    ----------
    m : int
        Width, >= 1.
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
        Williams et al.'s Figs. 2 and 4 do.

    Returns
    -------
    Network
        With ``provenance`` recording the arguments and the package version.

    Raises
    ------
    ValueError
        For invalid arguments, or when the network would not fit in this machine's
        memory (:func:`init_bytes`, 24 bytes per neuron plus a little; the check comes
        before anything is allocated).

    Notes
    -----
    The arrays are drawn and scaled in place, the move to δ runs on slices of 2²⁰
    neurons, and the network takes the arrays without copying them, so the peak memory
    is about that of the result.
    """
    m = as_int(m, "m", minimum=1)
    as_choice(scheme, "scheme", SCHEMES)
    alpha_value = _resolve_alpha(alpha, m)
    ab_scale = as_real(ab_scale, "ab_scale", nonnegative=True)
    c_scale = as_real(c_scale, "c_scale", nonnegative=True)
    rng = as_rng(seed)
    if delta is not None:
        delta_arr = as_float_array(delta, "delta", ndim=None)
        if delta_arr.size == 1:
            delta_arr = delta_arr.reshape(())
        elif delta_arr.shape != (m,):
            raise ValueError(f"delta must be a number or have length m = {m}; got shape {delta_arr.shape}")
    require_memory(init_bytes(m, delta), f"a network of m = {m:,} neurons")
    a, b, c = _draw(scheme, m, rng)
    a *= ab_scale
    b *= ab_scale
    c *= c_scale
    provenance = {"scheme": scheme, "seed": seed if isinstance(seed, int) else "generator",
                  "alpha": alpha if isinstance(alpha, str) else alpha_value,
                  "ab_scale": ab_scale, "c_scale": c_scale, "relu1d_version": __version__}
    if delta is not None:
        provenance["delta"] = delta if np.ndim(delta) == 0 else "per-neuron"
        for start in range(0, m, _DELTA_BLOCK):
            part = slice(start, start + _DELTA_BLOCK)
            r, theta = _canonical_of(a[part], b[part], c[part], m, alpha_value)
            d = np.full(r.size, float(delta_arr)) if delta_arr.ndim == 0 else delta_arr[part]
            a[part], b[part], c[part] = _full_of(r, theta, d, m, alpha_value)
    return Network._adopt(a, b, c, alpha_value, provenance)
