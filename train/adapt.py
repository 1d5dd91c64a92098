"""Adapt the learned stage to one speaker: fine-tune the pretrained base decoder on a recording.

Recipe (docs/learned-stage.md): start from ``edge_vc/data/learned/base_decoder.npz``, copy the
base voice's FiLM row to the speaker's row and start the speaker's mel bias at the base bias plus
the speaker's long-term mel offset (speaker mean mel − base-voice mean mel); fine-tune every weight
at lr 2e-4 (speaker FiLM rows and bias at 10×) for 1,000 steps of 8 × 200 frames, a quarter of each
batch from the speaker and three quarters from base-voice speech (replay, so the shared layers keep
the base part's intelligibility). A base decoder with a pitch input also gets the pitch map
(base-voice range → speaker range) stored in the exported decoder's metadata. Resumable: a
checkpoint is kept every 100 steps and reused by the next call. ``export_decoder`` writes the
speaker's decoder as ONNX. Extra losses on the speaker row for base-voice content (moments, a critic,
a content anchor; ``speaker_row_loss``) are off by default: measured, not adopted (docs/learned-stage.md).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from edge_vc.models.voice_decoder import SpeakerDecoder, VoiceDecoder
from edge_vc.train.adversarial import AdversarialTarget
from edge_vc.train.loop import Corpus, Schedule, sample, train
from edge_vc.train.moments import CLASSES as MOMENT_CLASSES
from edge_vc.train.moments import MomentTarget
from edge_vc.train.pretrain import load_npz, shipped_base_decoder

from edge_vc.features.pitch import REFERENCE_HZ, PitchMap
from edge_vc.fileio import atomic_path

BASE_DECODER = shipped_base_decoder()
SPEAKER_PARAMS = ("film", "mel_bias")
"""Parameter-name prefixes of the speaker-specific weights (embedding rows)."""
CONTENT_SOURCES = ("enrollment", "normalised", "both")


@dataclass
class AdaptConfig:
    """Adaptation settings (defaults: the measured best recipe)."""

    steps: int = 1000
    lr: float = 2e-4
    replay: float = 0.75
    """Share of each batch drawn from base-voice speech (0.5 before: utterance WER ~3 points higher)."""

    replay_minutes: float = 4.0
    """Base-voice speech synthesized once (cached) for replay."""

    threads: int = 2
    seed: int = 0
    bias_init: bool = True
    """Start the speaker's mel bias at the base bias + (speaker mean mel − base-voice mean mel)."""

    speaker_lr_scale: float = 10.0
    """Learning-rate multiplier of the speaker-specific parameters (FiLM rows, mel bias)."""

    content_shifts: tuple[float, ...] = (1.0,)
    """Voice shifts of the speaker's content versions (perturbation; see ``shifted_content``)."""

    content_source: str = "enrollment"
    """Audio the speaker's content features come from: "enrollment" (as recorded), "normalised" (a copy
    moved to the base voice's pitch range and vocal-tract length, ``normalised_audio``, so the speaker's
    rows learn from base-voice-like content, as they get at synthesis) or "both" (a random one of the
    two per crop). The target mel and pitch stay the enrollment's. Measured: docs/learned-stage.md."""

    moment_weight: float = 0.0
    """Weight of the moment-matching loss (``edge_vc.train.moments``): the speaker row on replay content
    pulled to the enrollment's per-class band mean and spread; 0 turns it off."""

    moment_classes: str = "unvoiced"
    """Frame classes matched: "unvoiced" (unvoiced speech), "voiced" or "all"."""

    speaker_row_scope: str = "all"
    """Weights the moment and critic losses train: "all", or "speaker" (only the speaker's FiLM row and
    mel bias, so the shared layers learn from L1 alone)."""

    adversarial_weight: float = 0.0
    """Weight of a small mel critic's loss (``edge_vc.train.adversarial``) on the same speaker-row outputs
    for replay content; 0 turns it off. The critic is not checkpointed: a resumed run starts a new one."""

    critic_sees_content: bool = False
    """The critic also sees the content features each mel should say (real: the enrollment's own), so
    that losing the words gives the speaker row's output away."""

    critic_frames: int = 0
    """0: the critic judges 31 frames of context (words included); 1: each frame's spectrum alone."""

    anchor_weight: float = 0.0
    """Weight of the content anchor on the same outputs: 1 − the per-band correlation over time with the
    base voice's mel for that content (``content_anchor``), blind to each band's level and spread, so that
    the moment and critic losses can move timbre but not the words (only beside one of them); 0: off."""

    def validate(self) -> None:
        if self.steps <= 0 or self.lr <= 0 or self.threads <= 0:
            raise ValueError("steps, lr and threads must be > 0")
        if not 0 <= self.replay < 1:
            raise ValueError("replay must be in [0, 1)")
        if not self.content_shifts or not all(0.5 <= k <= 2.0 for k in self.content_shifts):
            raise ValueError("content_shifts must be a non-empty list of factors in [0.5, 2]")
        if self.content_source not in CONTENT_SOURCES:
            raise ValueError(f"content_source must be one of {', '.join(CONTENT_SOURCES)}")
        if min(self.moment_weight, self.adversarial_weight, self.anchor_weight) < 0:
            raise ValueError("moment_weight, adversarial_weight and anchor_weight must be >= 0")
        if self.critic_frames not in (0, 1):
            raise ValueError("critic_frames must be 0 (context) or 1 (single frames)")
        if self.speaker_row_scope not in ("all", "speaker"):
            raise ValueError("speaker_row_scope must be all or speaker")
        if self.moment_classes not in MOMENT_CLASSES:
            raise ValueError(f"moment_classes must be one of {', '.join(MOMENT_CLASSES)}")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["content_shifts"] = list(self.content_shifts)
        return data


