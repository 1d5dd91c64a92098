"""Enrollment: recordings (microphone or files) → consent → coach → embedding → base voice → stage → profile.

Nothing is written until every step has passed; the profile is then written atomically
(see ``profile.py``). The CLI (``edge-vc enroll``) only parses options and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_vc.enroll.coach import CoachConfig, CoachReport, run_coach
from edge_vc.errors import EnrollmentError, ProfileError
from edge_vc.profiles.profile import (
    NO_CONSENT,
    ConsentRecord,
    VoiceProfile,
    encoder_record,
    now_utc,
    profile_path,
    validate_name,
)
from edge_vc.stages.registry import estimable_kinds

ENROLL_RATE = 24000
"""Rate enrollment audio is kept at (and stored in enrollment.wav)."""

MAX_INPUT_SECONDS = 1200.0
"""Longer input (all files together) is refused. Enrollment uses the 60 s with the most speech (the
coach picks them and says so); 20 minutes at 24 kHz is 115 MB of float32 while it looks."""

CHALLENGE_SECONDS = 7.0
"""Time given to say the challenge phrase at the start of a microphone recording."""

MIN_CHALLENGE_SIMILARITY = 0.7
"""--wav with consent: the live challenge speaker must match the files' speaker at least this well."""

STAGE_CHOICES = ("auto", *estimable_kinds())
"""``auto`` (the DSP stage, or none where it is missing) plus the registry's kinds that enrollment estimates."""


@dataclass
class EnrollOptions:
    """Everything ``edge-vc enroll`` asks for."""

    name: str
    wavs: list[str] = field(default_factory=list)
    mic: bool = False
    seconds: float = 30.0
    device: str | None = None
    strict: bool = False
    report: str | None = None
    consent: bool = True
    force: bool = False
    base_voice: str | None = None
    stage: str = "auto"
    threads: int | None = None
    keep_audio: bool = True
    converter: str | None = None
    """Exported tone-colour converter (``edge-vc export converter``) for ``stage='converter'``."""
    level: Callable[[float, float], None] | None = None
    """With ``mic``: called with (dBFS, seconds recorded) for every recorded block (the console's meter)."""
    live: Callable[[dict[str, Any]], None] | None = None
    """With ``mic``: gets the coach's live checks of the reading so far (see ``live.py``) as the recording goes
    (the console's stream); without it, a check that turns non-ok (or ok again) is printed through ``echo``."""

    def validate(self) -> None:
        validate_name(self.name)
        if self.mic == bool(self.wavs):
            raise EnrollmentError("give either --mic or --wav FILE... (one of them)")
        if self.mic and not self.consent:
            raise EnrollmentError("--no-consent is only for importing recordings with --wav")
        if self.mic and not 5 <= self.seconds <= 120:
            raise EnrollmentError("--seconds must be between 5 and 120")
        if self.stage not in STAGE_CHOICES:
            raise EnrollmentError(f"--stage must be one of {', '.join(STAGE_CHOICES)}")
        if self.converter and self.stage == "auto":
            self.stage = "converter"
        if (self.stage == "converter") != bool(self.converter):
            raise EnrollmentError("the converter stage needs --converter MODEL (and --converter implies it)")
        if self.converter and not Path(self.converter).is_file():
            raise EnrollmentError(f"converter model not found: {self.converter}")


def read_inputs(paths: list[str]) -> tuple[np.ndarray, list[dict[str, Any]], float]:
    """(one mono recording at ENROLL_RATE, sources, clipped share at the files' own rates).

    AudioFormatError/EnrollmentError for bad input.
    """
    from edge_vc.audio.io import read_audio, resample
    from edge_vc.enroll.measures import clipped_fraction

    parts, sources, total, clipped = [], [], 0.0, 0.0
    for path in paths:
        native, rate = read_audio(path, max_seconds=MAX_INPUT_SECONDS)
        clipped += clipped_fraction(native) * native.size / rate
        audio = resample(native, rate, ENROLL_RATE)
        if not np.all(np.isfinite(audio)):
            raise EnrollmentError(f"{path} contains invalid samples (NaN/inf)")
        total += audio.size / ENROLL_RATE
        if total > MAX_INPUT_SECONDS:
            raise EnrollmentError(
                f"the recordings add up to more than {MAX_INPUT_SECONDS / 60:.0f} minutes; give at most 60 s of your "
                "best speech (longer input is cut to its 60 s with the most speech)"
            )
        parts.append(audio)
        sources.append({"file": Path(path).name, "seconds": round(audio.size / ENROLL_RATE, 2)})
    gap = np.zeros(int(0.3 * ENROLL_RATE), np.float32)
    joined = [x for part in parts for x in (part, gap)][:-1]
    return np.concatenate(joined).astype(np.float32), sources, clipped / max(total, 1e-9)


