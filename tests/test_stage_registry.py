"""The stage registry: one entry per kind (parse, estimate, build); no other place dispatches on a kind."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge_vc.errors import EnrollmentError, ProfileError
from edge_vc.stages import registry
from edge_vc.stages.registry import EstimateInput


def test_kinds_and_what_each_can_do():
    assert registry.STAGE_KINDS == ("none", "dsp", "learned", "converter")
    assert registry.estimable_kinds() == ("none", "dsp", "converter")  # learned: made later by `adapt`
    assert registry.estimable_kinds(from_recording_only=True) == ("none", "dsp")  # converter needs a model
    from edge_vc.bench.variants import STAGE_BUILDERS
    from edge_vc.enroll.flow import STAGE_CHOICES

    assert tuple(STAGE_BUILDERS) == ("none", "dsp") and STAGE_CHOICES == ("auto", "none", "dsp", "converter")


def test_parse_validates_stored_params_per_kind():
    assert registry.parse_params("none", {}) is None
    assert registry.parse_params("learned", {}) is None  # the profile's own learned/ folder
    dsp = registry.parse_params("dsp", {"pitch_shift_semitones": "2"})
    assert dsp.pitch_shift_semitones == 2.0
    with pytest.raises(ProfileError, match="invalid DSP voice-stage parameters: unknown keys: colour"):
        registry.parse_params("dsp", {"colour": 1})
    with pytest.raises(ProfileError, match="invalid learned voice-stage parameters: vocoder must be one of"):
        registry.parse_params("learned", {"decoder_path": "d.onnx", "vocoder": "wavenet"})
    with pytest.raises(ProfileError, match="invalid converter voice-stage parameters: missing required keys"):
        registry.parse_params("converter", {"target_se": [1.0]})
    with pytest.raises(ProfileError, match="unknown voice-stage kind 'wavenet'"):
        registry.parse_params("wavenet", {})


def test_estimate_refuses_kinds_it_cannot_make():
    inputs = EstimateInput(np.zeros(24000, np.float32), 24000, base_voice=None)
    assert registry.estimate_stage("none", inputs).params == {}
    with pytest.raises(EnrollmentError, match="learned voice stage is not estimated at enrollment"):
        registry.estimate_stage("learned", inputs)
    with pytest.raises(EnrollmentError, match="converter voice stage needs converter"):
        registry.estimate_stage("converter", inputs)
    with pytest.raises(ProfileError, match="unknown voice-stage kind"):
        registry.estimate_stage("nope", inputs)


def test_building_a_dsp_stage_imports_no_other_stage():
    code = (
        "import sys\n"
        "from edge_vc.stages.registry import build_stage, parse_params, STAGES\n"
        "stage = build_stage('dsp', {'pitch_shift_semitones': 1.0}, sample_rate=22050)\n"
        "parse_params('learned', {})\n"
        "assert STAGES['dsp'].available()\n"
        "print(type(stage).__name__, sorted(m for m in sys.modules if m.startswith('edge_vc.stages.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "DSPStage"
    loaded = "".join(out[1:])
    assert "edge_vc.stages.dsp'" in loaded
    assert "learned" not in loaded and "converter" not in loaded and "dsp_estimate" not in loaded
