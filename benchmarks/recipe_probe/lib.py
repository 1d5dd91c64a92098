# ruff: noqa: E402, F403, F405  (probe scripts: path set-up before imports, shared helpers via *)
"""Recipe probes of the learned stage (issue 9): adapt one dev speaker, render 5 sentences whole, VFL + WER."""

import sys

import numpy as np

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from eval_learned import dev_speakers

from edge_vc.audio.io import resample
from edge_vc.bench.asr import WhisperASR, word_error_rate
from edge_vc.bench.quality import IndependentEmbedder
from edge_vc.clone.stages.dsp_analysis import yin_f0
from edge_vc.features.content import ContentEncoder
from edge_vc.tts.voice import BaseVoice
from edge_vc.vocoder import Vocoder
from export.sentences import EVALUATION
from train.adapt_profile import PROBES

SENTS = [s for s in EVALUATION if s not in PROBES][:5]
SR = 22050


def shift(audio, k):
    """pitch and formants x k (tempo x k) by resampling."""
    return resample(np.asarray(audio, np.float32), SR, int(round(SR / k))) if k != 1 else audio


def content_shifted(enc, audio, n_frames, k):
    if k == 1:
        return enc.encode(audio, SR, n_frames)
    s = shift(audio, k)
    m = max(2, int(round(n_frames / k)))
    f = enc.encode(s, SR, m)
    pos = np.linspace(0, m - 1, n_frames)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, m - 1)
    fr = (pos - lo)[:, None]
    return f[lo] * (1 - fr) + f[hi] * fr


class Ctx:
    def __init__(self, threads=1):
        self.emb = IndependentEmbedder()
        self.enc = ContentEncoder.load(threads=threads)
        self.voc = Vocoder.load(precision="fp32", threads=threads)
        self.asr = WhisperASR(threads=threads)
        voice = BaseVoice.load(threads=threads)
        self.base = [np.concatenate([c.audio for c in voice.synthesize(s)]) for s in SENTS]
        assert voice.sample_rate == SR
        self.speakers = dev_speakers()

    def run(self, predict, name, k=1.0, pre=None):
        """predict(content[1,T,D]) -> mel [1,80,T]; returns VFL, WER, audio."""
        audio, rate, held = self.speakers[name]
        outs = []
        for b in self.base:
            if pre is not None:
                b = pre(b).astype(np.float32)
            n = max(1, b.size // 256)
            c = content_shifted(self.enc, b, n, k)[None].astype(np.float32)
            outs.append(self.voc(predict(c)[0].T))
        wer = float(np.mean([word_error_rate(s, self.asr.transcribe(o, SR)) for s, o in zip(SENTS, outs, strict=True)]))
        joined = np.concatenate(outs)
        return self.emb.similarity(joined, SR, audio, rate), wer, joined


def pitch_params(audio, rate, base_audio):
    from edge_vc.clone.stages.dsp import DSPParams

    ts = yin_f0(audio, rate, fmin=70, fmax=400)
    tb = yin_f0(base_audio, SR, fmin=70, fmax=400)
    return DSPParams(
        pitch_shift_semitones=float(12 * np.log2(ts.median_hz() / tb.median_hz())),
        pitch_range=float(ts.spread_semitones() / tb.spread_semitones()),
        sample_rate=SR,
        stats={"base_f0_hz": tb.median_hz()},
    )


def pitch_shaper(params):
    from edge_vc.clone.stages.dsp import DSPStage

    st = DSPStage(params, SR, apply_eq=False)
    return lambda b: st.shape_voice(b)


def finish(ctx, pred, args, model, res, feat_s, extra: dict, pre=None):
    """Render, score (VFL to enrollment and held-out clip, WER), save the wav/state and append a result line."""
    import json

    import torch

    from edge_vc.audio.io import write_wav

    _, _, held = ctx.speakers[args.speaker]
    v, w, out = ctx.run(pred, args.speaker, pre=pre)
    vh = ctx.emb.similarity(out, SR, held, SR) if held is not None else None
    stem = f".cache/learned/probe/{args.speaker}_{args.tag}"
    write_wav(stem + ".wav", out, SR)
    r = dict(speaker=args.speaker, tag=args.tag, **extra, feat_s=round(feat_s, 1))
    r |= dict(train_s=round(res["seconds"], 1), loss=res["loss"], vfl=round(v, 3))
    r |= dict(vfl_held=vh and round(vh, 3), wer=round(w, 3))
    print(json.dumps(r), flush=True)
    with open(".cache/learned/probe/results.jsonl", "a") as f:
        f.write(json.dumps(r) + "\n")
    torch.save(model.state_dict(), stem + ".pt")
