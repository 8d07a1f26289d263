"""Running registered experiments, storing their results, and the HTML report.

:func:`reproduce` runs experiments of the registry (:mod:`relu1d.experiments`) and writes,
for each, a result directory ``DIR/NAME/`` (layout in :mod:`relu1d._storage`: NetCDF
data, PNG figures, claims, the resolved spec, seeds, versions and wall time), then
``DIR/report.html``: one self-contained page (CSS inline, figures embedded as base64
PNG, no script, no server) with a summary table at the top and, per experiment, its
description, claims table, figures, spec and wall time. Claims that do not hold are
shown in red in both the summary and the table, never hidden.

:func:`train_to_directory` does the same for one training run (``relu1d train``).
"""

from __future__ import annotations

import base64
import html
import json
import re
import sys
import time
import traceback
from pathlib import Path

from . import _storage
from ._specs import spec_json, spec_seeds, spec_to_dict, spec_to_toml

__all__ = ["reproduce", "run_experiment", "save_result", "load_record", "write_report", "render_html",
           "train_to_directory", "QUICK_BUDGET_S"]

QUICK_BUDGET_S = 300.0
"""Wall-time budget of ``relu1d reproduce --all --quick`` (seconds, on 2 cores)."""


def _figure_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "figure"


# --------------------------------------------------------------------------- storing
def save_result(directory, result, *, name: str, description: str, spec, preset: str,
                wall_time_s: float, started_utc: str | None = None) -> dict:
    """Write an :class:`~relu1d.experiments.ExperimentResult` to ``directory``.

    Parameters
    ----------
    directory : path
        Created if missing; a previous record there is replaced.
    result : ExperimentResult
    name, description : str
    spec : frozen dataclass
        The resolved spec the result was computed from.
    preset : str
        "quick", "full" or "custom".
    wall_time_s : float
        Seconds the run took.

    Returns
    -------
    dict
        The metadata written to ``meta.json``.
    """
    t_save = time.perf_counter()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta_path = directory / "meta.json"
    # a half-replaced record must not look complete: the old meta goes first, the new one last
    meta_path.unlink(missing_ok=True)
    _storage.remove_stale_temporaries(directory)

    figures_dir = directory / "figures"
    figure_files = []
    used = set()
    for fig_name, fig in result.figures.items():
        stem = _figure_filename(str(fig_name))
        while stem in used:
            stem += "_"
        used.add(stem)
        _storage.write_figure(fig, figures_dir / f"{stem}.png")
        figure_files.append({"name": str(fig_name), "file": f"figures/{stem}.png"})
    if figures_dir.is_dir():
        keep = {f["file"].split("/", 1)[1] for f in figure_files}
        for stale in figures_dir.glob("*.png"):
            if stale.name not in keep:
                stale.unlink()

    claims = [_storage.to_jsonable(c) for c in result.claims]
    env = _storage.environment()
    meta = _meta("ok", name=name, description=description, spec=spec, preset=preset, wall_time_s=wall_time_s,
                 started_utc=started_utc or _storage.utc_now(), claims=claims, figures=figure_files, env=env)
    if result.data is not None:
        ds = result.data.copy(deep=False)
        ds.attrs = dict(ds.attrs)
        ds.attrs.update({
            "experiment": name, "description": description, "preset": preset,
            "spec_json": spec_json(spec), "seeds_json": json.dumps(meta["seeds"]),
            "claims_json": json.dumps(claims), "wall_time_s": float(wall_time_s),
            "created_utc": meta["finished_utc"], **env,
        })
        _storage.write_netcdf(ds, directory / "data.nc")
        meta["data_file"] = "data.nc"
    _storage.write_json(directory / "claims.json", claims)
    try:
        _storage.write_text(directory / "spec.toml", spec_to_toml(
            spec, header=f"{name} ({preset}): resolved {type(spec).__name__}"))
    except TypeError:  # a spec field TOML cannot hold: the JSON copy in meta.json is complete
        pass
    meta["save_time_s"] = time.perf_counter() - t_save
    _storage.write_json(meta_path, meta)
    return meta


