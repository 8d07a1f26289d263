"""Running registered experiments, storing their results, and the HTML report.

:func:`reproduce` runs experiments of the registry (:mod:`relu1d.experiments`) and writes,
for each, a result directory ``DIR/NAME/`` (layout in :mod:`relu1d._storage`: NetCDF
data, PNG figures, claims, the resolved spec, seeds, versions and wall time), then
``DIR/report.html``: one self-contained page (CSS inline, figures embedded as base64
PNG, no server, no request leaving the page) with a summary table at the top and, per
experiment, its description, claims table, figures, spec and wall time. Experiments that
train networks (``ExperimentResult.runs``) also store each run as ``runs/NAME.nc`` and its
interactive viewer (:mod:`relu1d.viewer`) as ``views/NAME.html``, embedded in the report,
which then holds plotly.js once; a report without runs has no script. Each claim shows its verdict
(holds, contradicted, setting-dependent, inconclusive; one colour each, counted in the
summary, explained by a one-line legend) with its evidence; a claim that does not hold is
listed in the summary by id, never hidden.

:func:`train_to_directory` does the same for one training run (``relu1d train``).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from . import _storage
from ._specs import spec_json, spec_seeds, spec_to_dict, spec_to_toml
from .experiments import VERDICTS, verdict_counts

__all__ = [
    "reproduce",
    "run_experiment",
    "save_result",
    "load_record",
    "complete_record",
    "write_report",
    "render_html",
    "train_to_directory",
    "ReproduceInterrupted",
    "QUICK_BUDGET_S",
    "STATUSES",
]

QUICK_BUDGET_S = 300.0
"""Wall-time budget of ``relu1d reproduce --all --quick`` (seconds, on 2 cores)."""


# --------------------------------------------------------------------------- storing
STATUSES = "ok", "error", "interrupted", "diverged", "incomplete"
"""``meta.json`` statuses: only "ok" is a complete record. "error": the experiment raised;
"interrupted": Ctrl-C stopped it; "diverged": a training run became non-finite (the
partial trajectory is kept); "incomplete": saving did not finish."""


def _figure_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "figure"


def _own_figures(previous: dict | None) -> set[str]:
    """The figure files (``figures/NAME.png``) a previous relu1d record lists: the only
    ones a new record may remove."""
    if not previous:
        return set()
    files = set()
    entries = list(previous.get("figures") or []) + list(previous.get("stale_figures") or [])
    entries += [
        e.get(key)
        for e in previous.get("views") or []
        if isinstance(e, dict)
        for key in ("file", "run")
    ]
    for entry in entries:
        file = entry.get("file") if isinstance(entry, dict) else entry
        if (
            isinstance(file, str)
            and ".." not in file
            and (
                re.fullmatch(r"figures/[A-Za-z0-9_.-]+\.png", file)
                or re.fullmatch(r"views/[A-Za-z0-9_.-]+\.html", file)
                or re.fullmatch(r"runs/[A-Za-z0-9_.-]+\.nc", file)
            )
        ):
            files.add(file)
    return files


def _run_files(runs: dict) -> list[dict]:
    """The files of each run of a result: ``views/STEM.html`` (its viewer, a fragment
    embedded in the report) and ``runs/STEM.nc`` (its trajectory and samples, for
    ``relu1d view``), or ``data.nc`` where the record's data is the trajectory."""
    entries, used = [], set()
    for name, run in runs.items():
        stem = _figure_filename(str(name))
        while stem in used:
            stem += "_"
        used.add(stem)
        entries.append({"name": str(name), "file": f"views/{stem}.html",
                        "run": f"runs/{stem}.nc" if run.store else "data.nc"})
    return entries


def _save_runs(directory: Path, name: str, runs: dict, entries: list[dict]) -> None:
    """Write each run's trajectory file and viewer fragment (see :func:`_run_files`); a
    viewer that cannot be built is recorded with its error instead of failing the record."""
    import numpy as np

    from . import viewer

    for entry, run in zip(entries, runs.values()):
        if run.store:
            ds = run.trajectory.to_xarray()
            if run.data is not None:
                ds = ds.assign(
                    data_x=("sample", np.asarray(run.data.x)),
                    data_y=("sample", np.asarray(run.data.y)),
                )
            _storage.write_netcdf(ds, directory / entry["run"])
        try:
            figure = viewer.viewer_figure(
                run.trajectory, run.data, references=run.references, title=entry["name"]
            )
            _storage.write_text(
                directory / entry["file"],
                viewer.viewer_fragment(figure, name=f"{name}-{Path(entry['file']).stem}"),
            )
        except Exception as exc:  # the record stays complete without its viewer
            entry["error"] = f"{type(exc).__name__}: {exc}"
            (directory / entry["file"]).unlink(missing_ok=True)


