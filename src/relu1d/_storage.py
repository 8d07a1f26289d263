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
                   written last, so its presence marks a complete record
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__: list[str] = []

_TMP_SUFFIX = ".tmp"


def _default_mode() -> int:
    # mkstemp creates files 0600; results are ordinary files, so give the usual umask mode
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_mode()


def atomic_write(path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, fsync it, then rename
    it onto ``path``. On any error (or interrupt) the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent)
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


def remove_stale_temporaries(directory) -> int:
    """Remove ``.*.tmp`` files an interrupted writer left in ``directory``; return how many."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    count = 0
    for tmp in directory.glob(f".*{_TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count


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

    return {"relu1d_version": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__, "xarray": xarray.__version__,
            "platform": platform.platform(), "cpu_count": os.cpu_count()}


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
