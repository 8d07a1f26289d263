"""Results on disk (NetCDF, figures, claims, metadata; atomic writes) and the HTML report."""

from __future__ import annotations

import base64
import json
import re
import tomllib
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr

import relu1d
from relu1d import _storage
from relu1d._specs import DataSpec, InitSpec, OptimSpec, TrainSpec, spec_from_dict, spec_json
from relu1d.experiments import VERDICTS, Claim, ExperimentResult, Reading, _registry, register
from relu1d.plot import new_figure
from relu1d.report import (
    load_record,
    render_html,
    reproduce,
    run_experiment,
    train_to_directory,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class LineSpec:
    s: int = 40
    slope: float = 2.0
    noise: float = 0.1
    seed: int = 0


def run_line(spec: LineSpec) -> ExperimentResult:
    """Fit a line to noisy samples: the slope is recovered within 4 standard errors (a
    claim that holds) and a deliberately false claim that it is below 0 (does not hold)."""
    rng = np.random.default_rng(spec.seed)
    x = np.linspace(-1, 1, spec.s)
    y = spec.slope * x + spec.noise * rng.standard_normal(spec.s)
    slope = float(np.dot(x, y) / np.dot(x, x))
    stderr = spec.noise / np.sqrt(np.dot(x, x))
    fig, axes = new_figure(1, 1)
    axes[0, 0].plot(x, y, "x")
    axes[0, 0].plot(x, slope * x)
    fig2, axes2 = new_figure(1, 1)
    axes2[0, 0].hist(y - slope * x)
    claims = [
        Claim.close(
            "slope",
            "least-squares slope equals the true slope",
            "toy §1",
            slope,
            spec.slope,
            4 * stderr,
        ),
        Claim.below(
            "slope_negative",
            "the slope is negative",
            "toy §2 (false on purpose)",
            slope,
            0.0,
            note="shown to check that failing claims are visible",
            seeds=3,
            interval=(slope - 2 * stderr, slope + 2 * stderr),
            readings=[Reading("noise = 0.1", slope, False)],
            certificate="exact least squares",
            mechanism="the samples rise",
        ),
        Claim.below(
            "slope_small",
            "the slope is below 1",
            "toy §3 (unsupported)",
            slope,
            1.0,
            on_fail="setting-dependent",
            note="depends on the slope the toy draws",
        ),
    ]
    data = xr.Dataset({"y": ("x", y), "fit": ((), slope)}, coords={"x": x},
                      attrs={"flag": True, "nested": {"a": 1}, "none": None})
    return ExperimentResult(
        data=data, figures={"fit & data": fig, "residuals": fig2}, claims=claims
    )


def run_broken(spec: LineSpec) -> ExperimentResult:
    raise RuntimeError("toy failure: the experiment raised on purpose")


@pytest.fixture
def toy_registry(monkeypatch):
    """Only the toy experiments, registered for this test and removed afterwards."""
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    register("toy.line", "A line fitted to noisy samples.", quick=LineSpec(), full=LineSpec(s=400))(
        run_line
    )
    register("toy.broken", "An experiment that raises.", quick=LineSpec(), full=LineSpec())(
        run_broken
    )
    return _registry.REGISTRY


# --------------------------------------------------------------------------- storage
def test_atomic_write_leaves_nothing_on_failure_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    _storage.write_text(target, "old")

    def half_then_fail(tmp):
        tmp.write_text("half writ")
        raise OSError("disk full (simulated)")

    with pytest.raises(OSError, match="simulated"):
        _storage.atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    (tmp_path / ".out.txt.abc.tmp").write_text("left by a killed writer")
    assert _storage.remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_netcdf_round_trip_with_unstorable_attributes(tmp_path):
    ds = xr.Dataset(
        {"v": ("k", np.arange(3.0), {"ok": True, "d": {"x": [1, "a"]}})},
        coords={"k": [0, 1, 2]},
        attrs={"b": False, "none": None, "lst": [1.0, 2.0], "s": "t"},
    )
    _storage.write_netcdf(ds, tmp_path / "d.nc")
    back = _storage.read_netcdf(tmp_path / "d.nc")
    xr.testing.assert_equal(back, ds)
    assert back.attrs["b"] == 0 and back.attrs["none"] == "null" and back.attrs["s"] == "t"
    np.testing.assert_array_equal(back.attrs["lst"], [1.0, 2.0])
    assert json.loads(back["v"].attrs["d"]) == {"x": [1, "a"]} and back["v"].attrs["ok"] == 1
    assert ds.attrs["b"] is False  # the caller's dataset is not modified


# --------------------------------------------------------------------------- result directories
def test_result_directory_holds_data_figures_claims_spec_and_metadata(tmp_path, toy_registry):
    meta = run_experiment("toy.line", tmp_path, preset="quick")
    d = tmp_path / "toy.line"
    record = load_record(d)
    assert meta["status"] == "ok" and {k: v for k, v in record.items() if k != "path"} == meta
    # the data, recomputed independently, and the metadata in its attributes
    expected = run_line(LineSpec())
    ds = _storage.read_netcdf(d / "data.nc")
    np.testing.assert_array_equal(ds["y"].values, expected.data["y"].values)
    assert ds.attrs["experiment"] == "toy.line" and ds.attrs["preset"] == "quick"
    assert ds.attrs["spec_json"] == spec_json(LineSpec())
    assert json.loads(ds.attrs["seeds_json"]) == {"seed": 0}
    assert ds.attrs["relu1d_version"] == relu1d.__version__
    assert ds.attrs["wall_time_s"] == record["wall_time_s"] >= 0
    assert json.loads(ds.attrs["claims_json"]) == json.loads((d / "claims.json").read_text())
    # claims
    claims = json.loads((d / "claims.json").read_text())
    assert [c["id"] for c in claims] == ["slope", "slope_negative", "slope_small"]
    assert [c["verdict"] for c in claims] == ["holds", "contradicted", "setting-dependent"]
    assert [c["holds"] for c in claims] == [True, False, False]
    assert claims[1]["seeds"] == 3 and claims[1]["readings"][0] == {
        "setting": "noise = 0.1",
        "value": claims[1]["measured"],
        "holds": False,
    }
    assert claims[0]["measured"] == pytest.approx(expected.claims[0].measured, rel=0, abs=0)
    assert record["n_claims"] == 3 and record["n_hold"] == 1 and record["save_time_s"] >= 0
    assert record["verdicts"] == {
        "holds": 1,
        "contradicted": 1,
        "setting-dependent": 1,
        "inconclusive": 0,
    }
    # spec, re-readable
    assert spec_from_dict(LineSpec, tomllib.loads((d / "spec.toml").read_text())) == LineSpec()
    assert record["spec"] == {"s": 40, "slope": 2.0, "noise": 0.1, "seed": 0}
    # figures: valid PNGs, names made file-safe
    assert [f["file"] for f in record["figures"]] == [
        "figures/fit_data.png",
        "figures/residuals.png",
    ]
    for f in record["figures"]:
        assert (d / f["file"]).read_bytes()[:8] == PNG_SIGNATURE
    assert not list(d.rglob("*.tmp"))


def test_rerun_replaces_the_record_and_removes_stale_figures(tmp_path, toy_registry):
    run_experiment("toy.line", tmp_path)
    d = tmp_path / "toy.line"
    # a figure the previous record lists but the new one does not write is removed ...
    previous = json.loads((d / "meta.json").read_text())
    previous["figures"].append({"name": "old", "file": "figures/old.png"})
    (d / "meta.json").write_text(json.dumps(previous))
    stale = d / "figures" / "old.png"
    stale.write_bytes(PNG_SIGNATURE)
    # ... one relu1d did not write is kept (issue 14, item 4)
    foreign = d / "figures" / "mine.png"
    foreign.write_bytes(PNG_SIGNATURE)
    meta = run_experiment("toy.line", tmp_path, spec=LineSpec(seed=5))
    assert meta["preset"] == "custom" and meta["seeds"] == {"seed": 5}
    assert not stale.exists() and foreign.read_bytes() == PNG_SIGNATURE
    with pytest.raises(TypeError, match="spec must be a LineSpec"):
        run_experiment("toy.line", tmp_path, spec=TrainSpec())


def test_a_failing_experiment_is_recorded_and_the_others_still_run(tmp_path, toy_registry):
    lines = []
    records = reproduce(["toy.broken", "toy.line"], tmp_path, progress=False, echo=lines.append)
    assert [r["status"] for r in records] == ["error", "ok"]
    assert "toy failure: the experiment raised on purpose" in records[0]["error"]
    assert (
        "ERROR" in lines[0] and "1/3 claims hold  (1 contradicted, 1 setting-dependent)" in lines[1]
    )
    page = (tmp_path / "report.html").read_text()
    assert "toy failure: the experiment raised on purpose" in page
    with pytest.raises(ValueError, match="unknown experiment 'toy.nope'"):
        reproduce(["toy.line", "toy.nope"], tmp_path / "other", progress=False)
    assert not (tmp_path / "other" / "toy.line").exists()  # nothing ran


# --------------------------------------------------------------------------- the report
def test_report_is_self_contained_with_every_figure_and_visible_failures(tmp_path, toy_registry):
    reproduce(None, tmp_path, preset="quick", progress=False)
    page = (tmp_path / "report.html").read_text()
    # self-contained: no link, script or external resource
    assert not re.search(r"""(src|href)\s*=\s*['"](?!data:|#)""", page)
    assert "<script" not in page and "<link" not in page
    # every figure on disk is embedded byte for byte
    images = re.findall(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)' alt='([^']*)'", page)
    record = load_record(tmp_path / "toy.line")
    assert [alt for _, alt in images] == ["fit &amp; data", "residuals"]
    for (encoded, _), fig in zip(images, record["figures"]):
        assert base64.b64decode(encoded) == (tmp_path / "toy.line" / fig["file"]).read_bytes()
    # the summary counts, and the failing claim is marked in the summary and in the table
    counts = re.search(r"<b class='counts'>(.*?)</b>", page).group(1)
    assert (
        re.sub("<[^>]+>", "", counts)
        == "1 hold · 1 contradicted · 1 setting-dependent · 0 inconclusive"
    )
    assert "1 experiment(s) failed" in page
    # each verdict has its own colour class, in the table and in the legend
    assert page.count("<tr class='v-contradicted'><td><code>slope_negative</code></td>") == 1
    assert page.count("<tr class='v-setting-dependent'><td><code>slope_small</code></td>") == 1
    assert page.count("<tr class='v-holds'><td><code>slope</code></td>") == 1
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    colours = {
        v: re.search(rf"\.v-{v}:not\(tr\){{color:(#[0-9a-f]+)", css).group(1) for v in VERDICTS
    }
    assert len(set(colours.values())) == 4, colours
    assert all(f"<b class='v-{v}'>{v}</b>:" in page for v in VERDICTS)  # the legend
    assert "shown to check that failing claims are visible" in page
    assert (
        "seeds: 3" in page
        and "reading noise = 0.1" in page
        and "mechanism: the samples rise" in page
    )
    assert "quick budget 300 s" in page
    # the spec and the wall time are shown
    assert "slope = 2.0" in page and f"{record['wall_time_s']:.1f} s" in page


def test_report_escapes_text():
    meta = {
        "name": "x<y",
        "description": "<b>bold</b>",
        "preset": "quick",
        "status": "ok",
        "wall_time_s": 1.0,
        "finished_utc": "now",
        "seeds": {},
        "spec": {},
        "spec_type": "S",
        "claims": [
            {
                "id": "c",
                "statement": "a < b & c",
                "reference": "r",
                "measured": 1.0,
                "predicted": "<2",
                "tolerance": "strict",
                "verdict": "holds",
                "holds": True,
                "note": "",
            }
        ],
        "n_claims": 1,
        "n_hold": 1,
        "figures": [],
        "data_file": None,
        "path": "/nonexistent",
    }
    page = render_html([meta])
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "a &lt; b &amp; c" in page


def test_write_report_ignores_incomplete_directories(tmp_path, toy_registry):
    run_experiment("toy.line", tmp_path)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "data.nc").write_bytes(b"")  # no meta.json: not a record
    page = write_report(tmp_path).read_text()
    assert "toy.line" in page and "half" not in page


# --------------------------------------------------------------------------- relu1d train
def test_train_directory_matches_a_direct_training_run(tmp_path):
    spec = TrainSpec(InitSpec(m=12, seed=3), DataSpec("sinusoid", 6, 1),
                     OptimSpec(method="gd", lr=0.02, steps=60, record_every=20))
    meta = train_to_directory(spec, tmp_path, progress=False)
    direct = relu1d.train(relu1d.init_network(12, seed=3), relu1d.datasets.sinusoid(6, seed=1),
                          method="gd", lr=0.02, steps=60, record_every=20, progress=False)
    ds = _storage.read_netcdf(tmp_path / "data.nc")
    np.testing.assert_array_equal(ds["loss"].values, direct.loss)
    np.testing.assert_array_equal(ds["a"].values[-1], direct.network.a)
    np.testing.assert_array_equal(ds["data_y"].values, relu1d.datasets.sinusoid(6, seed=1).y)
    assert [f["name"] for f in meta["figures"]] == ["function", "particles", "loss"]
    assert spec_from_dict(TrainSpec, tomllib.loads((tmp_path / "spec.toml").read_text())) == spec
    assert meta["seeds"] == {"init.seed": 3, "data.seed": 1, "training.seed": 0}
    assert "<img src='data:image/png;base64," in (tmp_path / "report.html").read_text()


# --------------------------------------------------------------------------- issue 14: records
def test_complete_record_matches_spec_and_preset_and_needs_every_file(tmp_path, toy_registry):
    from relu1d.report import complete_record

    run_experiment("toy.line", tmp_path, preset="quick")
    d = tmp_path / "toy.line"
    assert complete_record(d, LineSpec(), "quick")["name"] == "toy.line"
    assert complete_record(d, LineSpec(seed=1), "quick") is None  # another spec
    assert complete_record(d, LineSpec(), "full") is None  # another preset
    assert complete_record(tmp_path / "nothing", LineSpec(), "quick") is None
    meta = json.loads((d / "meta.json").read_text())
    (d / "meta.json").write_text(json.dumps({**meta, "relu1d_source_sha256": "0" * 64}))
    assert complete_record(d, LineSpec(), "quick") is None  # computed by other code
    (d / "meta.json").write_text(json.dumps(meta))
    assert complete_record(d, LineSpec(), "quick") is not None
    (d / "data.nc").unlink()
    assert complete_record(d, LineSpec(), "quick") is None  # a file it lists is missing


def test_reproduce_skips_a_complete_record_of_the_same_spec(tmp_path, toy_registry):
    first = reproduce(["toy.line"], tmp_path, progress=False)
    lines = []
    again = reproduce(["toy.line"], tmp_path, progress=False, echo=lines.append)
    assert again[0]["skipped"] and again[0]["finished_utc"] == first[0]["finished_utc"]
    assert "skipped" in lines[0] and "--force" in lines[0]
    forced = reproduce(["toy.line"], tmp_path, progress=False, force=True)
    assert not forced[0].get("skipped") and forced[0]["status"] == "ok"


def test_save_result_marks_a_partial_record_and_refuses_unknown_statuses(tmp_path):
    result = ExperimentResult(data=None, figures={}, claims=())
    meta = relu1d.report.save_result(
        tmp_path,
        result,
        name="x",
        description="d",
        spec=LineSpec(),
        preset="custom",
        wall_time_s=1.0,
        status="interrupted",
        steps_done=10,
    )
    assert meta["status"] == "interrupted" and meta["steps_done"] == 10
    assert json.loads((tmp_path / "meta.json").read_text())["status"] == "interrupted"
    with pytest.raises(ValueError, match="status must be one of"):
        relu1d.report.save_result(
            tmp_path,
            result,
            name="x",
            description="d",
            spec=LineSpec(),
            preset="custom",
            wall_time_s=1.0,
            status="fine",
        )


def test_partial_records_are_shown_as_partial_not_as_errors():
    base = {
        "name": "run",
        "description": "d",
        "preset": "custom",
        "wall_time_s": 1.0,
        "finished_utc": "now",
        "seeds": {},
        "spec": {},
        "spec_type": "S",
        "claims": [],
        "n_claims": 0,
        "n_hold": 0,
        "figures": [],
        "data_file": "data.nc",
        "path": "/nonexistent",
    }
    page = render_html([{**base, "status": "interrupted"}])
    assert "Partial record (status interrupted)" in page and "1 partial record(s)" in page
    assert "raised an error" not in page and "failed" not in page
    page = render_html([{**base, "status": "error", "error": "Traceback: boom"}])
    assert (
        "raised an error" in page and "Traceback: boom" in page and "1 experiment(s) failed" in page
    )
