"""Sweeps: a grid of configurations on a local process pool or a Dask cluster.

A :class:`Sweep` is a base spec (a :class:`TrainSpec`, or the spec of a registered
experiment) and a grid: for each dotted key of the spec ("init.m", "training.lr", ...)
a list of values. Every combination is one *grid point*: the base spec with those
values. :func:`run_sweep` computes the points and merges them into one
``xarray.Dataset`` whose grid axes are dimensions (``m × lr × seed × ...``).

Checkpoints and resume: each point is written to ``OUT/points/<id>.nc`` as soon as it
finishes (atomically: temporary name, then rename), where ``<id>`` is a hash of the
point's full resolved spec. Running the same sweep again loads the points on disk and
computes only the missing ones, so a sweep stopped by Ctrl-C, a crashed worker or a
lost machine resumes where it stopped; changing any setting changes the ids, so stale
results are never reused.

Where the points run:

* by default a local ``concurrent.futures.ProcessPoolExecutor`` with one process per
  core, started by "forkserver" ("spawn" where there is none): no threads, locks or
  other state inherited from the calling process, so it is safe beside numba and Dask;
* with ``scheduler="tcp://host:8786"`` (or a ``dask.distributed.Client`` or cluster
  object) on a Dask distributed cluster. Dask is an optional extra
  (``pip install 'relu1d[dask]'``), imported only then. The workers return results to
  this process, which writes the checkpoints, so the workers need no shared disk.

The sweep file (``relu1d sweep sweep.toml``)::

    # a grid over one training run (a TrainSpec)
    [base.init]
    m = 50
    [base.training]
    method = "gd"
    lr = 0.01
    steps = 2000
    [grid]
    "init.delta" = [-1.0, 0.0, 1.0]
    "init.m" = [20, 80]
    "init.seed" = [0, 1]
    "training.lr" = [0.01, 0.05]

or, over a registered experiment's spec::

    experiment = "williams2019.fig3"
    preset = "quick"            # the base is this preset, with [base] overriding fields
    [base]
    steps = 500
    [grid]
    seed = [0, 1, 2]
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _storage
from ._specs import (DataSpec, InitSpec, OptimSpec, TrainSpec, load_toml, spec_from_dict, spec_json,
                     spec_keys, spec_replace, spec_to_dict, spec_to_toml)

__all__ = ["Sweep", "SweepIncomplete", "load_sweep", "run_sweep", "point_id", "train_point",
           "TrainSpec", "InitSpec", "DataSpec", "OptimSpec"]


class SweepIncomplete(RuntimeError):
    """Some grid points did not finish (a worker died or a point raised). The finished
    ones are saved; run the sweep again to compute the rest.

    Attributes
    ----------
    done, total : int
        Points saved on disk, points in the grid.
    errors : list of str
        Tracebacks of points that raised (empty when a worker process died).
    """

    def __init__(self, message: str, done: int, total: int, errors: list[str]):
        super().__init__(message)
        self.done, self.total, self.errors = done, total, errors


@dataclass(frozen=True)
class Sweep:
    """A grid over a base spec.

    Parameters
    ----------
    base : frozen dataclass
        The spec every point starts from (a :class:`TrainSpec` or an experiment's spec).
    grid : dict or sequence of (key, values)
        Dotted spec keys and the values each takes (non-empty, no repeats). The order of
        the keys is the order of the result's dimensions.
    experiment : str, optional
        The registered experiment the points run (its spec type must be ``base``'s).
    """

    base: Any
    grid: tuple
    experiment: str | None = None

    def __post_init__(self):
        if not dataclasses.is_dataclass(self.base) or isinstance(self.base, type) \
                or not type(self.base).__dataclass_params__.frozen:
            raise TypeError(f"base must be a frozen dataclass spec, got {type(self.base).__name__}")
        items = tuple(self.grid.items()) if isinstance(self.grid, dict) else tuple(self.grid)
        if not items:
            raise ValueError("grid must name at least one key, e.g. {'init.m': [10, 100]}")
        known = spec_keys(self.base)
        normalised = []
        for entry in items:
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise TypeError(f"grid entries must be (key, values) pairs, got {entry!r}")
            key, values = entry
            if key not in known:
                raise ValueError(f"grid key {key!r} is not a field of {type(self.base).__name__}; "
                                 f"accepted: {', '.join(known)}")
            if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}")
            values = tuple(values)
            if len({json.dumps(_storage.to_jsonable(v)) for v in values}) != len(values):
                raise ValueError(f"grid[{key!r}] repeats a value: {list(values)!r}")
            for v in values:  # every value must be valid on its own: errors name the key
                spec_replace(self.base, {key: v})
            normalised.append((key, values))
        keys = [k for k, _ in normalised]
        if len(set(keys)) != len(keys):
            raise ValueError(f"grid names a key twice: {keys}")
        object.__setattr__(self, "grid", tuple(normalised))
        if self.experiment is not None:
            from .experiments import get

            exp = get(self.experiment)
            if not isinstance(self.base, exp.spec_type):
                raise TypeError(f"base must be a {exp.spec_type.__name__} for experiment "
                                f"{self.experiment!r}, got {type(self.base).__name__}")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.grid)

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names of the merged result: a key's last part ("init.m" -> "m")
        unless two keys share it, then the key with '_' for '.' ("init_seed")."""
        last = [k.rsplit(".", 1)[-1] for k in self.keys]
        return tuple(short if last.count(short) == 1 else k.replace(".", "_")
                     for k, short in zip(self.keys, last))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for _, v in self.grid)

    def points(self) -> list[tuple[tuple[int, ...], Any]]:
        """(grid index, point spec) for every combination, in C order."""
        out = []
        for index in itertools.product(*(range(n) for n in self.shape)):
            changes = {k: v[i] for (k, v), i in zip(self.grid, index)}
            out.append((index, spec_replace(self.base, changes)))
        return out

    def to_toml(self) -> str:
        """The sweep file that reproduces this sweep (the base written out in full)."""
        table: dict = {}
        if self.experiment is not None:
            table["experiment"] = self.experiment
        table["base"] = spec_to_dict(self.base)
        table["grid"] = {k: list(v) for k, v in self.grid}
        return spec_to_toml(table, header="relu1d sweep: resolved sweep file")


def _flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _merge_tables(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_sweep(path) -> Sweep:
    """Read a sweep file (format in the module docstring).

    Top-level keys: ``experiment`` (optional), ``preset`` ("quick" or "full", with
    ``experiment`` only), tables ``[base]`` and ``[grid]``. A grid key is a dotted spec
    key, quoted (``"init.m" = [...]``) or as a nested table (``[grid.init] m = [...]``).
    A relative CSV path in ``data.name`` is taken from the sweep file's folder.
    """
    path = Path(path)
    table = load_toml(path)
    allowed = ("experiment", "preset", "base", "grid")
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} at the top level of {str(path)!r}; "
                         f"accepted: {', '.join(allowed)}")
    base_table = table.get("base", {})
    if not isinstance(base_table, dict):
        raise TypeError(f"base must be a table, got {base_table!r}")
    if "grid" not in table or not isinstance(table["grid"], dict):
        raise ValueError(f"{str(path)!r} needs a [grid] table of keys and value lists, "
                         "e.g. [grid] \"init.m\" = [10, 100]")
    experiment = table.get("experiment")
    if experiment is None:
        if "preset" in table:
            raise ValueError("preset applies only with experiment = \"NAME\"")
        base = spec_from_dict(TrainSpec, base_table)
        base = dataclasses.replace(base, data=base.data.absolute(path.parent))
    else:
        from .experiments import get

        if not isinstance(experiment, str):
            raise TypeError(f"experiment must be a registered name (string), got {experiment!r}")
        exp = get(experiment)
        preset = table.get("preset", "quick")
        if preset not in ("quick", "full"):
            raise ValueError(f"preset must be 'quick' or 'full', got {preset!r}")
        base = spec_from_dict(exp.spec_type, _merge_tables(spec_to_dict(exp.preset(preset)), base_table))
    return Sweep(base, tuple(_flatten(table["grid"]).items()), experiment)


