"""relu1d.hessian: dense Hessian against finite differences of the reference gradient,
its structure, and the structured spectrum against numpy.linalg.eigvalsh."""

import time

import numpy as np
import pytest

import relu1d as r1
from relu1d import hessian as hs
from relu1d.train._reference import loss_and_grad

DATA = r1.datasets.sinusoid(10, seed=0)


def _grad(net, data):
    def g(z):
        m = net.m
        _, ga, gb, gc = loss_and_grad(z[:m], z[m:2 * m], z[2 * m:], net.alpha, data.x, data.y)
        return np.concatenate([ga, gb, gc])
    return g


def _fd_hessian(g, z, h=1e-6):
    return np.stack([(g(z + h * e) - g(z - h * e)) / (2 * h) for e in np.eye(z.size)], axis=1)


def _kink_margin(net, data):
    """min |aᵢxⱼ − bᵢ|/(1 + |xⱼ|): a coordinate step shorter than this changes no activation."""
    return float(
        np.min(np.abs(np.multiply.outer(data.x, net.a) - net.b) / (1 + np.abs(data.x))[:, None])
    )


def _fd_abc(net, data):
    """The Hessian in (a, b, c) by central differences of the reference gradient, step below
    the kink margin."""
    h = min(1e-5, 0.5 * _kink_margin(net, data))
    return _fd_hessian(_grad(net, data), np.concatenate([net.a, net.b, net.c]), h)


def _fd_spline(net, data):
    """The Hessian in (μ, β) at fixed orientations, by central differences of the reference
    gradient."""
    m, sign, alpha = net.m, np.sign(net.a), net.alpha

    def grad(w):  # a = s, b = sβ, c = αμ
        mu, beta = w[:m], w[m:]
        _, ga, gb, gc = loss_and_grad(sign, sign * beta, alpha * mu, alpha, data.x, data.y)
        return np.concatenate([alpha * gc, sign * gb])

    margin = float(
        np.min(np.abs(np.subtract.outer(data.x, net.breakpoints)) / (1 + np.abs(data.x))[:, None])
    )
    return _fd_hessian(
        grad, np.concatenate([net.delta_slopes, net.breakpoints]), min(1e-5, 0.5 * margin)
    )


@pytest.mark.parametrize("scheme,alpha", [("uniform", "sqrt"), ("gaussian", "one"), ("he", 3.0)])
def test_dense_hessian_matches_finite_differences(scheme, alpha):
    net = r1.init_network(8, scheme, alpha=alpha, seed=4)
    if scheme == "he":  # zero biases put every knot at 0, off the samples; spread them
        net = r1.Network(net.a, np.linspace(-0.8, 0.8, 8) * net.a, net.c, net.alpha)
    z = np.concatenate([net.a, net.b, net.c])
    h_fd = _fd_hessian(_grad(net, DATA), z)
    h = hs.hessian(net, DATA)
    # central differences of a piecewise-quadratic loss: error O(h²)·third derivative ≈ 1e-9
    np.testing.assert_allclose(h, h_fd, atol=1e-7 * max(1.0, np.abs(h).max()))
    np.testing.assert_allclose(h, h.T, atol=0)


def test_spline_coordinates_hessian_matches_finite_differences():
    net = r1.init_network(6, seed=2)
    sign, alpha = np.sign(net.a), net.alpha

    def grad(w):  # ∇ of L(μ, β) through the reference gradient: a = s, b = sβ, c = αμ
        mu, beta = w[:6], w[6:]
        _, ga, gb, gc = loss_and_grad(sign, sign * beta, alpha * mu, alpha, DATA.x, DATA.y)
        return np.concatenate([alpha * gc, sign * gb])

    w = np.concatenate([net.delta_slopes, net.breakpoints])
    h_fd = _fd_hessian(grad, w)
    np.testing.assert_allclose(hs.hessian(net, DATA, "spline"), h_fd, atol=1e-7)


