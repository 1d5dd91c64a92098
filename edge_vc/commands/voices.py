"""``edge-vc voices list|show|rm|export|import`` (profiles and base voices).

The group is open for more sub-commands: each module registers its own with one
``voices.add_command(...)`` line at the bottom of this file.
"""

from __future__ import annotations

import click

from edge_vc.commands.common import user_errors


@click.group()
def voices() -> None:
    """Base voices and enrolled voice profiles."""


@voices.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_errors
def list_cmd(as_json):
    """List base voices and enrolled profiles."""
    import json

    from edge_vc.base_voice.catalog import DEFAULT_VOICE, installed_voices, shipped_voices
    from edge_vc.errors import ProfileError
    from edge_vc.loader import stage_choice
    from edge_vc.profiles.profile import VoiceProfile, list_profiles

    rows = [{"name": DEFAULT_VOICE, "kind": "voice", "detail": "bundled base voice"}]
    rows += [
        {"name": v.name, "kind": "voice", "detail": f"shipped export ({v.model_path.name})"} for v in shipped_voices()
    ]
    rows += [{"name": v.name, "kind": "voice", "detail": str(v.model_path)} for v in installed_voices()]
    for name in list_profiles():
        try:
            profile = VoiceProfile.load(name, check_encoder=False)
            kind, _, _ = stage_choice(profile)
            detail = f"{kind} stage on {profile.base.get('voice')}, enrolled {profile.created}"
            if profile.consent.mode != "challenge":
                detail += f" ({profile.consent.mode})"
        except ProfileError as exc:
            detail = f"unusable: {exc}"
        rows.append({"name": name, "kind": "profile", "detail": detail})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['kind']:8s} {row['name']:24s} {row['detail']}")


@voices.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print profile.yaml's content as JSON.")
@user_errors
def show_cmd(name, as_json):
    """Show a profile: its stage (and why), base voice, coach findings, consent, encoder."""
    import json

    from edge_vc.errors import ProfileError
    from edge_vc.loader import stage_choice
    from edge_vc.profiles.profile import VoiceProfile, check_encoder_compatible

    profile = VoiceProfile.load(name, check_encoder=False)
    kind, _, reason = stage_choice(profile)
    try:
        check_encoder_compatible(profile)
        encoder_ok = "matches the installed encoder"
    except ProfileError as exc:
        encoder_ok = f"MISMATCH: {exc}"
    if as_json:
        click.echo(json.dumps(profile.to_dict() | {"active_stage": kind, "active_reason": reason}, indent=2))
        return
    enr = profile.enrollment
    click.echo(f"profile   {profile.name}  (schema {profile.schema_version}, created {profile.created})")
    click.echo(f"folder    {profile.path}")
    click.echo(f"base      {profile.base.get('voice')} (probe similarity {profile.base.get('similarity', 'n/a')})")
    click.echo(f"stage     {kind}: {reason}")
    partial = _partial_adaptation(profile.path)
    if partial:
        click.echo(f"adapt     {partial}")
    click.echo(
        f"enrolled  {enr.get('seconds', '?')} s kept, {enr.get('speech_seconds', '?')} s of speech, from "
        + ", ".join(str(s.get("file") or s.get("device")) for s in enr.get("sources", []))
    )
    click.echo(f"encoder   {profile.encoder.get('name')} v{profile.encoder.get('version')}: {encoder_ok}")
    c = profile.consent
    consent = f"{c.mode}, {c.result}, {c.time}"
    if c.mode == "challenge":
        consent += f': said "{c.phrase}", heard "{c.transcript}"'
    click.echo(f"consent   {consent}")
    for finding in profile.coach.get("findings", []):
        click.echo(f"coach     [{finding['level']}] {finding['check']}: {finding['message']}")


def _partial_adaptation(folder) -> str | None:
    """A line about an unfinished ``edge-vc adapt`` run (its checkpoint), or None."""
    import time
    from pathlib import Path

    from edge_vc.stages.learned import LEARNED_DIR, learned_status

    checkpoint = Path(folder) / LEARNED_DIR / "adapt.ckpt"
    status = learned_status(folder) or {}
    if not checkpoint.is_file() or status.get("status") in ("ready", "rejected"):
        return None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(checkpoint.stat().st_mtime))
    steps = (
        f"at step {status['steps']} of {status['target_steps']}" if "steps" in status else "(step count not recorded)"
    )
    how = status.get("message") or "the run stopped before it finished"
    return (
        f"partial adaptation checkpoint {steps}, saved {when} ({how}); `edge-vc adapt {Path(folder).name}` "
        "resumes it, --restart starts over"
    )


@voices.command("rm")
@click.argument("name")
@user_errors
def rm_cmd(name):
    """Delete an enrolled profile, or an installed Piper voice of that name."""
    from edge_vc.base_voice.catalog import installed_voices
    from edge_vc.profiles.profile import PROFILE_FILE, profiles_root, remove_profile

    if not (profiles_root() / name / PROFILE_FILE).is_file() and name in {v.name for v in installed_voices()}:
        from edge_vc.base_voice.store import remove_voice

        click.echo(f"removed voice {remove_voice(name).name} (and its cached speaker atlas)")
        return
    folder = remove_profile(name)
    click.echo(f"removed profile {name} ({folder})")


@voices.command("export")
@click.argument("name")
@click.option("--out", "-o", default=None, help="Archive path (default: NAME.evc).")
@user_errors
def export_cmd(name, out):
    """Write a profile to one .evc file (gzip tar) for another device."""
    from edge_vc.profiles.archive import export_profile

    path = export_profile(name, out)
    click.echo(f"exported {name} to {path} ({path.stat().st_size / 1024:.0f} kB)")


@voices.command("import")
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Install under this name instead of the archive's.")
@click.option("--force", is_flag=True, help="Replace an existing profile of the same name.")
@user_errors
def import_cmd(archive, name, force):
    """Validate and install a profile from a .evc file."""
    from edge_vc.profiles.archive import import_profile

    path = import_profile(archive, name=name, force=force)
    click.echo(f"imported profile {path.name} ({path})")


# Further sub-commands register below, one line each.
from edge_vc.commands.voice_store import add_voice, list_base_voices, remove_base_voice  # noqa: E402

voices.add_command(add_voice)
voices.add_command(remove_base_voice)
voices.add_command(list_base_voices)
