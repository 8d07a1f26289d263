import numpy as np
import pytest
from scipy import stats

import relu1d as r1

M = 40_000  # moments from this many neurons; tolerances are 5 standard errors

# (scheme) -> (distribution of a, of b, of c·√m (uniform) or c (others) as frozen scipy laws)
LAWS = {
    "uniform": (
        stats.uniform(-1, 2),
        stats.uniform(-1, 2),
        stats.uniform(-1 / np.sqrt(M), 2 / np.sqrt(M)),
    ),
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
    assert (
        base.provenance["scheme"] == "uniform"
        and base.provenance["relu1d_version"] == r1.__version__
    )


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


# ------------------------------------------------------------------ default draws unchanged
def _old_draw(m, scheme, seed):
    """The draw as it was before antisymmetric/balance existed, written out independently."""
    rng = np.random.default_rng(seed)
    if scheme in ("uniform", "gaussian"):
        draw = (
            (lambda: rng.uniform(-1.0, 1.0, m))
            if scheme == "uniform"
            else (lambda: rng.standard_normal(m))
        )
        a, b, c = draw(), draw(), draw()
        return a, b, c / np.sqrt(m)
    var_a, var_c = {
        "he": (2.0, 2.0 / m),
        "xavier": (2.0 / (1 + m), 2.0 / (m + 1)),
        "lecun": (1.0, 1.0 / m),
    }[scheme]
    a = rng.standard_normal(m) * np.sqrt(var_a)
    c = rng.standard_normal(m) * np.sqrt(var_c)
    return a, np.zeros(m), c


@pytest.mark.parametrize("scheme", r1.SCHEMES)
def test_default_draw_is_bit_identical_to_the_old_path(scheme):
    net = r1.init_network(
        37, scheme=scheme, seed=7, ab_scale=0.5, c_scale=3.0, antisymmetric=False, balance=None
    )
    a, b, c = _old_draw(37, scheme, 7)
    np.testing.assert_array_equal(net.a, a * 0.5)
    np.testing.assert_array_equal(net.b, b * 0.5)
    np.testing.assert_array_equal(net.c, c * 3.0)
    assert "antisymmetric" not in net.provenance and "balance" not in net.provenance


@pytest.mark.parametrize("kwargs, digest", [
    (dict(m=11, scheme="uniform", seed=5), "eb3683a41c47d2f2"),
    (dict(m=11, scheme="gaussian", seed=5, alpha="one"), "f67b2258dbc680bf"),
    (dict(m=11, scheme="he", seed=2, delta=0.5, ab_scale=0.3, c_scale=2.0), "49a854dde7004101"),
    (dict(m=8, scheme="lecun", seed=1, delta=-1.0), "ea39d7c908243df9"),
])
def test_stored_draws_unchanged(kwargs, digest):
    """SHA-256 of (a, b, c) as written by relu1d before the new options (δ path included)."""
    import hashlib

    net = r1.init_network(**kwargs)
    assert (
        hashlib.sha256(np.concatenate([net.a, net.b, net.c]).tobytes()).hexdigest()[:16] == digest
    )


# ------------------------------------------------------------------ antisymmetric
@pytest.mark.parametrize("scheme", r1.SCHEMES)
def test_antisymmetric_pairs_and_zero_function(scheme):
    m = 50
    net = r1.init_network(m, scheme=scheme, seed=3, antisymmetric=True, ab_scale=0.7, c_scale=1.3)
    h = m // 2
    np.testing.assert_array_equal(net.a[h:], net.a[:h])
    np.testing.assert_array_equal(net.b[h:], net.b[:h])
    np.testing.assert_array_equal(net.c[h:], -net.c[:h])
    assert np.all(net.c[:h] != 0)
    np.testing.assert_allclose(net(np.linspace(-3, 3, 41)), 0.0, atol=1e-14)
    assert net.provenance["antisymmetric"] is True
    # the drawn half is the scheme's law at width m (scales applied after)
    plain = r1.init_network(m, scheme=scheme, seed=3)
    assert abs(np.std(net.c[:h]) / 1.3 - np.std(plain.c)) < 0.6 * np.std(plain.c)


@pytest.mark.parametrize("scheme", ["uniform", "gaussian", "he"])
def test_antisymmetric_marginals_are_the_width_m_laws(scheme):
    net = r1.init_network(M, scheme=scheme, alpha="one", seed=12, antisymmetric=True)
    law_a, law_b, law_c = LAWS[scheme]
    half = M // 2  # independent draws; the other half is a copy
    _check_moments(net.a[:half], law_a)
    _check_moments(net.c[:half], law_c)   # c at width M, not M/2
    _check_moments(-net.c[half:], law_c)
    if law_b is not None:
        _check_moments(net.b[:half], law_b)


def test_antisymmetric_composes_with_delta_and_balance():
    m, h = 40, 20
    base = r1.init_network(m, seed=4, antisymmetric=True)
    per_pair = np.tile(np.linspace(-1.0, 2.0, h), 2)
    for kwargs, target in ((dict(delta=0.75), 0.75), (dict(delta=per_pair), per_pair)):
        net = r1.init_network(m, seed=4, antisymmetric=True, **kwargs)
        np.testing.assert_allclose(net.invariants(), target, atol=1e-12)
        np.testing.assert_array_equal(net.a[h:], net.a[:h])
        np.testing.assert_array_equal(net.c[h:], -net.c[:h])
        np.testing.assert_allclose(net.canonical()[0], base.canonical()[0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(net(np.linspace(-2, 2, 9)), 0.0, atol=1e-12)
    net = r1.init_network(m, seed=4, antisymmetric=True, balance="unbalanced")
    np.testing.assert_array_equal(net.c[h:], -net.c[:h])
    np.testing.assert_allclose(np.abs(net.c), 0.5 * np.hypot(net.a, net.b), rtol=1e-12)
    with pytest.raises(ValueError, match=r"neurons i and i \+ m/2 \(a pair\) the same value"):
        r1.init_network(m, seed=4, antisymmetric=True, delta=np.linspace(-1, 1, m))


# ------------------------------------------------------------------ balance
@pytest.mark.parametrize(
    "balance, kappa",
    [("balanced", 1.0), ("dominated", 2.0), ("unbalanced", 0.5), (3.0, 3.0), (0.1, 0.1)],
)
@pytest.mark.parametrize("alpha", ["one", "sqrt", 7.0])
def test_balance_sets_the_ratio_and_keeps_the_function(balance, kappa, alpha):
    plain = r1.init_network(300, scheme="gaussian", alpha=alpha, seed=9, ab_scale=0.2, c_scale=5.0)
    net = r1.init_network(
        300, scheme="gaussian", alpha=alpha, seed=9, ab_scale=0.2, c_scale=5.0, balance=balance
    )
    rho0, rho = np.hypot(plain.a, plain.b), np.hypot(net.a, net.b)
    np.testing.assert_allclose(np.abs(net.c), kappa * rho, rtol=1e-12)
    # same product |c|ρ, same direction, same sign: the same canonical point and function
    np.testing.assert_allclose(np.abs(net.c) * rho, np.abs(plain.c) * rho0, rtol=1e-12)
    np.testing.assert_array_equal(np.sign(net.c), np.sign(plain.c))
    np.testing.assert_allclose(net.a * rho0, plain.a * rho, rtol=1e-12, atol=1e-300)
    x = np.linspace(-3, 3, 31)
    np.testing.assert_allclose(net(x), plain(x), rtol=1e-12, atol=1e-14)
    # δᵢ = (κ − 1/κ)|c₀ᵢ|ρ₀ᵢ, its sign that of κ − 1
    np.testing.assert_allclose(net.invariants(), (kappa - 1 / kappa) * np.abs(plain.c) * rho0,
                               rtol=1e-9, atol=1e-15 * np.max(np.abs(plain.c) * rho0))
    assert net.provenance["balance"] == balance


def test_boursier_flammarion_init_is_the_gaussian_scheme_at_their_scale():
    """Their eq. 3 with w̃ ~ N(0, I₂), ã ~ N(0, 1) (App. B.2): every coordinate N(0, λ²/m)."""
    lam, m = 1e-3, 40_000
    net = r1.init_network(
        m, "gaussian", alpha="one", ab_scale=lam / np.sqrt(m), c_scale=lam, seed=2
    )
    law = stats.norm(0, lam / np.sqrt(m))
    for v in (net.a, -net.b, net.c):
        _check_moments(v, law)
    bal = r1.init_network(
        m,
        "gaussian",
        alpha="one",
        ab_scale=lam / np.sqrt(m),
        c_scale=lam,
        seed=2,
        balance="balanced",
    )
    np.testing.assert_allclose(bal.invariants(), 0.0, atol=1e-22)
    # the scale of their balanced init: E‖w‖ = (λ/√m)·E‖w̃‖ = (λ/√m)·√(π/2); ours E(|ã|‖w̃‖)^½
    # = (λ/√m)·E|ã|^½·E‖w̃‖^½ = (λ/√m)·2^½Γ(3/4)Γ(5/4)/√π = (λ/√m)·√π/2: 1/√2 of theirs
    ratio = np.mean(np.hypot(bal.a, bal.b)) / (lam / np.sqrt(m) * np.sqrt(np.pi / 2))
    assert abs(ratio - 2 ** -0.5) < 0.01


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(m=7, antisymmetric=True),
            ValueError,
            r"m must be even; got m = 7 \(use m = 6 or 8\)",
        ),
        (dict(m=10, antisymmetric=1), TypeError, "antisymmetric must be True or False"),
        (
            dict(m=10, balance="lopsided"),
            ValueError,
            "balance must be one of 'balanced', 'dominated', 'unbalanced'",
        ),
        (dict(m=10, balance=0.0), ValueError, r"balance must be .* or a ratio"),
        (dict(m=10, balance=-2.0), ValueError, r"balance must be .* or a ratio"),
        (dict(m=10, balance=True), ValueError, r"balance must be"),
        (dict(m=10, balance="dominated", delta=1.0), ValueError, "give delta or balance, not both"),
        (dict(m=10, balance="balanced", c_scale=0.0), ValueError, "balance needs c_scale > 0"),
    ],
)
def test_bad_new_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        r1.init_network(**kwargs)


