"""Shevchenko, Kungurtsev & Mondelli (JMLR 23(130), 2022): mean-field noisy SGD, the
Gibbs minimiser of the free energy and at most three knots between inputs.

Their setting (ŷ = (1/N) Σ aᵢ(wᵢx + bᵢ)₊, objective (1/M)Σ(ŷ − y)² + (λ/N)Σ‖θᵢ‖²,
noisy SGD with batch size 1) runs through :func:`relu1d.train` with the keyword
arguments of :func:`relu1d.meanfield.shevchenko_train_kwargs`; the analyses (free energy,
Gibbs potential Ψ, Stein identity) are in :mod:`relu1d.meanfield`, the knot counts in
:mod:`relu1d.knots`.

Experiments
-----------
* ``shevchenko2022.setting`` — the mapping onto the engine, checked against their update
  (3.3) written out in numpy with the same random numbers (:func:`literal_noisy_sgd`),
  and the mean-field limit: the path f_N(t, ·) approaches that of the widest run as N
  grows.
* ``shevchenko2022.free_energy`` — F(ρ_N) along a run (entropy by Kozachenko–Leonenko)
  falls to a plateau; the estimator's error on a Gaussian against n.
* ``shevchenko2022.gibbs_stein`` — E[∇φ·∇Ψ − β⁻¹Δφ] at the end of a long run against
  its value at initialisation; the printed noise √(2s/β) samples exp(−2βΨ), not
  exp(−βΨ) (measured by the quadratic test functions over seeds; exact without data).
* ``shevchenko2022.knots`` — effective knots per interval between samples over data sets,
  seeds, N and the paper's (β⁻¹, λ) pairs, every run at the same step and for the same
  time, counted at a stated resolution (knots closer than it to each other or to a
  sample merged, intervals narrower than it left unresolved); thresholds and their
  sensitivity; curvature away from the knots; noise against piecewise linearity (§7).
  With λ = 0 and noise there is no stationary state: those runs are reported, not judged.
* ``shevchenko2022.two_point`` — D = {(−10, 2), (10, 2)}: a knot strictly inside the
  interval and the free energy against the linear fits. Derived here: with the bias
  penalised (their eq. 3.2 and §8) the β = ∞ minimiser is not the printed f* = 0.2|x|
  (knot at 0; its F∞ is 2λ/5, which eq. 6.4 prints as λ/5 with M(ρ*) = 2/5) but has
  knots at ±1/10 and F* = 4λ/√101 − 2λ²/101 (the neuron direction maximising (10w + b)₊
  on the unit circle is (10, 1)/√101), for every λ ∈ (0, √101); all lie far below the
  best linear fit, 2λ − λ²/2, so the paper's conclusion (a knot inside) stands.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import knots as _knots
from ..data import Dataset, sinusoid, square_wave
from ..data import random as _random_data
from ..meanfield import (
    free_energy,
    knn_entropy,
    network_from_theta,
    shevchenko_init,
    shevchenko_train_kwargs,
    stein_discrepancy,
    theta_from_network,
)
from ..network import Network
from ..plot import new_figure, plot_function
from ._registry import Claim, ExperimentResult, Reading, Run, register

__all__: list[str] = []

_REF = "Shevchenko, Kungurtsev & Mondelli 2022"
_BUILDERS = {"random": _random_data, "sinusoid": sinusoid, "square_wave": square_wave}
# A run counts as diverged when its recorded loss is not finite or exceeds _BLOWUP times
# its initial value at some record point, or when it ends above _NO_FIT times its
# initial value: a too-large step can throw every neuron off the data in the first
# updates (all inactive on every sample), after which f is 0 on the data and nothing
# moves; the loss then stays put instead of blowing up (see KnotSpec).
_BLOWUP = 10.0
_NO_FIT = 0.5


def _dataset(name: str, s: int, seed: int) -> Dataset:
    if name not in _BUILDERS:
        raise ValueError(f"data set must be one of {sorted(_BUILDERS)}; got {name!r}")
    return _BUILDERS[name](s, seed=seed)


def _train(
    net,
    data,
    step,
    inv_beta,
    lam,
    steps,
    seed,
    noise="printed",
    record_every=None,
    max_snapshots=100,
):
    from ..train import train

    record_every = record_every or max(1, steps // 50)
    return train(
        net,
        data,
        steps=steps,
        record_every=record_every,
        seed=seed,
        progress=False,
        max_snapshots=max_snapshots,
        **shevchenko_train_kwargs(step, inv_beta, lam, net.m, noise=noise),
    )


def _references(data) -> dict:
    """Reference curves of the runs' viewers (the kernel interpolant of the uniform init
    does not apply to this initialisation)."""
    from .. import splines

    return {
        "linear interpolant": splines.linear(data),
        "natural cubic spline": splines.natural_cubic(data),
    }


def _diverged(traj) -> bool:
    loss = np.asarray(traj.loss)
    start = max(loss[0], 1e-12)
    return bool(
        not np.all(np.isfinite(loss))
        or np.max(loss) > _BLOWUP * start
        or loss[-1] > _NO_FIT * start
    )


def literal_noisy_sgd(theta, data, step, inv_beta, lam, steps, seed) -> np.ndarray:
    """Their noisy SGD (3.3), literally, in their coordinates θ = (a, w, b); returns θ (N, 3).

    θᵢ ← (1 − 2λs)θᵢ + 2s(yⱼ − ŷ(xⱼ))∇_θσ*(xⱼ, θᵢ) + √(2s/β)gᵢ, one sample j per update,
    with ŷ = (1/N)Σᵢ aᵢ(wᵢx + bᵢ)₊. The random numbers are drawn as :func:`relu1d.train`
    documents them, so that the two can be compared draw for draw: ``as_rng(seed).spawn(2)``
    gives the sample stream (one ``permutation(M)`` per epoch), and the Gaussians gᵢ of
    update k are ``relu1d.train.langevin_noise(seed, N, rows=3, start=k)[0]``, rows for
    the engine's (a, b, c), i.e. their (w, −b, a). Written for clarity, one update at a
    time: for checks, not for speed.
    """
    from .._validation import as_rng
    from ..train import langevin_noise

    theta = np.array(theta, dtype=float)
    n, m = theta.shape[0], len(data)
    sample_rng, _ = as_rng(seed).spawn(2)
    order = []
    for k in range(steps):
        if k % m == 0:
            order = list(sample_rng.permutation(m))
        j = order[k % m]
        xi = langevin_noise(seed, n, rows=3, start=k)[0]
        g = np.column_stack((xi[2], xi[0], -xi[1]))
        a, w, b = theta.T
        pre = w * data.x[j] + b
        yhat = np.mean(a * np.maximum(pre, 0.0))
        active = (pre > 0).astype(float)
        grad_sigma = np.column_stack((np.maximum(pre, 0.0), a * data.x[j] * active, a * active))
        theta = ((1 - 2 * lam * step) * theta + 2 * step * (data.y[j] - yhat) * grad_sigma
                 + math.sqrt(2 * step * inv_beta) * g)
    return theta


_LITERAL_SETTINGS = ((0.3, 0.01, 0.003), (0.1, 0.0, 0.0), (0.05, 0.001, 0.5))


def _literal_check(dname, dseed, width=40, epochs=7, seed=11):
    """Largest |θ_relu1d − θ_literal| (relative to max |θ|) over ``_LITERAL_SETTINGS``,
    and one Reading per setting."""
    from ..train import train

    data = _dataset(dname, 5, dseed)
    theta0 = np.random.default_rng(3).standard_normal((width, 3)) * 0.5
    steps = epochs * len(data) + 2          # a partial epoch too
    readings = []
    for s, inv_beta, lam in _LITERAL_SETTINGS:
        traj = train(
            network_from_theta(theta0),
            data,
            steps=steps,
            record_every=steps,
            seed=seed,
            progress=False,
            **shevchenko_train_kwargs(s, inv_beta, lam, width),
        )
        theirs = literal_noisy_sgd(theta0, data, s, inv_beta, lam, steps, seed)
        err = float(
            np.max(np.abs(theta_from_network(traj.network) - theirs)) / np.max(np.abs(theirs))
        )
        readings.append(Reading(f"s = {s:g}, β⁻¹ = {inv_beta:g}, λ = {lam:g}", err, err <= 1e-10))
    return max(r.value for r in readings), tuple(readings)


# ====================================================================== setting
@dataclass(frozen=True)
class SettingSpec:
    """Their setting on one data set at several widths N (independent draws)."""

    data: str = "random"
    samples: int = 6
    data_seed: int = 1
    widths: tuple = (100, 400, 1600)
    step: float = 0.01
    inv_beta: float = 0.001
    lam: float = 0.003
    epochs: int = 2000
    init_scale: float = 0.5
    records: int = 50
    seed: int = 0


def _measure_setting(spec: SettingSpec, runs: dict | None = None):
    """Train at every width N and check the mapping against the literal update (3.3).

    Returns the dataset of :func:`run_setting`; ``runs``, when given, receives one
    :class:`Run` per width for the viewers.
    """
    import xarray as xr

    data = _dataset(spec.data, spec.samples, spec.data_seed)
    steps = spec.epochs * len(data)
    grid = np.linspace(data.x[0] - 0.25, data.x[-1] + 0.25, 200)
    paths: Any  # per width a list of snapshot predictions, then their (width, snapshot, x) array
    paths, risks, pens, lrs, wds, temps = [], [], [], [], [], []
    for n in spec.widths:
        kw = shevchenko_train_kwargs(spec.step, spec.inv_beta, spec.lam, n)
        lrs.append(kw["lr"])
        wds.append(kw["weight_decay"])
        temps.append(kw["temperature"])
        traj = _train(shevchenko_init(n, spec.init_scale, seed=spec.seed), data, spec.step,
                      spec.inv_beta, spec.lam, steps, spec.seed,
                      record_every=max(1, steps // spec.records))
        if runs is not None:
            runs[f"N={n}"] = Run(traj, data, references=_references(data))
        snaps = traj.snapshots
        paths.append([snaps.network(k)(grid) for k in range(len(snaps))])
        fe = free_energy(traj.network, data, spec.lam, 0.0)
        risks.append(fe.risk)
        pens.append(fe.penalty)
    paths = np.array(paths)                        # (width, snapshot, x)
    # Propagation of chaos: the whole path f_N(t, ·) converges as N grows, at rate
    # N^(-1/2). Sup over x, mean over the recorded times (a sup over times too is one
    # noisy extreme).
    dist = np.mean(np.max(np.abs(paths - paths[-1]), axis=2), axis=1)
    _, readings = _literal_check(spec.data, spec.data_seed)
    s, inv_beta, lam = np.array(_LITERAL_SETTINGS).T
    return xr.Dataset(
        {"f": (("width", "snapshot", "x"), paths), "sup_distance_to_widest": ("width", dist),
         "risk": ("width", risks), "penalty": ("width", pens), "lr": ("width", lrs),
         "weight_decay": ("width", wds), "temperature": ("width", temps),
         "literal_error": ("literal_setting", [r.value for r in readings])},
        coords={"width": list(spec.widths), "x": grid, "snapshot_step": ("snapshot", snaps.steps),
                "literal_s": ("literal_setting", s),
                "literal_inv_beta": ("literal_setting", inv_beta),
                "literal_lam": ("literal_setting", lam)},
        attrs={"step": spec.step, "inv_beta": spec.inv_beta, "lam": spec.lam,
               "mapping": "lr = 2s, lr_scale='width', weight_decay = λ/N, temperature = 1/(2Nβ), "
                          "batch_size = 1, alpha = N"})


def _expected_distance(widths) -> np.ndarray:
    """√(1/N + 1/N_max): the N^(-1/2) rate of independent draws, against the widest."""
    widths = np.asarray(widths, float)
    return np.sqrt(1.0 / widths + 1.0 / widths[-1])


def _judge_setting(ds, spec: SettingSpec) -> tuple:
    """The claims of :func:`run_setting`, from its dataset alone."""
    widths = [int(w) for w in ds["width"].values]
    dist = ds["sup_distance_to_widest"].values
    expected = _expected_distance(widths)
    slope = float(np.polyfit(np.log(widths[:-1]), np.log(dist[:-1]), 1)[0]) if len(widths) > 2 \
        else float("nan")
    errors = ds["literal_error"].values
    settings = zip(ds["literal_s"].values, ds["literal_inv_beta"].values, ds["literal_lam"].values)
    readings = tuple(Reading(f"s = {s:g}, β⁻¹ = {ib:g}, λ = {lam:g}", float(err),
                             bool(err <= 1e-10)) for (s, ib, lam), err in zip(settings, errors))
    literal = max(r.value for r in readings)
    return (
        Claim.close(
            "literal_update",
            "relu1d.train with shevchenko_train_kwargs against their update (3.3) written out in "
            "numpy with the same random numbers: largest |θ difference| after 7 epochs, over three "
            "(s, β⁻¹, λ)",
            f"{_REF}, noisy SGD (3.3)",
            literal,
            0.0,
            1e-10,
            readings=readings,
            note="θᵢ ← (1 − 2λs)θᵢ + 2s(yⱼ − ŷ(xⱼ))∇σ*(xⱼ, θᵢ) + √(2s/β)gᵢ in their coordinates "
            "(a, w, b), one sample per step from a permutation per epoch, g drawn as relu1d.train "
            "documents (seed → spawn(2): permutations, then standard_normal((3, N)) per step)",
        ),
        Claim.above(
            "mean_field_limit",
            "mean-field limit: distance of the path f_N(t, x) to the widest run "
            "(sup over x, mean over t), smallest N over the next",
            f"{_REF}, SGD → the PDE as N → ∞",
            float(dist[0] / dist[1]),
            1.0,
            note=f"sup distances {np.array2string(dist[:-1], precision=3)} for N = {widths[:-1]}; "
            "independent draws at each N, so N^(-1/2) is expected: ratio "
            f"{expected[0] / expected[1]:.3g}; fitted log-log slope {slope:.3g} (one draw per N: "
            "the rate itself is not resolved)",
        ),
    )


def _draw_setting(ds, spec: SettingSpec) -> dict:
    """The end predictors by N, and the distance to the widest run against N^(-1/2)."""
    data = _dataset(spec.data, spec.samples, spec.data_seed)
    widths = [int(w) for w in ds["width"].values]
    dist = ds["sup_distance_to_widest"].values
    expected = _expected_distance(widths)
    grid = ds["x"].values
    fig, axes = new_figure(2, 1, size=(5.0, 4.0))
    for n, path in zip(widths, ds["f"].values):
        axes[0, 0].plot(grid, path[-1], lw=1.2, label=f"N = {n}")
    axes[0, 0].plot(data.x, data.y, "x", color="k", ms=7, mew=2)
    axes[0, 0].legend(fontsize="small")
    axes[0, 0].set_title("$\\hat y$ at the end")
    axes[0, 1].loglog(widths[:-1], dist[:-1], "o-", label="measured")
    axes[0, 1].loglog(widths[:-1], dist[0] * expected[:-1] / expected[0], "k--",
                      label="∝ √(1/N + 1/N_max)")
    axes[0, 1].set_xlabel("N")
    axes[0, 1].set_ylabel(f"mean over t of sup over x |f_N − f_{{{widths[-1]}}}|")
    axes[0, 1].legend(fontsize="small")
    return {"width": fig}


@register(
    "shevchenko2022.setting",
    "Their noisy SGD through relu1d.train (the parameter mapping) and the mean-field limit in N",
    quick=SettingSpec(),
    full=SettingSpec(widths=(250, 1000, 4000, 16000), epochs=5000),
    judge=_judge_setting,
)
def run_setting(spec: SettingSpec) -> ExperimentResult:
    """Their setting through :func:`relu1d.train`, and the mean-field limit in N.

    Measures the path f_N(t, ·) of one noisy-SGD run per width N (``spec.widths``), its
    distance to the widest run, and the largest difference between relu1d.train with
    :func:`relu1d.meanfield.shevchenko_train_kwargs` and their update (3.3) written out
    in numpy (:func:`literal_noisy_sgd`) over three (s, β⁻¹, λ).

    Claims ``literal_update`` (difference ≤ 1e-10) and ``mean_field_limit`` (the smallest
    N is farther from the widest run than the next). Presets: ``quick`` N = 100, 400,
    1600 (seconds); ``full`` N = 250 … 16000, 5000 epochs.
    """
    runs: dict = {}
    ds = _measure_setting(spec, runs)
    return ExperimentResult(ds, _draw_setting(ds, spec), _judge_setting(ds, spec), runs=runs)


# ====================================================================== free energy
@dataclass(frozen=True)
class FreeEnergySpec:
    """One noisy-SGD run, F(ρ_N) at every snapshot, and the entropy estimator's error."""

    data: str = "random"
    samples: int = 6
    data_seed: int = 1
    width: int = 400
    step: float = 0.1
    inv_beta: float = 0.01
    lam: float = 0.003
    epochs: int = 4000
    init_scale: float = 0.5
    noise: str = "gibbs"
    seed: int = 0
    kl_sizes: tuple = (250, 1000, 4000)
    kl_repeats: int = 10


