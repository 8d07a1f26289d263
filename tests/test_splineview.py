"""relu1d.splineview: initial breakpoint and delta-slope laws (goodness of fit),
flatness in closed form against sampling, exact roughness, spline velocities against
finite differences, and stationary breakpoints of dead-output neurons."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

import relu1d as r1
from relu1d import splines
from relu1d import splineview as sv
from relu1d.train._reference import loss_and_grad

DATA = r1.datasets.sinusoid(10, seed=0)


# ---------------------------------------------------------------------- init laws
@pytest.mark.parametrize("scheme", ["uniform", "gaussian"])
def test_breakpoint_law_goodness_of_fit(scheme):
    net = r1.init_network(20_000, scheme, seed=11, ab_scale=0.3, c_scale=5.0)
    p = stats.kstest(net.breakpoints, lambda t: sv.breakpoint_cdf(t, scheme)).pvalue
    assert p > 1e-3   # fixed seed; a wrong law (e.g. Cauchy for uniform) gives p < 1e-50
    wrong = "gaussian" if scheme == "uniform" else "uniform"
    assert stats.kstest(net.breakpoints, lambda t: sv.breakpoint_cdf(t, wrong)).pvalue < 1e-10


@pytest.mark.parametrize("scheme", sv.ZERO_BIAS_SCHEMES)
def test_zero_bias_schemes_put_every_breakpoint_at_zero(scheme):
    net = r1.init_network(1000, scheme, seed=1)
    assert np.all(net.breakpoints == 0)
    np.testing.assert_array_equal(sv.breakpoint_cdf([-1e-300, 0.0, 1.0], scheme), [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="every breakpoint is exactly 0"):
        sv.breakpoint_pdf(0.0, scheme)


@pytest.mark.parametrize("scheme", ["uniform", "gaussian"])
def test_breakpoint_pdf_is_the_derivative_of_the_cdf(scheme):
    t = np.array([-7.3, -1.5, -0.4, 0.3, 0.99, 1.01, 4.0])
    h = 1e-6
    num = (sv.breakpoint_cdf(t + h, scheme) - sv.breakpoint_cdf(t - h, scheme)) / (2 * h)
    np.testing.assert_allclose(sv.breakpoint_pdf(t, scheme), num, rtol=1e-6)
    assert integrate.quad(lambda u: sv.breakpoint_pdf(u, scheme), -np.inf, np.inf)[
        0
    ] == pytest.approx(1, abs=1e-8)


@pytest.mark.parametrize("scheme", list(r1.SCHEMES))
def test_delta_slope_law_goodness_of_fit(scheme):
    m, args = 20_000, dict(alpha="sqrt", ab_scale=2.0, c_scale=0.5)
    net = r1.init_network(m, scheme, seed=12, **args)
    cdf = lambda t: sv.delta_slope_cdf(t, scheme, m, **args)  # noqa: E731
    assert stats.kstest(net.delta_slopes, cdf).pvalue > 1e-3
    # the density integrates to the cdf
    lo, hi = np.quantile(net.delta_slopes, [0.2, 0.7])
    val = integrate.quad(
        lambda u: sv.delta_slope_pdf(u, scheme, m, **args), lo, hi, points=[0.0], limit=200
    )[0]
    assert val == pytest.approx(cdf(hi) - cdf(lo), rel=1e-6)


def test_weight_moments_match_init_network_samples():
    m = 200_000
    for scheme in r1.SCHEMES:
        mom = sv.weight_moments(scheme, m)
        net = r1.init_network(m, scheme, alpha="one", seed=3)
        # relative standard error of a sample variance ≈ √(2/m) (normal) or less (uniform)
        assert np.var(net.a) == pytest.approx(mom["var_a"], rel=6 * math.sqrt(2 / m))
        assert np.var(net.c) == pytest.approx(mom["var_c"], rel=6 * math.sqrt(2 / m))
        assert np.all(net.b == 0) == mom["zero_bias"]


# ---------------------------------------------------------------------- flatness
def test_expected_sum_mu2_values_of_the_standard_schemes():
    m = 50
    got = {s: sv.expected_roughness(s, m, alpha="one")["sum_mu2"] for s in r1.SCHEMES}
    assert got["uniform"] == pytest.approx(1 / 9)
    assert got["he"] == pytest.approx(4)
    assert got["lecun"] == pytest.approx(1)
    assert got["gaussian"] == pytest.approx(1)
    assert got["xavier"] == pytest.approx(4 * m / (m + 1) ** 2)
    # α = √m divides by m; scales enter squared
    assert sv.expected_roughness("he", m, alpha="sqrt", ab_scale=2, c_scale=3)[
        "sum_mu2"
    ] == pytest.approx(4 * 36 / m)


@pytest.mark.parametrize("scheme", list(r1.SCHEMES))
@pytest.mark.parametrize("interval", [(-1.0, 1.0), (-0.3, 2.5)])
def test_expected_roughness_against_sampling(scheme, interval):
    m, n = 40, 600
    ex = sv.expected_roughness(scheme, m, alpha="one", ab_scale=1.5, interval=interval)
    vals = {k: [] for k in ex}
    for seed in range(n):
        got = sv.roughness(
            r1.init_network(m, scheme, alpha="one", ab_scale=1.5, seed=seed), interval
        )
        for k in ex:
            vals[k].append(got[k])
    for k, v in vals.items():
        v = np.asarray(v)
        se = v.std() / math.sqrt(n)
        assert abs(v.mean() - ex[k]) < 4.5 * se + 1e-12, (k, v.mean(), ex[k], se)


def test_roughness_exact_for_networks_and_splines():
    net = r1.Network([1.0, -2.0, 1.0], [0.5, 1.0, 0.5], [2.0, 1.0, -1.0], 1.0)
    # breakpoints 0.5 (twice, μ = 2 and −1, merged: jump 1) and −0.5 (μ = 2)
    got = sv.roughness(net, (-1.0, 1.0))
    assert got["tv_fprime"] == pytest.approx(3.0)
    assert got["sum_mu2"] == pytest.approx(4 + 4 + 1)
    xs = np.linspace(-1, 1, 400_001)
    fp = np.gradient(net(xs), xs)
    assert got["int_fprime2"] == pytest.approx(np.trapezoid(fp ** 2, xs), rel=1e-4)
    lin = splines.linear(DATA)
    slopes = np.diff(DATA.y) / np.diff(DATA.x)
    got = sv.roughness(lin, (DATA.x[0], DATA.x[-1]))
    assert got["int_fprime2"] == pytest.approx(np.sum(slopes ** 2 * np.diff(DATA.x)))
    assert got["tv_fprime"] == pytest.approx(np.sum(np.abs(np.diff(slopes))))
    cub = splines.natural_cubic(DATA)
    got = sv.roughness(cub, (-1.0, 1.0))
    d1, d2 = cub.derivative(xs, 1), cub.derivative(xs, 2)
    assert got["int_fprime2"] == pytest.approx(np.trapezoid(d1 ** 2, xs), rel=1e-8)
    assert got["tv_fprime"] == pytest.approx(np.trapezoid(np.abs(d2), xs), rel=1e-8)
    assert got["sum_mu2"] == pytest.approx(0, abs=1e-20)   # C¹: no jumps of f'


def test_standard_inits_are_much_flatter_than_the_target():
    target = sv.roughness(splines.linear(DATA), (-1.0, 1.0))
    for scheme in r1.SCHEMES:
        ex = sv.expected_roughness(scheme, 100)   # α = √m
        assert ex["int_fprime2"] < 0.02 * target["int_fprime2"]
        assert ex["sum_mu2"] < 0.01 * target["sum_mu2"]


# ---------------------------------------------------------------------- dynamics
def test_residual_moments_give_the_reference_gradient():
    net = r1.init_network(25, "gaussian", seed=2)
    big_r, big_e = sv.residual_moments(net, DATA)
    _, ga, gb, gc = loss_and_grad(net.a, net.b, net.c, net.alpha, DATA.x, DATA.y)
    np.testing.assert_allclose(ga, net.c * big_e / net.alpha, atol=1e-14)
    np.testing.assert_allclose(gb, -net.c * big_r / net.alpha, atol=1e-14)
    np.testing.assert_allclose(gc, (net.a * big_e - net.b * big_r) / net.alpha, atol=1e-14)


@pytest.mark.parametrize("trainable", ["abc", "ab", "c", "a"])
def test_spline_velocity_is_the_chain_rule_of_the_gradient(trainable):
    # an independent check: one tiny gradient step of the trainable parameters
    net = r1.init_network(15, seed=6)
    _, ga, gb, gc = loss_and_grad(net.a, net.b, net.c, net.alpha, DATA.x, DATA.y)
    h = 1e-7
    step = {n: (g if n in trainable else 0 * g) for n, g in zip("abc", (ga, gb, gc))}
    moved = r1.Network(
        net.a - h * step["a"], net.b - h * step["b"], net.c - h * step["c"], net.alpha
    )
    back = r1.Network(
        net.a + h * step["a"], net.b + h * step["b"], net.c + h * step["c"], net.alpha
    )
    beta_dot, mu_dot = sv.spline_velocity(net, DATA, trainable)
    np.testing.assert_allclose(
        beta_dot, (moved.breakpoints - back.breakpoints) / (2 * h), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        mu_dot, (moved.delta_slopes - back.delta_slopes) / (2 * h), rtol=1e-6, atol=1e-9
    )


def test_spline_velocity_closed_forms_and_scaling():
    net = r1.init_network(20, seed=8)
    big_r, big_e = sv.residual_moments(net, DATA)
    a, c, al, beta, s = net.a, net.c, net.alpha, net.breakpoints, np.sign(net.a)
    bd, md = sv.spline_velocity(net, DATA)
    np.testing.assert_allclose(bd, c / (al * a) * (big_r + beta * big_e), rtol=1e-12)
    np.testing.assert_allclose(
        md, -s / al**2 * (a**2 * (big_e - beta * big_r) + c**2 * big_e), rtol=1e-12, atol=1e-15
    )
    # at f ≈ 0 (tiny init) scaling all weights by σ keeps β̇ and multiplies μ̇ by σ²
    small = [r1.init_network(20, seed=8, ab_scale=k, c_scale=k) for k in (1e-4, 1e-3)]
    (b1, m1), (b2, m2) = (sv.spline_velocity(n, DATA) for n in small)
    np.testing.assert_allclose(b2, b1, rtol=1e-5)
    np.testing.assert_allclose(m2, 100 * m1, rtol=1e-5)


def test_spline_velocity_against_a_recorded_gd_trajectory():
    net = r1.init_network(30, seed=1)
    errs = []
    for lr in (1e-3, 1e-4):
        snaps = r1.train(
            net, DATA, lr=lr, steps=60, record_every=1, progress=False, max_snapshots=None
        ).snapshots
        k = 50
        fd = (snaps.b[k + 1] / snaps.a[k + 1] - snaps.b[k - 1] / snaps.a[k - 1]) / (2 * lr)
        bd, _ = sv.spline_velocity(snaps.network(k), DATA)
        errs.append(np.max(np.abs(fd - bd)) / np.max(np.abs(bd)))
    # a discrete GD step differs from the flow by O(lr): the error falls with lr
    assert errs[1] < 1e-3 and errs[1] < 0.3 * errs[0]


def test_stationary_breakpoints_make_a_saddle_at_zero_output():
    from relu1d import hessian as hs
    data = r1.datasets.random(10, seed=0)   # its ramp correlation g₊ changes sign once
    probe = r1.Network([1.0], [0.0], [0.0], 1.0)
    beta, orient = sv.stationary_breakpoints(probe, data)
    assert beta.size >= 1 and np.all((beta > data.x[0]) & (beta < data.x[-1]))
    net = r1.Network(orient, orient * beta, np.zeros(beta.size), 1.0)
    _, ga, gb, gc = loss_and_grad(net.a, net.b, net.c, net.alpha, data.x, data.y)
    assert max(np.abs(ga).max(), np.abs(gb).max(), np.abs(gc).max()) < 1e-13   # a critical point
    big_r, big_e = sv.residual_moments(net, data)
    assert np.all(np.hypot(big_r, big_e) > 1e-3)
    assert hs.eigvalsh(net, data).min() < -1e-3                                  # ... and a saddle


def test_bad_input():
    with pytest.raises(ValueError, match="scheme"):
        sv.breakpoint_cdf(0.0, "xavier_uniform")
    with pytest.raises(ValueError, match="interval"):
        sv.roughness(r1.init_network(3), (1.0, -1.0))
    with pytest.raises(TypeError, match="must be a relu1d.Network"):
        sv.roughness(np.sin)
    with pytest.raises(ValueError, match="trainable"):
        sv.spline_velocity(r1.init_network(3), DATA, "xyz")
    with pytest.raises(TypeError, match="data must be"):
        sv.residual_moments(r1.init_network(3), None)


def test_spline_velocity_against_the_exact_flow():
    net = r1.init_network(30, seed=1)
    dt = 1e-3
    snaps = r1.train(net, DATA, method="flow", lr=dt, steps=60, record_every=1, progress=False,
                     rtol=1e-12, atol=1e-14, max_snapshots=None).snapshots
    k = 30
    fd_beta = (snaps.b[k + 1] / snaps.a[k + 1] - snaps.b[k - 1] / snaps.a[k - 1]) / (2 * dt)
    mu = [snaps.c[j] * np.abs(snaps.a[j]) / net.alpha for j in (k - 1, k + 1)]
    bd, md = sv.spline_velocity(snaps.network(k), DATA)
    # central differences: O(dt²)·(third derivative) ≈ 1e-6 relative here
    assert np.max(np.abs(fd_beta - bd)) < 1e-5 * np.max(np.abs(bd))
    assert np.max(np.abs((mu[1] - mu[0]) / (2 * dt) - md)) < 1e-5 * np.max(np.abs(md))
