"""relu1d.meanfield: every quantity against an independent computation."""

import numpy as np
import pytest

import relu1d as r1
from relu1d import meanfield as mf
from relu1d.train import _reference as ref


def _setup(m=40, s=7, seed=0, c_scale=3.0):
    data = r1.datasets.random(s, seed=seed + 100)
    net = r1.init_network(m, alpha="sqrt", seed=seed, c_scale=c_scale)
    return net, data


def _potential(data, rho, r, theta):
    """Σⱼ ρⱼ r⟨x̃ⱼ, d(θ)⟩₊: its (r, θ) gradient at fixed residuals is ∇V (eq. 9)."""
    return np.sum(rho * r * np.maximum(data.x * np.cos(theta) + np.sin(theta), 0.0))


def _fd_grad(fun, r, theta, h=1e-6):
    return ((fun(r + h, theta) - fun(r - h, theta)) / (2 * h),
            (fun(r, theta + h) - fun(r, theta - h)) / (2 * h))


def test_velocity_is_m_times_canonical_gradient_at_the_neurons():
    for seed in range(3):
        net, data = _setup(seed=seed)
        r, theta = net.canonical()
        _, g_r, g_t = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
        v_r, v_t = mf.velocity(net, data, r, theta)
        np.testing.assert_allclose(v_r, net.m * g_r, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(v_t, net.m * g_t, rtol=1e-12, atol=1e-13)


def test_velocity_matches_finite_differences_of_the_potential_anywhere():
    net, data = _setup(seed=4)
    rho = net(data.x) - data.y
    rng = np.random.default_rng(1)
    r = rng.normal(0, 2, 50)
    theta = rng.uniform(0, 2 * np.pi, 50)
    v_r, v_t = mf.velocity(net, data, r, theta)
    for i in range(r.size):
        fd_r, fd_t = _fd_grad(lambda rr, tt: _potential(data, rho, rr, tt), r[i], theta[i])
        assert v_r[i] == pytest.approx(fd_r, abs=1e-6)
        assert v_t[i] == pytest.approx(fd_t, abs=1e-6)


def test_velocity_broadcasts():
    net, data = _setup()
    v_r, v_t = mf.velocity(net, data, 2.0, np.linspace(0, 6, 12).reshape(3, 4))
    assert v_r.shape == v_t.shape == (3, 4)


@pytest.mark.parametrize("sign", [1, -1])
def test_plane_velocity_is_the_metric_image_of_the_plane_gradient(sign):
    # For sign +1 the field is −(ddᵀ + r² ttᵀ)∇U with U(u, v) = Σⱼ ρⱼ⟨x̃ⱼ, (u, v)⟩₊
    # (r·d(θ) = (u, v));
    # for sign −1 both components flip.
    net, data = _setup(seed=2)
    rho = net(data.x) - data.y
    rng = np.random.default_rng(3)
    u, v = rng.normal(0, 1.5, (2, 30))
    du, dv = mf.plane_velocity(net, data, u, v, sign)
    h = 1e-6
    pot = lambda uu, vv: np.sum(rho * np.maximum(data.x * uu + vv, 0.0))  # noqa: E731
    for i in range(u.size):
        grad = np.array([(pot(u[i] + h, v[i]) - pot(u[i] - h, v[i])) / (2 * h),
                         (pot(u[i], v[i] + h) - pot(u[i], v[i] - h)) / (2 * h)])
        rad = np.hypot(u[i], v[i])
        d = np.array([u[i], v[i]]) / rad
        t = np.array([-d[1], d[0]])
        expected = -sign * (np.outer(d, d) + rad ** 2 * np.outer(t, t)) @ grad
        np.testing.assert_allclose([du[i], dv[i]], expected, atol=1e-6)


def test_velocity_grid_shapes_and_regions():
    net, data = _setup(s=5)
    grid = mf.velocity_grid(net, data, n=21)
    assert grid.u.shape == grid.du.shape == grid.region.shape == (21, 21)
    assert set(np.unique(grid.region)) <= set(range(2 * data.s))
    with pytest.raises(ValueError, match="sign"):
        mf.velocity_grid(net, data, sign=0)
    with pytest.raises(ValueError, match="limit"):
        mf.velocity_grid(net, data, limit=-1.0)


def test_boundary_angles_are_the_activation_lines():
    data = r1.datasets.random(9, seed=5)
    angles = mf.boundary_angles(data)
    assert angles.shape == (2, 9)
    inner = data.x * np.cos(angles) + np.sin(angles)
    np.testing.assert_allclose(inner, 0.0, atol=1e-14)
    assert np.all(np.cos(angles[0]) > 0) and np.all(np.cos(angles[1]) < 0)


def test_region_labels_follow_the_papers_numbering():
    data = r1.datasets.random(6, seed=7)
    s = data.s
    theta = np.linspace(0, 2 * np.pi, 20001)[:-1] + 1e-5
    labels = mf.region_labels(data, theta)
    active = np.multiply.outer(np.cos(theta), data.x) + np.sin(theta)[:, None] > 0
    expected_sets = {0: set()}
    expected_sets.update({k: set(range(k)) for k in range(1, s + 1)})
    expected_sets.update({s + j: set(range(j, s)) for j in range(1, s)})
    for lab, act in zip(labels[::37], active[::37]):
        assert set(np.flatnonzero(act)) == expected_sets[int(lab)]
    assert set(np.unique(labels)) == set(range(2 * s))  # 2s arcs, each met


def test_region_covariances_brute_force():
    net, data = _setup(m=30, s=5, seed=8)
    cov = mf.region_covariances(net, data)
    r, theta = net.canonical()
    labels = mf.region_labels(data, theta)
    for k in range(2 * data.s):
        want = np.zeros((2, 2))
        for i in np.flatnonzero(labels == k):
            d = np.array([np.cos(theta[i]), np.sin(theta[i])])
            t = np.array([-np.sin(theta[i]), np.cos(theta[i])])
            want += (r[i] ** 2 * np.outer(t, t) + np.outer(d, d)) / net.m
        np.testing.assert_allclose(cov[k], want, atol=1e-14)


def _canonical_residuals(r, theta, data):
    return (
        np.maximum(np.multiply.outer(data.x, np.cos(theta)) + np.sin(theta), 0.0) @ r / r.size
        - data.y
    )


def test_residual_rate_matches_a_tiny_canonical_step():
    for seed in range(3):
        net, data = _setup(seed=seed)
        r, theta = net.canonical()
        _, g_r, g_t = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
        h = 1e-6
        fd = (_canonical_residuals(r - h * g_r, theta - h * g_t, data)
              - _canonical_residuals(r + h * g_r, theta + h * g_t, data)) / (2 * h)
        rate = mf.residual_rate(net, data)
        np.testing.assert_allclose(rate, fd, atol=1e-8 * max(1.0, np.max(np.abs(fd))))


def test_residual_rate_scales_as_one_over_m_at_fixed_measure():
    # Duplicating every neuron (same r, θ) keeps the function and the measure μ; the
    # canonical flow's ρ̇ halves (∇L̃ = ∇V/m), the mean-field rate m·ρ̇ does not.
    net, data = _setup(m=25, seed=9)
    r, theta = net.canonical()
    doubled = r1.Network.from_canonical(np.tile(r, 2), np.tile(theta, 2), 0.0, net.alpha * 2)
    np.testing.assert_allclose(doubled(data.x), net(data.x), atol=1e-12)
    np.testing.assert_allclose(
        2 * mf.residual_rate(doubled, data), mf.residual_rate(net, data), atol=1e-12
    )


def _angular_rate_fd(data, rho, sign, theta):
    # θ̇ of a particle of unit |r| under ẇ = −∇V, from finite differences of the potential.
    h = 1e-9
    return -(_potential(data, rho, sign, theta + h) - _potential(data, rho, sign, theta - h)) / (
        2 * h
    )


def test_attractors_match_the_angular_field_on_both_sides():
    seen = set()
    for seed in range(40):
        net, data = _setup(m=20, s=6, seed=seed, c_scale=float(1 + seed % 4))
        rho = net(data.x) - data.y
        found = mf.attractors(net, data)
        for side in range(2):
            for k in range(data.s):
                th = found.theta[side, k]
                eps = 1e-5
                for sign in (1, -1):
                    above = _angular_rate_fd(data, rho, sign, th + eps)
                    below = _angular_rate_fd(data, rho, sign, th - eps)
                    if above < 0 and below > 0:
                        kind = "attractor"
                    elif above > 0 and below < 0:
                        kind = "repulsor"
                    else:
                        kind = "neither"
                    assert found.labels(sign)[side, k] == kind, (seed, side, k, sign)
                    seen.add(kind)
    assert seen == {"attractor", "repulsor", "neither"}


def test_attractor_coupling_brute_force():
    net, data = _setup(seed=11)
    rho = net(data.x) - data.y
    found = mf.attractors(net, data)
    xt = np.column_stack((data.x, np.ones(data.s)))
    for k in range(data.s):
        right = sum(rho[i] * rho[k] * xt[i] @ xt[k] for i in range(k + 1, data.s))
        left = sum(rho[i] * rho[k] * xt[i] @ xt[k] for i in range(k))
        assert found.coupling[0, k] == pytest.approx(right, abs=1e-13)
        assert found.coupling[1, k] == pytest.approx(left, abs=1e-13)
        assert found.self_term[0, k] == pytest.approx(rho[k] ** 2 * (1 + data.x[k] ** 2))
    with pytest.raises(ValueError, match="sign"):
        found.labels(2)


def test_preconditioner_matches_a_tiny_full_step():
    for seed in range(3):
        net, data = _setup(seed=seed)
        r, theta = net.canonical()
        _, g_r, g_t = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
        _, ga, gb, gc = ref.loss_and_grad(net.a, net.b, net.c, net.alpha, data.x, data.y)
        h = 1e-6
        ahead = r1.Network(net.a - h * ga, net.b - h * gb, net.c - h * gc, net.alpha).canonical()
        behind = r1.Network(net.a + h * ga, net.b + h * gb, net.c + h * gc, net.alpha).canonical()
        rate_r = (ahead[0] - behind[0]) / (2 * h)
        rate_t = (np.mod(ahead[1] - behind[1] + np.pi, 2 * np.pi) - np.pi) / (2 * h)
        p = mf.preconditioner(net)
        np.testing.assert_allclose(
            rate_r, -p[:, 0] * g_r, atol=1e-7 * max(1, np.max(np.abs(rate_r)))
        )
        np.testing.assert_allclose(
            rate_t, -p[:, 1] * g_t, atol=1e-7 * max(1, np.max(np.abs(rate_t)))
        )


def test_preconditioner_limits_of_delta():
    # eq. 14: the tangential/radial gain ratio in the (r, τ) frame is c²/(ρ² + c²).
    for delta, lo, hi in ((-100.0, 0.0, 1e-3), (100.0, 1 - 1e-3, 1.0)):
        net = r1.init_network(30, alpha="m", seed=0, delta=delta)
        r, _ = net.canonical()
        p = mf.preconditioner(net)
        ratio = (p[:, 1] * r ** 2) / p[:, 0]    # gain of τ = rθ over gain of r
        assert np.all((ratio >= lo) & (ratio <= hi))
    assert mf.preconditioner(r1.Network([0.0, 1.0], [0.0, 0.0], [1.0, 1.0]))[0, 1] == np.inf


def test_bad_inputs():
    net, data = _setup()
    with pytest.raises(TypeError, match="net"):
        mf.velocity("net", data, 1.0, 0.0)
    with pytest.raises(TypeError, match="data"):
        mf.residual_rate(net, (data.x, data.y))
    with pytest.raises(ValueError, match="broadcast"):
        mf.velocity(net, data, np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="theta"):
        mf.velocity(net, data, 1.0, np.nan)
    with pytest.raises(TypeError, match="net"):
        mf.preconditioner(None)
    with pytest.raises(TypeError, match="data"):
        mf.boundary_angles([1, 2])
    with pytest.raises(ValueError, match="sign"):
        mf.plane_velocity(net, data, 1.0, 1.0, sign=2)


def _flow_triples(net, data, parameterization, centers=(0, 500, 1000), h=1e-4):
    """Snapshots of a flow run at times (c − 1)h, ch, (c + 1)h for each center c (c = 0:
    one-sided)."""
    steps = sorted({max(c + d, 0) for c in centers for d in (-1, 0, 1)})
    traj = r1.train(
        net,
        data,
        method="flow",
        parameterization=parameterization,
        lr=h,
        steps=max(steps),
        record=np.array(steps),
        progress=False,
        max_snapshots=None,
        rtol=1e-12,
        atol=1e-14,
    )
    snaps = traj.snapshots
    index = {int(s): k for k, s in enumerate(snaps.steps)}
    for c in centers[1:]:
        yield (
            snaps.network(index[c - 1]),
            snaps.network(index[c]),
            snaps.network(index[c + 1]),
            2 * h,
        )


def _off_boundaries(data, *nets):
    """No neuron changes region across the nets and none sits on a boundary (sliding):
    where eq. 10 applies."""
    labels = [mf.region_labels(data, n.canonical()[1]) for n in nets]
    gap = np.abs(
        np.mod(
            nets[1].canonical()[1][:, None] - mf.boundary_angles(data).ravel()[None, :] + np.pi,
            2 * np.pi,
        )
        - np.pi
    )
    return all(np.array_equal(labels[0], lab) for lab in labels[1:]) and gap.min() > 1e-8


def test_residual_rate_along_a_canonical_flow_run():
    # This run has a crossing near t = 0.01 and a neuron sliding on a boundary from t ≈ 0.04:
    # eq. 10 holds away from them and fails on the sliding stretch (Filippov velocity there).
    net, data = _setup(m=40, s=7, seed=0)
    checked = skipped = 0
    for before, mid, after, width in _flow_triples(
        net, data, "canonical", centers=(0, 50, 300, 700, 1000)
    ):
        if not _off_boundaries(data, before, mid, after):
            skipped += 1
            continue
        fd = ((after(data.x) - data.y) - (before(data.x) - data.y)) / width
        np.testing.assert_allclose(
            mf.residual_rate(mid, data), fd, atol=1e-6 * max(1.0, np.max(np.abs(fd)))
        )
        checked += 1
    assert checked >= 2 and skipped >= 1


def test_preconditioner_along_a_full_flow_run():
    net, data = _setup(m=40, s=7, seed=1)
    for before, mid, after, width in _flow_triples(net, data, "full"):
        (r0, t0), (r1_, t1) = before.canonical(), after.canonical()
        rate_r = (r1_ - r0) / width
        rate_t = (np.mod(t1 - t0 + np.pi, 2 * np.pi) - np.pi) / width
        r, theta = mid.canonical()
        _, g_r, g_t = ref.canonical_loss_and_grad(r, theta, data.x, data.y)
        p = mf.preconditioner(mid)
        np.testing.assert_allclose(
            rate_r, -p[:, 0] * g_r, atol=1e-6 * max(1.0, np.max(np.abs(rate_r)))
        )
        np.testing.assert_allclose(
            rate_t, -p[:, 1] * g_t, atol=1e-6 * max(1.0, np.max(np.abs(rate_t)))
        )


def test_plot_regions_and_velocity_field():
    from relu1d import plot

    net, data = _setup(m=20, s=5)
    fig = plot.plot_regions(data, limit=2.0)
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * data.s
    assert len(ax.lines) == data.s
    fig = plot.plot_velocity_field(net, data, sign=-1, n=11)
    assert len(fig.axes[0].collections) >= 2      # arrows and particles
    with pytest.raises(ValueError, match="limit"):
        plot.plot_regions(data, limit=0.0)
    with pytest.raises(TypeError, match="data"):
        plot.plot_velocity_field(net, None)
