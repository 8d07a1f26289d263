"""relu1d.endpoints: exact function-space endpoints, checked against closed forms and
independent computations (a fine-grid LP, L-BFGS over network parameters, relu1d.train)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relu1d
from relu1d import endpoints
from relu1d.splines import linear


def _two_point_F(lam):
    # derived by hand in NOTES.md ("Shevchenko, two-point example"), valid for 0 < λ < √101
    return 4 * lam / math.sqrt(101) - 2 * lam ** 2 / 101


def _secants(data):
    return np.diff(data.y) / np.diff(data.x)


def _free_minimum(data):
    """max(V, (V + |S|)/2): V = ∫|f''| of the linear interpolant, S = s₁ + s_last."""
    sec = _secants(data)
    V = float(np.sum(np.abs(np.diff(sec))))
    S = float(sec[0] + sec[-1])
    return max(V, (V + abs(S)) / 2), V, S


def _runs_lower_bound(data):
    """Σ over maximal runs of same-sign data kinks of ⌈r/2⌉ (no end kink: V > |S|)."""
    kinks = np.sign(np.diff(_secants(data)))
    total, k = 0, 0
    while k < kinks.size:
        j = k
        while j + 1 < kinks.size and kinks[j + 1] == kinks[k] != 0:
            j += 1
        if kinks[k] != 0:
            total += math.ceil((j - k + 1) / 2)
        k = j + 1
    return total


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("lam", [0.25, 1.0, 3.0])
def test_two_point_example_matches_the_derived_free_energy(lam):
    data = relu1d.Dataset([-10.0, 10.0], [2.0, 2.0])
    e = endpoints.regularised(data, lam, bias="penalised")
    assert abs(e.objective - _two_point_F(lam)) < 1e-10  # 0.37821 at λ = 1
    np.testing.assert_allclose(e.knots, [-0.1, 0.1], atol=1e-9)
    # f(±10) = 2(1 − λ/√101): the fitted values of the derivation
    np.testing.assert_allclose(
        e(np.array([-10.0, 10.0])), 2 * (1 - lam / math.sqrt(101)), rtol=1e-10
    )
    assert e.gap < 1e-10


def test_two_point_value_at_lambda_one_is_the_printed_number():
    data = relu1d.Dataset([-10.0, 10.0], [2.0, 2.0])
    assert round(endpoints.regularised(data, 1.0).objective, 5) == 0.37821


@pytest.mark.parametrize(
    "f, penalised, free",
    [
        (relu1d.PiecewiseLinear([0.0], [0.0], [0.0, 1.0]), 1.0, 1.0),  # (x)₊
        (relu1d.PiecewiseLinear([0.0], [0.0], [-1.0, 1.0]), 2.0, 2.0),  # |x|
        (relu1d.PiecewiseLinear([0.0], [0.0], [1.0, 1.0]), 2.0, 2.0),  # x: an opposite pair
        (relu1d.PiecewiseLinear([0.0], [5.0], [0.0, 0.0]), 5.0, 0.0),  # a constant
        (relu1d.PiecewiseLinear([0.0], [1.0], [1.0, 1.0]), 1 + math.sqrt(3), 2.0),  # x + 1
        (relu1d.PiecewiseLinear([2.0], [0.0], [0.0, 1.0]), math.sqrt(5), 1.0),  # (x − 2)₊
        # Shevchenko's two-point minimiser at t = 1: (2/101)((10x + 1)₊ + (1 − 10x)₊)
        (
            relu1d.PiecewiseLinear([-0.1, 0.1], [4 / 101, 4 / 101], [-20 / 101, 0.0, 20 / 101]),
            4 / math.sqrt(101),
            40 / 101,
        ),
    ],
)
def test_cost_of_functions_with_hand_derived_values(f, penalised, free):
    assert abs(endpoints.cost(f, "penalised") - penalised) < 1e-10
    assert abs(endpoints.cost(f, "free") - free) < 1e-12


@settings(max_examples=25, deadline=None)
@given(A=st.floats(-3, 3), B=st.floats(-3, 3))
def test_cost_of_an_affine_function_matches_its_closed_form(A, B):
    # no knot: N(A, B) = 2‖(A, B)‖ if |B| <= |A|/√3, else √3|A| + |B| (the constant takes the rest)
    f = relu1d.PiecewiseLinear([0.0], [B], [A, A])
    expected = (
        2 * math.hypot(A, B) if abs(B) <= abs(A) / math.sqrt(3) else math.sqrt(3) * abs(A) + abs(B)
    )
    assert abs(endpoints.cost(f) - expected) <= 1e-10 * (1 + expected)


def test_cost_of_a_network_is_at_most_its_balanced_parameter_cost():
    net = relu1d.init_network(30, alpha="one", seed=3)
    f = net.to_spline()
    params = float(np.sum(np.abs(net.c) * np.hypot(net.a, net.b)))  # min over rescalings of ½‖θ‖²
    assert endpoints.cost(net) <= params * (1 + 1e-12)
    assert endpoints.cost(net) == endpoints.cost(f)


# ----------------------------------------------------------------------------- free bias
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), s=st.integers(2, 9))
def test_rnorm_free_cost_equals_the_closed_form(seed, s):
    data = relu1d.datasets.random(s, seed)
    e = endpoints.rnorm(data, bias="free")
    expected, V, S = _free_minimum(data)
    assert abs(e.cost - expected) <= 1e-9 * (1 + expected)
    assert np.max(np.abs(e(data.x) - data.y)) <= 1e-9 * (1 + np.max(np.abs(data.y)))
    assert e.gap <= 1e-8 * (1 + expected)
    assert e.sparsest


@pytest.mark.parametrize("seed", range(6))
def test_linear_interpolant_total_variation_equals_rnorm_free(seed):
    data = relu1d.datasets.sinusoid(9, seed, frequency=1.5)
    sec = _secants(data)
    tv = float(np.sum(np.abs(np.diff(sec))))
    assert tv >= abs(sec[0] + sec[-1])  # the case where the linear interpolant is a minimiser
    # ∫|f''| of relu1d.splines.linear from its own pieces: Σ|Δ slopes|
    pp = linear(data).ppoly
    assert abs(float(np.sum(np.abs(np.diff(pp.c[0])))) - tv) < 1e-12 * (1 + tv)
    assert abs(endpoints.rnorm(data, "free").cost - tv) <= 1e-10 * (1 + tv)


@pytest.mark.parametrize("seed", range(8))
def test_rnorm_free_is_sparsest(seed):
    data = relu1d.datasets.sinusoid(10, seed, frequency=2.0)
    _, V, S = _free_minimum(data)
    assert V > abs(S)
    e = endpoints.rnorm(data, "free")
    assert e.knots.size == _runs_lower_bound(data)
    assert abs(endpoints.cost(e, "free") - V) <= 1e-10 * V
    # and strictly fewer knots than the linear interpolant whenever a run has length >= 2
    kinks = np.flatnonzero(np.abs(np.diff(_secants(data))) > 0)
    assert e.knots.size <= kinks.size


def test_rnorm_free_merges_a_convex_run_and_needs_an_end_knot_for_a_line():
    # secants −3, −1, 1, 3
    convex = relu1d.Dataset([-2.0, -1.0, 0.0, 1.0, 2.0], [4.0, 1.0, 0.0, 1.0, 4.0])
    e = endpoints.rnorm(convex, "free")
    assert e.knots.size == 2  # three kinks of one sign: ⌈3/2⌉
    assert abs(e.cost - 6.0) < 1e-12  # V = 6 >= |S| = 0
    np.testing.assert_allclose(e(convex.x), convex.y, atol=1e-12)
    # x² on 0..4: secants 1, 3, 5, 7, V = 6 < S = 8: cost (V + S)/2 = 7, the end kink joins the run
    e = endpoints.rnorm(
        relu1d.Dataset([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 4.0, 9.0, 16.0]), "free"
    )
    assert abs(e.cost - 7.0) < 1e-12 and e.knots.size == 2
    line = relu1d.Dataset([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    e = endpoints.rnorm(line, "free")
    # x on the data costs 2 continued linearly, but (x − x₁)₊ plus a free constant costs 1
    assert abs(e.cost - 1.0) < 1e-12 and e.knots.size == 1
    np.testing.assert_allclose(e(line.x), line.y, atol=1e-12)


def test_regularised_free_fits_with_zero_mean_residual_and_certified_gap():
    data = relu1d.datasets.random(8, 4)
    e = endpoints.regularised(data, 0.02, bias="free")
    assert abs(float(np.mean(e(data.x) - data.y))) < 1e-12  # the free constant is optimal
    assert e.gap <= 1e-10 and e.kkt <= 1e-10
    # the minimiser is the sparsest minimum-cost interpolant of its fitted values
    fitted = relu1d.Dataset(data.x, e(data.x))
    assert abs(endpoints.rnorm(fitted, "free").cost - e.cost) <= 1e-9 * (1 + e.cost)


# ----------------------------------------------------------------------------- penalised bias
def _grid_lp(data, grid):
    """Independent upper bound: the LP over knots on a fixed grid (both orientations,
    weight √(1 + u²)) plus the constant neuron."""
    from scipy.optimize import linprog

    x, y = data.x, data.y
    right = np.maximum(x[:, None] - grid[None, :], 0)
    left = np.maximum(grid[None, :] - x[:, None], 0)
    phi = np.hstack([right, left, np.ones((x.size, 1))])
    w = np.concatenate([np.hypot(1, grid), np.hypot(1, grid), [1.0]])
    res = linprog(
        np.concatenate([w, w]),
        A_eq=np.hstack([phi, -phi]),
        b_eq=y,
        bounds=(0, None),
        method="highs",
    )
    return res.fun


@pytest.mark.parametrize("seed", range(3))
def test_rnorm_penalised_against_a_fine_grid_lp(seed):
    data = relu1d.datasets.random(6, seed)
    e = endpoints.rnorm(data, "penalised")
    # a uniform grid and the samples (the knots of the minimiser often sit exactly on samples)
    grid_value = _grid_lp(data, np.union1d(np.linspace(-6, 6, 4801), data.x))
    assert grid_value >= e.cost * (1 - 1e-9)  # the exact optimum is a lower bound of every grid
    assert grid_value <= e.cost * (1 + 1e-4)  # and a fine grid comes close to it
    assert np.max(np.abs(e(data.x) - data.y)) < 1e-9
    assert e.gap <= 1e-9 * e.cost
    assert abs(endpoints.cost(e) - e.cost) <= 1e-9 * e.cost


def test_rnorm_penalised_knots_between_samples_beat_knots_at_them():
    # with the bias penalised, data knots alone are not enough (module docstring, §2)
    data = relu1d.Dataset([-10.0, 10.0], [2.0, 2.0])
    e = endpoints.rnorm(data)
    assert abs(e.cost - 4 / math.sqrt(101)) < 1e-12
    at_data = _grid_lp(data, data.x)
    assert at_data > 1.5 * e.cost


def _best_network_objective(data, lam, m, restarts, seed):
    """min ½·mean(r²) + (λ/2)‖(a, b, c)‖² over width-m networks, by L-BFGS from random starts."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    x, y, s = data.x, data.y, data.s

    def fg(z):
        a, b, c = z[:m], z[m:2 * m], z[2 * m:]
        pre = np.outer(x, a) - b
        act = pre > 0
        h = np.where(act, pre, 0.0)
        r = h @ c - y
        grad = np.concatenate(
            [((act * x[:, None]) * c).T @ r / s, -(act * c).T @ r / s, h.T @ r / s]
        )
        return 0.5 * float(r @ r) / s + 0.5 * lam * float(z @ z), grad + lam * z

    return min(
        minimize(
            fg,
            rng.normal(size=3 * m),
            jac=True,
            method="L-BFGS-B",
            options=dict(maxiter=3000, ftol=1e-15, gtol=1e-12),
        ).fun
        for _ in range(restarts)
    )


