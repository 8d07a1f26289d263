"""Sahs et al. (arXiv:2008.01772, 2020; Front. Artif. Intell. 2022): the spline view.

What of the paper could be read, and which formulas are derived here rather than
copied, is stated in :mod:`relu1d.splineview`'s module docstring.

Experiments
-----------
* ``sahs2020.init_statistics`` — breakpoint and delta-slope laws of every init scheme
  against the closed forms (Kolmogorov–Smirnov p-values; zero-bias schemes: all
  breakpoints exactly 0).
* ``sahs2020.flatness`` — E ∫f'², E TV(f'), E Σμ² at init in closed form against sample
  means, over schemes, widths and α; against the roughness of the target (sin πx), its
  linear and natural cubic interpolants.
* ``sahs2020.hessian_spectrum`` — the dense Hessian and the structured spectrum against
  an independent Hessian (central differences of :mod:`relu1d.train`'s reference
  gradient: the dense matrix at small m, Lanczos on Hessian-vector products at m in the
  thousands) at random and trained points; its time at m = 10⁵, spectra plotted.
* ``sahs2020.loss_surface`` — interpolating minima (loss checked; ≥ 3m − s eigenvalues
  below a fixed fraction of ‖H‖, a count that falls short off the minima), critical
  points with non-zero residuals (exact ones built from stationary breakpoints of
  dead-output neurons, and stalls found by training): their spectra, negative curvature
  confirmed by second differences of the loss.
* ``sahs2020.spline_flow`` — β̇, μ̇ in closed form against recorded trajectories; speeds
  and breakpoint travel against the init scale.
* ``sahs2020.implicit_regularisation`` — init scale (ab and c together, each alone) and
  width against roughness, distances to the kernel and linear interpolants, knot
  concentration and breakpoint travel; "small init → nearer the linear interpolant"
  judged on interpolating runs, over seeds, on data whose linear and kernel
  interpolants are far apart.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import hessian as _hs
from .. import splineview as _sv
from .._lazy import lazy_module
from ..data import Dataset, sinusoid
from ..data import random as _random_data
from ..init import SCHEMES, init_network
from ..network import Network
from ..plot import new_figure, plot_function
from ._registry import Claim, ExperimentResult, Reading, register

stats = lazy_module("scipy.stats")  # imported on first use: keeps `relu1d list` fast

__all__: list[str] = []

_REF = "Sahs et al. 2020"


def _train(net: Network, data: Dataset, steps: int, lr_cap: float, **kw):
    """GD at lr = min(0.5/λ_max(H(init)), lr_cap), halved on divergence (λ_max grows in
    training)."""
    from ..train import TrainingDiverged, train

    lr = min(0.5 / max(_hs.eigvalsh(net, data)[-1], 1e-300), lr_cap)
    for _ in range(8):
        try:
            return train(net, data, method="gd", lr=lr, steps=steps, progress=False, **kw), lr
        except TrainingDiverged:
            lr /= 2
    raise RuntimeError(f"gradient descent diverged at every lr down to {lr:g}")


# ====================================================================== init statistics
@dataclass(frozen=True)
class InitStatisticsSpec:
    """Samples of m neurons per scheme at the given scales."""

    m: int = 10_000
    alpha: str = "sqrt"
    ab_scale: float = 1.0
    c_scale: float = 1.0
    seed: int = 0
    p_min: float = 1e-3


def _init_sample(spec: InitStatisticsSpec, k: int, scheme: str):
    """Breakpoints β and delta-slopes μ of the k-th scheme's network (seed ``spec.seed + k``)."""
    net = init_network(spec.m, scheme, spec.alpha, spec.ab_scale, spec.c_scale, seed=spec.seed + k)
    return net.breakpoints, net.delta_slopes


def _measure_init_statistics(spec: InitStatisticsSpec):
    """KS p-values of the breakpoints and delta-slopes of every scheme against their laws,
    and the fraction of breakpoints exactly at 0."""
    import xarray as xr

    p_beta, p_mu, at_zero = [], [], []
    for k, scheme in enumerate(SCHEMES):
        beta, mu = _init_sample(spec, k, scheme)
        at_zero.append(float(np.mean(beta == 0)))
        if scheme in _sv.ZERO_BIAS_SCHEMES:
            p_beta.append(float("nan"))
        else:
            p_beta.append(
                float(stats.kstest(beta, lambda t, s=scheme: _sv.breakpoint_cdf(t, s)).pvalue)
            )

        def cdf(t, s=scheme):
            return _sv.delta_slope_cdf(t, s, spec.m, spec.alpha, spec.ab_scale, spec.c_scale)

        p_mu.append(float(stats.kstest(mu, cdf).pvalue))
    return xr.Dataset({"ks_p_breakpoint": ("scheme", p_beta), "ks_p_delta_slope": ("scheme", p_mu),
                       "fraction_breakpoints_at_zero": ("scheme", at_zero)},
                      coords={"scheme": list(SCHEMES)}, attrs={"m": spec.m, "alpha": spec.alpha})


def _judge_init_statistics(ds, spec: InitStatisticsSpec) -> tuple:
    """The claims of :func:`run_init_statistics`, from its dataset alone."""
    claims = []
    columns = (ds["scheme"].values, ds["ks_p_breakpoint"].values, ds["ks_p_delta_slope"].values,
               ds["fraction_breakpoints_at_zero"].values)
    for scheme, pb, pm, z in zip(*columns):
        scheme = str(scheme)
        if scheme in _sv.ZERO_BIAS_SCHEMES:
            claims.append(
                Claim.close(
                    f"{scheme}.breakpoints_at_zero",
                    f"{scheme}: every breakpoint is exactly 0 (zero biases)",
                    _REF + ", init",
                    float(z),
                    1.0,
                    0.0,
                    note="b = 0 at init: the function starts as one kink at x = 0",
                )
            )
        else:
            law = "¼ ∧ 1/(4β²)" if scheme == "uniform" else "standard Cauchy"
            claims.append(
                Claim.above(
                    f"{scheme}.breakpoint_law",
                    f"{scheme}: breakpoints follow {law} (KS p-value)",
                    _REF + ", init",
                    float(pb),
                    spec.p_min,
                    note=f"m = {spec.m}, fixed seed",
                )
            )
        law = "−log(|μ|/k)/(2k)" if scheme == "uniform" else "K₀(|μ|/k)/(πk)"
        claims.append(
            Claim.above(
                f"{scheme}.delta_slope_law",
                f"{scheme}: delta-slopes follow {law} (KS p-value)",
                _REF + ", init",
                float(pm),
                spec.p_min,
                note="derived: μ = c|a|/α, a product of independent variables",
            )
        )
    return tuple(claims)


def _draw_init_statistics(ds, spec: InitStatisticsSpec) -> dict:
    """Histograms of β and μ per scheme against their densities (the samples redrawn from
    the spec's seeds: m of them per scheme are not stored)."""
    p_beta, p_mu = ds["ks_p_breakpoint"].values, ds["ks_p_delta_slope"].values
    fig, axes = new_figure(len(SCHEMES), 2, size=(3.4, 3.0))
    for k, scheme in enumerate(SCHEMES):
        beta, mu = _init_sample(spec, k, scheme)
        if scheme in _sv.ZERO_BIAS_SCHEMES:
            axes[0, k].hist(beta, bins=50, color="C0")
        else:
            grid = np.linspace(-5, 5, 400)
            axes[0, k].hist(beta[np.abs(beta) < 5], bins=100, density=True, color="C0", alpha=0.6)
            # the histogram is normalised on |β| < 5: scale the density by P(|β| < 5)
            inside = _sv.breakpoint_cdf(5.0, scheme) - _sv.breakpoint_cdf(-5.0, scheme)
            axes[0, k].plot(grid, _sv.breakpoint_pdf(grid, scheme) / inside, "k", lw=1.2)
        lim = np.quantile(np.abs(mu), 0.99)
        grid = np.linspace(-lim, lim, 400)
        axes[1, k].hist(mu[np.abs(mu) < lim], bins=100, density=True, color="C1", alpha=0.6)
        axes[1, k].plot(
            grid,
            _sv.delta_slope_pdf(grid, scheme, spec.m, spec.alpha, spec.ab_scale, spec.c_scale)
            / 0.99,
            "k",
            lw=1.2,
        )
        axes[0, k].set_title(f"{scheme}: β (KS p = {p_beta[k]:.3g})" if not math.isnan(p_beta[k])
                             else f"{scheme}: β ≡ 0 (point mass)", fontsize="small")
        axes[1, k].set_title(f"{scheme}: μ (KS p = {p_mu[k]:.3g})", fontsize="small")
    return {"densities": fig}


@register(
    "sahs2020.init_statistics",
    "Breakpoint and delta-slope laws at initialisation (KS tests)",
    quick=InitStatisticsSpec(),
    full=InitStatisticsSpec(m=1_000_000),
    judge=_judge_init_statistics,
)
def run_init_statistics(spec: InitStatisticsSpec) -> ExperimentResult:
    """Breakpoint and delta-slope laws at initialisation, by Kolmogorov–Smirnov tests.

    Draws m neurons of every scheme of :data:`relu1d.init.SCHEMES` and tests their
    breakpoints β and delta-slopes μ against the closed-form laws of
    :mod:`relu1d.splineview`. Claims ``<scheme>.breakpoint_law`` (or
    ``<scheme>.breakpoints_at_zero`` for the zero-bias schemes) and
    ``<scheme>.delta_slope_law`` (p-value above ``spec.p_min``). Presets: ``quick``
    m = 10⁴; ``full`` m = 10⁶.
    """
    ds = _measure_init_statistics(spec)
    return ExperimentResult(ds, _draw_init_statistics(ds, spec), _judge_init_statistics(ds, spec))


# ====================================================================== flatness
@dataclass(frozen=True)
class FlatnessSpec:
    """Sample means of the roughness at init against the closed forms, and the targets."""

    widths: tuple = (10, 100, 1000)
    alphas: tuple = ("one", "sqrt")
    samples: int = 200
    interval: tuple = (-1.0, 1.0)
    data_samples: int = 10
    data_seed: int = 0
    seed: int = 0
    z_max: float = 4.5


_MEASURES = ("int_fprime2", "tv_fprime", "sum_mu2")


