"""relu1d.train.loss_and_grad: the public loss and gradient."""

import numpy as np
import pytest

import relu1d
from relu1d.train import LossAndGrad, loss_and_grad


def _problem(seed=0, m=7, s=11, alpha=1.7):
    rng = np.random.default_rng(seed)
    net = relu1d.Network(rng.normal(size=m), rng.normal(size=m), rng.normal(size=m), alpha)
    data = relu1d.Dataset(np.sort(rng.uniform(-1, 1, s)), rng.normal(size=s))
    return net, data


def _loss(a, b, c, alpha, data):
    # independent: a Python loop over samples and units, no shared code with relu1d
    total = 0.0
    for x, y in zip(data.x, data.y):
        f = sum(ci * max(ai * x - bi, 0.0) for ai, bi, ci in zip(a, b, c)) / alpha
        total += 0.5 * (f - y) ** 2
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_central_finite_differences(seed):
    net, data = _problem(seed)
    out = loss_and_grad(net, data)
    assert isinstance(out, LossAndGrad)
    assert out.loss == pytest.approx(_loss(net.a, net.b, net.c, net.alpha, data), rel=1e-12)
    h = 1e-6
    for name in "abc":
        fd = np.empty(net.a.size)
        for i in range(net.a.size):
            plus = {k: np.array(getattr(net, k)) for k in "abc"}
            minus = {k: np.array(getattr(net, k)) for k in "abc"}
            plus[name][i] += h
            minus[name][i] -= h
            fd[i] = (_loss(**plus, alpha=net.alpha, data=data)
                     - _loss(**minus, alpha=net.alpha, data=data)) / (2 * h)
        np.testing.assert_allclose(getattr(out, name), fd, rtol=1e-6, atol=1e-7, err_msg=name)


def test_fields_and_shapes():
    net, data = _problem(m=4, s=5)
    loss, ga, gb, gc = loss_and_grad(net, data)
    assert isinstance(loss, float)
    assert ga.shape == gb.shape == gc.shape == (4,)
    assert LossAndGrad._fields == ("loss", "a", "b", "c")


def test_zero_at_an_interpolating_network():
    # f(x) = [x]₊ fits y = [x]₊ exactly: loss and gradient vanish
    net = relu1d.Network([1.0], [0.0], [1.0])
    data = relu1d.Dataset([-0.5, 0.25, 1.0], [0.0, 0.25, 1.0])
    out = loss_and_grad(net, data)
    assert out.loss == 0.0
    for g in (out.a, out.b, out.c):
        np.testing.assert_array_equal(g, 0.0)


def test_kink_uses_the_inactive_side():
    # the sample sits exactly on the kink a·x = b: indicator 0, so ∂L/∂a = ∂L/∂b = 0
    net = relu1d.Network([1.0], [0.5], [1.0])
    data = relu1d.Dataset([0.5], [1.0])
    out = loss_and_grad(net, data)
    assert out.loss == 0.5
    assert out.a[0] == 0.0 and out.b[0] == 0.0 and out.c[0] == 0.0


def test_refuses_wrong_types():
    net, data = _problem()
    with pytest.raises(TypeError, match="net must be a relu1d.Network"):
        loss_and_grad((net.a, net.b, net.c), data)
    with pytest.raises(TypeError, match="data must be a relu1d.Dataset"):
        loss_and_grad(net, (data.x, data.y))
