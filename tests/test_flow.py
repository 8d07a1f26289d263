"""The exact gradient flow (relu1d.train._flow): events, Filippov sliding, the exact
c-only flow and the canonical flow, each checked against an independent computation
(the numpy reference gradient, scipy's solve_ivp, plain gradient descent)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import DOP853, solve_ivp

import relu1d as r1
from relu1d.train import _reference as ref
from relu1d.train._flow import FlowResult, _Field, _initial_mode, integrate_flow


# ---------------------------------------------------------------------------- helpers
def _stall_problem():
    """30 neurons, 9 points: knots stick to data points (issue 3's stall situation)."""
    return r1.init_network(30, "uniform", alpha="sqrt", seed=3), r1.datasets.square_wave(9, seed=0)


def _gd(net, data, lr, T, trainable="abc", weight_decay=0.0):
    """Plain full-batch GD with the numpy reference gradient (the independent check)."""
    z = [net.a.copy(), net.b.copy(), net.c.copy()]
    for _ in range(int(round(T / lr))):
        _, *grads = ref.loss_and_grad(*z, net.alpha, data.x, data.y)
        for k in range(3):
            if "abc"[k] in trainable:
                z[k] -= lr * (grads[k] + weight_decay * z[k])
    return np.concatenate(z)


def _state(res, k=-1):
    return np.concatenate((res.a[k], res.b[k], res.c[k]))


def _slope(lrs, errs):
    return np.polyfit(np.log(lrs), np.log(errs), 1)[0]


# ---------------------------------------------------------------------------- the field
@pytest.mark.parametrize("seed", range(5))
def test_pattern_field_matches_reference_gradient(seed):
    rng = np.random.default_rng(seed)
    m, s = int(rng.integers(1, 40)), int(rng.integers(1, 15))
    net = r1.init_network(m, "gaussian", alpha="sqrt", seed=seed)
    data = r1.datasets.random(s, seed=seed)
    lam = 0.3
    fld = _Field(data.x, data.y, m, net.alpha, False, (True, True, True), lam)
    y0 = np.concatenate((net.a, net.b, net.c))
    _initial_mode(fld, y0, {})
    _, ga, gb, gc = ref.loss_and_grad(net.a, net.b, net.c, net.alpha, data.x, data.y)
    expected = -(np.concatenate((ga, gb, gc)) + lam * y0)
    np.testing.assert_allclose(fld.rhs(0.0, y0), expected, rtol=1e-10, atol=1e-12)
    # Canonical field against the canonical reference gradient.
    r, theta = net.canonical()
    fc = _Field(data.x, data.y, m, float(m), True, (True, True), 0.0)
    w0 = np.concatenate((r, theta))
    _initial_mode(fc, w0, {})
    _, gr, gt = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
    np.testing.assert_allclose(fc.rhs(0.0, w0), -np.concatenate((gr, gt)), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------- invariants
def test_invariants_conserved_through_events_and_sliding():
    net, data = _stall_problem()
    res = integrate_flow(net, data, np.linspace(0, 10, 51))
    st = res.stats
    assert st["n_crossings"] > 0 and st["n_sliding_entries"] > 0 and st["n_sliding_exits"] > 0
    delta0 = net.invariants()
    drift = np.abs(res.c ** 2 - res.a ** 2 - res.b ** 2 - delta0).max() / np.abs(delta0).max()
    assert drift < 1e-6


def test_invariants_decay_with_weight_decay():
    net, data = _stall_problem()
    lam, ts = 0.1, np.linspace(0, 5, 11)
    res = integrate_flow(net, data, ts, weight_decay=lam)
    # d/dt δᵢ = −2λδᵢ (module docstring), sliding or not.
    expected = np.outer(np.exp(-2 * lam * ts), net.invariants())
    assert np.abs(res.c**2 - res.a**2 - res.b**2 - expected).max() < 1e-6 * np.abs(expected).max()


# ---------------------------------------------------------------------------- sticking
def test_sticking_case_is_integrated_where_plain_dop853_stalls():
    net, data = _stall_problem()
    res = integrate_flow(net, data, [0.0, 10.0])
    st = res.stats
    assert res.times[-1] == 10.0
    assert st["n_sliding_entries"] >= 3 and st["max_sliding"] >= 2
    assert st["n_rhs_evals"] < 5_000

    # The same field without events: plain DOP853 on the reference gradient, same tolerances.
    m, budget, calls = net.m, 20_000, [0]

    def field(t, z):
        calls[0] += 1
        _, ga, gb, gc = ref.loss_and_grad(z[:m], z[m:2 * m], z[2 * m:], net.alpha, data.x, data.y)
        return -np.concatenate((ga, gb, gc))

    solver = DOP853(field, 0.0, np.concatenate((net.a, net.b, net.c)), 10.0, rtol=1e-8, atol=1e-10)
    while solver.status == "running" and calls[0] < budget:
        solver.step()
    # Chattering across the sliding surfaces: it does not get far on 4x the budget.
    assert solver.t < 2.0

    # Knots of the neurons still sliding at the end sit on data points.
    knots = res.b[-1] / res.a[-1]
    on_data = np.min(np.abs(knots[:, None] - data.x[None, :]), axis=1) < 1e-9
    assert on_data.sum() == st["sliding_at_end"] >= 1


@pytest.mark.parametrize("neurons", [(0,), (0, 1)])
def test_knots_exactly_on_a_data_point_at_t0(neurons):
    # One knot, or two knots of different neurons, exactly on sample 4 at t = 0.
    net, data = _stall_problem()
    a, b, c = net.a.copy(), net.b.copy(), net.c.copy()
    for i, slope in zip(neurons, (0.8, -0.6)):
        a[i], b[i] = slope, slope * data.x[4]
    moved = r1.Network(a, b, c, net.alpha)
    T = 1.0
    res = integrate_flow(moved, data, [0.0, T])
    assert res.stats["n_on_surface_at_t0"] == len(neurons)
    # GD uses the indicator-0 gradient at the kink, the side the flow takes too: O(lr).
    errs = [np.abs(_gd(moved, data, lr, T) - _state(res)).max() for lr in (4e-3, 2e-3, 1e-3)]
    assert 0.8 < _slope([4e-3, 2e-3, 1e-3], errs) < 1.3


@pytest.mark.parametrize("k", [2, 7, 14, 21, 27, 30])
def test_random_problems_keep_invariants_and_descend(k):
    """Mixed schemes (he/xavier start with every knot at 0), a sample at x = 0 in some,
    subsets and weight decay: no failure, δ(t) = δ(0)e^{−2λt} where a, b, c all train,
    and the loss never increases."""
    rng = np.random.default_rng(k)
    scheme = ("uniform", "gaussian", "he", "lecun", "xavier")[k % 5]
    m, s = int(rng.integers(1, 50)), int(rng.integers(1, 16))
    data = r1.datasets.random(s, seed=k)
    if k % 7 == 0:
        x = data.x.copy()
        x[0] = 0.0
        data = r1.Dataset(x, data.y)
    net = r1.init_network(
        m, scheme, alpha=("one", "sqrt", "m")[k % 3], seed=k, delta=(None, -1.0, 1.0)[k % 3]
    )
    lam, trainable = (0.0, 0.05)[k % 2], ("abc", "ab", "abc", "bc")[k % 4]
    res = integrate_flow(net, data, np.linspace(0, 3, 61), weight_decay=lam, trainable=trainable)
    assert np.all(np.diff(res.loss) <= 1e-10 * res.loss[0])
    if trainable == "abc":
        expected = np.outer(np.exp(-2 * lam * res.times), net.invariants())
        drift = np.abs(res.c ** 2 - res.a ** 2 - res.b ** 2 - expected).max()
        assert drift <= 1e-6 * max(np.abs(expected).max(), 1e-12)


# ---------------------------------------------------------------------------- GD → flow
def test_gd_converges_to_flow_linearly_through_a_crossing():
    net = r1.init_network(10, "uniform", alpha="sqrt", seed=1)
    data = r1.datasets.sinusoid(6, seed=0)
    T = 2.0
    res = integrate_flow(net, data, [0.0, T], rtol=1e-11, atol=1e-13)
    assert res.stats["n_crossings"] >= 1
    lrs = np.array([1e-2, 5e-3, 2.5e-3])
    errs = np.array([np.abs(_gd(net, data, lr, T) - _state(res)).max() for lr in lrs])
    ratios = errs[:-1] / errs[1:]
    assert np.all((ratios > 1.8) & (ratios < 2.2)), ratios
    assert abs(_slope(lrs, errs) - 1.0) < 0.1


def test_gd_converges_to_flow_linearly_through_sliding():
    net, data = _stall_problem()
    T = 10.0
    res = integrate_flow(net, data, [0.0, T], rtol=1e-10, atol=1e-12)
    assert res.stats["n_sliding_entries"] > 0
    lrs = np.array([4e-3, 2e-3, 1e-3])
    errs = np.array([np.abs(_gd(net, data, lr, T) - _state(res)).max() for lr in lrs])
    ratios = errs[:-1] / errs[1:]
    assert np.all((ratios > 1.7) & (ratios < 2.4)), ratios


@pytest.mark.parametrize("trainable, lam", [("ab", 0.0), ("bc", 0.2), ("a", 0.2), ("abc", 0.2)])
def test_gd_converges_to_flow_for_subsets_and_weight_decay(trainable, lam):
    net = r1.init_network(40, "uniform", alpha="sqrt", seed=2)
    data = r1.datasets.sinusoid(7, seed=1)
    T = 3.0
    res = integrate_flow(
        net, data, [0.0, T], trainable=trainable, weight_decay=lam, rtol=1e-10, atol=1e-12
    )
    errs = np.array(
        [np.abs(_gd(net, data, lr, T, trainable, lam) - _state(res)).max() for lr in (2e-3, 5e-4)]
    )
    # O(lr): a quarter of the step, a quarter of the error. The constant wobbles by tens
    # of percent between nearby lr (where a GD step straddles a knot crossing matters),
    # so compare a factor 4 apart.
    assert 2.8 < errs[0] / errs[1] < 5.5
    frozen = [k for k in "abc" if k not in trainable]
    for k in frozen:
        np.testing.assert_array_equal(getattr(res, k)[-1], getattr(net, k))


# ---------------------------------------------------------------------------- loss decreases
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_loss_non_increasing_including_sliding(weight_decay):
    net, data = _stall_problem()
    res = integrate_flow(net, data, np.linspace(0, 10, 401), weight_decay=weight_decay)
    assert res.stats["n_sliding_entries"] > 0
    assert np.all(np.diff(res.loss) <= 1e-10 * res.loss[0])
    # The recorded loss is the objective at the recorded parameters.
    data_loss = ref.data_loss(res.a[-1], res.b[-1], res.c[-1], net.alpha, data.x, data.y, False)
    penalty = 0.5 * weight_decay * float(_state(res) @ _state(res))
    assert res.loss[-1] == pytest.approx(data_loss + penalty, rel=1e-12)


# ---------------------------------------------------------------------------- c only
@pytest.mark.parametrize("m, s, lam", [(40, 7, 0.0), (40, 7, 0.3), (5, 12, 0.0), (5, 12, 0.1)])
def test_exact_c_only_flow_matches_tight_ode_solve(m, s, lam):
    net = r1.init_network(m, "uniform", alpha="sqrt", seed=m + s)
    data = r1.datasets.sinusoid(s, seed=1)
    ts = np.array([0.0, 0.1, 1.0, 4.0, 20.0])
    res = integrate_flow(net, data, ts, trainable="c", weight_decay=lam)
    assert res.stats["method"] == "exact-linear"

    def field(t, c):
        _, _, _, gc = ref.loss_and_grad(net.a, net.b, c, net.alpha, data.x, data.y)
        return -(gc + lam * c)

    sol = solve_ivp(field, (0, ts[-1]), net.c, method="DOP853", rtol=1e-12, atol=1e-14, t_eval=ts)
    np.testing.assert_allclose(res.c, sol.y.T, rtol=0, atol=1e-10 * max(1.0, np.abs(sol.y).max()))
    np.testing.assert_array_equal(res.a, np.broadcast_to(net.a, res.a.shape))
    assert np.all(np.diff(res.loss) <= 1e-12)


# ---------------------------------------------------------------------------- canonical
def test_canonical_flow_matches_ode_solve_on_a_smooth_segment():
    net = r1.init_network(20, "uniform", alpha="sqrt", seed=5)
    data = r1.datasets.sinusoid(8, seed=2)
    ts = np.linspace(0, 0.5, 6)
    res = integrate_flow(net, data, ts, parameterization="canonical", rtol=1e-11, atol=1e-13)
    assert res.stats["n_events"] == 0  # a smooth segment: no knot meets a data point
    r0, theta0 = net.canonical()

    def field(t, w):
        _, gr, gt = ref.canonical_loss_and_grad(w[:20], w[20:], data.x, data.y)
        return -np.concatenate((gr, gt))

    sol = solve_ivp(field, (0, ts[-1]), np.concatenate((r0, theta0)), method="DOP853",
                    rtol=1e-12, atol=1e-14, t_eval=ts)
    np.testing.assert_allclose(res.r, sol.y[:20].T, atol=1e-9)
    np.testing.assert_allclose(res.theta, np.mod(sol.y[20:].T, 2 * np.pi), atol=1e-9)
    assert np.all(np.diff(res.loss) < 0)
    # (a, b, c) carry the initial invariants and represent the same function.
    for k in (0, -1):
        back = r1.Network(res.a[k], res.b[k], res.c[k], net.alpha)
        np.testing.assert_allclose(back.invariants(), net.invariants(), atol=1e-12)
        r_k, th_k = back.canonical()
        np.testing.assert_allclose(r_k, res.r[k], atol=1e-12)


def test_canonical_flow_through_events_matches_canonical_gd():
    net, data = _stall_problem()
    T = 4.0
    res = integrate_flow(
        net, data, np.linspace(0, T, 41), parameterization="canonical", rtol=1e-10, atol=1e-12
    )
    assert res.stats["n_events"] > 0
    assert np.all(np.diff(res.loss) <= 1e-10 * res.loss[0])
    err_r, err_t = [], []
    lrs = (4e-3, 2.5e-4)
    for lr in lrs:
        r, theta = net.canonical()
        for _ in range(int(round(T / lr))):
            _, gr, gt = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
            r -= lr * gr
            theta -= lr * gt
        err_r.append(np.abs(r - res.r[-1]).max())
        err_t.append(np.abs(np.angle(np.exp(1j * (theta - res.theta[-1])))).max())
    # r: cleanly O(lr) (16x smaller step, 16x smaller error).
    assert 13 < err_r[0] / err_r[1] < 19
    # θ of a sliding neuron: GD zig-zags across the surface in a band O(lr) wide whose
    # phase at T varies with lr, so err/lr wobbles; it must stay bounded (O(√lr) would
    # make it grow 4x over this range).
    assert (err_t[1] / lrs[1]) / (err_t[0] / lrs[0]) < 2


@pytest.mark.parametrize("trainable, lam", [("rt", 0.2), ("r", 0.2), ("t", 0.0)])
def test_canonical_subsets_and_weight_decay_match_canonical_gd(trainable, lam):
    # Weight decay acts on r only, as in the engine's canonical GD.
    net, data = _stall_problem()
    T = 3.0
    res = integrate_flow(net, data, [0.0, T], parameterization="canonical", trainable=trainable,
                         weight_decay=lam, rtol=1e-10, atol=1e-12)
    assert res.stats["method"] == ("exact-linear" if trainable == "r" else "piecewise-DOP853")
    errs = []
    for lr in (2e-3, 5e-4):
        r, theta = net.canonical()
        for _ in range(int(round(T / lr))):
            _, gr, gt = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
            if "r" in trainable:
                r -= lr * (gr + lam * r)
            if "t" in trainable:
                theta -= lr * gt
        errs.append(
            max(
                np.abs(r - res.r[-1]).max(),
                np.abs(np.angle(np.exp(1j * (theta - res.theta[-1])))).max(),
            )
        )
    assert 2.8 < errs[0] / errs[1] < 5.5


# ---------------------------------------------------------------------------- interface
def test_records_and_result_shapes(capsys):
    net, data = _stall_problem()
    ts = [0.5, 0.5, 1.0, 2.0]
    res = integrate_flow(net, data, ts, progress=True)
    assert isinstance(res, FlowResult)
    assert res.a.shape == res.b.shape == res.c.shape == (4, 30) and res.loss.shape == (4,)
    assert res.r is None and res.theta is None
    np.testing.assert_array_equal(res.a[0], res.a[1])
    full = integrate_flow(net, data, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(full.a[0], net.a)
    np.testing.assert_allclose(_state(full, 1), _state(res, 2), atol=1e-7)
    assert "flow" in capsys.readouterr().err
    for key in (
        "n_events",
        "n_crossings",
        "n_sliding_entries",
        "n_sliding_exits",
        "n_rhs_evals",
        "wall_time_s",
    ):
        assert key in res.stats


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(record_times=[1.0, 0.5]), ValueError, "non-decreasing"),
    (dict(record_times=[-1.0]), ValueError, ">= 0"),
    (dict(record_times=[]), ValueError, "record_times"),
    (dict(trainable="abd"), ValueError, "trainable"),
    (dict(trainable=""), ValueError, "trainable"),
    (dict(trainable="ab", parameterization="canonical"), ValueError, "trainable"),
    (dict(parameterization="polar"), ValueError, "parameterization"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(rtol=0.0), ValueError, "rtol"),
    (dict(progress="yes"), TypeError, "progress"),
])
def test_bad_input_is_refused(kwargs, exc, text):
    net, data = _stall_problem()
    args = dict(record_times=[0.0, 1.0])
    args.update(kwargs)
    times = args.pop("record_times")
    with pytest.raises(exc, match=text):
        integrate_flow(net, data, times, **args)
    with pytest.raises(TypeError, match="net"):
        integrate_flow("net", data, [1.0])
    with pytest.raises(TypeError, match="data"):
        integrate_flow(net, (data.x, data.y), [1.0])


