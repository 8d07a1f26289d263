"""relu1d.knots: clusters, concentration and counts against hand-built networks and
brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relu1d as r1
from relu1d import knots


def _net_with(knots_at, slopes, orient=None):
    """A network with knots eᵢ = knots_at and delta-slopes μᵢ = slopes (α = 1):
    a = ±1, b = a·e, c = μ."""
    e = np.asarray(knots_at, float)
    a = np.ones_like(e) if orient is None else np.asarray(orient, float)
    return r1.Network(a, a * e, np.asarray(slopes, float), 1.0)


DATA = r1.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])


def test_clusters_hand_built():
    net = _net_with([-0.999, -1.001, 0.5, 0.502, 0.0005, 0.0, 3.0],
                    [1.0, 3.0, 2.0, 2.0, -1.0, 1.0, 0.5])
    found = knots.clusters(net, DATA, tol=0.01)
    np.testing.assert_allclose(found.position, [(-1.001 * 3 - 0.999) / 4, 0.00025, 0.501, 3.0])
    np.testing.assert_allclose(found.mass, [4.0, 2.0, 4.0, 0.5])
    np.testing.assert_allclose(found.jump, [4.0, 0.0, 4.0, 0.5])
    np.testing.assert_array_equal(found.size, [2, 2, 2, 1])
    np.testing.assert_array_equal(found.nearest, [0, 1, 2, 2])
    np.testing.assert_allclose(found.distance, [0.0005, 0.00025, 0.499, 2.0])
    # the cancelling pair at 0 makes no kink; 0.5 is 0.5/8.5 >= 1% of the variation
    np.testing.assert_array_equal(found.effective, [True, False, True, True])
    assert len(found) == 4 and found.tol == 0.01
    strict = knots.clusters(net, DATA, tol=0.01, min_fraction=0.1)
    np.testing.assert_array_equal(strict.effective, [True, False, True, False])


def test_clusters_do_not_chain():
    # 101 knots 0.001 apart span 0.1: with tol 0.01 they form ~10 clusters, not one.
    net = _net_with(np.linspace(-0.05, 0.05, 101), np.ones(101))
    found = knots.clusters(net, DATA, tol=0.01)
    assert 9 <= len(found) <= 11
    assert found.size.sum() == 101


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.floats(1e-4, 0.5))
def test_clusters_partition_and_width(seed, tol):
    net = r1.init_network(60, seed=seed)
    data = r1.datasets.random(5, seed=seed)
    found = knots.clusters(net, data, tol=tol)
    e = np.sort(net.knots[np.isfinite(net.knots)])
    assert found.size.sum() == e.size
    np.testing.assert_allclose(found.mass.sum(), np.abs(net.delta_slopes).sum(), rtol=1e-12)
    np.testing.assert_allclose(found.jump.sum(), net.delta_slopes.sum(), rtol=1e-10, atol=1e-12)
    start = 0
    for size in found.size:
        members = e[start:start + size]
        assert members[-1] - members[0] <= tol
        start += size
    assert np.all(np.diff(found.position) > 0)
    brute = np.min(np.abs(found.position[:, None] - data.x[None, :]), axis=1)
    np.testing.assert_allclose(found.distance, brute)


def test_concentration():
    net = _net_with([-1.0, 0.001, 0.5, 0.7], [1.0, -1.0, 1.0, 1.0])
    assert knots.concentration(net, DATA, eps=0.01) == pytest.approx(0.5)
    assert knots.concentration(net, DATA, eps=0.0) == pytest.approx(0.25)
    assert knots.concentration(net, DATA, eps=0.5) == pytest.approx(1.0)
    assert knots.concentration(net, DATA, eps=0.31) == pytest.approx(0.75)
    flat = r1.Network([0.0], [1.0], [1.0])
    assert np.isnan(knots.concentration(flat, DATA, eps=0.1))


def test_concentration_brute_force():
    for seed in range(5):
        net = r1.init_network(200, seed=seed)
        data = r1.datasets.sinusoid(8, seed=seed)
        eps = 0.03
        e = net.knots
        w = np.abs(net.delta_slopes)
        near = np.array([np.isfinite(ei) and np.min(np.abs(ei - data.x)) <= eps for ei in e])
        assert knots.concentration(net, data, eps) == pytest.approx(w[near].sum() / w.sum())


def test_linear_interpolant_network_has_all_knots_at_the_data():
    # f = linear interpolant of DATA: slope 1 on (−1, 0), −1 on (0, 1), as ReLUs.
    net = _net_with([-1.0, 0.0, 1.0], [1.0, -2.0, 1.0])
    np.testing.assert_allclose(net(DATA.x), DATA.y)
    assert knots.concentration(net, DATA, eps=1e-12) == 1.0
    counts = knots.count_between_data(net, DATA)
    np.testing.assert_array_equal(counts.at_samples, [1, 1, 1])
    np.testing.assert_array_equal(counts.between, [0, 0, 0, 0])
    assert counts.total == 3


def test_count_between_data():
    net = _net_with([-2.0, -0.5, -0.4, 0.0, 0.3, 0.6, 0.9995, 5.0, 0.31],
                    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1e-5])
    counts = knots.count_between_data(net, DATA, tol=0.01)
    np.testing.assert_array_equal(counts.at_samples, [0, 1, 1])
    # 0.31 is merged into the cluster at 0.3; its tiny mass changes nothing
    np.testing.assert_array_equal(counts.between, [1, 2, 2, 1])


def test_defaults_scale_with_the_data():
    net = _net_with([0.0, 0.015], [1.0, 1.0])
    wide = r1.Dataset([-1.0, 1.0], [0.0, 0.0])      # default tol 0.02: one cluster
    narrow = r1.Dataset([-0.1, 0.1], [0.0, 0.0])    # default tol 0.002: two
    assert len(knots.clusters(net, wide)) == 1
    assert len(knots.clusters(net, narrow)) == 2


def test_bad_inputs():
    net = _net_with([0.0], [1.0])
    with pytest.raises(TypeError, match="net"):
        knots.clusters("net", DATA)
    with pytest.raises(TypeError, match="data"):
        knots.concentration(net, [0.0], eps=0.1)
    with pytest.raises(ValueError, match="tol"):
        knots.clusters(net, DATA, tol=-1.0)
    with pytest.raises(ValueError, match="eps"):
        knots.concentration(net, DATA, eps=-0.1)
    with pytest.raises(ValueError, match="min_fraction"):
        knots.count_between_data(net, DATA, min_fraction=2.0)
    no_knots = r1.Network([0.0], [1.0], [1.0])
    assert len(knots.clusters(no_knots, DATA)) == 0
    assert knots.count_between_data(no_knots, DATA).total == 0


# ----------------------------------------------------------------------------- affine_misfit_bound
def _line_misfit(x, y):
    """½ × the residual sum of squares of the least-squares line, in closed form (0 for < 3
    points)."""
    if x.size < 3:
        return 0.0
    dx, dy = x - x.mean(), y - y.mean()
    return 0.5 * float(dy @ dy - (dx @ dy) ** 2 / (dx @ dx))


def _brute_misfit_bound(net, data, rel):
    """Independent: label each sample by how many kept knots lie left of it; samples with the
    same label see no knot between them (knots never sit on samples here), so each label is one
    maximal affine run. Sum the runs' least-squares misfits."""
    mu = np.abs(net.delta_slopes)
    e = net.knots
    finite = np.isfinite(e)
    total = mu[finite].sum()
    kept = [ei for ei, mi, fi in zip(e, mu, finite) if fi and mi > rel * total]
    labels = np.array([sum(k < xj for k in kept) for xj in data.x])
    return sum(
        _line_misfit(data.x[labels == lab], data.y[labels == lab]) for lab in np.unique(labels)
    )


