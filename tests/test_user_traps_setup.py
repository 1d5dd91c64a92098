"""Set-up traps of issue 19: install-service's voice check and its closing hint, setup.sh's system packages,
demo.sh's output. Each test failed before its fix."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def _fake_profile(home: Path, name: str) -> None:
    folder = home / "profiles" / name
    folder.mkdir(parents=True)
    (folder / "profile.yaml").write_text(yaml.safe_dump({"name": name}))


def test_install_service_checks_the_profile_exists_for_that_user(run_cli, tmp_path):
    # 'nobody' exists on every Debian system; its home (/nonexistent) holds no profiles
    missing = run_cli("install-service", "--print", "--user", "nobody", "--voice", "grandma")
    assert missing.returncode != 0 and missing.stdout == b""
    err = missing.stderr.decode()
    assert "--voice grandma: no profile or voice of that name for nobody" in err
    assert "/nonexistent/.local/share/edge-vc/profiles" in err
    home = tmp_path / "svc-home"
    _fake_profile(home, "grandma")
    found = run_cli("install-service", "--print", "--user", "nobody", "--voice", "grandma", "--data-home", str(home))
    assert found.returncode == 0, found.stderr.decode()
    assert "--voice grandma" in found.stdout.decode()
    bundled = run_cli("install-service", "--print", "--user", "nobody", "--voice", "en_US-joe-medium.int8")
    assert bundled.returncode == 0, bundled.stderr.decode()


def test_install_service_warns_when_the_account_does_not_exist_yet(run_cli):
    result = run_cli("install-service", "--print", "--user", "edgevc-not-a-user", "--voice", "grandma")
    assert result.returncode == 0
    assert "account edgevc-not-a-user does not exist (yet): --voice grandma not checked" in result.stderr.decode()


def test_install_service_output_elsewhere_does_not_say_enable_now(run_cli, tmp_path):
    out = tmp_path / "edge-vc.service"
    result = run_cli("install-service", "--user", "nobody", "--output", str(out))
    assert result.returncode == 0, result.stderr.decode()
    err = result.stderr.decode()
    assert out.read_text().startswith("[Unit]")
    assert f"wrote {out}" in err and "enable --now" not in err and "not installed" in err


def _setup_packages(extras: str) -> set[str]:
    """The apt packages setup.sh asks for with ``extras`` (read from the script, evaluated by bash)."""
    import subprocess

    script = (REPO / "scripts" / "setup.sh").read_text()
    block = script[script.index("if command -v apt-get") : script.index("  missing=")]
    lines = [line for line in block.splitlines()[1:]]
    program = f'extras="{extras}"\n' + "\n".join(lines) + '\necho "$pkgs"\n'
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_setup_installs_no_sound_server_for_the_runtime():
    runtime = _setup_packages("")
    assert "libportaudio2" in runtime and "libsndfile1" in runtime
    assert not runtime & {"pulseaudio", "pulseaudio-utils", "libasound2-plugins"}, runtime
    test = _setup_packages("test")
    assert {"pulseaudio", "pulseaudio-utils", "libasound2-plugins", "libportaudio2"} <= test


def test_setup_runtime_install_has_what_adaptation_needs():
    script = (REPO / "scripts" / "setup.sh").read_text()
    runtime = script[script.rindex("else\n  #") :]
    install = re.search(r'pip install -q -e "\.\[([a-z,]+)\]"', runtime)
    assert install is not None
    assert {"train", "learned", "consent"} <= set(install.group(1).split(","))
    assert re.search(r'pip install -q "torch==[0-9.]+"', runtime), "torch pinned (CPU build) before the extras"


def test_demo_adapts_and_prints_each_wrote_line_once():
    demo = (REPO / "scripts" / "demo.sh").read_text()
    assert "edge-vc adapt" in demo and "--steps" in demo
    assert "similarity" in demo
    assert not re.search(r'^echo "wrote', demo, re.M), "say --verbose already prints 'wrote …'"
