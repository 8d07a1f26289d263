"""The training front end: ``train``, ``train_many``, ``Trajectory`` and the faults.

The minibatches are drawn here, in numpy, before the updates run, so that the numpy
reference (``backend="numpy"``) and the compiled kernels (``backend="numba"``) consume the
same ones. The Gaussian noise of "langevin" comes from a counter-based generator that
both backends evaluate (numpy here, compiled inside the kernels), bit for bit the same.

Langevin noise
--------------
``as_rng(seed).spawn(2)`` gives two independent streams; the second yields one 64-bit
key K = ``integers(2**64, dtype=uint64)``. The noise of step t = 0, 1, ... (the update
from step t to t + 1) for trained name k of the p trained names, in the order "abc" (or
"r", "θ"), is noise row R = t·p + k: m Gaussians, one per neuron, made from the
Box–Muller pairs R·P + j, j < P = ⌈m/2⌉. A row is cut into chunks of 256 neurons; chunk
c (neurons 256c ≤ i < min(256c + 256, m): n_c of them, q_c = ⌈n_c/2⌉ pairs 128c + j,
j < q_c) gives neuron 256c + j the first member of pair R·P + 128c + j when j < q_c and
the second member of pair R·P + 128c + j − q_c otherwise (when n_c is odd the last
pair's second member is not used). Firsts and seconds thus fill runs of their own, which
the kernels store without shuffles, and a block of 512 neurons is two whole chunks.

Pair number k is: h = SplitMix64 output number k for the seed K (z = K + (k + 1)·γ,
γ = 0x9E3779B97F4A7C15, then z ← (z ⊕ z≫30)·0xBF58476D1CE4E5B9, z ← (z ⊕ z≫27)·
0x94D049BB133111EB, h = z ⊕ z≫31, all mod 2⁶⁴), u = (⌊h/2³²⌋ + ½)·2⁻³², r = √(−2 ln u),
φ = (π/4)·(h mod 2²⁹)/2²⁹, θ₀ = π/2 − φ when bit 29 of h is set and φ otherwise; the
pair is (±r cos θ₀, ±r sin θ₀), the first negative when bit 30 of h is set, the second
when bit 31 is (so the angle is uniform on the circle). ln, sin and cos are minimax
polynomials written with +, −, ×, ÷ only (``_reference.noise_rows``; relative errors
4.8·10⁻¹², 4.6·10⁻¹², 6.4·10⁻¹¹). The inputs are coarser than that: φ moves in steps of
(π/4)·2⁻²⁹ ≈ 1.5·10⁻⁹ rad and u in steps of 2⁻³², so one step of either changes a
Gaussian by more than 10⁻¹⁰ relative almost everywhere (cos φ by ~1.5·10⁻⁹ near π/4),
and every Gaussian is within 10⁻¹⁰, relative, of the exact Box–Muller value of its
uniforms (tests/test_noise.py; measured 6.6·10⁻¹¹); the numbers do not depend on the
platform's libm. u ≥ 2⁻³³ bounds |ξ| by 6.77 (a standard normal exceeds it with
probability 1.3·10⁻¹¹). The kernels make them in short vectorised loops, about 1.7 ns
per Gaussian on an AVX2 core (numpy's ``standard_normal``: 12-13 ns).
:func:`langevin_noise` returns these numbers.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import json
import math
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from .. import _storage
from .._common import interrupt_from_kernel
from .._validation import _short, as_choice, as_float_array, as_int, as_rng, check_network_and_data
from ..data import Dataset
from ..network import Network
from . import _reference
from ._methods import Method, as_trainable, check_options

__all__ = ["train", "train_many", "Trajectory", "Snapshots", "TrainingDiverged",
           "TrainingInterrupted", "interrupt_policy", "langevin_noise"]

# Minibatch tables (and the reference backend's Gaussian noise) are drawn in chunks of
# at most this many numbers (8 MB), which also bounds the steps run between two progress
# updates.
_CHUNK_NUMBERS = 1 << 20
# At most this many neuron-steps run between two progress-bar updates (~0.1-0.5 s).
_CHUNK_WORK = 20_000_000
_LOG_POINTS_PER_DECADE = 20
ON_INTERRUPT = ("return", "raise")
# what train/train_many do on Ctrl-C when their on_interrupt is None (see interrupt_policy)
_ON_INTERRUPT = contextvars.ContextVar("relu1d_on_interrupt", default="return")


class TrainingDiverged(RuntimeError):
    """A step produced a non-finite loss or parameter.

    Attributes
    ----------
    step : int
        The first step whose state is not finite.
    last_loss : float
        The last finite (minibatch) loss the run saw before it.
    lr : float
        The learning rate of the run.
    trajectory : Trajectory
        Everything recorded up to and including the last record point before ``step``;
        its ``network`` is the state at that record point (finite by construction).
    """

    def __init__(self, message: str, step: int, last_loss: float, lr: float,
                 trajectory: Trajectory):
        super().__init__(message)
        self.step = step
        self.last_loss = last_loss
        self.lr = lr
        self.trajectory = trajectory

    def __reduce__(self):
        # rebuilt with every attribute (the default would call __init__ with the message
        # alone), so that it crosses process boundaries: sweep workers, Dask
        return (type(self), (str(self), self.step, self.last_loss, self.lr, self.trajectory))


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (KeyboardInterrupt) stopped training under ``on_interrupt="raise"``.

    A subclass of KeyboardInterrupt, so code that does not know it treats it as Ctrl-C
    (``except Exception`` does not catch it), while code that does can keep the partial
    results.

    Attributes
    ----------
    trajectory : Trajectory or None
        From :func:`train`: the run up to its last record point (``interrupted=True``).
    trajectories : list of Trajectory or None
        From :func:`train_many`: one per network, in order; the runs that finished are
        complete, the others stopped at their last record point (``interrupted=True``;
        a run that had not started yet holds step 0 only).
    """

    def __init__(self, message: str, trajectory: Trajectory | None = None,
                 trajectories: list[Trajectory] | None = None):
        super().__init__(message)
        self.trajectory = trajectory
        self.trajectories = trajectories


