"""What a new user hits with say and the sinks (issue 19): output names and folders, clipping, ignored
options, file modes, terminal escapes and XML documents. Each test failed before its fix."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from edge_vc.errors import InvalidTextError


@pytest.fixture()
def umask():
    """Set the process umask (inherited by CLI subprocesses) for one test; restored afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_out_into_a_missing_folder_is_refused_and_makes_nothing(run_cli, tmp_path):
    target = tmp_path / "nonexistent" / "dir" / "a.wav"
    result = run_cli("say", "Hi.", "--out", str(target), "--threads", "1")
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "edge-vc: error:" in err and "does not exist" in err and "--mkdir" in err
    assert not (tmp_path / "nonexistent").exists(), "no folder may be created"


def test_out_with_mkdir_creates_the_folders(run_cli, tmp_path):
    target = tmp_path / "new" / "dir" / "a.wav"
    result = run_cli("say", "Hi.", "--out", str(target), "--mkdir", "--threads", "1")
    assert result.returncode == 0, result.stderr.decode()
    assert target.read_bytes()[:4] == b"RIFF"


def test_out_with_an_unknown_type_is_refused(run_cli, tmp_path):
    target = tmp_path / "a.mp3"
    result = run_cli("say", "Hi.", "--out", str(target), "--threads", "1")
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "'.mp3' is not a supported output type" in err and ".wav, .flac, .ogg" in err
    assert list(tmp_path.iterdir()) == [], "nothing written, not even a temp file"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "fmt"), [("a.flac", "FLAC"), ("b.OGG", "OGG"), ("c.wav", "WAV")])
def test_out_writes_the_type_its_name_promises(run_cli, tmp_path, name, fmt):
    import soundfile

    target = tmp_path / name
    result = run_cli("say", "Hello there.", "--out", str(target), "--threads", "1")
    assert result.returncode == 0, result.stderr.decode()
    info = soundfile.info(str(target))
    assert info.format == fmt and info.samplerate == 22050 and info.channels == 1
    assert info.frames > 0.3 * 22050
    audio, _ = soundfile.read(str(target), dtype="float32")
    assert float(np.sqrt(np.mean(audio**2))) > 0.01, "real speech, not silence"