def _kl_gaussian_error(sizes, repeats):
    """Kozachenko–Leonenko against the exact entropy of N(0, diag(1, 1/4, 4)) in 3-D."""
    cov = np.array([1.0, 0.25, 4.0])
    exact = 1.5 * math.log(2 * math.pi * math.e) + 0.5 * float(np.sum(np.log(cov)))
    err = np.empty((len(sizes), repeats))
    for i, n in enumerate(sizes):
        for r in range(repeats):
            x = np.random.default_rng(1000 * i + r).standard_normal((n, 3)) * np.sqrt(cov)
            err[i, r] = knn_entropy(x) - exact
    return err


def _measure_free_energy(spec: FreeEnergySpec, runs: dict | None = None):
    """F(ρ_N) and its parts at every snapshot of one run, and the entropy estimator's
    error on a Gaussian; ``runs``, when given, receives the run for the viewer."""
    import xarray as xr

    data = _dataset(spec.data, spec.samples, spec.data_seed)
    steps = spec.epochs * len(data)
    traj = _train(shevchenko_init(spec.width, spec.init_scale, seed=spec.seed), data, spec.step,
                  spec.inv_beta, spec.lam, steps, spec.seed, noise=spec.noise)
    if runs is not None:
        runs["langevin"] = Run(traj, data, references=_references(data))
    # The printed noise samples exp(−2βΨ): its Lyapunov free energy has β⁻¹ halved.
    inv_beta_eff = spec.inv_beta if spec.noise == "gibbs" else spec.inv_beta / 2
    snaps = traj.snapshots
    parts = [free_energy(snaps.network(k), data, spec.lam, inv_beta_eff) for k in range(len(snaps))]
    kl = _kl_gaussian_error(spec.kl_sizes, spec.kl_repeats)
    return xr.Dataset({"F": ("step", [p.value for p in parts]),
                       "risk": ("step", [p.risk for p in parts]),
                       "penalty": ("step", [p.penalty for p in parts]),
                       "entropy": ("step", [p.entropy for p in parts]),
                       "kl_error": (("n", "repeat"), kl)},
                      coords={"step": snaps.steps, "epoch": ("step", snaps.steps / len(data)),
                              "n": list(spec.kl_sizes), "repeat": np.arange(spec.kl_repeats)},
                      attrs={"inv_beta": spec.inv_beta, "inv_beta_in_F": inv_beta_eff,
                             "lam": spec.lam, "step_size": spec.step, "noise": spec.noise,
                             "width": spec.width})


def _judge_free_energy(ds, spec: FreeEnergySpec) -> tuple:
    """The claims of :func:`run_free_energy`, from its dataset alone."""
    F = ds["F"].values
    kl = ds["kl_error"].values
    half = len(F) // 2
    quarter = len(F) // 4
    drop = F[0] - np.mean(F[half:])
    drift = np.mean(F[-quarter:]) - np.mean(F[half:half + quarter])
    noise_level = np.std(F[half:]) / math.sqrt(max(1, len(F) - half))
    sizes = [int(n) for n in ds["n"].values]
    return (
        Claim.above(
            "free_energy_falls",
            "the free energy falls along noisy SGD (F at the start minus its mean "
            "over the second half)",
            f"{_REF}, F(ρ) and the Wasserstein gradient flow",
            float(drop),
            0.0,
            note=f"F from {F[0]:.4g} to {np.mean(F[half:]):.4g}; entropy by Kozachenko–Leonenko (k "
            f"= 1) with β⁻¹ = {float(ds.attrs['inv_beta_in_F']):g} in F",
        ),
        Claim.close(
            "free_energy_plateau",
            "…to a plateau: change of F between the third and the last quarter "
            "of the run, relative to the total drop",
            f"{_REF}, convergence to ρ*",
            float(drift / drop),
            0.0,
            0.05,
            note=f"drift {drift:.3g}, standard error of the late mean ≈ {noise_level:.2g}",
        ),
        Claim.close(
            "kl_entropy_error",
            "Kozachenko–Leonenko entropy error on a 3-D Gaussian at the largest n (nats)",
            "Kozachenko & Leonenko 1987 (consistency)",
            float(kl[-1].mean()),
            0.0,
            0.05,
            note=f"mean error by n {dict(zip(sizes, np.round(kl.mean(axis=1), 4).tolist()))}; "
            f"spread {np.round(kl.std(axis=1), 3)}: a slight negative bias that shrinks with n",
        ),
    )


