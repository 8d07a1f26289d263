"""Animations (relu1d.animate, Trajectory.animate, `relu1d animate`) and the Jupyter
display of Network and Trajectory (issue 13, items 1 and 3)."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import relu1d as r1
from relu1d import _storage
from relu1d import animate as anim
from relu1d.cli import app
from relu1d.train import Snapshots, Trajectory

Image = pytest.importorskip("PIL.Image")
runner = CliRunner()
RELU1D = Path(sys.executable).parent / "relu1d"


@pytest.fixture(scope="module")
def run():
    data = r1.datasets.square_wave(6, seed=1)
    net = r1.init_network(12, seed=3)
    traj = r1.train(net, data, lr=2e-2, steps=400, record="log", progress=False, backend="numpy")
    assert len(traj.snapshots) > 20
    return traj, data


def _save_like_train(traj, data, path: Path) -> Path:
    """A data.nc as `relu1d train` writes it: the trajectory plus data_x, data_y."""
    ds = traj.to_xarray()
    if data is not None:
        ds = ds.assign(data_x=("sample", np.asarray(data.x)), data_y=("sample", np.asarray(data.y)))
    return _storage.write_netcdf(ds, path)


def _canonical_uv(a, b, c, alpha):
    """(u, v) and sign(r) ≥ 0 from (a, b, c) by eq. 5 directly (not through Network)."""
    m = a.size
    r = (m / alpha) * c * np.sqrt(a ** 2 + b ** 2)
    theta = np.arctan2(-b, a)
    return np.abs(r) * np.cos(theta), np.abs(r) * np.sin(theta), r >= 0


def _direct_f(a, b, c, alpha, x):
    return (np.maximum(np.outer(x, a) - b, 0.0) @ c) / alpha


# --------------------------------------------------------------------------- frame choice
def test_choose_frames_is_log_spaced_on_even_snapshots():
    times = 0.01 * np.arange(1001)  # record_every: evenly spaced in time
    idx = anim.choose_frames(times, 20)
    assert idx.size == 20 and np.all(np.diff(idx) > 0)
    assert idx[0] == 0 and idx[1] == 1 and idx[-1] == 1000
    # log spacing: evenly spaced frames would put 2 in the first decade of steps (≤ 100); log
    # puts about a third
    assert np.sum(idx <= 100) >= 6
    # consecutive positive frames: ratios t_{k+1}/t_k roughly constant (within a factor 3 of the
    # ideal ratio)
    ratios = times[idx[2:]] / times[idx[1:-1]]
    ideal = (times[-1] / times[1]) ** (1 / 18)
    assert ratios.max() < ideal ** 3 and ratios.min() >= 1.0


def test_choose_frames_on_log_snapshots_takes_evenly_spaced_indices():
    times = np.concatenate([[0.0], np.geomspace(1e-3, 10.0, 81)])
    idx = anim.choose_frames(times, 11)
    gaps = np.diff(idx[1:])
    # 80 intervals split into 9 equal-log gaps
    assert idx.size == 11 and gaps.max() - gaps.min() <= 1


def test_choose_frames_edges():
    assert anim.choose_frames([0.0, 1.0, 2.0], 10).tolist() == [0, 1, 2]
    assert anim.choose_frames([0.0, 1.0, 2.0], 1).tolist() == [2]
    assert anim.choose_frames([0.0], 5).tolist() == [0]
    assert anim.choose_frames([0.0, 0.0, 0.0, 0.0], 3).size == 3
    assert anim.choose_frames([0.0, 1.0, 2.0, 3.0], 2).tolist() == [0, 3]
    for n in range(1, 30):  # always exactly min(n, k) distinct frames, first and last included
        idx = anim.choose_frames(np.concatenate([[0.0], np.cumsum(np.arange(1, 25) ** 3)]), n)
        assert idx.size == min(n, 25) and np.unique(idx).size == idx.size and idx[-1] == 24
        assert n == 1 or idx[0] == 0
    with pytest.raises(ValueError, match="no snapshots"):
        anim.choose_frames([], 3)
    with pytest.raises(ValueError, match="n must be"):
        anim.choose_frames([0.0, 1.0], 0)


# --------------------------------------------------------------------------- frame content
def test_each_frame_draws_its_snapshot(run):
    traj, data = run
    scene = anim.build_scene(traj, data, frames=7, dpi=40)
    assert (
        len(scene.frames) == 7
        and scene.frames[0] == 0
        and scene.frames[-1] == len(traj.snapshots) - 1
    )
    snap = traj.snapshots
    for i, k in enumerate(scene.frames):
        fr = scene.show(i)
        assert fr.snapshot == k and fr.step == snap.steps[k]
        x, y = scene.artists["f"].get_data()
        np.testing.assert_array_equal(x, scene.grid)
        np.testing.assert_allclose(y, snap.network(int(k))(x), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            y, _direct_f(snap.a[k], snap.b[k], snap.c[k], snap.alpha, x), rtol=1e-10, atol=1e-12
        )
        # knots: every e_i = b_i/a_i inside the grid, at height f(e_i)
        kx, ky = scene.artists["knots"].get_data()
        e = snap.b[k] / snap.a[k]
        inside = np.sort(e[(e >= x[0]) & (e <= x[-1])])
        np.testing.assert_allclose(np.sort(kx), inside, rtol=1e-12)
        np.testing.assert_allclose(
            ky,
            _direct_f(snap.a[k], snap.b[k], snap.c[k], snap.alpha, np.asarray(kx)),
            rtol=1e-10,
            atol=1e-12,
        )
        # particles (u, v) by sign of r, from eq. 5 computed here
        u, v, pos = _canonical_uv(snap.a[k], snap.b[k], snap.c[k], snap.alpha)
        radius = scene.limits.radius
        inside_r = np.hypot(u, v) <= radius
        pu, pv = scene.artists["pos"].get_data()
        assert len(pu) == pos.sum()
        np.testing.assert_allclose(
            np.sort(pu[inside_r[pos]]), np.sort(u[pos & inside_r]), rtol=1e-12, atol=1e-14
        )
        nu, nv = scene.artists["neg"].get_data()
        np.testing.assert_allclose(
            np.sort(nv[inside_r[~pos]]), np.sort(v[~pos & inside_r]), rtol=1e-12, atol=1e-14
        )
        # the loss marker sits on the recorded loss of that step
        _, my = scene.artists["marker"].get_data()
        rec = int(np.flatnonzero(traj.steps == snap.steps[k])[0])
        assert my[0] == pytest.approx(traj.loss[rec], rel=1e-12)


def test_axes_hold_the_whole_run_and_are_fixed(run):
    traj, data = run
    scene = anim.build_scene(traj, data, frames=10, dpi=40)
    lo, hi = scene.limits.y
    for i in range(len(scene.frames)):
        f = scene.frame_data(i).f
        assert lo <= f.min() and f.max() <= hi  # an ordinary run: nothing cut
    assert lo <= data.y.min() and data.y.max() <= hi
    ax_f = scene.artists["f"].axes
    before = ax_f.get_ylim()
    scene.render(len(scene.frames) - 1)
    assert ax_f.get_ylim() == before
    pixels = scene.render(0)
    assert pixels.shape == (scene.size[1], scene.size[0], 4) and pixels.dtype == np.uint8
    assert not np.array_equal(pixels, scene.render(len(scene.frames) - 1))


def test_references_names_and_callables(run):
    traj, data = run
    scene = anim.build_scene(traj, data, frames=2, dpi=40,
                             references=("linear", ("zero", lambda x: 0 * x), np.sin))
    lines = scene.artists["references"]
    assert [ln.get_label() for ln in lines] == ["linear interpolant", "zero", "sin"]
    x, y = lines[0].get_data()
    hull = (x >= data.x[0]) & (x <= data.x[-1])
    np.testing.assert_allclose(y[hull], np.interp(x[hull], data.x, data.y), atol=1e-12)
    np.testing.assert_allclose(lines[2].get_data()[1], np.sin(x), atol=1e-15)
    with pytest.raises(ValueError, match="unknown reference 'cubic'"):
        anim.build_scene(traj, data, references=("cubic",))
    with pytest.raises(ValueError, match="needs the samples"):
        anim.build_scene(traj, None, references=("linear",))


def test_bad_arguments_are_refused(run, tmp_path):
    traj, data = run
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        anim.animate(traj, data, tmp_path / "movie.avi")
    with pytest.raises(ValueError, match="out of range"):
        anim.build_scene(traj, data, frames=[0, 10 ** 6])
    with pytest.raises(TypeError, match="relu1d.Trajectory"):
        anim.build_scene(traj.network, data)
    with pytest.raises(ValueError, match="fps"):
        anim.animate(traj, data, tmp_path / "m.gif", fps=0)
    with pytest.raises(TypeError, match=r"samples come before the path"):
        traj.animate(str(tmp_path / "m.gif"), data)  # arguments swapped
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- files
def test_gif_has_the_requested_frames(run, tmp_path):
    traj, data = run
    path = traj.animate(data, tmp_path / "movie.gif", frames=7, dpi=50, progress=False)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 7 and im.size == (660, 210)
    anim.animate(traj, data, tmp_path / "three.gif", frames=[0, 5, -1], dpi=40, progress=False)
    with Image.open(tmp_path / "three.gif") as im:
        assert im.n_frames == 3 and im.size == (528, 168)
    # no temporaries left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.gif", "three.gif"]


def test_mp4_without_ffmpeg_says_how_to_get_it(run, tmp_path, monkeypatch):
    traj, data = run
    monkeypatch.setattr(anim.shutil, "which", lambda name: None)
    with pytest.raises(anim.FFmpegNotFound, match=r"apt install ffmpeg.*\.gif"):
        anim.animate(traj, data, tmp_path / "movie.mp4")
    assert not any(tmp_path.iterdir())
    nc = _save_like_train(traj, data, tmp_path / "run" / "data.nc")
    result = runner.invoke(
        app, ["animate", str(nc), "--out", str(tmp_path / "movie.mp4"), "--no-progress"]
    )
    assert result.exit_code == 2 and "ffmpeg" in result.output and ".gif" in result.output
    assert not (tmp_path / "movie.mp4").exists()


FAKE_FFMPEG = textwrap.dedent('''\
    #!{python}
    # a stand-in for ffmpeg: writes what it reads to the output as it comes (as the real one
    # does), then a trailer "END <bytes> <w> <h> <fps>"
    import os, sys
    args = sys.argv[1:]
    flag = os.environ.get("FAKE_FFMPEG_FLAG", "")
    if flag and "FAIL" in open(flag).read():
        sys.stderr.write("Unknown encoder 'libx264'\\n")
        sys.exit(1)
    w, h = map(int, args[args.index("-s") + 1].split("x"))
    total = 0
    with open(args[-1], "wb") as fh:
        while chunk := sys.stdin.buffer.read(1 << 16):
            fh.write(chunk)
            fh.flush()
            total += len(chunk)
        fh.write(f"END {{total}} {{w}} {{h}} {{args[args.index('-r') + 1]}}".encode())
''')


def _fake_ffmpeg(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "ffmpeg"
    fake.write_text(FAKE_FFMPEG.format(python=sys.executable))
    fake.chmod(0o755)
    return bin_dir


def test_mp4_streams_raw_frames_to_ffmpeg(run, tmp_path, monkeypatch):
    traj, data = run
    flag = tmp_path / "flag"
    flag.write_text("")
    monkeypatch.setenv("FAKE_FFMPEG_FLAG", str(flag))
    monkeypatch.setenv("PATH", f"{_fake_ffmpeg(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "movies" / "m.mp4"
    anim.animate(traj, data, out, frames=4, fps=12, dpi=50, progress=False)
    content = out.read_bytes()
    _, n_bytes, w, h, fps = content[content.rindex(b"END"):].decode().split()
    assert (int(w), int(h)) == (660, 210) and int(n_bytes) == 4 * 660 * 210 * 4 and fps == "12"
    # the first frame arrived as raw RGBA rows, top row first: the figure's white corner
    first = np.frombuffer(content[:660 * 210 * 4], dtype=np.uint8).reshape(210, 660, 4)
    assert np.all(first[0, 0] == 255)
    flag.write_text("FAIL")
    with pytest.raises(RuntimeError, match="Unknown encoder 'libx264'"):
        anim.animate(traj, data, tmp_path / "movies" / "bad.mp4", frames=2, dpi=50, progress=False)
    assert sorted(p.name for p in (tmp_path / "movies").iterdir()) == ["m.mp4"]


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_an_interrupted_render_leaves_no_file(run, tmp_path, monkeypatch, suffix):
    traj, data = run
    monkeypatch.setenv("PATH", f"{_fake_ffmpeg(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    render = anim.Scene.render

    def render_then_ctrl_c(self, i):
        if i == 3:
            raise KeyboardInterrupt
        return render(self, i)

    monkeypatch.setattr(anim.Scene, "render", render_then_ctrl_c)
    target = tmp_path / "movies" / f"m{suffix}"
    target.parent.mkdir()
    old = tmp_path / "movies" / f"old{suffix}"
    old.write_bytes(b"a previous movie")
    for path in (target, old):
        with pytest.raises(KeyboardInterrupt):
            anim.animate(traj, data, path, frames=6, dpi=40, progress=False)
    assert sorted(p.name for p in target.parent.iterdir()) == [old.name]  # nor any temporary
    assert old.read_bytes() == b"a previous movie"


# --------------------------------------------------------------------------- the command
@pytest.mark.slow  # `relu1d train` itself costs about 5 CPU-seconds (figures, report, viewer)
def test_relu1d_animate_on_relu1d_train_output(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--m", "15", "--s", "6", "--steps", "300", "--lr", "0.02",
                                 "--record-every", "20", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    _animate_record_folder(out)


def test_relu1d_animate_on_a_train_like_folder(run, tmp_path):
    # the layout `relu1d train` writes (report.train_to_directory): OUT/data.nc = the
    # trajectory plus the samples as data_x, data_y; the slow test above uses the real command
    traj, data = run
    out = tmp_path / "run"
    _save_like_train(traj, data, out / "data.nc")
    _animate_record_folder(out)


def _animate_record_folder(out: Path) -> None:
    result = runner.invoke(
        app, ["animate", str(out), "--frames", "5", "--dpi", "40", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    movie = out / "animation.gif"
    assert "wrote" in result.output and "5 frame(s)" in result.output
    with Image.open(movie) as im:
        assert im.n_frames == 5
    # the samples come from the file: the f panel shows them without --data
    loaded = anim.load_run(out / "data.nc")
    assert loaded.data is not None and loaded.data.s == 6
    np.testing.assert_array_equal(
        loaded.trajectory.snapshots.c, r1.Trajectory.load(out / "data.nc").snapshots.c
    )
    result = runner.invoke(
        app, ["animate", str(out / "data.nc"), "--out", str(movie), "--no-progress"]
    )
    assert (
        result.exit_code == 2
        and "already exists" in result.output
        and "--overwrite" in result.output
    )


def test_cli_one_snapshot_gives_a_still(run, tmp_path):
    traj, data = run
    snap = traj.snapshots
    one = Snapshots(
        snap.steps[-1:], snap.times[-1:], snap.a[-1:], snap.b[-1:], snap.c[-1:], snap.alpha
    )
    single = Trajectory(
        traj.network,
        traj.steps[-1:],
        traj.times[-1:],
        traj.loss[-1:],
        traj.data_loss[-1:],
        one,
        traj.method,
    )
    nc = _save_like_train(single, data, tmp_path / "one.nc")
    result = runner.invoke(
        app,
        ["animate", str(nc), "--out", str(tmp_path / "one.gif"), "--dpi", "40", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "single snapshot" in result.output and "one still frame" in result.output
    with Image.open(tmp_path / "one.gif") as im:
        assert im.n_frames == 1


def test_cli_width_one(tmp_path):
    data = r1.datasets.square_wave(5, seed=0)
    traj = r1.train(
        r1.init_network(1, seed=0),
        data,
        lr=1e-2,
        steps=50,
        record_every=5,
        progress=False,
        backend="numpy",
    )
    nc = _save_like_train(traj, data, tmp_path / "m1.nc")
    result = runner.invoke(
        app,
        [
            "animate",
            str(nc),
            "--out",
            str(tmp_path / "m1.gif"),
            "--frames",
            "4",
            "--dpi",
            "40",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "m1.gif") as im:
        assert im.n_frames == 4


def test_cli_huge_values_keep_readable_axes(run, tmp_path):
    traj, data = run
    snap = traj.snapshots
    c = snap.c.copy()
    c[:, 0] = (
        1e150  # one neuron with an enormous output weight in every snapshot: f ~ 1e150 on its side
    )
    a = snap.a.copy()
    a[:, 1] *= 1e140  # and one with an enormous first layer (its particle far out)
    huge = Snapshots(snap.steps, snap.times, a, snap.b, c, snap.alpha)
    loss = traj.loss.copy()
    loss[: loss.size // 2] = 1e250  # huge but finite
    big = Trajectory(
        Network_of(huge), traj.steps, traj.times, loss, traj.data_loss, huge, traj.method
    )
    scene = anim.build_scene(big, data, frames=6, dpi=40)
    lo, hi = scene.limits.y
    # capped at SPAN_CAP data scales (here 2: the samples are ±1) about the samples, plus 8 %
    # padding; not 1e150
    assert lo < data.y.min() and data.y.max() < hi and max(-lo, hi) <= anim.SPAN_CAP * 2 * 1.2
    assert 0 < scene.limits.radius < 1e6
    assert scene.limits.log10_loss
    nc = _save_like_train(big, data, tmp_path / "huge.nc")
    result = runner.invoke(
        app,
        [
            "animate",
            str(nc),
            "--out",
            str(tmp_path / "huge.gif"),
            "--frames",
            "6",
            "--dpi",
            "40",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "f leaves the fixed y-axis" in result.output and "beyond the fixed axes" in result.output
    with Image.open(tmp_path / "huge.gif") as im:
        assert im.n_frames == 6


def test_robust_limits_without_data(run):
    # a transient blow-up: the first 2 of 20 frames have every output weight 1e100 times larger;
    # with no samples to anchor the axis, the quantile/IQR rule alone must keep it readable
    traj, _ = run
    snap = traj.snapshots
    frames = anim.choose_frames(snap.times, 20)
    c = snap.c.copy()
    c[frames[:2]] *= 1e100
    spiky = Snapshots(snap.steps, snap.times, snap.a, snap.b, c, snap.alpha)
    big = Trajectory(
        Network_of(spiky), traj.steps, traj.times, traj.loss, traj.data_loss, spiky, traj.method
    )
    scene = anim.build_scene(big, None, frames=20, dpi=40)
    assert np.array_equal(scene.frames, frames)
    ordinary = np.concatenate([snap.network(int(k))(scene.grid) for k in frames[2:]])
    lo, hi = scene.limits.y
    assert lo <= ordinary.min() and ordinary.max() <= hi  # every ordinary value shows
    assert hi - lo < 3 * np.ptp(ordinary)  # and the 1e100 values do not stretch the axis
    radii = np.concatenate([np.abs(snap.network(int(k)).canonical()[0]) for k in frames[2:]])
    assert radii.max() <= scene.limits.radius < 1.2 * radii.max()


def test_limits_keep_a_network_that_grows_late(run):
    # most frames near f = 0 (tiny output weights), the last few at full scale: a gap of
    # decades between the two groups, but the end state is no outlier and must show whole
    traj, data = run
    snap = traj.snapshots
    frames = anim.choose_frames(snap.times, 20)
    c = snap.c.copy()
    c[frames[:15]] *= 1e-6
    late = Snapshots(snap.steps, snap.times, snap.a, snap.b, c, snap.alpha)
    grown = Trajectory(
        Network_of(late), traj.steps, traj.times, traj.loss, traj.data_loss, late, traj.method
    )
    for samples in (None, data):
        scene = anim.build_scene(grown, samples, frames=20, dpi=40)
        lo, hi = scene.limits.y
        for k in frames[15:]:
            f = late.network(int(k))(scene.grid)
            assert lo <= f.min() and f.max() <= hi
        end_radii = np.abs(late.network(-1).canonical()[0])
        assert scene.limits.radius >= end_radii.max()


def Network_of(snap):
    return snap.network(-1)


def test_cli_refuses_what_is_not_a_trajectory(tmp_path):
    text = tmp_path / "notes.nc"
    text.write_text("not a netcdf file")
    result = runner.invoke(app, ["animate", str(text), "--out", str(tmp_path / "x.gif")])
    assert result.exit_code == 2 and "not a readable NetCDF file" in result.output
    assert "Trajectory.save" in result.output and "Traceback" not in result.output
    other = _storage.write_netcdf(xr.Dataset({"sq": ("k", np.arange(3.0))}), tmp_path / "other.nc")
    result = runner.invoke(app, ["animate", str(other), "--out", str(tmp_path / "x.gif")])
    assert result.exit_code == 2 and "lacks" in result.output and "'a'" in result.output
    result = runner.invoke(app, ["animate", str(tmp_path), "--out", str(tmp_path / "x.gif")])
    assert result.exit_code == 2 and "without data.nc" in result.output
    result = runner.invoke(app, ["animate", str(tmp_path / "missing.nc")])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "x.gif").exists()


def test_cli_without_stored_samples_says_so_and_takes_data(run, tmp_path):
    traj, data = run
    nc = traj.save(tmp_path / "plain.nc")
    result = runner.invoke(
        app,
        [
            "animate",
            str(nc),
            "--out",
            str(tmp_path / "a.gif"),
            "--frames",
            "2",
            "--dpi",
            "40",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0 and "stores no samples" in result.output
    data.to_csv(tmp_path / "d.csv")
    result = runner.invoke(
        app,
        [
            "animate",
            str(nc),
            "--out",
            str(tmp_path / "b.gif"),
            "--frames",
            "2",
            "--dpi",
            "40",
            "--data",
            str(tmp_path / "d.csv"),
            "--reference",
            "linear",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0 and "stores no samples" not in result.output, result.output


SITECUSTOMIZE = textwrap.dedent('''
    import os
    import time

    _ready = os.environ.get("RELU1D_TEST_READY")
    if _ready:
        from relu1d import animate

        _render = animate.Scene.render

        def render(self, i):
            out = _render(self, i)
            if not os.path.exists(_ready):
                open(_ready, "w").close()
            time.sleep(0.2)  # a slow render, so that Ctrl-C lands mid-movie
            return out

        animate.Scene.render = render
''')


@pytest.mark.skipif(
    not RELU1D.is_file(), reason="the relu1d script is not installed beside this Python"
)
# streamed to ffmpeg as rendered: the case a direct write would break
@pytest.mark.parametrize("suffix", [".mp4"])
def test_ctrl_c_leaves_no_movie(run, tmp_path, suffix):
    traj, data = run
    nc = _save_like_train(traj, data, tmp_path / "data.nc")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    ready = tmp_path / "ready"
    target = tmp_path / "movies" / f"movie{suffix}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "RELU1D_TEST_READY": str(ready),
        "PATH": f"{_fake_ffmpeg(tmp_path)}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.Popen(
        [str(RELU1D), "animate", str(nc), "--out", str(target), "--no-progress"],
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if proc.poll() is not None:
                pytest.fail(
                    f"the child exited ({proc.returncode}) before rendering:\n{proc.communicate()}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the child did not start rendering in time")
            time.sleep(0.02)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "interrupted: no movie written" in err and "Traceback" not in err
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the temporary is gone too


# --------------------------------------------------------------------------- notebooks
def _png_of(page: str) -> Image.Image:
    start = page.index("data:image/png;base64,") + len("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(page[start:page.index("'", start)])))


def test_network_repr_html():
    net = r1.init_network(1000, seed=0)
    net(np.zeros(1))
    t0 = time.perf_counter()
    page = net._repr_html_()
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0  # about 0.02 s on an idle core; generous for a loaded machine
    assert "<img" in page and "width m</th><td style='text-align:left'>1000<" in page
    assert "31.6228" in page  # α = √1000
    im = _png_of(page).convert("RGB")
    assert im.size == (240, 120)
    pixels = np.asarray(im).reshape(-1, 3).astype(int)
    blue = np.sum(pixels[:, 2] - pixels[:, 0] > 60)
    green = np.sum((pixels[:, 1] - pixels[:, 0] > 60) & (pixels[:, 1] - pixels[:, 2] > 30))
    assert blue > 150 and green > 20  # f drawn across the picture (≥ 240 px long), and its knots


def test_repr_html_escapes_text_and_never_raises(monkeypatch):
    net = r1.Network(
        [1.0, -1.0], [0.0, 0.5], [1.0, 2.0], provenance={"scheme": "<script>alert(1)</script>"}
    )
    page = net._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    from relu1d import _display

    def broken(*args, **kwargs):
        raise RuntimeError("no <canvas> today")

    monkeypatch.setattr(_display, "png_plot", broken)
    page = net._repr_html_()
    assert "Network(m=2" in page and "HTML summary unavailable" in page and "&lt;canvas&gt;" in page


def test_trajectory_repr_html(run):
    traj, _ = run
    page = traj._repr_html_()
    assert page.count("<img") == 2  # f with knots, and the loss
    assert f"snapshots</th><td style='text-align:left'>{len(traj.snapshots)}<" in page
    assert "width m</th><td style='text-align:left'>12<" in page and "gd (full)" in page
    assert _png_of(page).size == (240, 120)


def test_import_animate_loads_no_matplotlib():
    code = "import sys, relu1d.animate, relu1d.cli\nprint('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_cli_out_names_the_flag_and_a_folder_as_such(run, tmp_path):
    traj, data = run
    rec = _save_like_train(traj, data, tmp_path / "rec" / "data.nc").parent
    folder = tmp_path / "existing"
    folder.mkdir()
    (folder / "keep").write_text("x")
    for out, expected in ((folder, "is a folder"), (tmp_path / "noext", "must end in .gif")):
        for extra in ([], ["--overwrite"]):
            result = runner.invoke(app, ["animate", str(rec), "--out", str(out), "--no-progress",
                                         *extra])
            assert result.exit_code == 2 and f"error: --out {str(out)!r}" in result.output
            assert expected in result.output and "Traceback" not in result.output
    assert (folder / "keep").read_text() == "x" and not (tmp_path / "noext").exists()


def test_cli_a_failed_write_is_an_error_not_a_traceback(run, tmp_path, monkeypatch):
    import errno

    traj, data = run
    rec = _save_like_train(traj, data, tmp_path / "rec" / "data.nc").parent
    movie = tmp_path / "m.gif"
    movie.write_text("previous")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    result = runner.invoke(app, ["animate", str(rec), "--out", str(movie), "--overwrite",
                                 "--no-progress", "--frames", "2", "--dpi", "30"])
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert "could not write the movie --out" in result.output
    assert result.exception.__class__ is SystemExit and movie.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gif", "rec"]


def _real_ffmpeg() -> bool:
    import shutil

    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        return False
    done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True)
    return done.returncode == 0 and done.stdout.startswith("ffmpeg version")


def test_mp4_through_the_real_ffmpeg_decodes_to_the_gif_frames(run, tmp_path):
    if not _real_ffmpeg():  # .ci/run installs ffmpeg and sets RELU1D_REQUIRE_FFMPEG=1
        if os.environ.get("RELU1D_REQUIRE_FFMPEG") == "1":
            pytest.fail("RELU1D_REQUIRE_FFMPEG=1 but no real ffmpeg/ffprobe is on the PATH")
        pytest.skip("no real ffmpeg/ffprobe on the PATH")
    traj, data = run
    mp4 = anim.animate(traj, data, tmp_path / "m.mp4", frames=5, fps=12, dpi=50, progress=False)
    gif = anim.animate(traj, data, tmp_path / "m.gif", frames=5, dpi=50, progress=False)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames,r_frame_rate", "-of", "csv=p=0", str(mp4)],
        capture_output=True, text=True, check=True).stdout.strip()
    assert probe.split(",") == ["h264", "660", "210", "12/1", "5"]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(mp4), "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], capture_output=True, check=True).stdout
    decoded = np.frombuffer(raw, dtype=np.uint8).reshape(5, 210, 660, 3).astype(float)
    with Image.open(gif) as im:
        frames = []
        for k in range(im.n_frames):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGB"), dtype=float))
    # the same pictures up to lossy coding (yuv420p halves the colour resolution; measured
    # 3.0 of 255 on average), in the same order: each decoded frame is closest to its own
    # GIF frame (3.35-3.96 to the others)
    gaps = np.array([[np.mean(np.abs(d - f)) for f in frames] for d in decoded])
    assert np.all(np.diag(gaps) < 6.0), gaps
    assert list(np.argmin(gaps, axis=1)) == list(range(5)), gaps
