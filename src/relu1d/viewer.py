"""An interactive viewer of a training run: one self-contained, offline HTML page.

:func:`viewer_figure` turns a :class:`~relu1d.train.Trajectory` (and its samples) into a
Plotly figure with a time slider and play/pause buttons over three synchronised panels:

* the function f with its knots (eᵢ, f(eᵢ)) and the samples (xⱼ, yⱼ), with reference
  curves (the linear interpolant, the natural cubic spline and the kernel interpolant
  by default, or any callables) that a click on their legend entry shows or hides;
* the particle plane (uᵢ, vᵢ) = (|rᵢ| cos θᵢ, |rᵢ| sin θᵢ) coloured by sign(rᵢ), with each
  sample's activation line u·xⱼ + v = 0 (conventions of :func:`relu1d.plot.plot_particles`);
  hovering a particle shows the neuron's (a, b, c, δ, r, θ, e);
* the loss against time on log axes, with a marker at the frame's time.

:func:`viewer_html` and :func:`write_viewer` write it as a page that needs no network:
plotly.js is embedded once per page (:func:`plotly_script`; pages holding several viewers
take the script once and each viewer as a fragment, ``include_plotlyjs=False``), MathJax
is neither used nor fetched, and the mode bar has no links. Pages stay small: at most
:data:`MAX_FRAMES` snapshots become frames (log-spaced in time where there are more) and
at most :data:`MAX_NEURONS` neurons are drawn as knots and particles (half the largest
final |rᵢ|, half evenly spaced by index; f itself is always the whole network); the page
says so. Arrays are embedded as base64 typed arrays (float32 where that is exact enough
to draw, float64 otherwise).

Plotly (``pip install plotly``) is imported only by the functions that write HTML, so
``import relu1d`` stays light.
"""

from __future__ import annotations

import base64
import functools
import html
import math
import re
from pathlib import Path

import numpy as np

from . import _storage
from ._validation import _short, as_int

__all__ = [
    "viewer_figure",
    "viewer_html",
    "viewer_fragment",
    "viewer_page",
    "write_viewer",
    "plotly_script",
    "load_run",
    "load_runs",
    "default_references",
    "frame_indices",
    "neuron_indices",
    "decode_array",
    "MAX_FRAMES",
    "MAX_NEURONS",
    "GRID_POINTS",
    "PLOTLY_CONFIG",
]

MAX_FRAMES = 60
"""Default largest number of frames (snapshots shown) of a viewer."""
MAX_NEURONS = 200
"""Default largest number of neurons drawn as knots and particles."""
GRID_POINTS = 300
"""Points of the x grid on which f and the reference curves are drawn."""
_MAX_LOSS_POINTS = 1000
_FLOAT32_SAFE = 1e30  # beyond it a value is embedded as float64 (float32 overflows at 3.4e38)

# the colours of relu1d.plot (matplotlib's C0, C2, C3)
_C0, _C2, _C3 = "#1f77b4", "#2ca02c", "#d62728"
_REFERENCE_COLOURS = ("#7f7f7f", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")

PLOTLY_CONFIG = {
    "displaylogo": False, "showSendToCloud": False,
    "showTips": False, "typesetMath": False, "responsive": True, "scrollZoom": False,
    "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"],
}
"""Plotly's ``config`` for every viewer: no Plotly logo or links, no MathJax."""


# ----------------------------------------------------------------------------- loading
def _is_trajectory(obj) -> bool:
    return all(hasattr(obj, name) for name in ("snapshots", "loss", "times", "steps", "network"))


