"""Moment matching during adaptation: the speaker's row on base-voice content gets the speaker's mel statistics.

At synthesis the adapted decoder runs its speaker row on base-voice content, a pairing the L1 loss never
trains (speaker batches carry the speaker's own content, replay batches the base row). This loss closes
that gap without a target mel: replay crops go through the speaker row with their pitch moved into the
speaker's range (as ``LearnedStage.mel`` does), and per class of frame (unvoiced speech, voiced) the
output's per-band mean and spread are pulled to the enrollment's. Measured: docs/learned-stage.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from edge_vc.train.loop import Corpus

SILENCE_BELOW = 3.0
"""Frames whose mean log-mel is this far (ln units, ~26 dB) under the 95th percentile are silence."""
CLASSES = {"unvoiced": (1,), "voiced": (2,), "all": (1, 2)}
"""``AdaptConfig.moment_classes``: which frame classes (1 unvoiced speech, 2 voiced) are matched."""


def silence_floor(mel: np.ndarray) -> float:
    """The mean log-mel level under which a frame of ``mel`` [N, 80] is silence."""
    return float(np.quantile(mel.mean(1), 0.95)) - SILENCE_BELOW


def frame_classes(mel: np.ndarray, voiced: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Per frame of ``mel`` [..., 80]: 0 silence, 1 unvoiced speech, 2 voiced (``voiced`` from the pitch
    track); ``floor``: the silence level (default: ``mel``'s own ``silence_floor``)."""
    level = mel.mean(-1)
    floor = silence_floor(mel.reshape(-1, mel.shape[-1])) if floor is None else floor
    return np.where(voiced, 2, np.where(level > floor, 1, 0))


def class_stats(mel: np.ndarray, classes: np.ndarray, wanted=(1, 2)) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per class of ``wanted`` with more than 20 frames: per-band mean and standard deviation of ``mel``."""
    return {c: (mel[classes == c].mean(0), mel[classes == c].std(0)) for c in wanted if (classes == c).sum() > 20}


@dataclass
class MomentTarget:
    """Replay content for the speaker row, the level under which its frames are silence, and per class the
    enrollment's per-band mean and spread."""

    corpus: Corpus
    floor: float
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]]
    weight: float
    crops: int = 4

    @staticmethod
    def build(speaker: Corpus, replay: Corpus, pitch_map, classes: str, weight: float, crops: int = 4) -> MomentTarget:
        if speaker.pitch is None or replay.pitch is None or pitch_map is None:
            raise ValueError("moment matching needs a base decoder with a pitch input")
        if classes not in CLASSES:
            raise ValueError(f"moment_classes must be one of {', '.join(CLASSES)}")
        mel = speaker.mel.astype(np.float32)
        found = class_stats(mel, frame_classes(mel, speaker.pitch[:, 1] > 0.5), CLASSES[classes])
        if not found:
            raise ValueError("the recording has too few speech frames for moment matching")
        stats = {c: (torch.from_numpy(m), torch.from_numpy(sd)) for c, (m, sd) in found.items()}
        mapped = pitch_map.apply(replay.pitch.astype(np.float32)).astype(np.float32)
        corpus = Corpus(replay.content, replay.mel, speaker.speaker, mapped)
        return MomentTarget(corpus, silence_floor(replay.mel.astype(np.float32)), stats, weight, crops)

    def loss(self, out: torch.Tensor, batch) -> torch.Tensor:
        """Weighted L1 between the per-class band moments of ``out`` [n, 80, T] (the speaker row's output
        on ``batch``, a crop sample of ``corpus``) and the enrollment's."""
        _, base_mel, _, pitch = batch
        labels = frame_classes(base_mel.transpose(1, 2).numpy(), (pitch[..., 1] > 0.5).numpy(), self.floor)
        total = out.new_zeros(())
        for c, (mean, spread) in self.stats.items():
            mask = torch.from_numpy(labels == c)
            if int(mask.sum()) < 10:
                continue
            frames = out.permute(0, 2, 1)[mask]  # [F, 80]
            total = total + (frames.mean(0) - mean).abs().mean() + (frames.std(0) - spread).abs().mean()
        return self.weight * total