def test_block_structure_and_block_eigenvalues():
    net = r1.init_network(20, seed=5)
    jac = hs.jacobian(net, DATA)
    h = hs.hessian(net, DATA)
    res = h - jac.T @ jac
    m = net.m
    blocks = hs.residual_blocks(net, DATA)
    # only the c–a and c–b entries of the same neuron are non-zero
    expect = np.zeros_like(res)
    for i in range(m):
        for t in range(3):
            for u in range(3):
                expect[t * m + i, u * m + i] = blocks[i, t, u]
    np.testing.assert_allclose(res, expect, atol=1e-13)
    assert np.all(blocks[:, :2, :2] == 0) and np.all(blocks[:, 2, 2] == 0)
    r = np.hypot(blocks[:, 0, 2], blocks[:, 1, 2])
    ev = np.linalg.eigvalsh(blocks)
    np.testing.assert_allclose(ev, np.stack([-r, 0 * r, r], axis=1), atol=1e-14)
    # spline coordinates: ±|Rᵢ| with Rᵢ the residual sum over the active samples
    rho = net(DATA.x) - DATA.y
    act = np.multiply.outer(DATA.x, net.a) > net.b
    ev2 = np.linalg.eigvalsh(hs.residual_blocks(net, DATA, "spline"))
    big_r = np.abs(rho @ act)
    np.testing.assert_allclose(ev2, np.stack([-big_r, big_r], axis=1), atol=1e-14)


def _rel_err(net, data, coordinates="abc"):
    """Structured spectrum against the spectrum of the central-difference Hessian (independent
    of relu1d.hessian: the reference gradient of relu1d.train), relative to the spectral norm."""
    h_fd = (_fd_abc if coordinates == "abc" else _fd_spline)(net, data)
    dense = np.linalg.eigvalsh(0.5 * (h_fd + h_fd.T))
    fast = hs.eigvalsh(net, data, coordinates)
    assert fast.shape == dense.shape
    # a network dead on every sample has H = 0 (and a zero gradient): then the error must be
    # exactly 0
    return np.max(np.abs(dense - fast)) / max(np.max(np.abs(dense)), np.finfo(float).tiny)


@pytest.mark.parametrize("m", [1, 3, 40, 200])
@pytest.mark.parametrize("coordinates", ["abc", "spline"])
def test_structured_spectrum_matches_finite_differences_at_random_points(m, coordinates):
    for seed, scheme in enumerate(("uniform", "gaussian")):
        net = r1.init_network(m, scheme, seed=seed)
        # central differences of a cubic gradient: O(h²) truncation plus rounding ε|∇L|/h ≈ 1e-11
        assert _rel_err(net, DATA, coordinates) < 1e-8


def test_structured_spectrum_with_ties_kinks_and_dead_neurons():
    # neurons sharing activation sets, a = 0 neurons, exact kinks on samples, c = 0.
    # At an exact kink the Hessian is a convention (module docstring), so finite differences
    # do not apply: this checks the grouping against the dense matrix of the same convention.
    x = DATA.x
    a = np.array([1.0, 1.0, -2.0, 0.0, 0.0, 1.0, 3.0, -1.0])
    b = np.array([x[3], x[3] + 1e-3, -2 * x[5], -1.0, 1.0, 5.0, 3 * x[7], -x[0]])
    c = np.array([0.5, -1.0, 0.7, 0.3, 2.0, 1.0, 0.0, -0.4])
    net = r1.Network(a, b, c, 1.0)
    dense = np.linalg.eigvalsh(hs.hessian(net, DATA))
    np.testing.assert_allclose(hs.eigvalsh(net, DATA), dense, atol=1e-12 * np.abs(dense).max())


def test_structured_spectrum_at_trained_points():
    net0 = r1.init_network(60, seed=7)
    trained = r1.train(net0, DATA, lr=0.05, steps=3000, progress=False).network
    assert _kink_margin(trained, DATA) > 1e-8  # finite differences stay on one activation pattern
    assert _rel_err(trained, DATA) < 1e-7
    assert _rel_err(trained, DATA, "spline") < 1e-7
    # and the structured spectrum against the dense matrix of the same pieces, to rounding
    dense = np.linalg.eigvalsh(hs.hessian(trained, DATA))
    np.testing.assert_allclose(hs.eigvalsh(trained, DATA), dense, atol=1e-10 * np.abs(dense).max())


def test_finite_difference_check_sees_the_residual_part(monkeypatch):
    # a mutation that drops the residual blocks (H = JᵀJ) must fail the check at a point with
    # non-zero residual: the blocks' eigenvalues are a sizeable fraction of ‖H‖ there
    net = r1.init_network(40, seed=3)
    assert _rel_err(net, DATA) < 1e-8
    pieces = hs._pieces

    def without_blocks(*args):
        act, rho, coef, blocks = pieces(*args)
        return act, rho, coef, 0 * blocks

    monkeypatch.setattr(hs, "_pieces", without_blocks)
    assert _rel_err(net, DATA) > 1e-2
    # ±|Rᵢ| against a larger JᵀJ in (μ, β): still ≫ 1e-8
    assert _rel_err(net, DATA, "spline") > 1e-4


