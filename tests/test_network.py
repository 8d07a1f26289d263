import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import relu1d as r1
from relu1d import Network


def direct(a, b, c, alpha, x):
    """f(x) = (1/α) Σ cᵢ max(aᵢx − bᵢ, 0), one point at a time."""
    return np.array([sum(ci * max(ai * xi - bi, 0.0) for ai, bi, ci in zip(a, b, c)) / alpha
                     for xi in np.ravel(x)]).reshape(np.shape(x))


def test_evaluation_matches_direct_formula_on_any_shape():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 17))
    net = Network(a, b, c, alpha=2.5)
    x = rng.uniform(-3, 3, size=(4, 5))
    np.testing.assert_allclose(net(x), direct(a, b, c, 2.5, x), rtol=1e-13, atol=1e-14)
    assert net(0.3).shape == ()
    assert net([0.1, 0.2]).shape == (2,)


def test_evaluation_in_blocks_equals_unblocked(monkeypatch):
    import relu1d.network as network_module

    net = r1.init_network(300, seed=1)
    x = np.linspace(-2, 2, 1001)
    full = net(x)
    monkeypatch.setattr(network_module, "_EVAL_BLOCK", 1000)  # forces 4-point blocks
    # BLAS may sum in another order
    np.testing.assert_allclose(net(x), full, rtol=1e-13, atol=1e-16)


def test_alpha_names_and_values():
    a = b = c = np.ones(16)
    assert Network(a, b, c, "one").alpha == 1.0
    assert Network(a, b, c, "sqrt").alpha == 4.0
    assert Network(a, b, c, "m").alpha == 16.0
    assert Network(a, b, c, 0.5).alpha == 0.5


def test_network_is_immutable():
    net = r1.init_network(5, seed=0)
    with pytest.raises(ValueError):
        net.a[0] = 1.0
    with pytest.raises(AttributeError):
        net.alpha = 3.0


