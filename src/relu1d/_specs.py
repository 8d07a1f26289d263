"""Specs: frozen dataclasses holding every setting of a run, and their TOML form.

A spec maps onto TOML one to one: a field is a key, a nested spec is a table.
:func:`spec_from_dict` refuses unknown keys, wrong types and out-of-range values with
the key's dotted name and what is accepted; :func:`spec_to_toml` writes a spec back so
that ``spec_from_dict(cls, tomllib.loads(spec_to_toml(s))) == s``. TOML has no null:
a field whose value is ``None`` is left out and so takes its default on reading.

:class:`TrainSpec` is the spec of one training run (``relu1d train``): a network
initialisation (:func:`relu1d.init_network`), a data set and the options of
:func:`relu1d.train`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from ._validation import as_choice, as_int, as_real

__all__ = ["TrainSpec", "InitSpec", "DataSpec", "OptimSpec", "spec_from_dict", "spec_to_dict",
           "spec_to_toml", "load_spec", "spec_keys", "spec_replace", "spec_seeds", "spec_json"]

_BUILTIN_DATA = ("square_wave", "sinusoid", "random")
_METHODS = ("gd", "flow", "sgd", "langevin")
_PARAMETERIZATIONS = ("full", "canonical")
_ALPHAS = ("one", "sqrt", "m")


# --------------------------------------------------------------------------- TrainSpec
def _set(spec, name: str, value) -> None:
    """Store the validated (normalised: 5.0 -> 5 for an int field) value in a frozen spec,
    so that equal settings give equal specs."""
    object.__setattr__(spec, name, value)


@dataclass(frozen=True)
class InitSpec:
    """Network initialisation, the arguments of :func:`relu1d.init_network` (TOML table
    ``[init]``)."""

    m: int = 100
    scheme: str = "uniform"
    alpha: str | float = "sqrt"
    ab_scale: float = 1.0
    c_scale: float = 1.0
    seed: int = 0
    delta: float | None = None
    antisymmetric: bool = False
    balance: str | float | None = None

    def __post_init__(self):
        from .init import BALANCE_RATIOS, SCHEMES

        _set(self, "m", as_int(self.m, "init.m", minimum=1))
        as_choice(self.scheme, "init.scheme", SCHEMES)
        alpha_error = ValueError(f"init.alpha must be one of 'one', 'sqrt', 'm' or a number > 0; "
                                 f"got {self.alpha!r}")
        if isinstance(self.alpha, str):
            if self.alpha not in _ALPHAS:
                raise alpha_error
        else:
            try:
                _set(self, "alpha", as_real(self.alpha, "init.alpha", positive=True))
            except (TypeError, ValueError):
                raise alpha_error from None
        _set(self, "ab_scale", as_real(self.ab_scale, "init.ab_scale", nonnegative=True))
        _set(self, "c_scale", as_real(self.c_scale, "init.c_scale", nonnegative=True))
        _set(self, "seed", as_int(self.seed, "init.seed", minimum=0))
        if self.delta is not None:
            _set(self, "delta", as_real(self.delta, "init.delta"))
        if not isinstance(self.antisymmetric, bool):
            raise TypeError(f"init.antisymmetric must be true or false; got {self.antisymmetric!r}")
        if self.antisymmetric and self.m % 2:
            raise ValueError(f"init.antisymmetric pairs neuron i with i + m/2, so init.m must be even; "
                             f"got {self.m} (use {self.m - 1} or {self.m + 1})")
        if self.balance is not None:
            if isinstance(self.balance, str):
                as_choice(self.balance, "init.balance", tuple(BALANCE_RATIOS))
            else:
                try:
                    _set(self, "balance", as_real(self.balance, "init.balance", positive=True))
                except (TypeError, ValueError):
                    raise ValueError(f"init.balance must be one of {', '.join(map(repr, BALANCE_RATIOS))} or "
                                     f"a ratio |c|/‖(a, b)‖ > 0; got {self.balance!r}") from None
            if self.delta is not None:
                raise ValueError("give init.delta or init.balance, not both (balance = κ sets "
                                 "δᵢ = (κ − 1/κ)·|cᵢ|·‖(aᵢ, bᵢ)‖ per neuron)")
            if self.c_scale == 0:
                raise ValueError("init.balance needs init.c_scale > 0 (it keeps |cᵢ|·‖(aᵢ, bᵢ)‖)")

    def network(self):
        """The initial :class:`relu1d.Network`."""
        from .init import init_network

        return init_network(self.m, scheme=self.scheme, alpha=self.alpha, ab_scale=self.ab_scale,
                            c_scale=self.c_scale, seed=self.seed, delta=self.delta,
                            antisymmetric=self.antisymmetric, balance=self.balance)


@dataclass(frozen=True)
class DataSpec:
    """Training data (TOML table ``[data]``): ``name`` is a built-in target
    (square_wave, sinusoid, random; ``s`` samples from ``seed``) or the path of a CSV
    file with columns x,y (``s`` and ``seed`` are then unused)."""

    name: str = "square_wave"
    s: int = 10
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.name, str) or not (self.name in _BUILTIN_DATA
                                                  or self.name.lower().endswith(".csv")):
            raise ValueError(f"data.name must be one of {', '.join(map(repr, _BUILTIN_DATA))} or the "
                             f"path of a .csv file with columns x,y; got {self.name!r}")
        _set(self, "s", as_int(self.s, "data.s", minimum=1))
        _set(self, "seed", as_int(self.seed, "data.seed", minimum=0))

    def absolute(self, base_dir) -> "DataSpec":
        """This spec with a relative CSV path taken from ``base_dir`` and made absolute,
        so that a stored spec re-runs from anywhere (built-in targets are unchanged)."""
        if self.name in _BUILTIN_DATA or Path(self.name).is_absolute():
            return self
        return dataclasses.replace(self, name=str((Path(base_dir) / self.name).resolve()))

    def dataset(self, base_dir=None):
        """The :class:`relu1d.Dataset`; a relative CSV path is taken from ``base_dir``."""
        from . import data

        if self.name in _BUILTIN_DATA:
            return getattr(data, self.name)(self.s, seed=self.seed)
        path = Path(self.name)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        return data.Dataset.from_csv(path)


@dataclass(frozen=True)
class OptimSpec:
    """Options of :func:`relu1d.train` (TOML table ``[training]``)."""

    method: str = "gd"
    lr: float = 1e-3
    steps: int = 10_000
    trainable: str = "abc"
    weight_decay: float = 0.0
    temperature: float = 0.0
    batch_size: int | None = None
    record_every: int = 100
    seed: int = 0
    parameterization: str = "full"

    def __post_init__(self):
        as_choice(self.method, "training.method", _METHODS)
        _set(self, "lr", as_real(self.lr, "training.lr", positive=True))
        _set(self, "steps", as_int(self.steps, "training.steps", minimum=1))
        if (not isinstance(self.trainable, str) or not self.trainable
                or set(self.trainable) - set("abc") or len(set(self.trainable)) != len(self.trainable)):
            raise ValueError(f"training.trainable must be a non-empty subset of 'abc' without repeats "
                             f"(e.g. 'abc', 'c', 'ab'); got {self.trainable!r}")
        _set(self, "weight_decay", as_real(self.weight_decay, "training.weight_decay", nonnegative=True))
        _set(self, "temperature", as_real(self.temperature, "training.temperature", nonnegative=True))
        if self.batch_size is not None:
            _set(self, "batch_size", as_int(self.batch_size, "training.batch_size", minimum=1))
        _set(self, "record_every", as_int(self.record_every, "training.record_every", minimum=1))
        _set(self, "seed", as_int(self.seed, "training.seed", minimum=0))
        as_choice(self.parameterization, "training.parameterization", _PARAMETERIZATIONS)

    def kwargs(self) -> dict:
        """Keyword arguments of :func:`relu1d.train`."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class TrainSpec:
    """One training run: ``[init]``, ``[data]`` and ``[training]`` tables.

    Examples
    --------
    >>> spec = spec_from_dict(TrainSpec, {"init": {"m": 50}, "training": {"lr": 0.01}})
    >>> spec.init.m, spec.training.lr, spec.data.name
    (50, 0.01, 'square_wave')
    """

    init: InitSpec = field(default_factory=InitSpec)
    data: DataSpec = field(default_factory=DataSpec)
    training: OptimSpec = field(default_factory=OptimSpec)

    def __post_init__(self):
        for name, cls in (("init", InitSpec), ("data", DataSpec), ("training", OptimSpec)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")


# --------------------------------------------------------------------------- dict <-> spec
def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"a list of {_type_name(args[0]) if args else 'values'}"
    if tp is type(None):
        return "nothing (leave the key out)"
    if dataclasses.is_dataclass(tp):
        return f"a table ({tp.__name__})"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


class _Mismatch(Exception):
    pass


def _convert(value, tp, key: str):
    """``value`` as type ``tp`` or raise _Mismatch (TypeError is raised by the caller
    with the key and the accepted type)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _convert(value, arg, key)
            except _Mismatch:
                continue
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise _Mismatch
    if origin in (tuple, list) or tp in (tuple, list):
        # TOML has only arrays: a list read back into a tuple field (bare ``tuple``,
        # ``tuple[int, ...]``), nested lists into nested tuples, so that
        # spec_from_dict(spec_to_dict(s)) == s
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        items = [_convert(v, args[0], key) if args else _frozen(v) for v in value]
        return tuple(items) if (origin or tp) is tuple else items
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, dict):
            return spec_from_dict(tp, value, _prefix=key + ".")
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch
    return value  # an annotation this module does not interpret: the spec's own checks decide


def _frozen(value):
    """Nested lists as nested tuples (the items of an unparameterised tuple field)."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _hints(cls) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # annotations naming things not importable here: check nothing by type
        return {f.name: Any for f in dataclasses.fields(cls)}


def spec_from_dict(cls, mapping, *, _prefix: str = ""):
    """Build the frozen dataclass ``cls`` from a (TOML) mapping.

    Missing keys take the field's default; nested dataclass fields take tables.

    Raises
    ------
    ValueError
        For an unknown key (naming the accepted ones), a missing key without default,
        or an out-of-range value (the spec's own checks, naming the key).
    TypeError
        For a value of the wrong type, naming the key and the accepted type.
    """
    if not dataclasses.is_dataclass(cls) or not isinstance(cls, type):
        raise TypeError(f"cls must be a dataclass type, got {cls!r}")
    where = f"[{_prefix[:-1]}]" if _prefix else "the top level"
    if not isinstance(mapping, dict):
        raise TypeError(f"{_prefix[:-1] or 'spec'} must be a table of keys, got {type(mapping).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in mapping if k not in fields]
    if unknown:
        raise ValueError(f"unknown key {_prefix + unknown[0]!r} in {where}; accepted keys: "
                         f"{', '.join(fields)}")
    hints = _hints(cls)
    kwargs = {}
    for name, f in fields.items():
        key = _prefix + name
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"missing key {key!r} in {where} (it has no default)")
            continue
        tp = hints.get(name, Any)
        try:
            kwargs[name] = _convert(mapping[name], tp, key)
        except _Mismatch:
            raise TypeError(f"{key} must be {_type_name(tp)}; got {mapping[name]!r} "
                            f"({type(mapping[name]).__name__})") from None
    return cls(**kwargs)


def spec_to_dict(spec) -> dict:
    """Nested dict of plain values (tuples as lists); ``None`` fields kept as None."""
    if not dataclasses.is_dataclass(spec) or isinstance(spec, type):
        raise TypeError(f"spec must be a dataclass instance, got {type(spec).__name__}")
    out = {}
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = spec_to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def spec_json(spec) -> str:
    """Canonical JSON of a spec (sorted keys): its identity for checkpoints."""
    from ._storage import to_jsonable

    return json.dumps(to_jsonable(spec_to_dict(spec)), sort_keys=True, separators=(",", ":"))


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def _toml_value(value, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest round-tripping form, always with '.' or 'e'
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, key) for v in value if v is not None) + "]"
    raise TypeError(f"{key}: cannot write {value!r} ({type(value).__name__}) to TOML")


