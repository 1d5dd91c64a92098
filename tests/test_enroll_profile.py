"""Voice profiles: round trip, validation, atomic writes (injected failure and a killed writer), archives."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge_vc.errors import ProfileError
from edge_vc.profiles import atomic as atomic_dir
from edge_vc.profiles import profile as prof
from edge_vc.profiles.profile import ConsentRecord, VoiceProfile, list_profiles, remove_profile

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_VC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def encoder_stub_record() -> dict:
    """An encoder record that matches the installed encoder (what enrollment would store)."""
    from edge_vc.speaker.encoder import BUNDLED_MODEL, EXPORT_VERSION

    sha = prof.file_sha256(BUNDLED_MODEL) if BUNDLED_MODEL.is_file() else "0" * 64
    return {"name": "test", "version": EXPORT_VERSION, "sha256": sha, "file": BUNDLED_MODEL.name}


def make_profile(name: str = "alice", seed: int = 0, kind: str = "none", params: dict | None = None) -> VoiceProfile:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal(256).astype(np.float32)
    return VoiceProfile(
        name=name,
        base={"voice": "en_US-joe-medium", "num_speakers": 1, "similarity": 0.5},
        stage_kind=kind,
        stage_params=params or {},
        stage_reason="test",
        encoder=encoder_stub_record(),
        enrollment={"sources": [{"file": "x.wav", "seconds": 1.0}]},
        coach={"findings": []},
        consent=ConsentRecord(prof.NO_CONSENT, "not checked"),
        embedding=emb / np.linalg.norm(emb),
        window_embeddings=rng.standard_normal((4, 256)).astype(np.float32),
    )


def test_round_trip_and_listing(home):
    audio = (0.1 * np.sin(np.arange(24000 * 2) * 0.05)).astype(np.float32)
    folder = make_profile().save(enrollment_audio=(audio, 24000))
    assert folder == home / "profiles" / "alice"
    loaded = VoiceProfile.load("alice")
    assert np.allclose(loaded.embedding, make_profile().embedding)
    assert loaded.window_embeddings.shape == (4, 256)
    assert loaded.consent.mode == prof.NO_CONSENT and loaded.stage_kind == "none"
    import soundfile as sf

    info = sf.info(str(folder / prof.ENROLLMENT_FILE))
    assert info.subtype == "PCM_16" and info.samplerate == 24000 and info.frames == audio.size
    assert list_profiles() == ["alice"]
    with pytest.raises(ProfileError, match="exists"):
        make_profile().save()
    remove_profile("alice")
    assert list_profiles() == [] and not folder.exists()


def test_enrollment_audio_is_capped_at_60_seconds(home):
    audio = np.zeros(24000 * 75, np.float32)
    folder = make_profile().save(enrollment_audio=(audio, 24000))
    import soundfile as sf

    assert sf.info(str(folder / prof.ENROLLMENT_FILE)).duration == pytest.approx(60.0)


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "a b", "x" * 65, "a..b", "ü"])
def test_bad_names_are_refused(home, bad):
    with pytest.raises(ProfileError, match="invalid profile name"):
        make_profile(name=bad).save()


def test_newer_schema_and_other_encoder_are_clear_errors(home):
    folder = make_profile().save()
    data = yaml.safe_load((folder / prof.PROFILE_FILE).read_text())
    data["schema_version"] = prof.SCHEMA_VERSION + 1
    (folder / prof.PROFILE_FILE).write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match="newer than this edge-vc"):
        VoiceProfile.load("alice")
    data["schema_version"] = prof.SCHEMA_VERSION
    data["encoder"]["version"] = 99
    (folder / prof.PROFILE_FILE).write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match="speaker-encoder version 99"):
        VoiceProfile.load("alice")


def test_different_encoder_file_is_detected(home, tmp_path):
    profile = make_profile()
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not the same encoder")
    with pytest.raises(ProfileError, match="different speaker encoder"):
        prof.check_encoder_compatible(profile, encoder_path=other)
    profile.encoder["sha256"] = prof.file_sha256(other)
    prof.check_encoder_compatible(profile, encoder_path=other)


def test_corrupt_profile_is_a_clear_error(home):
    folder = make_profile().save()
    (folder / prof.EMBEDDING_FILE).write_bytes(b"garbage")
    with pytest.raises(ProfileError, match="cannot read embedding"):
        VoiceProfile.load("alice")


def test_failure_mid_write_keeps_the_old_profile(home, monkeypatch):
    make_profile(seed=1).save()
    old = VoiceProfile.load("alice").embedding

    def boom(*args, **kwargs):
        raise OSError("disk full (injected)")

    with monkeypatch.context() as patch:
        patch.setattr(atomic_dir, "fsync_dir", boom)
        with pytest.raises(OSError, match="injected"):
            make_profile(seed=2).save(overwrite=True)
    assert np.array_equal(VoiceProfile.load("alice").embedding, old)
    assert [p.name for p in (home / "profiles").iterdir()] == ["alice"]  # no temp folder left
    make_profile(seed=2).save(overwrite=True)
    assert not np.array_equal(VoiceProfile.load("alice").embedding, old)


_KILL_SCRIPT = """
import os, sys, time
sys.path.insert(0, {repo!r})
from edge_vc.profiles import atomic as atomic_dir
from edge_vc.profiles import atomic as atomic_dir
from tests.test_enroll_profile import make_profile
mode = sys.argv[1]
if mode == "before-swap":
    def stall(path):
        print("ready", flush=True); time.sleep(60)
    atomic_dir.fsync_dir = stall
