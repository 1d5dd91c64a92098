"""Installing local Piper voices: validation, clear errors, and an unchanged store on bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.fixtures.random_multispeaker import build_random_multispeaker_voice


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """(multi-speaker fixture model, single-speaker fixture model) in a temp folder."""
    folder = tmp_path_factory.mktemp("voices-src")
    multi, _ = build_random_multispeaker_voice(folder, n_speakers=4, seed=3)
    single, _ = build_random_multispeaker_voice(folder, n_speakers=1, seed=4)
    return multi, single


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_VC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _snapshot(home):
    folder = home / "voices"
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _bad_copy(src, folder, name, mutate=None, sidecar=True):
    model = folder / f"{name}.onnx"
    shutil.copyfile(src, model)
    if sidecar:
        data = json.loads(src.with_name(src.name + ".json").read_text())
        if mutate:
            mutate(data)
        model.with_name(model.name + ".json").write_text(json.dumps(data))
    return model


@pytest.mark.slow
def test_install_list_remove_multispeaker(fixtures, home):
    from edge_vc.base_voice.store import install_voice, list_voices, remove_voice, voice_cache_dir

    multi, _ = fixtures
    info = install_voice(multi, name="fixture-multi")
    assert info.num_speakers == 4
    listed = {v.name: v.num_speakers for v in list_voices()}
    assert listed["fixture-multi"] == 4 and listed["en_US-joe-medium"] == 1
    voice_cache_dir("fixture-multi").mkdir(parents=True)
    remove_voice("fixture-multi")
    assert _snapshot(home) == {}
    assert not voice_cache_dir("fixture-multi").exists()


def _make_bad_inputs(fixtures, folder):
    multi, single = fixtures

    def speakers(n):
        def mutate(d):
            d["num_speakers"] = n
            d["speaker_id_map"] = {}

        return mutate

    def big_ids(d):
        d["phoneme_id_map"]["Z"] = [300]

    return [
        (_bad_copy(multi, folder, "nosidecar", sidecar=False), "no sidecar"),
        (_bad_copy(multi, folder, "wrongcount", speakers(3)), "speaker table has 4"),
        (_bad_copy(multi, folder, "zero", speakers(0)), "num_speakers must be >= 1"),
        (_bad_copy(single, folder, "nosid", speakers(4)), "no sid input"),
        (_bad_copy(multi, folder, "onespk", speakers(1)), "says 1 speaker"),
        (_bad_copy(multi, folder, "bigids", big_ids), "phoneme ids go up to 300"),
    ]


@pytest.mark.slow
def test_bad_voices_give_clear_errors_and_leave_store_unchanged(fixtures, home, tmp_path):
    from edge_vc.base_voice.store import install_voice
    from edge_vc.errors import EdgeVCError

    install_voice(fixtures[0], name="already-there")
    before = _snapshot(home)
    for model, message in _make_bad_inputs(fixtures, tmp_path):
        with pytest.raises(EdgeVCError, match=message):
            install_voice(model)
        assert _snapshot(home) == before, model.name
    with pytest.raises(EdgeVCError, match="already installed"):
        install_voice(fixtures[0], name="already-there")
    assert _snapshot(home) == before


@pytest.mark.slow
def test_cli_voices_add_reports_speakers_and_errors(fixtures, home, tmp_path, run_cli):
    env = {"EDGE_VC_HOME": str(home)}
    done = run_cli("voices", "add", str(fixtures[0]), "--name", "fixture-cli", env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert "4 speakers" in done.stdout.decode()
    before = _snapshot(home)
    bad = _bad_copy(fixtures[0], tmp_path, "nosidecar2", sidecar=False)
    failed = run_cli("voices", "add", str(bad), env=env)
    assert failed.returncode != 0
    err = failed.stderr.decode()
    assert "no sidecar" in err and "Traceback" not in err
    assert _snapshot(home) == before
    single = run_cli("voices", "add", str(fixtures[1]), "--name", "fixture-single", env=env)
    assert single.returncode == 0 and "1 speaker (DSP stage only, no atlas)" in single.stdout.decode()
    listed = run_cli("voices", "base", env=env)
    assert "fixture-cli  4 speakers" in listed.stdout.decode()
    assert "en_US-joe-medium  1 speaker (DSP stage only, no atlas)" in listed.stdout.decode()
    assert run_cli("voices", "rm", "fixture-single", env=env).returncode == 0
    removed = run_cli("voices", "rm", "fixture-cli", env=env)
    assert removed.returncode == 0 and "removed voice fixture-cli" in removed.stdout.decode()
    assert _snapshot(home) == {}