def replay_corpus(minutes: float, threads: int = 2, seed: int = 4321, pitch: bool = False) -> Corpus:
    """Base-voice speech for replay: synthesized and encoded once, cached under EDGE_VC_HOME/cache."""
    from edge_vc.train.sentences import generate

    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.features.content import ContentEncoder
    from edge_vc.features.hifigan_mel import hifigan_log_mel
    from edge_vc.features.pitch import pitch_features
    from edge_vc.paths import cache_dir

    path = cache_dir() / "learned" / f"replay_{minutes:g}min_{seed}{'_f0' if pitch else ''}.npz"
    if path.is_file():
        return Corpus.load(path, speaker=0)
    voice = BaseVoice.load(threads=threads)
    encoder = ContentEncoder.load(threads=threads)
    contents, mels, pitches, total = [], [], [], 0.0
    for sentence in generate(int(minutes * 30) + 20, seed):
        audio = np.concatenate([c.audio for c in voice.synthesize(sentence)])
        mel = hifigan_log_mel(audio, voice.sample_rate)
        contents.append(encoder.encode(audio, voice.sample_rate, mel.shape[0]).astype(np.float16))
        mels.append(mel.astype(np.float16))
        if pitch:
            pitches.append(pitch_features(audio, voice.sample_rate, mel.shape[0]).astype(np.float16))
        total += audio.size / voice.sample_rate
        if total >= minutes * 60:
            break
    arrays = {"content": np.concatenate(contents), "mel": np.concatenate(mels)}
    if pitch:
        arrays["pitch"] = np.concatenate(pitches)
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return Corpus.load(path, speaker=0)


def corpora(
    audio: np.ndarray, rate: int, encoder, config: AdaptConfig, base: Path = BASE_DECODER
) -> tuple[Corpus, Corpus, PitchMap | None]:
    """The speaker's corpus, the replay corpus and (for a decoder with pitch input) the pitch map."""
    config.validate()
    pitch = load_npz(base).config.pitch_dim > 0
    shifts = tuple(config.content_shifts)
    speaker = Corpus.from_audio(audio, rate, encoder, speaker=1, pitch=pitch, shifts=shifts)
    replay = replay_corpus(config.replay_minutes, threads=config.threads, pitch=pitch)
    pitch_map = PitchMap.between(replay.pitch, speaker.pitch) if pitch else None
    if config.content_source != "enrollment":
        if pitch_map is None:
            raise ValueError("content_source needs a base decoder with a pitch input (for the pitch map)")
        from edge_vc.features.content import shifted_content
        from edge_vc.features.hifigan_mel import HIFIGAN_RATE

        normal = normalised_audio(speaker, pitch_map)
        versions = np.stack([shifted_content(encoder, normal, HIFIGAN_RATE, speaker.frames, k) for k in shifts])
        if config.content_source == "both":
            original = speaker.content if speaker.content.ndim == 3 else speaker.content[None]
            versions = np.concatenate([original, versions])
        speaker.content = versions[0] if versions.shape[0] == 1 else versions
    return speaker, replay, pitch_map


