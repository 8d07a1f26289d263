"""relu1d.experiments.shevchenko2022: the mapping of their noisy SGD onto relu1d.train,
the two-point derivation, and every claim on the quick presets (full presets: slow)."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import relu1d as r1
from relu1d._gibbs import network_from_theta, shevchenko_train_kwargs, theta_from_network
from relu1d._validation import as_rng
from relu1d.experiments import get
from relu1d.experiments.shevchenko2022 import _interval_counts, _violates, two_point_bounds
from relu1d.knots import KnotCounts
from relu1d.train import train


def _their_noisy_sgd(theta, data, s, inv_beta, lam, steps, seed):
    """Their update, literally, in their coordinates θ = (a, w, b), with the random
    numbers drawn as relu1d.train documents (one permutation per epoch from the first
    spawned stream; standard_normal((3, N)) per step from the second, rows for our
    (a, b, c) = their (w, −b, a))."""
    theta = theta.copy()
    n, m = theta.shape[0], len(data)
    batch_rng, noise_rng = as_rng(seed).spawn(2)
    order = []
    for k in range(steps):
        if k % m == 0:
            order = list(batch_rng.permutation(m))
        j = order[k % m]
        xi = noise_rng.standard_normal((3, n))
        g = np.column_stack((xi[2], xi[0], -xi[1]))
        a, w, b = theta.T
        pre = w * data.x[j] + b
        yhat = np.mean(a * np.maximum(pre, 0.0))
        act = (pre > 0).astype(float)
        grad_sigma = np.column_stack((np.maximum(pre, 0.0), a * data.x[j] * act, a * act))
        theta = ((1 - 2 * lam * s) * theta + 2 * s * (data.y[j] - yhat) * grad_sigma
                 + math.sqrt(2 * s * inv_beta) * g)
    return theta


@pytest.mark.parametrize("s, inv_beta, lam", [(0.3, 0.01, 0.003), (0.1, 0.0, 0.0), (0.05, 0.001, 0.5)])
def test_engine_with_mapped_kwargs_is_their_literal_update(s, inv_beta, lam):
    data = r1.datasets.sinusoid(5, seed=2)
    theta0 = np.random.default_rng(3).standard_normal((13, 3)) * 0.5
    steps = 37   # seven epochs and a bit: permutations and noise both in play
    traj = train(network_from_theta(theta0), data, steps=steps, record_every=steps, seed=11, progress=False,
                 **shevchenko_train_kwargs(s, inv_beta, lam, 13))
    ours = theta_from_network(traj.network)
    theirs = _their_noisy_sgd(theta0, data, s, inv_beta, lam, steps, seed=11)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


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
    exact = minimize_scalar(lambda v: 0.5 * (2 - v) ** 2 + lam * 2 * v / math.sqrt(101), bounds=(0, 2),
                            method="bounded", options={"xatol": 1e-12})
    assert bounds["exact"] == pytest.approx(exact.fun, abs=1e-9)
    absf = minimize_scalar(lambda t: 0.5 * (2 - 2 * t) ** 2 + lam * 0.4 * t, bounds=(0, 1), method="bounded",
                           options={"xatol": 1e-12})
    assert bounds["abs_family"] == pytest.approx(absf.fun, abs=1e-9)
    lin = minimize_scalar(lambda q: 0.5 * (2 - q) ** 2 + lam * abs(q), bounds=(0, 2), method="bounded",
                          options={"xatol": 1e-12})
    assert bounds["linear"] == pytest.approx(lin.fun, abs=1e-9)
    assert bounds["exact"] < bounds["abs_family"] < bounds["paper"] < bounds["linear"]
    # The printed f* = 0.2|x|: half the mass at (√0.4, ±√0.4, 0) interpolates with ∫‖θ‖² = 0.8.
    theta = np.array([[math.sqrt(0.4), math.sqrt(0.4), 0.0], [math.sqrt(0.4), -math.sqrt(0.4), 0.0]])
    net = network_from_theta(theta)
    np.testing.assert_allclose(net(np.array([-10.0, 0.0, 10.0])), [2.0, 0.0, 2.0], atol=1e-12)
    assert np.mean(np.sum(theta ** 2, axis=1)) * lam / 2 == pytest.approx(bounds["paper"])


# ---------------------------------------------------------------- knot-count bookkeeping
def test_interval_counts_and_violations():
    counts = KnotCounts(at_samples=np.array([1, 0, 1]), between=np.array([0, 1, 2, 0]))
    total, interior, ends = _interval_counts(counts)
    np.testing.assert_array_equal(total, [1, 2, 3, 1])
    np.testing.assert_array_equal(interior, [0, 1, 2, 0])
    left = np.array([0, 1, 0, 1])
    right = np.array([1, 0, 1, 0])
    # interval 2 has 3 knots as two inside + one end: not the theorem's form
    np.testing.assert_array_equal(_violates(total, interior, left, right), [False, False, True, False])
    ok = _violates(np.array([3]), np.array([1]), np.array([1]), np.array([1]))
    assert not ok[0]
    assert _violates(np.array([4]), np.array([2]), np.array([1]), np.array([1]))[0]


# ---------------------------------------------------------------- claims, quick presets
def _claims(name, spec=None):
    exp = get(name)
    result = exp.run(spec or exp.quick)
    return result, {c.statement.split(":")[0].split(" (")[0]: c for c in result.claims}


def _by_start(result, start):
    found = [c for c in result.claims if c.statement.startswith(start)]
    assert len(found) == 1, [c.statement for c in result.claims]
    return found[0]


def test_setting_quick():
    result, _ = _claims("shevchenko2022.setting")
    assert _by_start(result, "mapping").holds
    assert _by_start(result, "mean-field limit").holds
    assert result.data["temperature"].values[0] == pytest.approx(result.data.attrs["inv_beta"] / (2 * 100))


def test_free_energy_quick():
    result, _ = _claims("shevchenko2022.free_energy")
    assert result.all_hold, [(c.statement, c.measured) for c in result.claims if not c.holds]
    F = result.data["F"].values
    assert F[-1] < F[0]


def test_gibbs_stein_quick():
    result, _ = _claims("shevchenko2022.gibbs_stein")
    assert _by_start(result, "Stein discrepancy at the end").holds
    assert _by_start(result, "Stein discrepancy end / initialisation").holds
    assert _by_start(result, "printed noise √(2s/β), read at 2β").holds
    assert _by_start(result, "E[θ·∇Ψ] / (3β⁻¹) with the noise √(4s/β)").holds
    printed = _by_start(result, "E[θ·∇Ψ] / (3β⁻¹) with the printed noise")
    assert not printed.holds and 0.3 < printed.measured < 0.6      # the factor 2, reported as found
    assert _by_start(result, "ratio of the two").holds


def test_knots_quick():
    result, _ = _claims("shevchenko2022.knots")
    assert _by_start(result, "theorem's regime (β⁻¹ = 0, λ > 0)").holds
    assert _by_start(result, "theorem's regime: intervals breaking").holds
    assert _by_start(result, "theorem's regime: f'' = 0").holds
    data = result.data
    powers = -np.log(data["step"].values) / np.log(3.0)      # s = 3^(-k): the step was divided by 3
    np.testing.assert_allclose(powers, np.round(powers), atol=1e-9)
    assert data["sensitivity_violations"].shape[1:] == (3, 3)


def test_two_point_quick():
    result, _ = _claims("shevchenko2022.two_point")
    assert _by_start(result, "the effective knots are strictly inside").holds
    assert not _by_start(result, "knot location as printed").holds
    assert _by_start(result, "knot location derived here").holds
    assert _by_start(result, "F (β = ∞ part").holds
    assert _by_start(result, "F against the exact").holds
    assert _by_start(result, "F below the paper's value").holds


# ---------------------------------------------------------------- full presets
@pytest.mark.slow
@pytest.mark.parametrize("name", ["setting", "free_energy", "gibbs_stein", "two_point"])
def test_full_presets(name):
    exp = get(f"shevchenko2022.{name}")
    result = exp.run(exp.full)
    expected_false = {"knot location as printed", "E[θ·∇Ψ] / (3β⁻¹) with the printed noise"}
    for claim in result.claims:
        if any(claim.statement.startswith(s) for s in expected_false):
            assert not claim.holds, claim
        else:
            assert claim.holds, claim


@pytest.mark.slow
def test_full_knot_census():
    # Long: 216 runs of 5·10⁴ epochs (about 45 minutes on two cores). Asserts what the
    # census measured in the theorem's regime: f'' = 0 away from the knots; at most 4 knots
    # in an interval and the exact form (two ends + one inside) broken in at most 5% of the
    # intervals. The printed "at most 3" fails in one run of 252 intervals (a pair of
    # samples 0.004 apart), which the claim records as not holding.
    exp = get("shevchenko2022.knots")
    result = exp.run(exp.full)
    assert _by_start(result, "theorem's regime: f'' = 0").holds
    assert _by_start(result, "theorem's regime (β⁻¹ = 0, λ > 0)").measured <= 4
    assert _by_start(result, "theorem's regime: intervals breaking").measured <= 0.05 * 252
