"""The Langevin noise of relu1d.train: the counter-based generator (SplitMix64 + Box–Muller)
against independent computations (its polynomial ln, sin and cos against libm and against
extended precision), its layout (rows of pairs, chunks of 256) against a neuron-by-neuron
construction, bit equality of the compiled and numpy versions and of what the kernels
add, and statistical tests of the stream (moments, normality, independence across steps,
rows, neurons, pair partners and seeds)."""

import math

import numpy as np
import pytest
from scipy import stats

import relu1d as r1
from relu1d.train import _api, _kernels, _reference, langevin_noise

_MASK = (1 << 64) - 1


def splitmix64_sequential(seed: int, n: int) -> list[int]:
    """SplitMix64 as usually written (Vigna's splitmix64.c): a state advanced by γ and
    mixed at each call, in Python integers."""
    state, out = seed, []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        out.append(z ^ (z >> 31))
    return out


# The generator's polynomials approximate −2 ln u, sin and cos to a relative error of
# 4.8e-12, 4.6e-12 and 6.4e-11 (minimax fits). The uniforms are coarser than that: φ
# moves in steps of (π/4)·2⁻²⁹ ≈ 1.5e-9 rad, which changes cos φ (φ near π/4) by ~1e-9
# relative, and u in steps of 2⁻³² (r by ≥ 1.2e-10 relative near u = 1/2). An error of
# 1e-10 is thus below what one step of the inputs does, and each Gaussian must be within
# it of the exact Box–Muller value of its uniforms; it must also be above 1e-11 (the
# short cos polynomial is in use, not libm: a longer or exact cos would fail that).
GAUSS_RTOL = 1e-10
GAUSS_RTOL_FLOOR = 1e-11


def box_muller_libm(h: int) -> tuple[float, float]:
    """The documented pair from one 64-bit h, with the platform's log, cos and sin."""
    u = ((h >> 32) + 0.5) * 2.0**-32
    phi = (math.pi / 4) * (h & 0x1FFFFFFF) / 2**29
    theta0 = math.pi / 2 - phi if h >> 29 & 1 else phi
    r = math.sqrt(-2.0 * math.log(u))
    first, second = r * math.cos(theta0), r * math.sin(theta0)
    return (-first if h >> 30 & 1 else first), (-second if h >> 31 & 1 else second)


# ----------------------------------------------------------------------------- the generator
def test_splitmix64_is_the_published_generator():
    # first output for seed 0 (the value every SplitMix64 port reproduces)
    assert int(_reference.splitmix64(0, 0)) == 0xE220A8397B1DCDAF
    for seed in (0, 1, 0xDEADBEEFCAFEF00D, _MASK):
        got = _reference.splitmix64(np.uint64(seed), np.arange(50, dtype=np.uint64))
        assert [int(v) for v in got] == splitmix64_sequential(seed, 50)
    # random access: output k without the k before it
    state = (7 + 10**12 * 0x9E3779B97F4A7C15) & _MASK   # the state after 10¹² calls
    assert int(_reference.splitmix64(7, 10**12)) == splitmix64_sequential(state, 1)[0]


def test_box_muller_pairs_agree_with_libm():
    """The polynomial ln/sin/cos and the octant bits against math.log/cos/sin (the atol
    covers libm's rounding of θ₀ = π/2 − φ near π/2)."""
    key = np.uint64(0x0123456789ABCDEF)
    k = np.arange(20_000, dtype=np.uint64)
    c, s = _reference.gaussian_pairs(key, k)
    hs = _reference.splitmix64(key, k)
    want = np.array([box_muller_libm(int(h)) for h in hs])
    np.testing.assert_allclose(c, want[:, 0], rtol=GAUSS_RTOL, atol=4e-15)
    np.testing.assert_allclose(s, want[:, 1], rtol=GAUSS_RTOL, atol=4e-15)
    # every octant occurs, with its signs
    octant = (hs.view(np.int64) >> 29) & 7
    assert set(octant.tolist()) == set(range(8))
    for bits in range(8):
        sel = octant == bits
        assert np.all((c[sel] < 0) == bool(bits & 2)) and np.all((s[sel] < 0) == bool(bits & 4))
        assert np.all((np.abs(s[sel]) > np.abs(c[sel])) == bool(bits & 1))