def test_knots_invariants_delta_slopes():
    net = Network([2.0, -1.0, 0.0], [1.0, 3.0, -2.0], [1.0, 2.0, 3.0], alpha=2.0)
    np.testing.assert_allclose(net.knots[:2], [0.5, -3.0])
    assert np.isnan(net.knots[2])  # a = 0: no knot
    np.testing.assert_allclose(net.invariants(), [1 - 4 - 1, 4 - 1 - 9, 9 - 0 - 4])
    np.testing.assert_allclose(net.delta_slopes, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(net.breakpoints[:2], net.knots[:2])


def test_canonical_formula_and_ranges():
    rng = np.random.default_rng(2)
    a, b, c = rng.normal(size=(3, 40))
    net = Network(a, b, c, alpha=3.0)
    r, theta = net.canonical()
    np.testing.assert_allclose(r, (40 / 3.0) * c * np.sqrt(a ** 2 + b ** 2))
    assert np.all((theta >= 0) & (theta < 2 * np.pi))
    np.testing.assert_allclose(np.cos(theta), a / np.hypot(a, b))
    np.testing.assert_allclose(np.sin(theta), -b / np.hypot(a, b))
    # f̃_w(x) = (1/m) Σ rᵢ ⟨x̃, d(θᵢ)⟩₊ equals f_z (eq. 4)
    x = np.linspace(-2, 2, 9)
    ftilde = np.maximum(np.multiply.outer(x, np.cos(theta)) + np.sin(theta), 0) @ r / 40
    np.testing.assert_allclose(ftilde, net(x), atol=1e-13)


@pytest.mark.parametrize("delta", [-5.0, -0.1, 0.0, 0.3, 7.0])
def test_from_canonical_round_trip_every_quadrant_and_sign(delta):
    theta = np.array([0.3, 1.9, 3.5, 5.2, 0.0, np.pi / 2])  # all four quadrants and axes
    r = np.array([1.5, -2.0, 0.7, -0.4, 3.0, -1.0])
    net = Network.from_canonical(r, theta, delta, alpha="sqrt")
    np.testing.assert_allclose(net.invariants(), delta, atol=1e-12)
    r2, theta2 = net.canonical()
    np.testing.assert_allclose(r2, r, rtol=1e-12)
    np.testing.assert_allclose(np.exp(1j * theta2), np.exp(1j * theta), atol=1e-12)
    assert np.all(np.sign(net.c) == np.sign(r))


def test_canonical_then_from_canonical_is_identity_on_functions_and_delta():
    net = r1.init_network(60, scheme="gaussian", seed=4, alpha=1.7)
    r, theta = net.canonical()
    back = Network.from_canonical(r, theta, net.invariants(), net.alpha)
    x = np.linspace(-4, 4, 301)
    np.testing.assert_allclose(back(x), net(x), atol=1e-12)
    np.testing.assert_allclose(back.invariants(), net.invariants(), atol=1e-12)
    np.testing.assert_allclose(
        np.c_[back.a, back.b, back.c], np.c_[net.a, net.b, net.c], atol=1e-12
    )


def test_from_canonical_extreme_delta_no_cancellation():
    net = Network.from_canonical([1e-3], [0.4], 1e8, alpha=1.0)
    assert net.invariants()[0] == pytest.approx(1e8, rel=1e-12)
    r, _ = net.canonical()
    assert r[0] == pytest.approx(1e-3, rel=1e-10)
    net = Network.from_canonical([1e-3], [0.4], -1e8, alpha=1.0)
    r, _ = net.canonical()
    assert r[0] == pytest.approx(1e-3, rel=1e-10)


def test_spline_view_matches_evaluation_at_many_points():
    net = r1.init_network(500, scheme="gaussian", seed=3, alpha=1.0)
    spline = net.to_spline()
    x = np.linspace(-6, 6, 10_000)
    scale = np.max(np.abs(net(x)))
    np.testing.assert_allclose(spline(x), net(x), atol=1e-11 * scale)
    assert np.all(np.diff(spline.breakpoints) > 0)
    # derivative: compare with central differences away from breakpoints
    h = 1e-7
    xs = x[np.min(np.abs(np.subtract.outer(x, spline.breakpoints)), axis=1) > 1e-5]
    np.testing.assert_allclose(
        spline.derivative(xs), (net(xs + h) - net(xs - h)) / (2 * h), atol=1e-5
    )
    # the jumps of f' are the delta-slopes summed per breakpoint
    np.testing.assert_allclose(np.sum(spline.delta_slopes), np.sum(net.delta_slopes), rtol=1e-10)


def test_spline_merges_shared_breakpoints_and_handles_a_zero():
    net = Network([1.0, 2.0, 0.0, -1.0], [0.5, 1.0, -2.0, 0.0], [1.0, 1.0, 1.0, 2.0], alpha=1.0)
    spline = net.to_spline()
    np.testing.assert_allclose(spline.breakpoints, [0.0, 0.5])
    x = np.linspace(-2, 2, 101)
    np.testing.assert_allclose(spline(x), net(x), atol=1e-14)
    const = Network([0.0, 0.0], [-1.0, 2.0], [3.0, 1.0], alpha=1.0).to_spline()
    np.testing.assert_allclose(const(x), 3.0)


finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
# |a| >= 1e-3 or a = 0: the spline is exact up to rounding relative to max|βᵢ|·Σ|μᵢ|,
# so knots at 1e98 (a subnormal a) are outside what a float64 spline can resolve.
first_layer = st.one_of(st.just(0.0), st.floats(1e-3, 10), st.floats(-10, -1e-3))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30).flatmap(lambda m: st.tuples(arrays(np.float64, m, elements=first_layer),
                                                     arrays(np.float64, m, elements=finite),
                                                     arrays(np.float64, m, elements=finite))),
       st.floats(0.1, 10), arrays(np.float64, st.integers(1, 20), elements=finite))
def test_property_spline_equals_evaluation_and_round_trip(abc, alpha, x):
    a, b, c = abc
    net = Network(a, b, c, alpha)
    scale = 1 + np.sum(np.abs(c) * (np.abs(a) * 10 + np.abs(b))) / alpha * 1e3
    np.testing.assert_allclose(net.to_spline()(x), net(x), atol=1e-11 * scale)
    np.testing.assert_allclose(net(x), direct(a, b, c, alpha, x), atol=1e-12 * scale)
    r, theta = net.canonical()
    back = Network.from_canonical(r, theta, net.invariants(), alpha)
    np.testing.assert_allclose(back(x), net(x), atol=1e-9 * scale)


