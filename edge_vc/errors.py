"""One error family for users: each error carries a clear message and an exit code."""

from __future__ import annotations


class EdgeVCError(Exception):
    """Base class of every error edge-vc reports to users."""

    exit_code = 1


class ConfigError(EdgeVCError, ValueError):
    """Settings or stored parameters have an unknown key, a missing field, a wrong type or a bad value.

    Also a ValueError, so code that validated settings with ValueError keeps working. The helper
    ``edge_vc.configs.from_mapping`` raises it (or the subclass it is given).
    """


class InvalidTextError(EdgeVCError):
    """The text to speak is empty, unusable or too large."""

    exit_code = 2


class VoiceNotFoundError(EdgeVCError):
    """A voice model or its config file does not exist."""

    exit_code = 3


class VoiceConfigError(ConfigError):
    """A voice config (.onnx.json) is malformed or lacks required keys."""

    exit_code = 4


class ModelLoadError(EdgeVCError):
    """A model file could not be loaded (corrupt, wrong format, missing metadata)."""

    exit_code = 5


class AudioDeviceError(EdgeVCError):
    """A sound device is unknown, unavailable or refuses the requested format."""

    exit_code = 6


class AudioFormatError(EdgeVCError):
    """An audio file cannot be read or has an unsupported shape."""

    exit_code = 7


class ProfileError(ConfigError):
    """A voice profile is missing, corrupt, or from an incompatible version."""

    exit_code = 8


class EnrollmentError(EdgeVCError):
    """Enrollment audio was refused (too short, no speech, failed checks)."""

    exit_code = 9