def _draw_free_energy(ds, spec: FreeEnergySpec) -> dict:
    """F and its β = ∞ part against the epoch; the entropy estimator's error against n."""
    epoch = ds["epoch"].values
    kl = ds["kl_error"].values
    fig, axes = new_figure(2, 1, size=(5.0, 4.0))
    axes[0, 0].plot(epoch, ds["F"].values, "-", label="F")
    axes[0, 0].plot(epoch, 0.5 * ds.risk + 0.5 * spec.lam * ds.penalty, "--",
                    label="½R + (λ/2)∫‖θ‖²")
    axes[0, 0].set_xscale("symlog", linthresh=1.0)
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].legend(fontsize="small")
    axes[0, 0].set_title(f"β⁻¹ = {spec.inv_beta}, λ = {spec.lam}, N = {spec.width}")
    axes[0, 1].errorbar(ds["n"].values, kl.mean(axis=1), kl.std(axis=1), fmt="o-", capsize=3)
    axes[0, 1].axhline(0, color="k", lw=0.8)
    axes[0, 1].set_xscale("log")
    axes[0, 1].set_xlabel("n")
    axes[0, 1].set_ylabel("Ĥ − H (nats), Gaussian in 3-D")
    return {"free_energy": fig}


@register(
    "shevchenko2022.free_energy",
    "Free energy F = ½R + (λ/2)∫‖θ‖² − β⁻¹H along noisy SGD falls to a plateau",
    quick=FreeEnergySpec(),
    full=FreeEnergySpec(
        width=1000, epochs=50_000, kl_sizes=(250, 500, 1000, 2000, 4000, 8000), kl_repeats=40
    ),
    judge=_judge_free_energy,
)
def run_free_energy(spec: FreeEnergySpec) -> ExperimentResult:
    """The free energy F(ρ_N) along one noisy-SGD run (entropy by Kozachenko–Leonenko).

    Measures F and its parts (risk, penalty, entropy) at every snapshot, with β⁻¹ halved
    in F for the printed noise (which samples exp(−2βΨ)), and the estimator's error on a
    3-D Gaussian against the sample size n. Claims ``free_energy_falls``,
    ``free_energy_plateau`` and ``kl_entropy_error``. Presets: ``quick`` N = 400, 4000
    epochs (seconds); ``full`` N = 1000, 5·10⁴ epochs.
    """
    runs: dict = {}
    ds = _measure_free_energy(spec, runs)
    return ExperimentResult(ds, _draw_free_energy(ds, spec), _judge_free_energy(ds, spec),
                            runs=runs)


# ====================================================================== Gibbs / Stein
@dataclass(frozen=True)
class SteinSpec:
    """Stein identity at the start and the end of long noisy-SGD runs, for both noises.

    Every seed of ``seeds`` runs both noises (in parallel threads); the Stein claims use
    the first seed, the quadratic-test-function ratios all of them."""

    data: str = "random"
    samples: int = 6
    data_seed: int = 1
    width: int = 500
    step: float = 0.01
    inv_beta: float = 0.01
    lam: float = 0.003
    epochs: int = 12_000
    init_scale: float = 0.5
    records: int = 300
    n_centers: int = 8
    seeds: tuple = (0, 1, 2)
    workers: int | None = None


_BLOCKS = 10


def _mean_interval(values) -> tuple[float, float] | None:
    """Mean ± 2 standard errors over seeds (≈ 95 %; None for fewer than two)."""
    values = np.asarray(values, float)
    if values.size < 2:
        return None
    half = 2 * values.std(ddof=1) / math.sqrt(values.size)
    return float(values.mean() - half), float(values.mean() + half)


