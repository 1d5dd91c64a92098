"""``edge-vc install-service``: the generated systemd unit, checked by systemd-analyze when present."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess

import pytest

from edge_vc.serve.systemd import ServiceConfig, render_unit


def _parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def test_cli_prints_a_unit_that_runs_serve_as_a_non_root_audio_user(run_cli, tmp_path):
    result = run_cli(
        "install-service", "--print", "--user", "kiosk", "--voice", "grandma voice", "--device", "USB Audio: 50%"
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    unit = _parse(text)
    service = unit["Service"]
    assert service["User"] == "kiosk" and service["SupplementaryGroups"] == "audio"
    assert service["Restart"] == "on-failure" and unit["Install"]["WantedBy"] == "multi-user.target"
    args = shlex.split(service["ExecStart"].replace("%%", "%"))
    assert args[1:4] == ["-m", "edge_vc", "serve"]
    assert args[args.index("--voice") + 1] == "grandma voice"
    assert args[args.index("--device") + 1] == "USB Audio: 50%"
    assert args[args.index("--host") + 1] == "127.0.0.1"
    out = tmp_path / "edge-vc.service"
    result = run_cli("install-service", "--user", "kiosk", "--output", str(out))
    assert result.returncode == 0 and out.read_text().startswith("[Unit]")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    unit = tmp_path / "edge-vc.service"
    unit.write_text(render_unit(ServiceConfig(user="kiosk", voice="v", device="hw:1,0", threads=2)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Unknown key" not in done.stderr and "Failed to parse" not in done.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("ExecStart=/", "ExecStart=relative/"))
    done = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0  # the check above can fail


def test_user_unit_and_remote_bind_rules(run_cli):
    text = render_unit(ServiceConfig(user="ignored", user_unit=True))
    unit = _parse(text)
    assert "User" not in unit["Service"] and unit["Install"]["WantedBy"] == "default.target"
    with pytest.raises(ValueError, match="root"):
        render_unit(ServiceConfig(user="root"))
    with pytest.raises(ValueError, match="env-file"):
        render_unit(ServiceConfig(user="kiosk", host="0.0.0.0", allow_remote=True))
    remote = _parse(
        render_unit(ServiceConfig(user="kiosk", host="0.0.0.0", allow_remote=True, env_file="/etc/edge-vc/env"))
    )
    assert remote["Service"]["EnvironmentFile"] == "/etc/edge-vc/env"
    assert "--allow-remote" in remote["Service"]["ExecStart"] and "TOKEN" not in remote["Service"]["ExecStart"]
    with pytest.raises(ValueError, match="control"):
        render_unit(ServiceConfig(user="kiosk", voice="x\nExecStartPre=/bin/rm"))
    result = run_cli("install-service", "--print", "--user", "root")
    assert result.returncode == 13 and b"root" in result.stderr
