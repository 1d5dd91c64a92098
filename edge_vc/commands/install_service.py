"""``edge-vc install-service``: a systemd unit that starts ``edge-vc serve`` at boot."""

from __future__ import annotations

from pathlib import Path

import click

from edge_vc.commands.common import user_errors
from edge_vc.errors import EdgeVCError


class ServiceError(EdgeVCError):
    """The unit cannot be generated or written."""

    exit_code = 13


@click.command("install-service")
@click.option("--user", "user", default=None, help="Account to run as (default: $SUDO_USER or you; never root).")
@click.option("--voice", "-v", default=None, help="Voice or profile the server loads at start.")
@click.option("--device", "-d", default=None, help="Output device for local playback.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5500, show_default=True, help="HTTP port.")
@click.option("--wyoming-port", type=int, default=10200, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=None)
@click.option("--data-home", default=None, help="EDGE_VC_HOME for the service (voices, profiles).")
@click.option("--env-file", default=None, help="EnvironmentFile, e.g. with EDGE_VC_TOKEN=... for remote binds.")
@click.option("--allow-remote", is_flag=True, help="Pass --allow-remote (needs --env-file with the token).")
@click.option("--user-unit", is_flag=True, help="Write a 'systemctl --user' unit (PipeWire/PulseAudio desktops).")
@click.option("--name", default="edge-vc", show_default=True, help="Unit name.")
@click.option("--print", "print_only", is_flag=True, help="Print the unit to stdout; write nothing.")
@click.option("--output", "-o", default=None, help="Unit path (default: /etc/systemd/system/NAME.service).")
@user_errors
def install_service(user, voice, device, host, port, wyoming_port, threads, data_home, env_file, allow_remote,
                    user_unit, name, print_only, output):  # fmt: skip
    """Write (or --print) a systemd unit for 'edge-vc serve': boot start, Restart=on-failure, audio group."""
    from edge_vc.audio.io import atomic_write_bytes
    from edge_vc.serve.systemd import ServiceConfig, default_user, render_unit

    try:
        config = ServiceConfig(
            user=user or default_user(),
            voice=voice,
            device=device,
            host=host,
            port=port,
            wyoming_port=wyoming_port,
            threads=threads,
            data_home=data_home,
            env_file=env_file,
            allow_remote=allow_remote,
            user_unit=user_unit,
        )
        text = render_unit(config)
    except ValueError as exc:
        raise ServiceError(str(exc)) from exc
    if voice:
        _check_voice(voice, config.user, data_home, user_unit)
    if print_only:
        click.echo(text, nl=False)
        return
    if output:
        path = Path(output)
    elif user_unit:
        path = Path.home() / ".config" / "systemd" / "user" / f"{name}.service"
    else:
        path = Path("/etc/systemd/system") / f"{name}.service"
    try:
        atomic_write_bytes(path, text.encode())
        path.chmod(0o644)
    except OSError as exc:
        raise ServiceError(f"cannot write {path}: {exc} (use sudo, --output, or --print)") from exc
    ctl = "systemctl --user" if user_unit else "sudo systemctl"
    unit_dirs = (Path("/etc/systemd/system"), Path.home() / ".config" / "systemd" / "user")
    if path.suffix == ".service" and path.resolve().parent in {d.resolve() for d in unit_dirs}:
        click.echo(f"wrote {path}\nnext: {ctl} daemon-reload && {ctl} enable --now {path.stem}", err=True)
    else:  # --output elsewhere: systemd does not see the file there
        where = "~/.config/systemd/user/" if user_unit else "/etc/systemd/system/"
        click.echo(f"wrote {path} (not installed: systemd reads units from {where}; copy it there to use it)", err=True)


def _check_voice(voice: str, user: str, data_home: str | None, user_unit: bool) -> None:
    """Refuse a --voice that the service's account cannot load: no such profile or voice in its data home.

    The account's data home is --data-home, or ``~USER/.local/share/edge-vc`` (a system service has no
    XDG variables). An account that does not exist yet, or a home this user may not read, is only warned about.
    """
    import os
    import pwd

    from edge_vc.errors import VoiceNotFoundError

    if data_home:
        home = Path(data_home).expanduser()
    elif user_unit:
        from edge_vc.paths import data_home as own_data_home

        home = own_data_home()
    else:
        try:
            home = Path(pwd.getpwnam(user).pw_dir) / ".local" / "share" / "edge-vc"
        except KeyError:
            click.echo(f"edge-vc: warning: account {user} does not exist (yet): --voice {voice} not checked", err=True)
            return
    saved = os.environ.get("EDGE_VC_HOME")
    os.environ["EDGE_VC_HOME"] = str(home)
    try:
        from edge_vc.base_voice.catalog import resolve_voice
        from edge_vc.loader import profile_exists

        if profile_exists(voice):
            return
        resolve_voice(voice)
    except PermissionError:
        click.echo(f"edge-vc: warning: cannot read {home} as {user}: --voice {voice} not checked", err=True)
    except VoiceNotFoundError as exc:
        raise ServiceError(
            f"--voice {voice}: no profile or voice of that name for {user} (looked in {home}/profiles and "
            f"{home}/voices): enroll it as {user} (sudo -u {user} edge-vc enroll …), or pass --data-home"
        ) from exc
    finally:
        if saved is None:
            os.environ.pop("EDGE_VC_HOME", None)
        else:
            os.environ["EDGE_VC_HOME"] = saved