def test_regularised_penalised_against_parameter_space_minimisation():
    # the neuron cost ‖(a, b)‖·|c| at balance, checked on its own: weight decay ½‖θ‖² on a small
    # network
    data = relu1d.datasets.random(4, 0)
    lam = 0.05
    e = endpoints.regularised(data, lam)
    best = _best_network_objective(data, lam, 6, 6, 0)
    assert best >= e.objective * (1 - 1e-9)
    assert best <= e.objective * (1 + 1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [0.05, 0.005])
def test_regularised_penalised_against_parameter_space_minimisation_more(seed, lam):
    data = relu1d.datasets.random(4, seed)
    e = endpoints.regularised(data, lam)
    best = _best_network_objective(data, lam, 6, 12, seed)
    # never below the exact minimum; within 1% (L-BFGS on a nonconvex, nonsmooth landscape)
    assert e.objective * (1 - 1e-9) <= best <= e.objective * 1.01


def test_trained_network_reaches_the_regularised_objective():
    # train's weight decay acts on a, b and c: penalised bias; loss="mean", α = 1
    # ↔ lam = weight_decay
    data = relu1d.datasets.random(5, 0)
    lam = 0.01
    e = endpoints.regularised(data, lam, bias="penalised")
    net = relu1d.init_network(50, "uniform", alpha="one", seed=1)
    traj = relu1d.train(
        net,
        data,
        method="gd",
        lr=0.05,
        steps=20_000,
        weight_decay=lam,
        loss="mean",
        progress=False,
        record_every=2000,
    )
    final = float(traj.loss[-1])
    assert final >= e.objective * (1 - 1e-9)  # nothing beats the infinite-width minimum
    assert final <= e.objective * 1.01


