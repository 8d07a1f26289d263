"""Say once on stderr that relu1d's numba kernels are being compiled.

The kernels are compiled on their first call and cached on disk (``cache=True``), so
only the first run after installing relu1d (or after its kernels change) pays the
10–20 s of compilation. Without a word that pause looks like a hang; :func:`install`
registers a numba event listener that prints one line the first time numba actually
compiles (numba's "numba:compile" event fires on a cache miss only, never when a
kernel is loaded from the cache) a function of relu1d.
"""

from __future__ import annotations

import sys

from numba.core import event as _event

__all__ = ["MESSAGE", "install"]

MESSAGE = "relu1d: compiling kernels (once per install, 10-30 s; cached afterwards) ..."

_state = {"installed": False, "announced": False}


class _Notice(_event.Listener):
    """Prints :data:`MESSAGE` at the first compilation of a relu1d function."""

    def on_start(self, event):
        if _state["announced"]:
            return
        dispatcher = (event.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
        if module.split(".")[0] != "relu1d":
            return
        _state["announced"] = True
        print(MESSAGE, file=sys.stderr, flush=True)

    def on_end(self, event):
        pass


def install() -> None:
    """Register the listener (once per process; later calls do nothing)."""
    if not _state["installed"]:
        _event.register("numba:compile", _Notice())
        _state["installed"] = True
