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
results are never reused. Only complete computations are stored: Ctrl-C stops the
sweep (:class:`SweepInterrupted`, "N of M done"), and the points that were running are
dropped, never saved truncated. A training run that diverges is a result: its point is
stored with ``status = "diverged"`` (NaN where a finished run has values; see
:func:`train_point`), and the merged ``status`` variable says which points those are.

Safety: one sweep at a time per output folder (a lock on ``OUT/.lock``; a second
process is refused with the holder's pid, :class:`SweepBusy`); temporary files of other
live processes are never deleted; the local pool's workers ignore Ctrl-C (the main
process handles it and stops them) and exit by themselves when the main process dies,
even by ``kill -9``.

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
    s = 12
    [grid]
    data_seed = [0, 1, 2]

Relative CSV paths (``data.name``), in ``[base]`` and in ``[grid]`` alike, are taken from
the sweep file's folder.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from . import _storage
from ._specs import (
    DataSpec,
    InitSpec,
    OptimSpec,
    TrainSpec,
    load_toml,
    spec_from_dict,
    spec_json,
    spec_keys,
    spec_replace,
    spec_to_dict,
    spec_to_toml,
)

__all__ = [
    "Sweep",
    "SweepIncomplete",
    "SweepInterrupted",
    "SweepBusy",
    "load_sweep",
    "run_sweep",
    "point_id",
    "train_point",
    "TrainSpec",
    "InitSpec",
    "DataSpec",
    "OptimSpec",
]

# how often the main process looks at the futures (and at a Ctrl-C), and the workers at
# whether the main process still runs
_POLL_S = 0.2
# seconds allowed to reach a Dask scheduler given by address
DASK_CONNECT_TIMEOUT_S = 10


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


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped the sweep. Every point finished before it is saved; the
    points that were running are dropped (never stored truncated). A subclass of
    KeyboardInterrupt, so it stops the caller as Ctrl-C does.

    Attributes
    ----------
    done, total : int
        Points saved on disk, points in the grid.
    """

    def __init__(self, message: str, done: int = 0, total: int = 0):
        super().__init__(message)
        self.done, self.total = done, total


class SweepBusy(RuntimeError):
    """Another process is running a sweep into the same output folder.

    Attributes
    ----------
    pid : int or None
        The process holding the folder's lock.
    """

    def __init__(self, message: str, pid: int | None = None):
        super().__init__(message)
        self.pid = pid


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

    Examples
    --------
    >>> from relu1d import sweep
    >>> base = sweep.TrainSpec(init=sweep.InitSpec(m=5), data=sweep.DataSpec(s=4),
    ...                        training=sweep.OptimSpec(steps=50, lr=0.01, record_every=10))
    >>> grid = sweep.Sweep(base, {"init.seed": [0, 1], "training.lr": [0.01, 0.02]})
    >>> grid.dims, grid.shape, len(grid.points())
    (('seed', 'lr'), (2, 2), 4)
    >>> print(grid.to_toml().split("[grid]")[1].strip())
    "init.seed" = [0, 1]
    "training.lr" = [0.01, 0.02]
    >>> sweep.Sweep(base, {"init.width": [5]})
    Traceback (most recent call last):
        ...
    ValueError: grid key 'init.width' is not a field of TrainSpec; accepted: ...
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
            if (
                isinstance(values, (str, bytes))
                or not isinstance(values, (list, tuple))
                or not values
            ):
                raise ValueError(
                    f"grid[{key!r}] must be a non-empty list of values, got {values!r}"
                )
            values = tuple(values)
            # every value must be valid on its own (errors name the key); compared as the
            # spec stores them, so that 1 and 1.0 for an integer, or 0.0 and -0.0, which
            # would give two grid points of one setting, are refused
            stored = [_field_value(spec_replace(self.base, {key: v}), key) for v in values]
            for j, value in enumerate(stored):
                for i in range(j):
                    if _same_value(stored[i], value):
                        raise ValueError(
                            f"grid[{key!r}] repeats a value: {values[i]!r} and {values[j]!r} "
                            f"are one setting ({value!r} in the spec); remove one"
                        )
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


def _field_value(spec, key: str):
    node = spec
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _same_value(a, b) -> bool:
    """Equal as settings: 0.0 and -0.0 are one value, "sqrt" and 2.0 are not, nor 1 and True."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _flatten(table: dict, prefix: str = "", out: dict | None = None, where: str = "[grid]") -> dict:
    """Dotted keys of a nested table; a key given twice (``"init.m"`` and ``[grid.init]
    m``) is refused."""
    out = {} if out is None else out
    for key, value in table.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out, where)
        else:
            if prefix + key in out:
                raise ValueError(
                    f"{where} gives the key {prefix + key!r} twice (as a dotted key and in a "
                    "table); give it once"
                )
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
    A relative CSV path in ``data.name``, in ``[base]`` or ``[grid]``, is taken from the
    sweep file's folder. A key given twice, or two values that are one setting (``1`` and
    ``1.0`` for an integer, ``0.0`` and ``-0.0``), are refused.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from relu1d import sweep
    >>> text = '''
    ... [base.init]
    ... m = 5
    ... [base.training]
    ... steps = 20
    ... [grid]
    ... "init.seed" = [0, 1, 2]
    ... '''
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "sweep.toml"
    ...     _ = path.write_text(text)
    ...     loaded = sweep.load_sweep(path)
    >>> loaded.base.init.m, loaded.dims, loaded.shape
    (5, ('seed',), (3,))
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
        base = spec_from_dict(
            exp.spec_type, _merge_tables(spec_to_dict(exp.preset(preset)), base_table)
        )
    grid = _flatten(table["grid"])
    if experiment is None and isinstance(grid.get("data.name"), list):
        # as in [base]: a relative CSV path is taken from the sweep file's folder
        grid["data.name"] = [_absolute_data_name(v, path.parent) for v in grid["data.name"]]
    return Sweep(base, tuple(grid.items()), experiment)


