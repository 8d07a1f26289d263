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
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Claim", "ExperimentResult", "Experiment", "register", "get", "names", "REGISTRY"]


@dataclass(frozen=True)
class Claim:
    """One checked statement of a paper.

    Parameters
    ----------
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
    holds : bool
        Whether the measurement agrees with the prediction within the tolerance.
    note : str
        Anything a reader must know: where the paper's print differs from the truth.
    """

    statement: str
    reference: str
    measured: float
    predicted: str
    tolerance: str
    holds: bool
    note: str = ""

    @classmethod
    def close(cls, statement: str, reference: str, measured: float, predicted: float, tol: float,
              note: str = "", relative: bool = False) -> "Claim":
        """|measured − predicted| <= tol (times |predicted| if ``relative``)."""
        bound = tol * abs(predicted) if relative else tol
        holds = bool(math.isfinite(measured) and abs(measured - predicted) <= bound)
        tol_text = f"±{tol:g}" + (" relative" if relative else "")
        return cls(statement, reference, float(measured), f"{predicted:g}", tol_text, holds, note)

    @classmethod
    def below(cls, statement: str, reference: str, measured: float, bound: float, note: str = "") -> "Claim":
        """measured < bound."""
        holds = bool(math.isfinite(measured) and measured < bound)
        return cls(statement, reference, float(measured), f"< {bound:g}", "strict", holds, note)

    @classmethod
    def above(cls, statement: str, reference: str, measured: float, bound: float, note: str = "") -> "Claim":
        """measured > bound."""
        holds = bool(math.isfinite(measured) and measured > bound)
        return cls(statement, reference, float(measured), f"> {bound:g}", "strict", holds, note)


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """What an experiment returns: data, figures (name → matplotlib Figure) and claims."""

    data: Any  # xarray.Dataset; imported lazily to keep `import relu1d` light
    figures: dict = field(default_factory=dict)
    claims: tuple[Claim, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "claims", tuple(self.claims))

    @property
    def all_hold(self) -> bool:
        return all(c.holds for c in self.claims)


@dataclass(frozen=True)
class Experiment:
    """A registered experiment."""

    name: str
    description: str
    run: Callable[[Any], ExperimentResult]
    quick: Any
    full: Any

    @property
    def spec_type(self) -> type:
        return type(self.quick)

    def preset(self, which: str):
        if which not in ("quick", "full"):
            raise ValueError(f"preset must be 'quick' or 'full', got {which!r}")
        return self.quick if which == "quick" else self.full


REGISTRY: dict[str, Experiment] = {}


def register(name: str, description: str, *, quick, full):
    """Decorator registering ``run(spec) -> ExperimentResult`` under ``name``.

    ``quick`` and ``full`` are instances of the same frozen dataclass (the spec).
    """
    for label, spec in (("quick", quick), ("full", full)):
        if not dataclasses.is_dataclass(spec) or not type(spec).__dataclass_params__.frozen:
            raise TypeError(f"{label} preset of {name!r} must be a frozen dataclass instance")
    if type(quick) is not type(full):
        raise TypeError(f"quick and full presets of {name!r} must be the same spec type")

    def decorator(fn):
        if name in REGISTRY:
            raise ValueError(f"experiment {name!r} is registered twice")
        REGISTRY[name] = Experiment(name, description, fn, quick, full)
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
    """Registered experiment names, sorted."""
    _load_all()
    return sorted(REGISTRY)


def get(name: str) -> Experiment:
    """The experiment registered under ``name``."""
    _load_all()
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(sorted(REGISTRY)) or 'none'} "
                         "(see `relu1d list`)")
    return REGISTRY[name]
