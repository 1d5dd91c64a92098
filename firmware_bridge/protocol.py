"""edge-vc bridge protocol v1 in Python: CRC-16/CCITT-FALSE, COBS framing, frames and a resyncing decoder.

Byte-for-byte the same as ``firmware_bridge/c/ebp.c``; see ``PROTOCOL.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

VERSION = 1
MAX_PAYLOAD = 200
_HEADER = 3
_CRC = 2
MAX_RAW = _HEADER + MAX_PAYLOAD + _CRC
MAX_ENCODED = MAX_RAW + MAX_RAW // 254 + 2


class MsgType(IntEnum):
    HELLO = 0x01
    ACK = 0x02
    ERROR = 0x03
    SAY_TEXT = 0x10
    SAY_PROFILE = 0x11
    STOP = 0x12
    STATUS_REQ = 0x13
    STATUS = 0x14
    PTT_DOWN = 0x20
    PTT_UP = 0x21
    LED_STATE = 0x30


class State(IntEnum):
    IDLE = 0
    LISTENING = 1
    SPEAKING = 2
    BUSY = 3
    FAULT = 4


class ErrorCode(IntEnum):
    OK = 0
    FRAME = 1
    VERSION = 2
    TYPE = 3
    PAYLOAD = 4
    BUSY = 5
    FAILED = 6
    NOT_FOUND = 7


class PttMode(IntEnum):
    REPLY = 0
    ENROLL = 1


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); ``crc16(b"123456789") == 0x29B1``."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the result contains no zero byte."""
    out = bytearray(b"\x00")
    code_index, code = 0, 1
    for byte in data:
        if byte == 0:
            out[code_index] = code
            code, code_index = 1, len(out)
            out.append(0)
        else:
            out.append(byte)
            code += 1
            if code == 0xFF:
                out[code_index] = code
                code, code_index = 1, len(out)
                out.append(0)
    out[code_index] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode; ValueError on malformed input."""
    out = bytearray()
    index = 0
    while index < len(data):
        code = data[index]
        index += 1
        if code == 0 or index + code - 1 > len(data):
            raise ValueError("malformed COBS block")
        block = data[index : index + code - 1]
        if 0 in block:
            raise ValueError("zero byte inside a COBS frame")
        out += block
        index += code - 1
        if code != 0xFF and index < len(data):
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    """One message: type, sequence number and payload bytes."""

    type: int
    seq: int = 0
    payload: bytes = b""
    version: int = VERSION

    def encode(self) -> bytes:
        """``0x00 + COBS(version, type, seq, payload, crc16 big-endian) + 0x00``."""
        if len(self.payload) > MAX_PAYLOAD:
            raise ValueError(f"payload is {len(self.payload)} bytes; at most {MAX_PAYLOAD}")
        raw = bytes([self.version & 0xFF, self.type & 0xFF, self.seq & 0xFF]) + self.payload
        raw += crc16(raw).to_bytes(2, "big")
        return b"\x00" + cobs_encode(raw) + b"\x00"


@dataclass
class DecodeError:
    """A frame that was dropped, and why (``crc``, ``cobs``, ``overflow``, ``version``)."""

    reason: str
    frame: Frame | None = None


class FrameDecoder:
    """Feed received bytes; get frames and errors. Memory is bounded; a 0x00 always resynchronises."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False
        self.counts = {"frames": 0, "crc": 0, "cobs": 0, "overflow": 0, "version": 0}

    def feed(self, data: bytes) -> list[Frame | DecodeError]:
        results: list[Frame | DecodeError] = []
        start = 0
        while start <= len(data):
            end = data.find(b"\x00", start)
            piece = data[start:] if end < 0 else data[start:end]
            if not self._overflow:
                if len(self._buf) + len(piece) > MAX_ENCODED:
                    self._overflow = True
                    self._buf.clear()
                else:
                    self._buf += piece
            if end < 0:
                break
            result = self._finish()
            if result is not None:
                results.append(result)
            start = end + 1
        return results

    def _finish(self) -> Frame | DecodeError | None:
        encoded, overflow = bytes(self._buf), self._overflow
        self._buf.clear()
        self._overflow = False
        if overflow:
            return self._error("overflow")
        if not encoded:
            return None
        try:
            raw = cobs_decode(encoded)
        except ValueError:
            return self._error("cobs")
        if len(raw) < _HEADER + _CRC or len(raw) > MAX_RAW:
            return self._error("cobs")
        if crc16(raw[:-_CRC]) != int.from_bytes(raw[-_CRC:], "big"):
            return self._error("crc")
        frame = Frame(type=raw[1], seq=raw[2], payload=raw[_HEADER:-_CRC], version=raw[0])
        if frame.version != VERSION:
            return self._error("version", frame)
        self.counts["frames"] += 1
        return frame

    def _error(self, reason: str, frame: Frame | None = None) -> DecodeError:
        self.counts[reason] += 1
        return DecodeError(reason, frame)
