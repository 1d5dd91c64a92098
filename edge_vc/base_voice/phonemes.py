"""Phonemes and phoneme ids, exactly as Piper feeds its VITS models."""

from __future__ import annotations

import logging
import unicodedata

from edge_vc.base_voice.config import BOS, EOS, PAD, VoiceConfig

_LOGGER = logging.getLogger(__name__)


class Phonemizer:
    """Turns one sentence of text into phoneme groups and model input ids."""

    def __init__(self, config: VoiceConfig) -> None:
        self.config = config

    def phonemize(self, sentence: str) -> list[str]:
        """Phonemes of one sentence.

        espeak-ng also ends sentences at abbreviations ("Dr."); its groups are joined
        with a space so the sentence splitter alone decides the chunks.
        """
        if self.config.phoneme_type == "text":
            return list(unicodedata.normalize("NFD", sentence))
        from piper_phonemize import phonemize_espeak

        phonemes: list[str] = []
        for group in phonemize_espeak(sentence, self.config.espeak_voice):
            if any(p.strip() for p in group):
                if phonemes:
                    phonemes.append(" ")
                phonemes.extend(group)
        return phonemes

    def to_ids(self, phonemes: list[str]) -> list[int]:
        """BOS, PAD, then each phoneme followed by PAD, then EOS (Piper's layout)."""
        id_map = self.config.phoneme_id_map
        ids = [*id_map[BOS], *id_map[PAD]]
        for phoneme in phonemes:
            if phoneme not in id_map:
                _LOGGER.debug("phoneme %r is not in the voice's id map; skipped", phoneme)
                continue
            ids.extend(id_map[phoneme])
            ids.extend(id_map[PAD])
        ids.extend(id_map[EOS])
        return ids
