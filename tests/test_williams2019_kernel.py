"""Williams et al. 2019, kernel regime: Fig. 3, Theorem 5 (uniform), App. A.3 (Gaussian),
finite width and finite time. Quick presets in the default run, the paper's under -m slow.

Claims are looked up by id; every measured value is bracketed by a range that comes from
theory or from an independent computation in this file (the exact uniform kernel by
closed-form integration, a hand-solved natural spline, exact rational arithmetic)."""

from fractions import Fraction

import numpy as np
import pytest

import relu1d as r1
from relu1d.experiments._registry import REGISTRY
from relu1d.experiments.williams2019 import kernel_regime as kr

# name -> {claim id: (verdict, low, high)}: the measured value must lie in [low, high].
EXPECTED = {
    "williams2019.fig3": {
        # exact c-only flow run to e^{-32}: the residual is rounding
        "interpolates": ("holds", 0.0, 1e-8),
        # Monte-Carlo rate m^(-1/2) of the Gram matrix
        "rate_m_half": ("holds", -0.7, -0.3),
        "distance_decreases": ("holds", 0.0, 1.0),
        # independent value at jitter seed 0: 0.047% (issue 11; test_natural_gap_on_square_waves)
        "limit_is_natural_spline_on_square_wave": ("holds", 2e-4, 1e-3),
        # the affine charge keeps f'' at the ends at about half a percent of its maximum
        "limit_f2_ends_nonzero_on_square_wave": ("holds", 1e-3, 3e-2),
    },
    "williams2019.theorem5_uniform": {
        # pure rounding, and rounding is 0.3–1 units
        # (test_rounding_unit_is_the_size_of_the_rounding_of_f)
        "cubic_between_data": ("holds", 1e-2, 100.0),
        # a second difference of rounding, amplified by ~1/w² and brought back by w²: ≥ a
        # fraction of a unit
        "f2_continuous": ("holds", 1e-1, 1e4),
        "f3_jumps": ("holds", 0.0, 1e-4),
        "norm_identity": ("holds", 0.0, 1e-7),
        "natural_norm_larger": ("holds", 0.5, 1.0),
        # NOTES.md, affine charge: f'' ≈ 1% of its max at the ends on random data
        "f2_ends_nonzero": ("holds", 1e-3, 0.1),
        "not_natural_spline": ("holds", 1e-3, 0.5),
        "f2_outside_nonzero": ("holds", 1e-3, 0.2),
    },
    "williams2019.appendix_a3_gaussian": {
        "corrected_weight_affine": ("holds", 1e-2, 100.0),
        "printed_weight_not_affine": ("holds", 1e4, 1e12),
        "not_cubic_spline": ("holds", 1e-6, 1.0),
        "visible_gap_to_natural": ("holds", 1e-3, 5.0),
    },
    "williams2019.finite_width_time": {
        "rate_m_half_t1": ("holds", -0.7, -0.3),
        "rate_m_half_t10": ("holds", -0.7, -0.3),
        "rate_m_half_t30": ("holds", -0.7, -0.3),
        "rate_m_half_t100": ("holds", -0.7, -0.3),
        "rate_m_half_t1000": ("holds", -0.7, -0.3),
    },
}


def _check(result, name):
    expected = EXPECTED[name]
    assert result.claims, name
    for claim in result.claims:
        assert claim.id in expected, (name, claim.id)
        verdict, low, high = expected[claim.id]
        assert claim.verdict == verdict, (name, claim)
        assert low <= claim.measured <= high, (name, claim.id, claim.measured, (low, high))
        if claim.id.startswith("rate_m_half"):
            assert claim.seeds >= 3 and claim.interval[0] < claim.measured < claim.interval[1]
    assert result.data.sizes and result.figures
    for fig in result.figures.values():
        assert hasattr(fig, "savefig")


def _judged_from_disk(exp, result, spec, path):
    """``exp.judge`` on the result's dataset after a round trip through netCDF."""
    import xarray as xr

    from relu1d._storage import write_netcdf

    write_netcdf(result.data, path)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return exp.judge(ds.load(), spec)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_quick_preset_claims(name, tmp_path):
    exp = REGISTRY[name]
    result = exp.run(exp.quick)
    _check(result, name)
    # the verdicts can be recomputed from the stored data alone
    assert exp.judge is not None
    assert _judged_from_disk(exp, result, exp.quick, tmp_path / "data.nc") == result.claims


