"""Speaker atlas of a multi-speaker voice, and cloning by picking and blending its nearest speakers.

Once per voice (and encoder), every speaker id says a fixed text and the product's speaker encoder
embeds it; the embeddings are cached (resumable, saved every few speakers). Enrollment ranks the
atlas by cosine similarity to the person's embedding, weights the top-k (softmax over similarity,
or a least-squares fit in embedding space), then *verifies* by synthesizing a probe sentence with
the blend and with the single nearest speaker and keeping whichever measures closer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_vc.base_voice.catalog import VoiceFiles
from edge_vc.base_voice.config import SynthesisConfig
from edge_vc.base_voice.speaker_space import SpeakerSpaceVoice, source_stamp
from edge_vc.base_voice.store import voice_cache_dir
from edge_vc.fileio import atomic_path

ATLAS_TEXT = (
    "The north wind and the sun were disputing which was the stronger, when a traveler came along wrapped "
    "in a warm cloak."
)
PROBE_TEXT = "Please call Stella and ask her to bring these things with her from the store."
SAVE_EVERY = 8

Embedder = Callable[[np.ndarray, int], np.ndarray]
"""embed(audio float32 mono, sample_rate) -> embedding vector."""


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32).reshape(-1)
    return x / max(float(np.linalg.norm(x)), 1e-9)


def speak(voice, text: str, g: np.ndarray | None = None, speaker_id: int | None = None) -> tuple[np.ndarray, int]:
    """Deterministic synthesis (noise scales 0) of ``text``; returns (audio, rate)."""
    if g is not None:
        voice = voice.with_g(g)
    syn = SynthesisConfig(noise_scale=0.0, noise_w=0.0, speaker_id=speaker_id, normalize_audio=True)
    parts = [chunk.audio for chunk in voice.synthesize(text, syn)]
    return np.concatenate(parts).astype(np.float32), voice.sample_rate


@dataclass
class Atlas:
    """One embedding per speaker of a multi-speaker voice (rows of NaN: not yet computed)."""

    voice: str
    encoder: str
    embeddings: np.ndarray
    stamp: dict = field(default_factory=dict)

    @property
    def done(self) -> np.ndarray:
        return ~np.isnan(self.embeddings).any(axis=1)

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def save(self, path: Path) -> None:
        """Atomic write (temp file + rename)."""
        with atomic_path(path) as tmp:  # keeps the .npz suffix, so np.savez adds none
            np.savez(
                tmp,
                embeddings=self.embeddings,
                voice=self.voice,
                encoder=self.encoder,
                size=self.stamp.get("size", 0),
                mtime_ns=self.stamp.get("mtime_ns", 0),
            )

    @staticmethod
    def load(path: Path) -> Atlas | None:
        try:
            with np.load(path) as data:
                stamp = {"size": int(data["size"]), "mtime_ns": int(data["mtime_ns"])}
                return Atlas(str(data["voice"]), str(data["encoder"]), data["embeddings"].astype(np.float32), stamp)
        except (OSError, KeyError, ValueError):
            return None


def atlas_path(files: VoiceFiles, encoder_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder_id)
    return voice_cache_dir(files.name) / f"atlas-{safe}.npz"


def build_atlas(
    files: VoiceFiles,
    voice: SpeakerSpaceVoice,
    embed: Embedder,
    encoder_id: str,
    progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
) -> Atlas:
    """Load the cached atlas or compute the missing speakers (resumes a partial one).

    ``progress(done, total)`` is called after each speaker; ``stop_after`` computes at most that many
    new speakers (for tests of resuming).
    """
    path = atlas_path(files, encoder_id)
    stamp = source_stamp(files)
    atlas = Atlas.load(path)
    n = voice.num_speakers
    if atlas is None or atlas.stamp != stamp or atlas.encoder != encoder_id or atlas.embeddings.shape[0] != n:
        atlas = None
    computed = 0
    for sid in range(n):
        if atlas is not None and atlas.done[sid]:
            continue
        if stop_after is not None and computed >= stop_after:
            break
        audio, rate = speak(voice, ATLAS_TEXT, g=voice.table[sid])
        emb = _unit(embed(audio, rate))
        if atlas is None:
            atlas = Atlas(files.name, encoder_id, np.full((n, emb.shape[0]), np.nan, np.float32), stamp)
        atlas.embeddings[sid] = emb
        computed += 1
        if computed % SAVE_EVERY == 0:
            atlas.save(path)
        if progress:
            progress(int(atlas.done.sum()), n)
    if atlas is None:
        raise ValueError("no speaker of the atlas was measured (stop_after=0 and nothing cached)")
    if computed:
        atlas.save(path)
    return atlas


def rank(atlas: Atlas, target: np.ndarray) -> list[tuple[int, float]]:
    """(speaker id, cosine similarity) of every computed atlas row, best first."""
    sims = atlas.embeddings @ _unit(target)
    order = [int(i) for i in np.argsort(-np.nan_to_num(sims, nan=-2.0)) if atlas.done[i]]
    return [(i, float(sims[i])) for i in order]


def softmax_weights(ranking: list[tuple[int, float]], top_k: int = 4, temperature: float = 0.02) -> dict[int, float]:
    """Softmax over the top-k similarities (low temperature: close to the single nearest speaker)."""
    top = ranking[:top_k]
    sims = np.array([s for _, s in top], np.float64)
    w = np.exp((sims - sims.max()) / temperature)
    w /= w.sum()
    return {sid: float(x) for (sid, _), x in zip(top, w, strict=True)}


def lsq_weights(atlas: Atlas, target: np.ndarray, ranking: list[tuple[int, float]], top_k: int = 4) -> dict[int, float]:
    """Convex weights (>= 0, sum 1) over the top-k rows that best reconstruct the target embedding."""
    ids = [sid for sid, _ in ranking[:top_k]]
    e = atlas.embeddings[ids].astype(np.float64)  # [k, d]
    t = _unit(target).astype(np.float64)
    w = np.full(len(ids), 1.0 / len(ids))
    gram, rhs = e @ e.T, e @ t
    step = 1.0 / max(float(np.linalg.eigvalsh(gram).max()), 1e-9)
    for _ in range(500):
        w = _project_simplex(w - step * (gram @ w - rhs))
    return {sid: float(x) for sid, x in zip(ids, w, strict=True) if x > 1e-4}


def _project_simplex(v: np.ndarray) -> np.ndarray:
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    idx = np.arange(1, len(v) + 1)
    rho = np.nonzero(u - css / idx > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)


@dataclass
class SpaceMatch:
    """The chosen point in a voice's speaker space and what was measured for it."""

    voice: str
    weights: dict[int, float]
    g: np.ndarray
    similarity: float
    """Measured: encoder cosine between the enrollment and a probe sentence spoken with ``g``."""

    ranking: list[tuple[int, float]]
    candidates: dict[str, float]
    """Measured probe similarity of each candidate tried (``top1``, ``softmax``, ``lsq``)."""

    chosen: str

    def speaker_names(self, id_map: dict[str, int]) -> dict[int, str]:
        names = {v: k for k, v in id_map.items()}
        return {sid: names.get(sid, str(sid)) for sid in self.weights}


