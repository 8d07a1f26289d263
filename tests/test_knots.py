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