def estimate_stage_params(
    choice: str, audio: np.ndarray, sample_rate: int, base_voice, encoder, converter: str | None = None, threads=None
) -> tuple:
    """(kind, params dict, reason) of the voice stage for this enrollment — the single call site.

    ``auto`` is ``dsp`` (encoder-refined), or ``none`` where the DSP stage's code is missing; every other
    choice is a kind of ``edge_vc.stages.registry`` with an estimate (``converter`` needs ``converter``,
    an exported converter model). The learned stage is added later by ``edge-vc adapt`` and chosen at
    load time when it passed its quality gate.
    """
    from edge_vc.stages.registry import EstimateInput, estimate_stage

    kind = "dsp" if choice == "auto" else choice
    inputs = EstimateInput(audio, sample_rate, base_voice, encoder, converter=converter, threads=threads)
    try:
        estimate = estimate_stage(kind, inputs)
    except ImportError as exc:
        if choice != "auto":
            raise EnrollmentError(f"the {kind} voice stage is not available: {exc}") from exc
        return "none", {}, f"DSP stage unavailable in this install ({exc}); the base voice speaks unchanged"
    return kind, estimate.params, estimate.reason


def _record_mic(opts: EnrollOptions, challenge, echo, seconds: float, with_script: bool, coach_config=None) -> tuple:
    """(recording at ENROLL_RATE, device rate, recording at the device rate); with the script, live checks of it."""
    from edge_vc.audio.io import resample
    from edge_vc.enroll.capture import READ_SCRIPT, Phase, record
    from edge_vc.enroll.live import LiveCoach

    phases = [Phase(0.0, f'say this phrase now:  "{challenge.text}"')]
    live = None
    if with_script:
        phases.append(Phase(CHALLENGE_SECONDS, f"now read aloud, at your normal pace:\n  {READ_SCRIPT}"))
        live = LiveCoach(CHALLENGE_SECONDS, seconds, opts.live, coach_config)
    echo(f'first you will say:  "{challenge.text}"')
    try:
        audio, rate = record(
            seconds, device=opts.device, phases=phases, echo=echo, on_level=opts.level,
            on_block=live.feed if live is not None else None,
        )  # fmt: skip
    finally:
        if live is not None:
            live.close()
    return resample(audio, rate, ENROLL_RATE), rate, audio


def _check_challenge(checker, audio: np.ndarray, challenge, echo) -> tuple[ConsentRecord, float]:
    window = audio[: int((CHALLENGE_SECONDS + 3.0) * ENROLL_RATE)]
    result = checker.check(window, ENROLL_RATE, challenge)
    echo(f'consent check: heard "{result.transcript}" ({result.score:.0%} of the challenge words)')
    if not result.passed:
        raise EnrollmentError(
            f'the challenge phrase was not recognised (heard "{result.transcript}"); '
            "nothing was saved — run enroll again and say the phrase clearly first"
        )
    record = ConsentRecord(
        "challenge", "passed", time=now_utc(), phrase=challenge.text, transcript=result.transcript,
        score=round(result.score, 3),
    )  # fmt: skip
    return record, float(result.phrase_end_s or 0.0)