def _absolute_data_name(value, folder: Path):
    if isinstance(value, str):
        try:
            return DataSpec(name=value).absolute(folder).name
        except ValueError:
            return value  # refused with the key's name by Sweep
    return value


def point_id(spec) -> str:
    """The checkpoint name of a point: a hash of its full resolved spec.

    Examples
    --------
    >>> import dataclasses
    >>> from relu1d import sweep
    >>> spec = sweep.TrainSpec()
    >>> other = dataclasses.replace(spec, init=dataclasses.replace(spec.init, seed=1))
    >>> sweep.point_id(spec) == sweep.point_id(sweep.TrainSpec())
    True
    >>> sweep.point_id(spec) == sweep.point_id(other)
    False
    """
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
        ``data_x, data_y(sample)``, ``status`` ("ok" or "diverged") and
        ``diverged_at_step`` (NaN for "ok"). A run that diverges keeps its finite part:
        the loss up to its last record point before the divergence; ``final_loss``,
        ``f_final`` and ``a, b, c`` are NaN.

    Raises
    ------
    RuntimeError
        When the training was interrupted (a truncated run is never returned as a result).

    Examples
    --------
    >>> from relu1d import sweep
    >>> spec = sweep.TrainSpec(init=sweep.InitSpec(m=5), data=sweep.DataSpec(s=4),
    ...                        training=sweep.OptimSpec(steps=50, lr=0.01, record_every=10))
    >>> point = sweep.train_point(spec)
    >>> str(point.status.values), dict(point.sizes)["neuron"], dict(point.sizes)["step"]
    ('ok', 5, 6)
    >>> round(float(point.final_loss), 4)
    1.9652
    """
    import xarray as xr

    from .train import TrainingDiverged, train

    if not isinstance(spec, TrainSpec):
        raise TypeError(f"spec must be a TrainSpec, got {type(spec).__name__}")
    net0 = spec.init.network()
    data = spec.data.dataset()
    diverged = None
    try:
        traj = train(net0, data, progress=False, **spec.training.kwargs())
    except TrainingDiverged as exc:
        diverged, traj = exc, exc.trajectory
    if traj.interrupted:
        raise RuntimeError(f"the training was interrupted after step {int(traj.steps[-1])} of "
                           f"{spec.training.steps}; a truncated run is not a result")
    net = traj.network
    if spec.data.name.lower().endswith(".csv"):
        span = data.x[-1] - data.x[0]
        x_eval = np.linspace(data.x[0] - 0.25 * span, data.x[-1] + 0.25 * span, 251)
    else:
        x_eval = _X_EVAL
    loss = np.asarray(traj.loss, dtype=float)
    params = {name: getattr(net, name) for name in "abc"}
    f_final = net(x_eval)
    final_loss = float(loss[-1])
    if diverged is not None:
        params = {name: np.full(net.m, np.nan) for name in "abc"}
        f_final = np.full(x_eval.size, np.nan)
        final_loss = np.nan
    return xr.Dataset(
        {"loss": ("step", loss), "time": ("step", np.asarray(traj.times, dtype=float)),
         "final_loss": ((), final_loss),
         "f_final": ("x", f_final), "f_init": ("x", net0(x_eval)),
         "a": ("neuron", params["a"]), "b": ("neuron", params["b"]), "c": ("neuron", params["c"]),
         "data_x": ("sample", data.x), "data_y": ("sample", data.y),
         "status": ((), "ok" if diverged is None else "diverged"),
         "diverged_at_step": ((), np.nan if diverged is None else float(diverged.step))},
        coords={"step": np.asarray(traj.steps, dtype=np.int64), "x": x_eval,
                "neuron": np.arange(net.m), "sample": np.arange(data.s)})


def _experiment_point(name: str, spec):
    """Run a registered experiment at ``spec``: its data plus its claims as variables
    ``claim_verdict(claim)``, ``claim_holds(claim)`` and ``claim_measured(claim)``, the
    ``claim`` coordinate holding the claims' stable ids."""
    import xarray as xr

    from .experiments import get

    result = get(name).run(spec)
    ds = result.data.copy() if result.data is not None else xr.Dataset()
    if result.claims:
        ds = ds.assign(
            claim_verdict=("claim", np.array([c.verdict for c in result.claims], dtype=str)),
            claim_holds=("claim", np.array([c.holds for c in result.claims], dtype=bool)),
            claim_measured=("claim", np.array([c.measured for c in result.claims], dtype=float)),
        ).assign_coords(claim=[c.id for c in result.claims])
    return ds


