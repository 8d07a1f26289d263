"""The experiment registry: every reproduced figure or claim under a stable name.

An experiment is a function ``run(spec) -> ExperimentResult`` registered with
:func:`register`, together with its frozen-dataclass spec type and two presets,
``quick`` (seconds; what tests and ``make run`` use) and ``full`` (the paper's
settings). Each result carries its data (an ``xarray.Dataset``), its figures and its
checked claims.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

__all__ = ["Claim", "Reading", "VERDICTS", "MIN_SEEDS_CONTRADICTED", "verdict_counts",
           "format_counts",
           "Run", "ExperimentResult", "Experiment", "register", "get", "names", "REGISTRY"]


VERDICTS = ("holds", "contradicted", "setting-dependent", "inconclusive")
"""The four verdicts of a claim (DESIGN.md, *Claims and verdicts*):

- ``holds``: reproduced within the stated tolerance;
- ``contradicted``: fails robustly, at a certified end state, over at least
  :data:`MIN_SEEDS_CONTRADICTED` seeds and the plausible readings of what the paper
  leaves unstated, with the mechanism named;
- ``setting-dependent``: fails in our reconstruction, but a plausible reading or a small
  perturbation of what the paper leaves open changes the outcome;
- ``inconclusive``: the measurement cannot discriminate (noise, resolution, no
  convergence).