def normalised_audio(speaker: Corpus, pitch_map: PitchMap) -> np.ndarray:
    """The recording re-rendered in the base voice's range (22 050 Hz, one hop per mel frame): its
    log-mel envelope with the formants ÷ the DSP estimate's prior warp (F0 ratio^0.25, within its bounds),
    through the source-filter renderer with its pitch contour moved to the base voice's median and
    spread (``pitch_map`` inverted). PSOLA (the DSP stage) cannot move real speech down by 15-24
    semitones: at -12 st the output's median F0 barely moved (seed-vc s4: 255 → 267 Hz)."""
    from edge_vc.features.hifigan_mel import hifigan_mel_config
    from edge_vc.features.mel import hz_to_mel, mel_to_hz
    from edge_vc.stages.dsp_estimate import WARP_BOUNDS
    from edge_vc.vocoder.source_filter import SourceFilterVocoder

    if speaker.pitch is None:
        raise ValueError("normalised content needs the speaker's pitch frames")
    shift = pitch_map.target_median - pitch_map.source_median  # speaker above the base voice, semitones
    warp = float(np.clip(2.0 ** (shift / 48.0), *WARP_BOUNDS))
    mel_config = hifigan_mel_config()
    span = np.linspace(hz_to_mel(mel_config.fmin), hz_to_mel(mel_config.fmax), mel_config.n_mels + 2)
    centres = mel_to_hz(span)[1:-1]
    # the envelope first: the mel averaged over the bands within one of the speaker's F0 (as the renderer
    # does), else the speaker's harmonic ripple survives and the copy keeps a residue pitch near the
    # speaker's (seed-vc s2: YIN read 170 Hz in a copy rendered at 92 Hz)
    f0 = np.where(speaker.pitch[:, 1] > 0.5, REFERENCE_HZ * 2.0 ** speaker.pitch[:, 0].astype(np.float64), 0.0)
    near = np.abs(centres[:, None] - centres[None, :])[None] <= f0[:, None, None]
    near |= np.eye(centres.size, dtype=bool)[None]
    linear = np.einsum("tij,tj->ti", near.astype(np.float32), np.exp(speaker.mel.astype(np.float32)))
    mel = np.log(linear / near.sum(2) + 1e-9).astype(np.float64)
    warped = np.stack([np.interp(centres * warp, centres, row) for row in mel])  # envelope(f) = old(f × warp)
    m = pitch_map
    to_base = PitchMap(m.target_median, m.target_spread, m.source_median, m.source_spread)
    return SourceFilterVocoder()(warped, to_base.apply(speaker.pitch))


def level_offset_db(audio: np.ndarray, rate: int, threads: int = 2) -> float:
    """dB from the base voice's speech level to the speaker's (clipped to -30..-12 dBFS, as the DSP
    stage's loudness target is), so that switching a profile from DSP to learned keeps its level."""
    from edge_vc.train.sentences import generate

    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.dsp.analysis import active_rms_db
    from edge_vc.stages.dsp_estimate import LOUDNESS_RANGE_DBFS

    voice = BaseVoice.load(threads=threads)
    base = np.concatenate([c.audio for s in generate(3, seed=99) for c in voice.synthesize(s)])
    target = float(np.clip(active_rms_db(audio, rate), *LOUDNESS_RANGE_DBFS))
    return round(target - active_rms_db(base, voice.sample_rate), 2)


def init_from_base(base: Path = BASE_DECODER) -> VoiceDecoder:
    """The pretrained decoder with the speaker's FiLM row and mel bias copied from the base voice's."""
    model = load_npz(base)
    with torch.no_grad():
        model.film.weight[1] = model.film.weight[0]
        model.mel_bias.weight[1] = model.mel_bias.weight[0]
    return model


def adapt(
    speaker: Corpus,
    replay: Corpus,
    checkpoint: Path,
    config: AdaptConfig,
    seconds: float | None = None,
    progress=None,
    base: Path = BASE_DECODER,
) -> tuple[VoiceDecoder, dict]:
    """Fine-tune (or resume fine-tuning) on ``speaker``; returns the model and the loop's result."""
    config.validate()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = init_from_base(base)
    if config.bias_init:
        offset = speaker.mel.astype(np.float32).mean(0) - replay.mel.astype(np.float32).mean(0)
        # (pseudo-voice pretraining: the base row already spans pitch; the bias still moves the channel)
        with torch.no_grad():
            model.mel_bias.weight[1] += torch.from_numpy(offset)
    scales = dict.fromkeys(SPEAKER_PARAMS, config.speaker_lr_scale)
    sources = [(speaker, 1.0 - config.replay)] + ([(replay, config.replay)] if config.replay > 0 else [])
    schedule = Schedule(steps=config.steps, lr=config.lr, final_lr_ratio=0.5, warmup=20)
    extra = speaker_row_loss(model, speaker, replay, config, schedule.frames)
    result = train(
        model, sources, schedule, checkpoint, seconds=seconds, seed=config.seed, progress=progress,
        lr_scales=scales, extra_loss=extra,
    )  # fmt: skip
    return model, result