def test_sgd_at_zero_temperature_reaches_the_regularised_objective():
    # Shevchenko et al.'s noisy SGD at β = ∞: one sample per step, weight decay λ, no noise.
    # Constant-step SGD hovers above the minimum by O(lr); at lr = 0.02 it ends 0.03% above.
    data = relu1d.datasets.random(5, 0)
    lam = 0.01
    e = endpoints.regularised(data, lam, bias="penalised")
    net = relu1d.init_network(50, "uniform", alpha="one", seed=1)
    traj = relu1d.train(net, data, method=relu1d.SGD(batch_size=1), lr=0.02, steps=200_000,
                        weight_decay=lam, loss="mean", progress=False, record_every=20_000)
    final = float(traj.loss[-1])
    assert e.objective * (1 - 1e-9) <= final <= e.objective * 1.01


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("lam", [0.003, 0.03])
def test_trained_network_reaches_the_regularised_objective_sum_loss(seed, lam):
    # loss="sum" with α = √m: lam = weight_decay·α/s and the objective s times ours
    data = relu1d.datasets.sinusoid(8, seed)
    m = 100
    net = relu1d.init_network(m, "uniform", alpha="sqrt", seed=seed)
    wd = lam * data.s / net.alpha
    traj = relu1d.train(
        net,
        data,
        method="gd",
        lr=0.02,
        steps=200_000,
        weight_decay=wd,
        progress=False,
        record_every=20_000,
    )
    e = endpoints.regularised(data, lam)
    final = float(traj.loss[-1]) / data.s
    assert e.objective * (1 - 1e-9) <= final <= e.objective * 1.01


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("lam", [0.001, 0.01, 0.1])
def test_knots_per_interval_at_most_three(seed, lam):
    # Shevchenko et al.: at most three knots per interval between samples (and outside)
    data = relu1d.datasets.random(7, seed)
    e = endpoints.regularised(data, lam)
    counts = e.knot_counts()
    assert counts.size == data.s + 1
    assert counts.max() <= 3
    assert e.gap <= 1e-9 * max(1.0, e.objective)


