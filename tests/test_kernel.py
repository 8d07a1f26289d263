"""relu1d.kernel: closed forms against independent quadrature, the tangent kernel against
wide random networks, interpolants, the exact flow and the RKHS norm identity."""

import numpy as np
import pytest
from scipy import integrate

import relu1d as r1
from relu1d import kernel


# ----------------------------------------------------------------------------- helpers
def _uniform_by_quadrature(x, xp, A, B, features=True, n=12):
    """E over a ~ U(−A, A), b ~ U(−B, B) of (ax − b)₊(ax' − b)₊ (or of the indicator), by a
    Gauss–Legendre rule split at every kink in a and, for each a node, in b: the pieces
    are polynomials of degree <= 3, so the rule is exact to rounding."""
    t, w = np.polynomial.legendre.leggauss(n)
    kinks_a = [-A, 0.0, A] + [s * B / v for v in (x, xp) if v != 0 for s in (1, -1)]
    kinks_a = np.unique(np.clip(kinks_a, -A, A))
    total = 0.0
    for a0, a1 in zip(kinks_a[:-1], kinks_a[1:]):
        for a, wa in zip((a0 + a1) / 2 + (a1 - a0) / 2 * t, (a1 - a0) / 2 * w):
            kinks_b = np.unique(np.clip([-B, B, a * x, a * xp], -B, B))
            for b0, b1 in zip(kinks_b[:-1], kinks_b[1:]):
                b = (b0 + b1) / 2 + (b1 - b0) / 2 * t
                if features:
                    g = np.maximum(a * x - b, 0) * np.maximum(a * xp - b, 0)
                else:
                    g = ((a * x > b) & (a * xp > b)).astype(float)
                total += wa * np.sum((b1 - b0) / 2 * w * g)
    return total / (4 * A * B)


def _gaussian_by_angle(x, xp, sigma):
    """(a, −b) = ρ d(θ), ρ² ~ σ²χ²₂ (mean 2σ²) independent of θ ~ U(0, 2π):
    K = (2σ²/2π) ∫ ⟨x̃, d⟩₊⟨x̃', d⟩₊ dθ, by quad split at the kinks."""
    def g(th):
        d = np.array([np.cos(th), np.sin(th)])
        return max(d @ [x, 1.0], 0) * max(d @ [xp, 1.0], 0)

    kinks = sorted(
        {(np.arctan2(1.0, v) + k * np.pi / 2) % (2 * np.pi) for v in (x, xp) for k in (1, 3)}
    )
    edges = [0.0, *kinks, 2 * np.pi]
    val = sum(
        integrate.quad(g, lo, hi, epsabs=1e-14, epsrel=1e-13)[0]
        for lo, hi in zip(edges[:-1], edges[1:])
    )
    return sigma ** 2 * val / np.pi


def _data(seed=1, s=8, low=-0.9, high=0.9):
    rng = np.random.default_rng(seed)
    return r1.Dataset(rng.uniform(low, high, s), rng.uniform(-1, 1, s))


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("A,B", [(1.0, 1.0), (2.0, 0.5), (0.7, 3.0)])
def test_uniform_rf_kernel_and_k0_match_exact_quadrature(A, B):
    rng = np.random.default_rng(0)
    init = kernel.Uniform(A, B)
    for x, xp in rng.uniform(-4, 4, (12, 2)).tolist() + [(0.0, 0.0), (0.3, 0.3), (-5.0, 2.0)]:
        assert kernel.rf_kernel(x, xp, init) == pytest.approx(
            _uniform_by_quadrature(x, xp, A, B), abs=1e-12
        )
        assert init._k0(np.array(x), np.array(xp)) == pytest.approx(
            _uniform_by_quadrature(x, xp, A, B, features=False), abs=1e-13)