def load_run(path, data=None):
    """A trajectory and its samples from a NetCDF file.

    Parameters
    ----------
    path : path
        A file written by :meth:`Trajectory.save`: the ``data.nc`` of a ``relu1d train``
        output folder, or a run ``runs/NAME.nc`` of an experiment's folder (both also
        hold the samples as ``data_x``, ``data_y``).
    data : Dataset or path, optional
        The samples (a Dataset, or a CSV file of x,y), overriding those in the file.

    Returns
    -------
    (Trajectory, Dataset or None)

    Raises
    ------
    ValueError
        When ``path`` is missing, unreadable, or not a trajectory (e.g. an experiment's
        ``data.nc``, which holds its measurements); the message says what to give.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run, samples = viewer.load_run(traj.save(pathlib.Path(tmp) / "run.nc"), data)
    >>> run.network.m, samples.s
    (6, 4)
    """
    from .data import Dataset
    from .train import Trajectory

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a file; give a trajectory written by relu1d train "
                         "(OUT/data.nc) or by an experiment (OUT/NAME/runs/*.nc)")
    try:
        traj = Trajectory.load(path)
    except ValueError as exc:
        if "must be finite" in str(exc):
            raise ValueError(
                f"{exc}: this trajectory holds NaN or inf values and cannot be shown; give a "
                "run whose recorded snapshots are finite (a diverged `relu1d train` keeps only "
                "its finite steps)"
            ) from None
        raise ValueError(
            f"{exc}. It is not a trajectory: give the data.nc written by `relu1d train`, "
            "a file written by Trajectory.save, or an experiment's run file OUT/NAME/runs/*.nc"
        ) from None
    if data is None:
        ds = _storage.read_netcdf(path)
        if "data_x" in ds.data_vars and "data_y" in ds.data_vars:
            data = Dataset(ds["data_x"].values, ds["data_y"].values)
    elif not isinstance(data, Dataset):
        data = Dataset.from_csv(data)
    return traj, data


def load_runs(path, data=None) -> dict:
    """Every run at ``path``: name → (Trajectory, Dataset or None).

    ``path`` is a trajectory file (see :func:`load_run`; the name is its stem) or a
    result folder: a ``relu1d train`` output (its ``data.nc``) or an experiment's folder
    (its ``runs/*.nc``).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     runs = viewer.load_runs(traj.save(pathlib.Path(tmp) / "run.nc"), data)
    >>> list(runs)
    ['run']
    """
    path = Path(path)
    if path.is_dir():
        files = sorted((path / "runs").glob("*.nc")) if (path / "runs").is_dir() else []
        if not files and path.resolve().name == "runs":  # the folder OUT/NAME/runs itself
            files = sorted(path.glob("*.nc"))
        if not files:
            meta = _storage.read_record_meta(path) or {}
            if (path / "data.nc").is_file() and meta.get("name", "train") == "train":
                files = [path / "data.nc"]
        if not files:
            raise ValueError(
                f"{str(path)!r} holds no training run: expected a relu1d train output folder "
                "(data.nc) or an experiment's folder with runs/*.nc (experiments that train "
                "networks write them)"
            )
        return {
            (f.parent.resolve().name if f.name == "data.nc" else f.stem): load_run(f, data)
            for f in files
        }
    return {path.stem: load_run(path, data)}