def test_init_network_examples_run_as_doctest():
    import doctest

    import relu1d.init as init_module

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(init_module.init_network, "init_network", globs={}):
        runner.run(test)
    assert runner.tries >= 8 and runner.failures == 0


# ------------------------------------------------------------------ TOML and CLI
@pytest.mark.parametrize(
    "extra",
    [
        dict(antisymmetric=True, balance="dominated"),
        dict(balance=0.25),
        dict(antisymmetric=True, delta=-0.5),
        dict(balance="unbalanced"),
    ],
)
def test_new_init_options_round_trip_through_toml(extra):
    import tomllib

    from relu1d._specs import InitSpec, TrainSpec, spec_from_dict, spec_to_toml

    spec = TrainSpec(InitSpec(m=12, scheme="gaussian", alpha="one", seed=3, **extra))
    text = spec_to_toml(spec)
    for key in extra:
        assert f"{key} = " in text
    back = spec_from_dict(TrainSpec, tomllib.loads(text))
    assert back == spec
    net, direct = back.init.network(), r1.init_network(12, "gaussian", alpha="one", seed=3, **extra)
    for name in "abc":
        np.testing.assert_array_equal(getattr(net, name), getattr(direct, name))


@pytest.mark.parametrize("table, error, match", [
    ({"m": 7, "antisymmetric": True}, ValueError, "init.m must be even; got 7"),
    ({"antisymmetric": "yes"}, TypeError, "init.antisymmetric must be true or false"),
    ({"balance": "skewed"}, ValueError, "init.balance must be one of"),
    ({"balance": -1.0}, ValueError, "init.balance must be one of"),
    ({"balance": 2.0, "delta": 1.0}, ValueError, "give init.delta or init.balance, not both"),
    ({"balance": "balanced", "c_scale": 0.0}, ValueError, "init.balance needs init.c_scale > 0"),
])
def test_new_init_options_refused_in_toml(table, error, match):
    from relu1d._specs import TrainSpec, spec_from_dict

    with pytest.raises(error, match=match):
        spec_from_dict(TrainSpec, {"init": table})