def test_affine_misfit_bound_counts_runs_of_three():
    # 7 samples, one knot between x₂ and x₃: runs {x₀, x₁, x₂} and {x₃, …, x₆}
    x = np.array([-1.0, -0.7, -0.5, -0.1, 0.2, 0.6, 0.9])
    y = np.array([0.3, -0.4, 0.5, 0.1, -0.6, 0.8, -0.2])
    data = r1.Dataset(x, y)
    net = _net_with([-0.3], [1.0])
    expected = _line_misfit(x[:3], y[:3]) + _line_misfit(x[3:], y[3:])
    assert _line_misfit(x[:3], y[:3]) > 0.05          # the run of three contributes
    assert knots.affine_misfit_bound(net, data) == pytest.approx(expected, rel=1e-12)
    # two knots leaving runs of 3, 2 and 2 samples: only the first run can miss a line
    two = _net_with([-0.3, 0.4], [1.0, -2.0])
    assert knots.affine_misfit_bound(two, data) == pytest.approx(
        _line_misfit(x[:3], y[:3]), rel=1e-12
    )
    # a knot between every pair of samples: every run has one sample, the bound is 0
    every = _net_with((x[:-1] + x[1:]) / 2, np.ones(6))
    assert knots.affine_misfit_bound(every, data) == 0.0
    # no knot inside the hull: one run of all seven
    outside = _net_with([-2.0, 3.0], [1.0, 1.0])
    assert knots.affine_misfit_bound(outside, data) == pytest.approx(_line_misfit(x, y), rel=1e-12)


