"""How close each voice stage of a profile sounds to its enrollment, measured with edge-vc's own speaker
encoder (the GE2E d-vector that enrollment stores; no other verifier).

    python scripts/demo_similarity.py demo-robert

Speaks the same sentences through the base voice, the profile's DSP stage and (when `edge-vc adapt` has
exported one) its learned stage, embeds each rendition with the bundled encoder and prints its cosine
similarity to the profile's enrollment embedding. Used by scripts/demo.sh.
"""

from __future__ import annotations

import sys

import numpy as np

SENTENCES = (
    "The library opens early on Saturday mornings.",
    "Please remind me to water the plants before the weekend.",
    "A quiet walk along the river is the best way to end the day.",
)


def main(name: str, threads: int = 2) -> int:
    from edge_vc.pipeline import VoicePipeline
    from edge_vc.profiles.profile import VoiceProfile
    from edge_vc.speaker.base_select import load_base_voice
    from edge_vc.speaker.encoder import SpeakerEncoder
    from edge_vc.stages.learned import DECODER_FILE, LEARNED_DIR, learned_status
    from edge_vc.stages.registry import build_stage

    profile = VoiceProfile.load(name)
    voice = load_base_voice(profile.base, threads=threads)
    encoder = SpeakerEncoder.load(threads=threads)
    stages = [("base voice", build_stage("none", {}, sample_rate=voice.sample_rate))]
    stages.append(
        (
            f"{profile.stage_kind} stage",
            build_stage(profile.stage_kind, profile.stage_params, sample_rate=voice.sample_rate, threads=threads),
        )
    )
    status = learned_status(profile.path) or {}
    if (profile.path / LEARNED_DIR / DECODER_FILE).is_file():
        learned = build_stage("learned", {}, sample_rate=voice.sample_rate, profile_dir=profile.path, threads=threads)
        stages.append((f"learned stage ({status.get('status', 'not gated')})", learned))
    print(f"similarity to {name}'s enrollment (edge-vc's speaker encoder, {len(SENTENCES)} sentences):")
    for label, stage in stages:
        pipeline = VoicePipeline(voice, stage, profile_name=name)
        audio = np.concatenate([c.audio for text in SENTENCES for c in pipeline.synthesize(text)])
        similarity = SpeakerEncoder.similarity(encoder.embed(audio, voice.sample_rate), profile.embedding)
        print(f"  {label:32s} {similarity:.3f}")
    if len(stages) < 3:
        print("  learned stage                    not adapted (edge-vc adapt NAME)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo-robert"))
