"""relu1d.splines: reference interpolants, distances and the curvature functional."""

import numpy as np
import pytest
from scipy.interpolate import PPoly

import relu1d as r1
from relu1d import splines


def _data(seed=0, s=7):
    rng = np.random.default_rng(seed)
    return r1.Dataset(rng.uniform(-1, 1, s), rng.uniform(-1, 1, s))


def test_natural_cubic_interpolates_with_zero_end_curvature_and_linear_tails():
    data = _data()
    f = splines.natural_cubic(data)
    np.testing.assert_allclose(f(data.x), data.y, atol=1e-13)
    np.testing.assert_allclose(f.second_derivative(data.x[[0, -1]]), 0.0, atol=1e-10)
    lo, hi = data.x[0], data.x[-1]
    left, right = np.array([lo - 2.0, lo - 1.0]), np.array([hi + 1.0, hi + 2.0])
    np.testing.assert_allclose(f.second_derivative(np.r_[left, right]), 0.0)
    # linear tails: continue value and slope of the end pieces (C¹ and, by f'' = 0, C²)
    h = 1e-7
    slope_hi = f.derivative(np.array([hi - h]))[0]
    np.testing.assert_allclose(f(right), f(np.array([hi]))[0] + slope_hi * (right - hi), rtol=1e-6)
    np.testing.assert_allclose(f.derivative(right), slope_hi, rtol=1e-6)


def test_natural_cubic_minimises_curvature_among_interpolants():
    data = _data(seed=3)
    natural = splines.natural_cubic(data)
    other = r1.kernel.interpolant(data, "uniform")  # another C² interpolant
    line = (-np.inf, np.inf)
    assert splines.curvature_norm(natural, 1.0, line) < splines.curvature_norm(other, 1.0, line)


def test_small_data_sets():
    one = splines.natural_cubic(r1.Dataset([0.3], [2.0]))
    np.testing.assert_allclose(one([-5.0, 0.3, 9.0]), 2.0)
    two = splines.natural_cubic(r1.Dataset([0.0, 1.0], [1.0, 3.0]))
    np.testing.assert_allclose(two([-1.0, 0.5, 2.0]), [-1.0, 2.0, 5.0])
    np.testing.assert_allclose(splines.linear(r1.Dataset([0.3], [2.0]))([0.0, 1.0]), 2.0)


def test_linear_interpolant_and_its_extensions():
    data = r1.Dataset([0.0, 1.0, 3.0], [0.0, 2.0, 1.0])
    lin = splines.linear(data)
    np.testing.assert_allclose(lin([0.0, 0.5, 1.0, 2.0, 3.0]), [0.0, 1.0, 2.0, 1.5, 1.0])
    np.testing.assert_allclose(lin([-1.0, 5.0]), [-2.0, 0.0])
    const = splines.linear(data, outside="constant")
    np.testing.assert_allclose(const([-1.0, 5.0]), [0.0, 1.0])
    np.testing.assert_allclose(const.derivative([-1.0, 0.5, 5.0]), [0.0, 2.0, 0.0])


def test_sup_distance_finds_the_maximum_between_grid_nodes():
    f = lambda x: np.asarray(x, float) ** 2  # noqa: E731
    g = lambda x: np.zeros_like(np.asarray(x, float))  # noqa: E731
    assert splines.sup_distance(f, g, (-1.0, 2.0)) == pytest.approx(4.0, abs=1e-14)
    peak = lambda x: np.exp(-50.0 * (np.asarray(x, float) - 0.19) ** 2)  # noqa: E731  (nodes give 0.81)
    assert splines.sup_distance(peak, g, (0.0, 1.0), n=8) == pytest.approx(1.0, abs=1e-12)


def test_sup_distance_uses_declared_breakpoints():
    # a narrow spike of a piecewise-linear function between coarse grid nodes
    spike = r1.PiecewiseLinear([0.30, 0.3001, 0.3002], [0.0, 1.0, 0.0], [0.0, 1e4, -1e4, 0.0])
    zero = splines.linear(r1.Dataset([0.0, 1.0], [0.0, 0.0]))
    assert splines.sup_distance(spike, zero, (0.0, 1.0), n=4) == pytest.approx(1.0, abs=1e-12)


def test_l2_distance_is_exact_on_polynomial_pieces():
    f = lambda x: np.asarray(x, float) ** 3  # noqa: E731
    g = lambda x: np.zeros_like(np.asarray(x, float))  # noqa: E731
    assert splines.l2_distance(f, g, (0.0, 1.0), n=1) == pytest.approx(np.sqrt(1 / 7), rel=1e-14)
    data = _data(seed=1)
    a, b = splines.natural_cubic(data), splines.linear(data)
    fine = np.linspace(data.x[0], data.x[-1], 400_001)
    riemann = np.sqrt(np.trapezoid((a(fine) - b(fine)) ** 2, fine))
    assert splines.l2_distance(a, b, (data.x[0], data.x[-1]), n=3) == pytest.approx(
        riemann, rel=1e-8
    )


def test_curvature_norm_against_the_spline_coefficients():
    data = _data(seed=2)
    f = splines.natural_cubic(data)
    # ∫ f''² exactly from the PPoly pieces: f'' = 2c₂ + 6c₃t on each piece of width w
    c, x = f.ppoly.c, f.ppoly.x
    w = np.diff(x)
    p0, p1 = 2 * c[1], 6 * c[0]
    exact = np.sum(p0 ** 2 * w + p0 * p1 * w ** 2 + p1 ** 2 * w ** 3 / 3)
    assert splines.curvature_norm(f, 1.0, (-np.inf, np.inf)) == pytest.approx(exact, rel=1e-10)
    assert splines.curvature_norm(f, 0.5, (x[0], x[-1])) == pytest.approx(2 * exact, rel=1e-10)
    assert splines.curvature_norm(
        f.ppoly, lambda u: np.ones_like(u), (x[0], x[-1])
    ) == pytest.approx(exact, rel=1e-10)


def test_curvature_norm_is_infinite_where_the_weight_vanishes():
    f = splines.natural_cubic(_data(seed=2))
    assert (
        splines.curvature_norm(f, lambda u: np.where(np.abs(u) < 0.1, 0.0, 1.0), (-1, 1)) == np.inf
    )


def test_bad_inputs():
    data = _data()
    f = splines.natural_cubic(data)
    with pytest.raises(TypeError, match="Dataset"):
        splines.natural_cubic([1, 2, 3])
    with pytest.raises(ValueError, match="outside"):
        splines.linear(data, outside="periodic")
    with pytest.raises(ValueError, match="low < high"):
        splines.sup_distance(f, f, (1.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        splines.l2_distance(f, f, (0.0, np.inf))
    with pytest.raises(TypeError, match="callable"):
        splines.sup_distance(f, 3.0, (0.0, 1.0))
    with pytest.raises(ValueError, match="pair"):
        splines.sup_distance(f, f, (0.0, 1.0, 2.0))
    with pytest.raises(TypeError, match="second derivative"):
        splines.curvature_norm(lambda x: x, 1.0, (0, 1))
    with pytest.raises(ValueError, match="weight"):
        splines.curvature_norm(f, -1.0, (0, 1))
    assert isinstance(f.ppoly, PPoly)
