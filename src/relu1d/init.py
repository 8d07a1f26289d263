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
from ._validation import as_choice, as_int, as_real, as_rng
from .network import Network, _resolve_alpha

__all__ = ["init_network", "SCHEMES"]

SCHEMES = ("uniform", "gaussian", "he", "xavier", "lecun")


def _draw(scheme: str, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if scheme == "uniform":
        a = rng.uniform(-1.0, 1.0, m)
        b = rng.uniform(-1.0, 1.0, m)
        c = rng.uniform(-1.0, 1.0, m) / np.sqrt(m)
    elif scheme == "gaussian":
        a = rng.standard_normal(m)
        b = rng.standard_normal(m)
        c = rng.standard_normal(m) / np.sqrt(m)
    else:
        var_a, var_c = {"he": (2.0, 2.0 / m), "xavier": (2.0 / (1 + m), 2.0 / (m + 1)),
                        "lecun": (1.0, 1.0 / m)}[scheme]
        a = rng.standard_normal(m) * np.sqrt(var_a)
        b = np.zeros(m)
        c = rng.standard_normal(m) * np.sqrt(var_c)
    return a, b, c


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
    """
    m = as_int(m, "m", minimum=1)
    as_choice(scheme, "scheme", SCHEMES)
    alpha_value = _resolve_alpha(alpha, m)
    ab_scale = as_real(ab_scale, "ab_scale", nonnegative=True)
    c_scale = as_real(c_scale, "c_scale", nonnegative=True)
    rng = as_rng(seed)
    a, b, c = _draw(scheme, m, rng)
    provenance = {"scheme": scheme, "seed": seed if isinstance(seed, int) else "generator",
                  "alpha": alpha if isinstance(alpha, str) else alpha_value,
                  "ab_scale": ab_scale, "c_scale": c_scale, "relu1d_version": __version__}
    net = Network(ab_scale * a, ab_scale * b, c_scale * c, alpha_value, provenance)
    if delta is None:
        return net
    provenance["delta"] = delta if np.ndim(delta) == 0 else "per-neuron"
    r, theta = net.canonical()
    return Network.from_canonical(r, theta, delta, alpha_value, provenance)