def test_train_cli_flags_for_the_new_options():
    import tomllib

    from typer.testing import CliRunner

    from relu1d.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app, ["train", "--print-config", "--m", "8", "--antisymmetric", "--balance", "0.5"]
    )
    assert result.exit_code == 0, result.output
    init = tomllib.loads(result.output)["init"]
    assert init["antisymmetric"] is True and init["balance"] == 0.5
    result = runner.invoke(app, ["train", "--print-config", "--balance", "dominated"])
    assert tomllib.loads(result.output)["init"]["balance"] == "dominated"
    assert "antisymmetric" not in result.output or "antisymmetric = false" in result.output
    result = runner.invoke(app, ["train", "--print-config", "--m", "9", "--antisymmetric"])
    assert result.exit_code == 2 and "init.m must be even" in result.output


def test_balance_in_slices_gives_the_same_bits(monkeypatch):
    import relu1d.init as init_module

    whole = r1.init_network(2500, seed=6, balance=3.0, antisymmetric=True)
    monkeypatch.setattr(init_module, "_DELTA_BLOCK", 700)
    sliced = r1.init_network(2500, seed=6, balance=3.0, antisymmetric=True)
    for name in "abc":
        np.testing.assert_array_equal(getattr(sliced, name), getattr(whole, name))
    assert init_module.init_bytes(
        10**6, balance="balanced", antisymmetric=True
    ) > init_module.init_bytes(10**6)


@pytest.mark.parametrize("scheme", ["he", "xavier", "lecun"])
@pytest.mark.parametrize("balance, kappa", [("balanced", 1.0), ("dominated", 2.0), (0.5, 0.5)])
def test_balance_keeps_zero_biases_exactly_zero(scheme, balance, kappa):
    # b = 0 schemes: the move keeps the direction (a, 0), so b stays 0 (not sin π ≈ 1e-16) and
    # every knot stays at the origin; then ‖(a, b)‖ = |a| and |c| = κ|a|
    plain = r1.init_network(64, scheme, seed=2)
    net = r1.init_network(64, scheme, seed=2, balance=balance)
    assert np.all(net.b == 0.0)
    np.testing.assert_allclose(np.abs(net.c), kappa * np.abs(net.a), rtol=1e-12)
    np.testing.assert_array_equal(np.sign(net.a), np.sign(plain.a))
    xs = np.linspace(-2, 2, 41)
    np.testing.assert_allclose(net(xs), plain(xs), atol=1e-12)


def test_balance_with_ab_scale_zero_is_refused():
    from relu1d._specs import TrainSpec, spec_from_dict

    with pytest.raises(ValueError, match="balance needs ab_scale > 0"):
        r1.init_network(4, balance="balanced", ab_scale=0.0)
    with pytest.raises(ValueError, match="init.balance needs init.ab_scale > 0"):
        spec_from_dict(TrainSpec, {"init": {"balance": 2.0, "ab_scale": 0.0}})
