"""Deferred imports of heavy modules (scipy.stats: about 0.5 s), so that importing a
module that merely *may* need them (``relu1d list`` imports every experiment) stays
cheap."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

__all__ = ["lazy_module", "hide_unused_dask", "unhide_dask"]


class _LazyModule(types.ModuleType):
    """Stands for the module ``name`` and imports it on the first attribute access."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_lazy_target"] = None

    def _load(self) -> types.ModuleType:
        target = self.__dict__["_lazy_target"]
        if target is None:
            target = importlib.import_module(self.__name__)
            self.__dict__["_lazy_target"] = target
        return target

    def __getattr__(self, attr: str):
        # only reached for names not set on the proxy itself
        return getattr(self._load(), attr)

    def __dir__(self) -> list[str]:
        return dir(self._load())

    def __repr__(self) -> str:
        state = "loaded" if self.__dict__["_lazy_target"] is not None else "not yet imported"
        return f"<lazy module {self.__name__!r} ({state})>"


def lazy_module(name: str) -> types.ModuleType:
    """A stand-in for ``importlib.import_module(name)`` that imports on first use.

    Parameters
    ----------
    name : str
        Absolute module name, e.g. ``"scipy.stats"``.

    Returns
    -------
    types.ModuleType
        A proxy whose attributes are those of the real module (``stats.kstest``), which
        is imported (once) when the first attribute is read. Unlike
        ``importlib.util.LazyLoader`` it leaves ``sys.modules`` alone.
    """
    if not isinstance(name, str) or not name or name.startswith("."):
        raise ValueError(f"name must be an absolute module name, got {name!r}")
    if importlib.util.find_spec(name.partition(".")[0]) is None:
        raise ModuleNotFoundError(f"no module named {name.partition('.')[0]!r}", name=name)
    return _LazyModule(name)


def hide_unused_dask() -> None:
    """Make ``import dask`` fail in this process, unless dask is already imported.

    xarray imports ``dask.array`` when it builds its first variable and
    ``dask.distributed`` on every NetCDF write whenever dask is installed, 0.5-0.6 s
    together, though no relu1d array is ever a dask array. Of the commands only a
    sweep on a Dask cluster uses dask, so the command line calls this
    (:func:`unhide_dask` undoes it for that sweep). A process that already imported
    dask keeps it. The library never calls this, nor do the workers of a local sweep,
    whose point functions may be a user's: a user's own dask stays usable.
    """
    if "dask" not in sys.modules:
        sys.modules["dask"] = None  # type: ignore[assignment]  # the import system's "absent"


def unhide_dask() -> None:
    """Undo :func:`hide_unused_dask` (before running a sweep on a Dask cluster)."""
    if "dask" in sys.modules and sys.modules["dask"] is None:
        del sys.modules["dask"]