def _meta(status: str, *, name, description, spec, preset, wall_time_s, started_utc, claims, figures, env,
          **extra) -> dict:
    """The contents of ``meta.json`` (``extra``: the traceback of a failed run)."""
    return {"name": name, "description": description, "preset": preset, "status": status,
            "spec_type": type(spec).__name__, "spec": _storage.to_jsonable(spec_to_dict(spec)),
            "seeds": _storage.to_jsonable(spec_seeds(spec)), "wall_time_s": float(wall_time_s),
            "started_utc": started_utc, "finished_utc": _storage.utc_now(), "claims": claims,
            "n_claims": len(claims), "n_hold": sum(bool(c["holds"]) for c in claims), "figures": figures,
            "data_file": None, **extra, **env}


def _save_error(directory, *, name, description, spec, preset, wall_time_s, started_utc, error) -> dict:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = _meta("error", name=name, description=description, spec=spec, preset=preset, wall_time_s=wall_time_s,
                 started_utc=started_utc, claims=[], figures=[], env=_storage.environment(), error=error)
    for stale in ("data.nc", "claims.json"):
        (directory / stale).unlink(missing_ok=True)
    _storage.write_json(directory / "meta.json", meta)
    return meta


def load_record(directory) -> dict:
    """The metadata of a result directory (``meta.json``), with ``path`` added."""
    directory = Path(directory)
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise ValueError(f"{str(directory)!r} is not a complete result directory (no meta.json)")
    meta = json.loads(meta_path.read_text())
    meta["path"] = str(directory)
    return meta