def test_gaussians_within_stated_error_of_exact_box_muller():
    """Every Gaussian of 4·10⁵ (and the extreme uniforms: u at both ends of its grid, φ
    at 0 and just below π/4) against Box–Muller of the same uniforms in extended
    precision (logl, sinl, cosl): max relative error below GAUSS_RTOL."""
    if np.finfo(np.longdouble).eps > 1e-18:
        pytest.skip("no extended-precision long double on this platform")
    ld = np.longdouble
    pi = ld("3.14159265358979323846264338327950288")
    hs = _reference.splitmix64(np.uint64(99), np.arange(200_000, dtype=np.uint64))
    edges = np.array(
        [hi << 32 | lo for hi in (0, 1, 2**31, 2**32 - 2, 2**32 - 1)
         for lo in (0, 1, 2**29 - 1, 2**29, 2**30 + 5, 2**31 + 2**29 + 2**29 - 1, 2**32 - 1)],
        dtype=np.uint64)
    hs = np.concatenate((hs, edges))
    h = [int(v) for v in hs]
    u = np.array([((v >> 32) + 0.5) * 2.0**-32 for v in h], dtype=ld)    # exact in double
    phi = pi / 4 * np.array([v & 0x1FFFFFFF for v in h], dtype=ld) / ld(2**29)
    r = np.sqrt(-2 * np.log(u))
    cos_, sin_ = np.cos(phi), np.sin(phi)
    swap = np.array([v >> 29 & 1 for v in h], dtype=bool)
    first = np.where(swap, sin_, cos_) * r * np.array([-1 if v >> 30 & 1 else 1 for v in h])
    second = np.where(swap, cos_, sin_) * r * np.array([-1 if v >> 31 & 1 else 1 for v in h])
    # the generator's pairs for these h (the hash is checked on its own above)
    got_first, got_second = _gaussian_pairs_of(hs)
    want = np.concatenate((first, second))
    got = np.concatenate((got_first, got_second)).astype(ld)
    nonzero = want != 0
    rel = np.abs(got[nonzero] - want[nonzero]) / np.abs(want[nonzero])
    assert float(np.max(rel)) < GAUSS_RTOL, float(np.max(rel))
    assert np.all(got[~nonzero] == 0)   # φ = 0 gives exactly 0 (sin 0 = 0)
    # the approximation error is the stated one: not libm's bits, not 1e-12 everywhere
    assert float(np.max(rel)) > GAUSS_RTOL_FLOOR, float(np.max(rel))
    # and the quantisation argument: one step of φ near π/4 moves cos φ by more than it
    phi = np.pi / 4 * (1 - 2.0**-29)
    assert abs(math.cos(phi) - math.cos(np.pi / 4)) / math.cos(np.pi / 4) > 10 * GAUSS_RTOL


def _gaussian_pairs_of(hs):
    """The generator's pairs for given 64-bit numbers h (bypassing the hash): the pair
    k of key K has h = SplitMix64(K, k); with K = 0 and the inverse of SplitMix64's
    output function we can pick h freely."""
    with np.errstate(over="ignore"):
        k = _unmix(hs) * np.uint64(_GAMMA_INV) - np.uint64(1)
    assert np.array_equal(_reference.splitmix64(0, k), hs)
    return _reference.gaussian_pairs(np.uint64(0), k)


_GAMMA_INV = pow(0x9E3779B97F4A7C15, -1, 2**64)