def speaker_row_loss(model: VoiceDecoder, speaker: Corpus, replay: Corpus, config: AdaptConfig, frames: int):
    """The extra loss on the speaker row's output for replay content (moments and/or critic), or None."""
    if config.moment_weight <= 0 and config.adversarial_weight <= 0:
        return None
    if speaker.pitch is None or replay.pitch is None:
        raise ValueError("moment matching and the critic need a base decoder with a pitch input")
    pitch_map = PitchMap.between(replay.pitch, speaker.pitch)
    moments = MomentTarget.build(speaker, replay, pitch_map, config.moment_classes, config.moment_weight)
    critic = None
    if config.adversarial_weight > 0:
        critic = AdversarialTarget(
            speaker, config.adversarial_weight, seed=config.seed, sees_content=config.critic_sees_content,
            frames=config.critic_frames,
        )  # fmt: skip

    def extra(rng: np.random.Generator) -> torch.Tensor:
        batch = sample(moments.corpus, moments.crops, frames, rng)
        if config.speaker_row_scope == "speaker":  # the shared weights as constants: only the speaker rows learn
            weights = {n: p if n.startswith(SPEAKER_PARAMS) else p.detach() for n, p in model.named_parameters()}
            out = torch.func.functional_call(model, weights, (batch[0], batch[2], batch[3]))
        else:
            out = model(batch[0], batch[2], batch[3])
        total = moments.loss(out, batch) if config.moment_weight > 0 else out.new_zeros(())
        if config.anchor_weight > 0:
            total = total + config.anchor_weight * content_anchor(out, batch[1])
        return total + critic.loss(out, rng, batch[0]) if critic is not None else total

    return extra


def content_anchor(out: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """1 − the mean over crops and bands of the correlation over time of ``out`` and ``reference`` [n, 80, T]."""
    a = out - out.mean(2, keepdim=True)
    b = reference - reference.mean(2, keepdim=True)
    corr = (a * b).sum(2) / (a.norm(dim=2) * b.norm(dim=2) + 1e-6)
    return 1.0 - corr.mean()


def export_decoder(model: VoiceDecoder, path: Path, metadata: dict[str, str], speaker: int = 1) -> float:
    """Write the decoder fixed to ``speaker`` as ONNX (dynamic length); returns max |ONNX - torch| on mel."""
    from edge_vc.export.speaker_encoder import set_onnx_metadata

    from edge_vc.backends.onnx import create_session

    wrapper = SpeakerDecoder(model.eval(), speaker).eval()
    pitch_dim = model.config.pitch_dim
    dummy = (torch.randn(1, 173, model.config.content_dim),) + ((torch.randn(1, 173, pitch_dim),) if pitch_dim else ())
    names = ["content"] + (["pitch"] if pitch_dim else [])
    with atomic_path(path) as tmp:  # the decoder appears only once it ran and matched torch
        torch.onnx.export(
            wrapper, dummy, str(tmp), input_names=names, output_names=["mel"], opset_version=17,
            dynamic_axes={**{n: {1: "frames"} for n in names}, "mel": {2: "frames"}}, dynamo=False,
        )  # fmt: skip
        set_onnx_metadata(tmp, metadata)
        probe = (torch.randn(1, 311, model.config.content_dim) * model.content_std + model.content_mean,)
        if pitch_dim:
            probe += (torch.randn(1, 311, pitch_dim) * 0.5,)
        with torch.no_grad():
            expected = wrapper(*probe).numpy()
        session = create_session(tmp, threads=1)
        got = session.run(None, {n: t.numpy() for n, t in zip(names, probe, strict=True)})[0]
    # the LiteRT form beside it (decoder.tflite), when TensorFlow is installed: a board without
    # onnxruntime only loads it (edge_vc.export.decoder_tflite)
    from edge_vc.export.decoder_tflite import export as export_tflite

    export_tflite(model, path.with_suffix(".tflite"), metadata, [t.numpy() for t in probe], expected, speaker)
    return float(np.abs(got - expected).max())


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def metadata_for(
    config: AdaptConfig,
    result: dict,
    speaker_seconds: float,
    base: Path = BASE_DECODER,
    pitch_map: PitchMap | None = None,
    level_offset: float | None = None,
) -> dict:
    extra = {"pitch_map": json.dumps(pitch_map.to_dict())} if pitch_map is not None else {}
    if level_offset is not None:
        extra["level_offset_db"] = f"{level_offset:.2f}"
    return extra | {
        "kind": "edge-vc/learned-decoder",
        "base_decoder_sha256": file_sha256(base),
        "adapt": json.dumps(config.to_dict()),
        "steps": str(result["step"]),
        "final_loss": f"{result['loss']:.4f}" if result["loss"] is not None else "",
        "speaker_seconds": f"{speaker_seconds:.1f}",
        "created": now(),
    }