@pytest.mark.slow
def test_wide_network_many_samples():
    net = r1.init_network(1000, "uniform", alpha="sqrt", seed=0)
    data = r1.datasets.sinusoid(100, seed=0)
    res = integrate_flow(net, data, np.linspace(0, 10, 21))
    assert res.stats["n_crossings"] > 1000 and res.stats["n_sliding_entries"] > 0
    delta0 = net.invariants()
    assert np.abs(res.c ** 2 - res.a ** 2 - res.b ** 2 - delta0).max() < 1e-6 * np.abs(delta0).max()
    assert np.all(np.diff(res.loss) <= 1e-10 * res.loss[0])


def test_sliding_into_the_origin_stays_there_like_gd():
    # Xavier init (all knots at 0) with a sample at x = 0: neurons slide along b = 0 into
    # (a, b) = (0, 0). The flow keeps them there (one Filippov solution); GD does too here.
    data = r1.datasets.square_wave(14, seed=14)
    x = data.x.copy()
    x[0] = 0.0
    data = r1.Dataset(x, data.y)
    net = r1.init_network(46, "xavier", alpha="m", seed=14, delta=1.0)
    T = 2.0
    res = integrate_flow(net, data, [0.0, T], trainable="ab")
    assert res.stats["n_dead"] > 0 and res.stats["n_on_surface_at_t0"] > 0
    dead = (res.a[-1] == 0) & (res.b[-1] == 0)
    assert dead.sum() == res.stats["n_dead"]
    errs = [np.abs(_gd(net, data, lr, T, "ab") - _state(res)).max() for lr in (2e-3, 5e-4)]
    assert errs[0] < 1e-3 and 2.8 < errs[0] / errs[1] < 5.5


