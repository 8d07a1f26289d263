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
from typing import Any, Literal, Union, cast

import numpy as np

from ._validation import as_choice, as_int, as_real
from .train import Method

__all__ = ["TrainSpec", "InitSpec", "DataSpec", "OptimSpec", "spec_from_dict", "spec_to_dict",
           "spec_to_toml", "load_spec", "spec_keys", "spec_replace", "spec_seeds", "spec_json"]

_BUILTIN_DATA = ("square_wave", "sinusoid", "random")
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
            raise ValueError(f"init.antisymmetric pairs neuron i with i + m/2, so init.m must be "
                             f"even; got {self.m} (use {self.m - 1} or {self.m + 1})")
        if self.balance is not None:
            if isinstance(self.balance, str):
                as_choice(self.balance, "init.balance", tuple(BALANCE_RATIOS))
            else:
                try:
                    _set(self, "balance", as_real(self.balance, "init.balance", positive=True))
                except (TypeError, ValueError):
                    ratios = ", ".join(map(repr, BALANCE_RATIOS))
                    raise ValueError(f"init.balance must be one of {ratios} or "
                                     f"a ratio |c|/‖(a, b)‖ > 0; got {self.balance!r}") from None
            if self.delta is not None:
                raise ValueError("give init.delta or init.balance, not both (balance = κ sets "
                                 "δᵢ = (κ − 1/κ)·|cᵢ|·‖(aᵢ, bᵢ)‖ per neuron)")
            for scale in ("c_scale", "ab_scale"):
                if getattr(self, scale) == 0:
                    raise ValueError(f"init.balance needs init.{scale} > 0 (it keeps "
                                     "|cᵢ|·‖(aᵢ, bᵢ)‖)")

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
            builtin = ", ".join(map(repr, _BUILTIN_DATA))
            raise ValueError(f"data.name must be one of {builtin} or the "
                             f"path of a .csv file with columns x,y; got {self.name!r}")
        _set(self, "s", as_int(self.s, "data.s", minimum=1))
        _set(self, "seed", as_int(self.seed, "data.seed", minimum=0))

    def absolute(self, base_dir) -> DataSpec:
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


def _since_0_2(default):
    """A field added after 0.1: left out of :func:`spec_to_dict` (and so of the TOML file
    and of :func:`spec_json`, the identity of a point or a stored result) while it holds
    its default, so that the specs of 0.1 keep their identity."""
    return field(default=default, metadata={"omit_default": True})


@dataclass(frozen=True)
class OptimSpec:
    """Options of :func:`relu1d.train` (TOML table ``[training]``).

    One field per option of ``train`` except the runtime switches ``progress`` and
    ``on_interrupt``, with ``train``'s defaults, checked by the check ``train`` itself
    runs (:func:`relu1d.train.check_options`): a spec holds exactly what ``train``
    accepts. Two forms differ from ``train``'s: ``seed`` is an integer (a Generator
    cannot be written to a file), and ``max_snapshots = "all"`` stands for None (TOML has
    no null). ``record`` is "log" or a list of steps.

    ``method`` is a name (``method = "langevin"`` with ``temperature`` and
    ``batch_size`` in ``[training]``, the form of 0.1) or a method table::

        [training.method]
        kind = "langevin"      # or "gd", "flow" (rtol, atol), "sgd" (batch_size)
        temperature = 1e-4
        batch_size = 1

    Examples
    --------
    >>> from relu1d.train import Flow
    >>> spec = OptimSpec(method=Flow(rtol=1e-10), steps=0)
    >>> spec.kwargs()["method"], spec.method_name
    (Flow(rtol=1e-10, atol=1e-10), 'flow')
    """

    method: str | Method = "gd"
    lr: float = 1e-3
    steps: int = 10_000
    trainable: str = "abc"
    weight_decay: float = 0.0
    temperature: float = 0.0
    batch_size: int | None = None
    record_every: int = 100
    seed: int = 0
    parameterization: str = "full"
    record: str | tuple[int, ...] | None = _since_0_2(None)
    rtol: float | None = _since_0_2(None)
    atol: float | None = _since_0_2(None)
    loss: str = _since_0_2("sum")
    lr_scale: str = _since_0_2("none")
    tv_penalty: float = _since_0_2(0.0)
    max_snapshots: int | str = _since_0_2(100)
    backend: str = _since_0_2("numba")

    def __post_init__(self):
        from .train import check_options

        if isinstance(self.seed, np.random.Generator):
            raise TypeError("training.seed must be an integer in a spec (a Generator cannot be "
                            "written to a file)")
        values = check_options(**self.kwargs(), where="training.")
        for name in ("lr", "steps", "weight_decay", "temperature", "batch_size", "record_every",
                     "rtol", "atol", "tv_penalty"):
            _set(self, name, values[name])
        _set(self, "seed", int(self.seed))
        if self.max_snapshots is None:
            _set(self, "max_snapshots", "all")
        elif values["max_snapshots"] is not None:
            _set(self, "max_snapshots", values["max_snapshots"])
        if self.record is not None and not isinstance(self.record, str):
            _set(self, "record", tuple(int(v) for v in np.ravel(self.record)))

    @property
    def method_name(self) -> str:
        """The method's name: "gd", "flow", "sgd" or "langevin"."""
        return self.method if isinstance(self.method, str) else self.method.kind

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
                got = type(getattr(self, name)).__name__
                raise TypeError(f"{name} must be a {cls.__name__}, got {got}")
        if self.data.name in _BUILTIN_DATA:  # the number of samples is known: check the batch size
            from .train import check_options

            check_options(**self.training.kwargs(), s=self.data.s, where="training.")


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
    tags = _tags(tp)
    if tags is not None:
        return f"a table with kind = {' or '.join(json.dumps(k) for k in tags)}"
    if dataclasses.is_dataclass(tp):
        return f"a table ({getattr(tp, '__name__', tp)})"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


class _Mismatch(Exception):
    pass


def _tags(tp) -> dict | None:
    """{kind: class} of a tagged base class (a class with ``_tagged_classes``, such as
    relu1d.train.Method), written in TOML as a table with a ``kind`` key; else None."""
    return getattr(tp, "_tagged_classes", None) if isinstance(tp, type) else None


def _from_tagged_table(tp, value: dict, key: str):
    kinds = {k: c for k, c in (_tags(tp) or {}).items() if issubclass(c, tp)}
    accepted = " or ".join(json.dumps(k) for k in kinds)
    kind = value.get("kind")
    if kind not in kinds:
        what = "needs a key kind" if "kind" not in value else f"has kind = {kind!r}"
        raise ValueError(f"[{key}] {what}; accepted: kind = {accepted}")
    rest = {k: v for k, v in value.items() if k != "kind"}
    try:
        return spec_from_dict(kinds[kind], rest, _prefix=key + ".")
    except (ValueError, TypeError) as exc:
        if key in str(exc):
            raise
        raise type(exc)(f"[{key}] {exc}") from None


def _convert(value, tp, key: str):
    """``value`` as type ``tp`` or raise _Mismatch (TypeError is raised by the caller
    with the key and the accepted type)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if _tags(tp) is not None:
        if isinstance(value, tp):
            return value
        if isinstance(value, dict):
            return _from_tagged_table(tp, value, key)
        raise _Mismatch
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
        if isinstance(tp, type) and isinstance(value, tp):
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
        raise TypeError(f"{_prefix[:-1] or 'spec'} must be a table of keys, "
                        f"got {type(mapping).__name__}")
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
    """Nested dict of plain values (tuples as lists); ``None`` fields kept as None.

    A field marked ``metadata={"omit_default": True}`` (one added after 0.1) is left out
    while it holds its default; a tagged object (a method) is a table with its ``kind``.
    """
    if not dataclasses.is_dataclass(spec) or isinstance(spec, type):
        raise TypeError(f"spec must be a dataclass instance, got {type(spec).__name__}")
    out = {}
    if _tags(type(spec)) is not None:
        out["kind"] = cast(Any, spec).kind
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if f.metadata.get("omit_default") and _same(value, f.default):
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = spec_to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def _same(value, default) -> bool:
    return type(value) is type(default) and value == default


def spec_json(spec) -> str:
    """Canonical JSON of a spec (sorted keys): its identity for checkpoints."""
    from ._storage import to_jsonable

    return json.dumps(to_jsonable(spec_to_dict(spec)), sort_keys=True, separators=(",", ":"))


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


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
    """Dotted names of every leaf field ("init.m", "training.lr", ...); a tagged object
    (``training.method`` holding a method object) is a key itself and has keys for its
    fields ("training.method", "training.method.temperature")."""
    keys = []
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if _tags(type(value)) is not None:
                keys.append(f.name)
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
            raise ValueError(f"unknown key {key!r} for {type(spec).__name__}; "
                             f"accepted: {', '.join(known)}")
        node = table
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return spec_from_dict(type(spec), table)


def spec_seeds(spec) -> dict:
    """Every field whose name contains 'seed', by dotted key."""
    out = {}
    for key in spec_keys(spec):
        if "seed" in key.rsplit(".", 1)[-1]:
            node = spec
            for p in key.split("."):
                node = getattr(node, p)
            out[key] = node
    return out