@pytest.mark.slow
def test_loud_volume_warns_with_the_clipped_share_and_normal_volume_is_silent(run_cli, tmp_path):
    loud = run_cli("say", "This sentence is far too loud.", "--volume", "4", "--out", str(tmp_path / "l.wav"))
    assert loud.returncode == 0
    lines = [line for line in loud.stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1 and "warning" in lines[0] and "% of the samples clipped" in lines[0], lines
    share = float(lines[0].split("warning: ")[1].split("%")[0])
    import soundfile

    audio, _ = soundfile.read(str(tmp_path / "l.wav"), dtype="float32")
    measured = 100.0 * float(np.mean(np.abs(audio) >= 0.999))
    assert share > 0.1 and abs(share - measured) < 0.15, (share, measured)
    normal = run_cli("say", "This sentence is fine.", "--out", str(tmp_path / "n.wav"))
    assert normal.returncode == 0 and normal.stderr == b""


@pytest.mark.slow
def test_speaker_on_a_single_speaker_voice_is_reported(run_cli, tmp_path):
    result = run_cli("say", "Hi.", "--speaker", "3", "--out", str(tmp_path / "s.wav"))
    assert result.returncode == 0
    err = result.stderr.decode()
    assert "single speaker" in err and "--speaker 3 is ignored" in err


@pytest.mark.slow
def test_output_wav_follows_the_umask(run_cli, tmp_path, umask):
    umask(0o022)
    result = run_cli("say", "Hi.", "--out", str(tmp_path / "a.wav"), "--threads", "1")
    assert result.returncode == 0
    assert _mode(tmp_path / "a.wav") == 0o644
    umask(0o027)
    result = run_cli("say", "Hi.", "--out", str(tmp_path / "b.flac"), "--threads", "1")
    assert result.returncode == 0
    assert _mode(tmp_path / "b.flac") == 0o640


def test_atomic_writes_follow_the_umask_unless_private(tmp_path, umask):
    from edge_vc.audio.io import atomic_write_bytes, write_wav

    umask(0o022)
    write_wav(tmp_path / "x.wav", np.zeros(100, np.float32), 16000)
    atomic_write_bytes(tmp_path / "public.json", b"{}")
    atomic_write_bytes(tmp_path / "secret", b"token", private=True)
    assert _mode(tmp_path / "x.wav") == 0o644 and _mode(tmp_path / "public.json") == 0o644
    assert _mode(tmp_path / "secret") == 0o600


def test_evc_export_follows_the_umask(tmp_path, monkeypatch, umask):
    from edge_vc.profiles.archive import export_profile
    from tests.test_enroll_profile import make_profile

    monkeypatch.setenv("EDGE_VC_HOME", str(tmp_path / "home"))
    make_profile("umasked").save(enrollment_audio=(np.zeros(24000, np.float32), 24000))
    umask(0o002)
    archive = export_profile("umasked", tmp_path / "umasked.evc")
    assert _mode(archive) == 0o664


@pytest.mark.parametrize(
    "escaped",
    [
        "\x1b[31mRed alert\x1b[0m for 5 m",
        "\x1b[1;38;5;196mRed alert\x1b[m for 5 m",
        "\x1b]0;window title\x07Red alert for 5 m",
        "\x1b]8;;https://example.com\x1b\\Red alert\x1b]8;;\x1b\\ for 5 m",
        "\x9b31mRed alert for 5 m\x1bc",
    ],
)
def test_terminal_escapes_are_removed_whole(escaped):
    from edge_vc.text.ssml import speech_plan

    plain = [u.text for u in speech_plan("Red alert for 5 m")]
    assert [u.text for u in speech_plan(escaped)] == plain
    assert [u.text for u in speech_plan(f"<speak>{escaped}</speak>")] == plain


@pytest.mark.parametrize(
    "document",
    [
        '<?xml version="1.0"?>\n<note><body>Hello there</body></note>',
        "<!DOCTYPE html>\n<html><body><p>Hello there</p></body></html>",
        '  <!doctype note SYSTEM "note.dtd"><note>Hello there</note>',
    ],
)
def test_xml_documents_are_refused_without_ssml_and_read_with_it(document):
    from edge_vc.render import SpeechRequest
    from edge_vc.text.ssml import speech_plan

    with pytest.raises(InvalidTextError, match="XML document.*--ssml"):
        list(speech_plan(SpeechRequest(document).markup()))
    plan = speech_plan(SpeechRequest(document, ssml=True).markup())
    assert [u.text for u in plan if hasattr(u, "text")] == ["Hello there"]


def test_xml_ssml_document_is_still_detected():
    from edge_vc.text.ssml import speech_plan

    doc = (
        '<?xml version="1.0"?>\n<!DOCTYPE speak PUBLIC "-//W3C//DTD SYNTHESIS 1.0//EN" "synthesis.dtd">\n'
        '<speak version="1.0">Hello <break time="300ms"/> there</speak>'
    )
    plan = list(speech_plan(doc))
    assert [getattr(p, "text", None) for p in plan] == ["Hello", None, "there"]


def test_cli_refuses_an_xml_document_cleanly(run_cli, tmp_path):
    out = tmp_path / "x.wav"
    result = run_cli("say", "--out", str(out), input=b'<!DOCTYPE speak PUBLIC "x" "y">\n<p>Hello</p>\n')
    assert result.returncode == InvalidTextError.exit_code
    assert result.stderr.decode().startswith("edge-vc: error: the text is an XML document")
    assert not out.exists()


def test_profile_folders_are_private_on_purpose(tmp_path, monkeypatch, umask):
    from edge_vc.profiles.archive import export_profile, import_profile
    from tests.test_enroll_profile import make_profile

    monkeypatch.setenv("EDGE_VC_HOME", str(tmp_path / "home"))
    umask(0o022)
    folder = make_profile("private").save(enrollment_audio=(np.zeros(24000, np.float32), 24000))
    assert _mode(Path(folder)) == 0o700, "a voice profile is readable by its owner only"
    archive = export_profile("private", tmp_path / "private.evc")
    assert _mode(archive) == 0o644, "the export the user hands on follows the umask"
    imported = import_profile(archive, name="private2")
    assert _mode(Path(imported)) == 0o700
