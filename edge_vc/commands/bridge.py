"""``edge-vc bridge``: buttons and LEDs on a microcontroller, over a serial port (firmware_bridge/)."""

from __future__ import annotations

from pathlib import Path

import click

from edge_vc.commands.common import user_errors
from edge_vc.errors import EdgeVCError


class SerialPortError(EdgeVCError):
    """The serial port cannot be opened."""

    exit_code = 12


@click.command()
@click.option("--port", "-p", required=True, help="Serial port of the microcontroller, e.g. /dev/ttyUSB0.")
@click.option("--baud", type=int, default=115200, show_default=True, help="Baud rate.")
@click.option("--voice", "-v", default=None, help="Voice or profile for SAY_TEXT and replies.")
@click.option("--device", "-d", default=None, help="Output device.")
@click.option("--input-device", default=None, help="Microphone for push-to-talk.")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="Inference threads.")
@click.option("--record-dir", type=click.Path(file_okay=False), default="recordings", show_default=True)
@click.option("--reply-command", default=None, help="Run on each push-to-talk take with {wav}; stdout is spoken.")
@click.option(
    "--enroll-command", default=None,
    help="Run on each enroll take ({wav}, {profile}, {takes}, {python}); default: only save the take.",
)  # fmt: skip
@click.option("--enroll-profile", default="new-profile", show_default=True, help="Profile name for enroll takes.")
@click.option("--out-dir", type=click.Path(file_okay=False), default=None, help="Write speech to WAVs, not a device.")
@click.option("--verbose", is_flag=True, help="Log frames and errors on stderr.")
@user_errors
def bridge(port, baud, voice, device, input_device, threads, record_dir, reply_command, enroll_command,
           enroll_profile, out_dir, verbose):  # fmt: skip
    """Talk to a microcontroller: say-text, push-to-talk, status LED (see firmware_bridge/PROTOCOL.md)."""
    import logging

    from edge_vc.firmware_bridge.host import BridgeHost, EdgeRuntime, RuntimeConfig, open_port

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="edge-vc bridge: %(message)s")
    try:
        config = RuntimeConfig.from_dict(
            {
                "voice": voice,
                "device": device,
                "input_device": input_device,
                "threads": threads,
                "out_dir": Path(out_dir) if out_dir else None,
                "record_dir": Path(record_dir),
                "reply_command": reply_command,
                "enroll_command": enroll_command,
                "enroll_profile": enroll_profile,
            }
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    try:
        serial_port = open_port(port, baud)
    except Exception as exc:  # serial.SerialException and OSError
        raise SerialPortError(f"cannot open serial port {port}: {exc}") from exc
    runtime = EdgeRuntime(config)
    click.echo(f"edge-vc bridge: listening on {port} at {baud} baud (Ctrl-C to stop)", err=True)
    try:
        BridgeHost(serial_port, runtime).run()
    except OSError as exc:  # pyserial's SerialException is an OSError: unplugged, reset, closed
        raise SerialPortError(f"lost serial port {port}: {exc}") from exc
    finally:
        runtime.stop()
        try:
            serial_port.close()
        except OSError:
            pass
