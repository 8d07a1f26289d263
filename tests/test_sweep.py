"""Sweeps: grids, the sweep file, the process pool and Dask giving identical results,
checkpoints, and resuming after a killed worker."""

from __future__ import annotations

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
        with open(spec.log, "a") as fh:  # one short O_APPEND write per point: lines never interleave
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
    assert len(set(ids)) == 6 and point_id(TrainSpec(InitSpec(m=10, seed=1), DataSpec(seed=4))) == ids[4]


@pytest.mark.parametrize("grid, error, message", [
    ({}, ValueError, "grid must name at least one key"),
    ({"init.width": [1]}, ValueError, "grid key 'init.width' is not a field of TrainSpec; accepted: init.m"),
    ({"init.m": []}, ValueError, r"grid\['init.m'\] must be a non-empty list"),
    ({"init.m": 5}, ValueError, r"grid\['init.m'\] must be a non-empty list"),
    ({"init.m": [5, 5]}, ValueError, r"grid\['init.m'\] repeats a value"),
    ({"init.m": [5, 0]}, ValueError, "init.m must be >= 1, got 0"),
    ({"training.lr": [0.1, "fast"]}, TypeError, "training.lr must be a number; got 'fast'"),
])
def test_grid_refusals(grid, error, message):
    with pytest.raises(error, match=message):
        Sweep(TrainSpec(), grid)


def test_base_must_be_a_frozen_spec():
    with pytest.raises(TypeError, match="base must be a frozen dataclass spec"):
        Sweep({"m": 1}, {"m": [1]})


# --------------------------------------------------------------------------- the sweep file
def test_sweep_file_round_trip_and_both_grid_spellings(tmp_path):
    (tmp_path / "a.toml").write_text(
        '[base.init]\nm = 7\n[base.training]\nlr = 0.5\n[grid]\n"init.seed" = [0, 1]\n"training.lr" = [0.1, 0.2]\n')
    (tmp_path / "b.toml").write_text(
        '[base.init]\nm = 7\n[base.training]\nlr = 0.5\n[grid.init]\nseed = [0, 1]\n[grid.training]\nlr = [0.1, 0.2]\n')
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
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        dasked = run_sweep(sweep, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False,
                           point_fn=toy_point)
    xr.testing.assert_identical(_without_timing(pooled), _without_timing(dasked))
    # what is returned is what is on disk
    xr.testing.assert_identical(_storage.read_netcdf(tmp_path / "pool" / "sweep.nc"), pooled)
    assert sorted(p.name for p in (tmp_path / "pool" / "points").iterdir()) == sorted(
        f"{point_id(spec)}.nc" for _, spec in sweep.points())


def _train_sweep(tmp_path, pool: bool):
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    base = TrainSpec(InitSpec(m=6), DataSpec("square_wave", 5), OptimSpec(lr=0.02, steps=40, record_every=20))
    sweep = Sweep(base, {"init.m": [4, 6], "training.lr": [0.01, 0.03]})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
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
            traj = relu1d.train(relu1d.init_network(m), relu1d.datasets.square_wave(5), lr=lr, steps=40,
                                record_every=20, progress=False)
            point = swept.sel(m=m, lr=lr)
            np.testing.assert_array_equal(point["loss"].values, traj.loss)
            np.testing.assert_array_equal(point["a"].values[:m], traj.network.a)
            assert np.all(np.isnan(point["a"].values[m:]))
            np.testing.assert_allclose(point["f_final"].values, traj.network(point["x"].values), rtol=0,
                                       atol=0)
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
    again = run_sweep(sweep, out, workers=2, progress=False, point_fn=toy_point)  # complete: nothing to do
    assert not log.exists()
    xr.testing.assert_identical(again, merged)