def _toml_lines(table: dict, path: list[str]) -> list[str]:
    lines, subtables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        elif value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value, '.'.join(path + [key]))}")
    for key, value in subtables:
        lines += ["", "[" + ".".join(_toml_key(k) for k in path + [key]) + "]"]
        lines += _toml_lines(value, path + [key])
    return lines


def spec_to_toml(spec_or_dict, header: str = "") -> str:
    """TOML text of a spec (or of a nested dict of plain values); ``None`` left out."""
    table = spec_or_dict if isinstance(spec_or_dict, dict) else spec_to_dict(spec_or_dict)
    lines = [f"# {line}" for line in header.splitlines()] if header else []
    body = _toml_lines(table, [])
    while body and body[0] == "":
        body.pop(0)
    return "\n".join(lines + body) + "\n"


def load_toml(path) -> dict:
    """Parse a TOML file, with the file name in the error."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {str(path)!r} does not exist")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid TOML: {exc}") from None


def load_spec(cls, path):
    """Read a spec of type ``cls`` from a TOML file."""
    return spec_from_dict(cls, load_toml(path))


# --------------------------------------------------------------------------- dotted keys
def spec_keys(spec) -> list[str]:
    """Dotted names of every leaf field ("init.m", "training.lr", ...)."""
    keys = []
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            keys += [f"{f.name}.{k}" for k in spec_keys(value)]
        else:
            keys.append(f.name)
    return keys


def spec_replace(spec, changes: dict):
    """A copy of ``spec`` with dotted keys replaced, each value checked as in
    :func:`spec_from_dict` (so errors name the key)."""
    table = spec_to_dict(spec)
    known = spec_keys(spec)
    for key, value in changes.items():
        if key not in known:
            raise ValueError(f"unknown key {key!r} for {type(spec).__name__}; accepted: {', '.join(known)}")
        node = table
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return spec_from_dict(type(spec), table)


def spec_seeds(spec) -> dict:
    """Every field whose name contains 'seed', by dotted key."""
    table = spec_to_dict(spec)
    out = {}
    for key in spec_keys(spec):
        if "seed" in key.rsplit(".", 1)[-1]:
            node = table
            for p in key.split("."):
                node = node[p]
            out[key] = node
    return out
