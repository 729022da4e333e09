"""`atc sandbox`: run the local channel sandbox (Braze, Iterable, Customer.io, Klaviyo, Segment, webhook)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sandbox")
@click.option("--port", default=8750, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Fault configuration (YAML or JSON): error rates, latency, drops, rejections, outages, 429 storms.",
)
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning"]))
def sandbox_cmd(port: int, faults_file: Path | None, log_level: str) -> None:
    """Run the channel sandbox on 127.0.0.1 until interrupted.

    Each vendor lives under its own prefix (/braze, /iterable, /customerio, /klaviyo,
    /segment, /webhook); /_sandbox/state, /_sandbox/reset and /_sandbox/faults administer it.
    Credentials default to the ATC_SANDBOX_* values documented in docs/destinations.md.
    """
    from activation.sandbox.faults import FaultConfigError, FaultInjector, load_fault_file
    from activation.sandbox.server import HOST, serve

    faults = {}
    if faults_file is not None:
        try:
            faults = load_fault_file(faults_file)
            FaultInjector(faults)  # validate before announcing anything
        except (FaultConfigError, ValueError, TypeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from exc
    click.echo(f"journey-atc channel sandbox on http://{HOST}:{port} (Ctrl+C to stop)")
    for vendor in ("braze", "iterable", "customerio", "klaviyo", "segment", "webhook"):
        click.echo(f"  {vendor:<11} http://{HOST}:{port}/{vendor}")
    click.echo(f"  state       http://{HOST}:{port}/_sandbox/state")
    try:
        serve(HOST, port, faults, log_level=log_level)
    except (FaultConfigError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc
