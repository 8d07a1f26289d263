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
    seed: int = typer.Option(0, help="Random seed."),
):
    """Initialise a network and save it as .npz (with alpha and provenance)."""
    from .init import init_network

    try:
        alpha_arg = float(alpha) if alpha not in ("one", "sqrt", "m") else alpha
    except ValueError:
        _fail(f"--alpha must be one, sqrt, m or a positive number, got {alpha!r}")
    try:
        net = init_network(m, scheme=scheme, alpha=alpha_arg, ab_scale=ab_scale, c_scale=c_scale,
                           seed=seed, delta=delta)
        net.save(out)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    typer.echo(f"wrote {out} ({net})")


@app.command("plot")
def plot_cmd(
    network: Path = typer.Argument(..., help="A network .npz written by `relu1d init` or Network.save."),
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
    from .plot import plot_function, plot_particles

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, fig in (("function", plot_function(net, data)), ("particles", plot_particles(net, data))):
        path = out / f"{stem}_{kind}.png"
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("results"), help="Output directory."),
    m: int = typer.Option(200, "--m", help="Width."),
    seed: int = typer.Option(0, help="Random seed."),
):
    """Initialise a network beside the square-wave data set and plot it."""
    from .data import square_wave
    from .init import init_network

    data = square_wave(10, seed=seed)
    net = init_network(m, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    net.save(out / "network.npz")
    data.to_csv(out / "square_wave.csv")
    for path in _write_plots(net, data, out, "init"):
        typer.echo(f"wrote {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
