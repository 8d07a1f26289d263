"""Rich display in Jupyter: the ``_repr_html_`` of :class:`relu1d.Network` and
:class:`relu1d.Trajectory` (issue 13, item 3).

A short table (width m, α, loss where known, snapshots) beside a small inline PNG of f
with its knots (and, for a trajectory, of the loss). The PNGs are drawn here with numpy
and encoded with zlib, without matplotlib: importing matplotlib alone takes about a
second, and a notebook's display must stay cheap (well under 0.3 s for m = 10⁴). Lines
are drawn at 3× resolution and averaged down (anti-aliased). Every text is escaped, and
the builders never raise: on any error the display falls back to the plain ``repr``
with the reason.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib

import numpy as np

__all__ = ["network_html", "trajectory_html", "png_plot", "safe_html"]

_SS = 3                     # supersampling factor of the rasteriser
_MAX_KNOTS = 2000           # knots drawn at most (evenly thinned)
_COLORS = {
    "f": (31, 119, 180),
    "knots": (44, 160, 44),
    "loss": (31, 119, 180),
    "first": (150, 150, 150),
    "axis": (200, 200, 200),
    "frame": (120, 120, 120),
}
_STYLE = ("font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:12px;"
          "display:flex;gap:10px;align-items:center;flex-wrap:wrap")


def _png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an (h, w, 3) uint8 array."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


class _Canvas:
    """A white image at _SS× resolution on which data coordinates are drawn."""

    def __init__(self, width: int, height: int, xlim, ylim, margin: int = 4):
        self.w, self.h = width * _SS, height * _SS
        self.img = np.full((self.h, self.w, 3), 255, dtype=np.uint8)
        self.xlim, self.ylim = xlim, ylim
        self.m = margin * _SS

    def _to_px(self, x, y):
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        px = self.m + (np.asarray(x, float) - x0) / (x1 - x0) * (self.w - 1 - 2 * self.m)
        py = (
            self.h
            - 1
            - self.m
            - (np.asarray(y, float) - y0) / (y1 - y0) * (self.h - 1 - 2 * self.m)
        )
        return px, py

    def _stamp(self, px, py, color, radius: int) -> None:
        ok = np.isfinite(px) & np.isfinite(py)
        px, py = np.rint(px[ok]).astype(np.int64), np.rint(py[ok]).astype(np.int64)
        offsets = [
            (dx, dy)
            for dx in range(-radius, radius + 1)
            for dy in range(-radius, radius + 1)
            if dx * dx + dy * dy <= radius * radius + radius
        ]
        for dx, dy in offsets:
            x, y = px + dx, py + dy
            inside = (x >= 0) & (x < self.w) & (y >= 0) & (y < self.h)
            self.img[y[inside], x[inside]] = color

    def line(self, x, y, color, width: int = 1) -> None:
        px, py = self._to_px(x, y)
        # clip far-off points (huge values) to a band around the image before sampling
        px = np.clip(px, -self.w, 2 * self.w)
        py = np.clip(py, -self.h, 2 * self.h)
        ok = np.isfinite(px[:-1]) & np.isfinite(py[:-1]) & np.isfinite(px[1:]) & np.isfinite(py[1:])
        x0, y0, x1, y1 = px[:-1][ok], py[:-1][ok], px[1:][ok], py[1:][ok]
        if x0.size == 0:
            return
        n = np.maximum(np.ceil(np.maximum(np.abs(x1 - x0), np.abs(y1 - y0))).astype(np.int64), 1)
        seg = np.repeat(np.arange(x0.size), n)
        start = np.repeat(np.cumsum(n) - n, n)
        frac = (np.arange(seg.size) - start) / n[seg]
        self._stamp(x0[seg] + frac * (x1 - x0)[seg], y0[seg] + frac * (y1 - y0)[seg], color,
                    max(1, (width * _SS) // 2))

    def points(self, x, y, color, radius: float = 1.5) -> None:
        px, py = self._to_px(x, y)
        self._stamp(px, py, color, int(round(radius * _SS)))

    def frame(self) -> None:
        c = _COLORS["frame"]
        self.img[:_SS, :] = c
        self.img[-_SS:, :] = c
        self.img[:, :_SS] = c
        self.img[:, -_SS:] = c

    def data_uri(self) -> str:
        small = self.img.reshape(self.h // _SS, _SS, self.w // _SS, _SS, 3).mean(axis=(1, 3))
        return "data:image/png;base64," + base64.b64encode(
            _png(np.rint(small).astype(np.uint8))
        ).decode("ascii")


def _robust_range(values: np.ndarray, pad: float = 0.08) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return -1.0, 1.0
    lo, hi = np.quantile(values, [0.02, 0.98]) if values.size > 50 else (values.min(), values.max())
    lo, hi = float(lo), float(hi)
    if not hi - lo > 0:
        half = max(abs(lo), 1.0) * 0.5
        lo, hi = lo - half, hi + half
    return lo - pad * (hi - lo), hi + pad * (hi - lo)


def _x_range(net) -> tuple[float, float]:
    knots = net.knots[np.isfinite(net.knots)]
    lo, hi = (np.quantile(knots, [0.05, 0.95]) if knots.size else (-1.0, 1.0))
    lo, hi = float(lo), float(hi)
    if not hi - lo > 0:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.15 * (hi - lo)
    return lo - pad, hi + pad


def png_plot(net, size: tuple[int, int] = (240, 120), *, others=()) -> tuple[str, tuple, tuple]:
    """A data-URI PNG of f (blue) with its knots (green dots) over the central range
    of its knots, and of ``others`` (networks drawn in grey, e.g. the initial one); also
    the x and y ranges shown."""
    xlim = _x_range(net)
    xs = np.linspace(*xlim, 200)
    with np.errstate(over="ignore", invalid="ignore"):
        fx = np.asarray(net(xs), dtype=float)
        curves = [np.asarray(o(xs), dtype=float) for o in others]
    ylim = _robust_range(np.concatenate([fx, *curves]))
    canvas = _Canvas(*size, xlim, ylim)
    if ylim[0] < 0 < ylim[1]:
        canvas.line(np.array(xlim), np.zeros(2), _COLORS["axis"])
    for y in curves:
        canvas.line(xs, y, _COLORS["first"])
    knots = net.knots
    keep = np.flatnonzero(np.isfinite(knots) & (knots >= xlim[0]) & (knots <= xlim[1]))
    if keep.size > _MAX_KNOTS:
        keep = keep[np.linspace(0, keep.size - 1, _MAX_KNOTS).round().astype(np.int64)]
    if keep.size:  # under the line, so that dense knots do not hide it
        with np.errstate(over="ignore", invalid="ignore"):
            canvas.points(
                knots[keep], np.asarray(net(knots[keep]), dtype=float), _COLORS["knots"], radius=2.0
            )
    canvas.line(xs, fx, _COLORS["f"], width=1)
    canvas.frame()
    return canvas.data_uri(), xlim, ylim


def _loss_png(times, loss, size: tuple[int, int] = (160, 120)) -> str | None:
    t, v = np.asarray(times, float), np.asarray(loss, float)
    ok = (t > 0) & np.isfinite(v) & (v > 0)
    if ok.sum() < 2:
        return None
    lt, lv = np.log10(t[ok]), np.log10(v[ok])
    canvas = _Canvas(
        *size,
        (float(lt.min()), float(lt.max()) if lt.max() > lt.min() else float(lt.min()) + 1),
        _robust_range(lv, pad=0.1),
    )
    canvas.line(lt, lv, _COLORS["loss"], width=2)
    canvas.frame()
    return canvas.data_uri()


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _table(title: str, rows) -> str:
    body = "".join(
        f"<tr><th style='text-align:left;padding:1px 8px 1px 0'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(_fmt(v))}</td></tr>"
        for k, v in rows
    )
    return (
        f"<table style='border-collapse:collapse'><caption style='text-align:left;font-weight:600'>"
        f"{html.escape(title)}</caption>{body}</table>"
    )


def _img(uri: str, size, alt: str) -> str:
    return (
        f"<img src='{uri}' width='{size[0]}' height='{size[1]}' "
        f"alt='{html.escape(alt, quote=True)}' style='border:0'>"
    )


def network_html(net, *, title: str = "relu1d.Network", loss=None, others=()) -> str:
    """The HTML summary of a Network: m, α, the knots in view, provenance, an inline PNG."""
    size = (240, 120)
    uri, xlim, ylim = png_plot(net, size, others=others)
    n_knots = int(np.isfinite(net.knots).sum())
    rows = [("width m", net.m), ("α", float(net.alpha)), ("knots (a ≠ 0)", n_knots)]
    if loss is not None:
        rows.append(("loss", float(loss)))
    prov = dict(net.provenance)
    for key in ("scheme", "seed", "train_method", "train_steps"):
        if key in prov:
            rows.append((key, prov[key]))
    rows.append(
        ("shown", f"x ∈ [{xlim[0]:.3g}, {xlim[1]:.3g}], y ∈ [{ylim[0]:.3g}, {ylim[1]:.3g}]")
    )
    img = _img(uri, size, "f(x) (blue) with its knots (green)")
    return f"<div style='{_STYLE}'>{img}{_table(title, rows)}</div>"


def trajectory_html(traj) -> str:
    """The HTML summary of a Trajectory: method, m, α, steps, loss, snapshots, inline PNGs
    of the final f with its knots (the initial f in grey) and of the loss against time."""
    net = traj.network
    size = (240, 120)
    first = traj.snapshots.network(0) if len(traj.snapshots) > 1 else None
    uri, xlim, ylim = png_plot(net, size, others=() if first is None else (first,))
    loss = np.asarray(traj.loss, float)
    rows = [
        ("method", f"{traj.method} ({traj.parameterization})"),
        ("width m", net.m),
        ("α", float(net.alpha)),
        ("steps", int(traj.steps[-1]) if traj.steps.size else 0),
        (
            "loss",
            f"{_fmt(float(loss[0]))} → {_fmt(float(loss[-1]))}" if loss.size else "not recorded",
        ),
        ("records", int(traj.steps.size)),
        ("snapshots", len(traj.snapshots)),
    ]
    if traj.interrupted:
        rows.append(("status", "INTERRUPTED (partial record)"))
    rows.append(
        ("shown", f"x ∈ [{xlim[0]:.3g}, {xlim[1]:.3g}], y ∈ [{ylim[0]:.3g}, {ylim[1]:.3g}]")
    )
    parts = [_img(uri, size, "final f(x) (blue) with its knots (green), initial f (grey)")]
    loss_uri = _loss_png(traj.times, loss)
    if loss_uri is not None:
        parts.append(_img(loss_uri, (160, 120), "loss against time, log-log"))
    return f"<div style='{_STYLE}'>{''.join(parts)}{_table('relu1d.Trajectory', rows)}</div>"


def safe_html(builder, obj) -> str:
    """``builder(obj)``, or, if it raises, the escaped ``repr`` with the reason: a
    notebook's display must never fail."""
    try:
        return builder(obj)
    except Exception as exc:  # noqa: BLE001  (display only: report, never raise)
        try:
            text = repr(obj)
        except Exception:  # noqa: BLE001
            text = f"<{type(obj).__name__}>"
        reason = f"{type(exc).__name__}: {exc}"
        return (
            f"<pre>{html.escape(text)}</pre><p style='color:#a40000'>(HTML summary unavailable: "
            f"{html.escape(reason)})</p>"
        )