@contextlib.contextmanager
def interrupt_policy(mode: str):
    """Within the ``with`` block, :func:`train` and :func:`train_many` called with
    ``on_interrupt=None`` (their default) handle Ctrl-C as ``mode`` says.

    Parameters
    ----------
    mode : {"return", "raise"}
        "return" (the default outside any block): return the partial trajectory with
        ``interrupted=True`` after a RuntimeWarning; "raise": raise
        :class:`TrainingInterrupted` carrying it. Code that stores results under final
        names (``relu1d.report.run_experiment``, ``relu1d reproduce``) uses "raise", so
        that an experiment that calls ``train`` cannot go on with a truncated run and
        save it as complete.

    Examples
    --------
    >>> with interrupt_policy("raise"):  # doctest: +SKIP
    ...     traj = train(net, data)      # Ctrl-C raises TrainingInterrupted
    """
    token = _ON_INTERRUPT.set(as_choice(mode, "mode", ON_INTERRUPT))
    try:
        yield
    finally:
        _ON_INTERRUPT.reset(token)


def _interrupt_mode(on_interrupt) -> str:
    if on_interrupt is None:
        return _ON_INTERRUPT.get()
    return as_choice(on_interrupt, "on_interrupt", ON_INTERRUPT)


@dataclass(frozen=True, eq=False)
class Snapshots:
    """Parameters kept at some of the record points.

    Attributes
    ----------
    steps, times : (n,) arrays
        Step numbers and times lr·step of the kept snapshots.
    a, b, c : (n, m) arrays
        The full parameters at those steps. For canonical runs they are
        ``Network.from_canonical(r, theta, delta, alpha)`` with the invariants δ of the
        initial network.
    r, theta : (n, m) arrays or None
        The canonical parameters, for canonical runs only (θ reduced to [0, 2π)).
    alpha : float
    """

    steps: np.ndarray
    times: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    alpha: float
    r: np.ndarray | None = None
    theta: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.steps.size)

    def network(self, k: int) -> Network:
        """The network of snapshot ``k`` (negative k counts from the end)."""
        k = as_int(k, "k")
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"snapshot index k = {k} out of range for {n} snapshot(s)")
        return Network(self.a[k], self.b[k], self.c[k], self.alpha,
                       {"snapshot_step": int(self.steps[k])})


@dataclass(eq=False)
class Trajectory:
    """The record of one training run.

    Attributes
    ----------
    network : Network
        The final network (the state at the last record point reached; equal to
        ``snapshots.network(-1)``).
    steps, times : (k,) arrays
        Every record point: step numbers and times lr·step.
    loss : (k,) array
        The objective at each record point on the full data: the data term (½ Σⱼ ρⱼ²,
        divided by s when ``loss="mean"``) plus the weight-decay term (λ/2)·‖z‖² over
        the trained parameters, plus the TV term for canonical runs.
    data_loss : (k,) array
        The data term alone.
    snapshots : Snapshots
        The parameters at a thinned subset of the record points (see :func:`train`).
    method, parameterization : str
    options : dict
        Every setting of the run (for provenance).
    interrupted : bool
        True when the run was stopped by KeyboardInterrupt (or by :func:`train_many`
        on Ctrl-C) before its last step: a partial record, never a finished run.
    stats : dict
        Solver statistics (method="flow"), empty otherwise.
    delta : (m,) array or None
        The invariants δ used to map canonical runs back to (a, b, c).
    """

    network: Network
    steps: np.ndarray
    times: np.ndarray
    loss: np.ndarray
    data_loss: np.ndarray
    snapshots: Snapshots
    method: str
    parameterization: str = "full"
    options: dict = field(default_factory=dict)
    interrupted: bool = False
    stats: dict = field(default_factory=dict)
    delta: np.ndarray | None = None

    def __repr__(self) -> str:
        last = self.loss[-1] if self.loss.size else float("nan")
        return (f"Trajectory(method={self.method!r}, m={self.network.m}, "
                f"records={self.steps.size}, snapshots={len(self.snapshots)}, "
                f"last step={int(self.steps[-1])}, loss={last:.6g}"
                f"{', interrupted' if self.interrupted else ''})")

    def _repr_html_(self) -> str:
        """Jupyter display: method, m, α, steps, loss, snapshots and small inline PNGs of
        the final f with its knots and of the loss (see relu1d._display; never raises)."""
        from .._display import safe_html, trajectory_html

        return safe_html(trajectory_html, self)

    def animate(self, data: Dataset | None, path, **kwargs) -> Path:
        """Render this run as a GIF or MP4 movie: f with its knots and the samples, the
        particle plane, the loss with a moving marker (see :func:`relu1d.animate.animate`
        for the keywords: frames, fps, dpi, references, grid_points, progress)."""
        from ..animate import animate

        return animate(self, data, path, **kwargs)

    def to_xarray(self):
        """An ``xarray.Dataset``: a, b, c (and r, theta for canonical runs) with dimensions
        (step, neuron) over the kept snapshots; loss and data_loss with dimension
        record_step over every record point; settings in ``attrs``."""
        import xarray as xr

        snap = self.snapshots
        coords = {"step": ("step", snap.steps), "time": ("step", snap.times),
                  "neuron": ("neuron", np.arange(self.network.m)),
                  "record_step": ("record_step", self.steps),
                  "record_time": ("record_step", self.times)}
        data_vars = {name: (("step", "neuron"), getattr(snap, name)) for name in "abc"}
        if snap.r is not None:
            data_vars["r"] = (("step", "neuron"), snap.r)
            data_vars["theta"] = (("step", "neuron"), snap.theta)
        if self.delta is not None:
            data_vars["delta"] = (("neuron",), self.delta)
        data_vars["loss"] = (("record_step",), self.loss)
        data_vars["data_loss"] = (("record_step",), self.data_loss)
        attrs = {"method": self.method, "parameterization": self.parameterization,
                 "alpha": snap.alpha, "interrupted": int(self.interrupted),
                 "options": json.dumps(self.options, default=str),
                 "stats": json.dumps(self.stats, default=str),
                 "provenance": json.dumps(dict(self.network.provenance), default=str)}
        return xr.Dataset(data_vars, coords, attrs)

    def save(self, path) -> Path:
        """Write NetCDF-4 (h5netcdf) to a temporary name, then rename it to ``path``."""
        _need_h5py()
        return _storage.write_netcdf(self.to_xarray(), path)

    @classmethod
    def load(cls, path) -> Trajectory:
        """Read a file written by :meth:`save`."""
        _need_h5py()
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path {str(path)!r} is not a file; expected a NetCDF file written by "
                             "Trajectory.save")
        try:
            ds = _storage.read_netcdf(path)
        except Exception as exc:  # h5py/h5netcdf/xarray raise OSError, RuntimeError, KeyError, ...
            why = (getattr(exc, "strerror", None)
                   or (str(exc).splitlines() or [type(exc).__name__])[0])
            raise ValueError(f"{str(path)!r} is not a readable NetCDF file (damaged or "
                             f"truncated?): {why}; expected a file written by Trajectory.save"
                             ) from None
        try:
            return cls._from_dataset(ds)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{str(path)!r} has a damaged attribute (not JSON: {exc})") from None
        except ValueError as exc:
            raise ValueError(f"{str(path)!r}: {exc}; expected a file written by "
                             "Trajectory.save") from None
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"{str(path)!r} is damaged or not written by Trajectory.save "
                             f"({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_dataset(cls, ds) -> Trajectory:
        missing = {"a", "b", "c", "loss", "data_loss"} - set(ds.data_vars)
        if missing:
            raise ValueError(f"lacks {sorted(missing)}")
        alpha = float(ds.attrs["alpha"])
        canonical = "r" in ds.data_vars
        snap = Snapshots(ds["step"].values.astype(np.int64), ds["time"].values, ds["a"].values,
                         ds["b"].values, ds["c"].values, alpha,
                         ds["r"].values if canonical else None,
                         ds["theta"].values if canonical else None)
        prov = json.loads(ds.attrs.get("provenance", "{}"))
        net = Network(snap.a[-1], snap.b[-1], snap.c[-1], alpha, prov)
        return cls(net, ds["record_step"].values.astype(np.int64), ds["record_time"].values,
                   ds["loss"].values, ds["data_loss"].values, snap, str(ds.attrs["method"]),
                   str(ds.attrs["parameterization"]), json.loads(ds.attrs.get("options", "{}")),
                   bool(ds.attrs.get("interrupted", 0)), json.loads(ds.attrs.get("stats", "{}")),
                   ds["delta"].values if "delta" in ds.data_vars else None)