def save_result(directory, result, *, name: str, description: str, spec, preset: str,
                wall_time_s: float, started_utc: str | None = None, status: str = "ok",
                spec_header: str | None = None, **extra) -> dict:
    """Write an :class:`~relu1d.experiments.ExperimentResult` to ``directory``.

    Parameters
    ----------
    directory : path
        Created if missing; a previous record there is replaced. Of the files already
        there, only those a previous relu1d record (its ``meta.json``) lists are
        removed when the new record does not write them; anything else is kept.
    result : ExperimentResult
    name, description : str
    spec : frozen dataclass
        The resolved spec the result was computed from.
    preset : str
        "quick", "full" or "custom".
    wall_time_s : float
        Seconds the run took.
    status : str
        "ok" for a complete result; "interrupted" or "diverged" for a partial one
        (see :data:`STATUSES`).
    spec_header : str, optional
        The first comment line of ``spec.toml``.
    **extra
        Further entries of ``meta.json`` (e.g. ``error``, ``steps_done``).

    Returns
    -------
    dict
        The metadata written to ``meta.json``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from dataclasses import dataclass
    >>> import xarray as xr
    >>> from relu1d import report
    >>> from relu1d.experiments import Claim, ExperimentResult
    >>> @dataclass(frozen=True)
    ... class Spec:
    ...     n: int = 3
    >>> result = ExperimentResult(xr.Dataset({"n": ((), 3)}), {},
    ...                           (Claim.close("n_is_3", "n is 3", "nowhere", 3.0, 3.0, 0.0),))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     meta = report.save_result(pathlib.Path(tmp) / "toy", result, name="toy",
    ...                               description="a toy", spec=Spec(), preset="custom",
    ...                               wall_time_s=0.1)
    ...     files = sorted(p.name for p in (pathlib.Path(tmp) / "toy").iterdir())
    >>> meta["status"], meta["n_claims"], files
    ('ok', 1, ['claims.json', 'data.nc', 'meta.json', 'spec.toml'])
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    t_save = time.perf_counter()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / "meta.json"
    previous = _storage.read_record_meta(directory)
    old_figures = _own_figures(previous)
    _storage.remove_stale_temporaries(directory)

    figure_files = []
    used = set()
    for fig_name in result.figures:
        stem = _figure_filename(str(fig_name))
        while stem in used:
            stem += "_"
        used.add(stem)
        figure_files.append({"name": str(fig_name), "file": f"figures/{stem}.png"})
    run_files = _run_files(getattr(result, "runs", None) or {})
    written = {f["file"] for f in figure_files} | {
        r[k] for r in run_files for k in ("file", "run") if r[k] != "data.nc"
    }
    env = _storage.environment()
    common = dict(
        name=name,
        description=description,
        spec=spec,
        preset=preset,
        wall_time_s=wall_time_s,
        started_utc=started_utc or _storage.utc_now(),
        env=env,
    )
    # a half-replaced record must not look complete: first a meta.json saying "incomplete"
    # (listing every figure file it may leave, so that the next save can clean them), the
    # final one last
    _storage.write_json(meta_path, _meta(
        "incomplete", claims=[], figures=[], stale_figures=sorted(old_figures | written),
        error="saving this record did not finish; run it again", **common))
    for entry, fig in zip(figure_files, result.figures.values()):
        _storage.write_figure(fig, directory / entry["file"])
    if run_files:
        _save_runs(directory, name, result.runs, run_files)
    for stale in sorted(old_figures - written):
        (directory / stale).unlink(missing_ok=True)
    for folder in {Path(stale).parent for stale in old_figures - written} - {Path(".")}:
        with contextlib.suppress(OSError):  # only while empty: a user's file there stays
            (directory / folder).rmdir()

    claims = [{**_storage.to_jsonable(c), "holds": c.holds} for c in result.claims]
    meta = _meta(status, claims=claims, figures=figure_files, **common, **extra)
    if run_files:
        meta["views"] = run_files
    if result.data is not None:
        ds = result.data.copy(deep=False)
        ds.attrs = dict(ds.attrs)
        ds.attrs.update({
            "experiment": name, "description": description, "preset": preset, "status": status,
            "spec_json": spec_json(spec), "seeds_json": json.dumps(meta["seeds"]),
            "claims_json": json.dumps(claims), "wall_time_s": float(wall_time_s),
            "created_utc": meta["finished_utc"], **env,
        })
        _storage.write_netcdf(ds, directory / "data.nc")
        meta["data_file"] = "data.nc"
    elif previous and previous.get("data_file") == "data.nc":
        (directory / "data.nc").unlink(missing_ok=True)
    _storage.write_json(directory / "claims.json", claims)
    try:
        _storage.write_text(directory / "spec.toml", spec_to_toml(
            spec, header=spec_header or f"{name} ({preset}): resolved {type(spec).__name__}"))
    except TypeError:  # a spec field TOML cannot hold: the JSON copy in meta.json is complete
        pass
    meta["save_time_s"] = time.perf_counter() - t_save
    _storage.write_json(meta_path, meta)
    return meta


def _meta(
    status: str,
    *,
    name,
    description,
    spec,
    preset,
    wall_time_s,
    started_utc,
    claims,
    figures,
    env,
    **extra,
) -> dict:
    """The contents of ``meta.json`` (``extra``: the traceback of a failed run, ...)."""
    return {"name": name, "description": description, "preset": preset, "status": status,
            "spec_type": type(spec).__name__, "spec": _storage.to_jsonable(spec_to_dict(spec)),
            "seeds": _storage.to_jsonable(spec_seeds(spec)), "wall_time_s": float(wall_time_s),
            "started_utc": started_utc, "finished_utc": _storage.utc_now(), "claims": claims,
            "n_claims": len(claims), "n_hold": sum(c["verdict"] == "holds" for c in claims),
            "verdicts": verdict_counts(c["verdict"] for c in claims), "figures": figures,
            "data_file": None, **extra, **env}


def _save_failed(
    directory, status: str, *, name, description, spec, preset, wall_time_s, started_utc, error
) -> dict:
    """A record without results (status "error" or "interrupted"): ``meta.json`` only; the
    data and claims of a previous record are removed, its figure files listed as stale."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    previous = _storage.read_record_meta(directory)
    meta = _meta(
        status,
        name=name,
        description=description,
        spec=spec,
        preset=preset,
        wall_time_s=wall_time_s,
        started_utc=started_utc,
        claims=[],
        figures=[],
        env=_storage.environment(),
        error=error,
        stale_figures=sorted(_own_figures(previous)),
    )
    if previous is not None:
        for stale in ("data.nc", "claims.json"):
            (directory / stale).unlink(missing_ok=True)
    _storage.write_json(directory / "meta.json", meta)
    return meta