# ----------------------------------------------------------------------------- thinning
def frame_indices(times, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Which snapshots become frames: all when there are at most ``max_frames``; else the
    first, the last and those nearest to log-spaced times in between (so that fast early
    and slow late motion both show), topped up evenly by index to ``max_frames``.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import viewer
    >>> viewer.frame_indices(np.arange(100.0), max_frames=5)
    array([ 0,  1, 10, 25, 99])
    """
    times = np.asarray(times, dtype=float)
    n = times.size
    max_frames = as_int(max_frames, "max_frames", minimum=2)
    if n <= max_frames:
        return np.arange(n)
    chosen = {0, n - 1}
    positive = np.flatnonzero(times > 0)
    if positive.size:
        targets = (
            np.geomspace(times[positive[0]], times[-1], max_frames - 2)
            if max_frames > 2
            else np.empty(0)
        )
        pos = np.clip(np.searchsorted(times, targets), 1, n - 1)
        nearer = np.where(
            np.abs(times[pos - 1] - targets) < np.abs(times[pos] - targets), pos - 1, pos
        )
        chosen.update(int(k) for k in nearer)
    for k in np.round(np.linspace(0, n - 1, max_frames)).astype(int):
        if len(chosen) >= max_frames:
            break
        chosen.add(int(k))
    return np.array(sorted(chosen))


def neuron_indices(r_final, max_neurons: int = MAX_NEURONS) -> np.ndarray:
    """Which neurons are drawn: all when there are at most ``max_neurons``; else the half
    with the largest final |rᵢ| and the rest evenly spaced by index among the others
    (deterministic; sorted).

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import viewer
    >>> viewer.neuron_indices(np.array([3.0, -1.0, 0.5, 2.0, -4.0]), max_neurons=2)
    array([0, 4])
    """
    r_final = np.asarray(r_final, dtype=float)
    m = r_final.size
    max_neurons = as_int(max_neurons, "max_neurons", minimum=1)
    if m <= max_neurons:
        return np.arange(m)
    size = np.where(np.isfinite(r_final), np.abs(r_final), np.inf)
    big = np.argsort(-size, kind="stable")[:max_neurons // 2]
    rest = np.setdiff1d(np.arange(m), big)
    need = max_neurons - big.size
    spread = rest[np.round(np.linspace(0, rest.size - 1, need)).astype(int)]
    return np.union1d(big, spread)


# ----------------------------------------------------------------------------- references
def default_references(data) -> dict:
    """The reference curves drawn by default beside f: the linear interpolant, the natural
    cubic spline and the kernel interpolant (random-features kernel of the uniform
    initialisation, Williams et al. Thm. 5) of ``data``; those that cannot be built on
    these data are left out.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> sorted(viewer.default_references(relu1d.datasets.square_wave(4, seed=0)))
    ['kernel interpolant (uniform init)', 'linear interpolant', 'natural cubic spline']
    """
    from . import kernel, splines

    refs = {}
    for name, build in (
        ("linear interpolant", splines.linear),
        ("natural cubic spline", splines.natural_cubic),
        ("kernel interpolant (uniform init)", kernel.interpolant),
    ):
        try:
            refs[name] = build(data)
        except (ValueError, ArithmeticError):
            pass
    return refs


# ----------------------------------------------------------------------------- encoding
def _typed(values, *, force64: bool = False) -> dict:
    """A base64 typed array (Plotly's ``{"dtype", "bdata", "shape"}``): float32 when every
    finite value is small enough to be drawn from it, float64 otherwise; non-finite
    values become NaN (a gap)."""
    arr = np.array(values, dtype=float)
    arr[~np.isfinite(arr)] = np.nan
    finite = arr[np.isfinite(arr)]
    big = finite.size and float(np.max(np.abs(finite))) >= _FLOAT32_SAFE
    dtype = "<f8" if (force64 or big) else "<f4"
    spec = {
        "dtype": "f8" if dtype == "<f8" else "f4",
        "bdata": base64.b64encode(np.ascontiguousarray(arr, dtype=dtype).tobytes()).decode("ascii"),
    }
    if arr.ndim == 2:
        spec["shape"] = f"{arr.shape[0]}, {arr.shape[1]}"
    return spec


def decode_array(value) -> np.ndarray:
    """The numbers of a figure attribute: a typed array spec (see :func:`_typed`) or a list.

    Examples
    --------
    >>> from relu1d import viewer
    >>> viewer.decode_array([1, 2, 3])
    array([1., 2., 3.])
    """
    if isinstance(value, dict) and "bdata" in value:
        dtype = {"f4": "<f4", "f8": "<f8", "i4": "<i4", "i2": "<i2", "u1": "u1"}[value["dtype"]]
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=dtype).astype(float)
        if "shape" in value:
            arr = arr.reshape([int(n) for n in str(value["shape"]).split(",")])
        return arr
    return np.array([np.nan if v is None else v for v in value], dtype=float)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


# ----------------------------------------------------------------------------- figure
def _padded(
    lo: float, hi: float, frac: float, minimum: float = 1e-9
) -> list[float] | list[None]:
    pad = frac * max(hi - lo, minimum * max(1.0, abs(lo), abs(hi)))
    lo, hi = lo - pad, hi + pad
    return [lo, hi] if math.isfinite(lo) and math.isfinite(hi) else [None, None]


def _x_range(final, data) -> tuple[float, float]:
    """The x range of the f panel: the data range, else the middle 90 % of the final
    knots, padded by 15 % (as :func:`relu1d.plot.plot_function`)."""
    if data is not None:
        lo, hi = float(data.x[0]), float(data.x[-1])
    else:
        knots = final.knots[np.isfinite(final.knots)]
        lo, hi = (np.percentile(knots, [5, 95]) if knots.size else (-1.0, 1.0))
        lo, hi = float(lo), float(hi)
        if not hi - lo > 0:
            lo, hi = lo - 1.0, hi + 1.0
    pad = 0.15 * max(hi - lo, 1e-9)
    return lo - pad, hi + pad


def _evaluator(net, xmax: float):
    """f as a callable: the exact spline (:meth:`Network.to_spline`, one sort per frame
    instead of an m × n sum) for wide networks whose knots are not so far out that its
    prefix sums lose precision (the rule of :meth:`Network.__call__`); else the network."""
    if net.m >= 64:
        far = np.abs(net.b) > 1e8 * (1.0 + xmax) * np.abs(net.a)
        if not np.any(far & (net.a != 0)):
            try:
                return net.to_spline()
            except (ValueError, ArithmeticError):
                pass
    return net


def viewer_figure(
    trajectory,
    data=None,
    *,
    references=None,
    max_frames: int = MAX_FRAMES,
    max_neurons: int = MAX_NEURONS,
    grid_points: int = GRID_POINTS,
    title: str | None = None,
    frame_ms: int = 150,
) -> dict:
    """The viewer of one training run, as a Plotly figure dict (data, layout, frames).

    Parameters
    ----------
    trajectory : Trajectory
        From :func:`relu1d.train` or :meth:`Trajectory.load`.
    data : Dataset, optional
        The samples: drawn, their activation lines drawn, and the default references
        built from them.
    references : mapping of str to callable, optional
        Curves x ↦ g(x) drawn beside f (each toggled by its legend entry). None: the
        :func:`default_references` of ``data`` (none without data); ``{}``: none.
    max_frames : int >= 2
        At most this many snapshots become frames (:func:`frame_indices`).
    max_neurons : int >= 1
        At most this many neurons are drawn as knots and particles (:func:`neuron_indices`).
    grid_points : int >= 2
        Points of the x grid of f.
    title : str, optional
        Shown above the panels with the frame's step, time and loss.
    frame_ms : int >= 1
        Milliseconds per frame when playing.

    Returns
    -------
    dict
        A figure for ``plotly.io.to_html`` (or ``plotly.graph_objects.Figure``). Traces
        0–4 are animated (f, knots, particles with r ≥ 0, with r < 0, the loss marker);
        ``layout.meta`` records the snapshot index of each frame (``snapshots``), the
        neurons drawn (``neurons``) and the note shown on the page (thinning, overflow);
        the x grid of f is trace 0's ``x``. Arrays are typed-array dicts
        (:func:`decode_array` reads them back).

    Raises
    ------
    TypeError
        When ``trajectory`` is not a Trajectory, ``data`` not a Dataset, or a reference
        not callable.
    ValueError
        When the trajectory has no snapshot or no record, or a size argument is out of range.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> figure = viewer.viewer_figure(traj, data, max_frames=3)
    >>> sorted(figure), len(figure["frames"])
    (['data', 'frames', 'layout'], 3)
    """
    from .data import Dataset

    if not _is_trajectory(trajectory):
        raise TypeError(f"trajectory must be a relu1d Trajectory, got {_short(trajectory)}")
    if data is not None and not isinstance(data, Dataset):
        raise TypeError(f"data must be a relu1d.Dataset or None, got {_short(data)}")
    grid_points = as_int(grid_points, "grid_points", minimum=2)
    frame_ms = as_int(frame_ms, "frame_ms", minimum=1)
    snaps = trajectory.snapshots
    n_snap = len(snaps)
    if n_snap < 1 or np.size(trajectory.loss) < 1:
        raise ValueError("the trajectory has no snapshot or no record: nothing to show")
    if references is None:
        references = default_references(data) if data is not None else {}
    references = dict(references)
    for name, g in references.items():
        if not isinstance(name, str) or not callable(g):
            raise TypeError(
                f"references must map names (str) to callables x -> g(x); got {name!r}: {_short(g)}"
            )

    frames_k = frame_indices(snaps.times, max_frames)
    final = snaps.network(-1)
    with np.errstate(all="ignore"):
        r_final = final.canonical()[0]
    drawn = neuron_indices(r_final, max_neurons)
    m = final.m
    lo, hi = _x_range(final, data)
    grid = np.linspace(lo, hi, grid_points)
    overflow = 0

    f_rows, knots_x, knots_y, knots_cd, parts = [], [], [], [], []
    for k in frames_k:
        net = snaps.network(int(k))
        with np.errstate(all="ignore"):
            evaluate = _evaluator(net, max(abs(lo), abs(hi)))
            fx = evaluate(grid)
            r, theta = net.canonical()
            e = net.knots
            a, b, c = net.a[drawn], net.b[drawn], net.c[drawn]
            delta = net.invariants()[drawn]
            r, theta, e = r[drawn], theta[drawn], e[drawn]
            fe = np.full(drawn.size, np.nan)
            ok = np.isfinite(e)
            if ok.any():
                fe[ok] = evaluate(e[ok])
            u, v = np.abs(r) * np.cos(theta), np.abs(r) * np.sin(theta)
        overflow += int(np.sum(~np.isfinite(fx)) + np.sum(~np.isfinite(u) | ~np.isfinite(v)))
        f_rows.append(fx)
        knots_x.append(e)
        knots_y.append(fe)
        knots_cd.append(np.column_stack((drawn, r)))
        cd = np.column_stack((drawn, a, b, c, delta, r, theta, e))
        pos = r >= 0
        parts.append(((u[pos], v[pos], cd[pos]), (u[~pos], v[~pos], cd[~pos])))

    # fixed axes over the whole run
    with np.errstate(all="ignore"):
        f_all = np.concatenate(
            [np.ravel(f_rows)] + ([np.asarray(data.y)] if data is not None else [])
        )
        ref_values = {}
        for name, g in references.items():
            ref_values[name] = np.asarray(g(grid), dtype=float).reshape(grid.shape)
        f_all = f_all[np.isfinite(f_all)]
        y_range = (
            _padded(float(f_all.min()), float(f_all.max()), 0.08) if f_all.size else [None, None]
        )
        radii = np.concatenate(
            [np.hypot(p[0][0], p[0][1]) for p in parts]
            + [np.hypot(p[1][0], p[1][1]) for p in parts]
        )
    radii = radii[np.isfinite(radii)]
    limit = 1.1 * float(radii.max()) if radii.size and radii.max() > 0 else 1.0
    limit = limit if math.isfinite(limit) else float(np.max(radii))

    steps = np.asarray(snaps.steps)
    times = np.asarray(snaps.times, dtype=float)
    rec_steps = np.asarray(trajectory.steps)
    loss = np.asarray(trajectory.loss, dtype=float)
    rec_times = np.asarray(trajectory.times, dtype=float)
    at = np.clip(np.searchsorted(rec_steps, steps[frames_k]), 0, rec_steps.size - 1)
    frame_loss = loss[at]
    show = np.isfinite(loss) & (loss > 0) & (rec_times > 0)
    log_x = bool(show.any())
    if not log_x:
        show = np.isfinite(loss) & (loss > 0)
    t_floor = float(rec_times[show].min()) if log_x else 0.0
    keep = np.flatnonzero(show)
    if keep.size > _MAX_LOSS_POINTS:
        keep = keep[
            np.unique(np.round(np.geomspace(1, keep.size, _MAX_LOSS_POINTS)).astype(int) - 1)
        ]
    log_y = bool(show.any())
    marker_t = np.maximum(times[frames_k], t_floor) if log_x else times[frames_k]
    marker_loss = np.where(frame_loss > 0, frame_loss, np.nan) if log_y else frame_loss

    thinning = []
    if frames_k.size < n_snap:
        thinning.append(f"{frames_k.size} of the {n_snap} snapshots are shown (log-spaced in time)")
    if drawn.size < m:
        thinning.append(
            f"{drawn.size} of the {m} neurons are drawn as knots and particles (the "
            f"{max_neurons // 2} of largest final |r| and the rest evenly spaced by index); "
            "f is the whole network"
        )
    if n_snap == 1:
        thinning.append("the trajectory holds one snapshot: nothing moves")
    if log_x and times[frames_k[0]] <= 0:
        thinning.append(
            f"on the loss panel's log time axis, t = 0 is drawn at the first recorded time "
            f"t = {_fmt(t_floor)}"
        )
    if overflow:
        thinning.append(f"{overflow} value(s) overflow float64 arithmetic and are not drawn")
    note = "; ".join(thinning) + ("." if thinning else "")
    hover_neuron = (
        "neuron %{customdata[0]}<br>a = %{customdata[1]:.4g}<br>b = %{customdata[2]:.4g}"
        "<br>c = %{customdata[3]:.4g}<br>δ = %{customdata[4]:.4g}<br>r = %{customdata[5]:.4g}"
        "<br>θ = %{customdata[6]:.4f}<br>knot e = %{customdata[7]:.4g}<extra></extra>"
    )

    def animated(j):
        (up, vp, cdp), (un, vn, cdn) = parts[j]
        return [
            {"y": _typed(f_rows[j])},
            {"x": _typed(knots_x[j]), "y": _typed(knots_y[j]), "customdata": _typed(knots_cd[j])},
            {"x": _typed(up), "y": _typed(vp), "customdata": _typed(cdp)},
            {"x": _typed(un), "y": _typed(vn), "customdata": _typed(cdn)},
            {
                "x": [float(marker_t[j])],
                "y": [float(marker_loss[j]) if math.isfinite(marker_loss[j]) else None],
                "customdata": [float(times[frames_k[j]])],
            },
        ]

    first = animated(0)
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "f(x)",
            "uid": "f",
            "x": _typed(grid, force64=True),
            **first[0],
            "line": {"color": _C0, "width": 2},
            "xaxis": "x",
            "yaxis": "y",
            "hovertemplate": "f(%{x:.4g}) = %{y:.4g}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "knots (eᵢ, f(eᵢ))",
            "uid": "knots",
            **first[1],
            "marker": {"symbol": "circle-open", "size": 6, "color": _C2},
            "xaxis": "x",
            "yaxis": "y",
            "hovertemplate": "neuron %{customdata[0]}<br>knot e = %{x:.4g}<br>f(e) = %{y:.4g}<br>"
            "r = %{customdata[1]:.4g}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "particles, rᵢ ≥ 0",
            "uid": "particles-pos",
            **first[2],
            "marker": {"size": 5, "color": _C3},
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": hover_neuron,
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "particles, rᵢ < 0",
            "uid": "particles-neg",
            **first[3],
            "marker": {"size": 5, "color": _C0},
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": hover_neuron,
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "now",
            "uid": "now",
            **first[4],
            "showlegend": False,
            "marker": {"size": 10, "color": _C3},
            "xaxis": "x3",
            "yaxis": "y3",
            "hovertemplate": "t = %{customdata:.4g}<br>loss = %{y:.4g}<extra></extra>",
        },
    ]
    if data is not None:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "samples (xⱼ, yⱼ)",
                "x": _typed(data.x, force64=True),
                "y": _typed(data.y, force64=True),
                "marker": {
                    "symbol": "x-thin",
                    "size": 9,
                    "color": _C3,
                    "line": {"width": 2, "color": _C3},
                },
                "xaxis": "x",
                "yaxis": "y",
                "hovertemplate": "x = %{x:.4g}<br>y = %{y:.4g}<extra></extra>",
            }
        )
        seg = np.array([-limit, limit, np.nan])
        lx = np.tile(seg, data.s)
        ly = np.concatenate([-xj * seg for xj in data.x])
        traces.append({"type": "scatter", "mode": "lines", "name": "activation lines u·xⱼ + v = 0",
                       "x": _typed(lx, force64=True), "y": _typed(ly, force64=True),
                       "line": {"color": "#999999", "width": 0.8}, "xaxis": "x2", "yaxis": "y2",
                       "hoverinfo": "skip"})
    for q, (name, values) in enumerate(ref_values.items()):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": _typed(grid, force64=True),
                "y": _typed(values),
                "visible": "legendonly",
                "xaxis": "x",
                "yaxis": "y",
                "line": {
                    "color": _REFERENCE_COLOURS[q % len(_REFERENCE_COLOURS)],
                    "width": 1.3,
                    "dash": "dash",
                },
                "hovertemplate": name + ": %{y:.4g}<extra></extra>",
            }
        )
    traces.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "loss",
            "showlegend": False,
            "x": _typed(
                np.maximum(rec_times[keep], t_floor) if log_x else rec_times[keep], force64=True
            ),
            "y": _typed(loss[keep], force64=True),
            "line": {"color": "#444444", "width": 1.4},
            "xaxis": "x3",
            "yaxis": "y3",
            "hovertemplate": "t = %{x:.4g}<br>loss = %{y:.4g}<extra></extra>",
        }
    )

    head = (title + " · ") if title else ""

    def label(j):
        k = int(frames_k[j])
        return (f"{head}step {int(steps[k])} · t = {_fmt(float(times[k]))} · "
                f"loss = {_fmt(float(frame_loss[j]))}")

    frames = [{"name": str(j), "data": animated(j), "traces": [0, 1, 2, 3, 4],
               "layout": {"title": {"text": label(j)}}} for j in range(frames_k.size)]
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}, "mode": "immediate"}
    jump = {
        "frame": {"duration": 0, "redraw": True},
        "transition": {"duration": 0},
        "mode": "immediate",
    }
    axis = {"showline": True, "linecolor": "#888888", "mirror": True, "zeroline": False}
    layout = {
        "title": {
            "text": label(0),
            "x": 0.01,
            "xanchor": "left",
            "y": 0.99,
            "yref": "container",
            "yanchor": "top",
            "font": {"size": 15},
        },
        "height": 590,
        "margin": {"l": 60, "r": 20, "t": 130, "b": 150},
        "template": {"layout": {"plot_bgcolor": "white", "paper_bgcolor": "white"}},
        "hovermode": "closest",
        "showlegend": True,
        "legend": {
            "orientation": "h",
            "x": 0.0,
            "y": 1.03,
            "yanchor": "bottom",
            "font": {"size": 11},
        },
        "xaxis": {
            **axis,
            "domain": [0.0, 0.36],
            "range": [lo, hi],
            "title": {"text": "x"},
            "anchor": "y",
        },
        "yaxis": {
            **axis,
            "domain": [0.0, 1.0],
            "title": {"text": "f(x)"},
            "anchor": "x",
            **({"range": y_range} if y_range[0] is not None else {"autorange": True}),
        },
        "xaxis2": {
            **axis,
            "domain": [0.43, 0.70],
            "range": [-limit, limit],
            "anchor": "y2",
            "title": {"text": "u = |r| cos θ"},
        },
        "yaxis2": {
            **axis,
            "domain": [0.0, 1.0],
            "range": [-limit, limit],
            "anchor": "x2",
            "scaleanchor": "x2",
            "scaleratio": 1,
            "title": {"text": "v = |r| sin θ", "standoff": 2},
        },
        "xaxis3": {
            **axis,
            "domain": [0.78, 1.0],
            "anchor": "y3",
            "type": "log" if log_x else "linear",
            "title": {"text": "time t = lr·step"},
        },
        "yaxis3": {
            **axis,
            "domain": [0.0, 1.0],
            "anchor": "x3",
            "type": "log" if log_y else "linear",
            "title": {"text": "loss", "standoff": 2},
        },
        "updatemenus": [
            {
                "type": "buttons",
                "direction": "left",
                "showactive": False,
                "x": 0.0,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 72, "r": 10},
                "buttons": [
                    {"label": "▶ play", "method": "animate", "args": [None, play]},
                    {"label": "❚❚ pause", "method": "animate", "args": [[None], jump]},
                ],
            }
        ],
        "sliders": [
            {
                "active": 0,
                "x": 0.17,
                "len": 0.83,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 60, "b": 0},
                "font": {"size": 1, "color": "rgba(0,0,0,0)"},
                "currentvalue": {
                    "prefix": "step ",
                    "visible": True,
                    "xanchor": "left",
                    "font": {"size": 13, "color": "#333333"},
                },
                "transition": {"duration": 0},
                "steps": [
                    {"label": str(int(steps[k])), "method": "animate", "args": [[str(j)], jump]}
                    for j, k in enumerate(frames_k)
                ],
            }
        ],
        "meta": {
            "relu1d_viewer": 1,
            "snapshots": [int(k) for k in frames_k],
            "steps": [int(steps[k]) for k in frames_k],
            "neurons": [int(i) for i in drawn],
            "m": int(m),
            "n_snapshots": int(n_snap),
            "note": note,
            "references": list(ref_values),
        },
    }
    return {"data": traces, "layout": layout, "frames": frames}


# ----------------------------------------------------------------------------- HTML
def _plotly():
    try:
        import plotly.io as pio
    except ImportError:
        raise ImportError(
            "the interactive viewer needs Plotly: pip install plotly (or pip install relu1d, which "
            "depends on it)"
        ) from None
    return pio


@functools.lru_cache(maxsize=1)
def plotly_script() -> str:
    """``<script>`` holding plotly.js (the bundle shipped with the plotly package, about
    4.8 MB): include it once per page, before any viewer fragment.

    Examples
    --------
    >>> from relu1d import viewer
    >>> script = viewer.plotly_script()
    >>> script.startswith("<script"), script.rstrip().endswith("</script>")
    (True, True)
    """
    _plotly()
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript" charset="utf-8">{get_plotlyjs()}</script>'


def _div_id(name: str) -> str:
    return "relu1d-view-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "run")


def viewer_fragment(figure: dict, *, name: str = "run") -> str:
    """One viewer as an HTML fragment (a ``div`` and its ``Plotly.newPlot`` call), without
    plotly.js: put :func:`plotly_script` once before it. ``name`` makes its element id
    (unique per page). The fragment is wrapped in ``<div class="relu1d-viewer">`` with
    the thinning note below the figure.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> figure = viewer.viewer_figure(traj, data, max_frames=3)
    >>> fragment = viewer.viewer_fragment(figure, name="run")
    >>> fragment.count("Plotly.newPlot"), 'id="relu1d-view-run"' in fragment
    (1, True)
    """
    pio = _plotly()
    if not isinstance(figure, dict) or "data" not in figure or "layout" not in figure:
        raise TypeError(f"figure must be a figure dict from viewer_figure, got {_short(figure)}")
    body = pio.to_html(
        figure,
        config=PLOTLY_CONFIG,
        auto_play=False,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        validate=False,
        div_id=_div_id(name),
        default_width="100%",
        default_height=f"{figure['layout'].get('height', 560)}px",
    )
    note = (figure["layout"].get("meta") or {}).get("note", "")
    help_text = (
        "Drag the slider or press play; hover a particle for its neuron's parameters; click a "
        "legend entry to show or hide a curve (reference curves start hidden)."
    )
    return (
        f"<div class='relu1d-viewer'>{body}"
        "<p class='viewer-note' style='font-size:.85em;color:#555'>"
        f"{html.escape(help_text)}{(' ' + html.escape(note)) if note else ''}</p></div>"
    )


def viewer_page(fragments, *, title: str = "relu1d viewer", intro: str = "") -> str:
    """A complete page: plotly.js once, then each fragment (see :func:`viewer_fragment`).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> figure = viewer.viewer_figure(traj, data, max_frames=3)
    >>> page = viewer.viewer_page([viewer.viewer_fragment(figure, name="a"),
    ...                            viewer.viewer_fragment(figure, name="b")], title="two runs")
    >>> page.count("Plotly.newPlot")        # plotly.js is included once, each viewer once
    2
    """
    fragments = list(fragments)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;"
        "margin:1.5em auto;max-width:1300px;padding:0 1em;color:#1b1b1b}</style>"
        f"{plotly_script()}</head><body>\n<h1>{html.escape(title)}</h1>\n"
        + (f"<p>{html.escape(intro)}</p>\n" if intro else "")
        + "\n".join(fragments)
        + "\n</body></html>\n"
    )


def viewer_html(trajectory, data=None, *, title: str | None = None, **kwargs) -> str:
    """A self-contained page viewing one run (see :func:`viewer_figure` for the arguments).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> page = viewer.viewer_html(traj, data, title="a run", max_frames=3)
    >>> page.startswith("<!DOCTYPE html>"), "<title>a run</title>" in page
    (True, True)
    """
    figure = viewer_figure(trajectory, data, title=None, **kwargs)
    heading = title or "relu1d trajectory viewer"
    return viewer_page(
        [viewer_fragment(figure, name="run")], title=heading, intro=_describe(trajectory, data)
    )


def _describe(trajectory, data) -> str:
    net = trajectory.network
    opts = trajectory.options or {}
    bits = [f"method {trajectory.method}", f"m = {net.m}", f"α = {net.alpha:g}"]
    if "lr" in opts:
        bits.append(f"lr = {opts['lr']:g}")
    bits.append(f"{int(trajectory.steps[-1])} steps")
    if data is not None:
        bits.append(f"{data.s} samples")
    if trajectory.interrupted:
        bits.append("interrupted (partial record)")
    return ", ".join(bits) + "."


def write_viewer(trajectory, path, data=None, *, title: str | None = None, **kwargs) -> Path:
    """Write :func:`viewer_html` to ``path`` atomically; returns the path.

    Several runs on one page: ``trajectory`` may be a mapping name → Trajectory or
    name → (Trajectory, Dataset or None) (then ``data`` is the default samples).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import viewer
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = viewer.write_viewer(traj, pathlib.Path(tmp) / "run.html", data, max_frames=3)
    ...     print(path.name, path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>"))
    run.html True
    """
    if isinstance(trajectory, dict):
        fragments = []
        for name, run in trajectory.items():
            traj, samples = run if isinstance(run, tuple) else (run, data)
            fragments.append(
                f"<h2>{html.escape(str(name))}</h2><p>{html.escape(_describe(traj, samples))}</p>"
                + viewer_fragment(viewer_figure(traj, samples, **kwargs), name=str(name))
            )
        text = viewer_page(fragments, title=title or "relu1d trajectory viewer")
    else:
        text = viewer_html(trajectory, data, title=title, **kwargs)
    return _storage.write_text(path, text)