def match_speaker(
    atlas: Atlas,
    voice: SpeakerSpaceVoice,
    target: np.ndarray,
    embed: Embedder,
    top_k: int = 4,
    methods: tuple[str, ...] = ("top1", "softmax", "lsq"),
) -> SpaceMatch:
    """Rank, weight and verify: every candidate says PROBE_TEXT and the best measured one wins."""
    ranking = rank(atlas, target)
    if not ranking:
        raise ValueError("the atlas is empty")
    t = _unit(target)
    options: dict[str, dict[int, float]] = {}
    for method in methods:
        if method == "top1":
            options[method] = {ranking[0][0]: 1.0}
        elif method == "softmax":
            options[method] = softmax_weights(ranking, top_k)
        elif method == "lsq":
            options[method] = lsq_weights(atlas, target, ranking, top_k)
        else:
            raise ValueError(f"unknown weighting method '{method}'")
    measured: dict[str, float] = {}
    for method, weights in options.items():
        audio, rate = speak(voice, PROBE_TEXT, g=voice.blend(weights))
        measured[method] = float(_unit(embed(audio, rate)) @ t)
    best = max(measured, key=lambda m: measured[m])
    weights = options[best]
    return SpaceMatch(voice.name, weights, voice.blend(weights), measured[best], ranking, measured, best)


def text_progress(echo: Callable[[str], None], steps: int = 10) -> Callable[[str, int], Callable[[int, int], None]]:
    """A progress factory for ``choose_base``: prints a bar about ``steps`` times per atlas."""

    def factory(name: str, total: int) -> Callable[[int, int], None]:
        every = max(1, total // steps)

        def report(done: int, n: int) -> None:
            if done == n or done % every == 0:
                filled = int(30 * done / max(n, 1))
                echo(f"atlas {name} [{'#' * filled}{'.' * (30 - filled)}] {done}/{n} speakers")

        return report

    return factory