def test_affine_misfit_bound_knots_on_samples():
    # a knot exactly at x₃ is not strictly between x₀ and x₃: the first run is {x₀, …, x₃}
    x = np.array([-1.0, -0.6, -0.2, 0.0, 0.3, 0.5, 0.8, 1.0])
    y = np.array([0.2, -0.5, 0.4, -0.3, 0.6, -0.1, 0.7, 0.0])
    data = r1.Dataset(x, y)
    net = _net_with([0.0], [1.0])
    expected = _line_misfit(x[:4], y[:4]) + _line_misfit(x[4:], y[4:])
    assert knots.affine_misfit_bound(net, data) == pytest.approx(expected, rel=1e-12)
    # knots exactly at the first and the last sample separate nothing: one run of all eight
    ends = _net_with([x[0], x[-1]], [1.0, 1.0])
    assert knots.affine_misfit_bound(ends, data) == pytest.approx(_line_misfit(x, y), rel=1e-12)


def test_affine_misfit_bound_ignores_negligible_knots():
    x = np.linspace(-1, 1, 8)
    y = np.sin(3 * x)
    data = r1.Dataset(x, y)
    net = _net_with([0.05, 0.5], [1.0, 1e-12])   # the second knot is negligible at rel = 1e-9
    halves = _line_misfit(x[:4], y[:4]) + _line_misfit(x[4:], y[4:])
    assert knots.affine_misfit_bound(net, data) == pytest.approx(halves, rel=1e-12)
    cut = _line_misfit(x[:4], y[:4]) + _line_misfit(x[4:6], y[4:6]) + _line_misfit(x[6:], y[6:])
    assert knots.affine_misfit_bound(net, data, rel=0.0) == pytest.approx(cut, rel=1e-12, abs=1e-15)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    st.integers(0, 10_000),
    st.integers(1, 7),
    st.integers(3, 14),
    st.sampled_from([0.0, 1e-9, 0.05]),
)
def test_affine_misfit_bound_against_brute_force(seed, m, s, rel):
    rng = np.random.default_rng(seed)
    data = r1.Dataset(np.sort(rng.uniform(-1, 1, s)), rng.normal(size=s))
    a = rng.choice([-1.0, 1.0], m) * rng.uniform(0.2, 2.0, m)
    a[rng.random(m) < 0.15] = 0.0                   # some neurons without a knot
    b = a * rng.uniform(-1.2, 1.2, m) + (a == 0) * rng.normal(size=m)
    c = rng.normal(size=m) * np.where(rng.random(m) < 0.3, 1e-12, 1.0)   # some negligible knots
    net = r1.Network(a, b, c, 1.0)
    bound = knots.affine_misfit_bound(net, data, rel=rel)
    assert bound == pytest.approx(_brute_misfit_bound(net, data, rel), rel=1e-9, abs=1e-12)
    if rel == 0.0:  # with every knot kept it is a lower bound on the network's own loss
        rho = net(data.x) - data.y
        assert bound <= 0.5 * rho @ rho + 1e-12
