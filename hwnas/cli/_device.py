"""`hwnas device serve|info|list`: run the measurement agent on a board, and look at the
boards the devices file defines (`latency@remote:NAME`)."""

from __future__ import annotations

import json

import typer

from hwnas.cli._app import app, console, friendly

device_app = typer.Typer(
    help="Measure on a board: run its agent (serve), list the devices file, query a device.",
    no_args_is_help=True,
)
app.add_typer(device_app, name="device")


@device_app.command()
@friendly
def serve(
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on; anything but loopback prints a warning."
    ),
    port: int = typer.Option(8765, help="Port (0: any free one, printed)."),
    token_file: str = typer.Option(
        "~/.config/hwnas/agent.token", help="The token; created (mode 0600) if missing."
    ),
    state_dir: str = typer.Option(
        "~/.local/state/hwnas/agent", help="Where results are remembered by request id."
    ),
    max_model_mb: float = typer.Option(64.0, help="Larger models are refused (413)."),
    max_seconds: float = typer.Option(120.0, help="Longest measurement of one model."),
    max_call_seconds: float = typer.Option(5.0, help="Longest single call of a model."),
    threads: int = typer.Option(1, help="ONNX Runtime intra-op threads."),
    busy_timeout: float = typer.Option(
        30.0, help="How long a request waits for the measurement in progress (then 503)."
    ),
) -> None:
    """Run the measurement agent here until Ctrl-C (needs numpy and onnxruntime only)."""
    from hwnas.cost.agent import AgentConfig, serve

    config = AgentConfig(
        host, port, token_file, state_dir, max_model_mb, max_seconds, max_call_seconds,
        threads, busy_timeout,
    )  # fmt: skip
    serve(config, lambda line: console.print(line, highlight=False, soft_wrap=True))


@device_app.command("list")
@friendly
def list_devices() -> None:
    """The devices file's entries and where it was found."""
    from rich.table import Table

    from hwnas.cost.remote import load_devices

    path, devices = load_devices()
    console.print(f"devices file: {path}", highlight=False, soft_wrap=True)
    table = Table()
    for column in ("name", "target", "url", "token from", "protocol"):
        table.add_column(column)
    for name, d in devices.items():
        token = f"file {d.token_file}" if d.token_file else f"${d.token_env}"
        protocol = " ".join(f"{k}={v}" for k, v in d.protocol.items()) or "agent's defaults"
        table.add_row(name, f"latency@remote:{name}", d.url, token, protocol)
    console.print(table)


@device_app.command()
@friendly
def info(
    name: str = typer.Argument(..., help="A device of the devices file."),
    as_json: bool = typer.Option(False, "--json", help="Print the agent's JSON answer."),
) -> None:
    """Ask a device's agent about itself: host, runtime, protocol defaults, limits."""
    from hwnas.cost.remote import AgentClient, get_device

    device = get_device(name)
    answer = AgentClient(device).info(retry_s=3.0)  # a question, not a search: fail fast
    if as_json:
        print(json.dumps(answer, indent=1, sort_keys=True))
        return
    from rich.table import Table

    table = Table(title=f"{name} at {device.url}", show_header=False)
    for section in ("host", "runtime", "limits", "protocol_defaults"):
        for key, value in answer.get(section, {}).items():
            table.add_row(f"{section}.{key}", str(value))
    table.add_row("stored_results", str(answer.get("stored_results")))
    table.add_row("busy", str(answer.get("busy")))
    console.print(table)
