"""The product's own enrollment (``edge_vc.enroll.flow``) run on a recording, for bench and eval.

Profiles go to a throwaway ``EDGE_VC_HOME`` whose ``voices`` and ``cache`` folders link to the real
ones (installed voices and cached speaker-space atlases stay available and are not rebuilt); the
user's profile store is never touched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def product_enrollment_available() -> str | None:
    """None when ``edge_vc.enroll.flow`` and the shipped speaker encoder load here, else the reason."""
    try:
        from edge_vc.enroll.flow import EnrollOptions, enroll  # noqa: F401
        from edge_vc.speaker.encoder import BUNDLED_MODEL
    except ImportError as exc:
        return f"enrollment API missing ({exc})"
    if not Path(BUNDLED_MODEL).is_file():
        return f"speaker encoder not shipped ({BUNDLED_MODEL.name} missing)"
    return None


@contextmanager
def throwaway_home() -> Iterator[Path]:
    """A temporary EDGE_VC_HOME sharing the real voices and cache folders."""
    from edge_vc.paths import cache_dir, voices_dir

    real_cache, real_voices = cache_dir(), voices_dir()
    old = os.environ.get("EDGE_VC_HOME")
    with tempfile.TemporaryDirectory(prefix="edge-vc-enroll-") as tmp:
        home = Path(tmp)
        for link, target in (("cache", real_cache), ("voices", real_voices)):
            target.mkdir(parents=True, exist_ok=True)
            (home / link).symlink_to(target, target_is_directory=True)
        os.environ["EDGE_VC_HOME"] = str(home)
        try:
            yield home
        finally:
            if old is None:
                os.environ.pop("EDGE_VC_HOME", None)
            else:
                os.environ["EDGE_VC_HOME"] = old


def enroll_speaker(
    audio: np.ndarray, rate: int, stage: str = "auto", threads: int | None = None, encoder=None, name: str = "bench"
):
    """Enroll ``audio`` as the product does (no consent check: a file import) and return its Speaker."""
    from edge_vc.audio.io import write_wav
    from edge_vc.enroll.flow import EnrollOptions, enroll
    from edge_vc.loader import load as load_pipeline

    with throwaway_home() as home:
        wav = home / "reference.wav"
        write_wav(wav, audio, rate)
        opts = EnrollOptions(
            name=name, wavs=[str(wav)], consent=False, stage=stage, threads=threads, force=True, keep_audio=False
        )
        enroll(opts, echo=lambda msg: None, encoder=encoder)
        speaker = load_pipeline(name, threads=threads)
        if speaker.profile_name is None:
            raise RuntimeError("enrollment wrote no profile")
        return speaker