def _run_point(fn: Callable, spec):
    """Runs in the worker: the point's Dataset and its wall time.

    Every training inside runs under ``interrupt_policy("raise")``, so an interrupted
    training raises instead of returning a truncated run. A :class:`TrainingDiverged`
    from a point function is a result: a Dataset with ``status = "diverged"``."""
    import contextlib

    import xarray as xr

    from .train import TrainingDiverged

    policy: contextlib.AbstractContextManager
    try:
        from .train import interrupt_policy
        policy = interrupt_policy("raise")
    except ImportError:  # pragma: no cover - older train module
        policy = contextlib.nullcontext()
    t0 = time.perf_counter()
    try:
        with policy:
            ds = fn(spec)
    except TrainingDiverged as exc:
        ds = xr.Dataset({"status": ((), "diverged"), "diverged_at_step": ((), float(exc.step))})
    return ds, time.perf_counter() - t0


# --------------------------------------------------------------------------- workers
def _worker_init(main_pid: int) -> None:
    """Initializer of the local pool's workers: leave Ctrl-C to the main process (a
    terminal sends SIGINT to the whole process group; the main process stops the pool),
    and exit when the main process is gone, even killed by SIGKILL (a daemon thread
    polls it; the worker's parent is the forkserver, so its pid alone does not tell)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    identity = _storage.process_identity(main_pid)
    started = identity[1] if identity is not None else None

    def watch() -> None:
        while True:
            time.sleep(_POLL_S)
            if os.getppid() != parent or not _storage.pid_alive(main_pid, started):
                os._exit(70)

    threading.Thread(target=watch, name="relu1d-sweep-watchdog", daemon=True).start()


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
    """The common face of a process pool and a Dask client: submit, wait, stop."""

    def __init__(self, scheduler, workers: int | None, n_tasks: int):
        self.client = None
        self.pool = None
        self.own_client = False
        self.submitted: list = []
        if scheduler is None:
            n = workers if workers is not None else (os.cpu_count() or 1)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
            self.pool = ProcessPoolExecutor(
                max_workers=max(1, min(n, n_tasks)),
                mp_context=_mp_context(),
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
        else:
            if workers is not None:
                raise ValueError(
                    "workers sets the size of the local pool; with a Dask scheduler the "
                    "cluster decides (leave workers out)"
                )
            try:
                from dask.distributed import Client
            except ImportError:
                raise ImportError("running a sweep on a Dask cluster (--scheduler) needs Dask: "
                                  "pip install 'relu1d[dask]' (or dask[distributed])") from None
            if isinstance(scheduler, Client):
                self.client = scheduler
            else:
                try:
                    self.client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
                except (OSError, TimeoutError) as exc:
                    raise ValueError(
                        f"cannot reach the Dask scheduler at {scheduler!r} within "
                        f"{DASK_CONNECT_TIMEOUT_S} s ({type(exc).__name__}); is it running, "
                        "and is the address right?"
                    ) from None
                self.own_client = True

    def submit(self, fn, spec):
        if self.pool is not None:
            return self.pool.submit(_run_point, fn, spec)
        future = self.client.submit(_run_point, fn, spec, pure=False)
        self.submitted.append(future)
        return future

    def wait(self, pending: set, timeout: float) -> set:
        """The futures of ``pending`` that are done, waiting at most ``timeout`` s."""
        if self.pool is not None:
            done, _ = futures_wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            return set(done)
        done = {f for f in pending if f.done()}
        if not done:
            time.sleep(timeout)
        return done

    def close(self, cancel: bool) -> None:
        if self.pool is not None:
            if cancel:
                # stop now: the points that are running are dropped, not waited for
                processes = list((getattr(self.pool, "_processes", None) or {}).values())
                self.pool.shutdown(wait=False, cancel_futures=True)
                for proc in processes:
                    if proc.is_alive():
                        proc.terminate()
                for proc in processes:
                    proc.join(timeout=5)
                self.pool.shutdown(wait=True)  # lets the pool release its queues
            else:
                self.pool.shutdown(wait=True)
        else:
            assert self.client is not None  # neither a pool nor a client: not started
            if cancel and self.submitted:
                self.client.cancel(self.submitted)  # the cluster stops the points left
            if self.own_client:
                self.client.close()


class _OutputLock:
    """An exclusive lock on ``OUT/.lock`` (fcntl.flock), holding the owner's pid; released
    when closed or when the process ends, however it ends."""

    def __init__(self, out: Path):
        self.path = out / ".lock"
        self.fd = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = int(os.read(fd, 32).decode().strip() or 0) or None
            except (OSError, ValueError):
                holder = None
            os.close(fd)
            raise SweepBusy(
                f"{str(out)!r} is in use by another relu1d sweep"
                f"{f' (pid {holder})' if holder else ''}; wait for it to finish, stop it, "
                "or use another --out",
                holder,
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock; the file stays (removing it would race)
            self.fd = None


class _InterruptFlag:
    """SIGINT handler for the main thread while points run: it only records the
    interrupt, which the polling loop acts on within ``_POLL_S`` seconds. (Raising
    KeyboardInterrupt from the handler could land inside a weakref callback or a
    ``__del__``, where Python prints it as "Exception ignored" and swallows it.)"""

    def __init__(self):
        self.set = False
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                self.set = True

            signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def run_sweep(
    sweep: Sweep,
    out,
    *,
    scheduler=None,
    workers: int | None = None,
    progress: bool = True,
    point_fn: Callable | None = None,
):
    """Compute the missing points of ``sweep``, checkpoint each, and merge them all.

    Parameters
    ----------
    sweep : Sweep
    out : path
        Directory of the sweep: ``points/<id>.nc`` (one per finished point),
        ``sweep.nc`` (the merged result), ``sweep.toml`` (the resolved sweep file),
        ``.lock``.
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
        the grid values; a grid key whose values are not all numbers, or not all
        strings, gets strings), ``wall_time_s`` and ``status`` ("ok" or "diverged") per
        point, and attrs ``sweep_toml``, ``grid_keys_json`` (dimension -> spec key),
        ``relu1d_version``. Points whose variables differ in length along a dimension
        (e.g. ``neuron`` for different m), or that lack a variable (a diverged point),
        are padded with NaN.

    Raises
    ------
    SweepIncomplete
        When a worker died or points raised; everything finished is saved.
    SweepInterrupted
        On Ctrl-C (a KeyboardInterrupt): the pool is stopped at once, the points that
        were running are dropped, everything finished is saved.
    SweepBusy
        When another process is running a sweep into ``out``.
    ValueError
        For a damaged checkpoint (naming the file) or an unreachable Dask scheduler.

    Notes
    -----
    The local pool starts fresh worker processes that import the point function by
    name, so a script calling ``run_sweep`` needs the usual ``if __name__ ==
    "__main__":`` guard, and ``point_fn`` must live in an importable module. Dask workers
    need relu1d installed. Progress is one bar over the points; the points' own
    training runs show none (parallel bars would interleave).

    Examples
    --------
    A script (the local pool's workers import the point function, so keep the guard):

    >>> import tempfile
    >>> from relu1d import sweep
    >>> base = sweep.TrainSpec(init=sweep.InitSpec(m=5), data=sweep.DataSpec(s=4),
    ...                        training=sweep.OptimSpec(steps=50, lr=0.01, record_every=10))
    >>> grid = sweep.Sweep(base, {"init.seed": [0, 1], "training.lr": [0.01, 0.02]})
    >>> with tempfile.TemporaryDirectory() as out:                       # doctest: +SKIP
    ...     result = sweep.run_sweep(grid, out, workers=2, progress=False)
    >>> result.final_loss.dims                                           # doctest: +SKIP
    ('seed', 'lr')
    """
    from tqdm.auto import tqdm

    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep (see load_sweep), got {type(sweep).__name__}")
    fn = _point_function(sweep, point_fn)
    out = Path(out)
    points_dir = out / "points"
    try:  # before computing anything: an impossible or read-only OUT is one clear error
        points_dir.mkdir(parents=True, exist_ok=True)
        lock = _OutputLock(out)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(
            f"cannot use {str(out)!r} as the sweep's output folder: it or a folder above it is "
            "a file"
        ) from None
    except PermissionError:
        raise ValueError(
            f"cannot write in {str(out)!r}: permission denied; choose another --out"
        ) from None
    except OSError as exc:
        raise ValueError(f"cannot write in {str(out)!r}: {exc.strerror or exc}") from None
    try:
        return _run_locked(sweep, out, points_dir, fn, scheduler, workers, progress, tqdm)
    finally:
        lock.close()


def _run_locked(sweep, out, points_dir, fn, scheduler, workers, progress, tqdm):
    _storage.remove_stale_temporaries(points_dir)
    _storage.write_text(out / "sweep.toml", sweep.to_toml())

    points = sweep.points()
    paths = {index: points_dir / f"{point_id(spec)}.nc" for index, spec in points}
    if fn is train_point:
        _set_aside_truncated(points, paths)
    missing = [(index, spec) for index, spec in points if not paths[index].is_file()]
    bar = tqdm(total=len(points), initial=len(points) - len(missing), desc="sweep", unit="point",
               file=sys.stderr, disable=not progress)
    errors: list[str] = []
    broken = False
    interrupted = False
    if missing:
        with _InterruptFlag() as flag:
            executor = None
            cancel = True
            try:
                executor = _Executor(scheduler, workers, len(missing))
                futures = {executor.submit(fn, spec): (index, spec) for index, spec in missing}
                pending = set(futures)
                while pending and not flag.set:
                    for future in executor.wait(pending, _POLL_S):
                        pending.discard(future)
                        index, spec = futures[future]
                        try:
                            ds, wall = future.result()
                        except BrokenProcessPool:
                            broken = (
                                True  # a worker died: every unfinished point of this run fails so
                            )
                            continue
                        except Exception as exc:
                            errors.append(f"point {_describe(sweep, index)}: "
                                          + "".join(traceback.format_exception(exc)))
                            continue
                        ds = ds.copy(deep=False)
                        if "status" not in ds.variables:
                            ds["status"] = ((), "ok")
                        ds.attrs = {
                            **ds.attrs,
                            "spec_json": spec_json(spec),
                            "point_id": point_id(spec),
                            "wall_time_s": float(wall),
                        }
                        _storage.write_netcdf(ds, paths[index])
                        bar.update(1)
                cancel = flag.set
            except KeyboardInterrupt:
                flag.set = True
            finally:
                if executor is not None:
                    executor.close(cancel=cancel)
            interrupted = flag.set
    bar.close()
    done = sum(p.is_file() for p in paths.values())
    if interrupted:
        raise SweepInterrupted(
            f"sweep interrupted: {done} of {len(points)} points done (saved in {points_dir}); "
            "rerun the same sweep to resume",
            done,
            len(points),
        )
    if broken or errors:
        why = "a worker process died" if broken else f"{len(errors)} point(s) raised"
        detail = ("\n\nfirst error:\n" + errors[0]) if errors else ""
        raise SweepIncomplete(
            f"sweep incomplete: {why}; {done} of {len(points)} points are saved in "
            f"{points_dir}; run the same sweep again to compute the other "
            f"{len(points) - done}{detail}",
            done,
            len(points),
            errors,
        )
    merged = _merge(sweep, points, paths)
    _storage.write_netcdf(merged, out / "sweep.nc")
    return merged


def _set_aside_truncated(points, paths) -> None:
    """Training checkpoints written by versions that stored interrupted runs as finished
    points (they have no ``status``): one whose last step falls short of its spec's
    steps is renamed to ``<id>.nc.truncated`` (kept, not deleted), so that the point is
    computed again."""
    for index, spec in points:
        path = paths[index]
        if not path.is_file():
            continue
        ds = _read_checkpoint(path)
        if "status" in ds.variables or "step" not in ds.coords or not isinstance(spec, TrainSpec):
            continue
        if int(ds["step"].values[-1]) != spec.training.steps:
            os.replace(path, path.with_name(path.name + ".truncated"))


def _describe(sweep: Sweep, index) -> dict:
    return dict(zip(sweep.keys, (v[i] for (_, v), i in zip(sweep.grid, index))))


def _read_checkpoint(path: Path):
    try:
        return _storage.read_netcdf(path)
    except Exception as exc:  # h5py/h5netcdf raise OSError, RuntimeError, KeyError, ...
        why = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(
            f"checkpoint {str(path)!r} is damaged ({why}); remove it and run the sweep again "
            "to recompute that point"
        ) from None


def _merge(sweep: Sweep, points, paths):
    """One Dataset from the checkpoints on disk, grid axes as dimensions."""
    import xarray as xr

    loaded = {}
    for index, spec in points:
        ds = _read_checkpoint(paths[index])
        if ds.attrs.get("spec_json") != spec_json(spec):
            raise ValueError(f"checkpoint {paths[index]} holds another spec than its grid point; "
                             "remove it and run the sweep again")
        loaded[index] = ds
    first = next(iter(loaded.values()))
    dims = [f"grid_{d}" if (d in first.variables or d in first.dims) else d for d in sweep.dims]
    coord_values = [_coord_values(values) for _, values in sweep.grid]
    nested = np.empty(sweep.shape, dtype=object)
    for index, _ in points:
        ds = loaded[index]
        wall = float(ds.attrs.get("wall_time_s", np.nan))
        ds = ds.assign(wall_time_s=((), wall))
        if "status" not in ds.variables:  # checkpoints written before points had a status
            ds = ds.assign(status=((), "ok"))
        ds.attrs = {}
        coords = {dim: [values[i]] for dim, values, i in zip(dims, coord_values, index)}
        nested[index] = ds.expand_dims(coords)
    # a diverged point may lack coordinates the others have (it has no data along them)
    same_coords = len({frozenset(ds.coords) for ds in loaded.values()}) == 1
    merged = xr.combine_nested(nested.tolist(), concat_dim=dims, join="outer", combine_attrs="drop",
                               data_vars="all", coords="different" if same_coords else "minimal",
                               compat="no_conflicts")
    merged = merged.transpose(*dims, ...)
    if "status" in merged.variables:
        merged["status"] = merged["status"].astype(str)
    merged.attrs = {"sweep_toml": sweep.to_toml(), "experiment": sweep.experiment or "",
                    "grid_keys_json": json.dumps(dict(zip(dims, sweep.keys))),
                    "n_points": len(points), **_storage.environment()}
    return merged


def _coord_values(values) -> list:
    """A grid key's values as one coordinate: numbers (float if any is), booleans or
    strings as they are; mixed kinds ("sqrt" and 2.0) or lists as strings (JSON for
    non-strings), so that every grid merges."""
    if all(isinstance(v, bool) for v in values):
        return list(values)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return (
            [float(v) for v in values]
            if any(isinstance(v, float) for v in values)
            else list(values)
        )
    if all(isinstance(v, str) for v in values):
        return list(values)
    return [v if isinstance(v, str) else json.dumps(_storage.to_jsonable(v)) for v in values]