def load_record(directory) -> dict:
    """The metadata of a result directory (``meta.json``), with ``path`` added.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from dataclasses import dataclass
    >>> import xarray as xr
    >>> from relu1d import report
    >>> from relu1d.experiments import Claim, ExperimentResult
    >>> @dataclass(frozen=True)
    ... class Spec:
    ...     n: int = 3
    >>> result = ExperimentResult(xr.Dataset({"n": ((), 3)}), {},
    ...                           (Claim.close("n_is_3", "n is 3", "nowhere", 3.0, 3.0, 0.0),))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = report.save_result(pathlib.Path(tmp) / "toy", result, name="toy",
    ...                            description="a toy", spec=Spec(), preset="custom",
    ...                            wall_time_s=0.1)
    ...     record = report.load_record(pathlib.Path(tmp) / "toy")
    >>> record["name"], record["verdicts"]["holds"], record["path"].endswith("toy")
    ('toy', 1, True)
    """
    directory = Path(directory)
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise ValueError(f"{str(directory)!r} is not a complete result directory (no meta.json)")
    meta = json.loads(meta_path.read_text())
    meta["path"] = str(directory)
    return meta


def complete_record(directory, spec, preset: str) -> dict | None:
    """The record in ``directory`` if it is complete (status "ok", every file it lists
    present) and was computed from ``spec`` with ``preset`` by the current code (same
    :func:`relu1d._storage.source_fingerprint`); else None.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from dataclasses import dataclass
    >>> import xarray as xr
    >>> from relu1d import report
    >>> from relu1d.experiments import Claim, ExperimentResult
    >>> @dataclass(frozen=True)
    ... class Spec:
    ...     n: int = 3
    >>> result = ExperimentResult(xr.Dataset({"n": ((), 3)}), {},
    ...                           (Claim.close("n_is_3", "n is 3", "nowhere", 3.0, 3.0, 0.0),))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = report.save_result(pathlib.Path(tmp) / "toy", result, name="toy",
    ...                            description="a toy", spec=Spec(), preset="custom",
    ...                            wall_time_s=0.1)
    ...     same = report.complete_record(pathlib.Path(tmp) / "toy", Spec(), "custom")
    ...     other = report.complete_record(pathlib.Path(tmp) / "toy", Spec(n=4), "custom")
    >>> same["name"], other                   # another spec: the record is not reused
    ('toy', None)
    """
    directory = Path(directory)
    meta = _storage.read_record_meta(directory)
    if meta is None or meta.get("status") != "ok":
        return None
    if meta.get("relu1d_source_sha256") != _storage.source_fingerprint():
        return None  # computed by other code: a change may have changed the result
    wanted = json.loads(json.dumps(_storage.to_jsonable(spec_to_dict(spec))))
    if (
        meta.get("preset") != preset
        or meta.get("spec_type") != type(spec).__name__
        or meta.get("spec") != wanted
    ):
        return None
    files = [f.get("file") for f in meta.get("figures") or []] + [
        meta.get("data_file"),
        "claims.json",
    ]
    files += [
        v.get(key) for v in meta.get("views") or [] if not v.get("error") for key in ("file", "run")
    ]
    if not all(isinstance(f, str) and (directory / f).is_file() for f in files if f is not None):
        return None
    meta["path"] = str(directory)
    return meta