def enroll(
    opts: EnrollOptions,
    echo: Callable[[str], None] = print,
    encoder=None,
    coach_config: CoachConfig | None = None,
) -> tuple[VoiceProfile, CoachReport]:
    """Run the whole enrollment; returns the saved profile and the coach's report."""
    opts.validate()
    if profile_path(opts.name).exists() and not opts.force:
        raise ProfileError(f"a profile named {opts.name!r} exists; pass --force to replace it")
    if opts.report:
        from edge_vc.enroll.report import require_matplotlib

        require_matplotlib()
    checker = challenge = None
    if opts.consent:
        from edge_vc.enroll.consent import Challenge, ConsentChecker

        checker, challenge = ConsentChecker(threads=opts.threads), Challenge.new()

    extra: dict[str, Any] = {}
    challenge_audio = None
    if opts.mic:
        recording, device_rate, raw = _record_mic(
            opts, challenge, echo, CHALLENGE_SECONDS + opts.seconds, True, coach_config
        )
        from edge_vc.enroll.measures import clipped_fraction

        clipped = clipped_fraction(raw[int((CHALLENGE_SECONDS) * device_rate) :])
        consent, phrase_end = _check_challenge(checker, recording, challenge, echo)
        cut = int((phrase_end + 0.3) * ENROLL_RATE)
        audio = recording[cut:]
        sources = [{"device": str(opts.device or "default"), "rate": device_rate, "seconds": opts.seconds}]
        extra["challenge_cut_s"] = round(phrase_end + 0.3, 2)
    else:
        audio, sources, clipped = read_inputs(opts.wavs)
        if opts.consent:
            challenge_audio, _, _ = _record_mic(opts, challenge, echo, CHALLENGE_SECONDS, False)
            consent, _ = _check_challenge(checker, challenge_audio, challenge, echo)
        else:
            consent = ConsentRecord(NO_CONSENT, "not checked", time=now_utc())
            echo("no consent check: the profile is recorded as a no-consent import")
    if checker is not None:
        del checker

    if encoder is None:
        from edge_vc.speaker.encoder import SpeakerEncoder

        encoder = SpeakerEncoder.load(threads=opts.threads)
    report = run_coach(
        audio, ENROLL_RATE, encoder=encoder, config=coach_config, clipped_share=clipped,
        source="mic" if opts.mic else "file",
    )  # fmt: skip
    for line in report.summary_lines():
        echo(line)
    if opts.report:
        from edge_vc.enroll.report import draw_report

        draw_report(report, opts.report, title=f"enrollment of {opts.name}")
        echo(f"wrote {opts.report}")
    blocking = report.blocking(opts.strict)
    if blocking:
        why = "; ".join(f"{f.check}: {f.message}" for f in blocking)
        raise EnrollmentError(f"enrollment refused{' (--strict)' if opts.strict else ''}: {why}. Nothing was saved.")

    audio = report.audio
    embedding = encoder.embed(audio, ENROLL_RATE)
    windows = encoder.embed_windows(audio, ENROLL_RATE)
    if challenge_audio is not None:
        match = encoder.similarity(encoder.embed(challenge_audio, ENROLL_RATE), embedding)
        extra["challenge_speaker_similarity"] = round(match, 3)
        if match < MIN_CHALLENGE_SIMILARITY:
            raise EnrollmentError(
                f"the voice that said the challenge does not match the recordings (similarity {match:.2f} < "
                f"{MIN_CHALLENGE_SIMILARITY}): only the person in the recordings can enroll them. Nothing was saved."
            )

    enc = encoder_record(encoder)
    if opts.stage == "none":
        from edge_vc.base_voice.catalog import resolve_voice

        base = {"voice": resolve_voice(opts.base_voice).name}
        kind, params, reason = estimate_stage_params("none", audio, ENROLL_RATE, None, encoder)
    else:
        from edge_vc.speaker.atlas import text_progress
        from edge_vc.speaker.base_select import choose_base, explain, load_base_voice

        best, evaluated = choose_base(
            embedding, encoder.embed, enc["sha256"][:16], base=opts.base_voice, threads=opts.threads,
            log=echo, progress_factory=text_progress(echo),
        )  # fmt: skip
        base = best.to_dict()
        echo(explain(best, evaluated))
        base_voice = load_base_voice(base, threads=opts.threads)
        kind, params, reason = estimate_stage_params(
            opts.stage, audio, ENROLL_RATE, base_voice, encoder, converter=opts.converter, threads=opts.threads
        )
    echo(f"voice stage: {reason}")

    profile = VoiceProfile(
        name=opts.name,
        base=base,
        stage_kind=kind,
        stage_params=params,
        stage_reason=reason,
        encoder=enc,
        enrollment={
            "sources": sources,
            "sample_rate": ENROLL_RATE,
            "seconds": round(audio.size / ENROLL_RATE, 2),
            "speech_seconds": round(report.speech_seconds, 2),
            "kept_audio": bool(opts.keep_audio),
            **extra,
        },
        coach={"strict": opts.strict, **report.to_dict()},
        consent=consent,
        embedding=embedding,
        window_embeddings=windows.embeddings,
    )
    profile.save(enrollment_audio=(audio, ENROLL_RATE) if opts.keep_audio else None, overwrite=opts.force)
    return profile, report