# ---------------------------------------------------------------------------- compiled path
# The integrator runs compiled (issue 15, item 5): the field of a mode, the DOP853 steps,
# the dense output and the event location. These tests check each compiled piece
# against an independent computation: the numpy reference gradient, scipy's DOP853, and
# plain canonical GD converging to the flow in the setting of Williams et al.'s Lemma 2.
def _force_sliding(fld, y, i, j):
    """Put neuron i in sliding mode on sample j (the pattern convention of the module:
    the strict, inactive side of sample j)."""
    positive = (np.cos(y[fld.m + i]) if fld.canonical else y[i]) > 0
    fld.o[i], fld.p[i], fld.slide[i] = (1, j + 1, j) if positive else (-1, j, j)


@pytest.mark.parametrize("seed", range(4))
def test_compiled_field_with_sliding_and_dead_neurons_matches_reference(seed):
    """Full parameters: knots put exactly on data points (b = a·xⱼ, so gᵢⱼ = 0 exactly and
    the reference gradient counts sample j inactive, i.e. it is F⁻). The Filippov field
    is F⁻ projected onto the surface: F = F⁻ − (n·F⁻/‖n_T‖²) n_T, n = (xⱼ, −1) on (aᵢ, bᵢ).
    Dead neurons (a = b = 0) keep a, b fixed."""
    rng = np.random.default_rng(seed)
    m, s = int(rng.integers(6, 40)), int(rng.integers(3, 12))
    net = r1.init_network(m, "gaussian", alpha="sqrt", seed=seed)
    data = r1.datasets.random(s, seed=seed)
    lam, train = (
        (0.0, 0.2)[seed % 2],
        ((True, True, True), (True, True, False), (False, True, True), (True, False, True))[seed],
    )
    a, b, c = net.a.copy(), net.b.copy(), net.c.copy()
    slide_i = rng.choice(m, size=3, replace=False)
    slide_j = rng.integers(0, s, size=3)
    b[slide_i] = a[slide_i] * data.x[slide_j]
    dead = np.setdiff1d(np.arange(m), slide_i)[:2]
    a[dead], b[dead] = 0.0, 0.0
    y0 = np.concatenate((a, b, c))
    fld = _Field(data.x, data.y, m, net.alpha, False, train, lam)
    fld.set_pattern(np.arange(m), *_active_sets(a, b, data.x))
    fld.dead[:] = False
    fld.dead[dead] = True
    for i, j in zip(slide_i, slide_j):
        _force_sliding(fld, y0, i, j)
    _, ga, gb, gc = ref.loss_and_grad(a, b, c, net.alpha, data.x, data.y)
    f_minus = [
        -(g + lam * z) if on else np.zeros(m) for g, z, on in zip((ga, gb, gc), (a, b, c), train)
    ]
    expected = [v.copy() for v in f_minus]
    for i, j in zip(slide_i, slide_j):
        n = np.array([data.x[j] * train[0], -1.0 * train[1]])
        g_minus = n @ np.array([f_minus[0][i], f_minus[1][i]])
        if n @ n > 0:
            expected[0][i] -= g_minus / (n @ n) * n[0]
            expected[1][i] -= g_minus / (n @ n) * n[1]
    expected[0][dead] = expected[1][dead] = 0.0
    got = fld.rhs(0.0, y0)
    scale = max(1.0, np.abs(np.concatenate(f_minus)).max())
    np.testing.assert_allclose(got, np.concatenate(expected), rtol=0, atol=1e-12 * scale)
    # The tangency that defines sliding: ġ = xⱼȧᵢ − ḃᵢ = 0 for every sliding neuron.
    for i, j in zip(slide_i, slide_j):
        assert abs(data.x[j] * got[i] - got[m + i]) <= 1e-12 * scale
    # And the numpy building blocks of the module give the same field.
    np.testing.assert_allclose(got, fld.rhs_reference(y0), rtol=0, atol=1e-13 * scale)
    # The exit functions of the sliding neurons (index order): G⁻ = n_T·F⁻ and the jump
    # J = G⁺ − G⁻ = −(cᵢρⱼ/α)‖n_T‖² (module docstring), ρ from the reference network.
    _, g_minus, jump = fld.evaluate(y0)
    rho = r1.Network(a, b, c, net.alpha)(data.x) - data.y
    order = np.argsort(slide_i)
    for k, (i, j) in enumerate(zip(slide_i[order], slide_j[order])):
        n = np.array([data.x[j] * train[0], -1.0 * train[1]])
        assert g_minus[k] == pytest.approx(
            n @ [f_minus[0][i], f_minus[1][i]], rel=1e-10, abs=1e-12 * scale
        )
        assert jump[k] == pytest.approx(
            -(c[i] * rho[j] / net.alpha) * (n @ n), rel=1e-10, abs=1e-12 * scale
        )