def test_failing_points_are_reported_and_the_rest_saved(tmp_path):
    sweep = Sweep(ToySpec(), {"x": [1.0, 3.0], "seed": [0, 1]})
    with LocalClusterOrSkip() as scheduler:
        with pytest.raises(SweepIncomplete, match="2 point.s. raised") as info:
            run_sweep(sweep, tmp_path, scheduler=scheduler, progress=False, point_fn=failing_point)
    assert info.value.done == 2 and "ArithmeticError: toy point failure on purpose" in info.value.errors[0]
    assert len(list((tmp_path / "points").glob("*.nc"))) == 2


def test_a_checkpoint_of_another_spec_is_refused(tmp_path):
    sweep = Sweep(ToySpec(), {"x": [1.0, 3.0]})
    with LocalClusterOrSkip() as scheduler:
        run_sweep(sweep, tmp_path, scheduler=scheduler, progress=False, point_fn=toy_point)
    first, second = (tmp_path / "points" / f"{point_id(s)}.nc" for _, s in sweep.points())
    first.write_bytes(second.read_bytes())
    with pytest.raises(ValueError, match="holds another spec than its grid point"):
        run_sweep(sweep, tmp_path, progress=False, point_fn=toy_point)  # nothing missing: no workers


def test_no_point_function_for_an_unknown_base(tmp_path):
    with pytest.raises(TypeError, match="no point function for a ToySpec base"):
        run_sweep(Sweep(ToySpec(), {"x": [1.0]}), tmp_path, progress=False)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        run_sweep(Sweep(ToySpec(), {"x": [1.0]}), tmp_path, workers=0, progress=False, point_fn=toy_point)
    with pytest.raises(ValueError, match="workers sets the size of the local pool"):
        run_sweep(Sweep(ToySpec(), {"x": [1.0]}), tmp_path, workers=2, scheduler="tcp://127.0.0.1:1",
                  progress=False, point_fn=toy_point)


# --------------------------------------------------------------------------- experiment sweeps
@dataclass(frozen=True)
class MeanSpec:
    s: int = 50
    seed: int = 0


def run_mean(spec: MeanSpec) -> ExperimentResult:
    sample = np.random.default_rng(spec.seed).standard_normal(spec.s)
    mean = float(sample.mean())
    return ExperimentResult(data=xr.Dataset({"sample": ("i", sample)}),
                            claims=[Claim.close("the sample mean is near 0", "toy", mean, 0.0, 4 / np.sqrt(spec.s))])


def test_sweep_over_a_registered_experiment(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    register("toy.mean", "Sample mean.", quick=MeanSpec(), full=MeanSpec(s=5000))(run_mean)
    path = tmp_path / "exp.toml"
    path.write_text('experiment = "toy.mean"\npreset = "full"\n[base]\ns = 20\n[grid]\nseed = [0, 1, 2]\n')
    sweep = load_sweep(path)
    assert sweep.base == MeanSpec(s=20) and sweep.experiment == "toy.mean"
    with LocalClusterOrSkip() as scheduler:  # in-process workers see this test's registration
        ds = run_sweep(sweep, tmp_path / "out", scheduler=scheduler, progress=False)
    for seed in (0, 1, 2):
        expected = np.random.default_rng(seed).standard_normal(20)
        np.testing.assert_array_equal(ds["sample"].sel(seed=seed).values, expected)
        assert ds["claim_measured"].sel(seed=seed).item() == pytest.approx(expected.mean(), abs=1e-15)
    assert ds["claim_holds"].dims == ("seed", "claim")
    path.write_text('experiment = "toy.mean"\n[base]\nsize = 20\n[grid]\nseed = [0]\n')
    with pytest.raises(ValueError, match="unknown key 'size'"):
        load_sweep(path)


class LocalClusterOrSkip:
    """An in-process Dask cluster (skips the test when Dask is not installed)."""

    def __enter__(self):
        pytest.importorskip("dask.distributed")
        from dask.distributed import LocalCluster

        self.cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
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
        run_sweep(Sweep(ToySpec(), {"x": [1.0]}), tmp_path, scheduler="tcp://127.0.0.1:1", progress=False,
                  point_fn=toy_point)
