"""The training objective and its gradient, as a public function.

Import it as ``from relu1d.train import loss_and_grad`` (the attribute ``relu1d.train``
itself is the function :func:`relu1d.train.train`). :func:`loss_and_grad` returns
L(z) = ½ Σⱼ (f(xⱼ) − yⱼ)² (Williams et al. 2019, eq. 1) and its gradient with respect to
z = (a, b, c), computed densely in O(m·s) by the plain-numpy reference implementation
that every faster training path is tested against.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validation import check_network_and_data
from . import _reference

__all__ = ["LossAndGrad", "loss_and_grad"]


class LossAndGrad(NamedTuple):
    """The loss L(z) and its gradient (∂L/∂a, ∂L/∂b, ∂L/∂c); see :func:`loss_and_grad`."""

    loss: float
    """L = ½ Σⱼ (f(xⱼ) − yⱼ)² (a sum over samples, not a mean)."""
    a: np.ndarray
    """∂L/∂a, shape (m,)."""
    b: np.ndarray
    """∂L/∂b, shape (m,)."""
    c: np.ndarray
    """∂L/∂c, shape (m,)."""


def loss_and_grad(net, data) -> LossAndGrad:
    """The squared loss of ``net`` on ``data`` and its gradient in (a, b, c).

    With f(x) = (1/α) Σᵢ cᵢ [aᵢx − bᵢ]₊ and residuals ρⱼ = f(xⱼ) − yⱼ,

    * L = ½ Σⱼ ρⱼ²,
    * ∂L/∂aᵢ = (cᵢ/α) Σⱼ ρⱼ xⱼ 1[aᵢxⱼ > bᵢ],
    * ∂L/∂bᵢ = −(cᵢ/α) Σⱼ ρⱼ 1[aᵢxⱼ > bᵢ],
    * ∂L/∂cᵢ = (1/α) Σⱼ ρⱼ [aᵢxⱼ − bᵢ]₊.

    At a kink (aᵢxⱼ = bᵢ exactly) the indicator is 0: the one-sided derivative from the
    side where the unit is inactive. This is the gradient :func:`relu1d.train.train`
    follows with ``method="gd"`` and ``parameterization="full"`` (before the optional
    ``mean`` scaling and weight decay), computed densely in O(m·s) memory and time.

    Parameters
    ----------
    net : relu1d.Network
        The network (width m, output scale α).
    data : relu1d.Dataset
        The training samples (xⱼ, yⱼ), j = 1..s.

    Returns
    -------
    LossAndGrad
        Named tuple ``(loss, a, b, c)``: the loss as a float and the three gradient
        arrays, each of shape (m,).

    Raises
    ------
    TypeError
        If ``net`` is not a :class:`relu1d.Network` or ``data`` not a
        :class:`relu1d.Dataset`.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d.train import loss_and_grad
    >>> net = relu1d.Network(a=[1.0, -1.0], b=[0.0, 0.5], c=[2.0, 1.0])
    >>> data = relu1d.Dataset(x=[-1.0, 1.0], y=[0.0, 1.0])
    >>> out = loss_and_grad(net, data)
    >>> out.loss                  # f(−1) = 0.5, f(1) = 2: ρ = (0.5, 1), L = ½(0.25 + 1)
    0.625
    >>> out.c                     # Σⱼ ρⱼ [aᵢxⱼ − bᵢ]₊ = (1·1, 0.5·0.5)
    array([1.  , 0.25])
    >>> out.b                     # −cᵢ Σⱼ ρⱼ 1[aᵢxⱼ > bᵢ] = (−2·1, −1·0.5)
    array([-2. , -0.5])
    """
    check_network_and_data(net, data)
    loss, grad_a, grad_b, grad_c = _reference.loss_and_grad(net.a, net.b, net.c, net.alpha,
                                                             data.x, data.y)
    return LossAndGrad(loss, grad_a, grad_b, grad_c)