else:  # between the two renames of the fallback (no renameat2)
    atomic_dir._exchange = lambda a, b: False
    real = os.rename
    def slow_rename(a, b):
        real(a, b)
        if ".old-" in str(b):
            print("ready", flush=True); time.sleep(60)
    atomic_dir.os.rename = slow_rename
make_profile(seed=2).save(overwrite=True)
"""


@pytest.mark.parametrize("mode", ["before-swap", "between-renames"])
def test_killed_writer_leaves_the_old_profile(home, mode):
    make_profile(seed=1).save()
    old = VoiceProfile.load("alice").embedding
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT.format(repo=str(REPO)), mode],
        stdout=subprocess.PIPE, env=dict(os.environ), cwd=str(REPO),
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == b"ready"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    if mode == "between-renames":
        assert not (home / "profiles" / "alice").exists()  # the kill really hit the gap
    loaded = VoiceProfile.load("alice")  # recover() repairs the gap
    assert np.array_equal(loaded.embedding, old)
    time.sleep(0.1)
    assert list_profiles() == ["alice"]
    assert [p.name for p in (home / "profiles").iterdir()] == ["alice"]  # dead writer's temp folder removed


def test_export_import_round_trip(home, tmp_path):
    audio = (0.1 * np.sin(np.arange(24000) * 0.05)).astype(np.float32)
    make_profile().save(enrollment_audio=(audio, 24000))
    from edge_vc.profiles.archive import export_profile, import_profile

    archive = export_profile("alice", tmp_path / "alice.evc")
    with tarfile.open(archive) as tar:
        names = sorted(tar.getnames())
    assert "alice/profile.yaml" in names and "alice/embedding.npz" in names and "alice/enrollment.wav" in names
    import_profile(archive, name="bob")
    bob = VoiceProfile.load("bob")
    assert bob.name == "bob" and np.allclose(bob.embedding, VoiceProfile.load("alice").embedding)
    with pytest.raises(ProfileError, match="exists"):
        import_profile(archive, name="bob")


def _tar_bytes(entries: dict[str, bytes], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return buffer.getvalue()


def test_import_refuses_bad_archives_and_writes_nothing(home, tmp_path):
    from edge_vc.profiles.archive import export_profile, import_profile

    make_profile().save()
    good = export_profile("alice", tmp_path / "alice.evc")
    remove_profile("alice")
    cases = {
        "traversal": (_tar_bytes({"alice/../../evil.txt": b"x"}), "unsafe path"),
        "link": (_tar_bytes({"alice/profile.yaml": b"x"}, link="alice/embedding.npz"), "link"),
        "corrupt": (good.read_bytes()[: len(good.read_bytes()) // 2], "damaged|not an edge-vc"),
        "no-yaml": (_tar_bytes({"alice/readme.txt": b"x"}), "no profile.yaml"),
        "garbage-yaml": (_tar_bytes({"alice/profile.yaml": b"[1, 2", "alice/embedding.npz": b"x"}), "cannot read"),
    }
    with tarfile.open(good) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    newer = yaml.safe_load(members["alice/profile.yaml"])
    newer["schema_version"] = 99
    members["alice/profile.yaml"] = yaml.safe_dump(newer).encode()
    cases["newer"] = (_tar_bytes(members), "newer than this edge-vc")
    for label, (data, message) in cases.items():
        path = tmp_path / f"{label}.evc"
        path.write_bytes(data)
        with pytest.raises(ProfileError, match=message):
            import_profile(path)
        leftovers = list((home / "profiles").iterdir()) if (home / "profiles").exists() else []
        assert leftovers == [], (label, leftovers)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_loader_builds_the_profile_stage(home):
    from edge_vc.loader import load_profile_pipeline, profile_exists
    from edge_vc.stages.base import IdentityStage

    assert not profile_exists("nobody") and not profile_exists("some/path.onnx") and not profile_exists(None)
    make_profile("plain").save()
    assert profile_exists("plain")
    speaker = load_profile_pipeline("plain", threads=1)
    assert isinstance(speaker.stage, IdentityStage) and speaker.profile_name == "plain"
    dsp = pytest.importorskip("edge_vc.stages.dsp")
    params = dsp.DSPParams(pitch_shift_semitones=3.0, formant_warp=1.05).to_dict()
    make_profile("shifted", kind="dsp", params=params).save()
    speaker = load_profile_pipeline("shifted", threads=1)
    assert isinstance(speaker.stage, dsp.DSPStage) and speaker.stage.params.pitch_shift_semitones == 3.0
    bad = make_profile("broken", kind="dsp", params={"pitch_shift_semitones": 99.0})
    bad.save()
    with pytest.raises(ProfileError, match="pitch_shift"):
        load_profile_pipeline("broken", threads=1)


@pytest.mark.slow
def test_say_and_voices_commands_use_profiles(home, run_cli, tmp_path):
    make_profile("carol").save()
    env = {"EDGE_VC_HOME": str(home)}
    listed = run_cli("voices", "list", env=env)
    assert listed.returncode == 0 and "carol" in listed.stdout.decode()
    shown = run_cli("voices", "show", "carol", env=env)
    out = shown.stdout.decode()
    assert shown.returncode == 0 and "stage     none: test" in out and "no-consent import" in out
    wav = tmp_path / "carol.wav"
    said = run_cli("say", "Hello there.", "--voice", "carol", "-o", str(wav), "--verbose", env=env)
    assert said.returncode == 0, said.stderr.decode()
    assert "none stage" in said.stderr.decode() and wav.stat().st_size > 10000
    missing = run_cli("voices", "show", "nobody", env=env)
    assert missing.returncode == 8 and "no profile named 'nobody'" in missing.stderr.decode()
    removed = run_cli("voices", "rm", "carol", env=env)
    assert removed.returncode == 0 and not (home / "profiles" / "carol").exists()
