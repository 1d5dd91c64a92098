"""Sound devices through sounddevice (PortAudio): listing, choosing, rate negotiation."""

from __future__ import annotations

from dataclasses import dataclass

from edge_vc.errors import AudioDeviceError


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: int

    @property
    def kinds(self) -> str:
        parts = []
        if self.max_input_channels:
            parts.append("in")
        if self.max_output_channels:
            parts.append("out")
        return "/".join(parts)


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise AudioDeviceError(f"PortAudio is not available ({exc}); install libportaudio2") from exc
    return sounddevice


def list_devices() -> list[DeviceInfo]:
    """All devices PortAudio sees."""
    sd = _sounddevice()
    hostapis = sd.query_hostapis()
    devices = []
    for index, dev in enumerate(sd.query_devices()):
        devices.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                hostapi=str(hostapis[dev["hostapi"]]["name"]),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_samplerate=int(dev["default_samplerate"]),
            )
        )
    return devices


def find_device(spec: str | int | None, kind: str = "output") -> DeviceInfo:
    """A device by index, exact name or unique name fragment; None is the system default."""
    sd = _sounddevice()
    devices = list_devices()
    channel_attr = "max_output_channels" if kind == "output" else "max_input_channels"
    usable = [d for d in devices if getattr(d, channel_attr) > 0]
    if spec is None or spec == "":
        try:
            default = sd.default.device[0 if kind == "input" else 1]
        except Exception:
            default = -1
        if default is None or default < 0:
            if not usable:
                raise AudioDeviceError(f"no {kind} audio device found")
            return usable[0]
        return devices[int(default)]
    text = str(spec).strip()
    if text.isdigit():
        index = int(text)
        match = [d for d in usable if d.index == index]
        if not match:
            raise AudioDeviceError(f"no {kind} device with index {index}; run 'edge-vc devices' to list them")
        return match[0]
    exact = [d for d in usable if d.name == text]
    if exact:
        return exact[0]
    partial = [d for d in usable if text.lower() in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise AudioDeviceError(f"no {kind} device named '{text}'; run 'edge-vc devices' to list them")
    names = ", ".join(f"{d.index}: {d.name}" for d in partial)
    raise AudioDeviceError(f"'{text}' matches several {kind} devices ({names}); give the index")


def supported_rate(device: DeviceInfo, wanted: int, kind: str = "output") -> int:
    """``wanted`` if the device accepts it, else the device's default rate."""
    sd = _sounddevice()
    check = sd.check_output_settings if kind == "output" else sd.check_input_settings
    try:
        check(device=device.index, samplerate=wanted, channels=1, dtype="float32")
        return wanted
    except Exception:
        return device.default_samplerate