"""

MIN_SEEDS_CONTRADICTED = 3
"""A ``contradicted`` verdict needs at least this many seeds (10 in the full presets)."""

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Reading:
    """One plausible reading of a setting the paper leaves open, and the value measured under it.

    Parameters
    ----------
    setting : str
        The setting, in words ("lr = 0.01, m = 100, α = √m").
    value : float
        The claim's measured quantity under that setting.
    holds : bool, optional
        Whether the claim's check passes under that setting (None when not judged).

    Examples
    --------
    >>> from relu1d.experiments import Claim, Reading
    >>> readings = (Reading("lr = 0.01", 0.12, holds=False),
    ...             Reading("lr = 0.001", 0.11, holds=False))
    >>> claim = Claim.below("gap", "the gap closes", "a paper", measured=0.12, bound=0.05,
    ...                     on_fail="setting-dependent", readings=readings)
    >>> claim.verdict, [r.setting for r in claim.readings]
    ('setting-dependent', ['lr = 0.01', 'lr = 0.001'])
    """

    setting: str
    value: float
    holds: bool | None = None


@dataclass(frozen=True)
class Claim:
    """One checked statement of a paper (or of our own derivation, marked so in ``reference``).

    Parameters
    ----------
    id : str
        Stable identifier, unique within its experiment (lower case, digits, ``_.-``).
        Tests and downstream scripts refer to claims by it, never by position or wording.
    statement : str
        What is claimed, in words ("sup distance falls like m^(-1/2)").
    reference : str
        Where ("Williams et al. 2019, Fig. 3").
    measured : float
        The measured quantity.
    predicted : str
        The theory's prediction, in words or as a number ("-0.5").
    tolerance : str
        The accepted deviation ("±0.15").
    verdict : str
        One of :data:`VERDICTS`.
    note : str
        Anything a reader must know: where the paper's print differs from the truth, and
        for a verdict other than ``holds``, why.
    seeds : int
        How many seeds the measured value aggregates (0: not a seeded measurement).
    interval : tuple of float, optional
        A confidence interval (95 % unless the note says otherwise) on ``measured``.
    readings : tuple of Reading
        The settings tried where the paper leaves them open, each with its value.
    certificate : str
        Why the end state is final: "loss plateau 1e-12 over the last 10⁵ steps,
        ‖∇L‖ = 3e-9", "exact computation", ….
    mechanism : str
        What makes the claim fail, citing the literature where it is known.

    Notes
    -----
    A ``contradicted`` verdict must carry its evidence: at least
    :data:`MIN_SEEDS_CONTRADICTED` seeds, at least one reading, a certificate and a
    mechanism; constructing one without them raises ``ValueError``. The constructors
    :meth:`close`, :meth:`below` and :meth:`above` instead record a failed check without
    that evidence as ``inconclusive`` and say what was missing, so that a failure is never
    printed as "the paper is wrong" by default.

    Examples
    --------
    >>> from relu1d.experiments import Claim
    >>> ok = Claim.close("slope", "sup distance falls like m^(-1/2)", "Williams et al. 2019",
    ...                  measured=-0.48, predicted=-0.5, tol=0.05)
    >>> ok.verdict, ok.holds, ok.tolerance
    ('holds', True, '±0.05')
    >>> bad = Claim.close("slope", "sup distance falls like m^(-1/2)", "Williams et al. 2019",
    ...                   measured=-0.2, predicted=-0.5, tol=0.05)
    >>> bad.verdict                      # a failure without evidence is not "contradicted"
    'inconclusive'
    >>> bad.note
    'Fails here, but not robustly established: no seeds ≥ 3 (has 0); no readings ...'
    """

    id: str
    statement: str
    reference: str
    measured: float
    predicted: str
    tolerance: str
    verdict: str
    note: str = ""
    seeds: int = 0
    interval: tuple[float, float] | None = None
    readings: tuple[Reading, ...] = ()
    certificate: str = ""
    mechanism: str = ""

    def __post_init__(self):
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ValueError("claim id must be lower case letters, digits and '_.-', got "
                             f"{self.id!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r} (claim "
                             f"{self.id!r})")
        object.__setattr__(self, "readings", tuple(
            r if isinstance(r, Reading) else Reading(*r) for r in self.readings))
        if self.interval is not None:
            object.__setattr__(self, "interval", (float(self.interval[0]), float(self.interval[1])))
        missing = self.missing_evidence()
        if self.verdict == "contradicted" and missing:
            raise ValueError(f"claim {self.id!r} is marked contradicted without its evidence: "
                             f"{', '.join(missing)} (mark it 'setting-dependent' or "
                             "'inconclusive', or record the evidence)")
        if (self.verdict in ("setting-dependent", "inconclusive")
                and not (self.note or self.readings)):
            raise ValueError(f"claim {self.id!r} is {self.verdict}: say why in `note` or list the "
                             "`readings`")

    @property
    def holds(self) -> bool:
        """Whether the verdict is ``holds``."""
        return self.verdict == "holds"

    def missing_evidence(self) -> list[str]:
        """What a ``contradicted`` verdict would still need (empty when complete)."""
        missing = []
        if self.seeds < MIN_SEEDS_CONTRADICTED:
            missing.append(f"seeds ≥ {MIN_SEEDS_CONTRADICTED} (has {self.seeds})")
        if not self.readings:
            missing.append("readings of the unstated settings")
        if not self.certificate:
            missing.append("a certificate of the end state")
        if not self.mechanism:
            missing.append("the mechanism")
        return missing

    @classmethod
    def judged(cls, id: str, statement: str, reference: str, measured: float, predicted: str,
               tolerance: str,
               passes: bool, *, on_fail: str = "contradicted", note: str = "", **evidence) -> Claim:
        """A claim whose check ``passes`` or not; a failure gets the verdict ``on_fail``.

        A failure marked ``contradicted`` without complete evidence (see :meth:`missing_evidence`)
        becomes ``inconclusive``, its note saying what was missing.
        """
        if on_fail not in VERDICTS or on_fail == "holds":
            raise ValueError(f"on_fail must be one of {VERDICTS[1:]}, got {on_fail!r}")
        passes = bool(passes and math.isfinite(measured))
        verdict = "holds" if passes else on_fail
        if verdict == "contradicted":
            probe = cls(id, statement, reference, float(measured), predicted, tolerance, "holds",
                        note, **evidence)
            missing = probe.missing_evidence()
            if missing:
                verdict = "inconclusive"
                note = (note + " " if note else "") + ("Fails here, but not robustly "
                                                       "established: no "
                                                       + "; no ".join(missing) + ".")
        elif not passes and not note and not evidence.get("readings"):
            note = "The check fails in this reconstruction."
        return cls(id, statement, reference, float(measured), predicted, tolerance, verdict, note,
                   **evidence)

    @classmethod
    def close(cls, id: str, statement: str, reference: str, measured: float, predicted: float,
              tol: float,
              note: str = "", relative: bool = False, **kwargs) -> Claim:
        """|measured − predicted| <= tol (times |predicted| if ``relative``); see :meth:`judged`."""
        bound = tol * abs(predicted) if relative else tol
        passes = math.isfinite(measured) and abs(measured - predicted) <= bound
        tol_text = f"±{tol:g}" + (" relative" if relative else "")
        return cls.judged(id, statement, reference, measured, f"{predicted:g}", tol_text, passes,
                          note=note, **kwargs)

    @classmethod
    def below(cls, id: str, statement: str, reference: str, measured: float, bound: float,
              note: str = "",
              **kwargs) -> Claim:
        """measured < bound; see :meth:`judged`."""
        return cls.judged(id, statement, reference, measured, f"< {bound:g}", "strict",
                          math.isfinite(measured) and measured < bound, note=note, **kwargs)

    @classmethod
    def above(cls, id: str, statement: str, reference: str, measured: float, bound: float,
              note: str = "",
              **kwargs) -> Claim:
        """measured > bound; see :meth:`judged`."""
        return cls.judged(id, statement, reference, measured, f"> {bound:g}", "strict",
                          math.isfinite(measured) and measured > bound, note=note, **kwargs)


def verdict_counts(verdicts) -> dict[str, int]:
    """How many of each verdict, in the order of :data:`VERDICTS` (all four keys present).

    Examples
    --------
    >>> from relu1d.experiments import verdict_counts
    >>> verdict_counts(["holds", "holds", "inconclusive"])
    {'holds': 2, 'contradicted': 0, 'setting-dependent': 0, 'inconclusive': 1}
    """
    counts = dict.fromkeys(VERDICTS, 0)
    for v in verdicts:
        counts[v] += 1
    return counts


def format_counts(counts: dict[str, int]) -> str:
    """"97 hold · 2 contradicted · 4 setting-dependent · 2 inconclusive" (zero counts kept).

    Examples
    --------
    >>> from relu1d.experiments import format_counts, verdict_counts
    >>> format_counts(verdict_counts(["holds", "holds", "inconclusive"]))
    '2 hold · 0 contradicted · 0 setting-dependent · 1 inconclusive'
    """
    labels = {"holds": "hold"}
    return " · ".join(f"{counts.get(v, 0)} {labels.get(v, v)}" for v in VERDICTS)


@dataclass(frozen=True, eq=False)
class Run:
    """One training run of an experiment, shown in the report by an interactive viewer
    (:mod:`relu1d.viewer`) and stored as ``runs/NAME.nc`` in the experiment's folder.

    Parameters
    ----------
    trajectory : relu1d.train.Trajectory
    data : relu1d.Dataset, optional
        The samples it was trained on (drawn, and stored with the trajectory).
    references : mapping of str to callable, optional
        Reference curves x ↦ g(x) drawn beside f (toggled in the viewer's legend), e.g.
        ``{"kernel interpolant": relu1d.kernel.interpolant(data)}``; by default the
        viewer draws the linear interpolant, the natural cubic spline and the kernel
        interpolant (uniform init) of ``data``.
    store : bool
        Write the trajectory to ``runs/NAME.nc`` (False where the record's ``data.nc``
        already is that trajectory, as for ``relu1d train``).

    Examples
    --------
    >>> import xarray as xr
    >>> import relu1d
    >>> from relu1d.experiments import ExperimentResult, Run
    >>> data = relu1d.datasets.square_wave(4, seed=0)
    >>> traj = relu1d.train(relu1d.init_network(6, seed=0), data, lr=0.01, steps=50,
    ...                     progress=False)
    >>> result = ExperimentResult(xr.Dataset(), runs={"small": Run(traj, data)})
    >>> list(result.runs), result.runs["small"].store
    (['small'], True)
    """

    trajectory: Any
    data: Any = None
    references: Any = None
    store: bool = True

    def __post_init__(self):
        if not all(hasattr(self.trajectory, name)
                   for name in ("snapshots", "loss", "times", "steps")):
            raise TypeError("trajectory must be a relu1d Trajectory, got "
                            f"{type(self.trajectory).__name__}")
        if self.references is not None:
            refs = dict(self.references)
            bad = [str(k) for k, g in refs.items() if not (isinstance(k, str) and callable(g))]
            if bad:
                raise TypeError("references must map names (str) to callables x -> g(x); bad "
                                f"entries: {bad}")
            object.__setattr__(self, "references", refs)


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """What an experiment returns: data, figures (name → matplotlib Figure), claims and,
    for experiments that train networks, the runs to show in interactive viewers.

    Claim ids are unique within a result; :meth:`claim` looks one up. ``runs`` maps a
    name to a :class:`Run` (or a trajectory, or a ``(trajectory, data)`` pair); empty by
    default.

    Examples
    --------
    >>> import xarray as xr
    >>> from relu1d.experiments import Claim, ExperimentResult
    >>> ds = xr.Dataset(attrs={"slope": -0.48})
    >>> result = ExperimentResult(ds, {}, (Claim.close("slope", "f ~ m^(-1/2)", "a paper",
    ...                                                ds.attrs["slope"], -0.5, 0.05),))
    >>> result.claim("slope").verdict, result.verdicts()
    ('holds', {'slope': 'holds'})
    """

    data: Any  # xarray.Dataset; imported lazily to keep `import relu1d` light
    figures: dict = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()
    runs: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "claims", tuple(self.claims))
        runs = {}
        for name, run in dict(self.runs).items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"run names must be non-empty strings, got {name!r}")
            runs[name] = (run if isinstance(run, Run)
                          else Run(*run) if isinstance(run, (tuple, list)) else Run(run))
        object.__setattr__(self, "runs", runs)
        seen = set()
        for c in self.claims:
            if c.id in seen:
                raise ValueError(f"claim id {c.id!r} appears twice in one result")
            seen.add(c.id)

    @property
    def all_hold(self) -> bool:
        return all(c.holds for c in self.claims)

    def claim(self, id: str) -> Claim:
        """The claim with this id."""
        for c in self.claims:
            if c.id == id:
                return c
        raise KeyError(f"no claim {id!r}; ids: {', '.join(c.id for c in self.claims)}")

    def verdicts(self) -> dict[str, str]:
        """id → verdict."""
        return {c.id: c.verdict for c in self.claims}


@dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes
    ----------
    name, description : str
        The registered name (``group.name``) and a one-line description.
    run : callable
        ``run(spec) -> ExperimentResult``.
    quick, full : frozen dataclass
        The two presets (instances of the spec type).
    judge : callable or None
        ``judge(ds, spec) -> tuple[Claim, ...]``: the claims recomputed from the result's
        dataset ``ds`` alone (for instance one read back from a stored ``data.nc``),
        without training or plotting; None when the experiment does not provide one.
        For an experiment that provides it, ``judge(result.data, spec)`` equals
        ``run(spec).claims``.

    Examples
    --------
    >>> from relu1d import experiments
    >>> exp = experiments.get("williams2019.lemma3")
    >>> result = exp.run(exp.quick)                       # what `relu1d reproduce` runs
    >>> sorted(result.verdicts().values())[0]
    'holds'
    """

    name: str
    description: str
    run: Callable[[Any], ExperimentResult]
    quick: Any
    full: Any
    judge: Callable[[Any, Any], tuple] | None = None

    @property
    def spec_type(self) -> type:
        return type(self.quick)

    def preset(self, which: str):
        if which not in ("quick", "full"):
            raise ValueError(f"preset must be 'quick' or 'full', got {which!r}")
        return self.quick if which == "quick" else self.full


REGISTRY: dict[str, Experiment] = {}


def register(name: str, description: str, *, quick, full, judge=None):
    """Decorator registering ``run(spec) -> ExperimentResult`` under ``name``.

    Parameters
    ----------
    name : str
        The experiment's name, ``group.name`` by convention (``williams2019.fig4``).
    description : str
        One line shown by ``relu1d list``.
    quick, full : frozen dataclass
        The two presets, instances of the same frozen dataclass (the spec): ``quick``
        runs in seconds, ``full`` uses the paper's settings.
    judge : callable, optional
        ``judge(ds, spec) -> tuple[Claim, ...]``, recomputing the experiment's claims from
        its dataset alone (no training, no matplotlib), so that verdicts can be recomputed
        from a stored ``data.nc`` and tested without plotting. When given, the registered
        function should return ``judge(ds, spec)`` as its claims. Stored as
        :attr:`Experiment.judge`; None (the default) when the experiment has none.

    Returns
    -------
    callable
        The decorator; it returns the function unchanged.

    Raises
    ------
    TypeError
        If a preset is not a frozen dataclass instance, the presets differ in type, or
        ``judge`` is neither None nor callable.
    ValueError
        (From the decorator) if ``name`` is already registered.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> import xarray as xr
    >>> @dataclass(frozen=True)
    ... class Spec:
    ...     n: int = 3
    >>> def judge_toy(ds, spec):
    ...     return (Claim.close("n_is_n", "n is n", "nowhere", ds.attrs["n"], spec.n, 0.0),)
    >>> @register("toy.doc", "a toy", quick=Spec(1), full=Spec(10), judge=judge_toy)
    ... def run_toy(spec):
    ...     ds = xr.Dataset(attrs={"n": spec.n})
    ...     return ExperimentResult(ds, {}, judge_toy(ds, spec))
    >>> exp = REGISTRY.pop("toy.doc")      # (a doctest: leave the registry as it was)
    >>> exp.judge(exp.run(exp.quick).data, exp.quick)[0].verdict
    'holds'
    """
    for label, spec in (("quick", quick), ("full", full)):
        if (not dataclasses.is_dataclass(spec)
                or not cast(Any, type(spec)).__dataclass_params__.frozen):
            raise TypeError(f"{label} preset of {name!r} must be a frozen dataclass instance")
    if type(quick) is not type(full):
        raise TypeError(f"quick and full presets of {name!r} must be the same spec type")
    if judge is not None and not callable(judge):
        raise TypeError(f"judge of {name!r} must be a function judge(ds, spec) -> claims or None, "
                        f"got {type(judge).__name__}")

    def decorator(fn):
        if name in REGISTRY:
            raise ValueError(f"experiment {name!r} is registered twice")
        REGISTRY[name] = Experiment(name, description, fn, quick, full, judge)
        return fn

    return decorator


def _load_all() -> None:
    """Import every public module of this package: each registers its experiments."""
    import importlib
    import pkgutil

    from .. import experiments

    for info in pkgutil.iter_modules(experiments.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{experiments.__name__}.{info.name}")


def names() -> list[str]:
    """Registered experiment names, sorted.

    Examples
    --------
    >>> from relu1d import experiments
    >>> "williams2019.fig3" in experiments.names()
    True
    """
    _load_all()
    return sorted(REGISTRY)


def get(name: str) -> Experiment:
    """The experiment registered under ``name``.

    Examples
    --------
    >>> from relu1d import experiments
    >>> exp = experiments.get("williams2019.fig3")
    >>> exp.name, type(exp.quick) is type(exp.full)
    ('williams2019.fig3', True)
    """
    _load_all()
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; known: "
                         f"{', '.join(sorted(REGISTRY)) or 'none'} (see `relu1d list`)")
    return REGISTRY[name]