def point_id(spec) -> str:
    """The checkpoint name of a point: a hash of its full resolved spec."""
    return hashlib.sha256(spec_json(spec).encode()).hexdigest()[:20]


# --------------------------------------------------------------------------- point functions
_X_EVAL = np.linspace(-1.25, 1.25, 251)


def train_point(spec: TrainSpec):
    """One training run summarised for a sweep: the recorded loss curve, the final
    loss, the trained function on a fixed grid of x, and the final parameters.

    Returns
    -------
    xarray.Dataset
        ``loss(step)``, ``final_loss``, ``f_final(x)``, ``f_init(x)``, ``a, b, c(neuron)``,
        ``data_x, data_y(sample)``.
    """
    import xarray as xr

    from .train import train

    if not isinstance(spec, TrainSpec):
        raise TypeError(f"spec must be a TrainSpec, got {type(spec).__name__}")
    net0 = spec.init.network()
    data = spec.data.dataset()
    traj = train(net0, data, progress=False, **spec.training.kwargs())
    net = traj.network
    if spec.data.name.lower().endswith(".csv"):
        span = data.x[-1] - data.x[0]
        x_eval = np.linspace(data.x[0] - 0.25 * span, data.x[-1] + 0.25 * span, 251)
    else:
        x_eval = _X_EVAL
    loss = np.asarray(traj.loss, dtype=float)
    return xr.Dataset(
        {"loss": ("step", loss), "time": ("step", np.asarray(traj.times, dtype=float)),
         "final_loss": ((), float(loss[-1])),
         "f_final": ("x", net(x_eval)), "f_init": ("x", net0(x_eval)),
         "a": ("neuron", net.a), "b": ("neuron", net.b), "c": ("neuron", net.c),
         "data_x": ("sample", data.x), "data_y": ("sample", data.y)},
        coords={"step": np.asarray(traj.steps, dtype=np.int64), "x": x_eval,
                "neuron": np.arange(net.m), "sample": np.arange(data.s)})


