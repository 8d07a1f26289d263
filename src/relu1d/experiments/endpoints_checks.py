"""Checks of :mod:`relu1d.endpoints`, the exact function-space endpoints, against closed
forms and independent computations.

* ``endpoints.verify`` — Shevchenko et al.'s two-point free energy; the free-bias cost
  against its closed form max(V, (V + |S|)/2); the penalised-bias interpolant against an
  LP on a fine fixed grid of knots; networks trained by full-batch GD with weight decay
  against the λ-regularised minimum; the knot count per interval of the λ-regularised
  minimiser against Shevchenko et al.'s "at most three"; the certified gaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data import Dataset
from ..data import random as _random_data
from ._registry import Claim, ExperimentResult, register

__all__: list[str] = []

_REF_SHEV = "Shevchenko, Kungurtsev & Mondelli 2022"
_OWN = "relu1d measurement (cf. Savarese et al. 2019; Boursier & Flammarion 2023)"


@dataclass(frozen=True)
class VerifySpec:
    """Datasets ``random(samples, seed)`` for ``data_seeds``; λ-regularised solutions at
    ``lams``; ``train_seeds`` GD runs (width ``width``, α = 1, loss "mean", ``steps`` steps
    of ``lr``) at λ = ``train_lam`` on ``random(train_samples, 0)``; the grid LP uses
    ``grid_points`` knots on [−grid_half_width, grid_half_width] plus the samples."""

    samples: int = 7
    data_seeds: tuple = (0, 1, 2)
    lams: tuple = (0.003, 0.03)
    train_samples: int = 5
    train_lam: float = 0.01
    train_seeds: tuple = (0, 1, 2)
    width: int = 50
    steps: int = 20_000
    lr: float = 0.05
    grid_points: int = 2401
    grid_half_width: float = 6.0


def _grid_lp(data: Dataset, grid: np.ndarray) -> float:
    """min Σ√(1 + u²)|μ| + |C| over knots on ``grid`` (both orientations) and a constant
    interpolating the data: an upper bound of the penalised-bias minimum, independent of
    the exchange method of :mod:`relu1d.endpoints`."""
    from scipy.optimize import linprog

    x, y = data.x, data.y
    phi = np.hstack(
        [
            np.maximum(x[:, None] - grid[None, :], 0),
            np.maximum(grid[None, :] - x[:, None], 0),
            np.ones((x.size, 1)),
        ]
    )
    w = np.concatenate([np.hypot(1, grid), np.hypot(1, grid), [1.0]])
    res = linprog(
        np.concatenate([w, w]),
        A_eq=np.hstack([phi, -phi]),
        b_eq=y,
        bounds=(0, None),
        method="highs",
    )
    return float(res.fun)


def _free_closed_form(data: Dataset) -> float:
    sec = np.diff(data.y) / np.diff(data.x)
    V = float(np.sum(np.abs(np.diff(sec))))
    S = float(sec[0] + sec[-1])
    return max(V, (V + abs(S)) / 2)


def _measure_verify(spec: VerifySpec):
    """The exact endpoints, their closed forms and grid LPs, the λ-regularised knot
    counts, the trained networks' objectives, and the curves of the figure."""
    import xarray as xr

    from .. import endpoints, init_network
    from ..train import train_many

    # 1. the two-point example (their §6), derived by hand in NOTES.md
    two = Dataset(np.array([-10.0, 10.0]), np.array([2.0, 2.0]))
    e2 = endpoints.regularised(two, 1.0, "penalised")
    f_exact = 4 / math.sqrt(101) - 2 / 101
    gaps = [e2.gap / max(1.0, e2.objective)]

    # 2.–3. interpolants: free against the closed form, penalised against the grid LP
    seeds = list(spec.data_seeds)
    datas = [_random_data(spec.samples, seed) for seed in seeds]
    free_cost, free_form, pen_cost, grid_cost = [], [], [], []
    grid = np.linspace(-spec.grid_half_width, spec.grid_half_width, spec.grid_points)
    for data in datas:
        ef, ep = endpoints.rnorm(data, "free"), endpoints.rnorm(data, "penalised")
        free_cost.append(ef.cost)
        free_form.append(_free_closed_form(data))
        pen_cost.append(ep.cost)
        grid_cost.append(_grid_lp(data, np.union1d(grid, data.x)))
        gaps += [ef.gap / max(1.0, ef.cost), ep.gap / max(1.0, ep.cost)]

    # 4. knots per interval of the λ-regularised minimiser
    max_knots = np.zeros((len(seeds), len(spec.lams)), dtype=int)
    reg_obj = np.zeros((len(seeds), len(spec.lams)))
    for i, data in enumerate(datas):
        for j, lam in enumerate(spec.lams):
            er = endpoints.regularised(data, lam, "penalised")
            max_knots[i, j] = int(er.knot_counts().max())
            reg_obj[i, j] = er.objective
            gaps.append(er.gap / max(1.0, er.objective))

    # 5. trained networks (penalised bias: train's weight decay acts on a, b and c)
    tdata = _random_data(spec.train_samples, 0)
    target = endpoints.regularised(tdata, spec.train_lam, "penalised")
    nets = [
        init_network(spec.width, "uniform", alpha="one", seed=seed) for seed in spec.train_seeds
    ]
    trajs = train_many(
        nets,
        tdata,
        method="gd",
        lr=spec.lr,
        steps=spec.steps,
        weight_decay=spec.train_lam,
        loss="mean",
        record_every=max(1, spec.steps // 20),
        seed=0,
    )
    trained = np.array([float(t.loss[-1]) for t in trajs])
    # the loss plateau: relative change over the last tenth of the run
    plateau = [abs(t.loss[-1] - t.loss[-3]) / t.loss[-1] for t in trajs]

    # the figure's curves: the endpoints of the first data set, the trained networks
    data = datas[0]
    xs = np.linspace(data.x[0] - 0.3, data.x[-1] + 0.3, 600)
    curves = [endpoints.kernel(data)(xs), endpoints.rnorm(data, "free")(xs),
              endpoints.rnorm(data, "penalised")(xs),
              endpoints.regularised(data, spec.lams[-1])(xs)]
    xt = np.linspace(tdata.x[0] - 0.3, tdata.x[-1] + 0.3, 600)
    return xr.Dataset(
        {"free_cost": ("data_seed", free_cost), "free_closed_form": ("data_seed", free_form),
         "penalised_cost": ("data_seed", pen_cost), "grid_lp_cost": ("data_seed", grid_cost),
         "max_knots_per_interval": (("data_seed", "lam"), max_knots),
         "regularised_objective": (("data_seed", "lam"), reg_obj),
         "trained_objective": ("train_seed", trained), "loss_plateau": ("train_seed", plateau),
         "relative_gap": ("problem", gaps),
         "endpoint_f": (("endpoint", "x_plot"), curves),
         "trained_f": (("train_seed", "x_train"), [t.network(xt) for t in trajs]),
         "target_f": ("x_train", target(xt))},
        coords={"data_seed": seeds, "lam": list(spec.lams), "train_seed": list(spec.train_seeds),
                "endpoint": ["kernel", "rnorm_free", "rnorm_penalised", "regularised"],
                "x_plot": xs,
                "x_train": xt},
        attrs={"two_point_objective": e2.objective, "two_point_exact": f_exact,
               "train_target_objective": target.objective, "max_relative_gap": float(max(gaps)),
               "train_lam": spec.train_lam, "width": spec.width, "steps": spec.steps})


def _judge_verify(ds, spec: VerifySpec) -> tuple:
    """The claims of :func:`run_verify`, from its dataset alone."""
    free_form = ds["free_closed_form"].values
    free_err = np.abs(ds["free_cost"].values - free_form) / np.maximum(1.0, free_form)
    pen_cost = ds["penalised_cost"].values
    grid_excess = (ds["grid_lp_cost"].values - pen_cost) / pen_cost
    target = float(ds.attrs["train_target_objective"])
    trained_excess = (ds["trained_objective"].values - target) / target
    lo_hi = (float(trained_excess.min()), float(trained_excess.max()))
    plateau = float(max(ds["loss_plateau"].values))
    max_knots = ds["max_knots_per_interval"].values
    n_seeds, n_train = int(ds.sizes["data_seed"]), int(ds.sizes["train_seed"])
    return (
        Claim.close(
            "two_point_free_energy",
            "β = ∞ free energy of D = {(±10, 2)} at λ = 1 equals 4λ/√101 − 2λ²/101 (knots at "
            "±1/10)",
            f"{_REF_SHEV}, two-point example (§6); derivation in NOTES.md",
            float(ds.attrs["two_point_objective"]),
            float(ds.attrs["two_point_exact"]),
            1e-9,
            note="exact computation (LP/QP with a dual certificate) against the hand derivation",
        ),
        Claim.close(
            "free_closed_form",
            "free-bias minimum cost equals max(V, (V + |S|)/2), worst relative error over data "
            "sets",
            "Savarese et al. 2019; Ongie et al. 2020 (closed form derived in relu1d.endpoints)",
            float(free_err.max()),
            0.0,
            1e-9,
            seeds=n_seeds,
        ),
        Claim.judged(
            "penalised_grid_lp",
            "penalised-bias minimum cost lies below a fine-grid LP and within 1e-4 of it (worst "
            "excess)",
            _OWN,
            float(grid_excess.max()),
            "0 <= excess",
            "<= 1e-4 relative",
            bool(grid_excess.min() >= -1e-9 and grid_excess.max() <= 1e-4),
            seeds=n_seeds,
            note=f"grid of {spec.grid_points} knots on ±{spec.grid_half_width:g} plus the samples",
        ),
        Claim.judged(
            "trained_reaches_minimum",
            f"GD with weight decay λ = {spec.train_lam:g} (width {spec.width}) ends within 1% "
            "above the "
            "exact λ-regularised minimum and never below it (worst relative excess over seeds)",
            _OWN,
            float(trained_excess.max()),
            "0 <= excess",
            "<= 0.01 relative",
            bool(lo_hi[0] >= -1e-9 and lo_hi[1] <= 0.01),
            seeds=n_train,
            interval=lo_hi,
            note=f"loss plateau over the last tenth of the run: {plateau:.1e} relative",
        ),
        Claim.judged(
            "knots_at_most_three",
            "the λ-regularised (β = ∞) minimiser has at most three knots in each interval between "
            "samples and in the outer ones (largest count over data sets and λ)",
            f"{_REF_SHEV}, Thm. (β → ∞ limit)",
            float(max_knots.max()),
            "<= 3",
            "exact count",
            bool(max_knots.max() <= 3),
            seeds=n_seeds,
            note="exact minimiser (certified gap), knots within 1e-9 of a sample counted at it",
        ),
        Claim.below(
            "certified_gaps",
            "largest certified optimality gap, relative to the objective",
            _OWN,
            float(max(ds["relative_gap"].values)),
            1e-8,
        ),
    )


def _draw_verify(ds, spec: VerifySpec) -> dict:
    """The endpoints on the first data set; the trained networks against the exact
    λ-regularised minimiser."""
    from ..plot import new_figure

    data = _random_data(spec.samples, int(ds["data_seed"].values[0]))
    tdata = _random_data(spec.train_samples, 0)
    fig, axes = new_figure(2, 1, size=(5.0, 3.6))
    xs = ds["x_plot"].values
    ax = axes[0, 0]
    curves = ds["endpoint_f"]
    ax.plot(xs, curves.sel(endpoint="kernel").values, lw=1, label="kernel (rf, uniform)")
    ax.plot(xs, curves.sel(endpoint="rnorm_free").values, lw=1, label="rnorm, free bias (sparsest)")
    ax.plot(xs, curves.sel(endpoint="rnorm_penalised").values, lw=1, label="rnorm, penalised bias")
    ax.plot(xs, curves.sel(endpoint="regularised").values, lw=1, ls="--",
            label=f"regularised, λ={spec.lams[-1]:g}")
    ax.plot(data.x, data.y, "ko", ms=4)
    ax.set_ylim(np.min(data.y) - 1, np.max(data.y) + 1)
    ax.set_title(f"endpoints on random({spec.samples}, {int(ds['data_seed'].values[0])})")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    xt = ds["x_train"].values
    ax.plot(xt, ds["target_f"].values, "k", lw=2,
            label=f"regularised, λ={spec.train_lam:g} (exact)")
    for k, f in enumerate(ds["trained_f"].values):
        ax.plot(xt, f, lw=0.8, label="GD, weight decay" if k == 0 else None)
    ax.plot(tdata.x, tdata.y, "ko", ms=4)
    ax.set_title("trained networks against the exact minimiser")
    ax.legend(fontsize=7)
    return {"endpoints": fig}


@register(
    "endpoints.verify",
    "Exact function-space endpoints (relu1d.endpoints) against closed forms, a grid LP and trained "
    "networks",
    quick=VerifySpec(),
    full=VerifySpec(
        samples=9,
        data_seeds=tuple(range(10)),
        lams=(0.001, 0.003, 0.01, 0.03, 0.1),
        train_seeds=tuple(range(10)),
        width=100,
        steps=100_000,
        grid_points=9601,
    ),
    judge=_judge_verify,
)
def run_verify(spec: VerifySpec) -> ExperimentResult:
    """The exact endpoints of :mod:`relu1d.endpoints` checked independently.

    Measures the two-point free energy (their §6), the free-bias minimum cost against its
    closed form, the penalised-bias cost against a fine-grid LP, the knots per interval
    of the λ-regularised minimiser, and GD with weight decay against the exact
    λ-regularised minimum. Claims ``two_point_free_energy``, ``free_closed_form``,
    ``penalised_grid_lp``, ``trained_reaches_minimum``, ``knots_at_most_three`` and
    ``certified_gaps``. Presets: ``quick`` 3 data sets, 3 GD runs (seconds); ``full`` 10
    of each, five λ.
    """
    ds = _measure_verify(spec)
    return ExperimentResult(ds, _draw_verify(ds, spec), _judge_verify(ds, spec))