def _unmix(h):
    """The inverse of SplitMix64's output function (xor-shifts and odd multipliers are
    invertible mod 2⁶⁴): z with _mix(z) = h."""
    z = np.asarray(h, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z = z ^ (z >> np.uint64(31)) ^ (z >> np.uint64(62))
        z = z * np.uint64(pow(0x94D049BB133111EB, -1, 2**64))
        z = z ^ (z >> np.uint64(27)) ^ (z >> np.uint64(54))
        z = z * np.uint64(pow(0xBF58476D1CE4E5B9, -1, 2**64))
        z = z ^ (z >> np.uint64(30)) ^ (z >> np.uint64(60))
    return z


def test_log_polynomial_is_accurate_over_the_whole_range():
    x = np.concatenate(
        (np.geomspace(2.0**-1000, 1e300, 200_001), np.random.default_rng(0).uniform(0.5, 2, 10**5),
         1 - np.arange(1, 1000) * 2.0**-33, 1 + np.arange(1, 1000) * 2.0**-52)
    )
    got = _reference.minus_two_log(x)
    np.testing.assert_allclose(got, -2 * np.log(x), rtol=5e-12, atol=1e-300)
    assert _reference.minus_two_log(np.array([1.0]))[0] == 0.0


@pytest.mark.parametrize("m", [1, 2, 3, 7, 255, 256, 257, 300, 511, 512, 513, 1000, 1100])
def test_compiled_generator_is_bit_for_bit_the_numpy_one(m):
    for key in (np.uint64(0), np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(987654321987654321)):
        for row0 in (0, 1, 123_456_789, 2**61 // m):
            out = np.full((3, m), np.nan)
            _kernels._fill_noise_rows(key, row0, out)
            want = _reference.noise_rows(key, row0, 3, m)
            np.testing.assert_array_equal(out.view(np.int64), want.view(np.int64))


@pytest.mark.parametrize("m, lo, n", [(1, 0, 1), (7, 0, 7), (600, 0, 512), (600, 512, 88),
                                      (1100, 512, 512), (1100, 1024, 76), (513, 256, 257)])
def test_compiled_add_is_bit_for_bit_z_plus_scaled_noise(m, lo, n):
    """What the dense kernels use: z += scale·ξ for the neurons lo, ..., lo + n − 1 of a
    row (the blocks of 512: several chunks, partial last chunks), the same bits as
    adding the numpy row; and the finiteness it reports."""
    key = np.uint64(0xC0FFEE)
    h, work = _kernels._gaussian_scratch()
    z0 = np.random.default_rng(n).normal(size=n)
    z = z0.copy()
    xs = np.empty(n)
    assert _kernels._add_noise_row(key, 5, m, lo, z, 0.37, xs, h, work)
    want = z0 + 0.37 * _reference.noise_rows(key, 5, 1, m)[0, lo:lo + n]
    np.testing.assert_array_equal(z.view(np.int64), want.view(np.int64))
    for bad in (0, n - 1):
        z = z0.copy()
        z[bad] = np.inf
        assert not _kernels._add_noise_row(key, 5, m, lo, z, 0.37, xs, h, work)


def _layout_by_hand(key, row, m):
    """The documented layout, neuron by neuron, from the pairs of the row."""
    half = (m + 1) // 2
    first, second = _reference.gaussian_pairs(
        np.uint64(key), np.uint64(row * half) + np.arange(half, dtype=np.uint64))
    out = []
    for i in range(m):
        c, j = divmod(i, 256)
        q = -(-min(256, m - 256 * c) // 2)
        out.append(first[128 * c + j] if j < q else second[128 * c + j - q])
    return np.array(out)


def test_langevin_noise_layout_and_arguments():
    full = langevin_noise(3, m=5, rows=2, steps=4)
    assert full.shape == (4, 2, 5)
    np.testing.assert_array_equal(langevin_noise(3, m=5, rows=2, steps=2, start=2), full[2:])
    np.testing.assert_array_equal(
        langevin_noise(np.random.default_rng(3), m=5, rows=2, steps=4), full
    )
    # step t, name k is noise row t·p + k of the run's key, laid out in chunks of 256
    _, key = _api._streams(3)
    for m in (5, 300, 513):
        xi = langevin_noise(3, m=m, rows=2, steps=2)
        for t in range(2):
            for k in range(2):
                np.testing.assert_array_equal(xi[t, k], _layout_by_hand(key, 2 * t + k, m))
    # every pair is used once per row (both members, but the last first when m is odd)
    for m in (1, 6, 255, 256, 257, 700):
        pair, is_second = _reference.noise_layout(m)
        assert sorted(zip(pair.tolist(), is_second.tolist())) == [
            (p, s) for p in range((m + 1) // 2) for s in (False, True)][:m]
    assert not np.array_equal(langevin_noise(4, m=5, rows=2, steps=4), full)
    for kwargs, err in ((dict(m=0), ValueError), (dict(m=3, rows=0), ValueError),
                        (dict(m=3, steps=-1), ValueError), (dict(m=2.5), TypeError)):
        with pytest.raises(err):
            langevin_noise(0, **kwargs)


# ----------------------------------------------------------------------------- what train adds
def _random_walk(backend, steps, record_every, batch_size, seed=13, m=1100):
    """A network on which no gradient acts (every neuron off on the data, b ≫ |a·x|) and
    the noise scale √(2·lr·T) = 1, so each parameter adds exactly ξ each step. m = 1100
    spans three blocks of the dense kernel path (512 neurons each, the last partial)."""
    a = np.zeros(m)
    b = np.full(m, 1e3)
    c = np.zeros(m)
    data = r1.datasets.sinusoid(9, seed=0)  # x in [-1, 1]
    traj = r1.train(
        r1.Network(a, b, c),
        data,
        method="langevin",
        lr=0.5,
        temperature=1.0,
        steps=steps,
        batch_size=batch_size,
        record_every=record_every,
        seed=seed,
        progress=False,
        max_snapshots=None,
        backend=backend,
    )
    xi = langevin_noise(seed, m=m, rows=3, steps=steps)
    start = np.stack((a, b, c))[None]
    expected = np.add.accumulate(np.concatenate((start, xi)), axis=0)   # z_t = fl(z_{t−1} + ξ_t)
    return traj, expected


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("path", ["dense", "sorted"])
@pytest.mark.parametrize("batch_size", [1, 4, None])
def test_train_adds_exactly_the_documented_noise(backend, path, batch_size, monkeypatch):
    if path == "sorted":
        if backend == "numpy":
            pytest.skip("one reference path")
        monkeypatch.setattr(_kernels, "_DENSE_MAX", 0)
    steps = 30
    traj, expected = _random_walk(backend, steps, 1, batch_size)   # one kernel call per step
    got = np.stack((traj.snapshots.a, traj.snapshots.b, traj.snapshots.c), axis=1)
    np.testing.assert_array_equal(got, expected)
    whole, _ = _random_walk(backend, steps, steps, batch_size)        # one call for all steps
    np.testing.assert_array_equal(whole.network.c, expected[-1, 2])


def test_both_backends_same_langevin_bits_for_a_real_run():
    """Real training (gradients on): the backends differ by rounding only, so a change of
    the noise on one side (shifted by one step, another key) would show at O(noise)."""
    net, data = r1.init_network(30, seed=1), r1.datasets.square_wave(12, seed=1)
    kw = dict(
        method="langevin",
        lr=1e-2,
        steps=120,
        batch_size=1,
        temperature=0.05,
        seed=21,
        progress=False,
        record_every=40,
    )
    fast, ref = r1.train(net, data, **kw), r1.train(net, data, backend="numpy", **kw)
    np.testing.assert_allclose(fast.snapshots.a, ref.snapshots.a, rtol=0, atol=1e-11)
    np.testing.assert_allclose(fast.snapshots.c, ref.snapshots.c, rtol=0, atol=1e-11)
    other = r1.train(net, data, **{**kw, "seed": 22})
    assert np.max(np.abs(other.snapshots.c[-1] - fast.snapshots.c[-1])) > 1e-3


# ----------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("n", [10**3, 10**4, 10**5, 10**6])
def test_moments_within_their_sampling_error(n):
    """Mean, variance and fourth moment against N(0, 1), within 4 standard errors of
    their sampling distributions (sd 1/√n, √(2/n), √(96/n)), at several sizes and
    seeds, odd starts included."""
    for seed, start in ((0, 0), (1, 1), (2, 12345)):
        z = langevin_noise(seed, m=n, rows=1, steps=1, start=start).ravel()
        assert abs(z.mean()) < 4 / math.sqrt(n)
        assert abs(z.var() - 1) < 4 * math.sqrt(2 / n)
        assert abs(np.mean(z**4) - 3) < 4 * math.sqrt(96 / n)


def test_distribution_is_standard_normal():
    """Kolmogorov–Smirnov and Cramér–von Mises against N(0, 1) on 10⁶ numbers, and the
    tails: P(|ξ| > k) for k = 2, 3, 4 within 4 binomial standard errors."""
    z = langevin_noise(5, m=10**6, rows=1).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert stats.cramervonmises(z, "norm").pvalue > 1e-3
    n = z.size
    for k in (2.0, 3.0, 4.0):
        p = 2 * stats.norm.sf(k)
        assert abs(np.mean(np.abs(z) > k) - p) < 4 * math.sqrt(p * (1 - p) / n) + 1 / n
    assert np.max(np.abs(z)) < 6.78   # the documented bound of the generator


def _pooled_corr(u, v):
    u = u.ravel()
    v = v.ravel()
    return float(np.mean(u * v) / math.sqrt(np.mean(u * u) * np.mean(v * v))), u.size


def test_independent_across_steps_rows_neurons_pairs_and_seeds():
    """Pooled correlations (|ρ̂| < 4/√N, N the number of products) between: consecutive
    steps of a neuron's parameter (lag 1 and 2), the rows a, b, c of one neuron,
    neighbouring neurons, the two members of a Box–Muller pair and their squares (which
    share the radius), and two seeds."""
    steps, m = 400, 500
    xi = langevin_noise(7, m=m, rows=3, steps=steps)         # 6·10⁵ numbers
    checks = {
        "lag 1 in steps": (xi[1:], xi[:-1]),
        "lag 2 in steps": (xi[2:], xi[:-2]),
        "row a vs b": (xi[:, 0], xi[:, 1]),
        "row b vs c": (xi[:, 1], xi[:, 2]),
        "row a vs c": (xi[:, 0], xi[:, 2]),
        "neighbour neurons": (xi[:, :, 1:], xi[:, :, :-1]),
        "neurons 2 apart": (xi[:, :, 2:], xi[:, :, :-2]),
    }
    pair, is_second = _reference.noise_layout(m)
    firsts = np.flatnonzero(~is_second)
    partners = np.flatnonzero(is_second)                 # second of pair p ...
    mates = firsts[np.searchsorted(pair[firsts], pair[partners])]   # ... and its first
    assert np.array_equal(pair[mates], pair[partners])
    checks["pair partners"] = (xi[..., mates], xi[..., partners])
    checks["pair partners, squared"] = (xi[..., mates] ** 2 - 1, xi[..., partners] ** 2 - 1)
    checks["across pairs, squared"] = (xi[..., firsts[:-1]] ** 2 - 1, xi[..., firsts[1:]] ** 2 - 1)
    checks["seed 7 vs seed 8"] = (xi, langevin_noise(8, m=m, rows=3, steps=steps))
    for name, (u, v) in checks.items():
        rho, n = _pooled_corr(u, v)
        assert abs(rho) < 4 / math.sqrt(n), (name, rho)
    # per series too: the lag-1 autocorrelation of each (row, neuron) over the steps
    series = xi.reshape(steps, -1)
    centred = series - series.mean(axis=0)
    lag1 = np.sum(centred[1:] * centred[:-1], axis=0) / np.sum(centred**2, axis=0)
    assert np.max(np.abs(lag1)) < 5.5 / math.sqrt(steps)
    assert abs(np.mean(lag1) + 1 / steps) < 4 / math.sqrt(steps * series.shape[1])


def test_steps_of_a_long_run_do_not_repeat():
    """Consecutive and distant steps of one run hold different numbers (a counter that
    ignored the step, or wrapped, would repeat them)."""
    m = 64
    first = langevin_noise(9, m=m, rows=3, steps=1)[0]
    for start in (1, 2, 10**6, 10**9):
        assert not np.any(langevin_noise(9, m=m, rows=3, steps=1, start=start)[0] == first)