def _measure_flatness(spec: FlatnessSpec):
    """Closed-form expectations, sample means and standard errors of the roughness at
    init over schemes × α × widths, and the roughness of the targets."""
    import xarray as xr

    from .. import splines

    shape = (len(SCHEMES), len(spec.alphas), len(spec.widths), len(_MEASURES))
    expect, mean, sem = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for i, scheme in enumerate(SCHEMES):
        for j, alpha in enumerate(spec.alphas):
            for k, m in enumerate(spec.widths):
                ex = _sv.expected_roughness(scheme, m, alpha, interval=spec.interval)
                vals = np.array([[_sv.roughness(init_network(m, scheme, alpha, seed=spec.seed + n),
                                                spec.interval)[q] for q in _MEASURES]
                                 for n in range(spec.samples)])
                expect[i, j, k] = [ex[q] for q in _MEASURES]
                mean[i, j, k] = vals.mean(axis=0)
                sem[i, j, k] = vals.std(axis=0, ddof=1) / math.sqrt(spec.samples)
    data = sinusoid(spec.data_samples, seed=spec.data_seed)
    lo, hi = spec.interval
    targets = {
        "sin(πx)": {
            "int_fprime2": math.pi**2 * (hi - lo) / 2
            + math.pi * (math.sin(2 * math.pi * hi) - math.sin(2 * math.pi * lo)) / 4,
            "tv_fprime": float("nan"),
            "sum_mu2": float("nan"),
        },
        "linear interpolant": _sv.roughness(splines.linear(data), spec.interval),
        "natural cubic": _sv.roughness(splines.natural_cubic(data), spec.interval),
    }
    if (lo, hi) == (-1.0, 1.0):
        targets["sin(πx)"]["tv_fprime"] = 4 * math.pi   # ∫|π² sin πx| over [−1, 1]
    return xr.Dataset({"expected": (("scheme", "alpha", "m", "measure"), expect),
                       "sample_mean": (("scheme", "alpha", "m", "measure"), mean),
                       "standard_error": (("scheme", "alpha", "m", "measure"), sem),
                       "target_roughness": (("target", "measure"),
                                            [[t[q] for q in _MEASURES] for t in targets.values()])},
                      coords={"scheme": list(SCHEMES), "alpha": list(spec.alphas),
                              "m": list(spec.widths), "measure": list(_MEASURES),
                              "target": list(targets)},
                      attrs={"interval": list(spec.interval), "samples": spec.samples})


def _judge_flatness(ds, spec: FlatnessSpec) -> tuple:
    """The claims of :func:`run_flatness`, from its dataset alone."""
    expect, mean, sem = ds["expected"].values, ds["sample_mean"].values, ds["standard_error"].values
    z = np.abs(mean - expect) / np.where(sem > 0, sem, np.inf)
    # a degenerate sample (zero spread) must then match exactly
    z = np.where((sem == 0) & (np.abs(mean - expect) > 1e-12 * np.abs(expect)), np.inf, z)
    linear = ds["target_roughness"].sel(target="linear interpolant")
    claims = []
    for i, scheme in enumerate(SCHEMES):
        claims.append(
            Claim.below(
                f"{scheme}.closed_form_roughness",
                f"{scheme}: closed-form E of ∫f'², TV(f'), Σμ² within z_max standard errors "
                "of the sample means (largest |z| over m, α, measures)",
                _REF + ", flatness",
                float(np.max(z[i])),
                spec.z_max,
                note="derived: E Σμ² = m E[c²]E[a²]/α², E∫_I f'² = |I|/2 · E Σμ², "
                "E TV from the breakpoint law (splineview docstring)",
            )
        )
    m0 = spec.widths[0]
    one = list(spec.alphas).index("one") if "one" in spec.alphas else None
    if one is not None:
        # E Σμᵢ² = m·E[c²]·E[a²]/α² with α = 1, the variances from the one implementation of the
        # init laws
        moments = {s: _sv.weight_moments(s, m0) for s in SCHEMES}
        predicted = {s: m0 * w["var_c"] * w["var_a"] for s, w in moments.items()}
        for i, scheme in enumerate(SCHEMES):
            claims.append(
                Claim.close(
                    f"{scheme}.sum_mu2_alpha_one",
                    f"{scheme}, α = 1, m = {m0}: E Σμᵢ² = m·Var(c)·Var(a) (sample mean)",
                    _REF + ", flatness",
                    float(mean[i, one, 0, 2]),
                    predicted[scheme],
                    spec.z_max * float(sem[i, one, 0, 2]),
                    note="1/9 PyTorch default (uniform), 1 LeCun and Gaussian, 4 He, "
                    "4m/(m+1)² ≈ 4/m Xavier (Glorot)",
                )
            )
        lin = float(linear.sel(measure="int_fprime2"))
        tv_lin = float(linear.sel(measure="tv_fprime"))
        ratios = {s: float(expect[i, one, 0, 0] / lin) for i, s in enumerate(SCHEMES)}
        claims.append(
            Claim.below(
                "init_flatter_than_target",
                "standard inits give flat functions: E∫f'² at init over the target's "
                "(linear interpolant of the sin πx data), α = 1, largest over schemes",
                _REF + ", abstract",
                max(ratios.values()),
                1.0,
                note="ratios "
                + ", ".join(f"{s} {r:.3g}" for s, r in ratios.items())
                + ": 'very flat' (≪ 1) holds for PyTorch's default and Xavier; He init is "
                f"only {1 / ratios['he']:.2g}× flatter than the target. With α = 1 the TV of f' of "
                f"the uniform init on [−1, 1] is √m/6: it exceeds the target's ({tv_lin:.3g}) for "
                f"m > {(6 * tv_lin) ** 2:.0f}, so the init is flat in ∫f'², not in TV",
            )
        )
    if "sqrt" in spec.alphas and len(spec.widths) > 1:
        j = list(spec.alphas).index("sqrt")
        slope = float(np.polyfit(np.log(spec.widths), np.log(mean[0, j, :, 0]), 1)[0])
        claims.append(
            Claim.close(
                "roughness_slope_sqrt",
                "α = √m: E∫f'² at init falls like 1/m (log-log slope, uniform, sampled)",
                _REF + ", overparametrisation gives flatter functions",
                slope,
                -1.0,
                0.1,
            )
        )
    return tuple(claims)


def _draw_flatness(ds, spec: FlatnessSpec) -> dict:
    """Sample means (with standard errors) and closed forms against m, per measure."""
    expect, mean, sem = ds["expected"].values, ds["sample_mean"].values, ds["standard_error"].values
    fig, axes = new_figure(len(_MEASURES), 1, size=(4.5, 3.8))
    for q, measure in enumerate(_MEASURES):
        ax = axes[0, q]
        for i, scheme in enumerate(SCHEMES):
            j = list(spec.alphas).index("sqrt") if "sqrt" in spec.alphas else 0
            ax.errorbar(
                spec.widths,
                mean[i, j, :, q],
                yerr=sem[i, j, :, q],
                fmt="o",
                color=f"C{i}",
                label=scheme,
            )
            ax.plot(spec.widths, expect[i, j, :, q], "-", color=f"C{i}", lw=1)
        lin = float(ds["target_roughness"].sel(target="linear interpolant", measure=measure))
        ax.axhline(lin, color="k", ls="--", lw=1, label="linear interpolant of sin πx data")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("m")
        ax.set_title(f"{measure} at init, α = {spec.alphas[j]}", fontsize="small")
    axes[0, 0].legend(fontsize="x-small")
    return {"flatness": fig}


@register(
    "sahs2020.flatness",
    "Roughness at initialisation: closed forms, sampling, and the targets",
    quick=FlatnessSpec(widths=(10, 100), samples=100),
    full=FlatnessSpec(widths=(10, 100, 1000, 10_000), samples=1000),
    judge=_judge_flatness,
)
def run_flatness(spec: FlatnessSpec) -> ExperimentResult:
    """Roughness at initialisation: closed forms against sampling, and against the targets.

    Measures E∫f'², E TV(f') and E Σμ² at init in closed form
    (:func:`relu1d.splineview.expected_roughness`) and as sample means over
    ``spec.samples`` networks, for every scheme, α and width, and the roughness of the
    target sin πx and its interpolants. Claims ``<scheme>.closed_form_roughness``,
    ``<scheme>.sum_mu2_alpha_one``, ``init_flatter_than_target`` and
    ``roughness_slope_sqrt``. Presets: ``quick`` m = 10, 100, 100 samples; ``full``
    m up to 10⁴, 1000 samples.
    """
    ds = _measure_flatness(spec)
    return ExperimentResult(ds, _draw_flatness(ds, spec), _judge_flatness(ds, spec))


# ====================================================================== Hessian spectrum
def _reference_gradient(net: Network, data: Dataset):
    """z ↦ ∇L(z), z = (a, b, c) stacked, from :mod:`relu1d.train`'s plain-numpy reference
    gradient (NOTES.md's formulas; independent of :mod:`relu1d.hessian`)."""
    from ..train import loss_and_grad

    m, alpha = net.m, net.alpha

    def grad(z):
        _, ga, gb, gc = loss_and_grad(Network(z[:m], z[m:2 * m], z[2 * m:], alpha=alpha), data)
        return np.concatenate([ga, gb, gc])

    return grad


def _kink_margins(net: Network, data: Dataset) -> np.ndarray:
    """Per neuron, minⱼ |aᵢxⱼ − bᵢ| / (1 + |xⱼ|): how far (a, b) may move before an activation
    changes.

    A step h·u moves aᵢxⱼ − bᵢ by h|u_{aᵢ}xⱼ − u_{bᵢ}| ≤ h(1 + |xⱼ|)·max(|u_{aᵢ}|, |u_{bᵢ}|).
    """
    return np.min(
        np.abs(np.multiply.outer(data.x, net.a) - net.b) / (1 + np.abs(data.x))[:, None], axis=0
    )


