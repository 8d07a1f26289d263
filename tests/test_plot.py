import matplotlib
import numpy as np
import pytest

import relu1d as r1
from relu1d.cli import app
from relu1d.plot import plot_function, plot_particles


def test_plot_function_marks_knots_and_samples():
    data = r1.datasets.square_wave(10, seed=0)
    net = r1.init_network(30, seed=0)
    fig = plot_function(net, data)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert any("knots" in lab for lab in labels) and any("samples" in lab for lab in labels)
    knot_line = next(line for line in ax.lines if "knots" in line.get_label())
    xs, ys = knot_line.get_data()
    np.testing.assert_allclose(ys, net(xs))  # knots drawn at (e_i, f(e_i))
    assert isinstance(fig, matplotlib.figure.Figure)


def test_plot_particles_positions_and_lines():
    data = r1.datasets.random(4, seed=1)
    net = r1.init_network(25, seed=2)
    fig = plot_particles(net, data)
    ax = fig.axes[0]
    r, theta = net.canonical()
    pts = np.vstack([c.get_offsets() for c in ax.collections])
    expected = np.c_[np.abs(r) * np.cos(theta), np.abs(r) * np.sin(theta)]
    assert pts.shape == expected.shape
    np.testing.assert_allclose(np.sort(pts, axis=0), np.sort(expected, axis=0))
    assert len(ax.lines) == len(data)  # one activation line per sample
    for line, xj in zip(ax.lines, data.x):
        u, v = line.get_data()
        np.testing.assert_allclose(u * xj + v, 0, atol=1e-12)


def test_plot_particles_leaves_out_overflowing_particles():
    # a run at too large an lr can end with finite weights whose |r| = (m/α)|c|‖(a, b)‖
    # overflows float64: those particles are left out (and said so), the rest are drawn
    data = r1.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    net = r1.Network(np.array([1.0, 1e200, -1.0]), np.array([0.0, 1e200, 0.5]),
                     np.array([1.0, 1e200, -2.0]), alpha=1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(net.canonical()[0][1])
    fig = plot_particles(net, data)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert np.isfinite(lo) and np.isfinite(hi) and 0 < hi < 10
    drawn = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(drawn) == 2
    assert "1 of 3 particles" in ax.get_title()


def test_plot_bad_input():
    with pytest.raises(TypeError, match="net must be"):
        plot_function("net")
    with pytest.raises(TypeError, match="data must be"):
        plot_particles(r1.init_network(3), data=[1, 2])
    with pytest.raises(ValueError, match="interval"):
        plot_function(r1.init_network(3), interval=(1, 0))
    with pytest.raises(ValueError, match="limit"):
        plot_particles(r1.init_network(3), limit=-1.0)


def test_plot_function_range_when_every_knot_is_at_one_point():
    # he init: every b is 0, so every knot is at 0; the default x-range must not collapse
    net = r1.init_network(20, scheme="he", seed=0)
    lo, hi = plot_function(net).axes[0].get_xlim()
    assert lo < -1.0 and hi > 1.0


def test_cli_init_plot_demo(tmp_path):
    from typer.testing import CliRunner

    runner = CliRunner()
    out = runner.invoke(
        app, ["init", str(tmp_path / "n.npz"), "--m", "20", "--scheme", "gaussian", "--seed", "3"]
    )
    assert out.exit_code == 0, out.output
    net = r1.Network.load(tmp_path / "n.npz")
    assert net.m == 20 and net.provenance["scheme"] == "gaussian"
    out = runner.invoke(app, ["plot", str(tmp_path / "n.npz"), "--out", str(tmp_path / "figs")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "figs" / "n_function.png").stat().st_size > 1000
    out = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--m", "10"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "demo" / "init_particles.png").exists()
    out = runner.invoke(app, ["init", str(tmp_path / "x.npz"), "--scheme", "bogus"])
    assert out.exit_code == 2 and "scheme must be one of" in out.output