def test_torch_state_round_trip_and_output_bias():
    net = r1.init_network(8, seed=5, alpha=2.0)
    state = net.to_torch_state()
    assert state["0.weight"].shape == (8, 1) and state["2.weight"].shape == (1, 8)
    back = Network.from_torch_state(state, alpha=2.0)
    x = np.linspace(-2, 2, 33)
    np.testing.assert_allclose(back(x), net(x), atol=1e-14)
    # the torch formula W2 relu(W1 x + b1) + b2
    torch_f = (
        np.maximum(np.outer(x, state["0.weight"][:, 0]) + state["0.bias"], 0) @ state["2.weight"][0]
    )
    np.testing.assert_allclose(torch_f, net(x), atol=1e-14)
    state["2.bias"] = np.array([0.7])
    with pytest.raises(ValueError, match="output_bias='neuron'"):
        Network.from_torch_state(state)
    folded = Network.from_torch_state(state, alpha=2.0, output_bias="neuron")
    assert folded.m == 9
    np.testing.assert_allclose(folded(x), net(x) + 0.7, atol=1e-14)
    dropped = Network.from_torch_state(state, alpha=2.0, output_bias="drop")
    np.testing.assert_allclose(dropped(x), net(x), atol=1e-14)
    with pytest.raises(ValueError, match="lacks"):
        Network.from_torch_state({"0.weight": np.ones((2, 1))})


def test_save_load_round_trip(tmp_path):
    net = r1.init_network(12, scheme="he", seed=7)
    path = net.save(tmp_path / "net.npz")
    back = Network.load(path)
    np.testing.assert_array_equal(back.a, net.a)
    np.testing.assert_array_equal(back.c, net.c)
    assert back.alpha == net.alpha
    assert back.provenance["scheme"] == "he" and back.provenance["seed"] == 7
    assert back.provenance["relu1d_version"] == r1.__version__
    with pytest.raises(ValueError, match=".npz"):
        net.save(tmp_path / "net.txt")
    with pytest.raises(ValueError, match="not a file"):
        Network.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(a=[1.0, 2.0], b=[1.0], c=[1.0, 2.0]), ValueError, "same length"),
    (dict(a=[], b=[], c=[]), ValueError, "at least 1"),
    (dict(a=[np.nan], b=[1.0], c=[1.0]), ValueError, "finite"),
    (dict(a=[np.inf], b=[1.0], c=[1.0]), ValueError, "finite"),
    (dict(a="abc", b=[1.0], c=[1.0]), TypeError, "string"),
    (dict(a=[[1.0]], b=[1.0], c=[1.0]), ValueError, "1-dimensional"),
    (dict(a=[True], b=[1.0], c=[1.0]), TypeError, "booleans"),
    (dict(a=[1.0], b=[1.0], c=[1.0], alpha=0.0), ValueError, "alpha must be > 0"),
    (dict(a=[1.0], b=[1.0], c=[1.0], alpha=-1.0), ValueError, "alpha"),
    (dict(a=[1.0], b=[1.0], c=[1.0], alpha="half"), ValueError, "'one', 'sqrt', 'm'"),
    (dict(a=[1.0], b=[1.0], c=[1.0], alpha=None), TypeError, "alpha"),
    (dict(a=[1.0], b=[1.0], c=[1.0], alpha=float("nan")), ValueError, "alpha"),
])
def test_bad_network_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        Network(**kwargs)


