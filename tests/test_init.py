import numpy as np
import pytest
from scipy import stats

import relu1d as r1

M = 40_000  # moments from this many neurons; tolerances are 5 standard errors

# (scheme) -> (distribution of a, of b, of c·√m (uniform) or c (others) as frozen scipy laws)
LAWS = {
    "uniform": (stats.uniform(-1, 2), stats.uniform(-1, 2), stats.uniform(-1 / np.sqrt(M), 2 / np.sqrt(M))),
    "gaussian": (stats.norm(0, 1), stats.norm(0, 1), stats.norm(0, 1 / np.sqrt(M))),
    "he": (stats.norm(0, np.sqrt(2)), None, stats.norm(0, np.sqrt(2 / M))),
    "xavier": (stats.norm(0, np.sqrt(2 / (1 + M))), None, stats.norm(0, np.sqrt(2 / (M + 1)))),
    "lecun": (stats.norm(0, 1), None, stats.norm(0, np.sqrt(1 / M))),
}


def _check_moments(sample, law):
    n = sample.size
    mean, var = law.mean(), law.var()
    assert abs(sample.mean() - mean) < 5 * np.sqrt(var / n)
    # Var of the sample variance: (μ4 − σ⁴)/n
    mu4 = law.moment(4) - 4 * mean * law.moment(3) + 6 * mean ** 2 * law.moment(2) - 3 * mean ** 4
    assert abs(sample.var() - var) < 5 * np.sqrt((mu4 - var ** 2) / n)
    assert stats.kstest(sample, law.cdf).pvalue > 1e-4


@pytest.mark.parametrize("scheme", sorted(LAWS))
def test_scheme_moments_match_stated_distribution(scheme):
    net = r1.init_network(M, scheme=scheme, alpha="one", seed=11)
    law_a, law_b, law_c = LAWS[scheme]
    _check_moments(net.a, law_a)
    _check_moments(net.c, law_c)
    if law_b is None:
        np.testing.assert_array_equal(net.b, 0.0)  # zero bias: every breakpoint at 0
    else:
        _check_moments(net.b, law_b)


def test_scales_alpha_seed_and_provenance():
    base = r1.init_network(50, seed=3, alpha="one")
    scaled = r1.init_network(50, seed=3, alpha="m", ab_scale=2.0, c_scale=0.0)
    np.testing.assert_allclose(scaled.a, 2 * base.a)
    np.testing.assert_allclose(scaled.b, 2 * base.b)
    np.testing.assert_array_equal(scaled.c, 0.0)
    assert scaled.alpha == 50.0 and r1.init_network(49, alpha="sqrt").alpha == 7.0
    assert r1.init_network(5, alpha=2.5).alpha == 2.5
    np.testing.assert_array_equal(r1.init_network(50, seed=3).a, r1.init_network(50, seed=3).a)
    assert not np.array_equal(r1.init_network(50, seed=4).a, base.a)
    gen = np.random.default_rng(0)
    assert r1.init_network(5, seed=gen).provenance["seed"] == "generator"
    assert base.provenance["scheme"] == "uniform" and base.provenance["relu1d_version"] == r1.__version__


@pytest.mark.parametrize("delta", [-100.0, -1.0, 0.0, 1.0, 100.0])
def test_delta_keeps_canonical_point_and_function(delta):
    base = r1.init_network(200, seed=1)
    net = r1.init_network(200, seed=1, delta=delta)
    np.testing.assert_allclose(net.invariants(), delta, atol=1e-9 * max(1, abs(delta)))
    r0, t0 = base.canonical()
    r1_, t1 = net.canonical()
    np.testing.assert_allclose(r1_, r0, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.exp(1j * t1), np.exp(1j * t0), atol=1e-9)
    x = np.linspace(-2, 2, 51)
    np.testing.assert_allclose(net(x), base(x), atol=1e-10)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(m=0), ValueError, "m must be >= 1"),
    (dict(m=2.5), TypeError, "m must be an integer"),
    (dict(m=10, scheme="kaiming"), ValueError, "'uniform', 'gaussian', 'he', 'xavier', 'lecun'"),
    (dict(m=10, alpha=0), ValueError, "alpha must be > 0"),
    (dict(m=10, alpha="half"), ValueError, "alpha"),
    (dict(m=10, ab_scale=-1.0), ValueError, "ab_scale must be >= 0"),
    (dict(m=10, c_scale=float("nan")), ValueError, "c_scale"),
    (dict(m=10, seed=-1), ValueError, "seed"),
    (dict(m=10, seed=1.5), TypeError, "seed"),
    (dict(m=10, delta=[1.0, 2.0]), ValueError, "delta"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        r1.init_network(**kwargs)
