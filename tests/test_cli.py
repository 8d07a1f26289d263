"""The `relu1d` command: init/plot/demo, list, reproduce, train, sweep."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import relu1d
from relu1d import _storage
from relu1d._specs import DataSpec, InitSpec, OptimSpec, TrainSpec, spec_from_dict
from relu1d.cli import app
from relu1d.experiments import Claim, ExperimentResult, _registry, register
from relu1d.plot import new_figure

runner = CliRunner()


@dataclass(frozen=True)
class SquareSpec:
    n: int = 5
    seed: int = 1


def run_square(spec: SquareSpec) -> ExperimentResult:
    k = np.arange(spec.n)
    fig, axes = new_figure()
    axes[0, 0].plot(k, k ** 2)
    total = float(np.sum(k ** 2))
    closed_form = (spec.n - 1) * spec.n * (2 * spec.n - 1) / 6
    return ExperimentResult(
        xr.Dataset({"sq": ("k", k**2)}, coords={"k": k}),
        {"squares": fig},
        [
            Claim.close(
                "sum_of_squares", "Σk² = (n−1)n(2n−1)/6", "closed form", total, closed_form, 1e-9
            )
        ],
    )


@pytest.fixture
def toy_registry(monkeypatch):
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    register("toy.squares", "Sum of squares against its closed form.", quick=SquareSpec(),
             full=SquareSpec(n=50))(run_square)
    register("toy.again", "The same, registered twice under another name.", quick=SquareSpec(n=3),
             full=SquareSpec(n=30))(run_square)


def test_init_plot_demo_still_work(tmp_path):
    net_path = tmp_path / "net.npz"
    result = runner.invoke(app, ["init", str(net_path), "--m", "7", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert relu1d.Network.load(net_path).m == 7
    result = runner.invoke(app, ["plot", str(net_path), "--out", str(tmp_path / "plots")])
    assert result.exit_code == 0 and (tmp_path / "plots" / "net_function.png").is_file()
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--m", "10"])
    assert result.exit_code == 0 and (tmp_path / "demo" / "square_wave.csv").is_file()



@pytest.mark.parametrize(
    "command, words",
    [
        (["demo", "--m", "0"], "m must be >= 1"),
        (["demo", "--seed", "-1"], "seed must be a non-negative int"),
        (
            ["init", "NET.npz", "--alpha", "big"],
            "alpha must be 'one', 'sqrt', 'm' or a positive number",
        ),
    ],
)
def test_init_and_demo_refuse_bad_options_without_a_traceback(tmp_path, command, words):
    command = [str(tmp_path / w) if w == "NET.npz" else w for w in command]
    result = runner.invoke(
        app, command + (["--out", str(tmp_path / "demo")] if command[0] == "demo" else [])
    )
    assert (
        result.exit_code == 2
        and result.exception is not None
        and isinstance(result.exception, SystemExit)
    )
    assert words in result.output
    assert not (tmp_path / "demo").exists()

def test_list(toy_registry):
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "toy.again    The same, registered twice under another name.",
        "toy.squares  Sum of squares against its closed form.",
    ]
    result = runner.invoke(app, ["list", "-v"])
    assert "quick: SquareSpec(n=5, seed=1)" in result.output


def test_reproduce_names_and_all(tmp_path, toy_registry):
    result = runner.invoke(
        app,
        ["reproduce", "toy.squares", "--quick", "--out", str(tmp_path / "one"), "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "toy.squares" in result.output and "1/1 claims hold" in result.output
    assert (tmp_path / "one" / "report.html").is_file() and not (
        tmp_path / "one" / "toy.again"
    ).exists()
    meta = json.loads((tmp_path / "one" / "toy.squares" / "meta.json").read_text())
    assert meta["preset"] == "quick" and meta["spec"] == {"n": 5, "seed": 1}

    result = runner.invoke(
        app, ["reproduce", "--all", "--out", str(tmp_path / "all"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "2 experiment(s), 2 claims: 2 hold · 0 contradicted · 0 setting-dependent · 0 inconclusive"
        in result.output
    )
    meta = json.loads((tmp_path / "all" / "toy.again" / "meta.json").read_text())
    assert meta["preset"] == "full" and meta["spec"] == {"n": 30, "seed": 1}
    ds = _storage.read_netcdf(tmp_path / "all" / "toy.again" / "data.nc")
    np.testing.assert_array_equal(ds["sq"].values, np.arange(30) ** 2)

    result = runner.invoke(
        app, ["reproduce", "--all", "--quick", "--out", str(tmp_path / "q"), "--no-progress"]
    )
    assert "quick budget 300 s: within" in result.output


@pytest.mark.parametrize("args, message", [
    (["reproduce", "--quick"], "give experiment names (see `relu1d list`) or --all"),
    (["reproduce", "toy.squares", "--all"], "give experiment names or --all, not both"),
    (["reproduce", "toy.nope"], "unknown experiment 'toy.nope'"),
])
def test_reproduce_refusals(tmp_path, toy_registry, args, message):
    result = runner.invoke(app, args + ["--out", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output


def test_train_from_toml_with_flag_overrides(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[init]\nm = 8\nseed = 2\n[data]\nname = "sinusoid"\ns = 6\n'
                      '[training]\nlr = 0.01\nsteps = 30\nrecord_every = 10\n')
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["train", str(config), "--steps", "40", "--m", "9", "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    expected = TrainSpec(
        InitSpec(m=9, seed=2),
        DataSpec("sinusoid", 6),
        OptimSpec(lr=0.01, steps=40, record_every=10),
    )
    assert spec_from_dict(TrainSpec, tomllib.loads((out / "spec.toml").read_text())) == expected
    direct = relu1d.train(expected.init.network(), expected.data.dataset(), progress=False,
                          **expected.training.kwargs())
    ds = _storage.read_netcdf(out / "data.nc")
    np.testing.assert_array_equal(ds["c"].values[-1], direct.network.c)
    assert {p.name for p in (out / "figures").iterdir()} == {
        "function.png",
        "particles.png",
        "loss.png",
    }
    assert (out / "report.html").is_file() and (out / "meta.json").is_file()


def test_train_on_a_csv_relative_to_the_config(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    relu1d.datasets.random(5, seed=3).to_csv(tmp_path / "cfg" / "pts.csv")
    config = tmp_path / "cfg" / "run.toml"
    config.write_text('[init]\nm = 4\n[data]\nname = "pts.csv"\n[training]\nsteps = 5\n')
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", str(config), "--print-config"])
    assert result.exit_code == 0, result.output
    assert tomllib.loads(result.output)["data"]["name"] == str(
        (tmp_path / "cfg" / "pts.csv").resolve()
    )
    result = runner.invoke(app, ["train", str(config), "--data", "cfg/pts.csv", "--print-config"])
    assert tomllib.loads(result.output)["data"]["name"] == str(
        (tmp_path / "cfg" / "pts.csv").resolve()
    )
    result = runner.invoke(app, ["train", str(config), "--out", "o", "--no-progress"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_storage.read_netcdf(tmp_path / "o" / "data.nc")["data_y"].values,
                                  relu1d.datasets.random(5, seed=3).y)
    # DataSpec accepts an upper-case ".CSV" too; it is taken from the config folder alike
    (tmp_path / "cfg" / "PTS.CSV").write_bytes((tmp_path / "cfg" / "pts.csv").read_bytes())
    config.write_text(config.read_text().replace("pts.csv", "PTS.CSV"))
    result = runner.invoke(app, ["train", str(config), "--print-config"])
    assert tomllib.loads(result.output)["data"]["name"] == str(
        (tmp_path / "cfg" / "PTS.CSV").resolve()
    )


def test_train_print_config_round_trips(tmp_path):
    result = runner.invoke(app, ["train", "--print-config", "--alpha", "2.5", "--method", "sgd",
                                 "--batch-size", "3", "--trainable", "c", "--delta", "0.5"])
    assert result.exit_code == 0, result.output
    spec = spec_from_dict(TrainSpec, tomllib.loads(result.output))
    assert spec == TrainSpec(InitSpec(alpha=2.5, delta=0.5), DataSpec(),
                             OptimSpec(method="sgd", batch_size=3, trainable="c"))


@pytest.mark.parametrize("toml, flags, message", [
    ("[init]\nmm = 3\n", [], "unknown key 'init.mm' in [init]; accepted keys: m, scheme"),
    ("[training]\nlr = \"big\"\n", [], "training.lr must be a number; got 'big'"),
    ("[training]\nsteps = -1\n", [], "training.steps must be >= 0, got -1"),
    ("", ["--method", "adam"], "training.method must be one of 'gd', 'flow', 'sgd', 'langevin'"),
    ("", ["--alpha", "big"], "init.alpha must be one of 'one', 'sqrt', 'm' or a number > 0"),
    ("init = 3\n", ["--m", "4"], "init must be a table"),
    ("[init\n", [], "is not valid TOML"),
])
def test_train_refusals(tmp_path, toml, flags, message):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "o")] + flags)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_sweep_command_and_resume(tmp_path):
    """Both runs on an in-process Dask cluster (the process pool is tested in test_sweep.py)."""
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    )
    try:
        _sweep_command_and_resume(tmp_path, cluster.scheduler_address)
    finally:
        cluster.close()


def _sweep_command_and_resume(tmp_path, scheduler):
    path = tmp_path / "sweep.toml"
    path.write_text(
        '[base.init]\nm = 5\n[base.data]\ns = 4\n[base.training]\nsteps = 20\nrecord_every = 10\n'
        '[grid]\n"init.seed" = [0, 1]\n"training.lr" = [0.01, 0.02]\n'
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["sweep", str(path), "--out", str(out), "--scheduler", scheduler, "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "seed=2, lr=2" in result.output
    ds = _storage.read_netcdf(out / "sweep.nc")
    assert ds["final_loss"].dims == ("seed", "lr") and json.loads(ds.attrs["grid_keys_json"]) == {
        "seed": "init.seed", "lr": "training.lr"}
    traj = relu1d.train(
        relu1d.init_network(5, seed=1),
        relu1d.datasets.square_wave(4),
        lr=0.02,
        steps=20,
        record_every=10,
        progress=False,
    )
    assert ds["final_loss"].sel(seed=1, lr=0.02).item() == traj.loss[-1]
    # a lost checkpoint is recomputed on the next run, the others are loaded
    victim = sorted((out / "points").glob("*.nc"))[0]
    victim.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.nc")}
    result = runner.invoke(
        app, ["sweep", str(path), "--out", str(out), "--scheduler", scheduler, "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert victim.exists() and all(
        p.stat().st_mtime_ns == before[p.name]
        for p in (out / "points").glob("*.nc")
        if p.name in before
    )
    xr.testing.assert_identical(_storage.read_netcdf(out / "sweep.nc").drop_vars("wall_time_s"),
                                ds.drop_vars("wall_time_s").assign_attrs(
                                    _storage.read_netcdf(out / "sweep.nc").attrs))


def test_sweep_refusals(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[grid]\n"init.m" = [0]\n')
    result = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "init.m must be >= 1, got 0" in result.output


# ------------------------------------------------------------ issue 14: output folders, resume
def _train_args(out, steps=20, *extra):
    return [
        "train",
        "--m",
        "6",
        "--s",
        "5",
        "--steps",
        str(steps),
        "--record-every",
        "10",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def test_train_refuses_a_foreign_folder_and_never_deletes_files_it_did_not_write(tmp_path):
    out = tmp_path / "mine"
    (out / "figures").mkdir(parents=True)
    (out / "notes.txt").write_text("my notes")
    (out / "figures" / "photo.png").write_bytes(b"not written by relu1d")
    result = runner.invoke(app, _train_args(out))
    assert (
        result.exit_code == 2
        and "holds no relu1d record" in result.output
        and "--overwrite" in result.output
    )
    assert sorted(p.name for p in out.rglob("*")) == ["figures", "notes.txt", "photo.png"]
    result = runner.invoke(app, _train_args(out, 20, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "figures" / "photo.png").read_bytes() == b"not written by relu1d"
    # now OUT holds a relu1d record: a rerun replaces it without --overwrite, and still
    # removes only what relu1d wrote
    (out / "figures" / "added.png").write_bytes(b"also mine")
    result = runner.invoke(app, _train_args(out, 30))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "meta.json").read_text())["steps_planned"] == 30
    assert (out / "figures" / "added.png").read_bytes() == b"also mine"
    assert (out / "figures" / "photo.png").is_file() and (out / "figures" / "loss.png").is_file()


def test_init_refuses_to_overwrite_an_existing_file_unless_asked(tmp_path):
    path = tmp_path / "net.npz"
    assert runner.invoke(app, ["init", str(path), "--m", "4"]).exit_code == 0
    before = path.read_bytes()
    result = runner.invoke(app, ["init", str(path), "--m", "5"])
    assert (
        result.exit_code == 2
        and "already exists" in result.output
        and "--overwrite" in result.output
    )
    assert path.read_bytes() == before
    result = runner.invoke(app, ["init", str(path), "--m", "5", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert relu1d.Network.load(path).m == 5


@pytest.mark.parametrize(
    "kind",
    ["existing file", "under a file", "impossible", "read-only filesystem", "read-only folder"],
)
@pytest.mark.parametrize("command", ["train", "reproduce", "init"])
def test_an_unwritable_out_fails_in_one_line_before_computing(
    tmp_path, toy_registry, monkeypatch, kind, command
):
    import errno
    import os
    import sys
    from pathlib import Path

    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    if kind == "existing file":
        out = blocker
    elif kind == "under a file":
        out = blocker / "sub"
    elif kind == "impossible":
        out = Path("/proc/self/relu1d-no-such-folder")
    elif kind == "read-only filesystem":
        out = tmp_path / "ro"

        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(_storage.tempfile, "mkstemp", refuse)
        monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: refuse())
    else:
        if os.geteuid() == 0:
            pytest.skip("root may write in a read-only folder")
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        out = tmp_path / "ro" / "sub"
    computed = []
    monkeypatch.setattr(
        sys.modules["relu1d.train._api"], "_train", lambda *a, **k: computed.append(a)
    )
    register("toy.count", "Counts its runs.", quick=SquareSpec(), full=SquareSpec())(
        lambda spec: computed.append(spec) or run_square(spec))
    monkeypatch.setattr(sys.modules["relu1d.init"], "init_network",
                        lambda *a, **k: computed.append(a) or relu1d.Network([1.0], [0.0], [1.0]))
    args = {
        "train": _train_args(out),
        "reproduce": ["reproduce", "toy.count", "--quick", "--out", str(out)],
        "init": ["init", str(out / "net.npz" if kind != "existing file" else out)],
    }[command]
    if command == "init" and kind == "existing file":
        args = ["init", str(tmp_path)]  # a folder where a file is wanted
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    ), result.output
    assert computed == []


def test_reproduce_resumes_skipping_complete_records_unless_forced(tmp_path, toy_registry):
    out = tmp_path / "r"
    args = ["reproduce", "--all", "--quick", "--out", str(out), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "skipped" not in result.output, result.output

    def stamps():
        return {n: (out / n / "meta.json").stat().st_mtime_ns for n in ("toy.squares", "toy.again")}

    first = stamps()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "skipped 2 complete" in result.output and stamps() == first
    assert "2 experiment(s), 2 claims: 2 hold" in result.output  # the skipped records still count
    # another preset is another spec: computed
    result = runner.invoke(app, ["reproduce", "toy.again", "--out", str(out), "--no-progress"])
    assert (
        "skipped" not in result.output
        and json.loads((out / "toy.again" / "meta.json").read_text())["preset"] == "full"
    )
    # --force recomputes; so does a record that is not complete
    before = stamps()
    result = runner.invoke(app, args[:1] + ["toy.squares"] + args[2:] + ["--force"])
    assert (
        result.exit_code == 0
        and "skipped" not in result.output
        and stamps()["toy.squares"] != before["toy.squares"]
    )
    meta = json.loads((out / "toy.squares" / "meta.json").read_text())
    (out / "toy.squares" / "meta.json").write_text(json.dumps({**meta, "status": "interrupted"}))
    (out / "toy.again" / "figures" / "squares.png").unlink()
    before = stamps()
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "skipped" not in result.output
    assert all(stamps()[n] != before[n] for n in before)


def test_a_diverging_train_writes_a_partial_record_and_says_so_in_one_line(tmp_path):
    out = tmp_path / "div"
    result = runner.invoke(
        app,
        [
            "train",
            "--m",
            "10",
            "--s",
            "10",
            "--lr",
            "5",
            "--trainable",
            "c",
            "--steps",
            "2000",
            "--record-every",
            "10",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    # the same run in process: where it diverges
    with pytest.raises(relu1d.TrainingDiverged) as info:
        relu1d.train(
            relu1d.init_network(10),
            relu1d.datasets.square_wave(10),
            lr=5.0,
            trainable="c",
            steps=2000,
            record_every=10,
            progress=False,
        )
    exc = info.value
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert (
        f"diverged at step {exc.step}" in lines[0]
        and "--lr 2.5" in lines[0]
        and f"{exc.last_loss:.6g}" in lines[0]
    )
    meta = json.loads((out / "meta.json").read_text())
    assert (
        meta["status"] == "diverged" and meta["steps_done"] == int(exc.trajectory.steps[-1]) < 2000
    )
    assert meta["diverged_at_step"] == exc.step and meta["steps_planned"] == 2000
    ds = _storage.read_netcdf(out / "data.nc")
    np.testing.assert_array_equal(ds["loss"].values, exc.trajectory.loss)
    assert ds.attrs["status"] == "diverged" and np.all(np.isfinite(ds["c"].values))
    assert {p.name for p in (out / "figures").iterdir()} == {
        "function.png",
        "particles.png",
        "loss.png",
    }


def test_train_without_figures_writes_the_data_and_clears_its_old_figures(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--m", "5", "--s", "4", "--steps", "20", "--no-progress", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in (out / "figures").iterdir()} == {
        "function.png", "particles.png", "loss.png"}
    assert (out / "views" / "train.html").is_file()
    (out / "views" / "notes.txt").write_text("mine")  # a user's file in our folder
    result = runner.invoke(app, [*args, "--no-figures"])
    assert result.exit_code == 0, result.output
    assert "figures/" not in result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "ok" and meta["figures"] == [] and "views" not in meta
    assert not (out / "figures").exists()  # emptied, so removed
    assert [p.name for p in (out / "views").iterdir()] == ["notes.txt"]
    traj = relu1d.Trajectory.load(out / "data.nc")
    assert traj.steps[-1] == 20 and (out / "report.html").is_file()
