"""Voice stages: turn base-voice audio into the enrolled speaker's voice, chunk by chunk."""

from .base import IdentityStage, VoiceStage

__all__ = ["IdentityStage", "VoiceStage"]