def _fd_step(
    net: Network, data: Dataset, largest: float = 1e-5, direction=None
) -> tuple[float, float]:
    """A central-difference step h along ``direction`` (or along any unit vector) that crosses
    no kink, and the kink margin it respects.

    No activation changes while h < margin = minᵢ marginᵢ / max(|u_{aᵢ}|, |u_{bᵢ}|) (the max
    taken as 1 without a direction; see :func:`_kink_margins`). On one activation pattern L
    is a quartic and ∇L a cubic polynomial in z, so central differences err by O(h²) there.

    Raises
    ------
    ValueError
        If a kink that the step would move sits exactly on a sample: the Hessian is not
        defined there.
    """
    per_neuron = _kink_margins(net, data)
    if direction is not None:
        u = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
        reach = np.maximum(np.abs(u[:net.m]), np.abs(u[net.m:2 * net.m]))
        per_neuron = np.where(reach > 0, per_neuron / np.where(reach > 0, reach, 1.0), np.inf)
    margin = float(np.min(per_neuron))
    if margin == 0.0:
        raise ValueError(
            "a neuron's kink sits exactly on a sample: the Hessian is not defined there"
        )
    return min(largest, 0.5 * margin), margin


def _fd_hessian(net: Network, data: Dataset, largest: float = 1e-5) -> tuple[np.ndarray, float]:
    """The dense Hessian by central differences of the reference gradient, and the smallest step.

    Column k moves one parameter of neuron i = k mod m: aᵢ or bᵢ by h = min(largest, marginᵢ/2)
    (:func:`_kink_margins`), so that no activation changes, cᵢ by ``largest``.

    Raises
    ------
    ValueError
        If a kink sits exactly on a sample (the Hessian is not defined there).
    """
    grad = _reference_gradient(net, data)
    z = np.concatenate([net.a, net.b, net.c])
    margins = _kink_margins(net, data)
    if np.any(margins == 0):
        raise ValueError(
            "a neuron's kink sits exactly on a sample: the Hessian is not defined there"
        )
    near = np.minimum(largest, 0.5 * margins)          # a and b move the kink; c does not
    steps = np.concatenate([near, near, np.full(net.m, float(largest))])
    cols = []
    for k, h in enumerate(steps):
        e = np.zeros(z.size)
        e[k] = h
        cols.append((grad(z + e) - grad(z - e)) / (2 * h))
    return np.stack(cols, axis=1), float(steps.min())


