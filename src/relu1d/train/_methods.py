"""The training methods as option objects, and the one check of :func:`relu1d.train`'s options.

``train(net, data, method=...)`` takes a method object, ``GD()``, ``Flow(rtol, atol)``,
``SGD(batch_size)`` or ``Langevin(temperature, batch_size)``, or its name as shorthand:
``method="langevin", temperature=T, batch_size=B`` is ``method=Langevin(T, B)`` (the
keywords temperature, batch_size, rtol and atol belong to the string form only). A new
method is a new subclass of :class:`Method` whose hooks say what it needs: its minibatch
size, its noise temperature, its cross-option rules and how it runs.

:func:`check_options` is the single check of every option of ``train`` that does not
depend on the network (``progress`` and ``on_interrupt`` are runtime switches, checked by
``train`` itself). ``train`` calls it with the number of samples; the file spec
``relu1d._specs.OptimSpec`` calls it with its TOML key prefix ``"training."``, so that a
TOML file accepts exactly what ``train`` accepts.

Notes
-----
**Updates.** With lr_eff = lr (or lr·m with ``lr_scale="width"``), λ = weight_decay and
L_B the data loss on the step's minibatch B (all samples for GD):

* GD and SGD: z ← z − lr_eff·(∇L_B(z) + λz);
* Langevin: z ← z − lr_eff·(∇L_B(z) + λz) + √(2·lr_eff·T)·ξ, ξ ~ N(0, I) fresh each step
  (the Euler–Maruyama step of dz = −(∇L + λz)dt + √(2T)dW, whose stationary law is
  ∝ exp(−(L + λ‖z‖²/2)/T)); with T = 0 it is SGD bit for bit;
* Flow: the ODE ż = −∇L(z) − λz (Williams eq. 2) up to time lr·steps, integrated by an
  adaptive explicit Runge–Kutta method (Dormand–Prince 8(5,3)) whose steps stop at every
  time a knot crosses a sample (where ∇L has a kink), with local error control
  ``rtol``·|z| + ``atol``, and read off at the times lr·k of the steps GD would record.

**Minibatches.** Each epoch draws one random permutation of the samples and cuts it into
consecutive batches of ``batch_size`` (the last one smaller when batch_size does not
divide s); a step is one minibatch update, so an epoch is ⌈s/batch_size⌉ steps.

**TV penalty** (canonical runs). κ·Σᵢ|rᵢ|/m (the TV regularisation of Williams App. B.2:
the total variation of the measure (1/m)Σᵢ rᵢ δ_θᵢ, an upper bound on ∫|f̃''| =
(1/m)Σᵢ|rᵢ||cos θᵢ|) is applied after each gradient step as the proximal map
r ← sign(r)·max(|r| − lr_eff·κ/m, 0). A subgradient step would move every rᵢ by
±lr_eff·κ/m each step and make it chatter about 0 without reaching it; the proximal step
sets it exactly to 0 and is the exact minimiser of the penalty's local model. In full
parameters use weight_decay: over the rescalings (a, b, c) ↦ (ka, kb, c/k),
(λ/2)(‖a‖² + ‖b‖² + ‖c‖²) is minimised at λ·Σ|cᵢ|√(aᵢ² + bᵢ²), the same penalty up to scale.

**Canonical parameters.** ``parameterization="canonical"`` runs the same methods on
w = (r, θ) (Williams eqs. 4–7): L̃(w) = ½ Σⱼ (f̃(xⱼ) − yⱼ)², f̃(x) = (1/m) Σᵢ rᵢ⟨x̃, d(θᵢ)⟩₊,
starting from ``net.canonical()``. The canonical flow does not determine the invariants
δ; snapshots map back to (a, b, c) = ``Network.from_canonical(r, θ, δ, α)`` with δ of the
initial network, as the full-parameter flow keeps it. Weight decay acts on r only (θ is
an angle).

**Shevchenko et al.'s noisy SGD.** θᵢ ← (1 − 2λs)θᵢ + 2s(yⱼ − ŷ(xⱼ))∇σ*(xⱼ, θᵢ) +
√(2s/β)·g, with ŷ = (1/N) Σᵢ σ*(x, θᵢ) and θᵢ = (aᵢ, wᵢ, bᵢ) (their names) = our
(cᵢ, aᵢ, −bᵢ), is ``Langevin(temperature=1/(2Nβ), batch_size=1)`` with ``lr=2s,
lr_scale="width", weight_decay=λ/N`` on a network with alpha = N (loss "sum" or "mean"
alike at batch size 1): lr_eff = 2sN, so lr_eff·λ/N = 2sλ, lr_eff·(1/N)·ρ = 2sρ and
2·lr_eff·T = 2s/β. Their samples are drawn independently each step, ours without
replacement per epoch. That printed noise samples exp(−2βΨ), not the Gibbs measure
exp(−βΨ) of their theorem: temperature = 1/(Nβ) samples the latter
(``relu1d.meanfield.shevchenko_train_kwargs(..., noise="gibbs")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import _short, as_choice, as_float_array, as_int, as_real, as_rng

__all__ = ["Method", "GD", "Flow", "SGD", "Langevin", "METHODS", "check_options", "as_trainable"]

PARAMETERIZATIONS = ("full", "canonical")
BACKENDS = ("numba", "numpy")
LOSSES = ("sum", "mean")
LR_SCALES = ("none", "width")
# the keywords of train that belong to the string shorthand of a method, and their defaults
SHORTHAND = {"temperature": 0.0, "batch_size": None, "rtol": None, "atol": None}


class Method:
    """Base class of the training methods (:class:`GD`, :class:`Flow`, :class:`SGD`,
    :class:`Langevin`). A subclass is a frozen dataclass with a class attribute ``kind``
    (its name as a string, and its TOML tag); it registers itself on definition."""

    kind: ClassVar[str] = ""
    # whether the method steps on minibatches (has a batch_size)
    _minibatches: ClassVar[bool] = False
    # every method by kind; read by relu1d._specs to read a TOML table "kind = ..."
    _tagged_classes: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Method._tagged_classes[cls.kind] = cls

    # ------------------------------------------------------------------ hooks for train
    def _batch(self, s: int) -> int | None:
        """The minibatch size on s samples; None: every sample each step."""
        return None

    def _temperature(self) -> float:
        """T of the Gaussian noise √(2·lr_eff·T)·ξ added each step."""
        return 0.0

    def _tolerances(self) -> tuple[float, float]:
        """(rtol, atol) as recorded in ``Trajectory.options``."""
        return Flow.rtol, Flow.atol

    def _check_with(self, *, loss: str, lr_scale: str, tv_penalty: float, where: str) -> None:
        """Refuse the settings of the other options this method does not support."""

    def _run(self, net, data, cfg, stop):
        """One run (see ``_api._train``)."""
        from ._api import _run_steps

        return _run_steps(net, data, cfg, stop)


def _optional_batch(value, name: str) -> int | None:
    return None if value is None else as_int(value, name, minimum=1)


def _batch_on(batch_size: int | None, s: int, name: str) -> int | None:
    if batch_size is not None and batch_size > s:
        raise ValueError(f"{name} must be between 1 and the number of samples s = {s}; "
                         f"got {batch_size}")
    return None if batch_size == s else batch_size


@dataclass(frozen=True)
class GD(Method):
    """Full-batch gradient descent, z ← z − lr_eff·(∇L + λz).

    Examples
    --------
    >>> GD()
    GD()
    """

    kind: ClassVar[str] = "gd"


@dataclass(frozen=True)
class Flow(Method):
    """The gradient flow ż = −∇L − λz, integrated adaptively up to time lr·steps.

    Parameters
    ----------
    rtol, atol : float > 0
        The integrator's local error control: each step's error estimate is kept below
        ``rtol``·|z| + ``atol`` componentwise.

    Examples
    --------
    >>> Flow(rtol=1e-10, atol=1e-12)
    Flow(rtol=1e-10, atol=1e-12)
    """

    kind: ClassVar[str] = "flow"
    rtol: float = 1e-8
    atol: float = 1e-10

    def __post_init__(self):
        object.__setattr__(self, "rtol", as_real(self.rtol, "Flow.rtol", positive=True))
        object.__setattr__(self, "atol", as_real(self.atol, "Flow.atol", positive=True))

    def _tolerances(self) -> tuple[float, float]:
        return self.rtol, self.atol

    def _check_with(self, *, loss: str, lr_scale: str, tv_penalty: float, where: str) -> None:
        for name, value, default in (("loss", loss, "sum"), ("lr_scale", lr_scale, "none")):
            if value != default:
                raise ValueError(f"{where}{name}={value!r} is not supported with method='flow' "
                                 f"(the flow integrates ż = −∇L of the summed loss); use "
                                 f"method='gd' with a small lr, or {name}={default!r}")
        if tv_penalty > 0:
            raise ValueError(f"{where}tv_penalty is not supported with method='flow'; "
                             "use method='gd'")

    def _run(self, net, data, cfg, stop):
        from ._api import _run_flow

        return _run_flow(net, data, cfg, stop)


@dataclass(frozen=True)
class SGD(Method):
    """Minibatch SGD: the GD update on the loss of ``batch_size`` samples per step.

    Parameters
    ----------
    batch_size : int >= 1 or None
        Samples per step (at most the number of samples s); None or s: every sample each
        step (then it is GD). Each epoch is one random permutation of the samples cut
        into consecutive batches; a step is one minibatch update.

    Examples
    --------
    >>> SGD(batch_size=4)
    SGD(batch_size=4)
    """

    kind: ClassVar[str] = "sgd"
    _minibatches: ClassVar[bool] = True
    batch_size: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "batch_size", _optional_batch(self.batch_size, "SGD.batch_size"))

    def _batch(self, s: int) -> int | None:
        return _batch_on(self.batch_size, s, "SGD.batch_size")


@dataclass(frozen=True)
class Langevin(Method):
    """Noisy SGD: z ← z − lr_eff·(∇L_batch + λz) + √(2·lr_eff·T)·ξ, ξ ~ N(0, I) each step.

    Parameters
    ----------
    temperature : float >= 0
        T. With T = 0 it is :class:`SGD`, bit for bit.
    batch_size : int >= 1 or None
        As for :class:`SGD` (None: noisy full-batch GD).

    Examples
    --------
    >>> Langevin(temperature=1e-4, batch_size=1)
    Langevin(temperature=0.0001, batch_size=1)
    """

    kind: ClassVar[str] = "langevin"
    _minibatches: ClassVar[bool] = True
    temperature: float = 0.0
    batch_size: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "temperature", as_real(self.temperature, "Langevin.temperature",
                                                        nonnegative=True))
        object.__setattr__(self, "batch_size",
                           _optional_batch(self.batch_size, "Langevin.batch_size"))

    def _batch(self, s: int) -> int | None:
        return _batch_on(self.batch_size, s, "Langevin.batch_size")

    def _temperature(self) -> float:
        return self.temperature


METHODS = tuple(Method._tagged_classes)   # ("gd", "flow", "sgd", "langevin")


# ----------------------------------------------------------------------------- the check
def as_trainable(trainable, parameterization: str, name: str = "trainable") -> tuple[tuple, str]:
    """(flags, names) of the trained parameters: flags over "abc" (full) or "rt"
    (canonical, where "abc" means "rt"), names the trained ones in that order."""
    allowed = "abc" if parameterization == "full" else "rt"
    if not isinstance(trainable, str):
        raise TypeError(f"{name} must be a string such as 'abc' or 'c', got {_short(trainable)}")
    if parameterization == "canonical" and trainable == "abc":
        trainable = "rt"
    if (not trainable or len(set(trainable)) != len(trainable)
            or any(ch not in allowed for ch in trainable)):
        extra = (" (with parameterization='canonical': 'r', 't' for θ, or 'rt'; 'abc' means 'rt')"
                 if parameterization == "canonical" else "")
        raise ValueError(f"{name} must be a non-empty subset of {allowed!r} without "
                         f"repeats{extra}; got {trainable!r}")
    flags = tuple(ch in trainable for ch in allowed)
    return flags, "".join(ch for ch in allowed if ch in trainable)


def _method_error(value, where: str) -> str:
    return (f"{where}method must be one of {', '.join(map(repr, METHODS))} or a method object "
            f"(GD(), Flow(rtol, atol), SGD(batch_size), Langevin(temperature, batch_size)); "
            f"got {_short(value)}")


def resolve_method(method, *, temperature=0.0, batch_size=None, rtol=None, atol=None,
                   s: int | None = None, where: str = "") -> Method:
    """The method object of ``method`` (an object, or a name with the shorthand keywords).

    With a name, ``temperature``, ``batch_size``, ``rtol`` and ``atol`` are its options;
    one that does not apply to the named method is refused (``batch_size`` equal to the
    number of samples s is accepted for every method, as every sample is every method's
    batch). With an object they must be left out. ``s`` (None: unknown) is checked
    against the batch size.
    """
    if isinstance(method, Method):
        if type(method) not in Method._tagged_classes.values():
            raise TypeError(f"{where}method must be one of the registered methods, "
                            f"got {type(method).__name__}")
        given = {"temperature": temperature, "batch_size": batch_size, "rtol": rtol, "atol": atol}
        for name, default in SHORTHAND.items():
            value = given[name]
            number = isinstance(value, (int, float))
            if value is default or (default is not None and number and value == default):
                continue
            owner = {"temperature": "Langevin", "batch_size": "SGD or Langevin",
                     "rtol": "Flow", "atol": "Flow"}[name]
            here = name in set(getattr(type(method), "__dataclass_fields__", {}))
            cls = type(method).__name__
            fix = (f"set it in the object: method={cls}(..., {name}={value!r})" if here
                   else f"{cls} has no {name} (an option of {owner}); leave {name} out")
            raise ValueError(f"{where}{name}={_short(value)} is a keyword of the string shorthand "
                             f"(method='langevin', temperature=...); with method={method!r}, {fix}")
        if s is not None:
            method._batch(s)   # refuses a batch larger than s
        return method
    if not isinstance(method, str):
        raise TypeError(_method_error(method, where))
    if method not in METHODS:
        raise ValueError(_method_error(method, where))
    temperature = as_real(temperature, where + "temperature", nonnegative=True)
    if temperature > 0 and method != "langevin":
        raise ValueError(f"{where}temperature = {temperature} > 0 needs method='langevin' (or "
                         f"method=Langevin(temperature={temperature})); method={method!r} "
                         "has no noise")
    batch_size = _optional_batch(batch_size, where + "batch_size")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and method != "flow":
            raise ValueError(f"{where}{name}={_short(value)} is an error tolerance of "
                             f"method='flow' (or method=Flow({name}=...)); method={method!r} "
                             f"takes none: leave {name} out")
    out: Method
    if method == "flow":
        rtol = Flow.rtol if rtol is None else as_real(rtol, where + "rtol", positive=True)
        atol = Flow.atol if atol is None else as_real(atol, where + "atol", positive=True)
        out = Flow(rtol, atol)
    elif method == "gd":
        out = GD()
    elif method == "sgd":
        out = SGD(batch_size)
    else:
        out = Langevin(temperature, batch_size)
    if batch_size is not None and s is not None:
        _batch_on(batch_size, s, where + "batch_size")
        if not out._minibatches and batch_size != s:
            raise ValueError(f"{where}batch_size = {batch_size} needs method='sgd' or 'langevin'; "
                             f"method={method!r} always uses all {s} samples "
                             "(leave batch_size=None)")
    return out


def check_options(*, method, lr, steps, trainable, weight_decay, temperature, batch_size,
                  record_every, record, seed, parameterization, rtol, atol, loss, lr_scale,
                  tv_penalty, max_snapshots, backend, s: int | None = None,
                  where: str = "") -> dict[str, Any]:
    """Check every option of :func:`relu1d.train` but net, data, progress and on_interrupt.

    Parameters
    ----------
    method, lr, ..., backend
        As :func:`relu1d.train` takes them.
    s : int, optional
        The number of samples (None: not known, as in a spec without its data): checked
        against the batch size.
    where : str
        Prefix of the names in the messages ("training." for a TOML spec).

    Returns
    -------
    dict
        The options normalised (numbers as float or int, ``max_snapshots="all"`` as
        None), plus ``"method_object"``: the resolved :class:`Method`, ``"flags"`` and
        ``"names"``: the trained parameters (see :func:`as_trainable`).

    Raises
    ------
    ValueError, TypeError
        The first option ``train`` would refuse, named with ``where`` and what it accepts.

    Examples
    --------
    Every keyword is required (``train``'s signature holds the defaults):

    >>> import inspect, relu1d as r1
    >>> runtime = ("net", "data", "progress", "on_interrupt")
    >>> options = {name: p.default for name, p in inspect.signature(r1.train).parameters.items()
    ...            if name not in runtime}
    >>> check_options(**{**options, "method": "sgd", "batch_size": 4}, s=10)["method_object"]
    SGD(batch_size=4)
    >>> check_options(**{**options, "steps": -1}, where="training.")
    Traceback (most recent call last):
    ...
    ValueError: training.steps must be >= 0, got -1
    """
    if not isinstance(method, (str, Method)):
        raise TypeError(_method_error(method, where))
    if isinstance(method, str) and method not in METHODS:
        raise ValueError(_method_error(method, where))
    out: dict[str, Any] = {"method": method}
    out["lr"] = as_real(lr, where + "lr", positive=True)
    out["steps"] = steps = as_int(steps, where + "steps", minimum=0)
    out["parameterization"] = as_choice(parameterization, where + "parameterization",
                                        PARAMETERIZATIONS)
    out["flags"], out["names"] = as_trainable(trainable, parameterization, where + "trainable")
    out["trainable"] = trainable
    out["weight_decay"] = as_real(weight_decay, where + "weight_decay", nonnegative=True)
    obj = resolve_method(method, temperature=temperature, batch_size=batch_size, rtol=rtol,
                         atol=atol, s=s, where=where)
    out["method_object"] = obj
    shorthand = isinstance(method, str)   # with an object the keywords are at their defaults
    out["temperature"] = (as_real(temperature, where + "temperature", nonnegative=True)
                          if shorthand else 0.0)
    out["batch_size"] = _optional_batch(batch_size, where + "batch_size") if shorthand else None
    out["rtol"] = None if rtol is None else float(rtol)
    out["atol"] = None if atol is None else float(atol)
    out["loss"] = as_choice(loss, where + "loss", LOSSES)
    out["lr_scale"] = as_choice(lr_scale, where + "lr_scale", LR_SCALES)
    out["tv_penalty"] = tv_penalty = as_real(tv_penalty, where + "tv_penalty", nonnegative=True)
    if tv_penalty > 0 and parameterization != "canonical":
        raise ValueError(f"{where}tv_penalty needs parameterization='canonical': it penalises "
                         "Σᵢ|rᵢ|/m (Williams App. B.2) and is applied as a proximal step on r; in "
                         "full parameters use weight_decay, whose minimum over rescalings "
                         "(a, b, c) ↦ (ka, kb, c/k) is the same penalty up to scale")
    obj._check_with(loss=loss, lr_scale=lr_scale, tv_penalty=tv_penalty, where=where)
    if max_snapshots is None or (isinstance(max_snapshots, str) and max_snapshots == "all"):
        out["max_snapshots"] = None
    elif isinstance(max_snapshots, str):
        raise ValueError(f"{where}max_snapshots must be an integer >= 2, 'all' or None; "
                         f"got {max_snapshots!r}")
    else:
        out["max_snapshots"] = as_int(max_snapshots, where + "max_snapshots", minimum=2)
    out["backend"] = as_choice(backend, where + "backend", BACKENDS)
    as_rng(seed, where + "seed")  # validates; the streams are made per run
    out["seed"] = seed
    out["record_every"] = as_int(record_every, where + "record_every", minimum=1)
    if record is None or isinstance(record, str):
        if record is not None:
            as_choice(record, where + "record", ("log",))
    else:
        arr = as_float_array(record, where + "record")
        if np.any(arr != np.round(arr)) or np.any(arr < 0) or np.any(arr > steps):
            raise ValueError(f"{where}record must be None, 'log' or integer steps in "
                             f"[0, steps={steps}]; got {_short(record)}")
    out["record"] = record
    return out
