"""The interactive viewer (relu1d.viewer, `relu1d view`, the report's embedded viewers).

Frames are checked against an independent evaluation of each snapshot (the direct sum
(1/α) Σ cᵢ [aᵢx − bᵢ]₊ written out here, and the canonical map of eq. 5); pages against
the offline rules (plotly.js once, nothing fetched). Rendering in Chromium is in
tests/test_browser.py (marked ``browser``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

pytest.importorskip("plotly")

from relu1d import init_network, train, viewer
from relu1d.cli import app
from relu1d.data import Dataset, sinusoid
from relu1d.experiments import ExperimentResult, Run
from relu1d.network import Network
from relu1d.train import Snapshots, Trajectory
from relu1d.viewer import decode_array

runner = CliRunner()


@pytest.fixture(scope="module")
def run():
    data = sinusoid(5, seed=1)
    net0 = init_network(40, alpha="sqrt", seed=3)
    traj = train(net0, data, lr=0.05, steps=400, record_every=10, progress=False)
    return traj, data


def _direct(a, b, c, alpha, x):
    """(1/α) Σᵢ cᵢ [aᵢ x − bᵢ]₊, written out independently of Network.__call__."""
    return np.array([np.sum(c * np.maximum(a * xi - b, 0.0)) for xi in x]) / alpha


def _plotly_marker() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()[:120]  # the bundle's licence header, once per copy of plotly.js


def test_frames_equal_the_snapshots_on_the_plotted_grid(run):
    traj, data = run
    snaps = traj.snapshots
    fig = viewer.viewer_figure(traj, data, max_frames=8, max_neurons=15)
    meta = fig["layout"]["meta"]
    ks = meta["snapshots"]
    assert len(fig["frames"]) == len(ks) <= 8 and ks[0] == 0 and ks[-1] == len(snaps) - 1
    assert ks == sorted(set(ks))
    grid = decode_array(fig["data"][0]["x"])
    assert grid.size == viewer.GRID_POINTS and grid[0] < data.x[0] and grid[-1] > data.x[-1]
    drawn = np.array(meta["neurons"])
    assert drawn.size == 15 and np.all(np.diff(drawn) > 0)
    for j, frame in enumerate(fig["frames"]):
        k = ks[j]
        a, b, c = snaps.a[k], snaps.b[k], snaps.c[k]
        f = decode_array(frame["data"][0]["y"])
        expected = _direct(a, b, c, snaps.alpha, grid)
        np.testing.assert_allclose(f, expected, rtol=2e-6, atol=2e-6 * np.max(np.abs(expected)))
        # knots at (e, f(e)) of the drawn neurons
        e = b[drawn] / a[drawn]
        np.testing.assert_allclose(decode_array(frame["data"][1]["x"]), e, rtol=1e-6)
        np.testing.assert_allclose(
            decode_array(frame["data"][1]["y"]),
            _direct(a, b, c, snaps.alpha, e),
            rtol=1e-5,
            atol=1e-6,
        )
        # particles: (u, v) = |r| (cos θ, sin θ), r = (m/α) c √(a² + b²), θ = atan2(−b, a);
        # split by sign
        m = a.size
        r = (m / snaps.alpha) * c[drawn] * np.hypot(a[drawn], b[drawn])
        theta = np.arctan2(-b[drawn], a[drawn])
        u, v = np.abs(r) * np.cos(theta), np.abs(r) * np.sin(theta)
        for trace, mask in ((frame["data"][2], r >= 0), (frame["data"][3], r < 0)):
            cd = decode_array(trace["customdata"]).reshape(-1, 8)
            np.testing.assert_array_equal(cd[:, 0], drawn[mask])
            np.testing.assert_allclose(decode_array(trace["x"]), u[mask], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(decode_array(trace["y"]), v[mask], rtol=1e-5, atol=1e-6)
            # hover: (a, b, c, δ, r, θ, e)
            np.testing.assert_allclose(cd[:, 1], a[drawn][mask], rtol=1e-6)
            np.testing.assert_allclose(
                cd[:, 4], (c**2 - a**2 - b**2)[drawn][mask], rtol=1e-5, atol=1e-6
            )
            np.testing.assert_allclose(cd[:, 5], r[mask], rtol=1e-6)
            np.testing.assert_allclose(cd[:, 7], e[mask], rtol=1e-6)
        # the loss marker sits at this snapshot's step
        step = snaps.steps[k]
        assert frame["data"][4]["y"][0] == pytest.approx(
            traj.loss[list(traj.steps).index(step)], rel=1e-12
        )
        assert f"step {step} " in frame["layout"]["title"]["text"]
    assert fig["layout"]["sliders"][0]["steps"][-1]["label"] == str(snaps.steps[-1])


def test_the_figure_is_valid_plotly(run):
    import plotly.graph_objects as go

    traj, data = run
    # raises on an unknown attribute
    fig = go.Figure(viewer.viewer_figure(traj, data, max_frames=5))
    assert len(fig.frames) == 5
    names = [t.name for t in fig.data]
    assert {
        "linear interpolant",
        "natural cubic spline",
        "kernel interpolant (uniform init)",
    } <= set(names)
    assert all(
        t.visible == "legendonly" for t in fig.data if "interpol" in t.name or "spline" in t.name
    )


def test_references_are_the_callables_on_the_grid(run):
    traj, data = run
    fig = viewer.viewer_figure(traj, data, references={"x squared": lambda x: x ** 2})
    ref = [t for t in fig["data"] if t["name"] == "x squared"]
    assert len(ref) == 1
    grid = decode_array(ref[0]["x"])
    np.testing.assert_allclose(decode_array(ref[0]["y"]), grid ** 2, rtol=1e-6)
    assert fig["layout"]["meta"]["references"] == ["x squared"]
    assert not any(t["name"].startswith("linear") for t in viewer.viewer_figure(traj, None)["data"])


def test_thinning_is_deterministic_and_said_on_the_page(run):
    traj, data = run
    times = np.r_[0.0, np.geomspace(1e-3, 1e3, 500)]
    ks = viewer.frame_indices(times, 60)
    assert ks.size == 60 and ks[0] == 0 and ks[-1] == 500 and np.all(np.diff(ks) > 0)
    # log-spaced: about as many frames in the first as in the last decade
    in_first = np.sum((times[ks] > 0) & (times[ks] <= 1e-2))
    in_last = np.sum(times[ks] > 1e2)
    assert abs(int(in_first) - int(in_last)) <= 3
    r = np.r_[np.zeros(90), np.arange(1, 11) * 100.0]
    drawn = viewer.neuron_indices(r, 20)
    assert drawn.size == 20 and set(range(90, 100)) <= set(drawn.tolist())
    assert np.array_equal(drawn, viewer.neuron_indices(r, 20))
    page = viewer.viewer_html(traj, data, max_frames=10, max_neurons=12)
    assert "10 of the 41 snapshots are shown" in page and "12 of the 40 neurons are drawn" in page


def test_page_is_offline_and_holds_plotly_once(run, tmp_path):
    traj, data = run
    path = viewer.write_viewer(
        {"first": (traj, data), "second": (traj, None)}, tmp_path / "two.html", max_frames=4
    )
    page = path.read_text()
    assert page.count(_plotly_marker()) == 1
    assert page.count("Plotly.newPlot(") == 2
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page)
    assert tags and not [t for t in tags if re.search(r"\b(?:src|href)\s*=", t)], tags
    assert "mathjax" not in " ".join(tags).lower()
    single = viewer.viewer_html(traj, data, max_frames=4)
    assert single.count(_plotly_marker()) == 1 and '"displaylogo": false' in single
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_edge_cases_have_clear_outcomes(tmp_path):
    data = Dataset([0.0, 0.5, 1.0], [0.0, 1.0, 0.0])
    # one snapshot (steps = 0)
    one = train(init_network(5, seed=0), data, steps=0, progress=False)
    assert len(one.snapshots) == 1
    fig = viewer.viewer_figure(one, data)
    assert len(fig["frames"]) == 1 and "one snapshot" in fig["layout"]["meta"]["note"]
    # m = 1
    single = train(init_network(1, seed=0), data, lr=0.01, steps=30, record_every=3, progress=False)
    fig = viewer.viewer_figure(single, data)
    drawn = sum(decode_array(t["x"]).size for t in fig["frames"][-1]["data"][2:4])
    assert drawn == 1 and fig["layout"]["meta"]["m"] == 1
    # huge but finite parameters: f overflows float64 at some points; nothing breaks, the page
    # says so
    a = np.array([[1e200, 1.0], [1e200, 1.0]])
    b = np.array([[0.0, 0.5], [0.0, 0.5]])
    c = np.array([[1e200, -1.0], [2e200, -1.0]])
    snaps = Snapshots(np.array([0, 10]), np.array([0.0, 1.0]), a, b, c, 1.0)
    huge = Trajectory(Network(a[-1], b[-1], c[-1]), np.array([0, 10]), np.array([0.0, 1.0]),
                      np.array([1e300, 1e299]), np.array([1e300, 1e299]), snaps, "gd")
    fig = viewer.viewer_figure(huge, data)
    note = fig["layout"]["meta"]["note"]
    assert "overflow float64" in note
    assert fig["frames"][0]["data"][1]["x"]["dtype"] == "f4"  # knots e = 0 and 0.5 are small
    json.dumps(fig, allow_nan=False)  # no NaN/inf leaks into the page as a bare token
    for frame in fig["frames"]:
        for trace in frame["data"]:
            for key in ("x", "y", "customdata"):
                if isinstance(trace.get(key), dict):
                    # overflow is a gap (NaN), not ±inf
                    assert not np.isinf(decode_array(trace[key])).any()
    page = viewer.viewer_html(huge, data)
    assert "overflow float64" in page


def test_bad_input_errors(run, tmp_path):
    traj, data = run
    with pytest.raises(TypeError, match="trajectory must be a relu1d Trajectory"):
        viewer.viewer_figure("run.nc")
    with pytest.raises(TypeError, match="data must be a relu1d.Dataset"):
        viewer.viewer_figure(traj, data=[1, 2])
    with pytest.raises(TypeError, match="references must map names"):
        viewer.viewer_figure(traj, data, references={"bad": 3.0})
    with pytest.raises(ValueError, match="max_frames"):
        viewer.viewer_figure(traj, data, max_frames=1)
    with pytest.raises(ValueError, match="not a file"):
        viewer.load_run(tmp_path / "missing.nc")
    other = tmp_path / "data.nc"
    xr.Dataset({"risk": ("width", [1.0, 2.0])}).to_netcdf(other, engine="h5netcdf")
    with pytest.raises(ValueError, match="not a trajectory"):
        viewer.load_run(other)
    with pytest.raises(TypeError, match="trajectory must be a relu1d Trajectory"):
        Run("not a trajectory")


def test_cli_view_on_a_train_output(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "--out",
            str(out),
            "--m",
            "12",
            "--steps",
            "60",
            "--s",
            "4",
            "--lr",
            "0.01",
            "--record-every",
            "5",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    # data.nc is the run
    assert (out / "views" / "train.html").is_file() and not (out / "runs").exists()
    report = (out / "report.html").read_text()
    assert report.count(_plotly_marker()) == 1 and report.count("Plotly.newPlot(") == 1
    page = tmp_path / "view.html"
    result = runner.invoke(app, ["view", str(out / "data.nc"), "--out", str(page)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and page.read_text().count(_plotly_marker()) == 1
    assert "samples (x" in page.read_text()  # the samples came from data.nc without --data
    result = runner.invoke(app, ["view", str(out), "--out", str(page)])
    assert result.exit_code == 2 and "already exists" in result.output
    result = runner.invoke(app, ["view", str(out), "--out", str(page), "--overwrite"])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.nc"
    xr.Dataset({"risk": ("width", [1.0])}).to_netcdf(bad, engine="h5netcdf")
    result = runner.invoke(app, ["view", str(bad), "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "not a trajectory" in result.output
    assert not (tmp_path / "x.html").exists()
    result = runner.invoke(app, ["view", str(bad), "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and ".html" in result.output


@dataclass(frozen=True)
class _Spec:
    k: int = 1


def test_report_embeds_the_runs_with_plotly_once(run, tmp_path):
    from relu1d import report

    traj, data = run
    for name, runs in (
        ("exp.a", {"first": Run(traj, data)}),
        ("exp.b", {"x": Run(traj, data), "y": (traj, data)}),
    ):
        res = ExperimentResult(xr.Dataset({"v": ("i", [1.0])}), {}, (), runs=runs)
        meta = report.save_result(
            tmp_path / name,
            res,
            name=name,
            description="d",
            spec=_Spec(),
            preset="quick",
            wall_time_s=0.1,
        )
        assert [v["file"] for v in meta["views"]] == [f"views/{n}.html" for n in runs]
        for v in meta["views"]:
            assert (tmp_path / name / v["file"]).is_file()
            back, samples = viewer.load_run(tmp_path / name / v["run"])
            np.testing.assert_array_equal(back.snapshots.c, traj.snapshots.c)
            np.testing.assert_array_equal(samples.x, data.x)
        assert report.complete_record(tmp_path / name, _Spec(), "quick") is not None
    path = report.write_report(tmp_path)
    page = path.read_text()
    assert page.count(_plotly_marker()) == 1 and page.count("Plotly.newPlot(") == 3
    ids = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', page)
    assert len(ids) == 3 and len(set(ids)) == 3
    result = runner.invoke(
        app, ["view", str(tmp_path / "exp.b"), "--out", str(tmp_path / "b.html")]
    )
    assert result.exit_code == 0 and "2 run(s)" in result.output, result.output
    both = (tmp_path / "b.html").read_text()
    assert both.count(_plotly_marker()) == 1 and both.count("Plotly.newPlot(") == 2
    # what reproduce writes between experiments
    light = report.write_report(tmp_path, views=False).read_text()
    assert "<script" not in light and "interactive viewer(s) in views/" in light
    # a rerun without runs removes the files the previous record wrote, and the script
    res = ExperimentResult(xr.Dataset({"v": ("i", [1.0])}), {}, ())
    report.save_result(
        tmp_path / "exp.b",
        res,
        name="exp.b",
        description="d",
        spec=_Spec(),
        preset="quick",
        wall_time_s=0.1,
    )
    assert not list((tmp_path / "exp.b" / "views").glob("*")) and not list(
        (tmp_path / "exp.b" / "runs").glob("*")
    )
    report.save_result(
        tmp_path / "exp.a",
        res,
        name="exp.a",
        description="d",
        spec=_Spec(),
        preset="quick",
        wall_time_s=0.1,
    )
    assert "<script" not in report.write_report(tmp_path).read_text()


# --------------------------------------------------------------------------- adversarial CLI
def _record(traj, data, folder, *, status="ok", nan=False):
    """A folder laid out as `relu1d train` writes it: data.nc (+ samples) and meta.json."""
    ds = traj.to_xarray().assign(data_x=("sample", np.asarray(data.x)),
                                 data_y=("sample", np.asarray(data.y)))
    if nan:
        a = ds["a"].values.copy()
        a[-1, 0] = np.nan
        ds["a"] = (("step", "neuron"), a)
    folder.mkdir(parents=True)
    ds.to_netcdf(folder / "data.nc", engine="h5netcdf")
    (folder / "meta.json").write_text(json.dumps({"name": "train", "status": status,
                                                  "relu1d_version": "test"}))
    return folder


def test_cli_view_names_the_flag_and_the_partial_record(run, tmp_path, monkeypatch):
    traj, data = run
    monkeypatch.chdir(tmp_path)
    rec = _record(traj, data, tmp_path / "rec", status="diverged")
    for args, flag in ((["--frames", "1"], "--frames"), (["--neurons", "0"], "--neurons")):
        result = runner.invoke(app, ["view", "rec", "--out", "v.html", *args])
        assert result.exit_code == 2 and f"error: {flag} must be" in result.output
        assert "Traceback" not in result.output and not (tmp_path / "v.html").exists()
    result = runner.invoke(app, ["view", "rec", "--out", "v.html", "--frames", "3"])
    assert result.exit_code == 0, result.output
    assert "rec is a PARTIAL record (status diverged)" in result.output
    # a relative folder is named after itself (was '' from parent.parent)
    assert list(viewer.load_runs("rec")) == ["rec"] == list(viewer.load_runs(rec.resolve()))
    _record(traj, data, tmp_path / "bad", nan=True)
    result = runner.invoke(app, ["view", "bad", "--out", "b.html"])
    assert result.exit_code == 2 and "NaN or inf" in result.output
    assert "not a trajectory" not in result.output and not (tmp_path / "b.html").exists()


def test_cli_view_takes_the_runs_folder_itself(run, tmp_path):
    traj, data = run
    runs = tmp_path / "exp" / "runs"
    runs.mkdir(parents=True)
    for name in ("a", "b"):
        traj.save(runs / f"{name}.nc")
    assert list(viewer.load_runs(runs)) == ["a", "b"] == list(viewer.load_runs(runs.parent))
    with pytest.raises(ValueError, match="holds no training run"):
        viewer.load_runs(tmp_path / "exp" / "runs" / ".." / "..")


def test_cli_view_ctrl_c_keeps_the_previous_page(run, tmp_path, monkeypatch):
    traj, data = run
    rec = _record(traj, data, tmp_path / "rec")
    page = tmp_path / "v.html"
    page.write_text("previous")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(viewer, "write_viewer", interrupted)
    result = runner.invoke(app, ["view", str(rec), "--out", str(page), "--overwrite"])
    assert result.exit_code == 130 and "interrupted: no page written" in result.output
    assert "Traceback" not in result.output and page.read_text() == "previous"


def test_cli_view_a_failed_write_is_an_error_not_a_traceback(run, tmp_path, monkeypatch):
    import errno
    import os

    traj, data = run
    rec = _record(traj, data, tmp_path / "rec")
    page = tmp_path / "v.html"
    page.write_text("previous")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    result = runner.invoke(app, ["view", str(rec), "--out", str(page), "--overwrite"])
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert "could not write OUT" in result.output and result.exception.__class__ is SystemExit
    assert page.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec", "v.html"]  # no temporary left