def test_bad_canonical_input():
    with pytest.raises(ValueError, match="same length"):
        Network.from_canonical([1.0, 2.0], [0.1], 0.0)
    with pytest.raises(ValueError, match="delta"):
        Network.from_canonical([1.0, 2.0], [0.1, 0.2], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        Network.from_canonical([1.0], [np.nan], 0.0)
    net = r1.init_network(3, seed=0)
    with pytest.raises(ValueError, match="finite"):
        net([0.0, np.nan])


# ----------------------------------------------------------------------------- issue 14
def test_large_evaluations_take_the_spline_path_and_agree_with_the_direct_sum(monkeypatch):
    import relu1d.network as network_module

    rng = np.random.default_rng(5)
    m, n = 3000, 3000
    net = Network(rng.normal(size=m), rng.normal(size=m), rng.normal(size=m), alpha="sqrt")
    x = rng.uniform(-4, 4, size=(60, 50))
    calls = []
    real = Network.to_spline
    monkeypatch.setattr(Network, "to_spline", lambda self: calls.append(1) or real(self))
    monkeypatch.setattr(network_module, "_SPLINE_PAIRS", m * n)  # take the spline path here
    fast = net(x)
    assert calls and fast.shape == x.shape
    monkeypatch.setattr(network_module, "_SPLINE_PAIRS", 10 * m * n)  # and the direct sum
    slow = net(x)
    assert len(calls) == 1
    # independent reference: the formula summed in extended precision, neuron by neuron
    a, b, c = (np.asarray(v, dtype=np.longdouble) for v in (net.a, net.b, net.c))
    xs = x.ravel()[:200].astype(np.longdouble)
    exact = (np.maximum(np.multiply.outer(xs, a) - b, 0) @ c) / np.longdouble(net.alpha)
    scale = float(np.max(np.abs(exact)))
    np.testing.assert_allclose(fast.ravel()[:200], exact.astype(float), rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12 * np.max(np.abs(slow)))
    # a knot far outside the evaluated range keeps the direct sum (the spline's prefix
    # sums would lose precision there)
    far = Network(
        np.append(net.a, 1e-12), np.append(net.b, 1.0), np.append(net.c, 1.0), alpha=net.alpha
    )
    monkeypatch.setattr(network_module, "_SPLINE_PAIRS", 1)
    far(x)
    assert len(calls) == 1


def test_a_million_neurons_on_a_million_points_in_seconds():
    import time

    net = r1.init_network(10 ** 6, seed=1)
    x = np.linspace(-2, 2, 10 ** 6)
    t0 = time.perf_counter()
    y = net(x)
    assert time.perf_counter() - t0 < 20  # the direct sum took about an hour
    probe = x[::99_991]
    np.testing.assert_allclose(
        y[::99_991], net._direct(probe), rtol=0, atol=1e-12 * np.max(np.abs(y))
    )


def test_network_and_spline_pickle_and_deepcopy():
    import copy
    import pickle

    net = r1.init_network(6, seed=2, delta=-0.5)
    for back in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        np.testing.assert_array_equal(back.c, net.c)
        assert dict(back.provenance) == dict(net.provenance) and not back.b.flags.writeable
    spline = net.to_spline()
    back = pickle.loads(pickle.dumps(spline))
    np.testing.assert_array_equal(back.slopes, spline.slopes)
    assert not back.slopes.flags.writeable


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"a,b\n1,2\n", r"is not a \.npz \(zip\) archive"),
    (b"PK\x03\x04" + b"\x00" * 40, "is damaged or truncated"),
])
def test_loading_a_bad_npz_says_which_file_and_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "net.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"'{path}' {message}"):
        Network.load(path)


