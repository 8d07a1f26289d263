"""Results on disk: atomic writes and result directories.

Format: **NetCDF-4** (HDF5, written with ``h5netcdf``). One self-describing file per
result holds the arrays with their named dimensions, coordinates and attributes; it
needs no dependency beyond ``h5netcdf`` (already required), and NetCDF readers exist
everywhere (xarray, netCDF4, ncdump, R, Julia, MATLAB, Panoply). Zarr would mean a
further package and a directory tree of chunk files per result, which buys nothing at
this size (results are megabytes, not terabytes).

Every write goes to a temporary name in the target directory, is flushed to disk and
then renamed onto the final name with :func:`os.replace` (atomic on POSIX), so a crash
never leaves a half-written file under a final name; at worst a ``.NAME.*.tmp`` file
stays behind, which :func:`remove_stale_temporaries` clears.

A result directory ``DIR/NAME/`` holds::

    data.nc        the xarray Dataset; attrs repeat the metadata below as JSON strings
    claims.json    the checked claims (list of objects)
    spec.toml      the resolved spec (re-runnable with ``relu1d train`` for TrainSpec)
    figures/*.png  the figures
    meta.json      name, description, preset, spec, seeds, versions, wall time, status;
                   written first with status "incomplete" and last with the final
                   status, so only ``status: "ok"`` marks a complete record ("error",
                   "interrupted" and "diverged" records say what is missing)

Files are only ever removed from a result directory when a previous ``meta.json``
written by relu1d lists them (:func:`read_record_meta`); a non-empty folder without one
is refused as an output folder unless the user asks otherwise
(:func:`check_output_folder`), and every output path is checked before any computation
(:func:`check_writable_dir`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__: list[str] = []

_TMP_SUFFIX = ".tmp"


def _default_mode() -> int:
    # mkstemp creates files 0600; results are ordinary files, so give the usual umask mode
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_mode()


def atomic_write(path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, fsync it, then rename
    it onto ``path``. On any error (or interrupt) the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries_of(path)
    # the writer's pid in the name: only temporaries of dead processes are ever cleared
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=_TMP_SUFFIX, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # fsync so that the rename never exposes a file whose blocks are not yet on disk
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def write_bytes(path, content: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(content))


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> Path:
    return write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def write_figure(fig, path, dpi: int = 110) -> Path:
    """Save a matplotlib Figure as PNG, atomically."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))


def write_netcdf(ds, path) -> Path:
    """Write an xarray Dataset as NetCDF-4 (h5netcdf), atomically, with attributes made
    storable (see :func:`netcdf_safe`)."""
    safe = netcdf_safe(ds)
    return atomic_write(path, lambda tmp: safe.to_netcdf(tmp, engine="h5netcdf"))


def read_netcdf(path):
    """Read a NetCDF file fully into memory and close it (no file handle stays open,
    so the file can be replaced or removed afterwards)."""
    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def process_identity(pid: int):
    """(state, start time) of a process from /proc (Linux), or None where it is gone or
    /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int, started=None) -> bool:
    """Whether process ``pid`` runs: not gone, not a zombie (killed but not yet reaped by
    its parent) and, where ``started`` is given, still the process that started then
    (not a new one under a reused pid)."""
    if os.path.isdir("/proc/self"):
        identity = process_identity(pid)
        if identity is None or identity[0] in ("Z", "X"):
            return False
        return started is None or identity[1] == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _writer_alive(tmp: Path) -> bool:
    """Whether the process named in a temporary's name (``.NAME.PID.XXXX.tmp``) runs."""
    parts = tmp.name[:-len(_TMP_SUFFIX)].split(".")
    if len(parts) < 4 or not parts[-2].isdigit():
        return False  # an older name without a pid: left by a dead writer or by nobody
    pid = int(parts[-2])
    if pid == os.getpid():
        # ours: being written right now (never our own leftovers: they are removed on error)
        return True
    return pid_alive(pid)


def _remove_stale_temporaries_of(path: Path) -> int:
    """Remove the temporaries that writers of ``path`` killed mid-write (``kill -9``, a
    power cut) left beside it: only names of :func:`atomic_write`'s exact form
    ``.NAME.PID.XXXXXXXX.tmp`` for this NAME, whose PID no longer runs."""
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.(\d+)\.[A-Za-z0-9_]{{8}}{re.escape(_TMP_SUFFIX)}"
    )
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            match = pattern.fullmatch(entry.name)
            if match is None:
                continue
            pid = int(match.group(1))
            if pid == os.getpid() or pid_alive(pid):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                count += 1
    return count