def test_regularised_with_zero_lambda_is_rnorm():
    data = relu1d.datasets.random(5, 2)
    for bias in ("free", "penalised"):
        a, b = endpoints.regularised(data, 0, bias), endpoints.rnorm(data, bias)
        assert a.problem == "rnorm" and abs(a.cost - b.cost) < 1e-12


def test_regularised_objective_is_monotone_and_concave_in_lambda():
    # F*(λ) is a minimum of affine functions of λ: nondecreasing and concave
    data = relu1d.datasets.random(6, 5)
    lams = np.array([0.001, 0.01, 0.02, 0.04, 0.08])
    F = np.array([endpoints.regularised(data, lam).objective for lam in lams])
    assert np.all(np.diff(F) > 0)
    slopes = np.diff(F) / np.diff(lams)
    assert np.all(np.diff(slopes) <= 1e-9)
    # its slope is the cost of the minimiser (envelope theorem): between neighbouring costs
    costs = [endpoints.regularised(data, lam).cost for lam in lams]
    for k in range(lams.size - 1):
        assert costs[k + 1] - 1e-9 <= slopes[k] <= costs[k] + 1e-9


def test_one_sample():
    data = relu1d.Dataset([0.5], [2.0])
    assert endpoints.rnorm(data, "free").cost == 0.0
    # the best unit neuron at x = 0.5 gives √(1 + 0.25) per unit of c
    assert abs(endpoints.rnorm(data, "penalised").cost - 2 / math.sqrt(1.25)) < 1e-12