def _experiment_point(name: str, spec):
    """Run a registered experiment at ``spec``: its data plus its claims as variables
    ``claim_holds(claim)`` and ``claim_measured(claim)``."""
    from .experiments import get

    import xarray as xr

    result = get(name).run(spec)
    ds = result.data.copy() if result.data is not None else xr.Dataset()
    if result.claims:
        ds = ds.assign(
            claim_holds=("claim", np.array([c.holds for c in result.claims], dtype=bool)),
            claim_measured=("claim", np.array([c.measured for c in result.claims], dtype=float)),
        ).assign_coords(claim=[c.statement for c in result.claims])
    return ds


def _run_point(fn: Callable, spec):
    """Runs in the worker: the point's Dataset and its wall time."""
    t0 = time.perf_counter()
    ds = fn(spec)
    return ds, time.perf_counter() - t0


# --------------------------------------------------------------------------- running
def _point_function(sweep: Sweep, point_fn):
    if point_fn is not None:
        return point_fn
    if sweep.experiment is not None:
        return functools.partial(_experiment_point, sweep.experiment)
    if isinstance(sweep.base, TrainSpec):
        return train_point
    raise TypeError(f"no point function for a {type(sweep.base).__name__} base: give point_fn, "
                    "or use a TrainSpec base or an experiment")


def _mp_context():
    """A start method that inherits nothing from this process (its threads, locks, open
    files): "forkserver" where there is one, with the heavy imports done once in the
    server so that each worker starts in milliseconds; "spawn" elsewhere (Windows)."""
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = get_context("forkserver")
        context.set_forkserver_preload(["numpy", "xarray", "relu1d.sweep", "relu1d.train"])
        return context
    return get_context("spawn")


class _Executor:
    """The common face of a process pool and a Dask client: submit, as_completed, close."""

    def __init__(self, scheduler, workers: int | None, n_tasks: int):
        self.client = None
        self.pool = None
        self.own_client = False
        if scheduler is None:
            n = workers if workers is not None else (os.cpu_count() or 1)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
            self.pool = ProcessPoolExecutor(max_workers=max(1, min(n, n_tasks)), mp_context=_mp_context())
        else:
            if workers is not None:
                raise ValueError("workers sets the size of the local pool; with a Dask scheduler the "
                                 "cluster decides (leave workers out)")
            try:
                from dask.distributed import Client
            except ImportError:
                raise ImportError("running a sweep on a Dask cluster (--scheduler) needs Dask: "
                                  "pip install 'relu1d[dask]' (or dask[distributed])") from None
            if isinstance(scheduler, Client):
                self.client = scheduler
            else:
                self.client = Client(scheduler)
                self.own_client = True

    def submit(self, fn, spec):
        if self.pool is not None:
            return self.pool.submit(_run_point, fn, spec)
        return self.client.submit(_run_point, fn, spec, pure=False)

    def as_completed(self, futures):
        if self.pool is not None:
            return as_completed(futures)
        from dask.distributed import as_completed as dask_as_completed

        return dask_as_completed(futures)

    def close(self, cancel: bool) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=not cancel, cancel_futures=cancel)
        elif self.own_client:
            self.client.close()