def _need_h5py() -> None:
    try:
        import h5py  # noqa: F401  (h5netcdf's backend for writing NetCDF-4)
    except ImportError:
        raise ImportError("Trajectory.save/load need h5py (the backend of h5netcdf): "
                          "pip install h5py") from None


# ----------------------------------------------------------------------------- configuration
@dataclass
class _Config:
    method: str           # the method's name (its kind)
    method_object: Method
    lr: float
    lr_eff: float
    steps: int
    train: tuple          # booleans: (a, b, c) or (r, θ)
    names: str            # the trained names, in order: subset of "abc" or "rt"
    weight_decay: float
    temperature: float
    batch_size: int | None  # None: the full data every step
    record_steps: np.ndarray
    keep: np.ndarray      # indices into record_steps whose parameters are kept
    seed: Any
    progress: bool
    parameterization: str
    rtol: float
    atol: float
    mean: bool
    tv_penalty: float
    backend: str
    options: dict


# the trained-parameter flags (imported by _flow)
_as_trainable = as_trainable


def _require_training_memory(m: int, steps: int, record_every, record, max_snapshots,
                             parameterization) -> None:
    """Refuse up front a run whose records or snapshots cannot fit in memory (instead of
    a MemoryError, or the OOM killer, part-way through)."""
    from ..network import require_memory

    if record is None:
        n_records = steps // as_int(record_every, "record_every", minimum=1) + 2
    elif isinstance(record, str):
        n_records = _LOG_POINTS_PER_DECADE * (int(math.log10(max(steps, 1))) + 1) + 2
    else:
        n_records = int(np.size(record)) + 2
    n_kept = n_records if max_snapshots is None else min(n_records, int(max_snapshots))
    names = 5 if parameterization == "canonical" else 3
    # per record point: step, time, loss, data_loss, masks and slots; per snapshot: the
    # kept parameters; and the state, its copies and the kernels' work arrays
    need = 48 * n_records + 8 * m * (names * n_kept + 12)
    require_memory(need, f"training m = {m:,} neurons for {steps:,} steps with {n_records:,} "
                   f"record points and {n_kept:,} snapshots", "record less often (record_every, "
                   "record='log'), keep fewer snapshots (max_snapshots) or use fewer neurons or "
                   "steps")


def _record_plan(steps: int, record_every, record, max_snapshots) -> tuple[np.ndarray, np.ndarray]:
    """The record steps (always 0 and ``steps``) and the indices of those kept as snapshots."""
    every = as_int(record_every, "record_every", minimum=1)
    if record is None:
        points = np.arange(0, steps + 1, every, dtype=np.int64)
    elif isinstance(record, str):
        as_choice(record, "record", ("log",))
        if steps == 0:
            points = np.zeros(1, dtype=np.int64)
        else:
            num = max(2, int(math.ceil(_LOG_POINTS_PER_DECADE * math.log10(steps))) + 1)
            points = np.round(np.geomspace(1, steps, num)).astype(np.int64)
    else:  # integer steps in [0, steps], checked by check_options
        points = as_float_array(record, "record").astype(np.int64)
    points = np.unique(np.concatenate(([0], points, [steps])))
    n = points.size
    if max_snapshots is None or n <= max_snapshots:
        keep = np.arange(n)
    else:
        keep = np.unique(np.round(np.linspace(0, n - 1, max_snapshots)).astype(np.int64))
    return points, keep


def _configure(net, data, *, progress, **options) -> _Config:
    """Check ``train``'s options (:func:`._methods.check_options`, the check the TOML spec
    uses too) and those that depend on the network and data; the run's settings."""
    check_network_and_data(net, data)
    s = data.s
    opt = check_options(s=s, **options)
    method = opt["method_object"]
    batch_size = method._batch(s)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {_short(progress)}")
    steps, record, record_every = opt["steps"], opt["record"], opt["record_every"]
    max_snapshots = opt["max_snapshots"]
    _require_training_memory(net.m, steps, record_every, record, max_snapshots,
                             opt["parameterization"])
    record_steps, keep = _record_plan(steps, record_every, record, max_snapshots)
    lr = opt["lr"]
    lr_eff = lr * net.m if opt["lr_scale"] == "width" else lr
    temperature = method._temperature()
    rtol, atol = method._tolerances()
    seed = opt["seed"]
    # for provenance; the keys and values of the string form of 0.1 (rtol and atol: the
    # flow's, recorded for every method)
    options = dict(method=method.kind, lr=lr, steps=steps, trainable=opt["names"],
                   weight_decay=opt["weight_decay"], temperature=temperature,
                   batch_size=batch_size if batch_size is not None else s,
                   record_every=record_every if record is None else None,
                   record=record if isinstance(record, str) or record is None else "explicit",
                   seed=seed if not isinstance(seed, np.random.Generator) else "generator",
                   parameterization=opt["parameterization"], rtol=rtol, atol=atol, loss=opt["loss"],
                   lr_scale=opt["lr_scale"], tv_penalty=opt["tv_penalty"],
                   max_snapshots=max_snapshots, backend=opt["backend"])
    return _Config(method.kind, method, lr, lr_eff, steps, opt["flags"], opt["names"],
                   opt["weight_decay"], temperature, batch_size, record_steps, keep, seed,
                   bool(progress), opt["parameterization"], rtol, atol, opt["loss"] == "mean",
                   opt["tv_penalty"], opt["backend"], options)