# ----------------------------------------------------------------------------- API
def test_endpoint_is_frozen_callable_and_described():
    data = relu1d.datasets.random(5, 1)
    e = endpoints.rnorm(data)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.cost = 0.0
    np.testing.assert_allclose(e(data.x), e.function(data.x))
    np.testing.assert_allclose(e.network(data.x), data.y, atol=1e-9)
    assert "penalised" in e.description and "rnorm" in repr(e)
    assert isinstance(e.function, relu1d.PiecewiseLinear)


@pytest.mark.parametrize("bias", ["free", "penalised"])
def test_endpoint_network_computes_f_at_balance_with_the_cost(bias):
    data = relu1d.datasets.random(6, 3)
    xs = np.linspace(-3, 3, 601)
    for e in (endpoints.rnorm(data, bias), endpoints.regularised(data, 0.01, bias)):
        net = e.network
        np.testing.assert_allclose(net(xs), e(xs), atol=1e-9 * (1 + e.cost))
        # with free bias the constant sits on an a = 0 neuron, free in the infimum
        knot = net.a != 0
        rho = np.hypot(net.a, net.b) if bias == "penalised" else np.abs(net.a)
        np.testing.assert_allclose(np.abs(net.c)[knot], rho[knot], rtol=1e-12)  # balanced
        weight_cost = float(np.sum((np.abs(net.c) * rho)[knot if bias == "free" else slice(None)]))
        assert abs(weight_cost - e.cost) <= 1e-9 * (1 + e.cost)


def test_kernel_is_the_kernel_interpolant():
    from relu1d import kernel as kernel_module

    data = relu1d.datasets.square_wave(8, 0)
    xs = np.linspace(-1.2, 1.2, 31)
    for which in ("rf", "ntk"):
        ours = endpoints.kernel(data, "gaussian", kernel=which)
        theirs = kernel_module.interpolant(data, "gaussian", kernel=which)
        np.testing.assert_array_equal(ours(xs), theirs(xs))
        np.testing.assert_allclose(ours(data.x), data.y, atol=1e-8)


def test_bad_inputs():
    data = relu1d.datasets.random(4, 0)
    with pytest.raises(ValueError, match="bias"):
        endpoints.rnorm(data, bias="none")
    with pytest.raises(TypeError, match="bias"):
        endpoints.rnorm(data, bias=1)
    with pytest.raises(ValueError, match="lam"):
        endpoints.regularised(data, -0.1)
    with pytest.raises(TypeError, match="lam"):
        endpoints.regularised(data, "0.1")
    with pytest.raises(ValueError, match="lam"):
        endpoints.regularised(data, float("nan"))
    with pytest.raises(TypeError, match="Dataset"):
        endpoints.rnorm((data.x, data.y))
    with pytest.raises(TypeError, match="PiecewiseLinear"):
        endpoints.cost(np.sin)
    with pytest.raises(ValueError, match="bias"):
        endpoints.cost(relu1d.PiecewiseLinear([0.0], [0.0], [0.0, 1.0]), bias="both")
    with pytest.raises(ValueError, match="kernel"):
        endpoints.kernel(data, kernel="gp")