# --------------------------------------------------------------------------- running
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
    """
    from .experiments import get

    exp = get(name)
    if spec is None:
        spec = exp.preset(preset)
    elif not isinstance(spec, exp.spec_type):
        raise TypeError(f"spec must be a {exp.spec_type.__name__} for {name!r}, got {type(spec).__name__}")
    else:
        preset = "custom"
    directory = Path(out) / name
    started = _storage.utc_now()
    t0 = time.perf_counter()
    try:
        result = exp.run(spec)
    except Exception:
        return _save_error(directory, name=name, description=exp.description, spec=spec, preset=preset,
                           wall_time_s=time.perf_counter() - t0, started_utc=started,
                           error=traceback.format_exc())
    wall = time.perf_counter() - t0
    return save_result(directory, result, name=name, description=exp.description, spec=spec,
                       preset=preset, wall_time_s=wall, started_utc=started)


def reproduce(names=None, out="results", *, preset: str = "quick", progress: bool = True,
              echo=None) -> list[dict]:
    """Run experiments and write their result directories and ``out/report.html``.

    Parameters
    ----------
    names : list of str, optional
        Registered names; all of them when None.
    out : path
    preset : {"quick", "full"}
    progress : bool
        A progress bar over the experiments on stderr.
    echo : callable, optional
        Called with one line of text per finished experiment.

    Returns
    -------
    list of dict
        The records run now, in order (see :func:`run_experiment`).
    """
    from tqdm.auto import tqdm

    from .experiments import get, names as all_names

    if preset not in ("quick", "full"):
        raise ValueError(f"preset must be 'quick' or 'full', got {preset!r}")
    todo = list(all_names() if names is None else names)
    for name in todo:
        get(name)  # unknown names fail before anything runs
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    bar = tqdm(todo, desc=f"reproduce ({preset})", unit="exp", file=sys.stderr, disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        meta = run_experiment(name, out, preset=preset)
        records.append(meta)
        if echo is not None:
            echo(_summary_line(meta))
        write_report(out)  # after each one, so an interrupted run still has a report
    bar.close()
    return records


def _summary_line(meta: dict) -> str:
    if meta["status"] != "ok":
        return f"{meta['name']:<34} ERROR    {meta['wall_time_s']:8.1f} s  ({meta['error'].strip().splitlines()[-1]})"
    fails = meta["n_claims"] - meta["n_hold"]
    verdict = f"{meta['n_hold']}/{meta['n_claims']} claims hold" + (f"  ({fails} do NOT hold)" if fails else "")
    return f"{meta['name']:<34} ok       {meta['wall_time_s']:8.1f} s  {verdict}"


# --------------------------------------------------------------------------- training run
def train_to_directory(spec, out, *, base_dir=None, progress: bool = True) -> dict:
    """Run one :class:`~relu1d._specs.TrainSpec` and write a result directory at ``out``
    (data.nc = the trajectory, figures function/particles/loss, spec.toml, meta.json)
    and ``out/report.html``.

    ``base_dir`` resolves a relative CSV path in ``spec.data.name`` (the TOML's folder).
    """
    import numpy as np

    from .experiments import ExperimentResult
    from .plot import new_figure, plot_function, plot_particles
    from .train import train

    started = _storage.utc_now()
    t0 = time.perf_counter()
    net0 = spec.init.network()
    data = spec.data.dataset(base_dir)
    traj = train(net0, data, progress=progress, **spec.training.kwargs())
    wall = time.perf_counter() - t0

    ds = traj.to_xarray()
    ds = ds.assign(data_x=("sample", np.asarray(data.x)), data_y=("sample", np.asarray(data.y)))
    figures = {}
    fig = plot_function(traj.network, data, label="trained $f(x)$")
    ax = fig.axes[0]
    xs = np.linspace(*ax.get_xlim(), 1000)
    ax.plot(xs, net0(xs), ls="--", lw=1.0, color="0.5", label="initial")
    ax.legend(loc="best", fontsize="small")
    figures["function"] = fig
    figures["particles"] = plot_particles(traj.network, data)
    fig, axes = new_figure(1, 1)
    ax = axes[0, 0]
    loss = np.asarray(traj.loss, dtype=float)
    x_axis = np.asarray(traj.times if spec.training.method == "flow" else traj.steps, dtype=float)
    positive = loss > 0
    ax.semilogy(x_axis[positive], loss[positive]) if positive.any() else ax.plot(x_axis, loss)
    ax.set_xlabel("time t" if spec.training.method == "flow" else "step")
    ax.set_ylabel("loss")
    ax.set_title(f"{spec.training.method}, lr={spec.training.lr:g}, m={spec.init.m}")
    figures["loss"] = fig
    result = ExperimentResult(data=ds, figures=figures, claims=())
    description = (f"relu1d train: m={spec.init.m} ({spec.init.scheme}, alpha={spec.init.alpha}), "
                   f"data {spec.data.name}, {spec.training.method} for {spec.training.steps} steps")
    meta = save_result(out, result, name="train", description=description, spec=spec, preset="custom",
                       wall_time_s=wall, started_utc=started)
    write_report(out, records=[Path(out)], title="relu1d train")
    return meta


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
"""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt_number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _esc(value)
    return f"{value:.6g}"


def _claims_table(claims: list[dict]) -> str:
    if not claims:
        return "<p class='meta'>No claims checked by this run.</p>"
    rows = ["<table class='claims'><tr><th>claim</th><th>paper reference</th><th>measured</th>"
            "<th>predicted</th><th>tolerance</th><th>verdict</th><th>note</th></tr>"]
    for c in claims:
        ok = bool(c["holds"])
        rows.append(
            f"<tr class='{'ok' if ok else 'fail'}'><td>{_esc(c['statement'])}</td><td>{_esc(c['reference'])}</td>"
            f"<td class='num'>{_fmt_number(c['measured'])}</td><td>{_esc(c['predicted'])}</td>"
            f"<td>{_esc(c['tolerance'])}</td><td class='verdict'>{'holds' if ok else 'does not hold'}</td>"
            f"<td>{_esc(c.get('note', ''))}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _anchor(name: str) -> str:
    return "exp-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name)


def _section(meta: dict) -> str:
    directory = Path(meta["path"])
    parts = [f"<section id='{_anchor(meta['name'])}'><h2>{_esc(meta['name'])}</h2>",
             f"<p>{_esc(meta['description'])}</p>",
             f"<p class='meta'>preset <b>{_esc(meta['preset'])}</b> · wall time "
             f"<b>{meta['wall_time_s']:.1f} s</b> (+{meta.get('save_time_s', 0.0):.1f} s saving) · finished {_esc(meta['finished_utc'])} · "
             f"relu1d {_esc(meta.get('relu1d_version', '?'))} · seeds {_esc(json.dumps(meta['seeds']))}</p>"]
    if meta["status"] != "ok":
        parts.append("<p class='bad'>The experiment raised an error; no results.</p>")
        parts.append(f"<pre>{_esc(meta.get('error', ''))}</pre></section>")
        return "\n".join(parts)
    parts.append("<h3>Claims</h3>" + _claims_table(meta["claims"]))
    if meta["figures"]:
        parts.append("<h3>Figures</h3>")
    for fig in meta["figures"]:
        path = directory / fig["file"]
        if path.is_file():
            encoded = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(f"<figure><img src='data:image/png;base64,{encoded}' alt='{_esc(fig['name'])}'>"
                         f"<figcaption>{_esc(fig['name'])} ({_esc(fig['file'])})</figcaption></figure>")
        else:
            parts.append(f"<p class='bad'>figure file {_esc(fig['file'])} is missing</p>")
    spec_text = (directory / "spec.toml").read_text() if (directory / "spec.toml").is_file() \
        else json.dumps(meta["spec"], indent=2)
    parts.append(f"<h3>Spec ({_esc(meta['spec_type'])})</h3><pre>{_esc(spec_text)}</pre>")
    parts.append(f"<p class='meta'>data: {_esc(meta['data_file'] or 'none')} in {_esc(directory.name)}/</p>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(records: list[dict], title: str = "relu1d reproduction report") -> str:
    """The report page for the given records (``load_record`` dicts), as a string."""
    running = sum(r["wall_time_s"] for r in records)
    saving = sum(r.get("save_time_s", 0.0) for r in records)
    total = running + saving
    n_claims = sum(r["n_claims"] for r in records)
    n_hold = sum(r["n_hold"] for r in records)
    errors = [r for r in records if r["status"] != "ok"]
    presets = sorted({r["preset"] for r in records})
    rows = ["<table class='summary'><tr><th>experiment</th><th>preset</th><th>status</th>"
            "<th>claims hold</th><th>claims that do not hold</th><th>wall time (s)</th></tr>"]
    for r in records:
        failing = [c["statement"] for c in r["claims"] if not c["holds"]]
        bad = r["status"] != "ok" or failing
        rows.append(
            f"<tr class='{'fail' if bad else 'ok'}'><td><a href='#{_anchor(r['name'])}'>{_esc(r['name'])}</a></td>"
            f"<td>{_esc(r['preset'])}</td><td class='{'bad' if r['status'] != 'ok' else 'good'}'>"
            f"{_esc(r['status'])}</td><td class='num'>{r['n_hold']}/{r['n_claims']}</td>"
            f"<td>{'<br>'.join(_esc(s) for s in failing)}</td><td class='num'>{r['wall_time_s']:.1f}</td></tr>")
    rows.append("</table>")
    budget = ""
    if presets == ["quick"]:
        within = total <= QUICK_BUDGET_S
        budget = (f" · quick budget {QUICK_BUDGET_S:.0f} s: <span class='{'good' if within else 'bad'}'>"
                  f"{'within' if within else 'EXCEEDED'}</span>")
    env = records[0] if records else {}
    summary = (f"<p><b>{len(records)}</b> experiment(s) · claims holding <b>{n_hold}/{n_claims}</b>"
               + (f" · <span class='bad'>{n_claims - n_hold} claim(s) do not hold</span>" if n_hold < n_claims else "")
               + (f" · <span class='bad'>{len(errors)} experiment(s) failed</span>" if errors else "")
               + f" · total wall time <b>{total:.1f} s</b> (running {running:.1f} s, saving "
               f"{saving:.1f} s){budget}</p>"
               f"<p class='meta'>relu1d {_esc(env.get('relu1d_version', '?'))} · Python {_esc(env.get('python', '?'))}"
               f" · numpy {_esc(env.get('numpy', '?'))} · {_esc(env.get('platform', '?'))}, "
               f"{_esc(env.get('cpu_count', '?'))} CPUs · generated {_esc(_storage.utc_now())}</p>")
    body = "\n".join(_section(r) for r in records)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{_esc(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n<h1>{_esc(title)}</h1>\n<h2>Summary</h2>\n{summary}\n"
            + "\n".join(rows) + f"\n{body}\n</body></html>\n")


def write_report(out, *, records=None, title: str = "relu1d reproduction report") -> Path:
    """Write ``out/report.html`` from result directories on disk.

    Parameters
    ----------
    out : path
        The results directory; by default every subdirectory with a complete record
        (``meta.json``) goes into the report, sorted by name.
    records : list of paths, optional
        Result directories to include instead.
    """
    out = Path(out)
    dirs = records if records is not None else sorted(p.parent for p in out.glob("*/meta.json"))
    metas = [load_record(d) for d in dirs]
    return _storage.write_text(out / "report.html", render_html(metas, title=title))
