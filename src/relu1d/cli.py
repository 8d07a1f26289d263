"""The ``relu1d`` command."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="relu1d: gradient dynamics of shallow univariate ReLU networks.",
                  no_args_is_help=True, add_completion=False)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command("init")
def init_cmd(
    out: Path = typer.Argument(..., help="Where to write the network (.npz)."),
    m: int = typer.Option(100, "--m", help="Width (number of neurons)."),
    scheme: str = typer.Option("uniform", help="uniform, gaussian, he, xavier or lecun."),
    alpha: str = typer.Option("sqrt", help="one, sqrt, m or a positive number."),
    ab_scale: float = typer.Option(1.0, help="Multiplier of (a, b)."),
    c_scale: float = typer.Option(1.0, help="Multiplier of c."),
    delta: float = typer.Option(None, help="Set every neuron's invariant to this value."),
    antisymmetric: bool = typer.Option(
        False, "--antisymmetric", help="Neurons in pairs (a, b, ±c): f₀ ≡ 0."
    ),
    balance: str = typer.Option(
        None, help="balanced, dominated, unbalanced or a ratio |c|/‖(a, b)‖."
    ),
    seed: int = typer.Option(0, help="Random seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
):
    """Initialise a network and save it as .npz (with alpha and provenance)."""
    from ._storage import check_writable_file
    from .init import init_network

    try:
        check_writable_file(out, "OUT", overwrite=overwrite)
        net = init_network(
            m,
            scheme=scheme,
            alpha=_parse_alpha(alpha),
            ab_scale=ab_scale,
            c_scale=c_scale,
            seed=seed,
            delta=delta,
            antisymmetric=antisymmetric,
            balance=None if balance is None else _parse_alpha(balance),
        )
        net.save(out)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    typer.echo(f"wrote {out} ({net})")


@app.command("plot")
def plot_cmd(
    network: Path = typer.Argument(
        ..., help="A network .npz written by `relu1d init` or Network.save."
    ),
    out: Path = typer.Option(Path("results"), help="Output directory for the PNGs."),
    data: Path = typer.Option(None, help="Optional CSV of samples (x,y) to draw."),
):
    """Plot a saved network: its function with knots and its particle plane."""
    from .data import Dataset
    from .network import Network

    try:
        net = Network.load(network)
        dataset = Dataset.from_csv(data) if data is not None else None
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    for path in _write_plots(net, dataset, out, network.stem):
        typer.echo(f"wrote {path}")


def _write_plots(net, data, out: Path, stem: str) -> list[Path]:
    from ._storage import write_figure
    from .plot import plot_function, plot_particles

    return [
        write_figure(fig, out / f"{stem}_{kind}.png", dpi=120)
        for kind, fig in (
            ("function", plot_function(net, data)),
            ("particles", plot_particles(net, data)),
        )
    ]


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("results"), help="Output directory."),
    m: int = typer.Option(200, "--m", help="Width."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """Initialise a network beside the square-wave data set and plot it."""
    from .data import square_wave
    from .init import init_network

    try:
        data = square_wave(10, seed=seed)
        net = init_network(m, seed=seed)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    net.save(out / "network.npz")
    data.to_csv(out / "square_wave.csv")
    for path in _write_plots(net, data, out, "init"):
        typer.echo(f"wrote {path}")


@app.command("list")
def list_cmd(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also print each quick preset spec."
    ),
):
    """List the registered experiments (name and one-line description)."""
    from .experiments import get, names

    registered = names()
    if not registered:
        typer.echo("no experiments registered")
        return
    width = max(len(n) for n in registered)
    for name in registered:
        exp = get(name)
        typer.echo(f"{name:<{width}}  {exp.description}")
        if verbose:
            typer.echo(f"{'':<{width}}  quick: {exp.quick}")


@app.command("reproduce")
def reproduce_cmd(
    names: list[str] = typer.Argument(None, help="Experiment names (see `relu1d list`)."),
    all_: bool = typer.Option(False, "--all", help="Run every registered experiment."),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="The quick presets (seconds each) instead of the paper's full settings.",
    ),
    out: Path = typer.Option(Path("results"), "--out", help="Results directory."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Recompute experiments that already have a complete "
        "record of the same spec and preset in OUT.",
    ),
):
    """Run experiments and write their results and OUT/report.html.

    Each experiment goes to OUT/NAME/: data.nc, figures/*.png, claims.json, spec.toml, meta.json.
    A rerun resumes: experiments with a complete record of the same spec and preset are
    skipped (unless --force). Ctrl-C stops at once, keeps every finished experiment and
    exits with code 130.
    """
    import time

    from .experiments import format_counts, verdict_counts
    from .report import QUICK_BUDGET_S, ReproduceInterrupted, reproduce

    if all_ and names:
        _fail("give experiment names or --all, not both")
    if not all_ and not names:
        _fail("give experiment names (see `relu1d list`) or --all")
    preset = "quick" if quick else "full"
    t0 = time.perf_counter()
    try:
        records = reproduce(None if all_ else names, out, preset=preset, progress=progress,
                            echo=lambda line: typer.echo(line), force=force)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    except ReproduceInterrupted as exc:
        running = (
            f"; {exc.interrupted} was running and is not recorded as complete"
            if exc.interrupted
            else ""
        )
        typer.echo(f"interrupted: {len(exc.records)} of {exc.total} experiment(s) done{running}; "
                   f"wrote {out / 'report.html'}; rerun to resume", err=True)
        raise typer.Exit(code=130) from None
    except KeyboardInterrupt:
        typer.echo(
            f"interrupted; finished experiments are kept in {out}/; rerun to resume", err=True
        )
        raise typer.Exit(code=130) from None
    total = time.perf_counter() - t0
    skipped = sum(bool(r.get("skipped")) for r in records)
    n_claims = sum(r["n_claims"] for r in records)
    counts = verdict_counts(c["verdict"] for r in records for c in r["claims"])
    errors = [r["name"] for r in records if r["status"] != "ok"]
    typer.echo(f"{len(records)} experiment(s), {n_claims} claims: {format_counts(counts)}; "
               f"total wall time {total:.1f} s" + (f" (quick budget {QUICK_BUDGET_S:.0f} s: "
               f"{'within' if total <= QUICK_BUDGET_S else 'EXCEEDED'})"
               if preset == "quick" and all_ and not skipped else ""))
    if skipped:
        typer.echo(
            f"skipped {skipped} complete (records of the same spec and preset already in {out}/; "
            "--force recomputes them)"
        )
    typer.echo(f"wrote {out / 'report.html'}")
    if errors:
        typer.echo(f"error: {len(errors)} experiment(s) raised: {', '.join(errors)} "
                   "(tracebacks in the report and in their meta.json)", err=True)
        raise typer.Exit(code=1)


def _parse_alpha(text: str):
    try:
        return float(text)
    except ValueError:
        return text  # one/sqrt/m, or refused with the accepted values by the spec


def _parse_count(text: str | None):
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text  # "all", or refused with the accepted values by the spec


@app.command("train")
def train_cmd(
    config: Path = typer.Argument(
        None,
        help="A TOML file with \\[init], \\[data], \\[training] tables; flags override its values.",
    ),
    out: Path = typer.Option(Path("results/train"), "--out", help="Output directory."),
    m: int = typer.Option(None, "--m", help="\\[init] width."),
    scheme: str = typer.Option(None, help="\\[init] uniform, gaussian, he, xavier or lecun."),
    alpha: str = typer.Option(None, help="\\[init] one, sqrt, m or a positive number."),
    ab_scale: float = typer.Option(None, help="\\[init] multiplier of (a, b)."),
    c_scale: float = typer.Option(None, help="\\[init] multiplier of c."),
    init_seed: int = typer.Option(None, help="\\[init] seed."),
    delta: float = typer.Option(None, help="\\[init] every neuron's invariant δ."),
    antisymmetric: bool = typer.Option(
        None,
        "--antisymmetric/--no-antisymmetric",
        help="\\[init] neurons in pairs (a, b, ±c): f₀ ≡ 0 (m even).",
    ),
    balance: str = typer.Option(
        None, help="\\[init] balanced, dominated, unbalanced or a ratio |c|/‖(a, b)‖."
    ),
    data: str = typer.Option(None, help="\\[data] square_wave, sinusoid, random or a CSV path."),
    s: int = typer.Option(None, "--s", help="\\[data] number of samples."),
    data_seed: int = typer.Option(None, help="\\[data] seed."),
    method: str = typer.Option(None, help="\\[training] gd, flow, sgd or langevin."),
    lr: float = typer.Option(None, help="\\[training] learning rate (time step)."),
    steps: int = typer.Option(None, help="\\[training] number of steps."),
    trainable: str = typer.Option(None, help="\\[training] subset of abc."),
    weight_decay: float = typer.Option(None, help="\\[training] weight decay."),
    temperature: float = typer.Option(None, help="\\[training] Langevin temperature."),
    batch_size: int = typer.Option(None, help="\\[training] SGD minibatch size."),
    record_every: int = typer.Option(None, help="\\[training] record every this many steps."),
    seed: int = typer.Option(None, help="\\[training] seed (minibatches, noise)."),
    parameterization: str = typer.Option(None, help="\\[training] full or canonical."),
    loss: str = typer.Option(None, help="\\[training] sum or mean."),
    lr_scale: str = typer.Option(None, help="\\[training] none or width (lr_eff = lr·m)."),
    tv_penalty: float = typer.Option(None, help="\\[training] TV penalty κ (canonical runs)."),
    rtol: float = typer.Option(None, help="\\[training] relative tolerance of the flow."),
    atol: float = typer.Option(None, help="\\[training] absolute tolerance of the flow."),
    record: str = typer.Option(None, help="\\[training] log: ~20 record points per decade."),
    max_snapshots: str = typer.Option(
        None, help="\\[training] keep parameters at most this many times, or all."
    ),
    backend: str = typer.Option(None, help="\\[training] numba or numpy."),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the resolved TOML and exit."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
    figures: bool = typer.Option(
        True, "--figures/--no-figures",
        help="Draw the figures and the viewer page (--no-figures: about 1.5 s faster; "
             "`relu1d view` / `relu1d animate` draw them later).",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Write into a non-empty OUT that holds no relu1d "
        "record (files relu1d did not write are kept).",
    ),
):
    """Train one configuration, from flags or a TOML file.

    The \\[training] table takes every option of relu1d.train; the method is a name with its
    options beside it (--method langevin --temperature T --batch-size B) or, in the TOML file, a
    table \\[training.method] with kind = "gd", "flow", "sgd" or "langevin" and its options.

    Writes OUT/: data.nc (the trajectory), figures/ (function, particles, loss), spec.toml,
    meta.json and report.html. Ctrl-C or a diverging run writes a partial record (meta.json
    status "interrupted" or "diverged") and exits with code 130 or 1.
    """
    import dataclasses

    from ._specs import TrainSpec, load_toml, spec_from_dict, spec_to_toml
    from .report import train_to_directory

    flags = {
        "init": {
            "m": m,
            "scheme": scheme,
            "alpha": None if alpha is None else _parse_alpha(alpha),
            "ab_scale": ab_scale,
            "c_scale": c_scale,
            "seed": init_seed,
            "delta": delta,
            "antisymmetric": antisymmetric,
            "balance": None if balance is None else _parse_alpha(balance),
        },
        "data": {"name": data, "s": s, "seed": data_seed},
        "training": {
            "method": method,
            "lr": lr,
            "steps": steps,
            "trainable": trainable,
            "weight_decay": weight_decay,
            "temperature": temperature,
            "batch_size": batch_size,
            "record_every": record_every,
            "seed": seed,
            "parameterization": parameterization,
            "loss": loss,
            "lr_scale": lr_scale,
            "tv_penalty": tv_penalty,
            "rtol": rtol,
            "atol": atol,
            "record": record,
            "backend": backend,
            "max_snapshots": _parse_count(max_snapshots),
        },
    }
    try:
        table = load_toml(config) if config is not None else {}
        for section, values in flags.items():
            given = {k: v for k, v in values.items() if v is not None}
            if given:
                current = table.get(section, {})
                if not isinstance(current, dict):
                    raise TypeError(f"{section} must be a table, got {current!r}")
                table[section] = {**current, **given}
        spec = spec_from_dict(TrainSpec, table)
    except (ValueError, TypeError) as exc:
        _fail(f"{config}: {exc}" if config is not None else str(exc))
    # a CSV path from the TOML file is relative to that file, one from --data to the
    # working directory; stored absolute, so that OUT/spec.toml re-runs from anywhere
    from_toml = data is None and config is not None
    spec = dataclasses.replace(
        spec, data=spec.data.absolute(config.parent if from_toml else Path.cwd())
    )
    if print_config:
        typer.echo(spec_to_toml(spec, header="relu1d train: resolved configuration"), nl=False)
        return
    from ._storage import read_record_meta

    previous = read_record_meta(out) if out.is_dir() else None
    if previous is not None:
        typer.echo(f"note: replacing the relu1d record in {out}/ (status {previous['status']}, "
                   f"finished {previous.get('finished_utc', '?')})", err=True)
    try:
        meta = train_to_directory(spec, out, progress=progress, overwrite=overwrite,
                                  figures=figures)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    except (
        KeyboardInterrupt
    ):  # before step 0 or while saving: meta.json never says "ok" for this run
        typer.echo(
            f"interrupted before this run's record in {out}/ was complete; nothing there is "
            "recorded as "
            "its result; run the command again",
            err=True,
        )
        raise typer.Exit(code=130) from None
    rerun = f"relu1d train {out / 'spec.toml'} --out {out}"
    if meta["status"] == "interrupted":
        typer.echo(
            f"interrupted at step {meta['steps_done']} of {meta['steps_planned']}: wrote the "
            "PARTIAL record "
            f"to {out}/ (meta.json status \"interrupted\"); to train in full, run `{rerun}` "
            f"(starts again from step 0)",
            err=True,
        )
        raise typer.Exit(code=130)
    if meta["status"] == "diverged":
        typer.echo(
            f"error: training diverged at step {meta['diverged_at_step']} (last finite loss "
            f"{meta['last_finite_loss']:.6g}, lr = {meta['lr']:g}); wrote the partial record "
            "(steps 0 to "
            f"{meta['steps_done']}) to {out}/ with status \"diverged\"; try a smaller lr, e.g. "
            f"--lr {meta['lr'] / 2:g}",
            err=True,
        )
        raise typer.Exit(code=1)
    written = "data.nc, figures/, views/, " if figures else "data.nc, "
    typer.echo(
        f"trained in {meta['wall_time_s']:.1f} s; wrote {out}/ ({written}spec.toml, meta.json, "
        "report.html)"
    )


@app.command("sweep")
def sweep_cmd(
    sweep_file: Path = typer.Argument(
        ..., help="The sweep TOML (\\[base], \\[grid]; see relu1d.sweep)."
    ),
    out: Path = typer.Option(
        None, "--out", help="Output directory (default: results/sweep-<file stem>)."
    ),
    scheduler: str = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler address, e.g. tcp://10.0.0.1:8786 (needs relu1d\\[dask]).",
    ),
    workers: int = typer.Option(None, "--workers", help="Local processes (default: one per core)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
):
    """Run a grid of configurations on a process pool or a Dask cluster.

    Each point is checkpointed in OUT/points/ when it finishes; all are merged into
    OUT/sweep.nc. Run the same command again to resume: only missing points are computed.
    """
    import time

    from ._lazy import unhide_dask
    from .sweep import SweepBusy, SweepIncomplete, SweepInterrupted, load_sweep, run_sweep

    if scheduler is not None:
        unhide_dask()

    out = out if out is not None else Path("results") / f"sweep-{sweep_file.stem}"
    try:
        sweep = load_sweep(sweep_file)
    except (ValueError, TypeError) as exc:
        _fail(f"{sweep_file}: {exc}")
    n = 1
    for size in sweep.shape:
        n *= size
    typer.echo(f"sweep over {' × '.join(f'{d} ({k})' for d, k in zip(sweep.dims, sweep.keys))}: "
               f"{n} points -> {out}", err=True)
    t0 = time.perf_counter()
    try:
        merged = run_sweep(sweep, out, scheduler=scheduler, workers=workers, progress=progress)
    except (
        SweepInterrupted
    ) as exc:  # Ctrl-C: the finished points are saved, the running ones dropped
        typer.echo(f"{exc}", err=True)
        raise typer.Exit(code=130) from None
    except (SweepIncomplete, SweepBusy) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    except (ValueError, TypeError, ImportError) as exc:
        _fail(str(exc))
    sizes = ", ".join(f"{d}={merged.sizes[d]}" for d in merged.dims)
    typer.echo(f"wrote {out / 'sweep.nc'} ({sizes}) in {time.perf_counter() - t0:.1f} s")


@app.command("animate")
def animate_cmd(
    run: Path = typer.Argument(
        ...,
        help="A trajectory: the data.nc of `relu1d train` (or its folder), an "
        "experiment's runs/NAME.nc, or a file written by Trajectory.save.",
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="The movie, .gif (Pillow) or .mp4 (needs ffmpeg on the PATH); "
        "default: animation.gif beside RUN.",
    ),
    data: Path = typer.Option(
        None, "--data", help="CSV of samples (x,y); default: those stored in RUN."
    ),
    frames: int = typer.Option(
        60,
        "--frames",
        help="Number of frames, spread evenly in log-time over the "
        "recorded snapshots (at most one per snapshot).",
    ),
    fps: float = typer.Option(10.0, "--fps", help="Frames per second."),
    dpi: int = typer.Option(100, "--dpi", help="Resolution (100: 1320 x 420 pixels)."),
    reference: list[str] = typer.Option(
        None,
        "--reference",
        help="Reference curve: kernel, natural_cubic, linear or rnorm (repeat for several).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
):
    """Render a training run as a movie: f with its knots and the samples, the particle
    plane (u, v) coloured by sign(r), and the loss with a moving marker.

    The movie is written to a temporary name and renamed when complete: Ctrl-C
    leaves no partial movie under OUT (exit code 130).
    """
    import time

    from .animate import animate_run

    t0 = time.perf_counter()
    try:
        path, notes, scene = animate_run(
            run,
            out,
            data=data,
            overwrite=overwrite,
            frames=frames,
            fps=fps,
            dpi=dpi,
            references=tuple(reference or ()),
            progress=progress,
        )
    except (ValueError, TypeError, RuntimeError) as exc:
        _fail(str(exc))
    except OSError as exc:  # e.g. the disk filled up while writing: nothing left under OUT
        _fail(f"could not write the movie --out {str(out or 'animation.gif')!r}: "
              f"{exc.strerror or exc}; free some space or choose another folder (a previous "
              "file under that name is unchanged)")
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: no movie written (a previous file under that name is unchanged)", err=True
        )
        raise typer.Exit(code=130) from None
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(
        f"wrote {path} ({len(scene.frames)} frame(s), {path.stat().st_size / 1e6:.2f} MB) in "
        f"{time.perf_counter() - t0:.1f} s"
    )


@app.command("view")
def view_cmd(
    run: Path = typer.Argument(
        ...,
        help="A trajectory: the data.nc of `relu1d train` (or its folder), an "
        "experiment's run file OUT/NAME/runs/*.nc (or the folder OUT/NAME, "
        "for all its runs), or a file written by Trajectory.save.",
    ),
    out: Path = typer.Option(
        None, "--out", help="The page (.html); default: view.html beside RUN."
    ),
    data: Path = typer.Option(
        None, "--data", help="CSV of samples (x,y); default: those stored in RUN."
    ),
    frames: int = typer.Option(60, "--frames", help="At most this many snapshots become frames."),
    neurons: int = typer.Option(
        200,
        "--neurons",
        help="At most this many neurons are drawn as knots and "
        "particles (f is always the whole network).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
):
    """Write an interactive viewer of a training run: one self-contained HTML page (plotly.js
    embedded, no network access) with a time slider and play/pause over f with its knots and
    the samples, the particle plane (u, v) coloured by sign(r) (hover a particle for its
    neuron's a, b, c, δ, r, θ and knot) and the loss, with reference curves to toggle."""
    import time

    from ._storage import check_writable_file, read_record_meta
    from .viewer import load_runs, write_viewer

    t0 = time.perf_counter()
    if out is None:
        out = (run if run.is_dir() else run.parent) / "view.html"
    if frames < 2:
        _fail(f"--frames must be >= 2 (the slider needs two frames), got {frames}")
    if neurons < 1:
        _fail(f"--neurons must be >= 1, got {neurons}")
    try:
        check_writable_file(out, "OUT", overwrite=overwrite)
        if out.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"OUT must end in .html, got {str(out)!r}; e.g. --out view.html")
        runs = load_runs(run, data)
        if len(runs) == 1:
            (traj, samples), = runs.values()
            path = write_viewer(traj, out, samples, title=f"relu1d view: {run}", max_frames=frames,
                                max_neurons=neurons)
        else:
            path = write_viewer(
                runs, out, title=f"relu1d view: {run}", max_frames=frames, max_neurons=neurons
            )
    except (ValueError, TypeError, ImportError) as exc:
        _fail(str(exc))
    except OSError as exc:  # e.g. the disk filled up while writing: nothing left under OUT
        _fail(f"could not write OUT {str(out)!r}: {exc.strerror or exc}; free some space or "
              "choose another folder (a previous file under that name is unchanged)")
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: no page written (a previous file under that name is unchanged)", err=True
        )
        raise typer.Exit(code=130) from None
    record = run if run.is_dir() else run.parent if run.name == "data.nc" else None
    meta = (read_record_meta(record) if record is not None else None) or {}
    for name, (traj, _) in runs.items():
        status = "interrupted" if traj.interrupted else meta.get("status", "ok")
        if status != "ok" and (traj.interrupted or len(runs) == 1):
            where = str(run) if len(runs) == 1 else f"run {name!r}"
            typer.echo(f"note: {where} is a PARTIAL record (status {status}): steps 0 to "
                       f"{int(traj.steps[-1])}", err=True)
        if len(traj.snapshots) == 1:
            typer.echo(
                "note: the trajectory holds one snapshot: the page shows it without motion",
                err=True,
            )
    typer.echo(f"wrote {path} ({len(runs)} run(s), {path.stat().st_size / 1e6:.2f} MB) in "
               f"{time.perf_counter() - t0:.1f} s")


def main() -> None:
    from ._lazy import hide_unused_dask

    hide_unused_dask()  # only `relu1d sweep --scheduler` uses dask (see there)
    app()


if __name__ == "__main__":
    main()
