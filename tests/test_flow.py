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
    assert np.abs(res.c ** 2 - res.a ** 2 - res.b ** 2 - expected).max() < 1e-6 * np.abs(expected).max()


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
    net = r1.init_network(m, scheme, alpha=("one", "sqrt", "m")[k % 3], seed=k, delta=(None, -1.0, 1.0)[k % 3])
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
    res = integrate_flow(net, data, [0.0, T], trainable=trainable, weight_decay=lam, rtol=1e-10, atol=1e-12)
    errs = np.array([np.abs(_gd(net, data, lr, T, trainable, lam) - _state(res)).max() for lr in (2e-3, 5e-4)])
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
    res = integrate_flow(net, data, np.linspace(0, T, 41), parameterization="canonical", rtol=1e-10, atol=1e-12)
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
        errs.append(max(np.abs(r - res.r[-1]).max(), np.abs(np.angle(np.exp(1j * (theta - res.theta[-1])))).max()))
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
    for key in ("n_events", "n_crossings", "n_sliding_entries", "n_sliding_exits", "n_rhs_evals", "wall_time_s"):
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