def _active_sets(a, b, x):
    """[lo, hi) of the samples with aᵢxⱼ − bᵢ > 0 (a prefix or a suffix)."""
    act = np.multiply.outer(x, a) - b > 0
    count = act.sum(axis=0)
    lo = np.where(count == 0, x.size, np.where(act[-1], x.size - count, 0))
    hi = np.where(count == 0, x.size, np.where(act[-1], x.size, count))
    return lo, hi


@pytest.mark.parametrize("seed", range(3))
def test_compiled_canonical_field_with_sliding_matches_reference(seed):
    """Canonical: a sliding neuron keeps θ (θ̇ = 0 exactly) and its ṙ is the reference
    ∂L/∂r, which does not jump across the surface; the free neurons' field is the
    reference gradient. The exit functions G⁻ and J = G⁺ − G⁻ are checked against the
    one-sided reference θ-gradients: J = −(rᵢρⱼ/m)τⱼ², G⁻ = τⱼ·(−∂L/∂θᵢ with j inactive)."""
    rng = np.random.default_rng(seed)
    m, s = int(rng.integers(8, 40)), int(rng.integers(3, 12))
    net = r1.init_network(m, "uniform", alpha="sqrt", seed=seed, c_scale=3.0)
    data = r1.datasets.sinusoid(s, seed=seed)
    r, theta = net.canonical()
    fld = _Field(data.x, data.y, m, float(m), True, (True, True), 0.0)
    w0 = np.concatenate((r, theta))
    _initial_mode(fld, w0, {})
    i, j = int(rng.integers(m)), int(rng.integers(s))
    # Rotate neuron i onto the line of sample j (x cos θ + sin θ = 0) from the side it
    # faces now, and make its pattern the inactive side of j.
    th = np.arctan2(-data.x[j], 1.0) + (np.pi if np.cos(theta[i]) < 0 else 0.0)
    w0[m + i] = th
    fld.set_pattern(np.arange(m), *_active_sets(np.cos(w0[m:]), -np.sin(w0[m:]), data.x))
    _force_sliding(fld, w0, i, j)
    vel, g_minus, jump = fld.evaluate(w0)
    _, gr, gt = ref.canonical_loss_and_grad(w0[:m], w0[m:], data.x, data.y)
    free = np.arange(m) != i
    np.testing.assert_allclose(vel[:m], -gr, rtol=0, atol=1e-12 * max(1.0, np.abs(gr).max()))
    np.testing.assert_allclose(
        vel[m:][free], -gt[free], rtol=0, atol=1e-12 * max(1.0, np.abs(gt).max())
    )
    assert vel[m + i] == 0.0
    # One-sided θ-gradients from the reference by moving the knot off the point by ±ε.
    rho = (
        np.maximum(np.multiply.outer(data.x, np.cos(w0[m:])) + np.sin(w0[m:]), 0.0) @ w0[:m]
    ) / m - data.y
    tau = -data.x[j] * np.sin(th) + np.cos(th)
    assert jump[0] == pytest.approx(-(w0[i] * rho[j] / m) * tau ** 2, rel=1e-10, abs=1e-15)
    eps = 1e-7
    for sign in (+1, -1):  # g on the inactive side: sign·τ·ε < 0 moves g = x cos θ + sin θ by τ·δθ
        w = w0.copy()
        w[m + i] = th - sign * eps * np.sign(tau)
        _, _, gt_side = ref.canonical_loss_and_grad(w[:m], w[m:], data.x, data.y)
        if sign > 0:  # inactive side: G⁻ = τ·(−∂L/∂θᵢ), up to O(ε)
            assert g_minus[0] == pytest.approx(tau * -gt_side[i], rel=1e-5, abs=1e-9)
        else:         # active side: G⁺ = G⁻ + J
            assert g_minus[0] + jump[0] == pytest.approx(tau * -gt_side[i], rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(
    "canonical, first_step", [(False, 1e-3), (False, 5.0), (True, 1e-2), (True, 50.0)]
)
def test_compiled_dop853_steps_match_scipy(canonical, first_step):
    """The compiled DOP853 (steps, step-size control with rejections, dense output)
    against scipy's DOP853 on the same field in a fixed mode (the polynomial extension
    of one activation pattern, smooth everywhere)."""
    from relu1d.train import _flow as fl

    net = r1.init_network(25, "uniform", alpha="sqrt", seed=4, c_scale=3.0)
    data = r1.datasets.sinusoid(7, seed=3)
    if canonical:
        r, theta = net.canonical()
        fld, y = (
            _Field(data.x, data.y, 25, 25.0, True, (True, True), 0.0),
            np.concatenate((r, theta)),
        )
    else:
        fld, y = _Field(data.x, data.y, 25, net.alpha, False, (True, True, True), 0.1), \
            np.concatenate((net.a, net.b, net.c))
    y = _initial_mode(fld, y, {})
    T, rtol, atol = 200.0, 1e-8, 1e-10
    solver = DOP853(
        lambda t, z: fld.rhs_reference(z), 0.0, y, T, rtol=rtol, atol=atol, first_step=first_step
    )
    K = np.empty((16, y.size))
    tight = 0
    for _ in range(8):
        # The same start (t, y, slope, proposed step) for both, one step each.
        t, y, f, h_abs = solver.t, solver.y.copy(), solver.f.copy(), solver.h_abs
        solver.step()
        ok, t_new, y_new, f_new, *_, h_next, h, n_ev = fl._dop853_step(
            y,
            f,
            t,
            h_abs,
            T,
            rtol,
            atol,
            K,
            fld.kargs,
            fl._DOP_A,
            fl._DOP_B,
            fl._DOP_C,
            fl._DOP_E3,
            fl._DOP_E5,
        )
        assert ok and n_ev % 12 == 0
        # The step size control: rounding in the error estimate (a difference of nearly
        # equal stage sums) moves the next step by far less than 1e-6.
        assert t_new == pytest.approx(solver.t, rel=1e-6)
        assert h_next == pytest.approx(solver.h_abs, rel=1e-6)
        if t_new != solver.t:  # a rejected first try: the retry's size differs by rounding
            continue
        tight += 1
        scale = max(1.0, np.abs(y).max())
        np.testing.assert_allclose(y_new, solver.y, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(f_new, solver.f, rtol=0, atol=1e-11 * max(1.0, np.abs(f).max()))
        F = fl._dop853_dense(
            K, t, h, y, y_new, f_new, fld.kargs, fl._DOP_A_EXTRA, fl._DOP_C_EXTRA, fl._DOP_D
        )
        dense = solver.dense_output()
        for q in (0.1, 0.5, 0.93):
            tq = t + q * h
            np.testing.assert_allclose(
                fl._dense_at(F, y, t, h, tq), dense(tq), rtol=0, atol=1e-12 * scale
            )
            assert fl._dense_comp(F, y, t, h, tq, 3) == pytest.approx(
                dense(tq)[3], rel=0, abs=1e-12 * scale
            )
    assert tight >= 5


def test_canonical_flow_in_lemma2_setting_matches_canonical_gd():
    """The setting of Williams et al.'s Lemma 2 (sinusoid, 8 points, uniform init with
    c_scale = 10, canonical parameters) where the canonical flow replaces canonical GD:
    GD with the numpy reference gradient converges to the flow at O(lr) through knot
    crossings, sliding entries and a sliding exit."""
    net = r1.init_network(60, "uniform", alpha="sqrt", seed=0, c_scale=10.0)
    data = r1.datasets.sinusoid(8, seed=0)
    T = 3.0
    res = integrate_flow(net, data, [0.0, T], parameterization="canonical", rtol=1e-10, atol=1e-12)
    st = res.stats
    assert st["n_crossings"] >= 10 and st["n_sliding_entries"] >= 3 and st["n_sliding_exits"] >= 1
    errs = []
    for lr in (4e-3, 1e-3):
        r, theta = net.canonical()
        for _ in range(int(round(T / lr))):
            _, gr, gt = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
            r -= lr * gr
            theta -= lr * gt
        errs.append(
            (
                np.abs(r - res.r[-1]).max(),
                np.abs(np.angle(np.exp(1j * (theta - res.theta[-1])))).max(),
            )
        )
    # O(lr): a quarter of the step, a quarter of the error, in r and θ; a misplaced event
    # would leave an O(1) part that does not shrink with lr.
    assert 3.3 < errs[0][0] / errs[1][0] < 4.8
    assert 3.0 < errs[0][1] / errs[1][1] < 5.3
    assert errs[1][0] < 1e-3 * np.abs(res.r[-1]).max()


def test_compiled_event_location_finds_the_roots_on_the_dense_output():
    """Knot events (σ·gᵢⱼ) and sliding-exit events (G⁻, −G⁺) located by the compiled
    root finders on one real step's interpolant, against roots known by construction:
    thresholds are set to each function's value at chosen times inside the step (the
    values computed in numpy from the interpolant and the numpy reference field), so
    those times are the roots. Of several knot events only the earliest must be exact;
    one whose root lies after it is dropped (+inf)."""
    from relu1d.train import _flow as fl

    m = 30
    net = r1.init_network(m, "uniform", alpha="sqrt", seed=1, c_scale=10.0)
    data = r1.datasets.sinusoid(8, seed=0)
    r, theta = net.canonical()
    fld = _Field(data.x, data.y, m, float(m), True, (True, True), 0.0)
    y = np.concatenate((r, theta))
    _initial_mode(fld, y, {})
    i, j = 4, 3
    y[m + i] = np.arctan2(-data.x[j], 1.0) + (np.pi if np.cos(theta[i]) < 0 else 0.0)
    fld.set_pattern(np.arange(m), *_active_sets(np.cos(y[m:]), -np.sin(y[m:]), data.x))
    _force_sliding(fld, y, i, j)
    bi, bj, bs, si, sj, sa, f, _, _ = fl._events_setup(y, fld.kargs, fl._ZERO_ULPS, fl._DECIDE_RTOL)
    assert list(si) == [i]
    K = np.empty((16, y.size))
    ok, t1, y1, f1, *_, h_next, h, _ = fl._dop853_step(
        y,
        f,
        0.0,
        2.0,
        100.0,
        1e-8,
        1e-10,
        K,
        fld.kargs,
        fl._DOP_A,
        fl._DOP_B,
        fl._DOP_C,
        fl._DOP_E3,
        fl._DOP_E5,
    )
    F = fl._dop853_dense(
        K, 0.0, h, y, y1, f1, fld.kargs, fl._DOP_A_EXTRA, fl._DOP_C_EXTRA, fl._DOP_D
    )
    assert ok and h > 0.1

    def state(t):
        return fl._dense_at(F, y, 0.0, h, t)

    # Sliding exits: G⁻ (comp 0) and −G⁺ (comp 1), from the reference field's sums.
    def exits(t):
        w = state(t)
        rho, sw, swx = fld.sums(w)
        g_minus, jump = fld.normal_speeds(w, si, sj, rho, sw, swx)
        return np.array([g_minus[0], -(g_minus[0] + jump[0])])

    e0, e1 = exits(0.0), exits(h)
    c = int(np.argmax(e0 - e1))          # the one that decreases over the step
    assert e1[c] < e0[c]
    t_root = 0.37 * h
    root, n_ev = fl._exit_root(
        F,
        y,
        0.0,
        h,
        0.0,
        h,
        np.array([c]),
        np.array([exits(t_root)[c]]),
        fld.kargs,
        si,
        sa,
        True,
        m,
        data.x,
    )
    assert n_ev > 0 and abs(root - t_root) <= 1e-9 * h
    # A threshold below the function's whole range on the step: no root (+inf).
    none, _ = fl._exit_root(
        F,
        y,
        0.0,
        h,
        0.0,
        h,
        np.array([c]),
        np.array([min(e0[c], e1[c]) - 1.0]),
        fld.kargs,
        si,
        sa,
        True,
        m,
        data.x,
    )
    assert none == np.inf

    # Knot events: σ·(xⱼ cos θᵢ + sin θᵢ) of free neurons, from the interpolated θ.
    def knots(t, ks):
        th = state(t)[m + bi[ks]]
        return bs[ks] * (data.x[bj[ks]] * np.cos(th) + np.sin(th))

    ks = np.arange(bi.size)
    falling = ks[knots(h, ks) < knots(0.0, ks) - 1e-6]
    assert falling.size >= 3
    ks = falling[:3]
    fractions = np.array([0.6, 0.3, 0.8])
    thr = np.array([knots(q * h, ks[[n]])[0] for n, q in enumerate(fractions)])
    roots = fl._knot_roots(F, y, 0.0, h, 0.0, h, bi[ks], data.x[bj[ks]], bs[ks], thr, True, m)
    assert abs(roots[1] - 0.3 * h) <= 1e-9 * h       # the earliest, to rounding
    assert roots.min() == roots[1]
    assert roots[2] == np.inf                        # its bracket lies after the earliest root