# ----------------------------------------------------------------------------- randomness
def _streams(seed) -> tuple[np.random.Generator, np.uint64]:
    """(minibatch stream, noise key): ``as_rng(seed).spawn(2)``, independent, so that
    adding noise never changes the minibatches; the key is the second stream's first
    ``integers(2**64, dtype=uint64)`` (see "Langevin noise" in the module notes)."""
    batch_rng, noise_rng = as_rng(seed).spawn(2)
    return batch_rng, np.uint64(noise_rng.integers(2**64, dtype=np.uint64))


def langevin_noise(seed, m: int, rows: int = 3, steps: int = 1, start: int = 0) -> np.ndarray:
    """The Gaussian noise ξ that ``train(..., method="langevin", seed=seed)`` adds.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        The ``seed`` given to :func:`train`. A Generator is spawned from as train
        does, which advances it: pass one in the state train's got (e.g.
        ``np.random.default_rng(7)`` again), not the one train has used.
    m : int >= 1
        The number of neurons.
    rows : int >= 1
        p, the number of trained parameter vectors (3 for "abc", 1 for "c", 2 for
        canonical "rt"): one row of noise per trained name, in the order "abc" (or
        "r", "θ").
    steps : int >= 0
        How many steps.
    start : int >= 0
        The first step (0: the update from the initial network to step 1).

    Returns
    -------
    (steps, rows, m) array
        ``xi[t, k, i]`` is added, times √(2·lr_eff·T), to the k-th trained parameter of
        neuron i in update start + t. The layout and the generator are in the module
        notes of ``relu1d.train._api`` ("Langevin noise"); both backends of
        :func:`train` use these numbers, bit for bit.

    Examples
    --------
    >>> xi = langevin_noise(0, m=4, rows=3, steps=2)
    >>> xi.shape
    (2, 3, 4)
    """
    m = as_int(m, "m", minimum=1)
    rows = as_int(rows, "rows", minimum=1)
    steps = as_int(steps, "steps", minimum=0)
    start = as_int(start, "start", minimum=0)
    _, key = _streams(seed)
    per_step = rows * m
    noise = _reference.gaussian_noise(key, start * per_step, steps * per_step, m)
    return noise.reshape(steps, rows, m)


