"""relu1d._gibbs: entropy estimator, free energy, Gibbs potential, Stein identity, and
the mapping of Shevchenko et al.'s setting onto relu1d.train."""

import math

import numpy as np
import pytest

import relu1d as r1
from relu1d._gibbs import (
    FreeEnergy,
    free_energy,
    gibbs_potential,
    gibbs_potential_grad,
    knn_entropy,
    network_from_theta,
    shevchenko_init,
    shevchenko_train_kwargs,
    stein_discrepancy,
    theta_from_network,
)
from relu1d.train import _reference


def _gauss_entropy(var):
    var = np.asarray(var, float)
    return 0.5 * var.size * math.log(2 * math.pi * math.e) + 0.5 * float(np.sum(np.log(var)))


# ---------------------------------------------------------------- entropy
def test_knn_entropy_gaussian_3d_mean_error_small():
    var = np.array([1.0, 0.25, 4.0])
    errs = [
        knn_entropy(np.random.default_rng(s).standard_normal((2000, 3)) * np.sqrt(var))
        - _gauss_entropy(var)
        for s in range(10)
    ]
    # measured bias ≈ −0.018 nats, spread of one estimate ≈ 0.04 at n = 2000
    assert abs(np.mean(errs)) < 0.05
    assert np.std(errs) < 0.08


def test_knn_entropy_spread_falls_with_n():
    var = np.ones(3)
    spread = []
    for n in (250, 4000):
        errs = [
            knn_entropy(np.random.default_rng(100 + s).standard_normal((n, 3)))
            - _gauss_entropy(var)
            for s in range(10)
        ]
        spread.append(np.sqrt(np.mean(np.square(errs))))
    assert spread[1] < spread[0] / 2


def test_knn_entropy_one_dimensional_uniform_and_k():
    x = np.random.default_rng(0).uniform(0, 3, 5000)
    for k in (1, 3):
        assert knn_entropy(x, k=k) == pytest.approx(math.log(3.0), abs=0.05)


def test_knn_entropy_scaling_law():
    # H(cX) = H(X) + d log c exactly for this estimator (distances scale by c).
    x = np.random.default_rng(1).standard_normal((300, 3))
    assert knn_entropy(2.5 * x) == pytest.approx(knn_entropy(x) + 3 * math.log(2.5), abs=1e-10)


def test_knn_entropy_coincident_points_minus_inf_and_errors():
    x = np.zeros((10, 3))
    assert knn_entropy(x) == -math.inf
    with pytest.raises(ValueError, match="more than k"):
        knn_entropy(np.ones((2, 3)), k=2)
    with pytest.raises(ValueError, match="shape"):
        knn_entropy(np.ones((2, 3, 4)))
    with pytest.raises(TypeError, match="samples"):
        knn_entropy("abc")
    with pytest.raises(ValueError, match="k must be >= 1"):
        knn_entropy(np.ones((5, 1)), k=0)


# ---------------------------------------------------------------- coordinates
def test_theta_roundtrip_and_their_formula():
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((7, 3))
    net = network_from_theta(theta)
    assert net.alpha == 7
    np.testing.assert_array_equal(theta_from_network(net), theta)
    x = np.linspace(-2, 2, 11)
    direct = np.mean(
        theta[:, 0:1] * np.maximum(np.outer(theta[:, 1], x) + theta[:, 2:3], 0), axis=0
    )
    np.testing.assert_allclose(net(x), direct, rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="shape"):
        network_from_theta(np.ones((3, 2)))


def test_shevchenko_init_is_mean_field():
    for n in (100, 20_000):
        net = shevchenko_init(n, scale=0.5, seed=3)
        assert net.alpha == n
        th = theta_from_network(net)
        if n == 20_000:
            np.testing.assert_allclose(th.std(axis=0), 0.5, rtol=0.03)
    with pytest.raises(ValueError, match="scale"):
        shevchenko_init(10, scale=0.0)


# ---------------------------------------------------------------- mapping onto train()
def test_train_kwargs_values():
    kw = shevchenko_train_kwargs(0.5, 0.01, 0.003, 200)
    assert kw["method"] == "langevin" and kw["batch_size"] == 1 and kw["lr_scale"] == "width"
    assert kw["lr"] == pytest.approx(1.0)
    assert kw["weight_decay"] == pytest.approx(0.003 / 200)
    assert kw["temperature"] == pytest.approx(0.01 / 400)
    lr_eff = 200 * kw["lr"]
    assert lr_eff * kw["weight_decay"] == pytest.approx(2 * 0.003 * 0.5)      # 2λs
    assert 2 * lr_eff * kw["temperature"] == pytest.approx(2 * 0.5 * 0.01)    # 2s/β
    gibbs = shevchenko_train_kwargs(0.5, 0.01, 0.003, 200, noise="gibbs")
    assert 2 * lr_eff * gibbs["temperature"] == pytest.approx(4 * 0.5 * 0.01)  # 4s/β
    assert shevchenko_train_kwargs(1.0, 0.0, 0.0, 10)["temperature"] == 0.0