# --------------------------------------------------------------------------- running
class ReproduceInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`reproduce`; a KeyboardInterrupt, so it is not absorbed by
    ``except Exception``.

    Attributes
    ----------
    records : list of dict
        The records finished in this call or skipped as complete, in order.
    total : int
        How many experiments were asked for.
    interrupted : str or None
        The experiment that was running (recorded with status "interrupted" unless a
        complete record of it was already there), or None.
    """

    def __init__(self, records: list[dict], total: int, interrupted: str | None):
        self.records, self.total, self.interrupted = records, total, interrupted
        done = len(records)
        super().__init__(
            f"interrupted{f' during {interrupted}' if interrupted else ''}: {done} of {total} "
            f"experiment(s) done; rerun to resume"
        )


def run_experiment(name: str, out, *, preset: str = "quick", spec=None) -> dict:
    """Run one registered experiment and save it to ``out/NAME``.

    Parameters
    ----------
    name : str
        A registered name (``relu1d list``).
    out : path
        The results directory.
    preset : {"quick", "full"}
        Which preset spec to run (ignored when ``spec`` is given).
    spec : frozen dataclass, optional
        A custom spec of the experiment's type (the record says preset "custom").

    Returns
    -------
    dict
        The record's metadata; ``status`` is "error" (with the traceback in ``error``)
        when the experiment raised; the exception is not propagated, so that one
        failing experiment does not stop the others.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C is never absorbed: every :func:`relu1d.train` inside the experiment runs
        under ``interrupt_policy("raise")``, so a truncated training cannot end up in a
        record. The directory then gets a ``meta.json`` with status "interrupted",
        unless it already held a complete record, which is kept as it was.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from relu1d import report
    >>> with tempfile.TemporaryDirectory() as out:
    ...     record = report.run_experiment("williams2019.lemma3", out)
    ...     files = sorted(p.name for p in (pathlib.Path(out) / "williams2019.lemma3").iterdir())
    >>> record["status"], record["verdicts"]["holds"] == record["n_claims"]
    ('ok', True)
    >>> [name for name in files if "." in name]
    ['claims.json', 'data.nc', 'meta.json', 'spec.toml']
    """
    from .experiments import get
    from .train import interrupt_policy

    exp = get(name)
    if spec is None:
        spec = exp.preset(preset)
    elif not isinstance(spec, exp.spec_type):
        raise TypeError(
            f"spec must be a {exp.spec_type.__name__} for {name!r}, got {type(spec).__name__}"
        )
    else:
        preset = "custom"
    directory = Path(out) / name
    started = _storage.utc_now()
    t0 = time.perf_counter()
    common = dict(
        name=name, description=exp.description, spec=spec, preset=preset, started_utc=started
    )
    try:
        try:
            with interrupt_policy("raise"):
                result = exp.run(spec)
        except Exception:
            return _save_failed(directory, "error", wall_time_s=time.perf_counter() - t0,
                                error=traceback.format_exc(), **common)
        wall = time.perf_counter() - t0
        return save_result(directory, result, wall_time_s=wall, **common)
    except KeyboardInterrupt:
        previous = _storage.read_record_meta(directory)
        if previous is None or previous.get("status") != "ok":
            _save_failed(
                directory,
                "interrupted",
                wall_time_s=time.perf_counter() - t0,
                error="interrupted by KeyboardInterrupt (Ctrl-C) after "
                f"{time.perf_counter() - t0:.1f} s; no result was kept; run it again",
                **common,
            )
        raise


def reproduce(names=None, out="results", *, preset: str = "quick", progress: bool = True,
              echo=None, force: bool = False) -> list[dict]:
    """Run experiments and write their result directories and ``out/report.html``.

    Parameters
    ----------
    names : list of str, optional
        Registered names; all of them when None.
    out : path
        Checked for writing (created if missing) before anything runs.
    preset : {"quick", "full"}
    progress : bool
        A progress bar over the experiments on stderr.
    echo : callable, optional
        Called with one line of text per finished or skipped experiment.
    force : bool
        Recompute every experiment. Otherwise an experiment whose directory already
        holds a complete record (status "ok") of the same spec and preset is skipped
        (:func:`complete_record`): a rerun resumes an interrupted reproduction.

    Returns
    -------
    list of dict
        The records, in order (see :func:`run_experiment`); those skipped carry
        ``skipped=True``.

    Raises
    ------
    ReproduceInterrupted
        On Ctrl-C, promptly (a training inside stops within one chunk of steps): every
        record finished before stays, the running experiment is not recorded as
        complete, the report is written for what is there.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from relu1d import report
    >>> with tempfile.TemporaryDirectory() as out:
    ...     records = report.reproduce(["williams2019.lemma3"], out, progress=False)
    ...     again = report.reproduce(["williams2019.lemma3"], out, progress=False)  # reused
    ...     files = sorted(path.name for path in pathlib.Path(out).iterdir())
    >>> [r["status"] for r in records], files
    (['ok'], ['report.html', 'williams2019.lemma3'])
    >>> again[0]["finished_utc"] == records[0]["finished_utc"]
    True
    """
    from tqdm.auto import tqdm

    from .experiments import get
    from .experiments import names as all_names

    if preset not in ("quick", "full"):
        raise ValueError(f"preset must be 'quick' or 'full', got {preset!r}")
    todo = list(all_names() if names is None else names)
    experiments = [get(name) for name in todo]  # unknown names fail before anything runs
    out = _storage.check_writable_dir(out)
    for name in todo:
        if (out / name).exists():
            _storage.check_writable_dir(out / name, what="result folder")
    records = []
    current = None
    bar = tqdm(
        todo, desc=f"reproduce ({preset})", unit="exp", file=sys.stderr, disable=not progress
    )
    try:
        for name, exp in zip(bar, experiments):
            bar.set_postfix_str(name)
            if not force:
                done = complete_record(out / name, exp.preset(preset), preset)
                if done is not None:
                    records.append({**done, "skipped": True})
                    if echo is not None:
                        echo(_summary_line(records[-1]))
                    continue
            current = name
            meta = run_experiment(name, out, preset=preset)
            current = None
            meta["path"] = str(out / name)
            records.append(meta)
            if echo is not None:
                echo(_summary_line(meta))
            # after each one, so an interrupted run still has a report
            write_report(out, views=False)
    except KeyboardInterrupt as exc:
        bar.close()
        write_report(out)
        raise ReproduceInterrupted(records, len(todo), current) from exc
    bar.close()
    write_report(out)
    return records


def _summary_line(meta: dict) -> str:
    if meta.get("skipped"):
        return (f"{meta['name']:<34} skipped  (complete record of {meta['finished_utc']}; "
                "--force to recompute)")
    if meta["status"] != "ok":
        return (f"{meta['name']:<34} ERROR    {meta['wall_time_s']:8.1f} s  "
                f"({meta['error'].strip().splitlines()[-1]})")
    counts = verdict_counts(c["verdict"] for c in meta["claims"])
    others = ", ".join(f"{n} {v}" for v, n in counts.items() if n and v != "holds")
    verdict = f"{meta['n_hold']}/{meta['n_claims']} claims hold" + (
        f"  ({others})" if others else ""
    )
    return f"{meta['name']:<34} ok       {meta['wall_time_s']:8.1f} s  {verdict}"


# --------------------------------------------------------------------------- training run
def train_to_directory(
    spec, out, *, base_dir=None, progress: bool = True, overwrite: bool = False,
    figures: bool = True,
) -> dict:
    """Run one :class:`~relu1d._specs.TrainSpec` and write a result directory at ``out``
    (data.nc = the trajectory, figures function/particles/loss, the interactive viewer
    views/train.html, spec.toml, meta.json) and ``out/report.html``.

    ``figures=False`` leaves out the figures and the viewer: drawing them imports
    matplotlib, scipy and Plotly, about half of the 3 s that a run of 100 steps takes
    (``relu1d view`` and ``relu1d animate`` draw them later from data.nc).

    ``base_dir`` resolves a relative CSV path in ``spec.data.name`` (the TOML's folder).

    ``out`` is checked before training: it must be creatable and writable, and either
    empty, new, or a previous relu1d record (which is replaced; of its files only
    those relu1d wrote are removed), unless ``overwrite`` (files relu1d did not write
    are kept even then).

    A run stopped by Ctrl-C is written as a partial record with status "interrupted",
    one that diverged (:class:`relu1d.TrainingDiverged`) with status "diverged" and its
    finite part; both say ``steps_done`` of ``steps_planned`` in ``meta.json`` and in
    the first line of ``spec.toml``. The returned metadata tells which.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from relu1d import report, sweep
    >>> spec = sweep.TrainSpec(init=sweep.InitSpec(m=5), data=sweep.DataSpec(s=4),
    ...                        training=sweep.OptimSpec(steps=50, lr=0.01, record_every=10))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     record = report.train_to_directory(spec, pathlib.Path(tmp) / "run", progress=False)
    >>> record["status"], record["steps_done"], [f["name"] for f in record["figures"]]
    ('ok', 50, ['function', 'particles', 'loss'])
    """
    import numpy as np

    from .experiments import ExperimentResult
    from .train import TrainingDiverged, TrainingInterrupted, Trajectory, train

    out = _storage.check_writable_dir(out)
    _storage.check_output_folder(out, overwrite=overwrite)
    started = _storage.utc_now()
    t0 = time.perf_counter()
    net0 = spec.init.network()
    data = spec.data.dataset(base_dir)
    extra: dict[str, Any] = {"steps_planned": int(spec.training.steps)}
    traj: Trajectory | None
    try:
        traj, status = (
            train(net0, data, progress=progress, on_interrupt="raise", **spec.training.kwargs()),
            "ok",
        )
    except TrainingInterrupted as exc:
        traj, status = exc.trajectory, "interrupted"
    except TrainingDiverged as exc:
        traj, status = exc.trajectory, "diverged"
        extra.update(
            diverged_at_step=int(exc.step), last_finite_loss=float(exc.last_loss), lr=float(exc.lr)
        )
    assert traj is not None  # train() attaches the partial trajectory to both errors
    wall = time.perf_counter() - t0
    done = int(traj.steps[-1])
    extra["steps_done"] = done
    header = None
    if status != "ok":
        what = (
            "interrupted by Ctrl-C"
            if status == "interrupted"
            else f"diverged at step {extra['diverged_at_step']} "
            f"(last finite loss {extra['last_finite_loss']:.6g})"
        )
        extra["error"] = (f"training {what}: this record is PARTIAL, it holds steps 0 to {done} of "
                          f"{spec.training.steps}")
        header = (f"relu1d train, PARTIAL record (status {status}): steps 0 to {done} of the "
                  f"{spec.training.steps} below")

    ds = traj.to_xarray()
    ds = ds.assign(data_x=("sample", np.asarray(data.x)), data_y=("sample", np.asarray(data.y)))
    if figures:
        from .experiments import Run

        result = ExperimentResult(data=ds, figures=_train_figures(spec, traj, net0, data, status),
                                  claims=(), runs={"train": Run(traj, data, store=False)})
    else:
        result = ExperimentResult(data=ds, figures={}, claims=())
    description = (
        f"relu1d train: m={spec.init.m} ({spec.init.scheme}, alpha={spec.init.alpha}), "
        f"data {spec.data.name}, {spec.training.method_name} for {spec.training.steps} steps"
        + ("" if status == "ok" else f" ({status}: partial, steps 0 to {done})")
    )
    meta = save_result(
        out,
        result,
        name="train",
        description=description,
        spec=spec,
        preset="custom",
        wall_time_s=wall,
        started_utc=started,
        status=status,
        spec_header=header,
        **extra,
    )
    write_report(out, records=[Path(out)], title="relu1d train")
    return meta


def _train_figures(spec, traj, net0, data, status: str) -> dict:
    """The figures of a ``relu1d train`` record: f beside the initial function, the
    particles, and the loss."""
    import numpy as np

    from .plot import new_figure, plot_function, plot_particles

    done = int(traj.steps[-1])
    figures = {}
    fig = plot_function(traj.network, data, label="trained $f(x)$")
    ax = fig.axes[0]
    x_lo, x_hi = ax.get_xlim()
    xs = np.linspace(x_lo, x_hi, 1000)
    ax.plot(xs, net0(xs), ls="--", lw=1.0, color="0.5", label="initial")
    ax.legend(loc="best", fontsize="small")
    figures["function"] = fig
    figures["particles"] = plot_particles(traj.network, data)
    fig, axes = new_figure(1, 1)
    ax = axes[0, 0]
    loss = np.asarray(traj.loss, dtype=float)
    x_axis = np.asarray(
        traj.times if spec.training.method_name == "flow" else traj.steps, dtype=float
    )
    positive = loss > 0
    # a diverging run: matplotlib's log axis overflows
    if positive.any() and loss[positive].max() > 1e100:
        ax.plot(x_axis[positive], np.log10(loss[positive]))
        ax.set_ylabel("log10 loss")
    else:
        ax.semilogy(x_axis[positive], loss[positive]) if positive.any() else ax.plot(x_axis, loss)
        ax.set_ylabel("loss")
    ax.set_xlabel("time t" if spec.training.method_name == "flow" else "step")
    ax.set_title(f"{spec.training.method_name}, lr={spec.training.lr:g}, m={spec.init.m}"
                 + ("" if status == "ok" else f" ({status} at step {done})"))
    figures["loss"] = fig
    return figures


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1150px;padding:0 1em;color:#1b1b1b;line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:2.2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .55em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td{background:#fde2e2}tr.ok td.verdict{color:#106b21;font-weight:600}
tr.fail td.verdict,.bad{color:#a40000;font-weight:700}.good{color:#106b21;font-weight:600}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6em;overflow-x:auto;font-size:.85em}
.meta{color:#555;font-size:.9em}
tr.v-contradicted td{background:#fde2e2}tr.v-setting-dependent td{background:#fff1d6}
tr.v-inconclusive td{background:#ececec}
.v-holds:not(tr){color:#106b21;font-weight:600}.v-contradicted:not(tr){color:#a40000;font-weight:700}
.v-setting-dependent:not(tr){color:#8a5300;font-weight:700}.v-inconclusive:not(tr){color:#4a4a4a;font-weight:700}
.legend span{margin-right:1.2em}
"""

_LEGEND = {
    "holds": "reproduced within the stated tolerance",
    "contradicted": "fails robustly (certified end state, several seeds, every plausible reading)",
    "setting-dependent": "fails in our reconstruction, but depends on what the paper leaves open",
    "inconclusive": "the measurement cannot discriminate",
}


def _legend() -> str:
    return ("<p class='legend meta'>" + "".join(
        f"<span><b class='v-{v}'>{v}</b>: {_esc(_LEGEND[v])}</span>" for v in VERDICTS) + "</p>")


def _counts_html(counts: dict) -> str:
    return " · ".join(
        f"<span class='v-{v}'>{counts.get(v, 0)} {'hold' if v == 'holds' else v}</span>"
        for v in VERDICTS
    )


def _evidence_html(c: dict) -> str:
    """Seeds, interval, readings, certificate and mechanism of a claim (empty for a bare one)."""
    parts = []
    if c.get("seeds"):
        parts.append(f"seeds: {c['seeds']}")
    if c.get("interval"):
        lo, hi = c["interval"]
        parts.append(f"interval: [{_fmt_number(lo)}, {_fmt_number(hi)}]")
    for r in c.get("readings") or []:
        mark = "" if r.get("holds") is None else (" ✓" if r["holds"] else " ✗")
        parts.append(f"reading {_esc(r['setting'])}: {_fmt_number(r['value'])}{mark}")
    for key in ("certificate", "mechanism"):
        if c.get(key):
            parts.append(f"{key}: {_esc(c[key])}")
    return "<br>".join(parts)


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt_number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _esc(value)
    return f"{value:.6g}"


def _claims_table(claims: list[dict]) -> str:
    if not claims:
        return "<p class='meta'>No claims checked by this run.</p>"
    rows = [
        "<table class='claims'><tr><th>id</th><th>claim</th><th>paper reference</th>"
        "<th>measured</th><th>predicted</th><th>tolerance</th><th>verdict</th>"
        "<th>note and evidence</th></tr>"
    ]
    for c in claims:
        v = c["verdict"]
        evidence = _evidence_html(c)
        note = _esc(c.get("note", "")) + (
            ("<br>" if c.get("note") else "") + evidence if evidence else ""
        )
        rows.append(
            f"<tr class='v-{v}'><td><code>{_esc(c['id'])}</code></td>"
            f"<td>{_esc(c['statement'])}</td>"
            f"<td>{_esc(c['reference'])}</td>"
            f"<td class='num'>{_fmt_number(c['measured'])}</td><td>{_esc(c['predicted'])}</td>"
            f"<td>{_esc(c['tolerance'])}</td><td class='verdict v-{v}'>{v}</td><td>{note}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _anchor(name: str) -> str:
    return "exp-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name)


def _section(meta: dict, views: bool = True) -> str:
    directory = Path(meta["path"])
    parts = [
        f"<section id='{_anchor(meta['name'])}'><h2>{_esc(meta['name'])}</h2>",
        f"<p>{_esc(meta['description'])}</p>",
        f"<p class='meta'>preset <b>{_esc(meta['preset'])}</b> · wall time "
        f"<b>{meta['wall_time_s']:.1f} s</b> (+{meta.get('save_time_s', 0.0):.1f} s saving) · "
        f"finished {_esc(meta['finished_utc'])} · "
        f"relu1d {_esc(meta.get('relu1d_version', '?'))} · "
        f"seeds {_esc(json.dumps(meta['seeds']))}</p>",
    ]
    status = meta["status"]
    if status in ("error", "incomplete"):
        parts.append(
            "<p class='bad'>The experiment raised an error; no results.</p>"
            if status == "error"
            else "<p class='bad'>Saving this record did not finish; no results.</p>"
        )
        parts.append(f"<pre>{_esc(meta.get('error', ''))}</pre></section>")
        return "\n".join(parts)
    if status != "ok":  # interrupted or diverged: a partial record, shown for what it holds
        parts.append(
            f"<p class='bad'>Partial record (status {_esc(status)}): what was computed before the "
            f"run stopped; not a complete result.</p>"
        )
        if meta.get("error"):
            parts.append(f"<pre>{_esc(meta['error'])}</pre>")
    parts.append("<h3>Claims</h3>" + _claims_table(meta["claims"]))
    if meta["figures"]:
        parts.append("<h3>Figures</h3>")
    for fig in meta["figures"]:
        path = directory / fig["file"]
        if path.is_file():
            encoded = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(
                f"<figure><img src='data:image/png;base64,{encoded}' alt='{_esc(fig['name'])}'>"
                f"<figcaption>{_esc(fig['name'])} ({_esc(fig['file'])})</figcaption></figure>"
            )
        else:
            parts.append(f"<p class='bad'>figure file {_esc(fig['file'])} is missing</p>")
    if views:
        parts.extend(_views_html(meta))
    elif meta.get("views"):
        parts.append(
            f"<p class='meta'>{len(meta['views'])} interactive viewer(s) in views/: "
            "embedded in this page when the reproduction finishes</p>"
        )
    spec_text = (directory / "spec.toml").read_text() if (directory / "spec.toml").is_file() \
        else json.dumps(meta["spec"], indent=2)
    parts.append(f"<h3>Spec ({_esc(meta['spec_type'])})</h3><pre>{_esc(spec_text)}</pre>")
    parts.append(
        f"<p class='meta'>data: {_esc(meta['data_file'] or 'none')} in {_esc(directory.name)}/</p>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _views_html(meta: dict) -> list[str]:
    """The interactive viewers of a record (fragments written by :func:`_save_runs`)."""
    views = meta.get("views") or []
    if not views:
        return []
    directory = Path(meta["path"])
    parts = ["<h3>Interactive viewers</h3>"]
    for view in views:
        parts.append(
            f"<h4>{_esc(view['name'])}</h4><p class='meta'>trajectory: {_esc(view['run'])} "
            f"(a page of its own: <code>relu1d view {_esc(directory.name)}/{_esc(view['run'])} "
            f"--out view.html</code>)</p>"
        )
        path = directory / view["file"]
        if view.get("error"):
            parts.append(f"<p class='bad'>the viewer could not be built: {_esc(view['error'])}</p>")
        elif path.is_file():
            parts.append(path.read_text(encoding="utf-8"))
        else:
            parts.append(f"<p class='bad'>viewer file {_esc(view['file'])} is missing</p>")
    return parts


def _has_views(records: list[dict]) -> bool:
    return any(not v.get("error") and (Path(r["path"]) / v["file"]).is_file()
               for r in records if "path" in r for v in r.get("views") or [])


def render_html(
    records: list[dict], title: str = "relu1d reproduction report", *, views: bool = True
) -> str:
    """The report page for the given records (``load_record`` dicts), as a string; with
    ``views``, the records' interactive viewers are embedded (and plotly.js once).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from dataclasses import dataclass
    >>> import xarray as xr
    >>> from relu1d import report
    >>> from relu1d.experiments import Claim, ExperimentResult
    >>> @dataclass(frozen=True)
    ... class Spec:
    ...     n: int = 3
    >>> result = ExperimentResult(xr.Dataset({"n": ((), 3)}), {},
    ...                           (Claim.close("n_is_3", "n is 3", "nowhere", 3.0, 3.0, 0.0),))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = report.save_result(pathlib.Path(tmp) / "toy", result, name="toy",
    ...                            description="a toy", spec=Spec(), preset="custom",
    ...                            wall_time_s=0.1)
    ...     record = report.load_record(pathlib.Path(tmp) / "toy")
    >>> html = report.render_html([record], title="Toy")
    >>> html.startswith("<!DOCTYPE html>"), "<title>Toy</title>" in html
    (True, True)
    """
    running = sum(r["wall_time_s"] for r in records)
    saving = sum(r.get("save_time_s", 0.0) for r in records)
    total = running + saving
    n_claims = sum(r["n_claims"] for r in records)
    counts = verdict_counts(c["verdict"] for r in records for c in r["claims"])
    errors = [r for r in records if r["status"] in ("error", "incomplete")]
    partial = [r for r in records if r["status"] in ("interrupted", "diverged")]
    presets = sorted({r["preset"] for r in records})
    rows = [
        "<table class='summary'><tr><th>experiment</th><th>preset</th><th>status</th>"
        "<th>claims hold</th><th>claims that do not hold (verdict: id)</th>"
        "<th>wall time (s)</th></tr>"
    ]
    for r in records:
        failing = [(c["verdict"], c["id"]) for c in r["claims"] if c["verdict"] != "holds"]
        bad = r["status"] != "ok" or failing
        rows.append(
            f"<tr class='{'fail' if bad else 'ok'}'>"
            f"<td><a href='#{_anchor(r['name'])}'>{_esc(r['name'])}</a></td>"
            f"<td>{_esc(r['preset'])}</td><td class='{'bad' if r['status'] != 'ok' else 'good'}'>"
            f"{_esc(r['status'])}</td><td class='num'>{r['n_hold']}/{r['n_claims']}</td>"
            "<td>"
            f"{'<br>'.join(f'<span class=v-{v}>{v}</span>: <code>{_esc(i)}</code>' for v, i in failing)}"  # noqa: E501
            "</td>"
            f"<td class='num'>{r['wall_time_s']:.1f}</td></tr>"
        )
    rows.append("</table>")
    budget = ""
    if presets == ["quick"]:
        within = total <= QUICK_BUDGET_S
        budget = (
            f" · quick budget {QUICK_BUDGET_S:.0f} s: <span class='{'good' if within else 'bad'}'>"
            f"{'within' if within else 'EXCEEDED'}</span>"
        )
    env = records[0] if records else {}
    summary = (
        f"<p><b>{len(records)}</b> experiment(s) · <b>{n_claims}</b> claims: "
        f"<b class='counts'>{_counts_html(counts)}</b>"
        + (f" · <span class='bad'>{len(errors)} experiment(s) failed</span>" if errors else "")
        + (f" · <span class='bad'>{len(partial)} partial record(s)</span>" if partial else "")
        + f" · total wall time <b>{total:.1f} s</b> (running {running:.1f} s, saving "
        f"{saving:.1f} s){budget}</p>"
        + _legend()
        + f"<p class='meta'>relu1d {_esc(env.get('relu1d_version', '?'))} · "
        f"Python {_esc(env.get('python', '?'))}"
        f" · numpy {_esc(env.get('numpy', '?'))} · {_esc(env.get('platform', '?'))}, "
        f"{_esc(env.get('cpu_count', '?'))} CPUs · generated {_esc(_storage.utc_now())}</p>"
    )
    body = "\n".join(_section(r, views) for r in records)
    script = ""
    if views and _has_views(records):  # plotly.js once for every viewer of the page
        from .viewer import plotly_script

        script = plotly_script()
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        f"<style>{_CSS}</style>{script}</head><body>\n<h1>{_esc(title)}</h1>\n<h2>Summary</h2>\n{summary}\n"
        + "\n".join(rows)
        + f"\n{body}\n</body></html>\n"
    )


def write_report(
    out, *, records=None, title: str = "relu1d reproduction report", views: bool = True
) -> Path:
    """Write ``out/report.html`` from result directories on disk.

    Parameters
    ----------
    out : path
        The results directory; by default every subdirectory with a complete record
        (``meta.json``) goes into the report, sorted by name.
    records : list of paths, optional
        Result directories to include instead.
    views : bool
        Embed the records' interactive viewers (False: a line per record says where they
        are; :func:`reproduce` writes such a light report after each experiment and the
        full one at the end).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from dataclasses import dataclass
    >>> import xarray as xr
    >>> from relu1d import report
    >>> from relu1d.experiments import Claim, ExperimentResult
    >>> @dataclass(frozen=True)
    ... class Spec:
    ...     n: int = 3
    >>> result = ExperimentResult(xr.Dataset({"n": ((), 3)}), {},
    ...                           (Claim.close("n_is_3", "n is 3", "nowhere", 3.0, 3.0, 0.0),))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = report.save_result(pathlib.Path(tmp) / "toy", result, name="toy",
    ...                            description="a toy", spec=Spec(), preset="custom",
    ...                            wall_time_s=0.1)
    ...     page = report.write_report(tmp)
    ...     print(page.name, "n_is_3" in page.read_text(encoding="utf-8"))
    report.html True
    """
    out = Path(out)
    dirs = records if records is not None else sorted(p.parent for p in out.glob("*/meta.json"))
    metas = [load_record(d) for d in dirs]
    return _storage.write_text(out / "report.html", render_html(metas, title=title, views=views))