def test_examples_run_as_doctests():
    import doctest

    failures, tried = doctest.testmod(endpoints, optionflags=doctest.ELLIPSIS, verbose=False)
    assert tried >= 10 and failures == 0


def test_public_namespace():
    assert relu1d.endpoints is endpoints
    assert set(endpoints.__all__) == {"Endpoint", "kernel", "rnorm", "regularised", "cost"}


# ----------------------------------------------------------------------------- adversarial inputs
def test_rnorm_penalised_200_samples_finishes_in_seconds():
    # regression: the primal LP took HiGHS minutes (one round 60 s) and the finite-difference
    # Newton Jacobian tens of seconds at s = 200; the dual LP and the exact Jacobian take ~4 s
    import time

    data = relu1d.datasets.random(200, 1)
    t0 = time.perf_counter()
    e = endpoints.rnorm(data)
    assert time.perf_counter() - t0 < 30
    assert np.max(np.abs(e(data.x) - data.y)) < 1e-9
    assert e.gap <= 1e-9 * e.cost
    # never below the free-bias minimum (w >= 1), which has a closed form
    assert e.cost >= _free_minimum(data)[0]


def test_rnorm_penalised_constant_data_is_the_constant_neuron():
    # regression: the polished constant neuron came back as (−1e-16, −1), a knot at 1e16 that
    # made cost() fail with "HiGHS Model error"; y = 2 on [0, 3] costs |2| (a = 0 neuron)
    data = relu1d.Dataset([0.0, 1.0, 2.0, 3.0], [2.0, 2.0, 2.0, 2.0])
    e = endpoints.rnorm(data)
    assert abs(e.cost - 2.0) < 1e-9 and e.knots.size == 0
    np.testing.assert_allclose(e(np.array([-1e6, 0.5, 1e6])), 2.0, rtol=1e-12)


@pytest.mark.parametrize("k", [1e-6, 1e6])
def test_scaling_of_the_data(k):
    data = relu1d.datasets.random(6, 0)
    big = relu1d.Dataset(k * data.x, k * data.y)
    # free bias: f ↦ k·f(·/k) keeps every slope, so the cost is invariant and the regularised
    # objective at λ·k² is k² times the one at λ
    free, free_k = endpoints.rnorm(data, "free"), endpoints.rnorm(big, "free")
    assert abs(free_k.cost - free.cost) <= 1e-9 * free.cost
    r = endpoints.regularised(data, 0.01, "free")
    r_k = endpoints.regularised(big, 0.01 * k ** 2, "free")
    assert abs(r_k.objective - k ** 2 * r.objective) <= 1e-8 * k ** 2 * r.objective
    # penalised: knots at k·u cost √(1 + k²u²); the grid LP in the unscaled variables with
    # those weights is an independent upper bound (k → 0: the free cost; k → ∞: ~k·Σ|u||μ|)
    e = endpoints.rnorm(big, "penalised")
    from scipy.optimize import linprog

    grid = np.union1d(np.linspace(-6, 6, 2401), data.x)
    phi = np.hstack([np.maximum(data.x[:, None] - grid, 0), np.maximum(grid - data.x[:, None], 0),
                     np.ones((data.s, 1))])
    w = np.concatenate([np.hypot(1, k * grid)] * 2 + [[k]])  # the constant k·y costs k|y|
    res = linprog(np.concatenate([w, w]), A_eq=np.hstack([phi, -phi]), b_eq=data.y,
                  bounds=(0, None), method="highs")
    assert e.cost * (1 - 1e-9) <= res.fun <= e.cost * (1 + 1e-3)
    assert e.cost >= free.cost * (1 - 1e-9)
    assert np.max(np.abs(e(big.x) - big.y)) <= 1e-9 * k