@pytest.mark.parametrize("bad, exc, word", [
    (dict(step=0.0), ValueError, "step"), (dict(inv_beta=-1.0), ValueError, "inv_beta"),
    (dict(lam=-0.1), ValueError, "lam"), (dict(width=0), ValueError, "width"),
    (dict(noise="loud"), ValueError, "noise"), (dict(step="1"), TypeError, "step")])
def test_train_kwargs_validation(bad, exc, word):
    args = dict(step=1.0, inv_beta=0.01, lam=0.0, width=10)
    args.update(bad)
    noise = args.pop("noise", "printed")
    with pytest.raises(exc, match=word):
        shevchenko_train_kwargs(**args, noise=noise)


# ---------------------------------------------------------------- free energy and Ψ
def _small_problem(seed=4, n=9):
    rng = np.random.default_rng(seed)
    net = network_from_theta(rng.standard_normal((n, 3)))
    data = r1.Dataset(rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5))
    return net, data


def test_free_energy_parts():
    net, data = _small_problem()
    th = theta_from_network(net)
    fe = free_energy(net, data, lam=0.2, inv_beta=0.0)
    risk = np.mean((net(data.x) - data.y) ** 2)
    pen = np.mean(np.sum(th ** 2, axis=1))
    assert isinstance(fe, FreeEnergy)
    assert fe.risk == pytest.approx(risk) and fe.penalty == pytest.approx(pen)
    assert fe.value == pytest.approx(0.5 * risk + 0.1 * pen)
    assert math.isnan(fe.entropy)
    warm = free_energy(net, data, lam=0.2, inv_beta=0.5)
    assert warm.value == pytest.approx(fe.value - 0.5 * knn_entropy(th))
    with pytest.raises(ValueError, match="alpha must equal net.m"):
        free_energy(r1.Network([1.0, 2.0], [0.0, 0.0], [1.0, 1.0], alpha=1.0), data, 0.1, 0.0)
    with pytest.raises(TypeError, match="data"):
        free_energy(net, [1, 2], 0.1, 0.0)


def test_gibbs_potential_formula_and_fd_gradient():
    net, data = _small_problem()
    lam = 0.3
    resid = net(data.x) - data.y
    pts = np.random.default_rng(5).standard_normal((6, 3))
    direct = [
        np.mean(resid * t[0] * np.maximum(t[1] * data.x + t[2], 0)) + 0.5 * lam * t @ t for t in pts
    ]
    np.testing.assert_allclose(gibbs_potential(net, data, lam, pts), direct, rtol=1e-12)
    grad = gibbs_potential_grad(net, data, lam, pts)
    h = 1e-6
    for l in range(3):
        e = np.zeros(3)
        e[l] = h
        fd = (
            gibbs_potential(net, data, lam, pts + e) - gibbs_potential(net, data, lam, pts - e)
        ) / (2 * h)
        np.testing.assert_allclose(grad[:, l], fd, rtol=1e-6, atol=1e-8)