class _Batches:
    """Minibatches drawn without replacement each epoch: each epoch is one
    ``rng.permutation(s)``, cut into consecutive batches of ``batch_size`` (the last one
    smaller when batch_size does not divide s), each batch sorted by x."""

    def __init__(self, s: int, batch_size: int, rng: np.random.Generator):
        self.s, self.size, self.rng = s, batch_size, rng
        self.per_epoch = -(-s // batch_size)
        self.lens = np.full(self.per_epoch, batch_size, dtype=np.int64)
        self.lens[-1] = s - (self.per_epoch - 1) * batch_size
        self.table = np.empty((0, batch_size), dtype=np.int64)
        self.table_lens = self.lens[:0]
        self.pos = 0

    def _epochs(self, count: int) -> np.ndarray:
        """The batches of the next ``count`` epochs, one row each. ``rng.shuffle`` of
        arange(s) draws what ``rng.permutation(s)`` draws; the rest is vectorised over
        the epochs (per-epoch numpy calls cost ~1.5 µs a step at s = 10, batch 1)."""
        perms = np.empty((count, self.per_epoch * self.size), dtype=np.int64)
        perms[:, :self.s] = np.arange(self.s)
        perms[:, self.s:] = self.s
        for row in perms:
            self.rng.shuffle(row[:self.s])
        table = np.sort(perms.reshape(count * self.per_epoch, self.size), axis=1)
        table[table == self.s] = 0  # padding, never read (beyond the batch length)
        return table

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.empty((n, self.size), dtype=np.int64)
        lens = np.empty(n, dtype=np.int64)
        done = 0
        while done < n:
            if self.pos == self.table.shape[0]:  # whole epochs, at most ~2¹⁸ numbers at once
                count = min(-(-(n - done) // self.per_epoch),
                            max(1, (1 << 18) // (self.per_epoch * self.size)))
                self.table, self.pos = self._epochs(count), 0
                self.table_lens = np.tile(self.lens, count)
            k = min(n - done, self.table.shape[0] - self.pos)
            idx[done:done + k] = self.table[self.pos:self.pos + k]
            lens[done:done + k] = self.table_lens[self.pos:self.pos + k]
            self.pos += k
            done += k
        return idx, lens


# ----------------------------------------------------------------------------- engines
class _Engine:
    """One parameterization on one backend: the state, its updates, its objective."""

    def __init__(self, net: Network, data: Dataset, cfg: _Config):
        self.cfg, self.alpha, self.m = cfg, net.alpha, net.m
        self.x, self.y = np.array(data.x), np.array(data.y)  # writable: one numba signature
        self.noise_scale = math.sqrt(2.0 * cfg.lr_eff * cfg.temperature)
        self.noise_key = np.uint64(0)     # set by _run_steps for noisy runs
        self.noise_rows = int(sum(cfg.train))
        if cfg.parameterization == "full":
            self.state = [np.array(net.a), np.array(net.b), np.array(net.c)]
            self.delta = None
        else:
            r, theta = net.canonical()
            self.state = [r.copy(), theta.copy()]
            self.delta = net.invariants()
        self.threshold = cfg.lr_eff * cfg.tv_penalty / self.m
        if cfg.backend == "numba":
            from . import _kernels
            self._kernels = _kernels

    def advance(self, n, batch_idx, batch_len, noise_at) -> tuple[int, float]:
        """n steps; ``noise_at``: None (no noise) or the index of the first Gaussian of
        these steps in the run's noise stream (``noise_key``)."""
        cfg = self.cfg
        if cfg.backend == "numpy":
            noise = None
            if noise_at is not None:
                count = n * self.noise_rows * self.m
                noise = _reference.gaussian_noise(self.noise_key, noise_at, count, self.m)
                noise = noise.reshape(n, self.noise_rows, self.m)
            # divergence is detected and reported
            with np.errstate(over="ignore", invalid="ignore"):
                return self._advance_reference(n, batch_idx, batch_len, noise)
        return self._kernels.advance(self, n, batch_idx, batch_len, noise_at)

    def _advance_reference(self, n, batch_idx, batch_len, noise):
        cfg = self.cfg
        if cfg.parameterization == "full":
            return _reference.advance_full(*self.state, self.alpha, self.x, self.y, cfg.train,
                                           cfg.weight_decay, cfg.lr_eff, self.noise_scale, cfg.mean,
                                           batch_idx, batch_len, noise, n)
        return _reference.advance_canonical(*self.state, self.x, self.y, cfg.train,
                                            cfg.weight_decay, cfg.lr_eff, self.noise_scale,
                                            self.threshold, cfg.mean, batch_idx, batch_len, noise,
                                            n)

    def data_loss(self) -> float:
        cfg = self.cfg
        if cfg.backend == "numba":
            return self._kernels.data_loss(self)
        # a non-finite loss is reported as divergence
        with np.errstate(over="ignore", invalid="ignore"):
            state = self.state
            if cfg.parameterization == "full":
                return _reference.data_loss(state[0], state[1], state[2], self.alpha, self.x,
                                            self.y, cfg.mean)
            return _reference.canonical_data_loss(state[0], state[1], self.x, self.y, cfg.mean)

    def penalty(self) -> float:
        cfg = self.cfg
        value = 0.0
        if cfg.weight_decay > 0:
            # in canonical runs weight decay acts on r only (θ is an angle)
            trained = [p for p, on in zip(self.state, cfg.train) if on]
            if cfg.parameterization == "canonical":
                trained = trained[:1] if cfg.train[0] else []
            value += 0.5 * cfg.weight_decay * sum(float(p @ p) for p in trained)
        if cfg.tv_penalty > 0:
            value += cfg.tv_penalty * float(np.sum(np.abs(self.state[0]))) / self.m
        return value

    def full_params(self) -> tuple[np.ndarray, ...]:
        """(a, b, c[, r, θ mod 2π]) copies of the current state."""
        if self.cfg.parameterization == "full":
            return tuple(p.copy() for p in self.state)
        r, theta = self.state
        net = Network.from_canonical(r, theta, self.delta, self.alpha)
        return np.array(net.a), np.array(net.b), np.array(net.c), r.copy(), np.mod(theta, 2 * np.pi)


class _Recorder:
    def __init__(self, cfg: _Config, m: int, canonical: bool):
        self.cfg = cfg
        n_rec, n_keep = cfg.record_steps.size, cfg.keep.size
        self.loss = np.full(n_rec, np.nan)
        self.data_loss = np.full(n_rec, np.nan)
        self.kept = np.zeros(n_rec, dtype=bool)
        self.kept[cfg.keep] = True
        self.slot = np.cumsum(self.kept) - 1
        names = 5 if canonical else 3
        self.arrays = [np.empty((n_keep, m)) for _ in range(names)]
        self.count = 0          # record points done
        self.last: Any = None   # the parameters at the last record point

    def record(self, k: int, data_loss: float, penalty: float, params) -> None:
        self.data_loss[k] = data_loss
        self.loss[k] = data_loss + penalty
        if self.kept[k]:
            for arr, p in zip(self.arrays, params):
                arr[self.slot[k]] = p
        self.last = params
        self.count = k + 1

    def trajectory(self, net: Network, engine_alpha: float, interrupted: bool, stats=None,
                   delta=None) -> Trajectory:
        cfg, n = self.cfg, self.count
        steps = cfg.record_steps[:n]
        kept_idx = np.flatnonzero(self.kept[:n])
        arrays = [arr[:kept_idx.size] for arr in self.arrays]
        if kept_idx[-1] != n - 1:  # stopped early: the last state reached is kept too
            kept_idx = np.append(kept_idx, n - 1)
            arrays = [np.concatenate((arr, p[None])) for arr, p in zip(arrays, self.last)]
        snap_steps = steps[kept_idx]
        canonical = len(arrays) == 5
        snap = Snapshots(snap_steps, cfg.lr * snap_steps, arrays[0], arrays[1], arrays[2],
                         engine_alpha, arrays[3] if canonical else None,
                         arrays[4] if canonical else None)
        prov = {**dict(net.provenance), "train_method": cfg.method, "train_lr": cfg.lr,
                "train_steps": int(steps[-1])}
        final = Network(arrays[0][-1], arrays[1][-1], arrays[2][-1], engine_alpha, prov)
        return Trajectory(final, steps, cfg.lr * steps, self.loss[:n].copy(),
                          self.data_loss[:n].copy(), snap, cfg.method, cfg.parameterization,
                          dict(cfg.options), interrupted, stats or {}, delta)


def _progress_bar(cfg: _Config):
    from tqdm import tqdm

    enabled = cfg.progress and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return tqdm(total=cfg.steps, disable=not enabled, file=sys.stderr, unit="step",
                dynamic_ncols=True, desc=f"train[{cfg.method}]")


def _diverged(cfg: _Config, step: int, last_loss: float, traj: Trajectory) -> TrainingDiverged:
    return TrainingDiverged(
        f"training diverged at step {step}: the loss or a parameter became non-finite "
        f"(last finite loss {last_loss:.6g}, "
        f"lr = {cfg.lr:g}{' × m' if cfg.lr_eff != cfg.lr else ''}); "
        f"try a smaller lr, e.g. lr={cfg.lr / 10:g}. The partial trajectory (up to step "
        f"{int(traj.steps[-1])}) is in .trajectory", step, last_loss, cfg.lr, traj)


def _run_steps(net: Network, data: Dataset, cfg: _Config,
               stop: threading.Event | None = None) -> Trajectory:
    engine = _Engine(net, data, cfg)
    canonical = cfg.parameterization == "canonical"
    rec = _Recorder(cfg, net.m, canonical)
    batch_rng, engine.noise_key = _streams(cfg.seed)
    # minibatches for a batch smaller than s (only SGD and Langevin have one), noise for T > 0
    batches = _Batches(data.s, cfg.batch_size, batch_rng) if cfg.batch_size is not None else None
    noisy = cfg.temperature > 0
    per_step = engine.noise_rows * net.m   # Gaussians per step
    batch_work = cfg.batch_size if cfg.batch_size is not None else data.s
    # the reference materialises each chunk's noise; the kernels draw it as they go
    materialised = noisy and cfg.backend == "numpy"
    chunk_cap = max(1, min(_CHUNK_NUMBERS // per_step if materialised else 1 << 62,
                           _CHUNK_WORK // (net.m + batch_work)))

    value, penalty = engine.data_loss(), engine.penalty()
    if not np.isfinite(value + penalty):
        raise ValueError(f"the loss of the initial network on the data is not finite "
                         f"({value + penalty}); "
                         "rescale the data or the network")
    rec.record(0, value, penalty, engine.full_params())
    bar = _progress_bar(cfg)
    step, last_loss = 0, float(rec.loss[0])
    interrupted = False
    try:
        with interrupt_from_kernel():  # Ctrl-C inside a compiled call, too
            for k in range(1, cfg.record_steps.size):
                target = int(cfg.record_steps[k])
                while step < target:
                    if stop is not None and stop.is_set():  # train_many was interrupted
                        raise KeyboardInterrupt
                    n = min(target - step, chunk_cap)
                    idx, lens = batches.take(n) if batches is not None else (None, None)
                    bad, seen = engine.advance(n, idx, lens, step * per_step if noisy else None)
                    if np.isfinite(seen):
                        last_loss = float(seen)
                    if bad >= 0:
                        raise _diverged(cfg, step + bad, last_loss,
                                        rec.trajectory(net, net.alpha, False, delta=engine.delta))
                    step += n
                    bar.update(n)
                value, penalty = engine.data_loss(), engine.penalty()
                if not np.isfinite(value + penalty):  # finite parameters, overflowing loss
                    raise _diverged(cfg, step, last_loss,
                                    rec.trajectory(net, net.alpha, False, delta=engine.delta))
                rec.record(k, value, penalty, engine.full_params())
                bar.set_postfix(loss=f"{rec.loss[k]:.4g}", refresh=False)
    except KeyboardInterrupt:
        interrupted = True  # train() warns or raises, as on_interrupt says
    finally:
        bar.close()
    return rec.trajectory(net, net.alpha, interrupted, delta=engine.delta)


def _run_flow(net: Network, data: Dataset, cfg: _Config,
              stop: threading.Event | None = None) -> Trajectory:
    try:
        from ._flow import integrate_flow
    except ImportError as exc:
        raise NotImplementedError(f"method='flow' needs relu1d.train._flow.integrate_flow, which "
                                  f"is not "
                                  f"available ({exc})") from exc
    times = cfg.lr * cfg.record_steps
    canonical = cfg.parameterization == "canonical"
    rec = _Recorder(cfg, net.m, canonical)
    delta = net.invariants() if canonical else None
    try:
        result = integrate_flow(net, data, times, trainable=cfg.names,
                                weight_decay=cfg.weight_decay, rtol=cfg.rtol, atol=cfg.atol,
                                parameterization=cfg.parameterization, progress=cfg.progress,
                                **({} if stop is None else {"_stop": stop}))
    except KeyboardInterrupt:  # before the flow recorded anything: the initial state, step 0
        value = _reference.data_loss(net.a, net.b, net.c, net.alpha, data.x, data.y, False)
        params: tuple = (np.array(net.a), np.array(net.b), np.array(net.c))
        penalty = 0.5 * cfg.weight_decay * sum(float(p @ p)
                                               for p, on in zip(params, cfg.train) if on)
        if canonical:
            r, theta = net.canonical()
            params = params + (r, np.mod(theta, 2 * np.pi))
            penalty = 0.5 * cfg.weight_decay * float(r @ r) if cfg.train[0] else 0.0
        rec.record(0, value, penalty, params)
        return rec.trajectory(net, net.alpha, True, delta=delta)
    a, b, c = result.a, result.b, result.c
    # r and θ: set for canonical runs
    rs, thetas = cast(Any, getattr(result, "r", None)), cast(Any, getattr(result, "theta", None))
    for k in range(len(result.a)):  # fewer than times.size when interrupted
        # the recorded losses are computed here, as for the other methods
        value = _reference.data_loss(a[k], b[k], c[k], net.alpha, data.x, data.y, False)
        params = (a[k], b[k], c[k])
        if canonical:
            r = rs[k]
            params = params + (r, thetas[k])
            penalty = 0.5 * cfg.weight_decay * float(r @ r) if cfg.train[0] else 0.0
        else:
            penalty = 0.5 * cfg.weight_decay * sum(float(p @ p)
                                                   for p, on in zip(params, cfg.train) if on)
        rec.record(k, value, penalty, params)
    interrupted = bool(getattr(result, "interrupted", False))
    return rec.trajectory(net, net.alpha, interrupted, stats=dict(result.stats), delta=delta)


# ----------------------------------------------------------------------------- public
def train(net: Network, data: Dataset, *, method: str | Method = "gd", lr: float = 1e-3,
          steps: int = 10_000, trainable: str = "abc", weight_decay: float = 0.0,
          temperature: float = 0.0, batch_size: int | None = None, record_every: int = 100,
          record=None, seed=0, progress: bool = True, parameterization: str = "full",
          rtol: float | None = None, atol: float | None = None, loss: str = "sum",
          lr_scale: str = "none", tv_penalty: float = 0.0,
          max_snapshots: int | str | None = 100, backend: str = "numba",
          on_interrupt: str | None = None) -> Trajectory:
    r"""Train a network on data and record the trajectory.

    The objective is L(z) = ½ Σⱼ (f(xⱼ) − yⱼ)² (Williams eq. 1; a sum over samples, or
    the mean with ``loss="mean"``) plus (λ/2)·‖z‖² over the trained parameters, λ =
    ``weight_decay``. The updates, the minibatches, the canonical parameterization, the
    TV penalty and the map from Shevchenko et al.'s noisy SGD are derived in the module
    notes of ``relu1d.train._methods``.

    Parameters
    ----------
    net : Network
        The initial network (not modified).
    data : Dataset
    method : GD, Flow, SGD, Langevin or {"gd", "flow", "sgd", "langevin"}
        * :class:`GD` (``"gd"``): full-batch gradient descent, z ← z − lr_eff·(∇L + λz).
        * :class:`Flow` ``(rtol, atol)`` (``"flow"``): the gradient flow ż = −∇L − λz
          (eq. 2) up to time lr·steps, by an adaptive Runge–Kutta integrator that steps
          exactly onto the times where a knot crosses a sample, recorded at the times
          lr·k of the steps gd would record.
        * :class:`SGD` ``(batch_size)`` (``"sgd"``): the same update on the loss of a
          minibatch; a **step is one minibatch update**, an epoch ⌈s/batch_size⌉ steps.
        * :class:`Langevin` ``(temperature, batch_size)`` (``"langevin"``): noisy SGD,
          z ← z − lr_eff·(∇L_batch + λz) + √(2·lr_eff·T)·ξ, ξ ~ N(0, I) fresh each step;
          with T = 0 it is SGD, bit for bit.

        A name is shorthand for the object with the keywords ``temperature``,
        ``batch_size``, ``rtol`` and ``atol`` (see Other Parameters).
    lr : float > 0
        Step size. The recorded ``times`` are lr·step (with lr_scale="width" this is
        the mean-field time, the per-particle step being lr·m on a gradient O(1/m)).
    steps : int >= 0
        Number of updates (minibatch updates for SGD and Langevin).
    trainable : str
        Which parameters move: any non-empty subset of "abc" (the others stay fixed).
        With ``parameterization="canonical"``: "r", "t" (θ) or "rt"; "abc" means "rt".
    weight_decay : float >= 0
        λ. In canonical runs it acts on r only (θ is an angle).
    record_every : int >= 1
        Record every k steps (and always steps 0 and ``steps``). Ignored when ``record``
        is given.
    record : None, "log" or array of ints
        "log": step 0 and about 20 log-spaced steps per decade from 1 to ``steps``;
        an array: exactly those steps (plus 0 and ``steps``).
    seed : int or numpy.random.Generator
        ``as_rng(seed).spawn(2)`` gives two independent streams: the first draws one
        ``permutation(s)`` per epoch (minibatches), the second one 64-bit key of the
        counter-based Gaussian generator of the Langevin noise: the noise of step t is
        ``langevin_noise(seed, m, p, start=t)[0]``, a (p, m) array with the p rows for
        the trained names in the order "abc" (or "r", "θ") (see :func:`langevin_noise`).
        Same seed → same bits, on both backends.
    progress : bool
        A tqdm bar on stderr (step, loss, speed); off when False or stderr is not a
        terminal.

    Returns
    -------
    Trajectory

    Other Parameters
    ----------------
    temperature : float >= 0
        With ``method="langevin"``: its T. Any other name refuses T > 0; a method object
        refuses the keyword (give ``Langevin(temperature=...)``).
    batch_size : int, optional
        With ``method="sgd"`` or ``"langevin"``: samples per step, 1..s; None (or s)
        means every sample each step (langevin is then noisy full-batch GD). "gd" and
        "flow" refuse other values than s; a method object refuses the keyword.
    rtol, atol : float > 0, optional
        With ``method="flow"``: its error control (default 1e-8 and 1e-10). Any other
        method, and a method object, refuses them.
    parameterization : {"full", "canonical"}
        "canonical" runs the same methods on w = (r, θ) (eqs. 4–7), starting from
        ``net.canonical()``; snapshots store r, θ and also (a, b, c) =
        ``Network.from_canonical(r, θ, δ, α)`` with δ the invariants of the initial
        network.
    loss : {"sum", "mean"}
        "mean" divides the data term by the number of samples in the step's batch
        (all s for gd) — the gradient and the recorded loss (recorded on all s).
    lr_scale : {"none", "width"}
        "width": lr_eff = lr·m (mean-field per-particle steps), used in the update and
        the Langevin noise alike; otherwise lr_eff = lr.
    tv_penalty : float >= 0
        κ, canonical runs only: adds κ·Σᵢ|rᵢ|/m (Williams App. B.2), applied after each
        gradient step as the proximal map r ← sign(r)·max(|r| − lr_eff·κ/m, 0), which
        sets small rᵢ exactly to 0. Full parameterization refuses it (use weight_decay).
    max_snapshots : int >= 2, "all" or None
        Parameters are kept at no more than this many record points: when there are
        n > max_snapshots record points, those at indices round(linspace(0, n − 1,
        max_snapshots)) (the first and last always among them). The loss is kept at
        every record point. 100 snapshots of 10⁵ neurons are 240 MB (400 MB canonical).
        "all" or None keeps all.
    backend : {"numba", "numpy"}
        "numba": the compiled kernels; "numpy": the plain reference they are tested
        against (same random numbers; agreement to rounding).
    on_interrupt : {"return", "raise"} or None
        What KeyboardInterrupt (Ctrl-C) does: "return" the trajectory up to the last
        record point reached, with ``interrupted=True``, after a RuntimeWarning;
        "raise" :class:`TrainingInterrupted` carrying it (``.trajectory``). None (the
        default): as the enclosing :func:`interrupt_policy` block says, "return"
        outside any. A runtime switch, like ``progress``: not part of a TOML spec.

    Raises
    ------
    TrainingDiverged
        When a state has a non-finite loss or parameter; carries ``.trajectory`` up to
        the last record point before it.
    TrainingInterrupted
        On Ctrl-C with ``on_interrupt="raise"``.

    Notes
    -----
    Speed (backend="numba"): one compiled call runs all the steps between two record
    points (chunked for the progress bar). With the samples sorted, a neuron's active
    samples are a prefix or a suffix, so its output and gradient come from prefix sums of
    the residuals. Full-batch runs without noise keep the neurons grouped by the interval
    between samples that holds their knot (one lookup per group, O(m + s) per step) where
    a cost model says that is faster; otherwise batches of at most 80 samples use a dense,
    vectorised form and larger ones the prefix sums per neuron. Langevin runs draw their
    Gaussian noise inside the kernel, step by step, from a counter-based generator
    (SplitMix64 + Box–Muller, ~3.5 ns per number; no noise array), which still dominates a
    step at batch size 1; canonical runs with θ trained spend theirs on cos/sin.
    Summation orders differ from the reference, so the backends agree to rounding
    (tested to 1e-10 over hundreds of steps), not bit for bit.

    KeyboardInterrupt (Ctrl-C) stops the run within one chunk of steps (at most ~0.5 s;
    for the flow within one solver step) and, by default, returns the trajectory up to
    the last record point reached, with ``interrupted=True``, after a RuntimeWarning (see
    ``on_interrupt``). A Ctrl-C before step 0 is recorded propagates as is.

    Examples
    --------
    >>> import relu1d as r1
    >>> net = r1.init_network(8, seed=0)
    >>> data = r1.datasets.square_wave(6, seed=0)
    >>> traj = r1.train(net, data, lr=1e-2, steps=200, record_every=50, progress=False)
    >>> traj.steps
    array([  0,  50, 100, 150, 200])
    >>> bool(traj.loss[-1] < traj.loss[0])
    True

    A method object carries its own options; the name with keywords is the same run:

    >>> noisy = r1.train(net, data, method=r1.Langevin(temperature=1e-4, batch_size=2),
    ...                  lr=1e-2, steps=30, record_every=10, progress=False)
    >>> same = r1.train(net, data, method="langevin", temperature=1e-4, batch_size=2,
    ...                 lr=1e-2, steps=30, record_every=10, progress=False)
    >>> noisy.method, bool((noisy.loss == same.loss).all())
    ('langevin', True)
    """
    cfg = _configure(net, data, method=method, lr=lr, steps=steps, trainable=trainable,
                     weight_decay=weight_decay, temperature=temperature, batch_size=batch_size,
                     record_every=record_every, record=record, seed=seed, progress=progress,
                     parameterization=parameterization, rtol=rtol, atol=atol, loss=loss,
                     lr_scale=lr_scale, tv_penalty=tv_penalty, max_snapshots=max_snapshots,
                     backend=backend)
    mode = _interrupt_mode(on_interrupt)
    traj = _train(net, data, cfg)
    if traj.interrupted:
        done = int(traj.steps[-1])
        if mode == "raise":
            raise TrainingInterrupted(f"training interrupted by KeyboardInterrupt after step "
                                      f"{done} of {cfg.steps} (the last record point); the "
                                      "partial trajectory is in .trajectory", trajectory=traj)
        warnings.warn(f"training interrupted by KeyboardInterrupt after step {done} of {cfg.steps} "
                      "(the last record point); returning the partial trajectory with "
                      "interrupted=True", RuntimeWarning, stacklevel=2)
    return traj


def _train(net: Network, data: Dataset, cfg: _Config,
           stop: threading.Event | None = None) -> Trajectory:
    """One run; a KeyboardInterrupt, or ``stop`` being set, ends it with interrupted=True."""
    return cfg.method_object._run(net, data, cfg, stop)


def train_many(nets: Sequence[Network], data: Dataset, *, workers: int | None = None,
               on_interrupt: str | None = None, **kwargs) -> list[Trajectory]:
    """Train each network of ``nets`` on the same data, in parallel threads.

    The compiled kernels release the GIL, so the runs use all cores. Each run is
    exactly ``train(net, data, **kwargs)`` with ``progress=False``; ``seed`` may be one
    seed for all or a sequence with one per network. The results are in the order of
    ``nets``; if a run raises, the first such exception (in that order) is raised.

    Parameters
    ----------
    nets : sequence of Network
    data : Dataset
    workers : int, optional
        Threads; default the number of CPUs.
    on_interrupt : {"return", "raise"} or None
        What Ctrl-C does (None: as the enclosing :func:`interrupt_policy` says,
        "return" outside any). Either way every running training is told to stop and
        does so within one chunk of steps (well under a second), and nothing is
        discarded: the runs that finished are complete, the others end at their last
        record point with ``interrupted=True`` (a run that had not started holds step 0
        only). "return": that list is returned after one RuntimeWarning; "raise":
        :class:`TrainingInterrupted` is raised with the list in ``.trajectories``.
    **kwargs
        Any keyword of :func:`train` but ``progress`` (always off), e.g. ``method=SGD(8)``,
        ``lr``, ``steps``.

    Returns
    -------
    list of Trajectory
        In the order of ``nets``.

    Examples
    --------
    >>> import relu1d as r1
    >>> data = r1.datasets.sinusoid(6)
    >>> nets = [r1.init_network(5, seed=k) for k in range(3)]
    >>> runs = r1.train_many(nets, data, method=r1.SGD(batch_size=2), lr=1e-2, steps=20,
    ...                      seed=[0, 1, 2], workers=2)
    >>> [int(run.steps[-1]) for run in runs]
    [20, 20, 20]
    """
    nets = list(nets)
    if not nets:
        raise ValueError("nets must hold at least one Network")
    mode = _interrupt_mode(on_interrupt)
    seed = kwargs.pop("seed", 0)
    if isinstance(seed, (list, tuple, np.ndarray)):
        seeds = list(seed)
        if len(seeds) != len(nets):
            raise ValueError(f"seed must be one seed or one per network ({len(nets)}); "
                             f"got {len(seeds)} seeds")
    else:
        if isinstance(seed, np.random.Generator):
            raise TypeError("seed for train_many must be an int or a sequence of seeds, one per "
                            "network "
                            "(a single Generator would be shared between threads)")
        seeds = [seed] * len(nets)
    kwargs["progress"] = False
    unknown = sorted(set(kwargs) - set(_TRAIN_DEFAULTS))
    if unknown:
        raise TypeError(f"train_many got unexpected keyword argument(s) {unknown}; it accepts "
                        "train's keywords")
    # fail fast on bad settings, in the caller's thread
    cfgs = [_configure(net, data, **{**_TRAIN_DEFAULTS, **kwargs, "seed": sd})
            for net, sd in zip(nets, seeds)]
    workers = os.cpu_count() or 1 if workers is None else as_int(workers, "workers", minimum=1)
    stop = threading.Event()
    if workers == 1 or len(nets) == 1:
        results = []
        try:
            for net, cfg in zip(nets, cfgs):
                results.append(_train(net, data, cfg, stop))
                if results[-1].interrupted:
                    stop.set()  # the others record their step 0 and stop
        except KeyboardInterrupt:  # between two runs
            stop.set()
            rest = zip(nets[len(results):], cfgs[len(results):])
            results += [_train(net, data, cfg, stop) for net, cfg in rest]
    else:
        pool = ThreadPoolExecutor(max_workers=min(workers, len(nets)))
        try:
            futures = [pool.submit(_train, net, data, cfg, stop) for net, cfg in zip(nets, cfgs)]
            try:
                pending = set(futures)
                while pending:  # short waits: the main thread sees a Ctrl-C within 0.25 s
                    _, pending = wait(pending, timeout=0.25)
            except KeyboardInterrupt:
                stop.set()  # every run ends at its next chunk; those not started record step 0
            results = [f.result() for f in futures]
        finally:
            stop.set()  # a second Ctrl-C or an error: do not wait for the remaining steps
            pool.shutdown(wait=True)
    stopped = [k for k, traj in enumerate(results) if traj.interrupted]
    if stopped:
        message = (f"train_many interrupted by KeyboardInterrupt: {len(results) - len(stopped)} "
                   f"of {len(results)} runs complete; runs {stopped} stopped at their last record "
                   "point (interrupted=True)")
        if mode == "raise":
            raise TrainingInterrupted(message + "; the trajectories are in .trajectories",
                                      trajectories=results)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return results


# train's defaults, read from its signature so that the two cannot drift apart
_TRAIN_DEFAULTS = {name: p.default for name, p in inspect.signature(train).parameters.items()
                   if p.default is not inspect.Parameter.empty and name != "on_interrupt"}