def remove_stale_temporaries(directory) -> int:
    """Remove ``.*.tmp`` files that interrupted writers left in ``directory`` (those whose
    writer process no longer runs; a live process's temporaries are never touched);
    return how many."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    count = 0
    for tmp in directory.glob(f".*{_TMP_SUFFIX}"):
        if _writer_alive(tmp):
            continue
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count


def check_writable_dir(path, what: str = "--out") -> Path:
    """Make sure ``path`` is, or can be made, a folder we can write in, before any
    computation: create it (with its parents) and a temporary file in it.

    Raises
    ------
    ValueError
        One line naming the path and what is wrong (an existing file, a read-only or
        missing parent, no permission, ...).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {str(path)!r} is an existing file, not a folder; choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"{what} {str(path)!r}: cannot create the folder ({exc.strerror or exc})"
        ) from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".relu1d-write-test.", suffix=_TMP_SUFFIX, dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(
            f"{what} {str(path)!r}: cannot write in this folder ({exc.strerror or exc})"
        ) from None
    return path


def check_writable_file(path, what: str = "output", overwrite: bool = False) -> Path:
    """Make sure a single output file ``path`` can be written: not a folder, not an
    existing file unless ``overwrite``, its folder creatable and writable."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise ValueError(f"{what} {str(path)!r} already exists; pass --overwrite to replace it")
    check_writable_dir(path.parent if str(path.parent) else Path("."), what=f"the folder of {what}")
    return path


def read_record_meta(directory) -> dict | None:
    """The ``meta.json`` relu1d wrote in ``directory`` (any status), or None when there is
    none or it is not one of ours (not a JSON object with ``status`` and
    ``relu1d_version``)."""
    path = Path(directory) / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or "status" not in meta or "relu1d_version" not in meta:
        return None
    return meta


def check_output_folder(directory, overwrite: bool = False, what: str = "--out") -> dict | None:
    """Refuse to write a result record into a non-empty folder that does not already
    hold one (unless ``overwrite``); return the previous record's metadata, if any."""
    directory = Path(directory)
    previous = read_record_meta(directory)
    if previous is None and not overwrite and directory.is_dir() and any(directory.iterdir()):
        raise ValueError(
            f"{what} {str(directory)!r} is not empty and holds no relu1d record (no meta.json "
            f"written by relu1d); choose an empty or new folder, or pass --overwrite to write "
            f"into it (files relu1d did not write are kept)"
        )
    return previous


def to_jsonable(obj) -> Any:
    """Plain JSON values from dataclasses, numpy scalars and arrays, tuples, paths."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        # JSON has no NaN/inf; keep them readable instead of producing invalid JSON
        return value if math.isfinite(value) else repr(value)
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def _safe_attr(value):
    """A value NetCDF can store as an attribute: str, number or 1-d numeric array."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.ndim == 1:
        return value
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return np.asarray(value)
    return json.dumps(to_jsonable(value))


def netcdf_safe(ds):
    """A shallow copy of ``ds`` whose attributes (of the Dataset and of every variable)
    are storable in NetCDF: booleans become 0/1, dicts, None and mixed lists become
    JSON strings."""
    out = ds.copy(deep=False)
    out.attrs = {str(k): _safe_attr(v) for k, v in ds.attrs.items()}
    for name in out.variables:
        out[name].attrs = {str(k): _safe_attr(v) for k, v in ds[name].attrs.items()}
    return out


def environment() -> dict:
    """Versions and host facts stored with every result."""
    import numpy
    import scipy
    import xarray

    from . import __version__

    return {"relu1d_version": __version__, "relu1d_source_sha256": source_fingerprint(),
            "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "xarray": xarray.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count()}


@functools.cache
def source_fingerprint() -> str:
    """SHA-256 over the relu1d package's ``.py`` files (relative path and contents, in
    sorted order): two results with the same fingerprint were computed by the same code,
    which the version number alone does not tell during development. ``relu1d
    reproduce`` resumes only over records with the current fingerprint. Computed once
    per process (the code a process runs is the code it imported)."""
    import hashlib

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
