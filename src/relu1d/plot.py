"""Figures (matplotlib). Every function returns a Figure and never opens a window."""

from __future__ import annotations

import numpy as np

from ._validation import check_network_and_data
from .data import Dataset
from .network import Network

__all__ = ["plot_function", "plot_particles", "new_figure"]


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 4.0)):
    """A Figure with a grid of axes, built without pyplot (so no window, no global state).

    Examples
    --------
    >>> from relu1d import plot
    >>> fig, axes = plot.new_figure(ncols=2)
    >>> axes.shape, fig.get_size_inches().tolist()
    ((1, 2), [10.0, 4.0])
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _axes(ax):
    if ax is None:
        fig, axes = new_figure()
        return fig, axes[0, 0]
    return ax.figure, ax


def _check(net, data):
    check_network_and_data(net, data, data_optional=True)


def _interval(net: Network, data: Dataset | None, interval) -> tuple[float, float]:
    if interval is not None:
        lo, hi = map(float, interval)
        if not lo < hi:
            raise ValueError(f"interval must be (low, high) with low < high, got {interval}")
        return lo, hi
    if data is not None:
        lo, hi = float(data.x[0]), float(data.x[-1])
    else:
        knots = net.knots[np.isfinite(net.knots)]
        lo, hi = (np.percentile(knots, [5, 95]) if knots.size else (-1.0, 1.0))
        if not hi - lo > 0:  # one knot (e.g. all at 0 under he/xavier/lecun): a unit range about it
            lo, hi = lo - 1.0, hi + 1.0
    pad = 0.15 * max(hi - lo, 1e-9)
    return float(lo - pad), float(hi + pad)


def plot_function(net: Network, data: Dataset | None = None, interval=None, ax=None,
                  label: str = "$f_z(x)$", show_knots: bool = True):
    """The network function with its knots at (eᵢ, f(eᵢ)) and the samples
    (Williams et al., Fig. 1 left).

    Parameters
    ----------
    net : Network
    data : Dataset, optional
    interval : (float, float), optional
        x-range; by default the data range padded by 15%.
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import plot
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> import io
    >>> fig = plot.plot_function(net, data)
    >>> ax = fig.axes[0]
    >>> [line.get_label() for line in ax.lines]
    ['$f_z(x)$', 'knots $(e_i, f(e_i))$', 'samples $(x_j, y_j)$']
    >>> fig.savefig(io.BytesIO(), format="png")           # or fig.savefig("function.png")
    """
    _check(net, data)
    lo, hi = _interval(net, data, interval)
    fig, ax = _axes(ax)
    xs = np.linspace(lo, hi, 1000)
    ax.plot(xs, net(xs), color="C0", lw=1.8, label=label)
    if show_knots:
        knots = net.knots
        inside = np.isfinite(knots) & (knots >= lo) & (knots <= hi)
        ax.plot(knots[inside], net(knots[inside]), "o", ms=4, mfc="none", color="C2",
                label="knots $(e_i, f(e_i))$")
    if data is not None:
        ax.plot(data.x, data.y, "x", color="C3", ms=7, mew=2, label="samples $(x_j, y_j)$")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("x")
    ax.legend(loc="best", fontsize="small")
    return fig


def plot_particles(net: Network, data: Dataset | None = None, ax=None, limit: float | None = None):
    """Neurons as particles (uᵢ, vᵢ) = (|rᵢ| cos θᵢ, |rᵢ| sin θᵢ) coloured by sign(rᵢ),
    with each sample xⱼ drawn as the line u·xⱼ + v = 0 (Williams et al., eq. 6 and
    Fig. 1 right).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import plot
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> fig, axes = plot.new_figure(ncols=2)
    >>> plot.plot_particles(net, data, ax=axes[0, 1]) is fig      # draws into the given axes
    True
    """
    _check(net, data)
    fig, ax = _axes(ax)
    with np.errstate(over="ignore", invalid="ignore"):
        r, theta = net.canonical()
        u, v = np.abs(r) * np.cos(theta), np.abs(r) * np.sin(theta)
        # |rᵢ| = (m/α)|cᵢ|‖(aᵢ, bᵢ)‖ overflows for blown-up weights (a run at too large an lr
        # that stayed finite): such particles cannot be placed, and are left out of the plot
        shown = np.isfinite(u) & np.isfinite(v)
        radius = np.hypot(u[shown], v[shown])
    if limit is None:
        top = float(radius.max()) if radius.size else 0.0
        limit = 1.1 * top if np.isfinite(1.1 * top) else top
        limit = limit if limit > 0 else 1.0
    elif not limit > 0:
        raise ValueError(f"limit must be > 0, got {limit}")
    if data is not None:
        line = np.array([-limit, limit])
        for xj in data.x:
            ax.plot(line, -xj * line, color="0.6", lw=0.8, zorder=1)
    pos = r >= 0
    ax.scatter(u[pos & shown], v[pos & shown], s=10, color="C3", label="$r_i > 0$", zorder=2)
    ax.scatter(u[~pos & shown], v[~pos & shown], s=10, color="C0", label="$r_i < 0$", zorder=2)
    if not shown.all():
        ax.set_title(f"{int((~shown).sum())} of {shown.size} particles beyond float64 "
                     "(|r| overflows): not drawn", fontsize="small")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("u = |r| cos θ")
    ax.set_ylabel("v = |r| sin θ")
    ax.legend(loc="upper right", fontsize="small")
    return fig


# ---------------------------------------------------------------- mean-field plane (Williams §3.1)
__all__ += ["plot_regions", "plot_velocity_field"]


def plot_regions(data: Dataset, ax=None, limit: float = 1.0, alpha: float = 0.25):
    """Colour the 2s activation regions A_k of the (u, v) plane (wedges bounded by the
    lines u·xⱼ + v = 0) and draw those lines (Williams et al., Fig. 1 right).

    Region labels follow :func:`relu1d.meanfield.region_labels` (0: no sample active).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import plot
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> fig = plot.plot_regions(data, limit=2.0)
    >>> len(fig.axes)
    1
    """
    from matplotlib.patches import Wedge

    from .meanfield import boundary_angles, region_labels

    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a relu1d.Dataset, got {type(data).__name__}")
    if not limit > 0:
        raise ValueError(f"limit must be > 0, got {limit}")
    fig, ax = _axes(ax)
    edges = np.sort(boundary_angles(data).ravel())
    edges = np.append(edges, edges[0] + 2 * np.pi)
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    radius = limit * np.sqrt(2.0)
    for lo, hi in zip(edges[:-1], edges[1:]):
        label = int(region_labels(data, np.array([(lo + hi) / 2]))[0])
        ax.add_patch(
            Wedge(
                (0.0, 0.0),
                radius,
                np.degrees(lo),
                np.degrees(hi),
                color=cmap(label % 20),
                alpha=alpha,
                lw=0,
                zorder=0,
            )
        )
        mid = (lo + hi) / 2
        ax.text(0.8 * limit * np.cos(mid), 0.8 * limit * np.sin(mid), str(label), fontsize=7,
                ha="center", va="center", color="0.25", zorder=1)
    line = np.array([-limit, limit])
    for xj in data.x:
        ax.plot(line, -xj * line, color="0.5", lw=0.7, zorder=1)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("u = |r| cos θ")
    ax.set_ylabel("v = |r| sin θ")
    return fig


def plot_velocity_field(net: Network, data: Dataset, ax=None, sign: int = 1, n: int = 21,
                        limit: float | None = None):
    """Arrows of the mean-field velocity −∇V (eq. 9) in the (u, v) plane for particles
    with sign(r) = ``sign``, over the coloured regions (:func:`plot_regions`), with the
    particles of that sign (directions only: arrows are normalised).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import plot
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> fig = plot.plot_regions(data)
    >>> plot.plot_velocity_field(net, data, ax=fig.axes[0], n=7) is fig
    True
    """
    from .meanfield import velocity_grid

    _check(net, data)
    if data is None:
        raise TypeError("data must be a relu1d.Dataset, got None")
    grid = velocity_grid(net, data, limit=limit, n=n, sign=sign)
    lim = float(grid.u.max())
    fig, ax = _axes(ax)
    plot_regions(data, ax=ax, limit=lim)
    speed = np.hypot(grid.du, grid.dv)
    scale = np.where(speed > 0, speed, 1.0)
    ax.quiver(grid.u, grid.v, grid.du / scale, grid.dv / scale, color="0.2", scale=n * 1.3,
              width=0.003, zorder=2)
    r, theta = net.canonical()
    mine = np.sign(r) == sign
    ax.scatter(np.abs(r[mine]) * np.cos(theta[mine]), np.abs(r[mine]) * np.sin(theta[mine]), s=8,
               color="C3" if sign > 0 else "C0", zorder=3, label=f"particles, sign(r) = {sign:+d}")
    ax.legend(loc="upper right", fontsize="small")
    return fig
