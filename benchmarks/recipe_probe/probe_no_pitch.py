# ruff: noqa: E402, F403, F405  (probe scripts: path set-up before imports, shared helpers via *)
import argparse
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from pathlib import Path

import torch
from lib import *

from train.adapt import AdaptConfig, adapt, replay_corpus
from train.loop import Corpus

p = argparse.ArgumentParser()
p.add_argument("speaker")
p.add_argument("--shifts", default="1")
p.add_argument("--replay-shifts", default="")
p.add_argument("--steps", type=int, default=1000)
p.add_argument("--tag", default="x")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--base", default="./edge_vc/data/learned/base_decoder.npz")
p.add_argument("--cmvn", action="store_true")
p.add_argument("--lr", type=float, default=2e-4)
p.add_argument("--replay", type=float, default=0.5)
a = p.parse_args()
torch.set_num_threads(a.threads)
ctx = Ctx(threads=a.threads)
audio, rate, held = ctx.speakers[a.speaker]
a22 = resample(audio, rate, SR) if rate != SR else audio
mel = hifigan_log_mel(a22, SR)
t0 = time.time()
shifts = [float(x) for x in a.shifts.split(",")]
from train.pretrain import load_npz

_b = load_npz(Path(a.base))
BM, BS = _b.content_mean.numpy(), _b.content_std.numpy()


def norm(c):
    return (c - c.mean(0)) / (c.std(0) + 1e-3) * BS + BM if a.cmvn else c


content = np.concatenate([norm(content_shifted(ctx.enc, a22, mel.shape[0], k)) for k in shifts]).astype(np.float32)
spk = Corpus(content, np.tile(mel, (len(shifts), 1)), 1)
rep = replay_corpus(4.0, threads=a.threads)
if a.replay_shifts:
    from pathlib import Path

    import train.data as td

    rate_b, pieces, _ = td.utterances(sorted(Path("./.cache/learned").glob("base_audio_*[0-9a-f].npz"))[0])
    pieces = pieces[:120]
    cs, ms = [], []
    for k in [float(x) for x in a.replay_shifts.split(",")]:
        for pc in pieces:
            m = hifigan_log_mel(pc, SR)
            ms.append(m)
            cs.append(content_shifted(ctx.enc, pc, m.shape[0], k))
    rep = Corpus(np.concatenate(cs).astype(np.float32), np.concatenate(ms).astype(np.float32), 0)
    print("replay aug frames", rep.frames, "s", time.time() - t0, flush=True)
feat_s = time.time() - t0
cfg = AdaptConfig(steps=a.steps, threads=a.threads, lr=a.lr, replay=a.replay)
from pathlib import Path

ck = Path(f".cache/learned/probe/{a.speaker}_{a.tag}.ckpt")
ck.unlink(missing_ok=True)

model, res = adapt(spk, rep, ck, cfg, base=Path(a.base))
model.eval()


def pred(c):
    with torch.no_grad():
        return model(torch.from_numpy(c), torch.tensor([1])).numpy()


finish(ctx, pred, a, model, res, feat_s, dict(shifts=a.shifts, replay_shifts=a.replay_shifts))
