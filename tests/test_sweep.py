"""Sweeps: grids, the sweep file, the process pool and Dask giving identical results,
checkpoints, and resuming after a killed worker."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import relu1d
from relu1d import _storage
from relu1d._specs import DataSpec, InitSpec, OptimSpec, TrainSpec
from relu1d.experiments import Claim, ExperimentResult, _registry, register
from relu1d.sweep import Sweep, SweepIncomplete, load_sweep, point_id, run_sweep, train_point

CRASH_X = 2.0


@dataclass(frozen=True)
class ToySpec:
    x: float = 1.0
    seed: int = 0
    n: int = 3
    marker: str = ""  # with a path: the point x == CRASH_X, seed == 0 kills its process once
    log: str = ""  # with a path: every computed point appends its id


def toy_values(spec: ToySpec) -> np.ndarray:
    return spec.x * np.random.default_rng(spec.seed).standard_normal(spec.n)


def toy_point(spec: ToySpec) -> xr.Dataset:
    """Module level, so that spawned workers can unpickle it by reference."""
    if spec.log:
        with open(
            spec.log, "a"
        ) as fh:  # one short O_APPEND write per point: lines never interleave
            fh.write(point_id(spec) + "\n")
    if spec.marker and spec.x == CRASH_X and spec.seed == 0 and not os.path.exists(spec.marker):
        Path(spec.marker).touch()
        os._exit(17)  # the worker process dies without cleanup, as on a crash or OOM kill
    return xr.Dataset({"y": ("k", toy_values(spec)), "total": ((), spec.x * 10 + spec.seed)},
                      coords={"k": np.arange(spec.n)})


def failing_point(spec: ToySpec) -> xr.Dataset:
    if spec.seed == 1:
        raise ArithmeticError("toy point failure on purpose")
    return toy_point(spec)


TOY_GRID = {"x": [1.0, CRASH_X, 3.0], "seed": [0, 1], "n": [2, 3]}


def _without_timing(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.drop_vars("wall_time_s")
    ds.attrs = {}
    return ds


def _check_toy_result(ds: xr.Dataset, grid: dict) -> None:
    """Against values computed here, point by point."""
    assert ds["y"].dims == ("x", "seed", "n", "k")
    assert list(ds["x"].values) == grid["x"] and list(ds["seed"].values) == grid["seed"]
    for x in grid["x"]:
        for seed in grid["seed"]:
            for n in grid["n"]:
                y = ds["y"].sel(x=x, seed=seed, n=n).values
                np.testing.assert_array_equal(y[:n], toy_values(ToySpec(x, seed, n)))
                assert np.all(np.isnan(y[n:]))  # shorter points are padded with NaN
                assert ds["total"].sel(x=x, seed=seed, n=n) == x * 10 + seed
    assert np.all(ds["wall_time_s"].values >= 0)


# --------------------------------------------------------------------------- the grid
def test_grid_points_dims_and_ids():
    sweep = Sweep(TrainSpec(), {"init.m": [5, 10], "init.seed": [0, 1, 2], "data.seed": [4]})
    assert sweep.shape == (2, 3, 1) and sweep.keys == ("init.m", "init.seed", "data.seed")
    assert sweep.dims == ("m", "init_seed", "data_seed")
    points = sweep.points()
    assert len(points) == 6 and points[4][0] == (1, 1, 0)
    assert points[4][1] == TrainSpec(InitSpec(m=10, seed=1), DataSpec(seed=4))
    ids = [point_id(spec) for _, spec in points]
    assert (
        len(set(ids)) == 6
        and point_id(TrainSpec(InitSpec(m=10, seed=1), DataSpec(seed=4))) == ids[4]
    )


@pytest.mark.parametrize(
    "grid, error, message",
    [
        ({}, ValueError, "grid must name at least one key"),
        (
            {"init.width": [1]},
            ValueError,
            "grid key 'init.width' is not a field of TrainSpec; accepted: init.m",
        ),
        ({"init.m": []}, ValueError, r"grid\['init.m'\] must be a non-empty list"),
        ({"init.m": 5}, ValueError, r"grid\['init.m'\] must be a non-empty list"),
        ({"init.m": [5, 5]}, ValueError, r"grid\['init.m'\] repeats a value"),
        ({"init.m": [5, 0]}, ValueError, "init.m must be >= 1, got 0"),
        ({"training.lr": [0.1, "fast"]}, TypeError, "training.lr must be a number; got 'fast'"),
    ],
)
def test_grid_refusals(grid, error, message):
    with pytest.raises(error, match=message):
        Sweep(TrainSpec(), grid)


def test_base_must_be_a_frozen_spec():
    with pytest.raises(TypeError, match="base must be a frozen dataclass spec"):
        Sweep({"m": 1}, {"m": [1]})


# --------------------------------------------------------------------------- the sweep file
def test_sweep_file_round_trip_and_both_grid_spellings(tmp_path):
    (tmp_path / "a.toml").write_text(
        '[base.init]\nm = 7\n[base.training]\nlr = 0.5\n'
        '[grid]\n"init.seed" = [0, 1]\n"training.lr" = [0.1, 0.2]\n'
    )
    (tmp_path / "b.toml").write_text(
        '[base.init]\nm = 7\n[base.training]\nlr = 0.5\n'
        '[grid.init]\nseed = [0, 1]\n[grid.training]\nlr = [0.1, 0.2]\n'
    )
    a, b = load_sweep(tmp_path / "a.toml"), load_sweep(tmp_path / "b.toml")
    assert a == b == Sweep(TrainSpec(InitSpec(m=7), training=OptimSpec(lr=0.5)),
                           {"init.seed": [0, 1], "training.lr": [0.1, 0.2]})
    (tmp_path / "c.toml").write_text(a.to_toml())
    assert load_sweep(tmp_path / "c.toml") == a


def test_sweep_file_refusals_and_csv_paths(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\nx = [1]\nfoo = 1\n")
    with pytest.raises(ValueError, match="grid key 'x' is not a field of TrainSpec"):
        load_sweep(bad)
    bad.write_text('name = "x"\n[grid]\n"init.m" = [1]\n')
    with pytest.raises(ValueError, match="unknown key 'name' at the top level"):
        load_sweep(bad)
    bad.write_text("[base.init]\nm = 3\n")
    with pytest.raises(ValueError, match=r"needs a \[grid\] table"):
        load_sweep(bad)
    bad.write_text('[base.init]\nm = 3.5\n[grid]\n"init.seed" = [1]\n')
    with pytest.raises(TypeError, match="init.m must be an integer; got 3.5"):
        load_sweep(bad)
    bad.write_text('preset = "quick"\n[grid]\n"init.seed" = [1]\n')
    with pytest.raises(ValueError, match="preset applies only with experiment"):
        load_sweep(bad)
    (tmp_path / "sub").mkdir()
    relu1d.datasets.random(4, seed=0).to_csv(tmp_path / "sub" / "pts.csv")
    good = tmp_path / "sub" / "s.toml"
    good.write_text('[base.data]\nname = "pts.csv"\n[grid]\n"init.seed" = [1]\n')
    assert load_sweep(good).base.data.name == str((tmp_path / "sub" / "pts.csv").resolve())


# --------------------------------------------------------------------------- running
def test_pool_and_dask_give_identical_results(tmp_path):
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    sweep = Sweep(ToySpec(), TOY_GRID)
    pooled = run_sweep(sweep, tmp_path / "pool", workers=2, progress=False, point_fn=toy_point)
    _check_toy_result(pooled, TOY_GRID)
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        dasked = run_sweep(
            sweep,
            tmp_path / "dask",
            scheduler=cluster.scheduler_address,
            progress=False,
            point_fn=toy_point,
        )
    xr.testing.assert_identical(_without_timing(pooled), _without_timing(dasked))
    # what is returned is what is on disk
    xr.testing.assert_identical(_storage.read_netcdf(tmp_path / "pool" / "sweep.nc"), pooled)
    assert sorted(p.name for p in (tmp_path / "pool" / "points").iterdir()) == sorted(
        f"{point_id(spec)}.nc" for _, spec in sweep.points())


def _train_sweep(tmp_path, pool: bool):
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    base = TrainSpec(
        InitSpec(m=6), DataSpec("square_wave", 5), OptimSpec(lr=0.02, steps=40, record_every=20)
    )
    sweep = Sweep(base, {"init.m": [4, 6], "training.lr": [0.01, 0.03]})
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with cluster.get_client() as client:
            dasked = run_sweep(sweep, tmp_path / "dask", scheduler=client, progress=False)
    if pool:  # each worker process loads the compiled kernels: seconds, so only in the slow run
        pooled = run_sweep(sweep, tmp_path / "pool", workers=2, progress=False)
        xr.testing.assert_identical(_without_timing(pooled), _without_timing(dasked))
    return sweep, dasked


@pytest.mark.slow
def test_train_sweep_on_the_pool_matches_dask(tmp_path):
    _train_sweep(tmp_path, pool=True)


def test_train_sweep_matches_direct_training(tmp_path):
    sweep, swept = _train_sweep(tmp_path, pool=False)
    assert swept["f_final"].dims == ("m", "lr", "x") and swept["a"].dims == ("m", "lr", "neuron")
    for m in (4, 6):
        for lr in (0.01, 0.03):
            traj = relu1d.train(
                relu1d.init_network(m),
                relu1d.datasets.square_wave(5),
                lr=lr,
                steps=40,
                record_every=20,
                progress=False,
            )
            point = swept.sel(m=m, lr=lr)
            np.testing.assert_array_equal(point["loss"].values, traj.loss)
            np.testing.assert_array_equal(point["a"].values[:m], traj.network.a)
            assert np.all(np.isnan(point["a"].values[m:]))
            np.testing.assert_allclose(
                point["f_final"].values, traj.network(point["x"].values), rtol=0, atol=0
            )
    xr.testing.assert_identical(train_point(sweep.points()[0][1]), _storage.read_netcdf(
        tmp_path / "dask" / "points" / f"{point_id(sweep.points()[0][1])}.nc").drop_attrs())


def test_resume_after_a_killed_worker_recomputes_only_what_is_missing(tmp_path):
    marker, log = tmp_path / "crashed-once", tmp_path / "calls.log"
    sweep = Sweep(ToySpec(marker=str(marker), log=str(log)), TOY_GRID)
    out = tmp_path / "run"
    with pytest.raises(SweepIncomplete, match="a worker process died") as info:
        run_sweep(sweep, out, workers=2, progress=False, point_fn=toy_point)
    assert marker.exists()
    points_dir = out / "points"
    saved = {p.stem for p in points_dir.glob("*.nc")}
    all_ids = {point_id(spec) for _, spec in sweep.points()}
    crash_id = point_id(sweep.points()[2 * 2][1])  # x index 1 (CRASH_X), seed 0, n index 0
    assert crash_id in all_ids - saved and info.value.done == len(saved) < info.value.total == 12
    assert not (out / "sweep.nc").exists()
    # every file left is a complete checkpoint: readable, with its own spec
    assert {p.name for p in points_dir.iterdir()} == {f"{i}.nc" for i in saved}
    for i in saved:
        assert _storage.read_netcdf(points_dir / f"{i}.nc").attrs["point_id"] == i

    log.unlink()
    merged = run_sweep(sweep, out, workers=2, progress=False, point_fn=toy_point)
    recomputed = log.read_text().split()
    assert sorted(recomputed) == sorted(all_ids - saved)  # only the missing ones, each once
    _check_toy_result(merged, TOY_GRID)  # the same values as an uninterrupted sweep

    log.unlink()
    # complete: nothing to do
    again = run_sweep(sweep, out, workers=2, progress=False, point_fn=toy_point)
    assert not log.exists()
    xr.testing.assert_identical(again, merged)


def test_failing_points_are_reported_and_the_rest_saved(tmp_path):
    sweep = Sweep(ToySpec(), {"x": [1.0, 3.0], "seed": [0, 1]})
    with LocalClusterOrSkip() as scheduler:
        with pytest.raises(SweepIncomplete, match="2 point.s. raised") as info:
            run_sweep(sweep, tmp_path, scheduler=scheduler, progress=False, point_fn=failing_point)
    assert (
        info.value.done == 2
        and "ArithmeticError: toy point failure on purpose" in info.value.errors[0]
    )
    assert len(list((tmp_path / "points").glob("*.nc"))) == 2


def test_a_checkpoint_of_another_spec_is_refused(tmp_path):
    sweep = Sweep(ToySpec(), {"x": [1.0, 3.0]})
    with LocalClusterOrSkip() as scheduler:
        run_sweep(sweep, tmp_path, scheduler=scheduler, progress=False, point_fn=toy_point)
    first, second = (tmp_path / "points" / f"{point_id(s)}.nc" for _, s in sweep.points())
    first.write_bytes(second.read_bytes())
    with pytest.raises(ValueError, match="holds another spec than its grid point"):
        # nothing missing: no workers
        run_sweep(sweep, tmp_path, progress=False, point_fn=toy_point)


def test_no_point_function_for_an_unknown_base(tmp_path):
    with pytest.raises(TypeError, match="no point function for a ToySpec base"):
        run_sweep(Sweep(ToySpec(), {"x": [1.0]}), tmp_path, progress=False)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        run_sweep(
            Sweep(ToySpec(), {"x": [1.0]}), tmp_path, workers=0, progress=False, point_fn=toy_point
        )
    with pytest.raises(ValueError, match="workers sets the size of the local pool"):
        run_sweep(
            Sweep(ToySpec(), {"x": [1.0]}),
            tmp_path,
            workers=2,
            scheduler="tcp://127.0.0.1:1",
            progress=False,
            point_fn=toy_point,
        )


# --------------------------------------------------------------------------- experiment sweeps
@dataclass(frozen=True)
class MeanSpec:
    s: int = 50
    seed: int = 0


def run_mean(spec: MeanSpec) -> ExperimentResult:
    sample = np.random.default_rng(spec.seed).standard_normal(spec.s)
    mean = float(sample.mean())
    return ExperimentResult(
        data=xr.Dataset({"sample": ("i", sample)}),
        claims=[
            Claim.close(
                "mean_near_zero", "the sample mean is near 0", "toy", mean, 0.0, 4 / np.sqrt(spec.s)
            )
        ],
    )


def test_sweep_over_a_registered_experiment(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    register("toy.mean", "Sample mean.", quick=MeanSpec(), full=MeanSpec(s=5000))(run_mean)
    path = tmp_path / "exp.toml"
    path.write_text(
        'experiment = "toy.mean"\npreset = "full"\n[base]\ns = 20\n[grid]\nseed = [0, 1, 2]\n'
    )
    sweep = load_sweep(path)
    assert sweep.base == MeanSpec(s=20) and sweep.experiment == "toy.mean"
    with LocalClusterOrSkip() as scheduler:  # in-process workers see this test's registration
        ds = run_sweep(sweep, tmp_path / "out", scheduler=scheduler, progress=False)
    for seed in (0, 1, 2):
        expected = np.random.default_rng(seed).standard_normal(20)
        np.testing.assert_array_equal(ds["sample"].sel(seed=seed).values, expected)
        assert ds["claim_measured"].sel(seed=seed).item() == pytest.approx(
            expected.mean(), abs=1e-15
        )
    assert ds["claim_holds"].dims == ("seed", "claim")
    assert list(ds["claim"].values) == ["mean_near_zero"]
    assert set(ds["claim_verdict"].values.ravel()) <= {"holds", "inconclusive"}
    path.write_text('experiment = "toy.mean"\n[base]\nsize = 20\n[grid]\nseed = [0]\n')
    with pytest.raises(ValueError, match="unknown key 'size'"):
        load_sweep(path)


class LocalClusterOrSkip:
    """An in-process Dask cluster (skips the test when Dask is not installed)."""

    def __enter__(self):
        pytest.importorskip("dask.distributed")
        from dask.distributed import LocalCluster

        self.cluster = LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        )
        return self.cluster.scheduler_address

    def __exit__(self, *exc):
        self.cluster.close()


def test_missing_dask_gives_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("dask"):
            raise ImportError("No module named 'dask'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(ImportError, match=r"needs Dask: pip install 'relu1d\[dask\]'"):
        run_sweep(
            Sweep(ToySpec(), {"x": [1.0]}),
            tmp_path,
            scheduler="tcp://127.0.0.1:1",
            progress=False,
            point_fn=toy_point,
        )


# --------------------------------------------------------------------------- issue 14: sweeps
def test_every_registered_experiment_survives_the_sweep_file_round_trip(tmp_path):
    # spec -> sweep.toml -> spec, for every experiment's quick and full presets: tuple
    # fields (widths, deltas, seeds, nested pairs) come back from TOML as lists
    from relu1d.experiments import get, names

    registered = names()
    assert len(registered) >= 20
    for name in registered:
        exp = get(name)
        for preset in ("quick", "full"):
            spec = exp.preset(preset)
            key = next((k for k in ("seed", "data_seed", "s", "m") if hasattr(spec, k)),
                       dataclasses.fields(spec)[0].name)
            path = tmp_path / f"{name}.{preset}.toml"
            path.write_text(Sweep(spec, {key: [getattr(spec, key)]}, name).to_toml())
            back = load_sweep(path)
            assert back.base == spec, (name, preset)
            assert back.points()[0][1] == spec and point_id(back.points()[0][1]) == point_id(spec)


def test_a_sweep_over_williams_fig3_runs_end_to_end(tmp_path):
    # the README's example: a tuple field in [base] and tuple values in [grid]
    path = tmp_path / "fig3.toml"
    path.write_text(
        'experiment = "williams2019.fig3"\npreset = "quick"\n[base]\nwidths = [100, 300]\n'
        'seeds = [0, 1]\n[grid]\nnatural_data_seeds = [[0, 1], [2, 3]]\n'
    )
    sweep = load_sweep(path)
    assert sweep.base.widths == (100, 300) and sweep.grid[0][1] == ([0, 1], [2, 3])
    with LocalClusterOrSkip() as scheduler:
        ds = run_sweep(sweep, tmp_path / "out", scheduler=scheduler, progress=False)
    assert list(ds["natural_data_seeds"].values) == ["[0, 1]", "[2, 3]"]  # list values: strings
    assert set(ds["claim_verdict"].values.ravel()) <= {"holds", "contradicted", "setting-dependent",
                                                      "inconclusive"}
    assert list(ds["status"].values) == ["ok", "ok"]


def diverging_point(spec: ToySpec) -> xr.Dataset:
    """Diverges for x == 2 (a real training with too large a step), else a toy point."""
    if spec.x == CRASH_X:
        net, data = relu1d.init_network(20, seed=0), relu1d.datasets.square_wave(10, seed=0)
        relu1d.train(net, data, lr=5.0, steps=1000, trainable="c", record_every=7, progress=False)
    return toy_point(spec)


def test_a_diverging_point_is_recorded_and_the_sweep_merges(tmp_path):
    sweep = Sweep(ToySpec(), {"x": [1.0, CRASH_X, 3.0]})
    ds = run_sweep(sweep, tmp_path, workers=2, progress=False, point_fn=diverging_point)
    assert list(ds["status"].values) == ["ok", "diverged", "ok"]
    assert ds["diverged_at_step"].sel(x=CRASH_X).item() == 205  # as in test_train's divergence test
    assert np.isnan(ds["diverged_at_step"].sel(x=1.0).item())
    assert np.all(np.isnan(ds["y"].sel(x=CRASH_X).values)) and ds["total"].sel(x=3.0).item() == 30.0
    assert (tmp_path / "sweep.nc").is_file()


def test_train_point_records_divergence_with_its_finite_part_and_refuses_interrupted_runs(
    monkeypatch,
):
    spec = TrainSpec(
        InitSpec(m=20), DataSpec(s=10), OptimSpec(lr=5.0, steps=1000, trainable="c", record_every=7)
    )
    ds = train_point(spec)
    assert str(ds["status"].values) == "diverged" and ds["diverged_at_step"].item() == 205
    # the finite part
    assert ds["step"].values[-1] == 203 and np.all(np.isfinite(ds["loss"].values))
    assert np.isnan(ds["final_loss"].item()) and np.all(np.isnan(ds["f_final"].values))
    ok = train_point(TrainSpec(InitSpec(m=5), DataSpec(s=4), OptimSpec(steps=10, record_every=5)))
    assert str(ok["status"].values) == "ok" and np.isnan(ok["diverged_at_step"].item())

    import sys

    train_module = sys.modules["relu1d.train"]  # the package (relu1d.train is also the function)
    real_train = train_module.train

    def interrupted_train(*args, **kwargs):  # what train returns after Ctrl-C under "return"
        traj = real_train(*args, **{**kwargs, "steps": 5})
        traj.interrupted = True
        return traj

    monkeypatch.setattr(train_module, "train", interrupted_train)
    with pytest.raises(
        RuntimeError, match="interrupted after step 5 of 10; a truncated run is not a result"
    ):
        train_point(TrainSpec(InitSpec(m=5), DataSpec(s=4), OptimSpec(steps=10, record_every=5)))


def test_grid_values_equal_as_settings_or_keys_given_twice_are_refused(tmp_path):
    for grid, message in [({"training.lr": [1, 1.0]}, r"1 and 1.0 are one setting"),
                          ({"init.delta": [0.0, -0.0]}, r"0.0 and -0.0 are one setting"),
                          ({"init.delta": [0.1, 1e-1]}, "repeats a value")]:
        with pytest.raises(ValueError, match=message):
            Sweep(TrainSpec(), grid)
    # distinct: accepted
    Sweep(TrainSpec(), {"init.alpha": ["sqrt", 2.0], "init.delta": [0.0, 1e-300]})
    path = tmp_path / "twice.toml"
    path.write_text('[grid]\n"init.m" = [5]\n[grid.init]\nm = [6]\n')
    with pytest.raises(ValueError, match="gives the key 'init.m' twice"):
        load_sweep(path)


def alpha_point(spec: TrainSpec) -> xr.Dataset:
    return xr.Dataset({"alpha_value": ((), spec.init.network().alpha)})


def test_mixed_grid_values_merge_as_strings(tmp_path):
    # "sqrt" and 2.0 for init.alpha: once every point was computed, the merge failed
    # ("unable to infer dtype"); the coordinate is now strings
    sweep = Sweep(TrainSpec(InitSpec(m=100)), {"init.alpha": ["sqrt", 2.0]})
    ds = run_sweep(sweep, tmp_path, workers=1, progress=False, point_fn=alpha_point)
    assert list(ds["alpha"].values) == ["sqrt", "2.0"]
    np.testing.assert_array_equal(ds["alpha_value"].values, [10.0, 2.0])  # √100 and 2
    assert _storage.read_netcdf(tmp_path / "sweep.nc")["alpha"].values.tolist() == ["sqrt", "2.0"]
    ds = run_sweep(Sweep(ToySpec(), {"x": [1, 2.5]}), tmp_path / "num", workers=1, progress=False,
                   point_fn=toy_point)
    assert ds["x"].dtype.kind == "f" and list(ds["x"].values) == [1.0, 2.5]  # numbers stay numbers


def test_grid_csv_paths_are_taken_from_the_sweep_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cfg"
    folder.mkdir()
    relu1d.datasets.random(5, seed=1).to_csv(folder / "a.csv")
    relu1d.datasets.random(6, seed=2).to_csv(folder / "b.csv")
    (folder / "s.toml").write_text(
        '[base.data]\nname = "a.csv"\n[grid]\n"data.name" = ["a.csv", "b.csv"]\n'
    )
    monkeypatch.chdir(tmp_path)  # not the file's folder
    sweep = load_sweep(folder / "s.toml")
    assert sweep.base.data.name == str((folder / "a.csv").resolve())
    assert [spec.data.name for _, spec in sweep.points()] == [
        str((folder / n).resolve()) for n in ("a.csv", "b.csv")
    ]
    assert [spec.data.dataset().s for _, spec in sweep.points()] == [5, 6]


def test_a_damaged_checkpoint_is_named(tmp_path):
    sweep = Sweep(ToySpec(), {"x": [1.0, 3.0]})
    run_sweep(sweep, tmp_path, workers=1, progress=False, point_fn=toy_point)
    victim = tmp_path / "points" / f"{point_id(sweep.points()[1][1])}.nc"
    victim.write_bytes(victim.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match=rf"checkpoint '{victim}' is damaged .*remove it"):
        run_sweep(sweep, tmp_path, workers=1, progress=False, point_fn=toy_point)


def test_an_unreachable_dask_scheduler_is_one_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    from relu1d import sweep as sweep_module

    monkeypatch.setattr(sweep_module, "DASK_CONNECT_TIMEOUT_S", 1)
    import time

    t0 = time.monotonic()
    with pytest.raises(
        ValueError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s"
    ):
        run_sweep(
            Sweep(ToySpec(), {"x": [1.0]}),
            tmp_path,
            scheduler="tcp://127.0.0.1:9",
            progress=False,
            point_fn=toy_point,
        )
    assert time.monotonic() - t0 < 8


def test_a_truncated_training_checkpoint_from_an_older_version_is_recomputed(tmp_path):
    # before interrupted runs were refused, a Ctrl-C'd training was stored as a finished
    # point (no status variable, fewer steps than its spec): it is set aside and recomputed
    spec = TrainSpec(InitSpec(m=5), DataSpec(s=4), OptimSpec(steps=20, record_every=5))
    sweep = Sweep(spec, {"init.seed": [0]})
    (index, point), = sweep.points()
    short = train_point(
        dataclasses.replace(point, training=dataclasses.replace(point.training, steps=10))
    )
    short = short.drop_vars(["status", "diverged_at_step"]).assign_attrs(
        spec_json=relu1d.sweep.spec_json(point)
    )
    path = tmp_path / "points" / f"{point_id(point)}.nc"
    _storage.write_netcdf(short, path)
    ds = run_sweep(sweep, tmp_path, workers=1, progress=False)
    assert int(ds["step"].values[-1]) == 20 and list(ds["status"].values) == ["ok"]
    assert (path.parent / (path.name + ".truncated")).is_file()  # kept, not deleted


def test_an_impossible_output_folder_is_refused_before_computing(tmp_path):
    (tmp_path / "afile").write_text("mine")
    for out in (tmp_path / "afile", tmp_path / "afile" / "below"):
        with pytest.raises(ValueError, match="it or a folder above it is a file"):
            run_sweep(
                Sweep(ToySpec(), {"x": [1.0]}), out, workers=1, progress=False, point_fn=toy_point
            )
    assert (tmp_path / "afile").read_text() == "mine"
