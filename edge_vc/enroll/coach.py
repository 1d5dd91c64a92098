"""The enrollment coach: measurable checks with specific, actionable messages.

Every check compares one measurement (see ``measures.py``) with a documented threshold from
:class:`CoachConfig` and yields a :class:`Finding` of level ``ok``, ``info``, ``warn`` or ``refuse``.
``refuse`` always stops enrollment; ``--strict`` also stops on ``warn``. Thresholds and the numbers
measured on real clips are in docs/enrollment.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edge_vc.configs import from_mapping
from edge_vc.enroll import measures


@dataclass
class CoachConfig:
    """Thresholds of the coach's checks."""

    max_seconds: float = 60.0
    """Longer recordings are cut to the window of this length that holds the most speech (info)."""

    refuse_speech_s: float = 3.0
    """Less detected speech than this refuses enrollment."""

    warn_speech_s: float = 10.0
    """Less detected speech than this warns (the voice estimate gets less reliable)."""

    min_snr_db: float = 13.0
    """Speech-to-noise-floor ratio below this warns (background noise)."""

    max_split_similarity: float = 0.77
    """Other voices: split the 1.6 s speech windows' embeddings in two; centroids less similar than this warn..."""

    min_split_share: float = 0.15
    """...when the smaller group holds at least this share of the windows."""

    max_decay_time_s: float = 0.28
    """Blind decay-time index above this warns (reverberant room; dry speech reads 0.1–0.2 s)."""

    max_clipped_share: float = 0.003
    """Share of samples in flat-topped (clipped) runs above this warns (measured at the input's own rate)."""

    min_level_dbfs: float = -40.0
    """Active speech level below this warns (too quiet)."""

    min_syllable_rate: float = 2.0
    """Syllable-like peaks per second of speech below this warn (unnaturally slow)."""

    max_syllable_rate: float = 7.0
    """Syllable-like peaks per second of speech above this warn (unnaturally fast)."""

    min_speech_ratio: float = 0.5
    """Speech share of the sounding part (10 ms frames within 25 dB of the speech level and above -55 dBFS)
    below this warns (music or other sounds)."""

    min_bandwidth_hz: float = 5000.0
    """Speech band edge (highest frequency within 40 dB of the spectrum's peak) below this warns: a
    telephone-band or 8 kHz recording (full-band speech reads 7.1-7.8 kHz, 8 kHz audio 3.8-3.9 kHz)."""

    def validate(self) -> None:
        if not 0 < self.refuse_speech_s <= self.warn_speech_s <= self.max_seconds:
            raise ValueError("need 0 < refuse_speech_s <= warn_speech_s <= max_seconds")
        if not 0 <= self.min_split_share <= 0.5 or not -1 <= self.max_split_similarity <= 1:
            raise ValueError("min_split_share must be in [0, 0.5] and max_split_similarity in [-1, 1]")
        if not 0 < self.min_syllable_rate < self.max_syllable_rate:
            raise ValueError("need 0 < min_syllable_rate < max_syllable_rate")
        if not 0 <= self.max_clipped_share <= 1 or not 0 <= self.min_speech_ratio <= 1:
            raise ValueError("max_clipped_share and min_speech_ratio must be in [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CoachConfig:
        """Thresholds from a mapping (unknown keys refused); ConfigError (a ValueError)."""
        return from_mapping(CoachConfig, data, what="coach settings")


@dataclass
class Finding:
    """The result of one check."""

    check: str
    level: str
    message: str
    value: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("value", "threshold"):
            if data[key] is not None:
                data[key] = round(float(data[key]), 4)
        return data


@dataclass
class CoachReport:
    """All findings for one enrollment recording, plus what later steps need."""

    findings: list[Finding]
    audio: np.ndarray
    """The recording after trimming to ``max_seconds`` (float32 mono)."""

    sample_rate: int
    total_seconds: float
    speech_seconds: float
    measurements: dict[str, float] = field(default_factory=dict)

    @property
    def refusals(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "refuse"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warn"]

    def blocking(self, strict: bool) -> list[Finding]:
        """Findings that stop enrollment (refusals; with ``strict`` also warnings)."""
        return self.refusals + (self.warnings if strict else [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_seconds": round(self.total_seconds, 2),
            "speech_seconds": round(self.speech_seconds, 2),
            "measurements": {k: round(float(v), 4) for k, v in self.measurements.items()},
            "findings": [f.to_dict() for f in self.findings],
        }

    def summary_lines(self) -> list[str]:
        marks = {"ok": "ok  ", "info": "info", "warn": "WARN", "refuse": "FAIL"}
        return [f"[{marks[f.level]}] {f.check}: {f.message}" for f in self.findings]


ADVICE = {
    "mic": {
        "speech": "speak closer to the microphone and record longer",
        "more": "(read the script again or add another recording)",
        "noise": "record in a quieter place, away from fans and traffic, closer to the microphone",
        "reverb": "record in a smaller room with soft furnishings, or closer to the microphone",
        "clipping": "lower the input gain or move back a little",
        "level": "raise the input gain or speak closer to the microphone",
        "bandwidth": "use a better microphone or a 16 kHz (or higher) input",
    },
    "file": {
        "speech": "give a recording with more speech in it (10-60 s; silence and music do not count)",
        "more": "(add another recording)",
        "noise": "give a cleaner recording (less background noise)",
        "reverb": "give a recording made closer to the microphone or in a less echoing room",
        "clipping": "give an unclipped original (this one was recorded or converted too loud)",
        "level": "give a louder recording, or normalise this one",
        "bandwidth": "give a full-band recording (a microphone at 16 kHz or more, not a phone call or an 8 kHz file)",
    },
}
"""What to do about each finding, for a live recording (``mic``) and for imported files (``file``)."""


def best_window(speech_mask: np.ndarray, hop_seconds: float, seconds: float) -> float:
    """Start (seconds) of the ``seconds``-long window that holds the most detected speech (earliest on ties)."""
    size = int(round(seconds / hop_seconds))
    mask = np.asarray(speech_mask, dtype=np.float64)
    if mask.size <= size:
        return 0.0
    sums = np.convolve(mask, np.ones(size), mode="valid")
    return float(int(np.argmax(sums)) * hop_seconds)


def two_voice_split(window_embeddings: np.ndarray, iters: int = 10) -> tuple[float, float]:
    """(cosine between the two cluster centroids, share of the smaller cluster) of per-window embeddings.

    Windows are split in two by spherical k-means started from the least similar pair. One voice
    splits into two similar halves (centroid cosine ~0.8-0.9 with the bundled encoder); two voices
    one after the other split into their speakers (~0.55-0.75). See docs/enrollment.md.
    """
    emb = np.asarray(window_embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] < 2:
        return 1.0, 0.0
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    sims = emb @ emb.T
    i, j = np.unravel_index(int(np.argmin(sims)), sims.shape)
    centroids = np.stack([emb[i], emb[j]])
    labels = np.zeros(len(emb), dtype=int)
    for _ in range(iters):
        labels = np.argmax(emb @ centroids.T, axis=1)
        if labels.min() == labels.max():
            return 1.0, 0.0
        centroids = np.stack([emb[labels == k].mean(axis=0) for k in (0, 1)])
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    share = float(min(np.mean(labels == 0), np.mean(labels == 1)))
    return float(centroids[0] @ centroids[1]), share


def run_coach(
    audio: np.ndarray,
    sample_rate: int,
    encoder=None,
    vad=None,
    config: CoachConfig | None = None,
    clipped_share: float | None = None,
    source: str = "mic",
) -> CoachReport:
    """Measure one enrollment recording; ``encoder`` (SpeakerEncoder) enables the other-voices check.

    ``clipped_share``: clipping measured on the recording at its own rate (resampling smears flat
    tops); None measures ``audio`` itself. ``source`` (``mic`` or ``file``) picks the advice: a file
    cannot be fixed by speaking closer to the microphone. A recording longer than ``max_seconds`` is
    cut to its window with the most speech.
    """
    from edge_vc.audio.io import resample
    from edge_vc.speaker.vad import SileroVAD

    config = config or CoachConfig()
    config.validate()
    advice = ADVICE["file" if source == "file" else "mic"]
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    findings: list[Finding] = []
    total = audio.size / float(sample_rate)
    vad = vad or SileroVAD()
    a16 = resample(audio, sample_rate, measures.RATE)
    if total > config.max_seconds:
        whole = vad(a16, measures.RATE)
        start = best_window(whole.speech_mask, whole.hop_seconds, config.max_seconds)
        audio = audio[int(start * sample_rate) : int((start + config.max_seconds) * sample_rate)]
        a16 = a16[int(start * measures.RATE) : int((start + config.max_seconds) * measures.RATE)]
        findings.append(
            Finding(
                "length", "info",
                f"{total:.0f} s given; using the {config.max_seconds:.0f} s with the most speech "
                f"({start:.0f}-{start + config.max_seconds:.0f} s; {whole.speech_seconds:.0f} s of speech in all)",
                total, config.max_seconds,
            )
        )  # fmt: skip
    vad_result = vad(a16, measures.RATE)
    speech_s = vad_result.speech_seconds
    power = measures.frame_power_db(a16)
    speech = measures.speech_frame_mask(vad_result.speech_mask, len(power), vad_result.hop_seconds)
    m: dict[str, float] = {"speech_seconds": speech_s, "total_seconds": min(total, config.max_seconds)}

    # speech amount / no speech
    if speech_s < config.refuse_speech_s:
        findings.append(
            Finding(
                "speech", "refuse",
                f"only {speech_s:.1f} s of speech found (need at least {config.refuse_speech_s:.0f} s, "
                f"{config.warn_speech_s:.0f}-60 s is best): {advice['speech']}",
                speech_s, config.refuse_speech_s,
            )
        )  # fmt: skip
    elif speech_s < config.warn_speech_s:
        findings.append(
            Finding(
                "speech", "warn",
                f"{speech_s:.1f} s of speech; {config.warn_speech_s:.0f} s or more gives a more reliable voice "
                + advice["more"],
                speech_s, config.warn_speech_s,
            )
        )  # fmt: skip
    else:
        findings.append(Finding("speech", "ok", f"{speech_s:.1f} s of speech", speech_s, config.warn_speech_s))

    # music / non-speech sound: speech share of the sounding part (frames within 25 dB of the speech level)
    reference = measures.active_speech_level_db(power, speech) if speech.any() else float(np.percentile(power, 95))
    loud = (power > reference - 25.0) & (power > -55.0)
    sounding = float(loud.sum() * measures.HOP / measures.RATE)
    speech_in_sound = float((loud & speech).sum() * measures.HOP / measures.RATE)
    ratio = speech_in_sound / sounding if sounding > 0.5 else (1.0 if speech_s > 0 else 0.0)
    ratio = float(min(ratio, 1.0))
    m["speech_ratio"] = ratio
    if sounding > 0.5 and ratio < config.min_speech_ratio:
        findings.append(
            Finding(
                "speech_ratio", "warn",
                f"only {ratio:.0%} of the sound is speech: turn off music or TV and record speech only",
                ratio, config.min_speech_ratio,
            )
        )  # fmt: skip
    else:
        findings.append(Finding("speech_ratio", "ok", f"{ratio:.0%} of the sound is speech", ratio))

    if speech_s >= 0.5 or sounding >= 0.5:
        # with (almost) no detected speech, e.g. in a very reverberant room, the sounding frames stand in
        mask, seconds = (speech, speech_s) if speech_s >= 0.5 else (loud, sounding)
        clipped = measures.clipped_fraction(audio) if clipped_share is None else float(clipped_share)
        findings += _signal_checks(clipped, a16, power, mask, seconds, config, m, advice)
        if encoder is not None and speech_s >= 0.5:
            findings.append(_voices_check(encoder, a16, vad_result, config, m))
    return CoachReport(findings, audio, sample_rate, min(total, config.max_seconds), speech_s, m)


def _threshold_finding(check: str, value: float, limit: float, failed: bool, warn: str, ok: str) -> Finding:
    """A "warn" finding with advice when ``failed``, else an "ok" one; both carry value and limit."""
    return Finding(check, "warn" if failed else "ok", warn if failed else ok, value, limit)


def _signal_checks(clipped, a16, power, speech, speech_s, config: CoachConfig, m, advice) -> list[Finding]:
    snr = measures.snr_db(power, speech)
    decay = measures.reverb_time_s(a16)
    level = measures.active_speech_level_db(power, speech)
    band = measures.bandwidth_hz(a16, speech)
    m["snr_db"], m["decay_time_s"], m["clipped_share"], m["level_dbfs"] = snr, decay, clipped, level
    m["bandwidth_hz"] = band
    out = [
        _threshold_finding(
            "noise", snr, config.min_snr_db, snr < config.min_snr_db,
            f"background noise: speech is only {snr:.0f} dB above the noise floor (want {config.min_snr_db:.0f}+): "
            + advice["noise"],
            f"speech {snr:.0f} dB above the noise floor",
        ),
        _threshold_finding(
            "reverb", decay, config.max_decay_time_s, decay > config.max_decay_time_s,
            f"reverberant room (decay index {decay:.2f} s, want under {config.max_decay_time_s:.2f} s): "
            + advice["reverb"],
            f"decay index {decay:.2f} s",
        ),
        _threshold_finding(
            "clipping", clipped, config.max_clipped_share, clipped > config.max_clipped_share,
            f"clipping: {clipped:.2%} of samples are flattened peaks: " + advice["clipping"],
            "no clipping",
        ),
        _threshold_finding(
            "level", level, config.min_level_dbfs, level < config.min_level_dbfs,
            f"too quiet: speech at {level:.0f} dBFS (want above {config.min_level_dbfs:.0f}): " + advice["level"],
            f"speech level {level:.0f} dBFS",
        ),
        _threshold_finding(
            "bandwidth", band, config.min_bandwidth_hz, band < config.min_bandwidth_hz,
            f"narrow band: the speech carries sound only up to {band / 1000:.1f} kHz (telephone or 8 kHz audio; "
            f"want {config.min_bandwidth_hz / 1000:.0f} kHz or more), so the voice will sound muffled: "
            + advice["bandwidth"],
            f"speech up to {band / 1000:.1f} kHz",
        ),
    ]  # fmt: skip

    rate = measures.syllable_rate(a16, speech_s)
    m["syllable_rate"] = rate
    if rate > config.max_syllable_rate:
        out.append(
            Finding(
                "pace", "warn",
                f"very fast speech ({rate:.1f} syllables/s, want {config.min_syllable_rate:.0f}-"
                f"{config.max_syllable_rate:.0f}): read at your normal, relaxed pace",
                rate, config.max_syllable_rate,
            )
        )  # fmt: skip
    elif rate < config.min_syllable_rate:
        out.append(
            Finding(
                "pace", "warn",
                f"very slow or drawn-out speech ({rate:.1f} syllables/s, want {config.min_syllable_rate:.0f}-"
                f"{config.max_syllable_rate:.0f}): read at your normal pace, without long pauses",
                rate, config.min_syllable_rate,
            )
        )  # fmt: skip
    else:
        out.append(Finding("pace", "ok", f"{rate:.1f} syllables/s", rate))
    return out


def _voices_check(encoder, a16: np.ndarray, vad_result, config: CoachConfig, m) -> Finding:
    """Other voices: embeddings of 1.6 s windows that hold mostly speech, each against the others."""
    windows = encoder.embed_windows(a16, measures.RATE)
    keep = []
    mask = vad_result.speech_mask
    for i, start in enumerate(windows.starts):
        lo = int(start / vad_result.hop_seconds)
        hi = int((start + windows.duration) / vad_result.hop_seconds)
        if mask[lo:hi].size and mask[lo:hi].mean() >= 0.6:
            keep.append(i)
    m["speech_windows"] = float(len(keep))
    if len(keep) < 3:
        return Finding("voices", "ok", f"too few speech windows ({len(keep)}) to compare voices")
    similarity, share = two_voice_split(windows.embeddings[keep])
    m["split_similarity"] = similarity
    m["split_share"] = share
    if similarity < config.max_split_similarity and share >= config.min_split_share:
        return Finding(
            "voices", "warn",
            f"another voice: {share:.0%} of the speech sounds like a different person (voice similarity "
            f"{similarity:.2f}, one voice reads above {config.max_split_similarity:.2f}): record alone, "
            "with no TV, radio or other people talking",
            similarity, config.max_split_similarity,
        )  # fmt: skip
    return Finding(
        "voices", "ok", f"one voice (split similarity {similarity:.2f})", similarity, config.max_split_similarity
    )