def test_gibbs_gradient_is_N_times_the_particle_gradient_of_half_objective():
    # ∇Ψ(θᵢ; ρ_N) = N·∇_{θᵢ}[½R + (λ/2N)Σ‖θ‖²], R the mean squared error: compare with the
    # engine's numpy reference gradient of ½Σ(f − y)² (our coordinates (c, a, −b)).
    net, data = _small_problem(n=11)
    lam = 0.05
    _, ga, gb, gc = _reference.loss_and_grad(net.a, net.b, net.c, net.alpha, data.x, data.y)
    ours = net.m / len(data) * np.column_stack((gc, ga, -gb)) + lam * theta_from_network(net)
    np.testing.assert_allclose(gibbs_potential_grad(net, data, lam), ours, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- Stein
def test_stein_terms_against_finite_differences():
    net, data = _small_problem(n=40)
    lam, inv_beta, width = 0.1, 0.2, 0.8
    centers = np.random.default_rng(6).standard_normal((3, 3))
    res = stein_discrepancy(net, data, lam, inv_beta, centers=centers, width=width)
    th = theta_from_network(net)
    grad_psi = gibbs_potential_grad(net, data, lam)
    h = 1e-4

    def fd_terms(phi):
        g = np.zeros_like(th)
        lap = np.zeros(th.shape[0])
        for l in range(3):
            e = np.zeros(3)
            e[l] = h
            g[:, l] = (phi(th + e) - phi(th - e)) / (2 * h)
            lap += (phi(th + e) - 2 * phi(th) + phi(th - e)) / h ** 2
        return np.mean(np.sum(g * grad_psi, axis=1) - inv_beta * lap)

    phis = [lambda t, l=l: t[:, l] for l in range(3)] + [
        lambda t, l=l: 0.5 * t[:, l] ** 2 for l in range(3)
    ]
    phis += [
        lambda t, mu=mu: np.exp(-np.sum((t - mu) ** 2, axis=1) / (2 * width**2)) for mu in centers
    ]
    expected = [fd_terms(p) for p in phis]
    np.testing.assert_allclose(res.value, expected, rtol=1e-5, atol=1e-7)
    assert res.names[:6] == ("theta_a", "theta_w", "theta_b", "half_sq_a", "half_sq_w", "half_sq_b")
    assert np.all(res.scale >= np.abs(res.value) - 1e-15)


def test_stein_identity_on_an_exact_gibbs_sample():
    # Make the residual exactly zero (y := the network's own value), so Ψ = (λ/2)‖θ‖² and
    # exp(−βΨ) is N(0, 1/(βλ)); draw the particles from it: every Stein value is
    # zero up to sampling error, and reading it at the wrong β (2β) is not.
    lam, inv_beta, n = 0.5, 0.2, 20_000
    th = np.random.default_rng(7).standard_normal((n, 3)) * math.sqrt(inv_beta / lam)
    net = network_from_theta(th)
    data = r1.Dataset([0.3], net(np.array([0.3])))
    centers = th[:5]
    res = stein_discrepancy(net, data, lam, inv_beta, centers=centers)
    assert np.max(np.abs(res.zscore)) < 4.5
    wrong = stein_discrepancy(net, data, lam, inv_beta / 2, centers=centers)
    assert np.max(np.abs(wrong.zscore)) > 20
    assert np.max(wrong.relative) > 0.3


def test_stein_validation():
    net, data = _small_problem()
    with pytest.raises(ValueError, match="centers"):
        stein_discrepancy(net, data, 0.1, 0.1, centers=np.ones((2, 2)))
    with pytest.raises(ValueError, match="width"):
        stein_discrepancy(net, data, 0.1, 0.1, width=-1.0)
    with pytest.raises(ValueError, match="inv_beta"):
        stein_discrepancy(net, data, 0.1, -0.1)
    same = network_from_theta(np.ones((4, 3)))
    with pytest.raises(ValueError, match="coincide"):
        stein_discrepancy(same, data, 0.1, 0.1)


# ---------------------------------------------------------------- the noise factor, end to end
@pytest.mark.parametrize("noise, factor", [("printed", 0.5), ("gibbs", 1.0)])
def test_stationary_variance_without_data_term(noise, factor):
    # One sample with y = 0 and N = 20000 particles: ŷ ~ N^(-1/2)·small, so the data drift
    # is negligible and each coordinate is the AR(1) chain θ ← (1 − 2λs)θ + σg of the
    # mapped update, with stationary variance σ²/(1 − (1 − 2λs)²). Printed σ² = 2s/β:
    # β⁻¹/(2λ(1 − λs)), half the Gibbs variance 1/(βλ) of exp(−βλ‖θ‖²/2) (up to 1 − λs);
    # σ² = 4s/β: the Gibbs variance. Run through relu1d.train with the mapped kwargs, so
    # it checks the engine's temperature mapping without reference to how it draws noise.
    s, inv_beta, lam, n = 0.05, 0.1, 0.5, 20_000
    net = shevchenko_init(n, scale=0.1, seed=1)
    data = r1.Dataset([0.5], [0.0])
    traj = r1.train(
        net,
        data,
        steps=400,
        record_every=20,
        seed=2,
        progress=False,
        max_snapshots=None,
        **shevchenko_train_kwargs(s, inv_beta, lam, n, noise=noise),
    )
    snaps = traj.snapshots
    var = np.mean(
        [
            np.var(theta_from_network(snaps.network(k)), axis=0)
            for k in range(len(snaps) - 5, len(snaps))
        ],
        axis=0,
    )
    expected = factor * inv_beta / (lam * (1 - lam * s))
    np.testing.assert_allclose(var, expected, rtol=0.03)