def _fd_extremes(net: Network, data: Dataset, tol: float = 1e-10) -> tuple[float, float, int]:
    """λ_min and λ_max of the Hessian by Lanczos (ARPACK) on Hessian-vector products from
    central differences of the reference gradient (no matrix formed), and the number of products."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    grad = _reference_gradient(net, data)
    z = np.concatenate([net.a, net.b, net.c])
    h = _fd_step(net, data)[0]
    count = [0]

    def hvp(v):
        v = np.ravel(v)
        norm = float(np.linalg.norm(v))
        count[0] += 1
        if norm == 0:
            return np.zeros_like(v)
        u = v / norm
        return norm * (grad(z + h * u) - grad(z - h * u)) / (2 * h)

    op = LinearOperator((z.size, z.size), matvec=hvp, dtype=np.float64)
    ends = np.sort(eigsh(op, k=2, which="BE", tol=tol, ncv=min(z.size, 60), v0=np.ones(z.size),
                         return_eigenvectors=False))
    return float(ends[0]), float(ends[-1]), count[0]


@dataclass(frozen=True)
class HessianSpec:
    """The Hessian against central differences of the reference gradient; the structured
    spectrum at large width."""

    widths: tuple = (10, 100, 300)
    lanczos_width: int = 2000
    large_width: int = 100_000
    large_train_steps: int = 200
    data_samples: int = 10
    data_seed: int = 0
    train_steps: int = 20_000
    lr_cap: float = 0.05
    seed: int = 0
    fd_tolerance: float = 1e-7
    tolerance: float = 1e-8
    time_limit: float = 10.0


_FD_COLS = ["dense_vs_fd", "structured_vs_fd", "structured_vs_dense", "fd_step", "block_radius",
            "norm"]


def _measure_hessian_spectrum(spec: HessianSpec):
    """Errors of the dense Hessian and the structured spectrum against central differences
    (per width, at init and trained), Lanczos extremes at ``lanczos_width``, and the
    structured spectrum at ``large_width`` (timed) at init and after a few GD steps."""
    import xarray as xr

    data = sinusoid(spec.data_samples, seed=spec.data_seed)
    # per width and point (init, trained): the errors against the finite-difference Hessian,
    # the step, the residual part's size (largest block eigenvalue) and the spectral norm
    fd = np.zeros((len(spec.widths), 2, len(_FD_COLS)))
    for k, m in enumerate(spec.widths):
        net = init_network(m, seed=spec.seed + k)
        trained = _train(net, data, spec.train_steps, spec.lr_cap, record_every=spec.train_steps)[
            0
        ].network
        for p, point in enumerate((net, trained)):
            dense = _hs.hessian(point, data)
            ev_dense = np.linalg.eigvalsh(dense)
            fast = _hs.eigvalsh(point, data)
            blocks = _hs.residual_blocks(point, data)
            radius = float(np.max(np.hypot(blocks[:, 0, 2], blocks[:, 1, 2])))
            try:
                h_fd, step = _fd_hessian(point, data)
            except ValueError:
                # GD parked a kink exactly on a sample: no Hessian there (hessian() gives the
                # one-sided convention of its docstring), so only the reduction is checked
                norm = float(np.max(np.abs(ev_dense)))
                fd[k, p] = [
                    np.nan,
                    np.nan,
                    np.max(np.abs(fast - ev_dense)) / norm,
                    np.nan,
                    radius,
                    norm,
                ]
                continue
            ev_fd = np.linalg.eigvalsh(0.5 * (h_fd + h_fd.T))
            norm = float(np.max(np.abs(ev_fd)))
            fd[k, p] = [np.max(np.abs(dense - h_fd)) / norm, np.max(np.abs(fast - ev_fd)) / norm,
                        np.max(np.abs(fast - ev_dense)) / norm, step, radius, norm]
    # λ_min, λ_max at a width too large for a dense matrix: Lanczos on finite-difference products
    lz = init_network(spec.lanczos_width, seed=spec.seed)
    lz_fast = _hs.eigvalsh(lz, data)
    lz_min, lz_max, n_products = _fd_extremes(lz, data)
    big = init_network(spec.large_width, seed=spec.seed)
    t0 = time.perf_counter()
    spectrum = _hs.eigvalsh(big, data)
    elapsed = time.perf_counter() - t0
    big_blocks = _hs.residual_blocks(big, data)
    radii = np.hypot(big_blocks[:, 0, 2], big_blocks[:, 1, 2])     # block eigenvalues ±radius, 0
    big_trained = _train(big, data, spec.large_train_steps, spec.lr_cap,
                         record_every=spec.large_train_steps)[0].network
    spectrum_trained = _hs.eigvalsh(big_trained, data)
    fd_text = ("central differences of relu1d.train's reference gradient, step below the kink "
               "margin; errors relative to the spectral norm of the finite-difference Hessian")
    return xr.Dataset(
        {
            "fd_check": (("m", "point", "quantity"), fd),
            "relative_error": (("m", "point"), fd[:, :, _FD_COLS.index("structured_vs_fd")]),
            "spectrum_init": ("eig", spectrum),
            "spectrum_trained": ("eig", spectrum_trained),
            "lanczos": ("end", [lz_min, lz_max]),
            "structured_ends": ("end", [lz_fast[0], lz_fast[-1]]),
        },
        coords={
            "m": list(spec.widths),
            "point": ["init", "trained"],
            "quantity": _FD_COLS,
            "end": ["lambda_min", "lambda_max"],
        },
        attrs={
            "large_width": spec.large_width,
            "eigvalsh_seconds": elapsed,
            "lanczos_width": spec.lanczos_width,
            "lanczos_products": n_products,
            "distinct_block_radii": int(np.unique(radii).size),
            "fd": fd_text,
        },
    )


def _judge_hessian_spectrum(ds, spec: HessianSpec) -> tuple:
    """The claims of :func:`run_hessian_spectrum`, from its dataset alone."""
    fd = ds["fd_check"].values
    col = {c: n for n, c in enumerate(_FD_COLS)}
    widths = [int(m) for m in ds["m"].values]
    # a point whose finite-difference Hessian was skipped (a kink on a sample) has NaN errors
    skipped = [
        f"m = {m}, {point}"
        for k, m in enumerate(widths)
        for p, point in enumerate(("init", "trained"))
        if np.isnan(fd[k, p, col["dense_vs_fd"]])
    ]
    lz_min, lz_max = (float(v) for v in ds["lanczos"].values)
    lz_fast = ds["structured_ends"].values
    lz_err = max(abs(lz_fast[0] - lz_min), abs(lz_fast[-1] - lz_max)) / abs(lz_max)
    n_products = int(ds.attrs["lanczos_products"])
    elapsed = float(ds.attrs["eigvalsh_seconds"])
    resolved = fd[:, 0, col["block_radius"]] / fd[:, 0, col["norm"]]
    where = f"widths {widths}, at init and after {spec.train_steps} GD steps" + (
        " (skipped, a kink exactly on a sample so that the Hessian is not defined: "
        f"{'; '.join(skipped)})"
        if skipped
        else ""
    )

    def worst(name):
        vals = fd[..., col[name]]
        return float(np.nanmax(vals)) if np.any(np.isfinite(vals)) else math.nan

    return (
        Claim.below(
            "dense_vs_fd",
            "dense Hessian JᵀJ + residual blocks equals the central-difference Hessian "
            "of the reference gradient (max entry error / ‖H‖)",
            _REF + ", Hessian",
            worst("dense_vs_fd"),
            spec.fd_tolerance,
            note=f"{where}; errors {np.array2string(fd[..., col['dense_vs_fd']], precision=2)}; "
            "the residual blocks' largest eigenvalue at init is "
            f"{np.array2string(resolved, precision=2)} of ‖H‖, far above the tolerance, so a wrong "
            "or missing residual part fails the check",
        ),
        Claim.below(
            "structured_vs_fd",
            "structured eigvalsh equals the spectrum of the central-difference Hessian "
            "(max eigenvalue error / ‖H‖)",
            _REF + ", Hessian",
            worst("structured_vs_fd"),
            spec.fd_tolerance,
            note=f"{where}; errors "
            f"{np.array2string(fd[..., col['structured_vs_fd']], precision=2)}",
        ),
        Claim.below(
            "structured_vs_dense",
            "structured eigvalsh equals numpy eigvalsh of the dense Hessian to rounding (max error "
            "/ ‖H‖; checks the reduction by activation groups only, both are built from the same "
            "Jacobian and blocks)",
            _REF + ", Hessian",
            worst("structured_vs_dense"),
            spec.tolerance,
            note=where,
        ),
        Claim.below(
            "lanczos_extremes",
            f"λ_min and λ_max of the structured spectrum at m = {spec.lanczos_width} against "
            "Lanczos on central-difference Hessian-vector products of the reference gradient (max "
            "error / λ_max)",
            _REF + ", Hessian",
            float(lz_err),
            spec.fd_tolerance,
            note=f"structured ({lz_fast[0]:.10g}, {lz_fast[-1]:.10g}), Lanczos ({lz_min:.10g}, "
            f"{lz_max:.10g}), {n_products} products; λ_min < 0 is the residual blocks' −√(p²+q²)",
        ),
        Claim.below(
            "large_width_time",
            f"whole spectrum at m = {spec.large_width} in seconds (wall time, s)",
            _REF + ", Hessian",
            elapsed,
            spec.time_limit,
            note="groups neurons by activation set: one dense problem of size ≤ 9·#groups",
        ),
    )


def _draw_hessian_spectrum(ds, spec: HessianSpec) -> dict:
    """Histograms of the spectrum at ``large_width``, at init and after GD."""
    spectrum = ds["spectrum_init"].values
    fig, axes = new_figure(2, 1, size=(5.5, 4.0))
    for ax, ev, title in ((axes[0, 0], spectrum, "init"),
                          (axes[0, 1], ds["spectrum_trained"].values, "after GD")):
        thresh = 1e-12 * np.abs(ev).max()
        ax.hist(
            np.sign(ev) * np.log10(np.maximum(np.abs(ev), thresh) / thresh),
            bins=200,
            color="C0",
            log=True,
        )
        ax.set_xlabel("sign(λ)·log₁₀(|λ|/(10⁻¹²‖H‖))")
        ax.set_title(f"Hessian spectrum, m = {spec.large_width}, {title}", fontsize="small")
    axes[0, 0].text(
        0.02,
        0.95,
        f"{np.sum(np.abs(spectrum) <= 1e-12 * np.abs(spectrum).max())} zeros; "
        f"blocks ±√(p²+q²): {int(ds.attrs['distinct_block_radii'])} distinct radii",
        transform=axes[0, 0].transAxes,
        fontsize="x-small",
        va="top",
    )
    return {"spectrum": fig}


@register(
    "sahs2020.hessian_spectrum",
    "The Hessian and its structured spectrum against central differences of the reference gradient",
    quick=HessianSpec(widths=(10, 100), train_steps=5000, large_train_steps=100),
    full=HessianSpec(
        widths=(10, 100, 300, 1000),
        lanczos_width=10_000,
        train_steps=200_000,
        large_train_steps=5000,
    ),
    judge=_judge_hessian_spectrum,
)
def run_hessian_spectrum(spec: HessianSpec) -> ExperimentResult:
    """The Hessian and its structured spectrum against an independent Hessian.

    Compares :func:`relu1d.hessian.hessian` and :func:`relu1d.hessian.eigvalsh` with central
    differences of :func:`relu1d.train.loss_and_grad` at random and trained points of
    every width in ``spec.widths``, the spectrum's ends at ``spec.lanczos_width`` with
    Lanczos on finite-difference Hessian-vector products, and times the whole spectrum at
    ``spec.large_width``. Claims ``dense_vs_fd``, ``structured_vs_fd``,
    ``structured_vs_dense``, ``lanczos_extremes`` and ``large_width_time``. Presets:
    ``quick`` m = 10, 100; ``full`` m up to 1000, Lanczos at 10⁴.
    """
    ds = _measure_hessian_spectrum(spec)
    return ExperimentResult(ds, _draw_hessian_spectrum(ds, spec), _judge_hessian_spectrum(ds, spec))


# ====================================================================== loss surface
@dataclass(frozen=True)
class LossSurfaceSpec:
    """Spectra at interpolating minima, at exact saddles and at training stalls.

    ``interpolation_loss``: a point counts as interpolating when its loss is at most this;
    ``zero_tolerance``: |λ| ≤ zero_tolerance·‖H‖ counts as a zero eigenvalue (a fixed
    fraction of the spectral norm, whatever the residual).
    """

    m: int = 40
    trained_width: int = 200
    trained_scale: float = 3.0
    interpolation_steps: int = 300_000
    data_samples: int = 10
    data_seed: int = 0
    saddle_data_seed: int = 0
    small_scale: float = 0.1
    train_steps: int = 300_000
    lr_cap: float = 0.1
    seed: int = 0
    interpolation_loss: float = 1e-16
    zero_tolerance: float = 1e-8


def _loss_curvature(net: Network, data: Dataset, v: np.ndarray) -> float:
    """(L(z + tv) + L(z − tv) − 2L(z))/t² for a unit v, from the reference loss, t below the
    kink margin along v: vᵀHv up to O(t²), as L is a quartic polynomial on one activation
    pattern (independent of :mod:`relu1d.hessian`)."""
    from ..train import loss_and_grad

    m = net.m
    z = np.concatenate([net.a, net.b, net.c])

    def loss(w):
        return loss_and_grad(Network(w[:m], w[m:2 * m], w[2 * m:], alpha=net.alpha), data).loss

    v = v / np.linalg.norm(v)
    t = _fd_step(net, data, largest=1e-3, direction=v)[0]
    return (loss(z + t * v) + loss(z - t * v) - 2 * loss(z)) / t ** 2


def _loss_surface_titles(spec: LossSurfaceSpec) -> dict:
    """The points of :func:`run_loss_surface`, in words."""
    return {
        "lstsq_minimum": "lstsq interpolating minimum",
        "gd_minimum": f"GD, m = {spec.trained_width}, σ = {spec.trained_scale:g}",
        "init": f"random init, m = {spec.m}",
        "zero_saddle": "f ≡ 0, neurons at stationary breakpoints",
        "narrow_stall": f"GD stall, m = {spec.m}",
        "small_init_stall": f"GD stall, small init σ = {spec.small_scale:g}",
        "widened_stall": "small-init stall + dead-output neurons",
    }


def _measure_loss_surface(spec: LossSurfaceSpec):
    """Loss, gradient norm, spectrum and its counts at interpolating minima, an exact
    saddle and GD stalls (see the module docstring)."""
    import xarray as xr

    from ..train import loss_and_grad

    def grad_norm(net, data):
        _, ga, gb, gc = loss_and_grad(net, data)
        return float(np.sqrt(np.sum(ga ** 2) + np.sum(gb ** 2) + np.sum(gc ** 2)))

    def gd(net, steps=spec.train_steps):
        return _train(net, data, steps, spec.lr_cap, record_every=steps)[0].network

    data = sinusoid(spec.data_samples, seed=spec.data_seed)
    # 1. an exact interpolating minimum: random first layer, min-norm least-squares c
    net = init_network(spec.m, seed=spec.seed)
    feats = _hs.jacobian(net, data)[:, 2 * net.m:]  # ∂f(xⱼ)/∂cᵢ = (aᵢxⱼ − bᵢ)₊/α
    exact_min = Network(net.a, net.b, np.linalg.lstsq(feats, data.y, rcond=None)[0], net.alpha)
    # 2. an interpolating point reached by GD on all layers (a large init converges linearly)
    trained = gd(init_network(spec.trained_width, seed=spec.seed, ab_scale=spec.trained_scale,
                              c_scale=spec.trained_scale), spec.interpolation_steps)
    # 3. an exact saddle: f ≡ 0 (all c = 0), neurons at the stationary breakpoints of ρ = −y
    sdata = _random_data(8, seed=spec.saddle_data_seed)
    beta, orient = _sv.stationary_breakpoints(
        Network(np.array([1.0]), np.array([0.0]), np.array([0.0]), 1.0), sdata
    )
    zero_saddle = Network(orient, orient * beta, np.zeros(beta.size), 1.0) if beta.size else None
    # 4. GD stalls: the narrow network from 1., and a wide one from a small init
    stall = gd(net)
    small = gd(init_network(spec.trained_width, seed=spec.seed, ab_scale=spec.small_scale,
                            c_scale=spec.small_scale))
    # 5. the small-init stall with dead-output neurons added at its residual's stationary
    # breakpoints
    beta2, orient2 = _sv.stationary_breakpoints(small, data)
    scale = float(np.median(np.abs(small.a)))
    widened = Network(
        np.concatenate([small.a, scale * orient2]),
        np.concatenate([small.b, scale * orient2 * beta2]),
        np.concatenate([small.c, np.zeros(beta2.size)]),
        small.alpha,
    )
    points = {
        "lstsq_minimum": (exact_min, data),
        "gd_minimum": (trained, data),
        "init": (net, data),
        "zero_saddle": (zero_saddle, sdata),
        "narrow_stall": (stall, data),
        "small_init_stall": (small, data),
        "widened_stall": (widened, data),
    }
    titles = _loss_surface_titles(spec)
    cols = [
        "loss",
        "grad_norm",
        "lambda_min",
        "lambda_max",
        "n_negative",
        "n_near_zero",
        "3m_minus_s",
        "max_block_radius",
        "min_curvature_fd",
    ]
    rows, spectra = {}, {}
    for name, (net_k, d_k) in points.items():
        if net_k is None:
            rows[name] = [math.nan] * len(cols)
            continue
        ev = _hs.eigvalsh(net_k, d_k)
        rho = net_k(d_k.x) - d_k.y
        blocks = _hs.residual_blocks(net_k, d_k)
        block_r = float(np.max(np.hypot(blocks[:, 0, 2], blocks[:, 1, 2])))
        tol = spec.zero_tolerance * np.abs(ev).max()       # does not depend on the residual
        curvature = math.nan
        if name in ("zero_saddle", "widened_stall"):
            # the loss's own second difference along the dense Hessian's lowest eigenvector
            curvature = _loss_curvature(
                net_k, d_k, np.linalg.eigh(_hs.hessian(net_k, d_k))[1][:, 0]
            )
        rows[name] = [
            0.5 * float(rho @ rho),
            grad_norm(net_k, d_k),
            float(ev[0]),
            float(ev[-1]),
            float(np.sum(ev < -tol)),
            float(np.sum(np.abs(ev) <= tol)),
            float(3 * net_k.m - d_k.s),
            block_r,
            curvature,
        ]
        spectra[name] = ev
    table = np.array(list(rows.values()))
    # every point's spectrum, padded with NaN to the largest (a missing point: all NaN)
    eig = np.full((len(rows), max(ev.size for ev in spectra.values())), np.nan)
    for k, name in enumerate(rows):
        if name in spectra:
            eig[k, :spectra[name].size] = spectra[name]
    ds = xr.Dataset(
        {"table": (("point", "quantity"), table), "eigenvalues": (("point", "eig"), eig)},
        coords={"point": list(rows), "quantity": cols},
        attrs={
            "near_zero": f"|λ| ≤ {spec.zero_tolerance:g}·‖H‖",
            "negative": f"λ < −{spec.zero_tolerance:g}·‖H‖",
            "interpolating": f"loss ≤ {spec.interpolation_loss:g}",
            "min_curvature_fd": "second difference of the reference loss along the lowest "
            "eigenvector of the dense Hessian",
            "points": "; ".join(f"{k}: {v}" for k, v in titles.items()),
            "zero_saddle_neurons": zero_saddle.m if zero_saddle else 0,
            "dead_output_neurons_added": int(beta2.size),
        },
    )
    return ds


def _judge_loss_surface(ds, spec: LossSurfaceSpec) -> tuple:
    """The claims of :func:`run_loss_surface`, from its dataset alone."""
    cols = [str(q) for q in ds["quantity"].values]
    r = {str(name): dict(zip(cols, row))
         for name, row in zip(ds["point"].values, ds["table"].values)}
    tol_text = f"|λ| ≤ {spec.zero_tolerance:g}·‖H‖ counts as zero"

    def zero_count(id_, point, statement):
        row = r[point]
        excess = row["n_near_zero"] - row["3m_minus_s"]
        interpolates = row["loss"] <= spec.interpolation_loss
        note = (
            f"L = {row['loss']:.3g} (interpolating: L ≤ {spec.interpolation_loss:g}), ‖∇L‖ = "
            f"{row['grad_norm']:.2g}, largest residual-block eigenvalue "
            f"{row['max_block_radius']:.2g}, λ_min = {row['lambda_min']:.2g}, λ_max = "
            f"{row['lambda_max']:.3g}; {row['n_near_zero']:.0f} zeros, 3m − s = "
            f"{row['3m_minus_s']:.0f}"
        )
        if not interpolates:
            note += ". The point does not interpolate, so it does not test the claim"
        return Claim.judged(
            id_,
            statement,
            _REF + ", loss surface",
            excess,
            "≥ 0",
            tol_text,
            interpolates and excess >= 0,
            on_fail="contradicted" if interpolates else "inconclusive",
            note=note,
        )

    em, tr_, it, zs, st, sm, wd = r.values()
    claims = [
        zero_count(
            "lstsq_minimum.zero_eigenvalues",
            "lstsq_minimum",
            "interpolating minimum (random first layer, c by least squares): "
            "#zero eigenvalues − (3m − s) ≥ 0",
        ),
        zero_count(
            "gd_minimum.zero_eigenvalues",
            "gd_minimum",
            f"interpolating point reached by GD on all layers (m = {spec.trained_width}, init "
            f"scale {spec.trained_scale:g}): #zero eigenvalues − (3m − s) ≥ 0",
        ),
        Claim.above(
            "gd_minimum.psd",
            "the GD interpolating point is a minimum: λ_min/λ_max ≥ −tolerance",
            _REF + ", loss surface",
            tr_["lambda_min"] / tr_["lambda_max"],
            -spec.zero_tolerance,
            note=f"L = {tr_['loss']:.3g}",
        ),
        Claim.below(
            "init.zero_count_short",
            f"the zero count discriminates: at a random init (m = {spec.m}, "
            "non-zero residual) #zero eigenvalues − (3m − s) < 0 under the same tolerance",
            "relu1d check of the loss-surface claims",
            it["n_near_zero"] - it["3m_minus_s"],
            0.0,
            note=f"L = {it['loss']:.3g}; the residual blocks (eigenvalues "
            f"±{it['max_block_radius']:.2g}) lift 2 of each neuron's 3 residual directions off "
            "zero",
        ),
        Claim.below(
            "zero_saddle.critical",
            "f ≡ 0 with dead-output neurons at stationary breakpoints: a critical "
            "point (‖∇L‖) with non-zero loss ...",
            "derived (splineview item 4)",
            zs["grad_norm"],
            1e-12,
            note=f"L = {zs['loss']:.3g}, {int(ds.attrs['zero_saddle_neurons'])} neuron(s)",
        ),
        Claim.below(
            "zero_saddle.strict",
            "... and a strict saddle: the loss curves down along the lowest Hessian "
            "eigenvector (second difference of the reference loss)",
            _REF + ", loss surface",
            zs["min_curvature_fd"],
            -spec.zero_tolerance * abs(zs["lambda_max"]),
            note=f"λ_min(H) = {zs['lambda_min']:.4g} (structured); the (a, b, c) block of a c = 0 "
            "neuron with (R, E) ≠ 0 gives a negative direction",
        ),
        Claim.above(
            "narrow_stall.psd",
            f"a GD stall (m = {spec.m}) with non-zero residual where every neuron has R = E = 0: "
            "the residual blocks vanish, H = JᵀJ ⪰ 0, no negative curvature (λ_min/λ_max)",
            "derived (splineview item 4); restates " + _REF,
            st["lambda_min"] / st["lambda_max"],
            -spec.zero_tolerance,
            note=f"L = {st['loss']:.3g}, ‖∇L‖ = {st['grad_norm']:.2g}, block radius "
            f"{st['max_block_radius']:.2g}: 'non-zero residual ⇒ saddle' needs a dead-output "
            "neuron with (R, E) ≠ 0; without one the second-order test is inconclusive",
        ),
        Claim.below(
            "widened_stall.negative_curvature",
            "small-init GD end point + dead-output neurons at its residual's stationary "
            "breakpoints: the loss curves down along the lowest Hessian eigenvector (second "
            "difference of the reference loss; at a critical point this makes a strict saddle with "
            "non-zero residual)",
            _REF + ", loss surface",
            wd["min_curvature_fd"],
            -spec.zero_tolerance * abs(wd["lambda_max"]),
            note=f"GD end point: L = {sm['loss']:.3g}, ‖∇L‖ = {sm['grad_norm']:.2g} (not yet "
            f"critical at {spec.train_steps} steps), λ_min = {sm['lambda_min']:.2g}; "
            f"{int(ds.attrs['dead_output_neurons_added'])} dead-output neurons added (‖∇L‖ "
            f"unchanged: {wd['grad_norm']:.2g}); λ_min(H) = {wd['lambda_min']:.4g} (structured)",
        ),
    ]
    return tuple(claims)




def _draw_loss_surface(ds, spec: LossSurfaceSpec) -> dict:
    """The spectrum of every point (histogram of sign(λ)·log|λ|)."""
    titles = _loss_surface_titles(spec)
    points = [str(p) for p in ds["point"].values]
    fig, axes = new_figure(len(points), 1, size=(3.4, 3.2))
    for k, name in enumerate(points):
        ev = ds["eigenvalues"].values[k]
        ev = ev[~np.isnan(ev)]
        if ev.size == 0:
            continue
        ax = axes[0, k]
        thresh = 1e-12 * np.abs(ev).max()
        ax.hist(np.sign(ev) * np.log10(np.maximum(np.abs(ev), thresh) / thresh), bins=80, log=True)
        loss = float(ds["table"].values[k, 0])
        ax.set_title(f"{titles[name]}\nL = {loss:.2g}, λ_min = {ev[0]:.2g}", fontsize="x-small")
        ax.set_xlabel("sign(λ)·log₁₀(|λ|/(10⁻¹²‖H‖))", fontsize="x-small")
    return {"spectra": fig}


@register("sahs2020.loss_surface", "Critical points in spline terms and their Hessian spectra",
          quick=LossSurfaceSpec(train_steps=100_000),
          full=LossSurfaceSpec(trained_width=1000, interpolation_steps=1_000_000,
                               train_steps=2_000_000),
          judge=_judge_loss_surface)
def run_loss_surface(spec: LossSurfaceSpec) -> ExperimentResult:
    """Critical points in spline terms and their Hessian spectra.

    Builds or trains seven points (an exact least-squares interpolating minimum, a GD
    interpolating point, a random init, an exact saddle f ≡ 0 with neurons at stationary
    breakpoints, two GD stalls and a stall widened by dead-output neurons) and measures
    their loss, gradient norm, spectrum (counts of negative and zero eigenvalues against
    3m − s) and, at the saddles, the loss's second difference along the lowest
    eigenvector. Claims ``*.zero_eigenvalues``, ``gd_minimum.psd``,
    ``init.zero_count_short``, ``zero_saddle.critical``, ``zero_saddle.strict``,
    ``narrow_stall.psd`` and ``widened_stall.negative_curvature``. Presets: ``quick``
    10⁵ GD steps; ``full`` m = 1000, 2·10⁶ steps.
    """
    ds = _measure_loss_surface(spec)
    return ExperimentResult(ds, _draw_loss_surface(ds, spec), _judge_loss_surface(ds, spec))


# ====================================================================== spline flow
@dataclass(frozen=True)
class SplineFlowSpec:
    """Closed-form spline velocities against trajectories; speed and travel against σ."""

    m: int = 30
    data_samples: int = 10
    data_seed: int = 0
    check_lrs: tuple = (1e-3, 1e-4)
    flow_dts: tuple = (1e-2, 1e-3)
    check_steps: int = 60
    scales: tuple = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    travel_m: int = 100
    travel_steps: int = 100_000
    travel_fraction: float = 0.5
    lr_cap: float = 0.1
    seed: int = 0


def _measure_spline_flow(spec: SplineFlowSpec):
    """Errors of the closed-form spline velocities against central differences of GD and
    of the exact flow; speeds at init, breakpoint travel and time to fit against σ."""
    import xarray as xr

    from ..train import train

    data = sinusoid(spec.data_samples, seed=spec.data_seed)
    net = init_network(spec.m, seed=spec.seed)
    mid = spec.check_steps // 2

    def fd_errors(snaps, dt):
        """Relative errors of central differences of β and μ at the middle snapshot against
        spline_velocity."""
        beta = [snaps.b[j] / snaps.a[j] for j in (mid - 1, mid + 1)]
        mu = [snaps.c[j] * np.abs(snaps.a[j]) / net.alpha for j in (mid - 1, mid + 1)]
        bd, md = _sv.spline_velocity(snaps.network(mid), data)
        return [np.max(np.abs((beta[1] - beta[0]) / (2 * dt) - bd)) / np.max(np.abs(bd)),
                np.max(np.abs((mu[1] - mu[0]) / (2 * dt) - md)) / np.max(np.abs(md))]

    errs = np.array(
        [
            fd_errors(
                train(
                    net,
                    data,
                    lr=lr,
                    steps=spec.check_steps,
                    record_every=1,
                    progress=False,
                    max_snapshots=None,
                ).snapshots,
                lr,
            )
            for lr in spec.check_lrs
        ]
    )
    # the exact flow (method="flow", adaptive ODE integration): central differences err O(dt²)
    flow_errs = np.array(
        [
            fd_errors(
                train(
                    net,
                    data,
                    method="flow",
                    lr=dt,
                    steps=spec.check_steps,
                    record_every=1,
                    progress=False,
                    rtol=1e-12,
                    atol=1e-14,
                    max_snapshots=None,
                ).snapshots,
                dt,
            )
            for dt in spec.flow_dts
        ]
    )
    speed_beta, speed_mu, travel, fit_time = [], [], [], []
    for sigma in spec.scales:
        n0 = init_network(spec.travel_m, seed=spec.seed, ab_scale=sigma, c_scale=sigma)
        bd, md = _sv.spline_velocity(n0, data)
        inside = np.abs(n0.breakpoints) <= 1
        speed_beta.append(float(np.median(np.abs(bd[inside]))))
        speed_mu.append(float(np.median(np.abs(md))))
        traj, lr = _train(n0, data, spec.travel_steps, spec.lr_cap, record="log")
        target = spec.travel_fraction * traj.loss[0]
        hit = np.flatnonzero(traj.loss <= target)
        if hit.size == 0:
            travel.append(math.nan)
            fit_time.append(math.nan)
            continue
        # the recorded snapshot where the loss first falls below the fraction
        k = int(np.argmin(np.abs(traj.snapshots.steps - traj.steps[hit[0]])))
        nk = traj.snapshots.network(k)
        travel.append(float(np.median(np.abs(nk.breakpoints[inside] - n0.breakpoints[inside]))))
        fit_time.append(float(traj.snapshots.times[k]))
    return xr.Dataset({"fd_relative_error": (("lr", "quantity"), errs),
                       "flow_fd_relative_error": (("dt", "quantity"), flow_errs),
                       "median_abs_beta_dot": ("scale", speed_beta),
                       "median_abs_mu_dot": ("scale", speed_mu),
                       "median_breakpoint_travel": ("scale", travel),
                       "time_to_fraction": ("scale", fit_time)},
                      coords={"lr": list(spec.check_lrs), "dt": list(spec.flow_dts),
                              "quantity": ["beta_dot", "mu_dot"], "scale": list(spec.scales)},
                      attrs={"travel": f"median |Δβ| over breakpoints in [−1, 1] until L ≤ "
                                       f"{spec.travel_fraction}·L(0)"})


def _judge_spline_flow(ds, spec: SplineFlowSpec) -> tuple:
    """The claims of :func:`run_spline_flow`, from its dataset alone."""
    errs, flow_errs = ds["fd_relative_error"].values, ds["flow_fd_relative_error"].values
    speed_beta, speed_mu = ds["median_abs_beta_dot"].values, ds["median_abs_mu_dot"].values
    travel = ds["median_breakpoint_travel"].values
    small = [i for i, s_ in enumerate(spec.scales) if s_ <= 0.1]
    slope_mu = (
        float(
            np.polyfit(np.log(np.array(spec.scales)[small]), np.log(np.array(speed_mu)[small]), 1)[
                0
            ]
        )
        if len(small) > 1
        else math.nan
    )
    slope_beta = (
        float(
            np.polyfit(
                np.log(np.array(spec.scales)[small]), np.log(np.array(speed_beta)[small]), 1
            )[0]
        )
        if len(small) > 1
        else math.nan
    )
    tr_ = np.array(travel)
    return (
        Claim.below(
            "velocity_vs_gd",
            "closed-form dβ/dt, dμ/dt against central differences of a GD trajectory (relative, "
            "smallest lr)",
            "derived (splineview item 5)",
            float(errs[-1].max()),
            1e-3,
            note=f"errors {np.array2string(errs, precision=2)} at lr {list(spec.check_lrs)}: "
            "O(lr), the distance between GD and the flow",
        ),
        Claim.below(
            "velocity_vs_flow",
            "closed-form dβ/dt, dμ/dt against central differences of the exact flow "
            "(method='flow'; relative, smallest dt)",
            "derived (splineview item 5)",
            float(flow_errs[-1].max()),
            1e-5,
            note=f"errors {np.array2string(flow_errs, precision=2)} at dt {list(spec.flow_dts)}: "
            "O(dt²) truncation of the central difference where the flow is smooth (a breakpoint "
            "crossing a sample inside the window spoils the larger dt)",
        ),
        Claim.close(
            "mu_speed_slope",
            "small init: |dμ/dt| ∝ σ² (log-log slope over σ ≤ 0.1)",
            "derived",
            slope_mu,
            2.0,
            0.05,
        ),
        Claim.close(
            "beta_speed_slope",
            "small init: |dβ/dt| independent of σ (log-log slope over σ ≤ 0.1)",
            "derived",
            slope_beta,
            0.0,
            0.05,
        ),
        Claim.above(
            "travel_small_vs_large",
            "breakpoints travel further before the fit at small init: travel(σ_min)/travel(σ_max)",
            _REF + ", init scale and implicit regularisation",
            float(tr_[0] / tr_[-1]),
            10.0,
            note="travel " + ", ".join(f"σ={s_:g}: {t:.3g}" for s_, t in zip(spec.scales, travel)),
        ),
    )


def _draw_spline_flow(ds, spec: SplineFlowSpec) -> dict:
    """Speeds at init and breakpoint travel against the init scale σ."""
    fig, axes = new_figure(2, 1, size=(4.6, 3.8))
    axes[0, 0].loglog(spec.scales, ds["median_abs_beta_dot"].values, "o-", label="median |dβ/dt|")
    axes[0, 0].loglog(spec.scales, ds["median_abs_mu_dot"].values, "s-", label="median |dμ/dt|")
    axes[0, 0].set_xlabel("init scale σ (a, b, c all × σ)")
    axes[0, 0].legend(fontsize="small")
    axes[0, 0].set_title("speeds at initialisation", fontsize="small")
    axes[0, 1].loglog(spec.scales, ds["median_breakpoint_travel"].values, "o-")
    axes[0, 1].set_xlabel("init scale σ")
    axes[0, 1].set_ylabel(f"median |Δβ| until L ≤ {spec.travel_fraction}·L(0)")
    return {"speeds": fig}


@register(
    "sahs2020.spline_flow",
    "dβ/dt and dμ/dt in closed form; breakpoint speed against init scale",
    quick=SplineFlowSpec(scales=(0.01, 0.1, 1.0, 10.0), travel_steps=30_000),
    full=SplineFlowSpec(m=100, travel_m=1000, travel_steps=1_000_000),
    judge=_judge_spline_flow,
)
def run_spline_flow(spec: SplineFlowSpec) -> ExperimentResult:
    """dβ/dt and dμ/dt in closed form against trajectories; speed and travel against σ.

    Compares :func:`relu1d.splineview.spline_velocity` with central differences of GD
    (``spec.check_lrs``) and of the exact flow (``spec.flow_dts``), and measures the
    median speeds at init, the breakpoint travel until the loss falls to
    ``spec.travel_fraction`` of its start, and the time that takes, against the init
    scale σ. Claims ``velocity_vs_gd``, ``velocity_vs_flow``, ``mu_speed_slope``,
    ``beta_speed_slope`` and ``travel_small_vs_large``. Presets: ``quick`` four σ,
    3·10⁴ steps; ``full`` seven σ, m = 1000, 10⁶ steps.
    """
    ds = _measure_spline_flow(spec)
    return ExperimentResult(ds, _draw_spline_flow(ds, spec), _judge_spline_flow(ds, spec))


# ====================================================================== implicit regularisation
def _contrast_runs(spec: ImplicitSpec) -> tuple:
    """Small-init GD on data whose linear and RF-kernel interpolants are far apart.

    For each (data set, init scale, width) and each seed: the final loss and gradient norm,
    the L² distances (on the data hull) to the linear and to the RF kernel interpolant, and
    TV(f') over TV(f') of the linear interpolant (the least TV(f') of any interpolant).
    Returns (values (configs, seeds, quantities), config labels, quantity names, the
    interpolants' L² and sup distances and the RF interpolant's TV(f') excess, per data set).
    """
    from .. import kernel, splines
    from ..train import loss_and_grad

    qty = ["final_loss", "grad_norm", "l2_to_linear", "l2_to_rf_kernel", "tv_over_linear", "lr"]
    configs, values, gaps = [], [], {}
    for s, freq in spec.contrast_data:
        data = sinusoid(s, seed=spec.data_seed, frequency=freq)
        hull = (float(data.x[0]), float(data.x[-1]))
        lin = splines.linear(data)
        rf = kernel.interpolant(data, init="uniform", kernel="rf")
        tv_lin = _sv.roughness(lin, hull)["tv_fprime"]
        grid = np.linspace(hull[0], hull[1], 100_001)
        tv_rf = float(np.trapezoid(np.abs(rf.second_derivative(grid)), grid))
        gaps[(s, freq)] = (splines.l2_distance(lin, rf, hull), splines.sup_distance(lin, rf, hull),
                           tv_rf / tv_lin - 1)
        for sigma in spec.contrast_scales:
            for m in spec.contrast_widths:
                configs.append((s, freq, sigma, m))
                rows = []
                for seed in range(spec.seed, spec.seed + spec.contrast_seeds):
                    n0 = init_network(m, seed=seed, ab_scale=sigma, c_scale=sigma)
                    traj, lr = _train(
                        n0, data, spec.contrast_steps, spec.lr_cap, record_every=spec.contrast_steps
                    )
                    f = traj.network
                    loss, ga, gb, gc = loss_and_grad(f, data)
                    rows.append(
                        [
                            loss,
                            float(np.sqrt(ga @ ga + gb @ gb + gc @ gc)),
                            splines.l2_distance(f, lin, hull),
                            splines.l2_distance(f, rf, hull),
                            _sv.roughness(f, hull)["tv_fprime"] / tv_lin,
                            lr,
                        ]
                    )
                values.append(rows)
    return np.array(values), configs, qty, gaps


def _nearer_linear_claim(
    spec: ImplicitSpec, values: np.ndarray, configs: list, qty: list, gaps: dict
) -> Claim:
    """Sahs' "small init → adaptive (nearer the linear interpolant)", judged per configuration.

    A configuration is conclusive when every seed interpolates and the seed mean of
    Δ = d(f, RF kernel) − d(f, linear) lies outside its 95 % t-interval half-width (the
    seed-to-seed noise), which must itself be below a quarter of the interpolants' distance
    (|Δ| never exceeds that distance, by the triangle inequality).
    """
    q = {name: k for k, name in enumerate(qty)}
    n = values.shape[1]
    t95 = float(stats.t.ppf(0.975, n - 1)) if n > 1 else math.inf
    readings, ratios = [], []
    for (s, freq, sigma, m), rows in zip(configs, values):
        d_lin, d_rf = rows[:, q["l2_to_linear"]], rows[:, q["l2_to_rf_kernel"]]
        ratio = d_lin / d_rf
        ratios.append(ratio)
        delta = d_rf - d_lin
        noise = t95 * float(np.std(delta, ddof=1)) / math.sqrt(n) if n > 1 else math.inf
        interpolates = bool(np.all(rows[:, q["final_loss"]] <= spec.interpolation_loss))
        gap = gaps[(s, freq)][0]
        conclusive = interpolates and abs(float(delta.mean())) > noise and noise < 0.25 * gap
        setting = (
            f"sin({freq:g}πx), {s} samples (‖linear − RF‖_L² = {gap:.3g}), σ = {sigma:g}, m = {m}, "
            f"{n} seeds: d_lin = {d_lin.mean():.4g}, d_RF = {d_rf.mean():.4g} ± {noise:.2g} (95 % "
            f"on Δ), max loss {rows[:, q['final_loss']].max():.2g}"
        )
        readings.append(
            Reading(setting, float(ratio.mean()), bool(delta.mean() > 0) if conclusive else None)
        )
    judged = [r.holds for r in readings if r.holds is not None]
    r0 = ratios[0]
    half = t95 * float(r0.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    interval = (float(r0.mean()) - half, float(r0.mean()) + half) if n > 1 else None
    if not judged:
        on_fail, why = (
            "inconclusive",
            (
                "no configuration discriminates: a run does not interpolate or the distances "
                "differ by less than their seed-to-seed noise"
            ),
        )
    elif all(judged):
        on_fail, why = "inconclusive", ""
    elif any(judged):
        on_fail, why = (
            "setting-dependent",
            "nearer the linear interpolant on some data sets, nearer the RF kernel "
            "interpolant on others (readings)",
        )
    else:
        on_fail, why = (
            "contradicted",
            "nearer the RF kernel interpolant in every conclusive configuration",
        )
    tv_dev = float(np.max(np.abs(values[..., q["tv_over_linear"]] - 1)))
    mechanism = (
        "Small-init GD ends at an interpolant of least TV(f') (measured: TV(f') within "
        f"{tv_dev:.1g} of the linear interpolant's, the least of any interpolant) with its knots "
        "clustered at a few places (cf. Savarese et al. 2019; Boursier & Flammarion 2023). That "
        "interpolant is unique, and is the linear one, only where the data's discrete second "
        "differences alternate in sign; where two consecutive ones share a sign any convex "
        "(concave) interpolant between them has the same TV(f'), and GD merges the two knots into "
        "one between the samples (cf. Hanin 2021), which can bring f nearer the smooth kernel "
        "interpolant than the linear one"
    )
    grad = values[..., q["grad_norm"]]
    return Claim.judged(
        "small_init_nearer_linear",
        "small init → adaptive: an interpolating network nearer the linear interpolant "
        "than the RF kernel interpolant (d_lin/d_RF < 1, L² on the data hull, mean over seeds)",
        _REF + ", abstract (implicit regularisation)",
        float(r0.mean()),
        "< 1",
        "beyond the seed-to-seed noise (95 % t-interval on d_RF − d_lin), every seed interpolating",
        bool(judged) and all(judged),
        on_fail=on_fail,
        note=(why + ". " if why else "")
        + "Data with far-apart interpolants: "
        + "; ".join(
            f"sin({f:g}πx) at {s} samples: ‖linear − RF‖ L² {g[0]:.3g}, sup {g[1]:.3g}"
            for (s, f), g in gaps.items()
        )
        + ". Measured value and interval: the first configuration; the mechanism field says why "
          "the data "
        "set matters.",
        seeds=n,
        interval=interval,
        readings=tuple(readings),
        certificate=(
            f"every run's loss ≤ {float(values[..., q['final_loss']].max()):.2g} after "
            f"{spec.contrast_steps} GD steps, ‖∇L‖ ≤ {float(grad.max()):.2g} "
            "(an interpolating global minimum)"
        ),
        mechanism=mechanism,
    )


@dataclass(frozen=True)
class ImplicitSpec:
    """Sweep of the init scale (both layers, (a, b) alone, c alone) and the width.

    ``contrast_*``: small-init runs on samples of sin(πfx) (``contrast_data`` lists
    (samples, f)) whose linear and RF kernel interpolants are far apart, over
    ``contrast_seeds`` seeds, for the claim "small init → nearer the linear interpolant";
    a run interpolates when its loss is at most ``interpolation_loss``; ``tv_tolerance``
    bounds TV(f')/TV(linear interpolant) − 1 for "small init reaches the least TV(f')".
    """

    widths: tuple = (100,)
    scales: tuple = (0.1, 10.0)
    modes: tuple = ("both", "ab", "c")
    data_samples: int = 10
    data_seed: int = 0
    steps: int = 100_000
    lr_cap: float = 0.1
    eps: float = 0.02
    seed: int = 0
    contrast_data: tuple = ((8, 2.0), (6, 1.5))
    contrast_scales: tuple = (0.1,)
    contrast_widths: tuple = (100,)
    contrast_seeds: int = 3
    contrast_steps: int = 100_000
    interpolation_loss: float = 1e-12
    tv_tolerance: float = 1e-3


def _contrast_configs(spec: ImplicitSpec) -> list:
    """(samples, frequency, σ, m) of every contrast configuration, in the order of
    :func:`_contrast_runs`."""
    return [(s, freq, sigma, m) for s, freq in spec.contrast_data for sigma in spec.contrast_scales
            for m in spec.contrast_widths]


def _measure_implicit_regularisation(spec: ImplicitSpec):
    """The sweep over modes × widths × scales (roughness, distances to the interpolants,
    knot concentration, breakpoint travel, misfit bound) and the contrast runs of
    :func:`_contrast_runs`; the figure's final networks as parameters."""
    import xarray as xr

    from .. import kernel, knots, splines

    data = sinusoid(spec.data_samples, seed=spec.data_seed)
    hull = (float(data.x[0]), float(data.x[-1]))
    lin = splines.linear(data)
    rf = kernel.interpolant(data, init="uniform", kernel="rf")
    ntk = kernel.interpolant(data, init="uniform", kernel="ntk")
    cols = [
        "final_loss",
        "int_fprime2",
        "tv_fprime",
        "sum_mu2",
        "l2_to_linear",
        "l2_to_rf_kernel",
        "l2_to_ntk_kernel",
        "knot_concentration",
        "median_breakpoint_travel",
        "lr",
        "affine_misfit_bound",
    ]
    table = np.full((len(spec.modes), len(spec.widths), len(spec.scales), len(cols)), np.nan)
    finals = {}
    m0 = spec.widths[-1]                           # the width of the figure
    for i, mode in enumerate(spec.modes):
        for j, m in enumerate(spec.widths):
            for k, sigma in enumerate(spec.scales):
                ab, cs = {"both": (sigma, sigma), "ab": (sigma, 1.0), "c": (1.0, sigma)}[mode]
                n0 = init_network(m, seed=spec.seed, ab_scale=ab, c_scale=cs)
                traj, lr = _train(n0, data, spec.steps, spec.lr_cap, record_every=spec.steps)
                fin = traj.network
                if m == m0:
                    finals[(i, k)] = fin
                rough = _sv.roughness(fin, hull)
                inside = np.abs(n0.breakpoints) <= 1
                table[i, j, k] = [
                    traj.loss[-1],
                    rough["int_fprime2"],
                    rough["tv_fprime"],
                    rough["sum_mu2"],
                    splines.l2_distance(fin, lin, hull),
                    splines.l2_distance(fin, rf, hull),
                    splines.l2_distance(fin, ntk, hull),
                    knots.concentration(fin, data, spec.eps),
                    float(np.median(np.abs(fin.breakpoints[inside] - n0.breakpoints[inside]))),
                    lr,
                    knots.affine_misfit_bound(fin, data),
                ]
    references = {
        name: _sv.roughness(f, hull)
        for name, f in (("linear", lin), ("natural cubic", splines.natural_cubic(data)))
    }
    ds = xr.Dataset(
        {
            "table": (("mode", "m", "scale", "quantity"), table),
            "reference_roughness": (
                ("reference", "measure"),
                [[v[q] for q in _MEASURES] for v in references.values()],
            ),
        },
        coords={
            "mode": list(spec.modes),
            "m": list(spec.widths),
            "scale": list(spec.scales),
            "quantity": cols,
            "reference": list(references),
            "measure": list(_MEASURES),
        },
        attrs={
            "rf_to_linear_l2": splines.l2_distance(rf, lin, hull),
            "ntk_to_linear_l2": splines.l2_distance(ntk, lin, hull),
            "modes": "both: ab_scale = c_scale = σ; ab: ab_scale = σ, c_scale = 1; "
            "c: c_scale = σ, ab_scale = 1",
        },
    )
    contrast, configs, qty, gaps = _contrast_runs(spec)
    ds["contrast"] = (("config", "seed", "contrast_quantity"), contrast)
    ds = ds.assign_coords(
        config=[f"sin({f:g}πx), s = {s_}, σ = {sg:g}, m = {m_}" for s_, f, sg, m_ in configs],
        seed=list(range(spec.seed, spec.seed + spec.contrast_seeds)),
        contrast_quantity=qty,
    )
    ds.attrs["contrast_linear_vs_rf"] = (
        "per contrast data set: L² and sup distance between the linear and RF "
        "kernel interpolants, TV(f') of the RF one over the linear one's − 1: "
        + "; ".join(
            f"sin({f:g}πx), s = {s_}: " + ", ".join(f"{v:.4g}" for v in g)
            for (s_, f), g in gaps.items()
        )
    )
    # the final networks of the figure (width m0 = widths[-1]): their parameters
    params = np.full((len(spec.modes), len(spec.scales), 3, m0), np.nan)
    alphas = np.full((len(spec.modes), len(spec.scales)), np.nan)
    for (i, k), fin in finals.items():
        params[i, k] = fin.a, fin.b, fin.c
        alphas[i, k] = fin.alpha
    ds["final_params"] = (("mode", "scale", "parameter", "neuron"), params)
    ds["final_alpha"] = (("mode", "scale"), alphas)
    ds["contrast_gap"] = (("contrast_data", "gap"), [gaps[key] for key in spec.contrast_data])
    return ds.assign_coords(parameter=["a", "b", "c"], gap=["l2", "sup", "tv_excess"])


def _judge_implicit_regularisation(ds, spec: ImplicitSpec) -> tuple:
    """The claims of :func:`run_implicit_regularisation`, from its dataset alone."""
    contrast = ds["contrast"].values
    qty = [str(q) for q in ds["contrast_quantity"].values]
    configs = _contrast_configs(spec)
    gaps = {key: tuple(float(v) for v in g)
            for key, g in zip(spec.contrast_data, ds["contrast_gap"].values)}
    table = ds["table"].values
    cols = [str(q) for q in ds["quantity"].values]
    interpolating = bool(np.all(contrast[..., qty.index("final_loss")] <= spec.interpolation_loss))
    tv_dev = float(np.max(np.abs(contrast[..., qty.index("tv_over_linear")] - 1)))
    both = list(spec.modes).index("both") if "both" in spec.modes else 0
    t = table[both, -1]
    col = {c: n for n, c in enumerate(cols)}
    claims = [
        Claim.above(
            "travel_ratio",
            "small init → breakpoints move, large init → they stay: travel(σ_min)/travel(σ_max), "
            "mode both",
            _REF + ", init scale",
            float(t[0, col["median_breakpoint_travel"]] / t[-1, col["median_breakpoint_travel"]]),
            10.0,
        ),
        Claim.below(
            "large_init_kernel_like",
            "large init → kernel-like: L² distance to the RF kernel interpolant at σ_max over "
            "σ_min (mode both)",
            _REF + " with Williams et al. 2019 (kernel regime)",
            float(t[-1, col["l2_to_rf_kernel"]] / t[0, col["l2_to_rf_kernel"]]),
            0.5,
        ),
        Claim.below(
            "large_init_nearer_kernel",
            "large init: closer to the RF kernel interpolant than to the linear interpolant "
            "(ratio of L² distances, mode both, σ_max)",
            _REF,
            float(t[-1, col["l2_to_rf_kernel"]] / t[-1, col["l2_to_linear"]]),
            1.0,
        ),
        _nearer_linear_claim(spec, contrast, configs, qty, gaps),
        Claim.judged(
            "small_init_min_tv",
            "small-init GD interpolants have (nearly) the least TV(f') of any interpolant "
            "(|TV(f')/TV(linear interpolant) − 1|, largest over configurations and seeds)",
            "relu1d measurement (cf. Savarese et al. 2019; Boursier & Flammarion 2023)",
            tv_dev,
            "0",
            f"≤ {spec.tv_tolerance:g}",
            interpolating and tv_dev <= spec.tv_tolerance,
            on_fail="inconclusive",
            note=(
                f"the contrast runs ({len(configs)} configurations × {spec.contrast_seeds} seeds); "
                "the RF kernel interpolants of these data exceed the least TV(f') by "
                + ", ".join(f"{100 * g[2]:.0f} % (sin {f:g}πx)" for (_, f), g in gaps.items())
                + ", so the tolerance discriminates. "
                + (
                    ""
                    if interpolating
                    else "Not every run interpolates, so the least TV is not a bound. "
                )
                + (
                    ""
                    if tv_dev <= spec.tv_tolerance
                    else "Above the tolerance: the least TV is reached "
                    "only as the init scale → 0, and a finite-σ run keeps some of its initial "
                    "knots."
                )
            ).strip(),
            seeds=spec.contrast_seeds,
            readings=tuple(
                Reading(
                    c,
                    float(np.max(np.abs(contrast[k, :, qty.index("tv_over_linear")] - 1))),
                    bool(
                        np.max(np.abs(contrast[k, :, qty.index("tv_over_linear")] - 1))
                        <= spec.tv_tolerance
                    ),
                )
                for k, c in enumerate(ds.coords["config"].values.tolist())
            ),
        ),
        Claim.above(
            "small_init_stall_misfit",
            "small init: the GD end point is a non-interpolating critical point whose loss is the "
            "misfit of the best line over samples that no knot separates (lower bound over loss, "
            "mode both, σ_min)",
            _REF + ", abstract (implicit regularisation)",
            float(t[0, col["affine_misfit_bound"]] / t[0, col["final_loss"]]),
            0.95,
            note=f"data loss {t[0, col['final_loss']]:.4g}, lower bound "
            f"{t[0, col['affine_misfit_bound']]:.4g}. GD from σ_min = {spec.scales[0]:g} on sin πx "
            f"at {spec.data_samples} samples stalls where no knot lies between some adjacent "
            "central samples and f is the least-squares line through them (data seed 0, seed 0: "
            "loss 3.920e-3 or 2.698e-3 depending on width and step count); the knots sit in "
            "clusters between samples near the extrema of sin πx. Measured besides: the stall "
            "persists to 3·10⁶ steps (m = 1000, σ = 0.03) and 6·10⁶ steps (m = 1000, σ = 0.1: "
            "3.920e-3 → 2.698e-3 by 2·10⁶ steps, then constant); m = 100 stalls at every σ ≤ 1, m "
            "= 1000 interpolates from σ ≥ 0.3. Such a stall says nothing about the interpolant "
            "small init prefers: small_init_nearer_linear is measured on runs that interpolate",
        ),
    ]
    return tuple(claims)


def _draw_implicit_regularisation(ds, spec: ImplicitSpec) -> dict:
    """The final functions at the largest width per mode and σ, against the RF kernel and
    linear interpolants; the L² distances to both against σ."""
    from .. import kernel, splines

    data = sinusoid(spec.data_samples, seed=spec.data_seed)
    hull = (float(data.x[0]), float(data.x[-1]))
    lin = splines.linear(data)
    rf = kernel.interpolant(data, init="uniform", kernel="rf")
    table = ds["table"].values
    params, alphas = ds["final_params"].values, ds["final_alpha"].values
    fig, axes = new_figure(len(spec.modes) + 1, 1, size=(4.2, 3.6))
    m0 = spec.widths[-1]
    for i, mode in enumerate(spec.modes):
        ax = axes[0, i]
        for k, sigma in enumerate(spec.scales):
            fa, fb, fc = params[i, k]
            fin = Network(fa, fb, fc, alpha=float(alphas[i, k]))
            plot_function(fin, data, ax=ax, label=f"σ = {sigma:g}", show_knots=False)
        xs = np.linspace(hull[0], hull[1], 400)
        ax.plot(xs, rf(xs), "k:", lw=1, label="RF kernel interpolant")
        ax.plot(xs, lin(xs), "k--", lw=1, label="linear interpolant")
        ax.set_title(f"mode {mode}, m = {m0}", fontsize="small")
        ax.legend(fontsize="xx-small")
    ax = axes[0, -1]
    for i, mode in enumerate(spec.modes):
        ax.loglog(
            spec.scales, table[i, -1, :, 5], "o-", color=f"C{i}", label=f"{mode}: to RF kernel"
        )
        ax.loglog(spec.scales, table[i, -1, :, 4], "s--", color=f"C{i}", label=f"{mode}: to linear")
    ax.set_xlabel("σ")
    ax.set_ylabel("L² distance on the data hull")
    ax.legend(fontsize="xx-small")
    return {"functions": fig}


@register(
    "sahs2020.implicit_regularisation",
    "Init scale (together and each alone) and width against the kind of interpolant GD finds",
    quick=ImplicitSpec(),
    full=ImplicitSpec(
        widths=(100, 1000),
        scales=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        steps=1_000_000,
        contrast_scales=(0.01, 0.1),
        contrast_widths=(100, 1000),
        contrast_seeds=10,
        contrast_steps=300_000,
    ),
    judge=_judge_implicit_regularisation,
)
def run_implicit_regularisation(spec: ImplicitSpec) -> ExperimentResult:
    """Init scale (both layers, (a, b) alone, c alone) and width against the interpolant GD finds.

    Trains GD over ``spec.modes`` × ``spec.widths`` × ``spec.scales`` and measures the
    roughness, the L² distances to the linear, RF and NTK kernel interpolants, the knot
    concentration and the breakpoint travel; and small-init runs over seeds on data whose
    linear and RF kernel interpolants are far apart (``spec.contrast_*``). Claims
    ``travel_ratio``, ``large_init_kernel_like``, ``large_init_nearer_kernel``,
    ``small_init_nearer_linear``, ``small_init_min_tv`` and ``small_init_stall_misfit``.
    Presets: ``quick`` m = 100, σ = 0.1 and 10, 3 contrast seeds; ``full`` m = 100 and
    1000, six σ, 10 contrast seeds.
    """
    ds = _measure_implicit_regularisation(spec)
    return ExperimentResult(ds, _draw_implicit_regularisation(ds, spec),
                            _judge_implicit_regularisation(ds, spec))
