"""Validation at the public boundary: every message names the argument, the value and
what would be accepted."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

__all__: list[str] = []


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_float_array(value, name: str, *, ndim: int | None = 1, min_size: int = 0,
                   finite: bool = True) -> np.ndarray:
    """Convert ``value`` to a float64 array, refusing strings, booleans, complex
    numbers, wrong dimensions and (by default) NaN or inf."""
    # a torch tensor, without importing torch
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, got the string {_short(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(
            f"{name} must be an array of real numbers, got {_short(value)}: {exc}"
        ) from None
    if arr.dtype == object or arr.dtype.kind not in "fiu":
        if arr.dtype.kind == "b":
            raise TypeError(
                f"{name} must hold real numbers, got booleans; convert with .astype(float) if meant"
            )
        raise TypeError(
            f"{name} must be an array of real numbers, got dtype {arr.dtype} ({_short(value)})"
        )
    arr = arr.astype(np.float64, copy=True)
    if ndim is not None and arr.ndim != ndim:
        if ndim == 1 and arr.ndim == 0:
            arr = arr.reshape(1)
        else:
            raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s), got {arr.size}")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))
        raise ValueError(f"{name} must be finite; entry {int(bad[0])} is {arr.ravel()[bad[0]]} "
                         f"({bad.size} non-finite value(s) in all)")
    return arr


def as_real(value, name: str, *, positive: bool = False, nonnegative: bool = False,
            allow_inf: bool = False) -> float:
    """A real scalar, optionally > 0 or >= 0."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(
            f"{name} must be a real number, got {_short(value)} of type {type(value).__name__}"
        )
    out = float(value)
    if np.isnan(out) or (np.isinf(out) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {out}")
    if positive and not out > 0:
        raise ValueError(f"{name} must be > 0, got {out}")
    if nonnegative and not out >= 0:
        raise ValueError(f"{name} must be >= 0, got {out}")
    return out


def as_int(value, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(
                f"{name} must be an integer, got {_short(value)} of type {type(value).__name__}"
            )
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    return out


def as_choice(value, name: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {_short(value)}"
        )
    return value


def as_rng(seed, name: str = "seed") -> np.random.Generator:
    """An int seed or a numpy Generator (used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int or a numpy.random.Generator, got {_short(seed)}")
    if int(seed) < 0:
        raise ValueError(f"{name} must be a non-negative int, got {int(seed)}")
    return np.random.default_rng(int(seed))


def check_network_and_data(net, data, *, data_optional: bool = False) -> None:
    """Refuse anything but a relu1d.Network and a relu1d.Dataset (or None when
    ``data_optional``), naming the argument and how to build the right thing."""
    from .data import Dataset  # imported here: data.py and network.py import this module
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a relu1d.Network, got {type(net).__name__}; "
                        "build one with relu1d.Network(a, b, c, alpha) or relu1d.init_network(m)")
    if data is None and data_optional:
        return
    if not isinstance(data, Dataset):
        accepted = "a relu1d.Dataset or None" if data_optional else "a relu1d.Dataset"
        raise TypeError(
            f"data must be {accepted}, got {type(data).__name__}; "
            "build one with relu1d.Dataset(x, y)"
        )
