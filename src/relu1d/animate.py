"""Animations of a training run: watch the knots travel, the particles flow, the loss fall.

Each frame has three synchronised panels (issue 13, item 1):

1. the network function f on a fixed grid with its knots (eᵢ, f(eᵢ)), the samples and,
   optionally, reference curves (kernel interpolant, natural cubic spline, linear
   interpolant, or any callable);
2. the particle plane (uᵢ, vᵢ) = (|rᵢ| cos θᵢ, |rᵢ| sin θᵢ) coloured by sign(rᵢ), with each
   sample xⱼ drawn as its activation line u·xⱼ + v = 0 (Williams et al. 2019, eq. 6 and
   Fig. 1 right; the conventions of :func:`relu1d.plot.plot_particles`);
3. the loss against time t = lr·step on log axes, with a marker at the frame's time.

Frames are taken at recorded snapshots, by default :data:`DEFAULT_FRAMES` of them spread
evenly in log-time (:func:`choose_frames`), so that the fast early motion and the slow
late motion both show. The axes are fixed over the whole movie and robust to huge values:
values that sit more than :data:`_GAP_DECADES` decades beyond the rest and beyond the
scale of the end state (a blow-up, an overflowing neuron: a jump in their sorted
deviations, searched above the median, so it holds whatever their share below one
half) are left off; of the others, the f axis
holds those within the central :data:`QUANTILE` range widened by its own width on each
side and within :data:`SPAN_CAP` data scales of the samples, plus the samples and the
reference curves; the particle plane holds the radii up to three times their
:data:`QUANTILE` quantile. Particles beyond it are drawn on its edge circle, in their
direction, and counted in the frame label; f beyond the axis leaves it as a line does.
So a few huge values never shrink the picture to a dot, and
an ordinary run shows everything.

Rendering draws the static parts (axes, samples, activation lines, the loss curve,
legends) once and only the moving artists per frame (matplotlib "blitting" on the Agg
canvas). GIFs are written by Pillow with one palette for the whole movie (no colour
flicker between frames); MP4 by an ``ffmpeg`` program on the PATH (raw frames on its
standard input, H.264). Every movie is written to a temporary name beside the target
and renamed onto it only when complete (``relu1d._storage.atomic_write``): Ctrl-C or an
error never leaves a partial movie under the final name.

matplotlib is imported only when a movie is built.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from . import _storage
from ._validation import as_int, as_real
from .data import Dataset
from .network import Network

__all__ = ["animate", "animate_run", "build_scene", "choose_frames", "load_run", "reference_curves",
           "Scene", "FrameData", "FFmpegNotFound", "FORMATS", "REFERENCES", "DEFAULT_FRAMES",
           "QUANTILE", "SPAN_CAP", "MAX_PARTICLES"]

FORMATS = (".gif", ".mp4")
REFERENCES = ("kernel", "natural_cubic", "linear", "rnorm")
DEFAULT_FRAMES = 60
# the fixed axes hold this central fraction of the values drawn over the whole movie
QUANTILE = 0.98
# the f axis spans at most this many data scales (max(ptp y, max |y|)) about the samples
SPAN_CAP = 10.0
# at most this many particles and knots are drawn (the same neurons in every frame)
MAX_PARTICLES = 5000
# a jump of more than this many decades between sorted deviations marks the values beyond it
# as far out (robust limits; see _inliers)
_GAP_DECADES = 3.0
_FIG_SIZE_PX = (1320, 420)
_LAST_FRAME_HOLD_MS = 1000
_COLORS = {"pos": "C3", "neg": "C0", "knots": "C2", "f": "C0", "samples": "C3"}
_REF_STYLES: dict[str | None, tuple[str, str]] = {
    "kernel": ("C1", "--"),
    "natural_cubic": ("C4", ":"),
    "linear": ("0.45", "-."),
    "rnorm": ("C8", "--"),
}
FFMPEG_HELP = (
    "writing .mp4 needs the ffmpeg program on the PATH, and none was found: install it "
    "(Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg; conda: conda install -c "
    "conda-forge ffmpeg) or write a .gif instead (--out movie.gif)"
)


class FFmpegNotFound(RuntimeError):
    """An .mp4 was asked for and no ``ffmpeg`` program is on the PATH."""


# --------------------------------------------------------------------------- frames
def choose_frames(times, n: int = DEFAULT_FRAMES) -> np.ndarray:
    """Indices of ``min(n, len(times))`` snapshots spread evenly in log-time.

    The first snapshot (t = 0 in a run from step 0) and the last are always chosen. Among
    the snapshots with t > 0, q targets evenly spaced in log t (from the first to the
    last) each take the snapshot nearest to them, with q the smallest count that yields
    enough distinct snapshots; if it yields too few (snapshots too sparse where the
    targets crowd, e.g. the first steps of evenly recorded runs), the widest remaining
    gaps in log t are split at the snapshot nearest their middle until there are
    enough. Log-spaced snapshots thus give evenly spaced frame indices; evenly spaced
    ones (``record_every``) give every early snapshot and log-spaced later ones.

    Parameters
    ----------
    times : (k,) array of non-negative, non-decreasing floats
        The snapshot times (``traj.snapshots.times``).
    n : int >= 1

    Returns
    -------
    (min(n, k),) int array, increasing.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import animate
    >>> animate.choose_frames(np.array([0.0, 1.0, 2.0, 5.0, 10.0, 100.0, 1000.0]), n=4)
    array([0, 1, 4, 6])
    """
    times = np.asarray(times, dtype=float)
    n = as_int(n, "n", minimum=1)
    k = times.size
    if k == 0:
        raise ValueError("there are no snapshots to choose frames from")
    if n >= k:
        return np.arange(k)
    if n == 1:
        return np.array([k - 1])
    positive = np.flatnonzero(times > 0)
    if positive.size < 2:  # nothing to spread in log-time: evenly in index
        return np.unique(np.linspace(0, k - 1, n).round().astype(np.int64))
    zero = [0] if times[0] <= 0 else []
    want = n - len(zero)
    if want >= positive.size:  # every positive one, the rest evenly among t <= 0
        rest = np.setdiff1d(np.arange(k), positive)
        extra = rest[
            np.unique(np.linspace(0, rest.size - 1, n - positive.size).round().astype(np.int64))
        ]
        return np.union1d(extra, positive)
    if want == 1:
        return np.array(zero + [k - 1], dtype=np.int64)
    logt = np.maximum.accumulate(np.log(times[positive]))

    def picks(q: int) -> np.ndarray:
        targets = np.linspace(logt[0], logt[-1], q)
        right = np.clip(np.searchsorted(logt, targets), 1, logt.size - 1)
        left = right - 1
        nearest = np.where(targets - logt[left] <= logt[right] - targets, left, right)
        return np.unique(nearest)

    lo, hi = want, max(want, 2)
    while picks(hi).size < want and hi < 1 << 20:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # smallest q with enough picks (counts grow with q, up to rounding)
        mid = (lo + hi) // 2
        if picks(mid).size >= want:
            hi = mid
        else:
            lo = mid
    first = picks(hi)
    if first.size > want:
        first = picks(lo) if picks(lo).size <= want else first[:0]
    chosen = set(first.tolist()) | {0, positive.size - 1}
    while len(chosen) > want:  # rounding overshoot: drop the pick whose neighbours are closest
        arr = np.array(sorted(chosen))
        span = logt[arr[2:]] - logt[arr[:-2]]
        chosen.discard(int(arr[1 + int(np.argmin(span))]))
    while len(chosen) < want:  # split the widest gap that still holds a snapshot
        arr = np.array(sorted(chosen))
        room = np.diff(arr) > 1
        width = np.where(room, np.diff(logt[arr]), -np.inf)
        g = int(np.lexsort((-np.diff(arr), -width))[0])
        a, b = int(arr[g]), int(arr[g + 1])
        inside = np.arange(a + 1, b)
        chosen.add(int(inside[np.argmin(np.abs(logt[inside] - 0.5 * (logt[a] + logt[b])))]))
    return np.concatenate([zero, positive[np.array(sorted(chosen))]]).astype(np.int64)


def _frame_indices(frames, n_snap: int, times) -> np.ndarray:
    if frames is None:
        return choose_frames(times, DEFAULT_FRAMES)
    if isinstance(frames, (int, np.integer)) and not isinstance(frames, bool):
        return choose_frames(times, as_int(frames, "frames", minimum=1))
    if isinstance(frames, (str, bytes)) or not hasattr(frames, "__len__"):
        raise TypeError(
            f"frames must be None, a number of frames or a sequence of snapshot indices; "
            f"got {type(frames).__name__}"
        )
    idx = [as_int(k, "frames[i]") for k in frames]
    if not idx:
        raise ValueError("frames must hold at least one snapshot index")
    bad = [k for k in idx if not -n_snap <= k < n_snap]
    if bad:
        raise ValueError(
            f"frames holds snapshot indices {bad[:5]} out of range for {n_snap} snapshot(s) "
            f"(valid: 0..{n_snap - 1}, or negative from the end)"
        )
    return np.array([k % n_snap for k in idx], dtype=np.int64)


# --------------------------------------------------------------------------- references
def reference_curves(
    references, data: Dataset | None, network: Network | None = None
) -> list[tuple[str, Callable]]:
    """``(label, function)`` pairs for the reference curves.

    Parameters
    ----------
    references : sequence
        Each entry is one of :data:`REFERENCES` ("kernel": the minimum-RKHS-norm
        interpolant of the c-only kernel regime, :func:`relu1d.kernel.interpolant`, for the
        run's init distribution, uniform or gaussian, read from the network's
        provenance, uniform where it is not recorded; "natural_cubic" and "linear":
        :mod:`relu1d.splines`; "rnorm": the minimum-representation-cost interpolant of
        weight-decayed training, the adaptive end, :func:`relu1d.endpoints.rnorm`), a
        callable ``g(x) -> y`` (labelled by its ``__name__``, e.g. an endpoint of
        :mod:`relu1d.endpoints`), or a ``(label, callable)`` pair.
    data : Dataset or None
        Needed by the named references.
    network : Network, optional
        Its provenance gives the init distribution of "kernel".

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import animate
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> [label for label, f in animate.reference_curves(("linear", "natural_cubic"), data)]
    ['linear interpolant', 'natural cubic spline']
    """
    out = []
    for ref in _as_sequence(references):
        if (
            isinstance(ref, tuple)
            and len(ref) == 2
            and isinstance(ref[0], str)
            and callable(ref[1])
        ):
            out.append((ref[0], ref[1]))
        elif isinstance(ref, str):
            if ref not in REFERENCES:
                raise ValueError(
                    f"references: unknown reference {ref!r}; use one of "
                    f"{', '.join(map(repr, REFERENCES))}, a callable g(x) or a (label, callable) "
                    "pair"
                )
            if data is None:
                raise ValueError(
                    f"reference {ref!r} needs the samples: pass data "
                    "(--data CSV on the command line)"
                )
            out.append(_named_reference(ref, data, network))
        elif callable(ref):
            out.append((getattr(ref, "__name__", None) or type(ref).__name__, ref))
        else:
            raise TypeError(
                f"references: each entry must be a name ({', '.join(REFERENCES)}), a callable or a "
                f"(label, callable) pair; got {type(ref).__name__}"
            )
    return out


def _as_sequence(references) -> tuple:
    if references is None:
        return ()
    if isinstance(references, str) or callable(references):
        return (references,)
    return tuple(references)


def _named_reference(name: str, data: Dataset, network: Network | None) -> tuple[str, Callable]:
    if name == "natural_cubic":
        from .splines import natural_cubic

        return "natural cubic spline", natural_cubic(data)
    if name == "linear":
        from .splines import linear

        return "linear interpolant", linear(data)
    if name == "rnorm":
        from .endpoints import rnorm

        return "min-cost interpolant (rnorm)", rnorm(data)
    from .kernel import interpolant

    scheme = None if network is None else network.provenance.get("scheme")
    if scheme in (None, "uniform"):
        init = "uniform"
    elif scheme == "gaussian":
        init = "gaussian"
    else:
        raise ValueError(
            f"reference 'kernel' needs the init distribution of (a, b), uniform or gaussian; this "
            f"run's init scheme is {scheme!r}; pass a callable instead, e.g. "
            f"relu1d.kernel.interpolant(data, init=relu1d.kernel.Density(p))"
        )
    return f"kernel interpolant ({init} init)", interpolant(data, init=init)


# --------------------------------------------------------------------------- scene
@dataclass(frozen=True, eq=False)
class FrameData:
    """What frame ``i`` of a :class:`Scene` shows (exact values, before any clipping to
    the axes).

    Attributes
    ----------
    snapshot : int
        Index into ``traj.snapshots``.
    step : int
    time : float
    x, f : (n,) arrays
        The plotting grid and f on it (``traj.snapshots.network(snapshot)(x)``).
    knots_x, knots_y : arrays
        The drawn knots eᵢ inside the x-range and f(eᵢ).
    u, v : (p,) arrays
        The drawn particles (p = m, or :data:`MAX_PARTICLES` of them).
    positive : (p,) bool array
        rᵢ >= 0.
    loss : float
        The loss at this step (NaN if that step has no record).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import animate
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> frame = animate.build_scene(traj, data, frames=4, grid_points=50, dpi=40).frame_data(1)
    >>> frame.snapshot, frame.step, frame.x.shape, frame.u.shape      # 6 neurons as particles
    (1, 20, (50,), (6,))
    """

    snapshot: int
    step: int
    time: float
    x: np.ndarray
    f: np.ndarray
    knots_x: np.ndarray
    knots_y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    positive: np.ndarray
    loss: float


@dataclass(eq=False)
class _Limits:
    x: tuple
    y: tuple
    radius: float
    loss_x: tuple
    loss_y: tuple
    log10_loss: bool


class Scene:
    """The figure of an animation and the artists each frame moves.

    Built by :func:`build_scene`. ``scene.show(i)`` puts frame ``i`` into the artists
    (``scene.artists["f"].get_data()`` is then the drawn grid and f) and returns its
    :class:`FrameData`; ``scene.render(i)`` also draws it and returns the RGBA pixels.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    frames : (n,) int array
        The snapshot index of each frame.
    grid : (g,) array
        The x grid of the f panel.
    artists : dict
        "f", "knots", "pos", "neg" (particle scatters), "marker" (the loss marker),
        "label" (the frame's text) and "references" (a list of lines).
    limits : _Limits
        The fixed axis limits.
    notes : list of str
        What the viewer should know (particles beyond the axes, thinning, one snapshot).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import animate
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> scene = animate.build_scene(traj, data, frames=3, grid_points=50, dpi=40)
    >>> scene.render(0).shape                 # RGBA pixels of frame 0
    (168, 528, 4)
    """

    def __init__(self, traj, data: Dataset | None, frames: np.ndarray, references, grid_points: int,
                 dpi: float):
        self.traj = traj
        self.data = data
        self.snapshots = traj.snapshots
        self.frames = frames
        self._notes: list[str] = []
        self._far_particles: set = set()   # frames with particles beyond the axes
        self._far_f: set = set()           # frames where f leaves the axes
        self._refs = reference_curves(references, data, traj.network)
        self._ref_names = [
            ref if isinstance(ref, str) else None for ref in _as_sequence(references)
        ]
        m = int(self.snapshots.a.shape[1])
        self._shown = (
            np.arange(m)
            if m <= MAX_PARTICLES
            else np.unique(np.linspace(0, m - 1, MAX_PARTICLES).round().astype(np.int64))
        )
        if m > MAX_PARTICLES:
            self._notes.append(
                f"{self._shown.size} of the {m} particles and knots are drawn (the same neurons in "
                "every frame)"
            )
        if len(self.snapshots) == 1:
            self._notes.append(
                "the trajectory holds a single snapshot "
                f"(step {int(self.snapshots.steps[0])}): the movie is one still frame"
            )
        self.grid = np.linspace(*self._x_range(), int(grid_points))
        self._f_cache: dict[int, np.ndarray] = {}
        self.limits = self._limits()
        self._build(dpi)

    # ---------------------------------------------------------------- data
    def _x_range(self) -> tuple[float, float]:
        if self.data is not None:
            lo, hi = float(self.data.x[0]), float(self.data.x[-1])
        else:
            knots = np.concatenate([self.snapshots.network(int(k)).knots for k in self.frames])
            knots = knots[np.isfinite(knots)]
            lo, hi = np.quantile(knots, [0.05, 0.95]) if knots.size else (-1.0, 1.0)
        if not hi - lo > 0:
            lo, hi = lo - 1.0, hi + 1.0
        pad = 0.15 * (hi - lo)
        return float(lo - pad), float(hi + pad)

    def _network(self, k: int) -> Network:
        return self.snapshots.network(int(k))

    def _f(self, k: int) -> np.ndarray:
        if k not in self._f_cache:
            with np.errstate(over="ignore", invalid="ignore"):
                self._f_cache[k] = np.asarray(self._network(k)(self.grid), dtype=float)
        return self._f_cache[k]

    def frame_data(self, i: int) -> FrameData:
        """The data of frame ``i`` (0 <= i < len(frames))."""
        i = as_int(i, "i")
        if not 0 <= i < len(self.frames):
            raise IndexError(f"frame i = {i} out of range for {len(self.frames)} frame(s)")
        k = int(self.frames[i])
        net = self._network(k)
        lo, hi = self.grid[0], self.grid[-1]
        knots = net.knots[self._shown]
        inside = np.isfinite(knots) & (knots >= lo) & (knots <= hi)
        kx = knots[inside]
        with np.errstate(over="ignore", invalid="ignore"):
            ky = np.asarray(net(kx), dtype=float) if kx.size else np.empty(0)
            r, theta = net.canonical()
            r, theta = r[self._shown], theta[self._shown]
            u, v = np.abs(r) * np.cos(theta), np.abs(r) * np.sin(theta)
        step = int(self.snapshots.steps[k])
        rec = np.searchsorted(self.traj.steps, step)
        loss = (
            float(self.traj.loss[rec])
            if rec < self.traj.steps.size and int(self.traj.steps[rec]) == step
            else float("nan")
        )
        return FrameData(
            k,
            step,
            float(self.snapshots.times[k]),
            self.grid,
            self._f(k),
            kx,
            ky,
            u,
            v,
            r >= 0,
            loss,
        )

    def _limits(self) -> _Limits:
        value_parts: list[np.ndarray] = []
        radius_parts: list[np.ndarray] = []
        for k in self.frames:
            f = self._f(int(k))
            value_parts.append(f[np.isfinite(f)])
            net = self._network(int(k))
            with np.errstate(over="ignore", invalid="ignore"):
                rad = np.abs(net.canonical()[0][self._shown])
            radius_parts.append(rad[np.isfinite(rad)])
        radii_end = radius_parts[-1]
        values = np.concatenate(value_parts)
        radii = np.concatenate(radius_parts)
        # nothing beyond SPAN_CAP data scales about the samples
        if self.data is not None and values.size:
            y = self.data.y
            scale = max(float(np.ptp(y)), float(np.max(np.abs(y))), 1e-12)
            values = values[
                np.abs(values - 0.5 * (float(y.min()) + float(y.max()))) <= SPAN_CAP * scale
            ]
        # the scale of the end state: values below it never count as a gap (see _inliers)
        if self.data is not None:
            floor = max(float(np.ptp(self.data.y)), float(np.max(np.abs(self.data.y))))
        else:
            end = self._f(int(self.frames[-1]))
            end = end[np.isfinite(end)]
            floor = float(np.ptp(end)) if end.size else 0.0
        parts = list(_robust_range(values, floor)) if values.size else []
        for _, g in self._refs:
            with np.errstate(over="ignore", invalid="ignore"):
                gy = np.asarray(g(self.grid), dtype=float).ravel()
            gy = gy[np.isfinite(gy)]
            if gy.size:
                parts += [float(gy.min()), float(gy.max())]
        if self.data is not None:
            parts += [float(self.data.y.min()), float(self.data.y.max())]
        lo, hi = (min(parts), max(parts)) if parts else (-1.0, 1.0)
        if not hi - lo > 0:
            half = max(abs(lo), 1.0) * 0.5
            lo, hi = lo - half, hi + half
        pad = 0.08 * (hi - lo)
        radius = _robust_radius(radii, float(np.median(radii_end)) if radii_end.size else 0.0)
        # the loss panel: records with t > 0 and a positive finite loss
        t, loss = np.asarray(self.traj.times, float), np.asarray(self.traj.loss, float)
        ok = (t > 0) & np.isfinite(loss) & (loss > 0)
        if ok.any():
            t0, t1 = float(t[ok].min()), float(t[ok].max())
            loss_x = (t0 / 2.0, t1 * 1.5) if t1 > t0 else (t0 / 3.0, t0 * 3.0)
            l0, l1 = float(loss[ok].min()), float(loss[ok].max())
        else:
            loss_x = (0.5, 2.0)
            pos = loss[np.isfinite(loss) & (loss > 0)]
            l0, l1 = (float(pos.min()), float(pos.max())) if pos.size else (0.1, 10.0)
        log10 = l1 > 1e100 or l1 / l0 > 1e100
        if log10:
            loss_y = (math.log10(l0) - 0.5, math.log10(l1) + 0.5)
        else:
            loss_y = (l0 / 2.0, l1 * 2.0) if l1 > l0 else (l0 / 3.0, l0 * 3.0)
        return _Limits(
            (float(self.grid[0]), float(self.grid[-1])),
            (lo - pad, hi + pad),
            radius,
            loss_x,
            loss_y,
            log10,
        )

    # ---------------------------------------------------------------- figure
    def _build(self, dpi: float) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure
        from matplotlib.ticker import NullFormatter

        w_px, h_px = _FIG_SIZE_PX
        scale = dpi / 100.0
        # even: H.264 needs it
        w_px, h_px = 2 * round(w_px * scale / 2), 2 * round(h_px * scale / 2)
        fig = Figure(figsize=(w_px / dpi, h_px / dpi), dpi=dpi)
        self.canvas = FigureCanvasAgg(fig)
        # a fixed layout: matplotlib's constrained layout would cost about a second here
        ax_f, ax_p, ax_l = fig.subplots(
            1,
            3,
            gridspec_kw={
                "width_ratios": [1.25, 1.0, 1.1],
                "left": 0.045,
                "right": 0.99,
                "bottom": 0.12,
                "top": 0.86,
                "wspace": 0.2,
            },
        )
        lim = self.limits
        traj = self.traj
        net = traj.network
        fig.suptitle(
            f"{traj.method}"
            + (
                f", lr = {traj.options['lr']:g}"
                if isinstance(traj.options.get("lr"), (int, float))
                else ""
            )
            + f", m = {net.m}, α = {net.alpha:g}"
            + (", PARTIAL (interrupted)" if traj.interrupted else ""),
            fontsize=10,
            x=0.01,
            ha="left",
        )
        art: dict = {"references": []}
        # f panel
        for j, (label, g) in enumerate(self._refs):
            color, ls = _REF_STYLES.get(self._ref_names[j], (f"C{5 + j % 5}", "--"))
            with np.errstate(over="ignore", invalid="ignore"):
                gy = np.asarray(g(self.grid), dtype=float).ravel()
            art["references"].append(
                ax_f.plot(
                    self.grid, _clip(gy, lim.y), color=color, ls=ls, lw=1.2, label=label, zorder=1
                )[0]
            )
        if self.data is not None:
            ax_f.plot(self.data.x, self.data.y, "x", color=_COLORS["samples"], ms=7, mew=2,
                      label="samples $(x_j, y_j)$", zorder=4)
        (art["f"],) = ax_f.plot(
            [], [], color=_COLORS["f"], lw=1.8, label="$f(x)$", animated=True, zorder=2
        )
        (art["knots"],) = ax_f.plot([], [], "o", ms=4, mfc="none", color=_COLORS["knots"],
                                    label="knots $(e_i, f(e_i))$", animated=True, zorder=3)
        ax_f.set_xlim(*lim.x)
        ax_f.set_ylim(*lim.y)
        ax_f.set_xlabel("x")
        ax_f.set_title("f, its knots $(e_i, f(e_i))$ and the samples", fontsize=10)
        ax_f.legend(loc="best", fontsize="x-small")
        # particle plane
        rad = lim.radius
        if self.data is not None:
            ends = np.array([-rad, rad])
            segs = [np.column_stack((ends, -xj * ends)) for xj in self.data.x]
            ax_p.add_collection(LineCollection(segs, colors="0.6", linewidths=0.8, zorder=1))
        # Line2D markers, not scatter: Agg draws them as one stamped marker (several times faster)
        (art["pos"],) = ax_p.plot(
            [], [], "o", ms=3.2, color=_COLORS["pos"], label="$r_i > 0$", animated=True, zorder=2
        )
        (art["neg"],) = ax_p.plot(
            [], [], "o", ms=3.2, color=_COLORS["neg"], label="$r_i < 0$", animated=True, zorder=2
        )
        ax_p.set_xlim(-rad, rad)
        ax_p.set_ylim(-rad, rad)
        ax_p.set_aspect("equal")
        ax_p.set_xlabel("u = |r| cos θ")
        ax_p.set_ylabel("v = |r| sin θ", labelpad=0)
        ax_p.set_title("particles $(u_i, v_i)$, lines $u x_j + v = 0$", fontsize=10)
        ax_p.legend(loc="upper right", fontsize="x-small")
        # loss panel
        t, loss = np.asarray(traj.times, float), np.asarray(traj.loss, float)
        ok = (t > 0) & np.isfinite(loss) & (loss > 0)
        ax_l.set_xscale("log")
        if lim.log10_loss:
            ax_l.plot(t[ok], np.log10(loss[ok]), color="C0", lw=1.2)
            ax_l.set_title("log10 of the loss", fontsize=10)
        else:
            ax_l.set_yscale("log")
            ax_l.plot(t[ok], loss[ok], color="C0", lw=1.2)
            ax_l.set_title("loss", fontsize=10)
        (art["marker"],) = ax_l.plot(
            [], [], "o", ms=8, color="C3", animated=True, zorder=3, clip_on=False
        )
        ax_l.set_xlim(*lim.loss_x)
        ax_l.set_ylim(*lim.loss_y)
        # labelled minor ticks overlap on short ranges
        ax_l.xaxis.set_minor_formatter(NullFormatter())
        ax_l.yaxis.set_minor_formatter(NullFormatter())
        ax_l.set_xlabel("time t = lr·step (step 0 at the left edge)")
        art["label"] = fig.text(0.99, 0.985, "", ha="right", va="top", fontsize=10, animated=True)
        self.figure = fig
        self.artists = art
        self._axes = (ax_f, ax_p, ax_l)
        self.canvas.draw()  # the static parts, once
        self._background = self.canvas.copy_from_bbox(fig.bbox)

    @property
    def notes(self) -> list[str]:
        """What the viewer should know: thinning, a single snapshot and, for the frames
        shown so far, values beyond the fixed axes."""
        notes = list(self._notes)
        n = len(self.frames)
        if self._far_f:
            notes.append(
                f"f leaves the fixed y-axis in {len(self._far_f)} of {n} frame(s) (robust limits: "
                f"the axis leaves off values decades beyond the rest, far beyond the central "
                f"{QUANTILE:.0%} of those drawn, or more than {SPAN_CAP:g} data scales from the "
                "samples)"
            )
        if self._far_particles:
            notes.append(
                "some particles lie beyond the fixed axes in "
                f"{len(self._far_particles)} of {n} frame(s) "
                "and are drawn on the edge circle (robust limits: the axes leave off radii decades "
                "beyond the rest and reach at most 3 times the "
                f"{QUANTILE:.0%} quantile of the others)"
            )
        return notes

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        w, h = self.canvas.get_width_height()
        return int(w), int(h)

    def show(self, i: int) -> FrameData:
        """Put frame ``i`` into the artists (no drawing); return its data."""
        fr = self.frame_data(i)
        lim, art = self.limits, self.artists
        art["f"].set_data(fr.x, _clip(fr.f, lim.y))
        art["knots"].set_data(fr.knots_x, _clip(fr.knots_y, lim.y))
        rad = lim.radius
        with np.errstate(over="ignore", invalid="ignore"):
            radius = np.hypot(fr.u, fr.v)
        far = ~(radius <= rad)  # beyond the axes, or not finite: drawn on the edge circle
        u, v = fr.u.copy(), fr.v.copy()
        if far.any():
            theta = self._network(fr.snapshot).canonical()[1][self._shown]
            u[far], v[far] = rad * np.cos(theta[far]), rad * np.sin(theta[far])
        art["pos"].set_data(u[fr.positive], v[fr.positive])
        art["neg"].set_data(u[~fr.positive], v[~fr.positive])
        if math.isfinite(fr.loss) and fr.loss > 0:
            tx = fr.time if fr.time > 0 else lim.loss_x[0]
            ty = math.log10(fr.loss) if lim.log10_loss else fr.loss
            art["marker"].set_data([tx], [ty])
        else:
            art["marker"].set_data([], [])
        n_far = int(far.sum())
        if n_far:
            self._far_particles.add(i)
        with np.errstate(invalid="ignore"):
            if np.any(~((fr.f >= lim.y[0]) & (fr.f <= lim.y[1]))):
                self._far_f.add(i)
        loss_text = f"loss {fr.loss:.4g}" if math.isfinite(fr.loss) else "loss not recorded"
        art["label"].set_text(
            f"step {fr.step}   t = {fr.time:.4g}   {loss_text}"
            + (f"   {n_far} particle(s) beyond the axes, drawn on the edge" if n_far else "")
            + f"   frame {i + 1}/{len(self.frames)}"
        )
        return fr

    def render(self, i: int) -> np.ndarray:
        """Draw frame ``i``; its pixels as an (h, w, 4) uint8 RGBA array (a copy)."""
        self.show(i)
        canvas = self.canvas
        canvas.restore_region(self._background)
        fig = self.figure
        for key in ("f", "knots", "pos", "neg", "marker"):
            artist = self.artists[key]
            artist.axes.draw_artist(artist)
        fig.draw_artist(self.artists["label"])
        return np.array(canvas.buffer_rgba(), dtype=np.uint8, copy=True)


def _inliers(deviations: np.ndarray, floor: float) -> np.ndarray:
    """Mask of the values that are not far out: the deviations, raised to at least
    ``floor`` (the scale of the end state, so that a long stretch of tiny values before
    the network grows is not a gap), are sorted and searched, above their median, for a
    jump of more than :data:`_GAP_DECADES` decades; those beyond the first such jump are
    far out. Ordinary spreads, however heavy their tail, rise without such a jump (the
    frames fill in the values between); huge values (a blow-up, an overflowing neuron)
    sit decades beyond the rest, whatever their share below one half."""
    deviations = np.maximum(deviations, floor) if floor > 0 else deviations
    positive = np.sort(deviations[deviations > 0])
    if positive.size < 2:
        return np.ones(deviations.shape, dtype=bool)
    jumps = np.diff(np.log10(positive))
    half = positive.size // 2
    big = np.flatnonzero(jumps[half:] > _GAP_DECADES)
    if big.size == 0:
        return np.ones(deviations.shape, dtype=bool)
    return deviations <= positive[half + big[0]]


def _robust_range(values: np.ndarray, floor: float) -> tuple[float, float]:
    """[min, max] of the values that are not far out (:func:`_inliers` of their
    deviations from the median) and lie within the central :data:`QUANTILE` range
    widened by its own width on each side: every value of an ordinary run, and never a
    huge one."""
    values = values[_inliers(np.abs(values - np.median(values)), floor)]
    tail = (1.0 - QUANTILE) / 2
    q_lo, q_hi = (float(q) for q in np.quantile(values, [tail, 1.0 - tail]))
    width = q_hi - q_lo
    values = values[(values >= q_lo - width) & (values <= q_hi + width)]
    return float(values.min()), float(values.max())


def _robust_radius(radii: np.ndarray, floor: float) -> float:
    """The particle plane's half-width: the largest radius that is not far out
    (:func:`_inliers`), but at most 3 times the :data:`QUANTILE` quantile of those,
    plus 8 %."""
    radii = radii[_inliers(radii, floor)]
    if radii.size == 0:
        return 1.0
    radius = 1.08 * min(float(radii.max()), 3.0 * float(np.quantile(radii, QUANTILE)))
    return radius if radius > 0 and math.isfinite(radius) else 1.0


def _clip(values: np.ndarray, limits: tuple) -> np.ndarray:
    """Values far outside the axes pulled in to 10⁶ axis spans (the drawn lines look the
    same; the renderer never sees coordinates near the float limit); NaN stays NaN."""
    lo, hi = limits
    span = 1e6 * (hi - lo)
    with np.errstate(invalid="ignore"):
        return np.clip(np.asarray(values, dtype=float), lo - span, hi + span)


def build_scene(
    traj,
    data: Dataset | None = None,
    *,
    frames=None,
    references=(),
    grid_points: int = 400,
    dpi: float = 100,
) -> Scene:
    """The :class:`Scene` of an animation of ``traj`` (see :func:`animate` for the
    arguments), without rendering any frame.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import animate
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> scene = animate.build_scene(traj, data, frames=4, grid_points=50, dpi=40)
    >>> scene.frames                          # snapshot indices, spread in log-time
    array([ 0,  1,  3, 10])
    >>> scene.size                            # pixels (width, height)
    (528, 168)
    """
    from .train import Trajectory

    if not isinstance(traj, Trajectory):
        raise TypeError(f"traj must be a relu1d.Trajectory, got {type(traj).__name__}")
    if data is not None and not isinstance(data, Dataset):
        raise TypeError(f"data must be a relu1d.Dataset or None, got {type(data).__name__}")
    if len(traj.snapshots) == 0:
        raise ValueError("the trajectory holds no snapshots: nothing to animate")
    grid_points = as_int(grid_points, "grid_points", minimum=2)
    dpi = as_real(dpi, "dpi", positive=True)
    if not 20 <= dpi <= 600:
        raise ValueError(f"dpi must be between 20 and 600, got {dpi:g}")
    idx = _frame_indices(frames, len(traj.snapshots), traj.snapshots.times)
    return Scene(traj, data, idx, references, grid_points, dpi)


# --------------------------------------------------------------------------- writing
def _check_path(path, what: str = "path") -> tuple[Path, str]:
    if not isinstance(path, (str, Path)):
        hint = (" (the samples come before the path: Trajectory.animate(data, path))"
                if isinstance(path, Dataset) else "")
        raise TypeError(f"{what} must be a str or Path, got {type(path).__name__}{hint}")
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():  # before the suffix: an existing folder is named as such
        raise ValueError(f"{what} {str(path)!r} is a folder; give a file name ending in .gif or "
                         ".mp4")
    if suffix not in FORMATS:
        raise ValueError(f"{what} {str(path)!r}: the movie must end in .gif or .mp4 (got "
                         f"{suffix or 'no suffix'!r})")
    return path, suffix


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FFmpegNotFound(FFMPEG_HELP)
    return exe


def _progress(total: int, progress: bool):
    from tqdm import tqdm

    enabled = progress and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return tqdm(total=total, disable=not enabled, file=sys.stderr, unit="frame", dynamic_ncols=True,
                desc="animate")


def _write_gif(scene: Scene, tmp: Path, fps: float, progress: bool) -> None:
    from PIL import Image

    frames, palette = [], None
    with _progress(len(scene.frames), progress) as bar:
        for i in range(len(scene.frames)):
            rgb = Image.fromarray(scene.render(i)[..., :3])
            # one palette for the movie: no flicker, and the frames stay comparable
            if palette is None:
                palette = rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
            frames.append(rgb.quantize(palette=palette, dither=Image.Dither.NONE))
            bar.update(1)
    step_ms = max(20, int(round(1000.0 / fps)))
    durations = [step_ms] * len(frames)
    durations[-1] = max(step_ms, _LAST_FRAME_HOLD_MS)
    frames[0].save(
        tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
    )


def _write_mp4(scene: Scene, tmp: Path, fps: float, progress: bool, ffmpeg: str) -> None:
    w, h = scene.size
    cmd = [
        ffmpeg,
        "-y",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgba",
        "-s",
        f"{w}x{h}",
        "-r",
        f"{fps:g}",
        "-i",
        "-",
        "-an",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "mp4",
        str(tmp),
    ]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
        )
        assert proc.stdin is not None  # stdin=PIPE
        try:
            with _progress(len(scene.frames), progress) as bar:
                for i in range(len(scene.frames)):
                    try:
                        proc.stdin.write(scene.render(i).tobytes())
                    except BrokenPipeError:
                        break  # ffmpeg stopped: its message is read below
                    bar.update(1)
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            code = proc.wait()
        finally:
            if proc.poll() is None:  # an error or Ctrl-C while writing: stop ffmpeg too
                proc.kill()
                proc.wait()
        if code != 0:
            errors.seek(0)
            text = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"ffmpeg failed (exit code {code}) writing the .mp4: "
                               f"{' / '.join(text[-3:]) or 'no message'}; a .gif needs no ffmpeg")


def animate(
    traj,
    data: Dataset | None = None,
    path="animation.gif",
    *,
    frames=None,
    fps: float = 10.0,
    dpi: float = 100,
    references=(),
    grid_points: int = 400,
    progress: bool = True,
) -> Path:
    """Render a training run as a movie (GIF or MP4) of three synchronised panels.

    Parameters
    ----------
    traj : Trajectory
    data : Dataset, optional
        The samples (drawn in the f panel and as activation lines in the particle
        plane; needed by the named references). None draws neither.
    path : str or Path
        Ends in ".gif" (written by Pillow) or ".mp4" (needs an ``ffmpeg`` program on
        the PATH; :class:`FFmpegNotFound` otherwise). Written to a temporary name and
        renamed when complete; an existing file is replaced.
    frames : None, int or sequence of int
        None: :data:`DEFAULT_FRAMES` snapshots spread evenly in log-time
        (:func:`choose_frames`); an int: that many; a sequence: exactly those snapshot
        indices, in that order. Never more frames than snapshots.
    fps : float > 0
        Frames per second (a GIF holds its last frame for at least a second).
    dpi : float in [20, 600]
        100 gives 1320 × 420 pixels.
    references : sequence
        Reference curves for the f panel: "kernel", "natural_cubic", "linear", callables
        g(x) or (label, callable) pairs (see :func:`reference_curves`).
    grid_points : int >= 2
        Points of the x grid on which f is drawn.
    progress : bool
        A tqdm bar on stderr while rendering (when stderr is a terminal).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FFmpegNotFound
        ``path`` ends in .mp4 and no ffmpeg is on the PATH (checked before rendering).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import animate
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = animate.animate(traj, data, pathlib.Path(tmp) / "run.gif", frames=3, dpi=30,
    ...                            grid_points=50, progress=False)
    ...     print(path.name, path.stat().st_size > 0)
    run.gif True
    """
    return _animate(traj, data, path, frames=frames, fps=fps, dpi=dpi, references=references,
                    grid_points=grid_points, progress=progress)[0]


def _animate(traj, data, path, *, frames=None, fps=10.0, dpi=100, references=(), grid_points=400,
             progress=True) -> tuple[Path, Scene]:
    path, suffix = _check_path(path)
    fps = as_real(fps, "fps", positive=True)
    if fps > 100:
        raise ValueError(f"fps must be at most 100, got {fps:g}")
    ffmpeg = _ffmpeg() if suffix == ".mp4" else None  # before any work
    scene = build_scene(
        traj, data, frames=frames, references=references, grid_points=grid_points, dpi=dpi
    )
    if suffix == ".gif":
        written = _storage.atomic_write(path, lambda tmp: _write_gif(scene, tmp, fps, progress))
    else:
        assert ffmpeg is not None  # found above for .mp4
        written = _storage.atomic_write(
            path, lambda tmp: _write_mp4(scene, tmp, fps, progress, ffmpeg)
        )
    return written, scene


# --------------------------------------------------------------------------- runs on disk
@dataclass
class RunFile:
    """A trajectory read from disk by :func:`load_run`, with what was stored beside it."""

    path: Path
    trajectory: object
    data: Dataset | None
    meta: dict | None = None
    notes: list = field(default_factory=list)


def load_run(run, data=None) -> RunFile:
    """Read a trajectory and its samples.

    Parameters
    ----------
    run : str or Path
        The ``data.nc`` of a ``relu1d train`` output folder (or that folder), a run
        ``OUT/NAME/runs/RUN.nc`` of a training experiment, or any file written by
        :meth:`relu1d.Trajectory.save`.
    data : str, Path or Dataset, optional
        The samples: a Dataset or a CSV file (x,y). By default those stored in the file
        (``relu1d train`` and the experiments' runs store them as ``data_x``,
        ``data_y``); a plain
        ``Trajectory.save`` file has none, and the movie then shows no samples.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import animate
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run = animate.load_run(traj.save(pathlib.Path(tmp) / "run.nc"), data)
    >>> run.trajectory.network.m, run.data.s
    (6, 4)
    """
    from .train import Trajectory

    path = Path(run)
    if path.is_dir():
        runs = (
            sorted(p.name for p in (path / "runs").glob("*.nc")) if (path / "runs").is_dir() else []
        )
        if len(runs) > 1:
            raise ValueError(
                f"{str(path)!r} is an experiment's folder with {len(runs)} runs; give one of them: "
                + ", ".join(str(path / "runs" / name) for name in runs[:8])
                + (" ..." if len(runs) > 8 else "")
            )
        if runs:  # an experiment's folder with one run (its data.nc holds the measurements)
            return load_run(path / "runs" / runs[0], data)
        if not (path / "data.nc").is_file():
            raise ValueError(
                f"{str(path)!r} is a folder without data.nc; give the data.nc of a `relu1d train` "
                "output folder, or a file written by Trajectory.save"
            )
        path = path / "data.nc"
    if not path.exists():
        raise ValueError(
            f"{str(path)!r} does not exist; give the data.nc of a `relu1d train` output folder, "
            "or a file written by Trajectory.save"
        )
    try:
        traj = Trajectory.load(path)
    except ValueError as exc:
        runs_dir = path.parent / "runs"
        hint = (
            f"; this folder's runs are in {runs_dir}/"
            if runs_dir.is_dir() and any(runs_dir.glob("*.nc"))
            else ""
        )
        raise ValueError(
            f"cannot animate: {exc} (relu1d animate needs a trajectory: the data.nc of `relu1d "
            f"train`, an experiment's runs/NAME.nc, or a file written by Trajectory.save{hint})"
        ) from None
    notes = []
    meta = _storage.read_record_meta(path.parent) if path.name == "data.nc" else None
    if traj.interrupted or (meta is not None and meta.get("status") not in (None, "ok")):
        status = "interrupted" if traj.interrupted else cast(dict, meta).get("status")
        notes.append(
            f"{path} is a PARTIAL record (status {status}): steps 0 to {int(traj.steps[-1])}"
        )
    samples: Dataset | None
    if isinstance(data, Dataset):
        samples = data
    elif data is not None:
        samples = Dataset.from_csv(data)
    else:
        samples = _stored_samples(path)
        if samples is None:
            notes.append(
                f"{path} stores no samples: the movie shows none (pass --data CSV to draw them)"
            )
    return RunFile(path, traj, samples, meta, notes)


def _stored_samples(path: Path) -> Dataset | None:
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            if "data_x" not in ds.variables or "data_y" not in ds.variables:
                return None
            x, y = ds["data_x"].values, ds["data_y"].values
    except Exception as exc:  # already read once by Trajectory.load, so a damaged variable
        raise ValueError(
            f"{str(path)!r}: cannot read the stored samples ({type(exc).__name__}: {exc})"
        ) from None
    try:
        return Dataset(x, y)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{str(path)!r}: the stored samples are not valid ({exc}); pass --data CSV"
        ) from None


def animate_run(
    run, out=None, *, data=None, overwrite: bool = False, **kwargs
) -> tuple[Path, list[str], Scene]:
    """What ``relu1d animate`` does: :func:`load_run`, then :func:`animate`.

    ``out`` defaults to ``animation.gif`` beside the run file; an existing ``out`` is
    refused unless ``overwrite``. Returns the path written, the notes for the user and
    the scene (for its frame count). ``kwargs`` go to :func:`animate`.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import animate
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=200,
    ...                     record_every=20, progress=False)
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     run = traj.save(pathlib.Path(tmp) / "run.nc")
    ...     movie, notes, scene = animate.animate_run(run, pathlib.Path(tmp) / "run.gif", data=data,
    ...                                               frames=3, dpi=30, grid_points=50,
    ...                                               progress=False)
    ...     print(movie.name, notes, len(scene.frames))
    run.gif [] 3
    """
    loaded = load_run(run, data)
    out = loaded.path.parent / "animation.gif" if out is None else Path(out)
    _check_path(out, "--out")
    if out.exists() and not overwrite:
        raise ValueError(f"--out {str(out)!r} already exists; pass --overwrite to replace it")
    _storage.check_writable_dir(
        out.parent if str(out.parent) else Path("."), what="the folder of --out"
    )
    path, scene = _animate(loaded.trajectory, loaded.data, out, **kwargs)
    return path, loaded.notes + scene.notes, scene