def test_judge_reads_the_data_not_a_cache():
    # a tiny Fig. 3 whose stored residuals are spoiled: judging the spoiled data fails the claim
    exp = REGISTRY["williams2019.fig3"]
    spec = kr.Fig3Spec(widths=(100, 200), seeds=(0, 1), natural_data_seeds=(0,))
    result = exp.run(spec)
    assert exp.judge(result.data, spec) == result.claims
    assert result.claim("interpolates").holds
    spoiled = result.data.copy(deep=True)
    spoiled["max_train_residual"] += 1.0
    judged = {c.id: c for c in exp.judge(spoiled, spec)}
    assert not judged["interpolates"].holds
    assert judged["interpolates"].measured == pytest.approx(result.claim("interpolates").measured
                                                            + 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_full_preset_claims(name):
    exp = REGISTRY[name]
    _check(exp.run(exp.full), name)


def test_presets_are_the_papers_settings():
    full = REGISTRY["williams2019.fig3"].full
    assert full.widths == (100, 1000, 10_000) and full.s == 10
    assert REGISTRY["williams2019.theorem5_uniform"].full.s == 10


# ----------------------------------------------------------------------- independent kernel objects
def _k_uniform(x, xp):
    """E[(ax − b)₊(ax' − b)₊], a, b ~ U(−1, 1) independent, for |x|, |x'| <= 1, by integrating
    in closed form: for fixed a the integrand is (ax − b)(ax' − b) for b < min(ax, ax')
    (which lies in [−1, 1]); with a = ±t, that upper limit is t·min(x, x') (a > 0) or
    −t·max(x, x') (a < 0). Works on floats and on Fractions (exact)."""
    def half(z, sign):
        # ½∫₀¹ dt ½[P(sign·t·z) − P(−1)], P(b) = a²xx'b − a(x + x')b²/2 + b³/3, a = sign·t
        top = sign * (x * xp * z - (x + xp) * z * z / 2 + z ** 3 / 3) / 4
        bottom = -x * xp / 3 - sign * (x + xp) / 4 - Fraction(1, 3)
        return (top - bottom) / 2

    lo, hi = (x, xp) if x <= xp else (xp, x)
    return (half(lo, 1) + half(hi, -1)) / 2


def _interpolant(data):
    """(f, α): the minimum-norm interpolant of the exact uniform kernel, evaluated pointwise."""
    gram = np.array([[float(_k_uniform(float(a), float(b))) for b in data.x] for a in data.x])
    alpha = np.linalg.solve(gram, data.y)

    def f(u):
        return np.array([sum(al * float(_k_uniform(float(ui), float(xj)))
                             for al, xj in zip(alpha, data.x))
                         for ui in np.atleast_1d(u)])
    return f, alpha


def _natural_spline(x, y):
    """The natural cubic spline by its textbook tridiagonal system for the second derivatives M
    (M₁ = M_s = 0); returns a vectorised evaluator and M."""
    h = np.diff(x)
    s = x.size
    A = np.zeros((s, s))
    rhs = np.zeros(s)
    A[0, 0] = A[-1, -1] = 1.0
    for i in range(1, s - 1):
        A[i, i - 1], A[i, i], A[i, i + 1] = h[i - 1], 2 * (h[i - 1] + h[i]), h[i]
        rhs[i] = 6 * ((y[i + 1] - y[i]) / h[i] - (y[i] - y[i - 1]) / h[i - 1])
    M = np.linalg.solve(A, rhs)

    def g(u):
        i = np.clip(np.searchsorted(x, u) - 1, 0, s - 2)
        t0, t1 = x[i + 1] - u, u - x[i]
        return (M[i] * t0 ** 3 + M[i + 1] * t1 ** 3) / (6 * h[i]) + (y[i] / h[i] - M[i] * h[i]
                                                                     / 6) * t0 \
            + (y[i + 1] / h[i] - M[i + 1] * h[i] / 6) * t1
    return g, M


def _independent_gap(data, n=4001):
    """(sup |f − natural| on the hull / range, max |f''| at x₁, x_s / max_hull |f''|) from the
    objects above; f'' from cubic fits of f on each inter-data interval (f is a cubic there)."""
    f, _ = _interpolant(data)
    g, _ = _natural_spline(data.x, data.y)
    u = np.linspace(data.x[0], data.x[-1], n)
    gap = float(np.max(np.abs(f(u) - g(u))) / np.ptp(data.y))
    # f'' at both ends of every interval; f'' is affine between data, so its max is at a sample
    d2 = []
    for a, b in zip(data.x[:-1], data.x[1:]):
        t = np.linspace(a, b, 12)
        cubic = np.polynomial.Polynomial.fit(t, f(t), 3).deriv(2)
        d2 += [cubic(a), cubic(b)]
    d2 = np.abs(d2)
    return gap, float(max(d2[0], d2[-1]) / d2.max())


def test_independent_kernel_matches_the_package():
    x = np.array([-0.97, -0.3, 0.0, 0.41, 1.0])
    mine = np.array([[float(_k_uniform(a, b)) for b in x] for a in x])
    np.testing.assert_allclose(r1.kernel.rf_kernel(x, x), mine, rtol=1e-14, atol=1e-16)


def test_natural_gap_on_square_waves():
    """The Fig. 3 claim on the paper's data, against the hand-built interpolant and natural spline;
    jitter seed 0 is the 0.047% of issue 11."""
    spec = kr.Fig3Spec(widths=(20, 40), seeds=(0,), natural_data_seeds=(0, 3))
    res = kr.run_fig3(spec)
    for k, seed in enumerate(spec.natural_data_seeds):
        gap, ends = _independent_gap(r1.datasets.square_wave(10, seed=seed))
        assert float(res.data.natural_gap[k]) == pytest.approx(gap, rel=1e-3)
        assert float(res.data.f2_end_ratio[k]) == pytest.approx(ends, rel=1e-3)
    assert float(res.data.natural_gap[0]) == pytest.approx(4.7e-4, abs=0.05e-4)
    claim = res.claim("limit_is_natural_spline_on_square_wave")
    assert [r.value for r in claim.readings] == pytest.approx(list(res.data.natural_gap.values))
    assert claim.measured == pytest.approx(float(np.median(res.data.natural_gap)))


def test_theorem5_gap_and_end_curvature_against_independent_objects():
    res = kr.run_theorem5_uniform(kr.Theorem5Spec(data_seeds=(0, 2)))
    for k, seed in enumerate((0, 2)):
        data = kr._random_points(10, seed, -0.9, 0.9)
        gap, ends = _independent_gap(data)
        assert float(res.data.sup_to_natural[k]) == pytest.approx(gap, rel=1e-3)
        assert float(res.data.f2_end_ratio[k]) == pytest.approx(ends, rel=1e-3)


def test_rounding_unit_is_the_size_of_the_rounding_of_f():
    """Theorem 5's resolution: ε·Σ|αⱼ|·max K(xⱼ, xⱼ) against the actual error of f evaluated in
    float64, measured against f evaluated exactly (the same α, the kernel in rational arithmetic).
    The worst error over a grid is between a few hundredths and a few units of it."""
    for seed in (0, 1):
        data = kr._random_points(10, seed, -0.9, 0.9)
        f = r1.kernel.interpolant(data, "uniform")
        alpha = [Fraction(a) for a in f.coefficients]
        u = np.linspace(-1.0, 1.0, 61)
        exact = np.array([float(sum(al * _k_uniform(Fraction(float(ui)), Fraction(float(xj)))
                                    for al, xj in zip(alpha, data.x))) for ui in u])
        ratio = float(np.max(np.abs(f(u) - exact))) / kr._rounding_unit(f)
        assert 0.03 <= ratio <= 30.0, (seed, ratio)


# --------------------------------------------------------------------------- finite-width flows
def test_converged_c_only_flow_is_the_minimum_norm_solution():
    # independent: the minimum-‖c‖ interpolant of eq. (15) by lstsq
    data = r1.datasets.square_wave(10, seed=0)
    net0 = r1.init_network(300, "uniform", alpha="sqrt", c_scale=0.0, seed=1)
    net, _ = kr._c_only_flow(net0, data, np.inf)
    phi = np.maximum(np.outer(data.x, net0.a) - net0.b, 0.0)
    c = net0.alpha * np.linalg.lstsq(phi, data.y, rcond=None)[0]
    np.testing.assert_allclose(net.c, c, atol=1e-6 * np.abs(c).max())


def test_gram_is_the_feature_gram():
    data = r1.datasets.square_wave(10, seed=0)
    net = r1.init_network(150, "uniform", alpha="sqrt", seed=3)
    phi = np.array([[max(a * x - b, 0.0) for a, b in zip(net.a, net.b)] for x in data.x])
    np.testing.assert_allclose(kr._gram(net, data), phi @ phi.T / net.alpha ** 2, rtol=1e-12,
                               atol=1e-14)


def test_finite_time_c_only_flow_matches_the_finite_width_kernel_flow():
    # f(X, t) = (I − e^{−Gt}) y with G = ΦΦᵀ/α², by a dense matrix exponential
    from scipy.linalg import expm

    data = r1.datasets.square_wave(10, seed=0)
    net0 = r1.init_network(200, "uniform", alpha="sqrt", c_scale=0.0, seed=2)
    phi = np.maximum(np.outer(data.x, net0.a) - net0.b, 0.0)
    G = phi @ phi.T / net0.alpha ** 2
    for t in (0.5, 20.0):
        net, _ = kr._c_only_flow(net0, data, t)
        np.testing.assert_allclose(net(data.x), (np.eye(data.s) - expm(-G * t)) @ data.y, atol=1e-8)


def test_gram_of_a_wide_network_approaches_the_kernel():
    data = r1.datasets.square_wave(10, seed=0)
    K = r1.kernel.rf_kernel(data.x, data.x)
    errors = [np.abs(kr._gram(r1.init_network(m, "uniform", alpha="sqrt", seed=0), data) - K).max()
              for m in (1_000, 100_000)]
    assert errors[1] < errors[0] / 3  # Monte-Carlo rate m^(-1/2): factor 10 expected


def test_fit_rate_recovers_a_power_law():
    widths = np.array([10, 100, 1000])
    assert kr._fit_rate(widths, 3.0 * widths ** -0.5) == pytest.approx(-0.5)


def test_mean_interval_is_the_student_t_interval():
    # n = 4, mean 2, sample std 1: half width t_{0.975, 3} / 2 = 3.1824463 / 2
    low, high = kr._mean_interval([2 - np.sqrt(1.5), 2, 2, 2 + np.sqrt(1.5)])
    assert (low + high) / 2 == pytest.approx(2.0)
    assert (high - low) / 2 == pytest.approx(3.182446305284263 / 2, rel=1e-9)
    assert kr._mean_interval([1.0]) is None