def run_sweep(sweep: Sweep, out, *, scheduler=None, workers: int | None = None, progress: bool = True,
              point_fn: Callable | None = None):
    """Compute the missing points of ``sweep``, checkpoint each, and merge them all.

    Parameters
    ----------
    sweep : Sweep
    out : path
        Directory of the sweep: ``points/<id>.nc`` (one per finished point),
        ``sweep.nc`` (the merged result), ``sweep.toml`` (the resolved sweep file).
    scheduler : str, dask.distributed.Client or cluster, optional
        A Dask scheduler address (``"tcp://host:8786"``); None runs a local process pool.
    workers : int, optional
        Processes of the local pool; one per core by default.
    progress : bool
        A progress bar over the grid points on stderr.
    point_fn : callable, optional
        ``fn(spec) -> xarray.Dataset`` computing one point; picklable (a module-level
        function). Defaults: :func:`train_point` for a TrainSpec base, the experiment's
        run (data and claims) for an experiment sweep.

    Returns
    -------
    xarray.Dataset
        Every point's variables with the grid axes as leading dimensions (coordinates:
        the grid values), ``wall_time_s`` per point, and attrs ``sweep_toml``,
        ``grid_keys_json`` (dimension -> spec key), ``relu1d_version``. Points whose
        variables differ in length along a dimension (e.g. ``neuron`` for different m)
        are padded with NaN.

    Raises
    ------
    SweepIncomplete
        When a worker died or points raised; everything finished is saved.

    Notes
    -----
    The local pool starts fresh worker processes that import the point function by
    name, so a script calling ``run_sweep`` needs the usual ``if __name__ ==
    "__main__":`` guard, and ``point_fn`` must live in an importable module. Dask workers
    need relu1d installed. Progress is one bar over the points; the points' own
    training runs show none (parallel bars would interleave).
    """
    from tqdm.auto import tqdm

    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep (see load_sweep), got {type(sweep).__name__}")
    fn = _point_function(sweep, point_fn)
    out = Path(out)
    points_dir = out / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    _storage.remove_stale_temporaries(points_dir)
    _storage.write_text(out / "sweep.toml", sweep.to_toml())

    points = sweep.points()
    paths = {index: points_dir / f"{point_id(spec)}.nc" for index, spec in points}
    missing = [(index, spec) for index, spec in points if not paths[index].is_file()]
    bar = tqdm(total=len(points), initial=len(points) - len(missing), desc="sweep", unit="point",
               file=sys.stderr, disable=not progress)
    errors: list[str] = []
    broken = False
    if missing:
        executor = _Executor(scheduler, workers, len(missing))
        cancel = True
        try:
            futures = {executor.submit(fn, spec): (index, spec) for index, spec in missing}
            for future in executor.as_completed(list(futures)):
                index, spec = futures[future]
                try:
                    ds, wall = future.result()
                except BrokenProcessPool:
                    broken = True  # a worker died: every unfinished point of this run fails so
                    continue
                except Exception as exc:
                    errors.append(f"point {dict(zip(sweep.keys, (v[i] for (_, v), i in zip(sweep.grid, index))))}: "
                                  + "".join(traceback.format_exception(exc)))
                    continue
                ds = ds.copy(deep=False)
                ds.attrs = {**ds.attrs, "spec_json": spec_json(spec), "point_id": point_id(spec),
                            "wall_time_s": float(wall)}
                _storage.write_netcdf(ds, paths[index])
                bar.update(1)
            cancel = False
        finally:
            executor.close(cancel=cancel)
    bar.close()
    done = sum(p.is_file() for p in paths.values())
    if broken or errors:
        why = "a worker process died" if broken else f"{len(errors)} point(s) raised"
        detail = ("\n\nfirst error:\n" + errors[0]) if errors else ""
        raise SweepIncomplete(f"sweep incomplete: {why}; {done} of {len(points)} points are saved in "
                              f"{points_dir}; run the same sweep again to compute the other "
                              f"{len(points) - done}{detail}", done, len(points), errors)
    merged = _merge(sweep, points, paths)
    _storage.write_netcdf(merged, out / "sweep.nc")
    return merged


def _merge(sweep: Sweep, points, paths):
    """One Dataset from the checkpoints on disk, grid axes as dimensions."""
    import xarray as xr

    loaded = {}
    for index, spec in points:
        ds = _storage.read_netcdf(paths[index])
        if ds.attrs.get("spec_json") != spec_json(spec):
            raise ValueError(f"checkpoint {paths[index]} holds another spec than its grid point; "
                             "remove it and run the sweep again")
        loaded[index] = ds
    first = next(iter(loaded.values()))
    dims = [f"grid_{d}" if (d in first.variables or d in first.dims) else d for d in sweep.dims]
    nested = np.empty(sweep.shape, dtype=object)
    for index, _ in points:
        ds = loaded[index]
        wall = float(ds.attrs.get("wall_time_s", np.nan))
        ds = ds.assign(wall_time_s=((), wall))
        ds.attrs = {}
        coords = {dim: [_coord_value(values[i])] for dim, (_, values), i in zip(dims, sweep.grid, index)}
        nested[index] = ds.expand_dims(coords)
    merged = xr.combine_nested(nested.tolist(), concat_dim=dims, join="outer", combine_attrs="drop",
                               data_vars="all", coords="different", compat="no_conflicts")
    merged = merged.transpose(*dims, ...)
    merged.attrs = {"sweep_toml": sweep.to_toml(), "experiment": sweep.experiment or "",
                    "grid_keys_json": json.dumps(dict(zip(dims, sweep.keys))),
                    "n_points": len(points), **_storage.environment()}
    return merged


def _coord_value(value):
    return float(value) if isinstance(value, float) else value