def test_eigvalsh_at_large_width_is_fast_and_consistent():
    net = r1.init_network(100_000, seed=1)
    t0 = time.perf_counter()
    ev = hs.eigvalsh(net, DATA)
    elapsed = time.perf_counter() - t0
    assert ev.size == 300_000 and np.all(np.diff(ev) >= 0)
    assert elapsed < 10.0
    # trace(H) = ‖J‖_F² (the residual blocks have zero diagonal: this sees the multiplicities
    # of the Gauss–Newton part only; the residual part is checked at m = 2000 below)
    jac_sq = np.sum(hs.jacobian(net, DATA) ** 2)
    np.testing.assert_allclose(ev.sum(), jac_sq, rtol=1e-9)


def test_eigvalsh_extremes_against_lanczos_on_finite_difference_products():
    # m = 2000 (6000 parameters): λ_min < 0 comes from the residual blocks; ARPACK on
    # Hessian-vector products (∇L(z + hv) − ∇L(z − hv))/2h of the reference gradient
    from scipy.sparse.linalg import LinearOperator, eigsh

    net = r1.init_network(2000, seed=1)
    g = _grad(net, DATA)
    z = np.concatenate([net.a, net.b, net.c])
    h = min(1e-5, 0.5 * _kink_margin(net, DATA))   # |Δ(aᵢxⱼ − bᵢ)| ≤ h(1 + |xⱼ|) for a unit step

    def hvp(v):
        n = np.linalg.norm(v)
        return n * (g(z + h * v / n) - g(z - h * v / n)) / (2 * h) if n else np.zeros_like(v)

    op = LinearOperator((z.size, z.size), matvec=lambda v: hvp(np.ravel(v)), dtype=float)
    lo, hi = np.sort(eigsh(op, k=2, which="BE", tol=1e-10, ncv=60, v0=np.ones(z.size),
                           return_eigenvectors=False))
    ev = hs.eigvalsh(net, DATA)
    assert lo < -1e-2 * hi     # the residual part is resolved
    np.testing.assert_allclose([ev[0], ev[-1]], [lo, hi], rtol=1e-7)


def test_interpolating_minimum_has_at_least_3m_minus_s_zero_eigenvalues():
    # random first layer, c from the min-norm least-squares solve: an exact global minimum
    net = r1.init_network(30, seed=3)
    feats = np.maximum(np.multiply.outer(DATA.x, net.a) - net.b, 0) / net.alpha
    c = np.linalg.lstsq(feats, DATA.y, rcond=None)[0]
    net = r1.Network(net.a, net.b, c, net.alpha)
    assert np.max(np.abs(net(DATA.x) - DATA.y)) < 1e-12
    ev = hs.eigvalsh(net, DATA)
    tol = 1e-9 * np.abs(ev).max()     # a fixed fraction of ‖H‖: it does not grow with the residual
    assert np.sum(np.abs(ev) <= tol) >= 3 * net.m - DATA.s
    assert ev.min() > -tol
    # the count discriminates: at the same first layer with a non-interpolating c (the init's),
    # the residual blocks (eigenvalues ±√(p²+q²), 0) lift the count below 3m − s
    ev0 = hs.eigvalsh(r1.init_network(30, seed=3), DATA)
    assert np.sum(np.abs(ev0) <= 1e-9 * np.abs(ev0).max()) < 3 * net.m - DATA.s


def test_bad_input():
    net = r1.init_network(3)
    with pytest.raises(TypeError, match="net must be"):
        hs.hessian("net", DATA)
    with pytest.raises(TypeError, match="data must be"):
        hs.eigvalsh(net, (DATA.x, DATA.y))
    with pytest.raises(ValueError, match="coordinates"):
        hs.jacobian(net, DATA, "polar")
    with pytest.raises(ValueError, match="a_i != 0"):
        hs.hessian(r1.Network([0.0, 1.0], [0.0, 0.0], [1.0, 1.0]), DATA, "spline")
    with pytest.raises(ValueError, match="eigvalsh"):
        hs.hessian(r1.init_network(6000), DATA)