def _stein_avg(traj, data, lam, inv_beta, centers, width):
    """Stein values averaged over the snapshots of the second half of the run.

    Batch-1 SGD makes the residuals jitter from step to step (by about 2s·Kⱼⱼ·|rⱼ|), which
    dominates a single snapshot; the mean over many snapshots removes it. The standard
    error is from ``_BLOCKS`` batch means (consecutive snapshots are correlated)."""
    snaps = traj.snapshots
    results = [
        stein_discrepancy(snaps.network(k), data, lam, inv_beta, centers=centers, width=width)
        for k in range(len(snaps) // 2, len(snaps))
    ]
    values = np.array([r.value for r in results])
    blocks = np.array([b.mean(axis=0) for b in np.array_split(values, _BLOCKS)])
    stderr = blocks.std(axis=0, ddof=1) / math.sqrt(_BLOCKS)
    return (
        results[0].names,
        values.mean(axis=0),
        stderr,
        np.mean([r.scale for r in results], axis=0),
    )


def _quadratic_ratio(traj, data, lam, inv_beta):
    """E[θ·∇Ψ]/(3β⁻¹) over the second half of the run: 1 at exp(−βΨ), 1/2 at exp(−2βΨ)
    (Stein with φ = ‖θ‖²/2, Δφ = 3)."""
    snaps = traj.snapshots
    vals = [
        sum(
            stein_discrepancy(
                snaps.network(k), data, lam, 0.0, centers=np.zeros((0, 3)), width=1.0
            ).value[3:6]
        )
        for k in range(len(snaps) // 2, len(snaps))
    ]
    return float(np.mean(vals) / (3 * inv_beta))


def _measure_gibbs_stein(spec: SteinSpec):
    """Both noises over every seed: the Stein values at the start and over the second
    half of the first seed's runs, and the quadratic-test-function ratio of every run."""
    import xarray as xr

    from ..train import train_many

    data = _dataset(spec.data, spec.samples, spec.data_seed)
    steps = spec.epochs * len(data)
    inits = [shevchenko_init(spec.width, spec.init_scale, seed=seed) for seed in spec.seeds]
    init = inits[0]
    every = {}
    for noise in ("gibbs", "printed"):
        kwargs = shevchenko_train_kwargs(
            spec.step, spec.inv_beta, spec.lam, spec.width, noise=noise
        )
        every[noise] = train_many(
            inits,
            data,
            steps=steps,
            record_every=max(1, steps // spec.records),
            max_snapshots=None,
            seed=list(spec.seeds),
            workers=spec.workers,
            **kwargs,
        )
    runs = {noise: trajs[0] for noise, trajs in every.items()}
    end = runs["gibbs"].network
    theta_end = theta_from_network(end)
    centers = theta_end[
        np.random.default_rng(spec.seeds[0]).choice(end.m, spec.n_centers, replace=False)
    ]
    width = float(np.sqrt(np.mean(np.sum((theta_end - theta_end.mean(0)) ** 2, axis=1)) / 3))
    at_init = stein_discrepancy(init, data, spec.lam, spec.inv_beta, centers=centers, width=width)
    at_init_2 = stein_discrepancy(
        init, data, spec.lam, spec.inv_beta / 2, centers=centers, width=width
    )
    names, value, stderr, scale = _stein_avg(
        runs["gibbs"], data, spec.lam, spec.inv_beta, centers, width
    )
    # The printed-noise run, read at β (as printed) and at 2β (what it samples).
    _, v_p1, se_p1, sc_p1 = _stein_avg(
        runs["printed"], data, spec.lam, spec.inv_beta, centers, width
    )
    _, v_p2, se_p2, sc_p2 = _stein_avg(
        runs["printed"], data, spec.lam, spec.inv_beta / 2, centers, width
    )
    q = {noise: np.array([_quadratic_ratio(t, data, spec.lam, spec.inv_beta) for t in trajs])
         for noise, trajs in every.items()}
    return xr.Dataset(
        {"init_value": ("phi", at_init.value), "init_stderr": ("phi", at_init.stderr),
         "init_scale": ("phi", at_init.scale), "init_value_at_2beta": ("phi", at_init_2.value),
         "end_value": ("phi", value), "end_stderr": ("phi", stderr), "end_scale": ("phi", scale),
         "printed_at_beta": ("phi", v_p1), "printed_at_beta_stderr": ("phi", se_p1),
         "printed_at_beta_scale": ("phi", sc_p1),
         "printed_at_2beta": ("phi", v_p2), "printed_at_2beta_stderr": ("phi", se_p2),
         "printed_at_2beta_scale": ("phi", sc_p2),
         "quadratic_ratio": (("noise", "seed"), [q["gibbs"], q["printed"]])},
        coords={"phi": list(names), "noise": ["gibbs", "printed"], "seed": list(spec.seeds)},
        attrs={"inv_beta": spec.inv_beta, "lam": spec.lam, "step": spec.step, "width": spec.width,
               "bump_width": width, "quadratic_ratio_gibbs": float(q["gibbs"].mean()),
               "quadratic_ratio_printed": float(q["printed"].mean()), "seeds": list(spec.seeds)})


def _stein_relative(ds) -> dict:
    """|Stein value| / scale at the start, at the end, and for the printed noise read at
    β and at 2β."""
    return {"init": np.abs(ds["init_value"].values) / ds["init_scale"].values,
            "end": np.abs(ds["end_value"].values) / ds["end_scale"].values,
            "p1": np.abs(ds["printed_at_beta"].values) / ds["printed_at_beta_scale"].values,
            "p2": np.abs(ds["printed_at_2beta"].values) / ds["printed_at_2beta_scale"].values}


def _judge_gibbs_stein(ds, spec: SteinSpec) -> tuple:
    """The claims of :func:`run_gibbs_stein`, from its dataset alone."""
    rel = _stein_relative(ds)
    rel_init, rel_end, rel_p1, rel_p2 = rel["init"], rel["end"], rel["p1"], rel["p2"]
    value, stderr = ds["end_value"].values, ds["end_stderr"].values
    q = {noise: ds["quadratic_ratio"].sel(noise=noise).values for noise in ("gibbs", "printed")}
    q_gibbs, q_printed = float(q["gibbs"].mean()), float(q["printed"].mean())
    ratios = q["printed"] / q["gibbs"]
    n_seeds = int(ds.sizes["seed"])
    ou_ratio = 1 / (2 * (1 - spec.lam * spec.step))
    bumps = np.array([str(n).startswith("gauss") for n in ds["phi"].values])
    ratio = np.abs(value) / np.abs(ds["init_value"].values)
    ratio_p2 = np.abs(ds["printed_at_2beta"].values) / np.abs(ds["init_value_at_2beta"].values)
    return (
        Claim.below(
            "stein_end",
            "Stein discrepancy at the end (noise √(4s/β), read at β), worst test function, "
            "relative to the size of its two terms",
            f"{_REF}, ρ* = exp(−βΨ)/Z",
            float(np.max(rel_end)),
            0.2,
            note=f"at initialisation: worst {np.max(rel_init):.3g}, median "
            f"{np.median(rel_init):.3g}; at the end median {np.median(rel_end):.3g}; z-scores "
            f"{np.array2string(value / stderr, precision=1)} (batch means): significant residuals "
            f"remain (finite s = {spec.step}, N = {spec.width})",
        ),
        Claim.below(
            "stein_end_vs_init",
            "Stein discrepancy end / initialisation, median over the Gaussian-bump test functions",
            f"{_REF}, stationarity of ρ*",
            float(np.median(ratio[bumps])),
            0.5,
            note=f"all φ: {np.array2string(ratio, precision=3)} (the linear φ = θₗ barely separate "
            "the two: E|∂ₗΨ| is large against E[∂ₗΨ] at both ends)",
        ),
        Claim.below(
            "stein_printed_at_2beta",
            "printed noise √(2s/β), read at 2β: worst relative Stein discrepancy at the end",
            f"{_REF}, noisy SGD as printed",
            float(np.max(rel_p2)),
            0.2,
            note=f"read at β as printed the worst is {np.max(rel_p1):.3g} (median "
            f"{np.median(rel_p1):.3g}); end/initialisation at 2β, median over bumps "
            f"{np.median(ratio_p2[bumps]):.3g}",
        ),
        Claim.close(
            "quadratic_gibbs_noise",
            "E[θ·∇Ψ] / (3β⁻¹) with the noise √(4s/β) (Stein with φ = ‖θ‖²/2; 1 "
            "at exp(−βΨ)), mean over seeds",
            "relu1d._gibbs (derivation)",
            q_gibbs,
            1.0,
            0.2,
            seeds=n_seeds,
            interval=_mean_interval(q["gibbs"]),
            note=f"per seed {np.array2string(q['gibbs'], precision=3)}",
        ),
        Claim.close(
            "printed_noise_samples_gibbs",
            "the noisy SGD (3.3) as printed, noise √(2s/β), samples ρ* = "
            "exp(−βΨ)/Z (3.6): E[θ·∇Ψ] / (3β⁻¹) at its end (1 at exp(−βΨ)), mean over seeds",
            f"{_REF}, eqs. (3.3)–(3.6)",
            q_printed,
            1.0,
            0.2,
            seeds=n_seeds,
            interval=_mean_interval(q["printed"]),
            readings=(
                Reading(
                    f"noise √(2s/β) as printed, s = {spec.step:g}, N = {spec.width}",
                    q_printed,
                    abs(q_printed - 1) <= 0.2,
                ),
                Reading(
                    "noise √(4s/β) (twice the printed variance)", q_gibbs, abs(q_gibbs - 1) <= 0.2
                ),
                Reading(
                    "no data (Ψ = λ‖θ‖²/2), exact: stationary variance of (3.3) over that of "
                    f"exp(−βΨ), λs = {spec.lam * spec.step:g}",
                    ou_ratio,
                    abs(ou_ratio - 1) <= 0.2,
                ),
            ),
            certificate="the printed run's end state is stationary for exp(−2βΨ): Stein "
            f"discrepancy end/initialisation {np.median(ratio_p2[bumps]):.3g} (median over the "
            f"bumps) read at 2β, worst relative discrepancy {np.max(rel_p2):.3g} at 2β against "
            f"{np.max(rel_p1):.3g} read at β; exact computation in the data-free case: stationary "
            "variance (2s/β)/(1 − (1 − 2λs)²) = 1/(2λβ(1 − λs)) against 1/(λβ) "
            "(tests/test_gibbs.py runs it through relu1d.train)",
            mechanism="(3.3) adds variance 2s/β per step to the drift −2s∇Ψ; the Euler–Maruyama "
            "step h = 2s of dθ = −∇Ψdt + √(2/β′)dW has variance 2h/β′ = 4s/β′, so β′ = 2β: the "
            "printed update samples exp(−2βΨ). The diffusion 2ξβ⁻¹Δρ of (3.4) belongs to noise "
            "√(4s/β). One β is used throughout (3.3)–(3.6), so no convention reconciles them; a "
            "constant factor in β leaves every β → ∞ statement, the main theorem included, "
            "unchanged",
            note=f"per seed {np.array2string(q['printed'], precision=3)}: ≈ 1/2, the minimiser of "
            "F with β⁻¹ halved (relu1d._gibbs)",
        ),
        Claim.close(
            "printed_noise_ratio",
            "ratio of the two, printed / √(4s/β) noise, per seed (derived: 1/2)",
            "relu1d._gibbs (derivation)",
            float(ratios.mean()),
            0.5,
            0.1,
            seeds=n_seeds,
            interval=_mean_interval(ratios),
            note=f"per seed {np.array2string(ratios, precision=3)}",
        ),
    )


def _draw_gibbs_stein(ds, spec: SteinSpec) -> dict:
    """|Stein value| / scale per test function: start, end, printed noise at β and 2β."""
    rel = _stein_relative(ds)
    names = [str(n) for n in ds["phi"].values]
    fig, axes = new_figure(1, 1, size=(8.0, 4.0))
    ax = axes[0, 0]
    xs = np.arange(len(names))
    ax.semilogy(xs, rel["init"], "o", label="initialisation")
    ax.semilogy(xs, rel["end"], "s", label="end, noise √(4s/β), read at β")
    ax.semilogy(xs, rel["p1"], "^", label="end, printed noise, read at β")
    ax.semilogy(xs, rel["p2"], "v", label="end, printed noise, read at 2β")
    ax.set_xticks(xs, names, rotation=60, fontsize="small")
    ax.set_ylabel("|E[∇φ·∇Ψ − β⁻¹Δφ]| / scale")
    ax.legend(fontsize="small")
    return {"stein": fig}


@register(
    "shevchenko2022.gibbs_stein",
    "Gibbs stationarity ρ ∝ exp(−βΨ) by the Stein identity, and the factor 2 in the printed noise",
    quick=SteinSpec(),
    full=SteinSpec(width=1000, epochs=15_000, records=400, n_centers=16, seeds=tuple(range(10))),
    judge=_judge_gibbs_stein,
)
def run_gibbs_stein(spec: SteinSpec) -> ExperimentResult:
    """Gibbs stationarity by the Stein identity, and the factor 2 in the printed noise.

    Runs noisy SGD with the noise √(4s/β) (which samples exp(−βΨ)) and the printed
    √(2s/β) over ``spec.seeds``; measures E[∇φ·∇Ψ − β⁻¹Δφ] for linear, quadratic and
    Gaussian-bump test functions φ at the start and over the second half of the first
    seed's runs, and E[θ·∇Ψ]/(3β⁻¹) (1 at exp(−βΨ), 1/2 at exp(−2βΨ)) for every run.
    Claims ``stein_end``, ``stein_end_vs_init``, ``stein_printed_at_2beta``,
    ``quadratic_gibbs_noise``, ``printed_noise_samples_gibbs`` (contradicted: the printed
    noise samples exp(−2βΨ)) and ``printed_noise_ratio``. Presets: ``quick`` N = 500,
    3 seeds; ``full`` N = 1000, 10 seeds.
    """
    ds = _measure_gibbs_stein(spec)
    return ExperimentResult(ds, _draw_gibbs_stein(ds, spec), _judge_gibbs_stein(ds, spec))


# ====================================================================== knots
PAIRS = ((0.005, 0.0), (1e-4, 0.0), (0.0, 0.0), (0.01, 0.003), (0.001, 0.0), (0.0, 0.003))
"""The paper's (β⁻¹, λ) pairs (§7, Figs. 7 and 8)."""


@dataclass(frozen=True)
class KnotSpec:
    """The knot census over data sets × seeds × widths N × (β⁻¹, λ).

    Every run uses the same step ``step`` and the same number of updates
    ``epochs × samples``, so every run covers the same continuous time s·updates
    (mean-field time). The step is fixed up front, not found by retrying: batch-1 SGD
    with step s kicks f(xⱼ) by 2s·Kⱼⱼ·rⱼ per update (Kⱼⱼ = (1/N)Σᵢ‖∇σ*(xⱼ, θᵢ)‖²,
    which grows as the network fits), and on these data sets s = 0.2 keeps the loss
    jittering at 0.25–1.9, s = 0.05 still throws the square wave's loss between 0.1 and
    1.1 and its knot counts between 2 and 4, while at s = 0.02 the loss of every data set
    plateaus within ±20 % after 2·10⁴ updates and the counts stop changing (measured on
    N = 500, both seeds, all six data sets). The paper's s = 1 throws every neuron off the
    data within the first updates here (f ≡ 0 on the data, nothing moves). A run that
    diverges anyway is recorded as such (``diverged``) and left out of the verdicts.
    The paper's runs last 5·10⁴ epochs at s = 1 (time 3·10⁵, its scale of data and
    initialisation unstated); here the time is what the end state needs, recorded per run
    as its certificate: the loss on a plateau and the most knots per interval unchanged
    over the last quarter of the run (weight decay relaxes at rate 2λ, 1/(2λ) = 167 at
    λ = 0.003).

    ``tol_fraction`` (the resolution, times the data range) and ``min_fraction`` (an
    effective knot carries at least this fraction of the variation of f') are the
    thresholds of :mod:`relu1d.knots`; counting is resolution-aware (see
    :func:`_resolved_census`), and the census is repeated for every pair of
    ``sensitivity_tol`` × ``sensitivity_min``. Runs go in parallel threads
    (:func:`relu1d.train_many`, ``workers`` threads, default the number of CPUs).

    Presets: ``quick`` (seconds), :data:`KNOTS_CI` (the reduced census of the slow
    tests: N = 500 only, 72 runs; measured 94 s wall, 64 CPU-seconds, on two cores shared
    with other jobs) and ``full`` (216 runs: 3 data sets × 2 data seeds ×
    N ∈ {500, 1000, 2000} × 2 seeds × 6 pairs, as many runs as the earlier census of
    5·10⁴ epochs that took 45 minutes; measured 415 CPU-seconds, so about 3.5 minutes on
    two idle cores, 15 minutes on two cores loaded by five other jobs). Most of the time
    is the Gaussian noise (numpy) of the noisy runs.
    """

    datasets: tuple = ("sinusoid",)
    samples: int = 6
    data_seeds: tuple = (1,)
    seeds: tuple = (0, 1, 2)
    widths: tuple = (100,)
    pairs: tuple = PAIRS
    step: float = 0.02
    epochs: int = 4000
    init_scale: float = 0.5
    tol_fraction: float = 0.01
    min_fraction: float = 0.01
    sensitivity_tol: tuple = (0.005, 0.01, 0.02)
    sensitivity_min: tuple = (0.003, 0.01, 0.03)
    records: int = 8
    workers: int | None = None


def _sample_groups(x, tol) -> np.ndarray:
    """Group label of each (sorted) sample: consecutive samples closer than ``tol`` share
    one group, since a knot cannot be placed between them at that resolution."""
    return np.concatenate(([0], np.cumsum(np.diff(x) >= tol))).astype(np.int64)


def _merge_close(position, jump, tol):
    """Merge effective knots closer than ``tol`` to each other: greedy left to right,
    each merged knot at most ``tol`` wide (no chaining), position |jump|-weighted."""
    if position.size == 0:
        return position, jump
    starts = [0]
    for i in range(1, position.size):
        if position[i] - position[starts[-1]] >= tol:
            starts.append(i)
    starts = np.asarray(starts)
    weight = np.abs(jump)
    w = np.add.reduceat(weight, starts)
    merged_pos = np.add.reduceat(weight * position, starts) / np.where(w > 0, w, 1.0)
    return merged_pos, np.add.reduceat(jump, starts)


@dataclass(frozen=True)
class KnotCensus:
    """Resolution-aware knot counts of one network (see :func:`_resolved_census`).

    Attributes
    ----------
    total, interior, ends_left, ends_right : (G + 1,) int arrays
        Per resolved interval (between consecutive sample groups, the outer two
        included): all knots, knots inside, knots at its left and at its right end.
    bad : (G + 1,) bool array
        Breaks the theorem's bound or form (:func:`_violates`).
    unresolved : int
        Intervals between samples closer than the resolution (inside a group): no
        count can be made there, they are left out.
    away : float
        Fraction of the variation of f' outside the effective knots.
    """

    total: np.ndarray
    interior: np.ndarray
    ends_left: np.ndarray
    ends_right: np.ndarray
    bad: np.ndarray
    unresolved: int
    away: float


def _violates(total, interior, ends_left, ends_right) -> np.ndarray:
    """More than 3, or 3 not made of one inside plus one at each end (the theorem's form).
    An outer interval has one end only, so 3 knots there always count as a violation."""
    three_ok = (interior == 1) & (ends_left >= 1) & (ends_right >= 1)
    return (total > 3) | ((total == 3) & ~three_ok)


def _resolved_census(net, data, tol, min_fraction) -> KnotCensus:
    """Effective knots per interval between samples, at resolution ``tol``.

    * Knots are the effective clusters of :func:`relu1d.knots.clusters` (``tol``,
      ``min_fraction``); effective knots closer than ``tol`` to each other are merged
      (:func:`_merge_close`: one kink at this resolution). So are knots closer than ``tol``
      to a sample (below).
    * Samples closer than ``tol`` form one group (:func:`_sample_groups`); the intervals
      inside a group are *unresolved* (a knot between them cannot be told from a knot at
      them) and are not counted.
    * Knots within ``tol`` of a group (of any of its samples) are one knot at that group
      (at this resolution they cannot be told apart from a kink at the sample), an end of
      both intervals the group bounds; the others count inside their interval.
    """
    found = _knots.clusters(net, data, tol, min_fraction)
    variation = float(np.sum(np.abs(found.jump)))
    away = float(np.sum(np.abs(found.jump[~found.effective])) / variation) if variation > 0 else 0.0
    pos, _ = _merge_close(found.position[found.effective], found.jump[found.effective], tol)
    x = data.x
    label = _sample_groups(x, tol)
    n_groups = int(label[-1]) + 1
    lo = np.array([x[label == g][0] for g in range(n_groups)])
    hi = np.array([x[label == g][-1] for g in range(n_groups)])
    if pos.size:
        dist = np.maximum(np.maximum(lo[None, :] - pos[:, None], pos[:, None] - hi[None, :]), 0.0)
        nearest = np.argmin(dist, axis=1)
        at = dist[np.arange(pos.size), nearest] <= tol
    else:
        nearest, at = np.zeros(0, np.int64), np.zeros(0, bool)
    at_groups = np.minimum(np.bincount(nearest[at], minlength=n_groups), 1)
    between = np.bincount(np.searchsorted(hi, pos[~at]), minlength=n_groups + 1)
    ends_left = np.concatenate(([0], at_groups))
    ends_right = np.concatenate((at_groups, [0]))
    total = between + ends_left + ends_right
    bad = _violates(total, between, ends_left, ends_right)
    return KnotCensus(total, between, ends_left, ends_right, bad, int(data.s - n_groups), away)


def _in_regime(inv_beta, lam) -> bool:
    """The theorem's hypotheses: λ > 0 and β·λ^(7/4) → ∞; only β = ∞ meets the second
    at the paper's λ = 0.003 (β·λ^(7/4) = 0.004 at β⁻¹ = 0.01)."""
    return lam > 0 and inv_beta == 0


def _census_runs(spec, data, width, inv_beta, lam):
    """All seeds of one (data set, N, pair) cell, in parallel threads; a run that raises
    TrainingDiverged or ends diverged (``_diverged``) comes back as None."""
    from ..train import TrainingDiverged, train, train_many

    steps = spec.epochs * len(data)
    inits = [shevchenko_init(width, spec.init_scale, seed=seed) for seed in spec.seeds]
    kwargs = dict(steps=steps, record_every=max(1, steps // spec.records), max_snapshots=None,
                  **shevchenko_train_kwargs(spec.step, inv_beta, lam, width))
    try:
        trajs = train_many(inits, data, seed=list(spec.seeds), workers=spec.workers, **kwargs)
    except TrainingDiverged:          # rare: find which, keep the others
        trajs = []
        for net, seed in zip(inits, spec.seeds):
            try:
                trajs.append(train(net, data, seed=seed, progress=False, **kwargs))
            except TrainingDiverged:
                trajs.append(None)
    return [None if t is None or _diverged(t) else t for t in trajs]


def _paired_gap(rows, key, first, second):
    """Mean and standard error of key(first) − key(second) over the cells (data set,
    data seed, N, seed) that ran both pairs."""
    by = {}
    for r in rows:
        by.setdefault((r["data"], r["data_seed"], r["width"], r["seed"]), {})[
            (r["inv_beta"], r["lam"])
        ] = r[key]
    diffs = np.array([v[first] - v[second] for v in by.values() if first in v and second in v])
    if diffs.size < 2:
        return float("nan"), float("nan"), int(diffs.size)
    return float(diffs.mean()), float(diffs.std(ddof=1) / math.sqrt(diffs.size)), int(diffs.size)


KNOTS_FULL = KnotSpec(
    datasets=("random", "sinusoid", "square_wave"),
    data_seeds=(1, 2),
    seeds=(0, 1),
    widths=(500, 1000, 2000),
    epochs=8000,
)
"""The full census: 216 runs (the paper's N = 500 and the wider 1000, 2000)."""

KNOTS_CI = dataclasses.replace(KNOTS_FULL, widths=(500,))
"""The reduced census of the slow tests (CI): the full one at N = 500 only, 72 runs."""


def _measure_knots(spec: KnotSpec):
    """Every census run (data set × data seed × N × pair × seed): its resolved census,
    the census at 3/4 of the run, its loss plateau, risk and sensitivity grid, and the
    end network of the first finished run of each pair (for the figure)."""
    import xarray as xr

    rows = []
    examples: dict[tuple[float, float], tuple[Network, str, int]] = {}
    for dname in spec.datasets:
        for dseed in spec.data_seeds:
            data = _dataset(dname, spec.samples, dseed)
            span = float(data.x[-1] - data.x[0])
            for n in spec.widths:
                for inv_beta, lam in spec.pairs:
                    for seed, traj in zip(spec.seeds, _census_runs(spec, data, n, inv_beta, lam)):
                        row = dict(
                            data=dname,
                            data_seed=dseed,
                            width=n,
                            seed=seed,
                            inv_beta=inv_beta,
                            lam=lam,
                            regime=_in_regime(inv_beta, lam),
                            diverged=traj is None,
                        )
                        if traj is None:
                            rows.append(row)
                            continue
                        net = traj.network
                        c = _resolved_census(net, data, spec.tol_fraction * span, spec.min_fraction)
                        snaps = traj.snapshots
                        late = _resolved_census(snaps.network(len(snaps) * 3 // 4), data,
                                                spec.tol_fraction * span, spec.min_fraction)
                        loss = np.asarray(traj.loss)
                        q = len(loss) // 4
                        third, last = float(np.mean(loss[-2 * q:-q])), float(np.mean(loss[-q:]))
                        sens = [
                            [
                                _resolved_census(net, data, t * span, mf)
                                for mf in spec.sensitivity_min
                            ]
                            for t in spec.sensitivity_tol
                        ]
                        row.update(
                            max_total=int(c.total.max()),
                            max_interior=int(c.interior.max()),
                            violations=int(c.bad.sum()),
                            intervals=int(c.total.size),
                            unresolved=c.unresolved,
                            counts=" ".join(map(str, c.total)),
                            away=c.away,
                            late_max_total=int(late.total.max()),
                            plateau=abs(last - third) / max(third, 1e-12),
                            risk=free_energy(net, data, lam, 0.0).risk,
                            sens_max=[[int(s.total.max()) for s in r] for r in sens],
                            sens_bad=[[int(s.bad.sum()) for s in r] for r in sens],
                        )
                        rows.append(row)
                        examples.setdefault((inv_beta, lam), (net, dname, dseed))
    if not any(not r["diverged"] for r in rows):
        raise RuntimeError(f"every census run diverged at step {spec.step}")
    keys = [*_KNOT_KEYS, *_KNOT_FILL]
    ds = xr.Dataset({k: ("run", [r.get(k, _KNOT_FILL.get(k)) for r in rows]) for k in keys},
                    coords={"run": np.arange(len(rows)), "tol_fraction": list(spec.sensitivity_tol),
                            "min_fraction": list(spec.sensitivity_min)},
                    attrs={"tol_fraction": spec.tol_fraction, "min_fraction": spec.min_fraction,
                           "epochs": spec.epochs, "step": spec.step,
                           "time": spec.step * spec.epochs * spec.samples})
    blank = np.full((len(spec.sensitivity_tol), len(spec.sensitivity_min)), -1)
    ds["sensitivity_max_total"] = (("run", "tol_fraction", "min_fraction"),
                                   np.array([r.get("sens_max", blank) for r in rows]))
    ds["sensitivity_violations"] = (("run", "tol_fraction", "min_fraction"),
                                    np.array([r.get("sens_bad", blank) for r in rows]))
    # The example networks, particles θ = (a, w, b) padded with NaN to the widest.
    widest = max(net.m for net, _, _ in examples.values())
    theta = np.full((len(examples), widest, 3), np.nan)
    for i, (net, _, _) in enumerate(examples.values()):
        theta[i, :net.m] = theta_from_network(net)
    ds["example_theta"] = (("example", "neuron", "particle"), theta)
    ds = ds.assign_coords(
        example_inv_beta=("example", [k[0] for k in examples]),
        example_lam=("example", [k[1] for k in examples]),
        example_width=("example", [net.m for net, _, _ in examples.values()]),
        example_data=("example", [d for _, d, _ in examples.values()]),
        example_data_seed=("example", [s for _, _, s in examples.values()]),
        particle=["a", "w", "b"])
    return ds


_KNOT_KEYS = ("data", "data_seed", "width", "seed", "inv_beta", "lam", "regime", "diverged")
"""The per-run variables of every census run, diverged or not."""

_KNOT_FILL = dict(max_total=-1, max_interior=-1, violations=-1, intervals=0, unresolved=0,
                  counts="", away=np.nan, late_max_total=-1, plateau=np.nan, risk=np.nan)
"""Values of the per-run variables of a diverged run."""


def _knot_rows(ds) -> list:
    """The census rows (one dict per run) back from the dataset of :func:`run_knots`."""
    keys = [*_KNOT_KEYS, *_KNOT_FILL]
    columns = {k: ds[k].values for k in keys}
    sens_max, sens_bad = ds["sensitivity_max_total"].values, ds["sensitivity_violations"].values
    rows = []
    for i in range(ds.sizes["run"]):
        row = {k: columns[k][i] for k in keys}
        row.update(data=str(row["data"]), counts=str(row["counts"]), regime=bool(row["regime"]),
                   diverged=bool(row["diverged"]), sens_max=sens_max[i], sens_bad=sens_bad[i])
        rows.append(row)
    return rows


def _judge_knots(ds, spec: KnotSpec) -> tuple:
    """The claims of :func:`run_knots`, from its dataset alone."""
    return tuple(_knot_claims(spec, _knot_rows(ds)))


def _draw_knots(ds, spec: KnotSpec) -> dict:
    """One example end state per (β⁻¹, λ), its effective knots marked."""
    fig, axes = new_figure(ds.sizes["example"], 1, size=(4.0, 3.2))
    for ax, i in zip(axes[0], range(ds.sizes["example"])):
        net = network_from_theta(ds["example_theta"].values[i, :int(ds["example_width"].values[i])])
        data = _dataset(str(ds["example_data"].values[i]), spec.samples,
                        int(ds["example_data_seed"].values[i]))
        plot_function(net, data, ax=ax, show_knots=False)
        found = _knots.clusters(
            net, data, spec.tol_fraction * float(data.x[-1] - data.x[0]), spec.min_fraction
        )
        for e in found.position[found.effective]:
            ax.axvline(e, color="C2", lw=0.6, alpha=0.7)
        ax.set_title(f"β⁻¹={float(ds['example_inv_beta'].values[i]):g}, "
                     f"λ={float(ds['example_lam'].values[i]):g}, N={net.m}", fontsize="small")
    return {"knots": fig}


@register(
    "shevchenko2022.knots",
    "At most 3 effective knots per interval between samples (two at the ends, one inside) at "
    "convergence",
    quick=KnotSpec(),
    full=KNOTS_FULL,
    judge=_judge_knots,
)
def run_knots(spec: KnotSpec) -> ExperimentResult:
    """The knot census: effective knots per interval between samples at convergence.

    Trains every (data set, data seed, N, (β⁻¹, λ), seed) of the spec at the same step
    and for the same time and counts the effective knots per resolved interval
    (:func:`_resolved_census`), with the thresholds' sensitivity grid. Claims, in the
    theorem's regime (β⁻¹ = 0, λ > 0): ``regime_max_knots``, ``regime_form`` and
    ``regime_no_curvature_off_knots``; outside it: ``outside_lam0_noise`` (reported, not
    judged), ``outside_plain_sgd``, and noise against piecewise linearity
    (``smoother_with_noise_lam0``, ``smoother_with_noise_lam003``). Presets: ``quick``
    (seconds), :data:`KNOTS_CI` and ``full`` (:data:`KNOTS_FULL`, 216 runs); see
    :class:`KnotSpec`.
    """
    ds = _measure_knots(spec)
    return ExperimentResult(ds, _draw_knots(ds, spec), _judge_knots(ds, spec))


def _sensitivity_readings(spec, rows, key, passes) -> tuple:
    """One Reading per (tol, min_fraction) of the sensitivity grid: the most knots
    (``key="sens_max"``, maximum over runs) or the violations (``"sens_bad"``, sum)."""
    values = np.array([r[key] for r in rows])
    values = values.max(axis=0) if key == "sens_max" else values.sum(axis=0)
    return tuple(
        Reading(
            f"tol = {t:g} × range, min_fraction = {m:g}",
            float(values[i, j]),
            bool(passes(values[i, j])),
        )
        for i, t in enumerate(spec.sensitivity_tol)
        for j, m in enumerate(spec.sensitivity_min)
    )


def _knot_claims(spec, rows) -> list:
    ok = [r for r in rows if not r["diverged"]]
    n_div = len(rows) - len(ok)
    time_text = (
        f"every run: step s = {spec.step:g}, {spec.epochs * spec.samples} updates (time s·updates "
        f"= {spec.step * spec.epochs * spec.samples:g}); {n_div} of {len(rows)} runs diverged "
        "(left out)"
    )
    thresholds = (
        f"resolution tol = {spec.tol_fraction:g} × data range, min_fraction = "
        f"{spec.min_fraction:g}; knots closer than tol to each other or to a sample merged, "
        "intervals narrower than tol unresolved"
    )
    regime = [r for r in ok if r["regime"]]
    claims = []
    if regime:
        n = len(regime)
        plateaued = sum(r["plateau"] < 0.25 for r in regime)
        stable = sum(r["late_max_total"] == r["max_total"] for r in regime)
        unresolved = sum(r["unresolved"] for r in regime)
        certificate = (
            "loss plateau (mean over the last quarter of the records within 25 % of the third "
            f"quarter) in {plateaued}/{n} runs; most knots per interval the same at 3/4 of the run "
            f"and at the end in {stable}/{n} runs; {time_text}"
        )
        readings = _sensitivity_readings(spec, regime, "sens_max", lambda v: v <= 3)
        width_readings = tuple(
            Reading(
                f"N = {w}",
                float(max(r["max_total"] for r in regime if r["width"] == w)),
                bool(max(r["max_total"] for r in regime if r["width"] == w) <= 3),
            )
            for w in spec.widths
            if any(r["width"] == w for r in regime)
        )
        intervals = sum(r["intervals"] for r in regime)
        jittery = sum(r["violations"] for r in regime if r["late_max_total"] != r["max_total"])
        claims += [
            Claim.below(
                "regime_max_knots",
                "theorem's regime (β⁻¹ = 0, λ > 0): most effective knots in one "
                "resolved interval between samples",
                f"{_REF}, main theorem (at most 3)",
                float(max(r["max_total"] for r in regime)),
                3.5,
                seeds=n,
                readings=readings + width_readings,
                certificate=certificate,
                note=f"{intervals} resolved intervals ({unresolved} unresolved) in {n} runs; "
                f"{thresholds}",
            ),
            Claim.below(
                "regime_form",
                "theorem's regime: resolved intervals breaking the bound's form (more than "
                "3, or 3 not as two ends + one inside)",
                f"{_REF}, main theorem (3 only as two ends + one inside)",
                float(sum(r["violations"] for r in regime)),
                0.5,
                seeds=n,
                certificate=certificate,
                on_fail="inconclusive",
                readings=_sensitivity_readings(spec, regime, "sens_bad", lambda v: v == 0),
                note=f"of {intervals} resolved intervals; a violation is a knot at one end and two "
                f"inside, or a fourth knot; {thresholds}"
                + (
                    f". {jittery} of them in runs whose most-knots count changed between 3/4 of "
                    "the run and the end (batch-1 SGD jitters about the minimiser), and the count "
                    "moves with the resolution (readings: a knot within 0.5–1 % of a sample counts "
                    "inside at the finest): a violation that neither persists in time nor survives "
                    "the resolution cannot discriminate, so a failure is judged inconclusive"
                    if sum(r["violations"] for r in regime)
                    else ""
                ),
            ),
            Claim.below(
                "regime_no_curvature_off_knots",
                "theorem's regime: f'' = 0 away from the knots — largest "
                "fraction of the variation of f' outside the effective knots",
                f"{_REF}, f'' vanishes except at the knots",
                float(max(r["away"] for r in regime)),
                0.05,
                seeds=n,
                certificate=certificate,
                note="the network is piecewise linear; this is the delta-slope mass left outside "
                "the counted knots at resolution tol",
            ),
        ]
    # Outside the theorem. With λ = 0 and noise, exp(−βΨ) is not normalisable (Ψ is
    # constant along inactive directions), so there is no stationary state to converge
    # to: the census there is a snapshot at the common time, judged as such.
    lam0_noisy = [r for r in ok if r["lam"] == 0 and r["inv_beta"] > 0]
    if lam0_noisy:
        claims.append(
            Claim(
                "outside_lam0_noise",
                "λ = 0 with noise (β⁻¹ > 0): resolved intervals breaking the bound, at the "
                "common time",
                f"{_REF}, §7 (Fig. 7)",
                float(sum(r["violations"] for r in lam0_noisy)),
                "—",
                "not judged",
                "inconclusive",
                seeds=len(lam0_noisy),
                note="no stationary state: with λ = 0 the Gibbs density exp(−βΨ) is not "
                "normalisable (Ψ does not grow along the directions where the neuron is inactive), "
                "so the particles keep spreading and the count depends on the time; the paper does "
                "not claim the bound there (β⁻¹ = 0.005 'still rather smooth'). "
                f"{sum(r['intervals'] for r in lam0_noisy)} intervals in {len(lam0_noisy)} runs; "
                f"most knots in one interval {max(r['max_total'] for r in lam0_noisy)}; "
                f"{time_text}",
            )
        )
    plain = [r for r in ok if r["lam"] == 0 and r["inv_beta"] == 0]
    if plain:
        claims.append(
            Claim.below(
                "outside_plain_sgd",
                "(β⁻¹, λ) = (0, 0), plain SGD: resolved intervals breaking the bound (the "
                "predictor is piecewise linear, Fig. 7c)",
                f"{_REF}, §7 (Fig. 7c)",
                float(sum(r["violations"] for r in plain)),
                0.5,
                seeds=len(plain),
                on_fail="setting-dependent",
                readings=_sensitivity_readings(spec, plain, "sens_bad", lambda v: v == 0),
                note="outside the theorem (λ = 0): SGD converges to an interpolant that depends on "
                "the initialisation, and the paper fixes no threshold for a knot (its Fig. 7c is a "
                "plot): the count moves with the thresholds (readings; "
                f"{int(sum(np.sum([r['sens_bad'] for r in plain], axis=0)[:, -1]))} violations in "
                f"all at min_fraction = {spec.sensitivity_min[-1]:g} over the three tol); "
                f"{sum(r['intervals'] for r in plain)} intervals in {len(plain)} runs; most knots "
                f"in one interval {max(r['max_total'] for r in plain)}; largest off-knot fraction "
                f"{max(r['away'] for r in plain):.3g}; {time_text}",
            )
        )
    # "The solution becomes increasingly piecewise linear as the noise decreases" (§7).
    for cid, hot, cold, ref, why in (
        (
            "smoother_with_noise_lam0",
            (0.005, 0.0),
            (0.0, 0.0),
            "§7, Fig. 7 (a) against (c)",
            "λ = 0 with noise has no stationary state: compared at the common time",
        ),
        (
            "smoother_with_noise_lam003",
            (0.01, 0.003),
            (0.0, 0.003),
            "§7, Fig. 8 (a) against (c)",
            "",
        ),
    ):
        if hot in spec.pairs and cold in spec.pairs:
            mean, se, k = _paired_gap(ok, "away", hot, cold)
            claims.append(
                Claim.judged(
                    cid,
                    "noise makes the predictor less piecewise linear: off-knot fraction of the "
                    f"variation of f' at (β⁻¹, λ) = {hot} minus at {cold}, paired over runs",
                    f"{_REF}, {ref}",
                    mean,
                    "> 0",
                    "mean > 2 standard errors",
                    bool(k >= 2 and mean > 2 * se),
                    seeds=k,
                    interval=(mean - 2 * se, mean + 2 * se),
                    on_fail="inconclusive",
                    note=f"mean {mean:.3g} ± {se:.2g} (standard error) over {k} paired runs; "
                    f"{why + '; ' if why else ''}{thresholds}",
                )
            )
    return claims


# ====================================================================== two points
@dataclass(frozen=True)
class TwoPointSpec:
    """D = {(−10, 2), (10, 2)}: plain SGD (β = ∞) and a low temperature at λ = ``lam``, and
    plain SGD at the further λ of ``other_lams`` (a small λ, and the λ = 0 of the paper's
    Fig. 6b) as readings; every setting over ``seeds`` (parallel threads)."""

    width: int = 200
    lam: float = 1.0
    inv_betas: tuple = (0.0, 1e-4)
    other_lams: tuple = (0.1, 0.0)
    step: float = 0.005
    epochs: int = 5000
    init_scale: float = 0.1
    average_last: int = 10
    seeds: tuple = (0, 1, 2)
    workers: int | None = None


def two_point_bounds(lam: float) -> dict:
    """β = ∞ free energies for D = {(−10, 2), (10, 2)} (derived in the module docstring).

    Returns ``exact`` 4λ/√101 − 2λ²/101 (the minimum, knots at ±1/10), ``abs_family``
    2λ/5 − λ²/50 (the best multiple of 0.2|x|), ``paper`` 2λ/5 (F∞ of the paper's
    f* = 0.2|x|, its ρ* of eq. 6.3), ``printed`` λ/5 (what eq. 6.4 prints for it, with
    M(ρ*) = 2/5) and ``linear`` 2λ − λ²/2 (the best affine fit).
    """
    return {
        "exact": 4 * lam / math.sqrt(101) - 2 * lam**2 / 101,
        "abs_family": 0.4 * lam - lam**2 / 50,
        "paper": 0.4 * lam,
        "printed": 0.2 * lam,
        "linear": 2 * lam - lam**2 / 2,
    }


def _knot_centre(net, sign) -> float:
    """|μ|-weighted median knot of the neurons with sign(a) = sign (knots −b/w in their terms)."""
    e, mu = net.knots, np.abs(net.delta_slopes)
    keep = np.isfinite(e) & (np.sign(net.a) == sign) & (mu > 0)
    e, mu = e[keep], mu[keep]
    order = np.argsort(e)
    cum = np.cumsum(mu[order])
    return float(e[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _two_point_row(traj, data, lam, average_last) -> dict:
    snaps = traj.snapshots
    ks = range(max(0, len(snaps) - average_last), len(snaps))
    # β = ∞ part of F (½R + (λ/2)∫‖θ‖²), time-averaged: SGD with batch 1 keeps jittering
    F = float(np.mean([free_energy(snaps.network(k), data, lam, 0.0).value for k in ks]))
    net = traj.network
    found = _knots.clusters(net, data, 0.05, 0.01)
    eff = found.position[found.effective]
    return dict(
        F=F,
        knot_pos=_knot_centre(net, 1.0),
        knot_neg=_knot_centre(net, -1.0),
        n_effective=int(eff.size),
        min_distance_to_samples=float(np.min(10 - np.abs(eff))) if eff.size else float("nan"),
        f_minus=float(net(-10.0)),
        f_plus=float(net(10.0)),
        f0=float(net(0.0)),
    )


_PRINTED_PAIR = np.array(
    [[math.sqrt(0.4), math.sqrt(0.4), 0.0], [math.sqrt(0.4), -math.sqrt(0.4), 0.0]]
)
"""The paper's ρ* (6.3) for f* = 0.2|x|: half the mass at (a, w, b) = (√0.4, ±√0.4, 0)."""


_TWO_POINT_X = np.linspace(-12, 12, 1201)
"""Where the figure of :func:`run_two_point` draws the end predictors."""


def _measure_two_point(spec: TwoPointSpec):
    """Every setting (λ, β⁻¹) over every seed: the time-averaged β = ∞ free energy, the
    knot centres, the effective knots and f at −10, 0, 10; the first seed's end
    predictor and knots (for the figure); F∞ and M of the paper's ρ* (6.3), exactly."""
    import xarray as xr

    from ..train import train_many

    data = Dataset(np.array([-10.0, 10.0]), np.array([2.0, 2.0]))
    steps = spec.epochs * len(data)
    inits = [shevchenko_init(spec.width, spec.init_scale, seed=seed) for seed in spec.seeds]
    settings = [(spec.lam, ib) for ib in spec.inv_betas] + [(lam, 0.0) for lam in spec.other_lams]
    rows, nets = [], []
    for lam, inv_beta in settings:
        trajs = train_many(
            inits,
            data,
            steps=steps,
            record_every=max(1, steps // 50),
            seed=list(spec.seeds),
            workers=spec.workers,
            **shevchenko_train_kwargs(spec.step, inv_beta, lam, spec.width),
        )
        rows.append([_two_point_row(t, data, lam, spec.average_last) for t in trajs])
        nets.append(trajs[0].network)
    keys = list(rows[0][0])
    labels = [f"λ={lam:g}, β⁻¹={ib:g}" for lam, ib in settings]
    bounds = two_point_bounds(spec.lam)
    printed = free_energy(network_from_theta(_PRINTED_PAIR), data, spec.lam, 0.0)
    ds = xr.Dataset(
        {k: (("setting", "seed"), [[r[k] for r in row] for row in rows]) for k in keys},
        coords={
            "setting": labels,
            "seed": list(spec.seeds),
            "lam": ("setting", [s[0] for s in settings]),
            "inv_beta": ("setting", [s[1] for s in settings]),
        },
        attrs={
            **{f"F_{k}": v for k, v in bounds.items()},
            "lam_main": spec.lam,
            "step": spec.step,
            "width": spec.width,
            "F_printed_rho_star": printed.value,
            "M_printed_rho_star": printed.penalty,
        },
    )
    ds["f_first_seed"] = (("setting", "x_plot"), [net(_TWO_POINT_X) for net in nets])
    ds["knot_first_seed"] = ("neuron", nets[0].knots)
    ds["abs_delta_slope_first_seed"] = ("neuron", np.abs(nets[0].delta_slopes))
    return ds.assign_coords(x_plot=_TWO_POINT_X)


def _draw_two_point(ds, spec: TwoPointSpec) -> dict:
    """The first seed's end predictors against the exact β = ∞ minimiser, and its knot
    mass near 0 (β = ∞, λ = ``spec.lam``)."""
    data = Dataset(np.array([-10.0, 10.0]), np.array([2.0, 2.0]))
    fig, axes = new_figure(2, 1, size=(5.0, 4.0))
    xs = ds["x_plot"].values
    for label, f in zip(ds["setting"].values, ds["f_first_seed"].values):
        axes[0, 0].plot(xs, f, label=f"SGD, {label}")
    t = 1 - spec.lam / math.sqrt(101)
    axes[0, 0].plot(
        xs,
        t * (2 / 101) * (np.maximum(10 * xs + 1, 0) + np.maximum(1 - 10 * xs, 0)),
        "k--",
        lw=0.8,
        label=f"exact β = ∞ minimiser, λ = {spec.lam:g}",
    )
    axes[0, 0].plot(data.x, data.y, "x", color="C3", ms=8, mew=2)
    axes[0, 0].legend(fontsize="small")
    e, mu = ds["knot_first_seed"].values, ds["abs_delta_slope_first_seed"].values
    keep = np.isfinite(e) & (np.abs(e) < 1)
    axes[0, 1].hist(e[keep], bins=80, weights=mu[keep], color="C2")
    axes[0, 1].set_xlabel("knot −b/w (|delta-slope| weighted)")
    axes[0, 1].set_title(f"knot mass near 0, β = ∞, λ = {spec.lam:g}")
    return {"two_point": fig}


def _judge_two_point(ds, spec: TwoPointSpec) -> tuple:
    """The claims of :func:`run_two_point`, from its dataset alone."""
    settings = list(zip(ds["lam"].values, ds["inv_beta"].values))
    keys = [k for k, v in ds.data_vars.items() if v.dims == ("setting", "seed")]
    rows = [[{k: ds[k].values[i, j] for k in keys} for j in range(ds.sizes["seed"])]
            for i in range(ds.sizes["setting"])]
    bounds = two_point_bounds(spec.lam)
    main = rows[0]                                    # λ = spec.lam, first β⁻¹ (plain SGD)
    n = len(spec.seeds)

    def vals(row, key):
        return np.array([r[key] for r in row])

    F = vals(main, "F")
    pos = vals(main, "knot_pos")
    plain = [(lam, row) for (lam, ib), row in zip(settings, rows) if ib == 0]
    exact_text = (
        "exact computation: for every λ ∈ (0, √101) the β = ∞ minimiser is (1 − "
        "λ/√101)(2/101)((10x + 1)₊ + (1 − 10x)₊), knots at ±1/10, F* = 4λ/√101 − 2λ²/101 (module "
        "docstring; an independent minimisation in tests/test_shevchenko2022.py)"
    )
    sgd_text = (
        f"; the SGD end states (β = ∞, λ = {spec.lam:g}, {n} seeds) reach F = {F.mean():.5g} "
        f"against the exact {bounds['exact']:.5g}"
    )
    printed_value = float(ds.attrs["F_printed_rho_star"])
    printed_penalty = float(ds.attrs["M_printed_rho_star"])
    claims = [
        Claim.above(
            "knots_inside",
            "the effective knots are strictly inside (−10, 10): distance of the nearest one "
            "to a sample, smallest over seeds",
            f"{_REF}, two-point example (§6)",
            float(np.nanmin(vals(main, "min_distance_to_samples"))),
            5.0,
            seeds=n,
            note=f"effective clusters per seed {vals(main, 'n_effective').tolist()}; knot mass at "
            f"{pos.mean():.4g} (w > 0) and {vals(main, 'knot_neg').mean():.4g} (w < 0), mean over "
            "seeds",
        ),
        Claim.close(
            "knot_at_zero",
            "the β = ∞ solution is the printed f* = 0.2|x| (ρ* of eq. 6.3), its knot at 0: "
            "|μ|-weighted median knot of the neurons with w > 0, mean over seeds",
            f"{_REF}, §6 (6.3), Fig. 6",
            float(pos.mean()),
            0.0,
            0.02,
            seeds=n,
            interval=_mean_interval(pos),
            readings=tuple(
                Reading(
                    f"β = ∞, λ = {lam:g}" + (" (Fig. 6b's setting)" if lam == 0 else ""),
                    float(vals(row, "knot_pos").mean()),
                    bool(abs(vals(row, "knot_pos").mean()) <= 0.02),
                )
                for lam, row in plain
            )
            + (
                Reading(
                    "bias not penalised (not the paper's objective: §8 penalises b): the infimum "
                    "of F∞ is 0, approached by the constant 2 (w = 0, a → 0, b → ∞): no knot",
                    float("nan"),
                    False,
                ),
            ),
            certificate=exact_text + sgd_text,
            mechanism="(6.3) puts both neurons' knots at 0 (b = 0), the cheapest representation of "
            "0.2|x| when b is free; but the paper penalises b (eq. 3.2, §8), a neuron costs a² + "
            "w² + b², and the cheapest neuron adding to f(10) has (w, b) ∝ (10, 1), the direction "
            "maximising (10w + b)₊ on the unit circle (value √101 per unit norm, against 10 with "
            "the knot at 0): knot at −1/10, and +1/10 for x = −10 (on penalised biases changing "
            "the minimisers, cf. Boursier & Flammarion, NeurIPS 2023). At λ = 0 (Fig. 6b) nothing "
            "selects a minimiser: SGD from a small initialisation spreads the knot mass over about "
            "±0.4, centred near ∓1/10. The paper uses f* only as a witness that no linear fit is "
            "optimal, which stays true (claims knots_inside, beats_linear)",
            note=f"per seed {np.array2string(pos, precision=4)}; f(0) = "
            f"{vals(main, 'f0').mean():.4g} (f*: 0), f(10) = {vals(main, 'f_plus').mean():.4g}",
        ),
        Claim.below(
            "f_star_printed",
            "F∞ at the β = ∞ minimum is at most λ/5, as printed for f* (eq. 6.4: "
            "M(ρ*) = 2/5, F∞(ρ*) = λ/5): time-averaged F of SGD, mean over seeds",
            f"{_REF}, §6 (6.4), (6.13)",
            float(F.mean()),
            bounds["printed"] + 0.002,
            seeds=n,
            interval=_mean_interval(F),
            readings=tuple(
                Reading(
                    f"SGD, β = ∞, λ = {lam:g}",
                    float(vals(row, "F").mean()),
                    bool(vals(row, "F").mean() < 0.2 * lam + 0.002),
                )
                for lam, row in plain
                if lam > 0
            )
            + (
                Reading(
                    f"exact: F∞ of the paper's ρ* (6.3), λ = {spec.lam:g} (M(ρ*) = "
                    f"{printed_penalty:.4g})",
                    printed_value,
                    printed_value < bounds["printed"],
                ),
                Reading(
                    f"exact: the minimum over all ρ, λ = {spec.lam:g}",
                    bounds["exact"],
                    bounds["exact"] < bounds["printed"],
                ),
            ),
            certificate=exact_text + sgd_text,
            mechanism="(6.4) halves M(ρ*): each atom of (6.3) that interpolates has a² + w² = 4/5 "
            "(a·w = 2/5 per side, and a² + w² + b² ≥ 2|a|·‖(w, b)‖), so F∞(ρ*) = 2λ/5, and the "
            "minimum over all ρ, 4λ/√101 − 2λ²/101, exceeds λ/5 for every λ ∈ (0, 1]. The "
            "conclusion (6.6) survives: a linear fit costs at least 2λ − λ²/2 > 2λ/5",
            note="(at λ = 0 every interpolant has F∞ = 0 and the statement is empty; not a "
            "reading)",
        ),
        Claim.below(
            "beats_linear",
            "F (β = ∞ part, time-averaged) far below any linear fit's 2λ − λ²/2, largest over "
            "seeds",
            f"{_REF}, two-point example (6.6)",
            float(F.max()),
            bounds["linear"],
            seeds=n,
        ),
        Claim.close(
            "knots_at_tenth",
            "knot location derived here: −1/10 (w > 0) — and +1/10 (w < 0) by symmetry; "
            "mean over seeds",
            "relu1d derivation (bias penalised; module docstring)",
            float(pos.mean()),
            -0.1,
            0.01,
            seeds=n,
            interval=_mean_interval(pos),
            readings=tuple(
                Reading(
                    f"β = ∞, λ = {lam:g}",
                    float(vals(row, "knot_pos").mean()),
                    bool(abs(vals(row, "knot_pos").mean() + 0.1) <= 0.01),
                )
                for lam, row in plain
                if lam > 0
            ),
            note=f"w < 0 knot at {vals(main, 'knot_neg').mean():.4g}; with β⁻¹ = "
            f"{spec.inv_betas[-1]:g}: {vals(rows[len(spec.inv_betas) - 1], 'knot_pos').mean():.4g} "
            f"and {vals(rows[len(spec.inv_betas) - 1], 'knot_neg').mean():.4g}",
        ),
        Claim.close(
            "f_exact_minimum",
            "F against the exact β = ∞ minimum 4λ/√101 − 2λ²/101, mean over seeds",
            "relu1d derivation (bias penalised; module docstring)",
            float(F.mean()),
            bounds["exact"],
            0.002,
            seeds=n,
            interval=_mean_interval(F),
            note=f"0.2|x| family: {bounds['abs_family']:.5g}; the paper's f* = 0.2|x|: "
            f"{bounds['paper']:.5g} (printed λ/5 = {bounds['printed']:.5g}); the excess is the "
            f"jitter of batch-1 SGD at step {spec.step}",
        ),
        Claim.below(
            "beats_abs_family",
            "F below 2λ/5 − λ²/50, the best multiple of the paper's 0.2|x|, largest over seeds",
            "relu1d derivation (bias penalised; module docstring)",
            float(F.max()),
            bounds["abs_family"],
            seeds=n,
        ),
    ]
    return tuple(claims)


@register(
    "shevchenko2022.two_point",
    "Two samples (±10, 2): the SGD solution has knots strictly inside the interval, and F beats "
    "any linear fit",
    quick=TwoPointSpec(),
    full=TwoPointSpec(width=1000, epochs=50_000, average_last=40, seeds=tuple(range(10))),
    judge=_judge_two_point,
)
def run_two_point(spec: TwoPointSpec) -> ExperimentResult:
    """Two samples (±10, 2): knots strictly inside, and F against the exact minimum.

    Runs batch-1 SGD (β = ∞) and a low temperature at λ = ``spec.lam``, and plain SGD at
    ``spec.other_lams``, over ``spec.seeds``; measures the time-averaged F∞, the knot
    centres and the effective knots. Claims ``knots_inside``, ``beats_linear`` (the
    paper's conclusion), ``knot_at_zero`` and ``f_star_printed`` (contradicted: with the
    bias penalised the minimiser has knots at ±1/10, and (6.4) halves M(ρ*)), and the
    derived ``knots_at_tenth``, ``f_exact_minimum``, ``beats_abs_family``. Presets:
    ``quick`` N = 200, 3 seeds; ``full`` N = 1000, 10 seeds.
    """
    ds = _measure_two_point(spec)
    return ExperimentResult(ds, _draw_two_point(ds, spec), _judge_two_point(ds, spec))