@pytest.mark.parametrize("sigma", [1.0, 0.6])
def test_gaussian_rf_kernel_is_the_arc_cosine_kernel(sigma):
    rng = np.random.default_rng(1)
    for x, xp in rng.uniform(-3, 3, (8, 2)).tolist() + [(0.5, 0.5)]:
        assert kernel.rf_kernel(x, xp, kernel.Gaussian(sigma)) == pytest.approx(
            _gaussian_by_angle(x, xp, sigma), rel=1e-10, abs=1e-13)


def test_gaussian_rf_kernel_monte_carlo_constant():
    # checks the 1/(2π) normalisation against sampling: 4·10⁶ draws, 5 standard errors
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 4_000_000))
    for x, xp in [(0.3, -0.5), (1.5, 1.2)]:
        g = np.maximum(a * x - b, 0) * np.maximum(a * xp - b, 0)
        se = g.std() / np.sqrt(g.size)
        assert abs(g.mean() - kernel.rf_kernel(x, xp, "gaussian")) < 5 * se


def test_density_quadrature_matches_closed_forms():
    x = np.array([-3.0, -1.0, -0.2, 0.0, 0.4, 2.5])
    uniform_pdf = kernel.Density(
        lambda a, b: np.where((np.abs(a) <= 1) & (np.abs(b) <= 1), 0.25, 0.0),
        bounds=((-1, 1), (-1, 1)),
        symmetric=True,
        c_variance=1 / 3,
    )
    np.testing.assert_allclose(
        kernel.rf_kernel(x, x, uniform_pdf), kernel.rf_kernel(x, x, "uniform"), rtol=0, atol=1e-13
    )
    gauss = lambda a, b: np.exp(-(a * a + b * b) / 2) / (2 * np.pi)  # noqa: E731
    np.testing.assert_allclose(
        kernel.rf_kernel(x, x, gauss), kernel.rf_kernel(x, x, "gaussian"), rtol=1e-11, atol=1e-12
    )  # a bare callable works, on the default box ±8
    np.testing.assert_allclose(
        kernel.ntk(x, x, uniform_pdf), kernel.ntk(x, x, "uniform"), atol=1e-13
    )
    u = np.array([-4.0, -1.0, -0.3, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(
        kernel.curvature_weight(u, gauss),
        kernel.curvature_weight(u, "gaussian"),
        rtol=1e-9,
        atol=1e-14,
    )


@pytest.mark.parametrize(
    "init", ["uniform", "gaussian", kernel.Uniform(2.0, 0.5), kernel.Gaussian(0.5)]
)
def test_gram_matrices_are_symmetric_psd(init):
    x = np.random.default_rng(3).uniform(-3, 3, 40)
    for fn in (kernel.rf_kernel, kernel.ntk):
        G = fn(x, x, init)
        np.testing.assert_allclose(G, G.T, rtol=0, atol=1e-14 * np.abs(G).max())
        assert np.linalg.eigvalsh(G).min() > -1e-12 * np.abs(G).max()


def test_kernel_output_shapes():
    assert np.ndim(kernel.rf_kernel(0.1, 0.2)) == 0
    assert kernel.rf_kernel([0.1, 0.2, 0.3], 0.2).shape == (3,)
    assert kernel.rf_kernel([0.1, 0.2, 0.3], [0.0, 1.0]).shape == (3, 2)


# ----------------------------------------------------------------------------- curvature weight
@pytest.mark.parametrize("A,B", [(1.0, 1.0), (2.0, 0.5)])
def test_uniform_curvature_weight_against_its_definition(A, B):
    def zeta(u):  # ∫ |a|³ p(a, a u) da with p = 1/(4AB) on the box
        reach = min(A, B / abs(u)) if u != 0 else A
        return 2 * integrate.quad(lambda a: a ** 3 / (4 * A * B), 0, reach)[0]
    for u in (-3.0, -1.0, -0.2, 0.0, 0.5, 0.9, 1.7):
        assert kernel.curvature_weight(u, kernel.Uniform(A, B)) == pytest.approx(zeta(u), rel=1e-13)
    np.testing.assert_allclose(
        kernel.curvature_weight([0.0, 0.5, 2.0], "uniform"), [1 / 8, 1 / 8, 1 / 128]
    )


@pytest.mark.parametrize("sigma", [1.0, 1.7])
def test_gaussian_curvature_weight_against_its_definition(sigma):
    for u in (-2.0, 0.0, 0.4, 3.0):
        num = integrate.quad(
            lambda a, u=u: (
                abs(a) ** 3
                * np.exp(-(a * a + (a * u) ** 2) / (2 * sigma**2))
                / (2 * np.pi * sigma**2)
            ),
            -np.inf,
            np.inf,
            epsabs=1e-14,
        )[0]
        assert kernel.curvature_weight(u, kernel.Gaussian(sigma)) == pytest.approx(num, rel=1e-10)
    assert kernel.curvature_weight(0.0, "gaussian") == pytest.approx(2 / np.pi)


def test_weight_moments_are_the_second_moments():
    # ∫ζ = E a², ∫u²ζ = E b²: the identity the affine charge uses
    for init in (kernel.Uniform(2.0, 0.5), kernel.Gaussian(0.7)):
        m0 = integrate.quad(lambda u, init=init: float(init.zeta(np.array(u))), -np.inf, np.inf,
                            epsabs=1e-13)[0]
        m2 = integrate.quad(lambda u, init=init: u * u * float(init.zeta(np.array(u))),
                            -np.inf, np.inf, epsabs=1e-13)[0]
        eaa, _, ebb = init.second_moments
        assert m0 == pytest.approx(eaa, rel=1e-8) and m2 == pytest.approx(ebb, rel=1e-8)


# ----------------------------------------------------------------------------- tangent kernel
def test_ntk_matches_the_empirical_tangent_kernel_of_a_wide_network():
    x = np.array([-0.8, -0.1, 0.4, 1.3])
    for scheme in ("uniform", "gaussian"):
        m = 50_000
        net = r1.init_network(m, scheme, alpha="sqrt", seed=5)
        active = (np.outer(x, net.a) > net.b).astype(float)          # (n, m)
        phi = np.maximum(np.outer(x, net.a) - net.b, 0.0)
        # per-neuron terms of Θ·α²: φφ' + c²(xx' + 1)·1·1'
        terms = (
            phi[:, None, :] * phi[None, :, :]
            + (net.c**2 * m)
            * (np.outer(x, x) + 1)[..., None]
            * active[:, None, :]
            * active[None, :, :]
        )
        # net.c² carries 1/m; the sum over i of the terms above divided by m is α²Θ/m·(1/1)
        empirical = terms.mean(axis=-1)
        se = terms.std(axis=-1) / np.sqrt(m)
        theory = kernel.ntk(x, x, scheme)
        assert np.all(np.abs(empirical - theory) < 5 * se + 1e-15)


def test_empirical_tangent_kernel_formula_by_finite_differences():
    net = r1.init_network(6, "gaussian", alpha=1.7, seed=2)
    x = np.array([-0.5, 0.2, 0.9])
    z = np.concatenate([net.a, net.b, net.c])

    def f(zz):
        return r1.Network(zz[:6], zz[6:12], zz[12:], net.alpha)(x)

    h = 1e-6
    J = np.column_stack([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(z.size)])
    phi = np.maximum(np.outer(x, net.a) - net.b, 0.0)
    act = (np.outer(x, net.a) > net.b).astype(float)
    theta = (phi @ phi.T + ((act * net.c ** 2) @ act.T) * (np.outer(x, x) + 1)) / net.alpha ** 2
    np.testing.assert_allclose(J @ J.T, theta, rtol=1e-7, atol=1e-9)


def test_ntk_alpha_scaling():
    x = np.array([0.1, 0.5])
    base = kernel.ntk(x, x, "uniform")
    np.testing.assert_allclose(kernel.ntk(x, x, "uniform", alpha="one", m=100), 100 * base)
    np.testing.assert_allclose(kernel.ntk(x, x, "uniform", alpha="m", m=100), base / 100)
    np.testing.assert_allclose(kernel.ntk(x, x, "uniform", c_variance=0.0), kernel.rf_kernel(x, x))


# ----------------------------------------------------------------------------- interpolants
@pytest.mark.parametrize("init", ["uniform", "gaussian", kernel.Uniform(2.0, 0.5)])
@pytest.mark.parametrize("kind", ["rf", "ntk"])
def test_interpolant_interpolates(init, kind):
    data = _data()
    f = kernel.interpolant(data, init, kernel=kind)
    np.testing.assert_allclose(f(data.x), data.y, atol=1e-8)
    assert f.coefficients.shape == (data.s,) and f.data is data


def test_ridge_shrinks_towards_zero():
    data = _data()
    f0, f1 = kernel.interpolant(data), kernel.interpolant(data, ridge=1e-2)
    assert np.abs(f1(data.x) - data.y).max() > 1e-3
    assert f1.norm_squared < f0.norm_squared


@pytest.mark.parametrize("init", ["uniform", "gaussian", kernel.Uniform(0.8, 1.5)])
def test_second_derivative_formula_against_finite_differences(init):
    f = kernel.interpolant(_data(seed=4, s=6), init)
    u = np.array([-2.0, -0.95, -0.3, 0.17, 0.6, 1.4, 3.0])
    h = 1e-3
    fd = (-f(u + 2 * h) + 16 * f(u + h) - 30 * f(u) + 16 * f(u - h) - f(u - 2 * h)) / (12 * h * h)
    np.testing.assert_allclose(f.second_derivative(u), fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def test_uniform_interpolant_is_a_cubic_between_data_inside_minus_one_one():
    data = _data(seed=2, s=6)
    f = kernel.interpolant(data, "uniform")
    edges = np.concatenate([[-1.0], data.x, [1.0]])
    for lo, hi in zip(edges[:-1], edges[1:]):
        u = np.linspace(lo, hi, 30)
        d2 = f.second_derivative(u)
        coef = np.polynomial.polynomial.polyfit(u, d2, 1)
        assert (
            np.abs(np.polynomial.polynomial.polyval(u, coef) - d2).max() < 1e-10 * np.abs(d2).max()
        )
    # outside [−1, 1], f''/ζ is affine but ζ ∝ u⁻⁴: f'' is not linear there
    u = np.linspace(1.2, 3.0, 30)
    d2 = f.second_derivative(u)
    coef = np.polynomial.polynomial.polyfit(u, d2, 1)
    assert np.abs(np.polynomial.polynomial.polyval(u, coef) - d2).max() > 1e-3 * np.abs(d2).max()


# ----------------------------------------------------------------------------- RKHS norm
@pytest.mark.parametrize(
    "init", ["uniform", "gaussian", kernel.Uniform(2.0, 0.5), kernel.Gaussian(0.5)]
)
def test_rkhs_norm_of_the_interpolant_is_alpha_K_alpha(init):
    f = kernel.interpolant(_data(seed=0, s=6), init)
    parts = kernel.rkhs_norm(f, init)
    assert parts.total == pytest.approx(f.norm_squared, rel=1e-8)
    assert parts.affine > 0 and parts.curvature > 0


def test_rkhs_norm_for_an_asymmetric_density():
    # (a, b) uniform on [−1, 2]×[−1, 1]: ζ₊ ≠ ζ₋, the general charge vᵀN⁻¹v
    dens = kernel.Density(
        lambda a, b: np.where((a >= -1) & (a <= 2) & (np.abs(b) <= 1), 1 / 6, 0.0),
        bounds=((-1.0, 2.0), (-1.0, 1.0)),
        nodes=16,
    )
    data = r1.Dataset([-0.5, 0.1, 0.6], [0.3, -0.2, 0.4])
    f = kernel.interpolant(data, dens)
    np.testing.assert_allclose(f(data.x), data.y, atol=1e-10)
    assert kernel.rkhs_norm(f, dens).total == pytest.approx(f.norm_squared, rel=1e-6)


def test_interpolant_beats_natural_spline_in_rkhs_norm_but_not_in_curvature():
    data = _data(seed=2, s=8)
    f, natural = kernel.interpolant(data, "uniform"), r1.splines.natural_cubic(data)
    nf, nn = kernel.rkhs_norm(f, "uniform"), kernel.rkhs_norm(natural, "uniform")
    assert nf.total < nn.total
    # the natural spline saves curvature, pays in the affine part
    assert nn.curvature < nf.curvature


# ----------------------------------------------------------------------------- flow
def test_flow_endpoints_and_ode():
    data = _data(seed=3, s=7)
    times = np.array([0.0, 0.5, 5.0, np.inf])
    fl = kernel.flow(data, times, "uniform")
    values = fl(data.x)
    np.testing.assert_allclose(values[0], 0.0, atol=1e-15)
    np.testing.assert_allclose(values[-1], kernel.interpolant(data)(data.x), atol=1e-8)
    G = kernel.rf_kernel(data.x, data.x)
    sol = integrate.solve_ivp(
        lambda t, f: -G @ (f - data.y),
        (0, 5.0),
        np.zeros(data.s),
        t_eval=[0.5, 5.0],
        rtol=1e-12,
        atol=1e-14,
        method="DOP853",
    )
    np.testing.assert_allclose(values[1:3], sol.y.T, atol=1e-9)
    loss = 0.5 * ((values - data.y) ** 2).sum(axis=1)
    assert np.all(np.diff(loss) < 0)
    assert fl(np.linspace(-1, 1, 5)).shape == (4, 5)


def test_flow_off_data_matches_ode_of_the_function():
    # ḟ(x) = −K(x, X)(f(X) − y) at a point off the data
    data = _data(seed=5, s=5)
    G = kernel.rf_kernel(data.x, data.x)
    kx = kernel.rf_kernel(0.123, data.x)

    def rhs(t, z):
        return np.concatenate([-G @ (z[:-1] - data.y), [-kx @ (z[:-1] - data.y)]])

    sol = integrate.solve_ivp(
        rhs, (0, 3.0), np.zeros(data.s + 1), rtol=1e-12, atol=1e-14, method="DOP853"
    )
    assert kernel.flow(data, 3.0)(0.123)[0] == pytest.approx(sol.y[-1, -1], abs=1e-9)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs():
    data = _data()
    with pytest.raises(ValueError, match="init"):
        kernel.rf_kernel(0.1, 0.2, "laplace")
    with pytest.raises(TypeError, match="init"):
        kernel.rf_kernel(0.1, 0.2, 3)
    with pytest.raises(ValueError, match="A"):
        kernel.Uniform(A=0.0)
    with pytest.raises(ValueError, match="bounds"):
        kernel.Density(lambda a, b: a, bounds=((0.0, 1.0), (-1.0, 1.0)))
    with pytest.raises(TypeError, match="p must"):
        kernel.Density("gauss")
    with pytest.raises(ValueError, match="kernel"):
        kernel.interpolant(data, kernel="laplace")
    with pytest.raises(ValueError, match="ridge"):
        kernel.interpolant(data, ridge=-1.0)
    with pytest.raises(TypeError, match="Dataset"):
        kernel.interpolant((data.x, data.y))
    with pytest.raises(ValueError, match="times"):
        kernel.flow(data, [-1.0])
    with pytest.raises(ValueError, match="needs the width m"):
        kernel.ntk(0.1, 0.2, alpha="one")
    with pytest.raises(ValueError, match="c_variance"):
        kernel.ntk(0.1, 0.2, kernel.Density(lambda a, b: a * 0 + 1 / 4, bounds=((-1, 1), (-1, 1))))
    with pytest.raises(ValueError, match="1-D"):
        kernel.rf_kernel(np.zeros((2, 2)), 0.1)
    with pytest.raises(ValueError, match="finite"):
        kernel.curvature_weight([np.nan])
    with pytest.raises(TypeError, match="second derivative"):
        kernel.rkhs_norm(lambda x: x)