def test_loading_a_truncated_npz_is_a_clear_error(tmp_path):
    path = r1.init_network(50, seed=0).save(tmp_path / "net.npz")
    whole = path.read_bytes()
    for cut in (len(whole) // 3, len(whole) - 30):
        path.write_bytes(whole[:cut])
        with pytest.raises(ValueError, match=rf"'{path}' is damaged"):
            Network.load(path)
    path.write_bytes(whole)
    np.testing.assert_array_equal(Network.load(path).a, r1.init_network(50, seed=0).a)


def test_plot_of_a_bad_npz_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from relu1d.cli import app

    runner = CliRunner()
    for name, content in (
        ("empty.npz", b""),
        ("text.npz", b"hello\n"),
        ("cut.npz", r1.init_network(9).save(tmp_path / "ok.npz").read_bytes()[:100]),
    ):
        (tmp_path / name).write_bytes(content)
        res = runner.invoke(app, ["plot", str(tmp_path / name), "--out", str(tmp_path / "figs")])
        assert res.exit_code == 2 and isinstance(res.exception, SystemExit)
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and name in lines[0] and "pickled" not in lines[0], res.output


def test_init_refuses_a_network_larger_than_memory_and_keeps_its_peak_low(monkeypatch):
    import tracemalloc

    import relu1d.init as init_module
    import relu1d.network as network_module

    # a pretend small machine (so that a broken check costs megabytes, not an OOM kill)
    monkeypatch.setattr(network_module, "physical_memory", lambda: 10 ** 6)
    monkeypatch.setattr(network_module, "available_memory", lambda: 10 ** 6)
    with pytest.raises(ValueError, match=r"m = 1,000,000 neurons needs about 25 MB of memory; "
                                         r"this machine has 1 MB in all"):
        r1.init_network(10 ** 6)
    monkeypatch.setattr(network_module, "physical_memory", lambda: 10 ** 12)
    with pytest.raises(
        ValueError, match=r"needs about 25 MB of memory; this machine has 1 MB available now"
    ):
        r1.init_network(10 ** 6)
    # 25 B/neuron + 112 B per slice neuron
    with pytest.raises(ValueError, match=r"m = 400,000 neurons needs about 54.8 MB"):
        r1.init_network(400_000, delta=1.0)
    monkeypatch.undo()
    m = 1 << 21
    for kwargs, bound in (({}, 1.2), ({"delta": 1.0}, 1.2 + 14 * 8 * (1 << 20) / (24 * m))):
        tracemalloc.start()
        net = r1.init_network(m, seed=0, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= bound * 24 * m, (kwargs, peak / (24 * m))  # was 3.0 and 6.7 times the result
        assert peak <= init_module.init_bytes(m, kwargs.get("delta")) * 1.05
        del net
    # the sliced move to δ gives the same bits as the whole-array formula
    monkeypatch.setattr(init_module, "_DELTA_BLOCK", 1000)
    sliced = r1.init_network(4500, seed=3, delta=np.linspace(-2, 2, 4500))
    monkeypatch.undo()
    whole = r1.init_network(4500, seed=3, delta=np.linspace(-2, 2, 4500))
    for name in "abc":
        np.testing.assert_array_equal(getattr(sliced, name), getattr(whole, name))
    ref = r1.init_network(4500, seed=3)
    r, theta = ref.canonical()
    expected = Network.from_canonical(r, theta, np.linspace(-2, 2, 4500), ref.alpha)
    np.testing.assert_array_equal(whole.c, expected.c)
    np.testing.assert_allclose(whole.invariants(), np.linspace(-2, 2, 4500), atol=1e-12)


def test_training_that_cannot_fit_in_memory_is_refused_up_front():
    net, data = r1.init_network(5), r1.datasets.square_wave(5)
    with pytest.raises(
        ValueError, match=r"1,000,000,000,002 record points.*needs about 48 TB.*record_every"
    ):
        r1.train(net, data, steps=10 ** 12, record_every=1)


def test_torch_state_without_output_bias_for_bias_free_output_layers():
    net = Network([1.0, -2.0], [0.5, 0.1], [3.0, 4.0], alpha=2.0)
    assert sorted(net.to_torch_state(output_bias=False)) == ["0.bias", "0.weight", "2.weight"]
    assert "2.bias" in net.to_torch_state()
    back = Network.from_torch_state(net.to_torch_state(output_bias=False), alpha=2.0)
    np.testing.assert_array_equal(back.c, net.c)
    with pytest.raises(TypeError, match="output_bias must be True or False"):
        net.to_torch_state(output_bias="no")


@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_torch_sgd_matches_train_with_lr_over_alpha_squared_on_the_output_layer(alpha):
    """A literal PyTorch-style SGD on (W1, b1, W2) with loss 0.5·Σ(out − y)², its gradients
    written by hand, equals relu1d GD at lr η when 2.weight gets lr η/α² (and differs at η)."""
    import relu1d as r1

    net = r1.init_network(7, seed=4, alpha=alpha)
    data = r1.datasets.sinusoid(6, seed=1)
    lr, steps = 0.01, 50

    def torch_sgd(lr_w2):
        st = net.to_torch_state(output_bias=False)
        w1, b1, w2 = st["0.weight"][:, 0], st["0.bias"], st["2.weight"][0]
        for _ in range(steps):
            pre = np.outer(data.x, w1) + b1
            h = np.maximum(pre, 0.0)
            err = h @ w2 - data.y
            back = np.outer(err, w2) * (pre > 0)
            g_w1, g_b1, g_w2 = back.T @ data.x, back.sum(axis=0), h.T @ err
            w1, b1, w2 = w1 - lr * g_w1, b1 - lr * g_b1, w2 - lr_w2 * g_w2
        return Network.from_torch_state(
            {"0.weight": w1[:, None], "0.bias": b1, "2.weight": w2[None, :]}, alpha=alpha
        )

    ours = r1.train(
        net, data, method="gd", lr=lr, steps=steps, record_every=steps, progress=False
    ).network
    theirs = torch_sgd(lr / alpha ** 2)
    for name in "abc":
        np.testing.assert_allclose(
            getattr(theirs, name), getattr(ours, name), rtol=1e-11, atol=1e-13
        )
    if alpha != 1.0:  # the same lr on every layer is a different dynamics
        assert np.max(np.abs(torch_sgd(lr).c - ours.c)) > 1e-6
