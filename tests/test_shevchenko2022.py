"""relu1d.experiments.shevchenko2022: their noisy SGD against relu1d.train, the two-point
derivation, the resolution-aware knot census, and every claim of the quick presets (by
id, with its measured value bracketed); full presets and the reduced census: slow."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import relu1d as r1
import relu1d.experiments.shevchenko2022 as shev
from relu1d._storage import write_netcdf
from relu1d.experiments import get
from relu1d.experiments.shevchenko2022 import (
    KNOTS_CI,
    _merge_close,
    _resolved_census,
    _sample_groups,
    _violates,
    two_point_bounds,
)
from relu1d.meanfield import (
    free_energy,
    network_from_theta,
    shevchenko_train_kwargs,
    theta_from_network,
)
from relu1d.train import train


@pytest.mark.parametrize(
    "s, inv_beta, lam", [(0.3, 0.01, 0.003), (0.1, 0.0, 0.0), (0.05, 0.001, 0.5)]
)
def test_engine_with_mapped_kwargs_is_their_literal_update(s, inv_beta, lam):
    data = r1.datasets.sinusoid(5, seed=2)
    theta0 = np.random.default_rng(3).standard_normal((13, 3)) * 0.5
    steps = 37  # seven epochs and a bit: permutations and noise both in play
    traj = train(
        network_from_theta(theta0),
        data,
        steps=steps,
        record_every=steps,
        seed=11,
        progress=False,
        **shevchenko_train_kwargs(s, inv_beta, lam, 13),
    )
    ours = theta_from_network(traj.network)
    theirs = shev.literal_noisy_sgd(
        theta0, data, s, inv_beta, lam, steps, seed=11
    )  # their (3.3), literally
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "field, factor", [("temperature", 2.0), ("weight_decay", 1.5), ("lr", 0.5)]
)
def test_literal_update_claim_catches_a_wrong_mapping(monkeypatch, field, factor):
    # The claim compares relu1d.train with the literal update: a wrong mapping must show.
    assert shev._literal_check("random", 1)[0] <= 1e-10
    real = shev.shevchenko_train_kwargs

    def wrong(*args, **kwargs):
        kw = real(*args, **kwargs)
        kw[field] *= factor
        return kw

    monkeypatch.setattr(shev, "shevchenko_train_kwargs", wrong)
    err, readings = shev._literal_check("random", 1)
    assert err > 1e-4
    assert any(not r.holds for r in readings)


# ---------------------------------------------------------------- two-point derivation
def test_two_point_bounds_against_brute_force():
    lam = 0.7
    bounds = two_point_bounds(lam)
    # The cheapest unit (w, b) for the value at x = 10: maximise (10w + b)₊ + (−10w + b)₊.
    ang = np.linspace(0, 2 * np.pi, 2_000_001)
    w, b = np.cos(ang), np.sin(ang)
    g = np.maximum(10 * w + b, 0) + np.maximum(-10 * w + b, 0)
    assert g.max() == pytest.approx(math.sqrt(101), rel=1e-9)
    best = ang[np.argmax(g)]
    assert -math.sin(best) / math.cos(best) == pytest.approx(-0.1, abs=1e-5)   # knot −b/w
    # β = ∞: F(v) = ½(2 − v)² + λ·(∫‖θ‖² = 2v·2/√101)/2 over the value v at ±10.
    exact = minimize_scalar(
        lambda v: 0.5 * (2 - v) ** 2 + lam * 2 * v / math.sqrt(101),
        bounds=(0, 2),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert bounds["exact"] == pytest.approx(exact.fun, abs=1e-9)
    absf = minimize_scalar(
        lambda t: 0.5 * (2 - 2 * t) ** 2 + lam * 0.4 * t,
        bounds=(0, 1),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert bounds["abs_family"] == pytest.approx(absf.fun, abs=1e-9)
    lin = minimize_scalar(
        lambda q: 0.5 * (2 - q) ** 2 + lam * abs(q),
        bounds=(0, 2),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert bounds["linear"] == pytest.approx(lin.fun, abs=1e-9)
    assert (
        bounds["printed"]
        < bounds["exact"]
        < bounds["abs_family"]
        < bounds["paper"]
        < bounds["linear"]
    )
    # The printed f* = 0.2|x|: half the mass at (√0.4, ±√0.4, 0) interpolates with ∫‖θ‖² = 0.8,
    # twice the M(ρ*) = 2/5 of eq. (6.4).
    net = network_from_theta(shev._PRINTED_PAIR)
    np.testing.assert_allclose(net(np.array([-10.0, 0.0, 10.0])), [2.0, 0.0, 2.0], atol=1e-12)
    fe = free_energy(net, r1.Dataset([-10.0, 10.0], [2.0, 2.0]), lam, 0.0)
    assert fe.penalty == pytest.approx(0.8) and fe.value == pytest.approx(bounds["paper"])


def test_two_point_minimum_by_independent_optimisation():
    # Minimise F∞ over networks of a few neurons directly (scipy, from many starts): the
    # optimum is 4λ/√101 − 2λ²/101 with knots at ±1/10, below λ/5 nowhere, and not at 0.
    from scipy.optimize import minimize

    lam, x, y = 1.0, np.array([-10.0, 10.0]), np.array([2.0, 2.0])

    def F(p):
        th = p.reshape(4, 3)
        f = np.mean(th[:, 0:1] * np.maximum(np.outer(th[:, 1], x) + th[:, 2:3], 0), axis=0)
        return 0.5 * np.mean((f - y) ** 2) + 0.5 * lam * np.mean(np.sum(th ** 2, axis=1))

    rng = np.random.default_rng(0)
    best = min(
        (
            minimize(F, rng.standard_normal(12), method="BFGS", options={"gtol": 1e-10})
            for _ in range(20)
        ),
        key=lambda r: r.fun,
    )
    assert best.fun == pytest.approx(two_point_bounds(lam)["exact"], abs=1e-6)
    th = best.x.reshape(4, 3)
    live = np.abs(th[:, 0]) > 1e-3
    knots = -th[live, 2] / th[live, 1]
    np.testing.assert_allclose(np.sort(np.abs(knots)), 0.1, atol=1e-4)


# ---------------------------------------------------------------- resolution-aware census
def _net_with_knots(positions, jumps):
    """f = Σ jumpᵢ (x − eᵢ)₊ (a = 1, b = e, c = jump, α = 1): knots eᵢ, delta-slopes jumpᵢ."""
    positions = np.asarray(positions, float)
    return r1.Network(np.ones_like(positions), positions, np.asarray(jumps, float), alpha=1.0)


def test_sample_groups_and_merge():
    np.testing.assert_array_equal(
        _sample_groups(np.array([0.0, 0.5, 0.503, 1.0]), 0.01), [0, 1, 1, 2]
    )
    np.testing.assert_array_equal(_sample_groups(np.array([0.0, 0.5, 1.0]), 0.01), [0, 1, 2])
    pos, jump = _merge_close(
        np.array([0.1, 0.105, 0.109, 0.3]), np.array([1.0, 1.0, -1.0, 2.0]), 0.01
    )
    np.testing.assert_allclose(pos, [(0.1 + 0.105 + 0.109) / 3, 0.3])
    np.testing.assert_allclose(jump, [1.0, 2.0])
    # no chaining: 0.1, 0.109, 0.118 are each within tol of the next but span more than tol
    pos, _ = _merge_close(np.array([0.1, 0.109, 0.118]), np.ones(3), 0.01)
    assert pos.size == 2


def test_resolved_census_counts_by_hand():
    data = r1.Dataset([-1.0, -0.5, 0.0, 0.5, 1.0], np.zeros(5))        # tol = 0.01·2 = 0.02
    # interval (−0.5, 0): one knot inside; sample 0: one knot at it; (0, 0.5): three inside
    net = _net_with_knots([-0.25, 0.005, 0.1, 0.2, 0.3], [1.0, -1.0, 1.0, -1.0, 1.0])
    c = _resolved_census(net, data, 0.02, 0.01)
    assert c.unresolved == 0
    np.testing.assert_array_equal(c.interior, [0, 0, 1, 3, 0, 0])
    np.testing.assert_array_equal(c.total, [0, 0, 2, 4, 0, 0])
    np.testing.assert_array_equal(c.bad, [False, False, False, True, False, False])
    assert c.away == 0.0
    # a tiny jump (below min_fraction of the variation) is not a knot, and counts as off-knot mass
    tiny = _net_with_knots([-0.25, 0.7], [1.0, 1e-4])
    c = _resolved_census(tiny, data, 0.02, 0.01)
    assert c.total.sum() == 1 and 0 < c.away < 1e-3


def test_resolved_census_merges_knots_at_two_close_samples():
    # Samples 0.004 apart, below the resolution tol = 0.012, and three knots around them,
    # each more than tol from the next: counted per sample (relu1d.knots.count_between_data)
    # the sample at 0.5 holds two and the one at 0.504 one, so the intervals on both sides
    # break the theorem's form. At this resolution they are one kink at one group of samples.
    data = r1.Dataset([0.0, 0.5, 0.504, 1.0], np.zeros(4))
    net = _net_with_knots([0.25, 0.4885, 0.501, 0.5135, 0.75], np.ones(5))
    old = r1.knots.count_between_data(net, data, 0.012, 0.01)
    np.testing.assert_array_equal(old.at_samples, [0, 2, 1, 0])
    assert _violates(np.array([3]), np.array([1]), np.array([0]), np.array([2]))[
        0
    ]  # old (0, 0.5): 1 + 2
    c = _resolved_census(net, data, 0.012, 0.01)
    assert c.unresolved == 1
    assert c.total.size == 4  # (−∞, 0), (0, 0.5), (0.504, 1), (1, ∞)
    np.testing.assert_array_equal(c.total, [0, 2, 2, 0])  # one knot inside + the group's one knot
    np.testing.assert_array_equal(c.interior, [0, 1, 1, 0])
    assert not c.bad.any()
    # a second knot inside (0, 0.5) is still counted: 3 = two inside + one end breaks the form
    net2 = _net_with_knots([0.2, 0.3, 0.4885, 0.501, 0.5135], np.ones(5))
    c2 = _resolved_census(net2, data, 0.012, 0.01)
    np.testing.assert_array_equal(c2.total, [0, 3, 1, 0])
    assert c2.bad.tolist() == [False, True, False, False]


def test_violations_form():
    total = np.array([1, 2, 3, 1])
    interior = np.array([0, 1, 2, 0])
    left = np.array([0, 1, 0, 1])
    right = np.array([1, 0, 1, 0])
    # interval 2 has 3 knots as two inside + one end: not the theorem's form
    np.testing.assert_array_equal(
        _violates(total, interior, left, right), [False, False, True, False]
    )
    assert not _violates(np.array([3]), np.array([1]), np.array([1]), np.array([1]))[0]
    assert _violates(np.array([4]), np.array([2]), np.array([1]), np.array([1]))[0]


# ---------------------------------------------------------------- claims, quick presets
def _run(name, spec=None, tmp_path=None):
    """Run an experiment; with ``tmp_path``, also check that its claims are recomputed
    from its dataset alone after a round trip through netCDF (the registered judge)."""
    exp = get(f"shevchenko2022.{name}")
    spec = spec or exp.quick
    res = exp.run(spec)
    if tmp_path is not None:
        import xarray as xr

        path = write_netcdf(res.data, tmp_path / "data.nc")
        with xr.open_dataset(path, engine="h5netcdf") as stored:
            judged = exp.judge(stored.load(), spec)
        # repr: a NaN reading compares unequal to itself
        assert [repr(c) for c in judged] == [repr(c) for c in res.claims]
    return res


def test_setting_quick(tmp_path):
    res = _run("setting", tmp_path=tmp_path)
    lit = res.claim("literal_update")
    assert lit.holds and 0.0 <= lit.measured <= 1e-10 and len(lit.readings) == 3
    mf = res.claim("mean_field_limit")
    # independent draws: N^(-1/2), ratio √((1/100 + 1/1600)/(1/400 + 1/1600)) = 1.84 expected
    assert mf.holds and 1.2 < mf.measured < 5.0
    assert res.data["temperature"].values[0] == pytest.approx(
        res.data.attrs["inv_beta"] / (2 * 100)
    )


def test_free_energy_quick(tmp_path):
    res = _run("free_energy", tmp_path=tmp_path)
    assert res.verdicts() == dict.fromkeys(
        ["free_energy_falls", "free_energy_plateau", "kl_entropy_error"], "holds"
    )
    assert res.claim("free_energy_falls").measured > 0.01
    assert abs(res.claim("free_energy_plateau").measured) < 0.05
    # Kozachenko–Leonenko: a small negative bias at n = 4000 (−0.012 ± 0.03 measured in _gibbs)
    assert -0.05 < res.claim("kl_entropy_error").measured < 0.03


def test_gibbs_stein_quick(tmp_path):
    res = _run("gibbs_stein", tmp_path=tmp_path)
    for cid in ("stein_end", "stein_end_vs_init", "stein_printed_at_2beta", "quadratic_gibbs_noise",
                "printed_noise_ratio"):
        assert res.claim(cid).holds, res.claim(cid)
    assert 0.75 < res.claim("quadratic_gibbs_noise").measured < 1.25          # exp(−βΨ): 1
    printed = res.claim("printed_noise_samples_gibbs")
    assert printed.verdict == "contradicted" and printed.seeds >= 3
    assert 0.3 < printed.measured < 0.65                                      # exp(−2βΨ): 1/2
    lo, hi = printed.interval
    assert hi < 0.8                                                           # 1 is excluded
    ou = [r for r in printed.readings if r.setting.startswith("no data")][0]
    assert ou.value == pytest.approx(0.5, abs=0.01) and not ou.holds
    assert 0.4 < res.claim("printed_noise_ratio").measured < 0.6


def test_knots_quick(tmp_path):
    res = _run("knots", tmp_path=tmp_path)
    assert res.claim("regime_max_knots").holds and 1 <= res.claim("regime_max_knots").measured <= 3
    assert res.claim("regime_form").verdict == "holds" and res.claim("regime_form").measured == 0
    assert res.claim("regime_no_curvature_off_knots").holds
    assert res.claim("regime_no_curvature_off_knots").measured < 0.01
    lam0 = res.claim("outside_lam0_noise")
    assert lam0.verdict == "inconclusive" and "no stationary state" in lam0.note
    for cid in ("smoother_with_noise_lam0", "smoother_with_noise_lam003"):
        c = res.claim(cid)
        assert c.holds and c.interval[0] > 0, c
    data = res.data
    assert not data["diverged"].values.any()
    # the same continuous time for every run
    assert data.attrs["time"] == pytest.approx(data.attrs["step"] * data.attrs["epochs"] * 6)
    assert data["sensitivity_violations"].shape[1:] == (3, 3)


def test_two_point_quick(tmp_path):
    res = _run("two_point", tmp_path=tmp_path)
    exact = two_point_bounds(1.0)["exact"]
    assert res.claim("knots_inside").holds and res.claim("knots_inside").measured > 9
    zero = res.claim("knot_at_zero")
    assert (
        zero.verdict == "contradicted" and zero.seeds >= 3 and zero.certificate and zero.mechanism
    )
    assert -0.11 < zero.measured < -0.09                          # derived: −1/10
    assert all(not r.holds for r in zero.readings)                # no reading puts the knot at 0
    printed = res.claim("f_star_printed")
    assert printed.verdict == "contradicted" and exact <= printed.measured < exact + 0.002
    for cid in ("beats_linear", "knots_at_tenth", "f_exact_minimum", "beats_abs_family"):
        assert res.claim(cid).holds, res.claim(cid)
    assert abs(res.claim("f_exact_minimum").measured - exact) < 0.002


# ---------------------------------------------------------------- full presets
_EXPECTED_FULL = {"printed_noise_samples_gibbs": "contradicted", "knot_at_zero": "contradicted",
                  "f_star_printed": "contradicted"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["setting", "free_energy", "gibbs_stein", "two_point"])
def test_full_presets(name):
    exp = get(f"shevchenko2022.{name}")
    res = exp.run(exp.full)
    for claim in res.claims:
        assert claim.verdict == _EXPECTED_FULL.get(claim.id, "holds"), claim
    if name == "two_point":
        assert -0.105 < res.claim("knot_at_zero").measured < -0.095
    if name == "gibbs_stein":
        assert 0.35 < res.claim("printed_noise_samples_gibbs").measured < 0.65


@pytest.mark.slow
def test_reduced_knot_census():
    # KNOTS_CI: the full census at N = 500 only (72 runs: 3 data sets × 2 data seeds × 2
    # seeds × the 6 pairs; 94 s wall and 64 CPU-s measured on a shared two-core machine).
    # Asserts what it measured (the full census, 216 runs, measured the same): in the
    # theorem's regime at most 2 knots in every resolved interval, no interval breaking the
    # form, f'' = 0 off the knots; λ = 0 with noise reported, not judged; noise visibly
    # smooths the predictor (off-knot fraction +0.21 at λ = 0, +0.13 at λ = 0.003).
    res = get("shevchenko2022.knots").run(KNOTS_CI)
    assert not res.data["diverged"].values.any()
    assert res.claim("regime_max_knots").holds and res.claim("regime_max_knots").measured <= 2
    assert res.claim("regime_form").verdict == "holds" and res.claim("regime_form").measured == 0
    assert res.claim("regime_no_curvature_off_knots").measured < 0.01
    assert res.claim("outside_lam0_noise").verdict == "inconclusive"
    assert res.claim("outside_plain_sgd").verdict in ("holds", "setting-dependent")
    assert 0.15 < res.claim("smoother_with_noise_lam0").measured < 0.3
    assert res.claim("smoother_with_noise_lam0").holds
    assert (
        res.claim("smoother_with_noise_lam003").holds
        and res.claim("smoother_with_noise_lam003").measured > 0.05
    )
