# ruff: noqa: E402, F403, F405  (probe scripts: path set-up before imports, shared helpers via *)
import argparse
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from pathlib import Path

import torch
from lib import *

from edge_vc.features.pitch import PitchMap, f0_track, pitch_frames, pitch_stats
from train.adapt import AdaptConfig, adapt, replay_corpus
from train.loop import Corpus

p = argparse.ArgumentParser()
p.add_argument("speaker")
p.add_argument("--shifts", default="1")
p.add_argument("--steps", type=int, default=1000)
p.add_argument("--tag", default="x")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--base", required=True)
p.add_argument("--lr", type=float, default=2e-4)
p.add_argument("--replay", type=float, default=0.5)
p.add_argument("--no-range", action="store_true")
p.add_argument("--slr", type=float, default=5.0)
a = p.parse_args()
torch.set_num_threads(a.threads)
ctx = Ctx(threads=a.threads)
audio, rate, held = ctx.speakers[a.speaker]
a22 = resample(audio, rate, SR) if rate != SR else audio
t0 = time.time()
shifts = tuple(float(x) for x in a.shifts.split(","))
spk = Corpus.from_audio(a22, SR, ctx.enc, speaker=1, pitch=True, shifts=shifts)
rep = replay_corpus(4.0, threads=a.threads, pitch=True)
feat_s = time.time() - t0
cfg = AdaptConfig(steps=a.steps, threads=a.threads, lr=a.lr, replay=a.replay, speaker_lr_scale=a.slr)
ck = Path(f".cache/learned/probe/{a.speaker}_{a.tag}.ckpt")
ck.unlink(missing_ok=True)
model, res = adapt(spk, rep, ck, cfg, base=Path(a.base))
model.eval()
sm, ss = pitch_stats(f0_track(a22, SR))
bm, bs = pitch_stats(np.concatenate([f0_track(b, SR) for b in ctx.base]))
pm = PitchMap(bm, bs, sm, bs if a.no_range else ss)
print("pitch map", pm, flush=True)
cur = {}


def pre(b):
    cur["pitch"] = pm.apply(pitch_frames(f0_track(b, SR), max(1, b.size // 256)))[None]
    return b


def pred(c):
    with torch.no_grad():
        return model(torch.from_numpy(c), torch.tensor([1]), torch.from_numpy(cur["pitch"])).numpy()


finish(ctx, pred, a, model, res, feat_s, dict(base=a.base, shifts=a.shifts, lr=a.lr), pre=pre)
