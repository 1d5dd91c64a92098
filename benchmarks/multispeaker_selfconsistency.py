"""Self-consistency of speaker-space cloning on random-weight multi-speaker fixtures (NOT voices).

For each fixture speaker k: synthesize a sentence other than the atlas text with sid = k, embed it,
rank the atlas, blend and verify. Reports top-1 accuracy, the similarity margin to the runner-up,
the verified probe similarity, and atlas build time per speaker. Fixture audio is noise-like, so this
measures the mechanism (surgery, atlas, ranking, blending), not cloning quality on real voices.

    python benchmarks/multispeaker_selfconsistency.py --speakers 4 8 --encoder product independent
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OTHER_TEXTS = (
    "A quick brown fox jumps over the lazy dog, then runs far away into the quiet forest.",
    "My favourite book is sitting on the shelf next to the window.",
)


ENCODER_MODEL: str | None = None


def _encoder(kind: str):
    if kind == "product":
        from edge_vc.speaker.encoder import SpeakerEncoder

        return SpeakerEncoder.load(ENCODER_MODEL, threads=1).embed
    from edge_vc.bench.quality import default_embedder

    return default_embedder().embed


def run(n_speakers: int, encoder_kind: str, seed: int) -> dict:
    from edge_vc.base_voice.catalog import VoiceFiles
    from edge_vc.base_voice.config import SynthesisConfig
    from edge_vc.base_voice.speaker_space import SpeakerSpaceVoice
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.speaker.atlas import build_atlas, match_speaker, rank
    from tests.fixtures.random_multispeaker import build_random_multispeaker_voice

    embed = _encoder(encoder_kind)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EDGE_VC_HOME"] = str(Path(tmp) / "home")
        model, config = build_random_multispeaker_voice(tmp, n_speakers=n_speakers, seed=seed)
        files = VoiceFiles(model.name.removesuffix(".onnx"), model, config)
        space = SpeakerSpaceVoice.load_space(files, threads=1)
        started = time.perf_counter()
        atlas = build_atlas(files, space, embed, encoder_kind)
        atlas_seconds = time.perf_counter() - started
        sims = atlas.embeddings @ atlas.embeddings.T
        plain = BaseVoice.load(files, threads=1, streaming=False)
        correct, margins, probe_sims, chosen, trials = 0, [], [], {}, 0
        for text in OTHER_TEXTS:
            for k in range(n_speakers):
                syn = SynthesisConfig(noise_scale=0.0, noise_w=0.0, speaker_id=k)
                audio = np.concatenate([c.audio for c in plain.synthesize(text, syn)])
                target = embed(audio, plain.sample_rate)
                ranking = rank(atlas, target)
                trials += 1
                correct += int(ranking[0][0] == k)
                margins.append(ranking[0][1] - ranking[1][1])
                match = match_speaker(atlas, space, target, embed, top_k=min(4, n_speakers))
                probe_sims.append(match.similarity)
                chosen[match.chosen] = chosen.get(match.chosen, 0) + 1
        # held-out voices: halfway between two table speakers (not in the atlas) — does blending help?
        blend_gain = {"top1": [], "softmax": [], "lsq": []}
        for k in range(n_speakers):
            g_new = 0.5 * (space.table[k] + space.table[(k + 1) % n_speakers])
            held = SynthesisConfig(noise_scale=0.0, noise_w=0.0)  # no speaker_id: the voice's own g is used
            audio = np.concatenate([c.audio for c in space.with_g(g_new).synthesize(OTHER_TEXTS[0], held)])
            target = embed(audio, space.sample_rate)
            match = match_speaker(atlas, space, target, embed, top_k=min(4, n_speakers))
            for method, value in match.candidates.items():
                blend_gain[method].append(value)
    off = sims[~np.eye(n_speakers, dtype=bool)]
    return {
        "speakers": n_speakers,
        "encoder": encoder_kind,
        "seed": seed,
        "trials": trials,
        "top1_accuracy": correct / trials,
        "margin_min": float(np.min(margins)),
        "margin_mean": float(np.mean(margins)),
        "atlas_offdiag_max": float(off.max()),
        "atlas_offdiag_mean": float(off.mean()),
        "probe_similarity_mean": float(np.mean(probe_sims)),
        "probe_similarity_min": float(np.min(probe_sims)),
        "chosen": chosen,
        "atlas_seconds_per_speaker": atlas_seconds / n_speakers,
        "heldout_probe_similarity": {m: float(np.mean(v)) for m, v in blend_gain.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--encoder", nargs="+", default=["product", "independent"], choices=["product", "independent"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder-model", default=None, help="product encoder file (default: the bundled one)")
    args = parser.parse_args()
    global ENCODER_MODEL
    ENCODER_MODEL = args.encoder_model
    rows = [run(n, enc, args.seed) for n in args.speakers for enc in args.encoder]
    print(json.dumps(rows, indent=2))
    print(
        "\n| speakers | encoder | trials | top-1 | margin min / mean | atlas off-diag max / mean "
        "| probe sim mean (min) | chosen | atlas s/speaker |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['speakers']} | {r['encoder']} | {r['trials']} | {r['top1_accuracy']:.2f} | "
            f"{r['margin_min']:.3f} / {r['margin_mean']:.3f} | {r['atlas_offdiag_max']:.3f} / "
            f"{r['atlas_offdiag_mean']:.3f} | {r['probe_similarity_mean']:.3f} ({r['probe_similarity_min']:.3f}) | "
            f"{r['chosen']} | {r['atlas_seconds_per_speaker']:.2f} |"
        )
    print("\n| speakers | encoder | held-out midpoint voices: probe similarity top1 / softmax / lsq |")
    print("|---|---|---|")
    for r in rows:
        h = r["heldout_probe_similarity"]
        print(f"| {r['speakers']} | {r['encoder']} | {h['top1']:.3f} / {h['softmax']:.3f} / {h['lsq']:.3f} |")


if __name__ == "__main__":
    main()
