"""The speech engine behind ``edge-vc serve``: loaded speakers, a bounded job queue, worker threads.

A request is admitted only while fewer than ``workers + max_queue`` jobs are admitted; otherwise it
is refused at once with BusyError (never an unbounded backlog). Each job streams its chunks through a
small bounded queue, so a slow client holds back its own synthesis, and a job whose client has left
(``cancel()``) or stalled past ``stall_seconds`` stops at the next chunk.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import EdgeVCError, InvalidTextError, VoiceNotFoundError
from ..tts.chunks import AudioChunk

_LOGGER = logging.getLogger(__name__)
_DONE = object()


class BusyError(EdgeVCError):
    """Every synthesis slot and queue place is taken; try again later."""

    exit_code = 10


@dataclass
class EngineConfig:
    """Limits and defaults of the server's speech engine."""

    voice: str | None = None
    """Default voice or profile name (None: the bundled voice)."""

    threads: int | None = None
    """Inference threads per synthesis (None: all cores for one worker)."""

    workers: int = 1
    """Syntheses that run at the same time (keep workers × threads ≤ cores)."""

    max_queue: int = 4
    """Admitted jobs that may wait for a worker; more are refused as busy."""

    max_text_chars: int = 5000
    """Longest text accepted per request."""

    max_voices_loaded: int = 3
    """Speakers kept in memory (least recently used is dropped)."""

    stall_seconds: float = 30.0
    """A job whose client reads nothing for this long is cancelled."""

    @staticmethod
    def from_dict(data: dict[str, Any]) -> EngineConfig:
        known = EngineConfig.__dataclass_fields__
        config = EngineConfig(**{k: v for k, v in data.items() if k in known})
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Raise ValueError for limits the engine cannot honour."""
        if self.workers < 1 or self.max_queue < 0:
            raise ValueError("workers must be >= 1 and max_queue >= 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be >= 1")
        if not 1 <= self.max_text_chars <= 1_000_000:
            raise ValueError("max_text_chars must be in [1, 1000000]")
        if self.max_voices_loaded < 1 or self.stall_seconds <= 0:
            raise ValueError("max_voices_loaded must be >= 1 and stall_seconds > 0")


@dataclass
class SpeechRequest:
    """One thing to say."""

    text: str
    voice: str | None = None
    ssml: bool | None = None
    rate: float = 1.0
    volume: float = 1.0
    speaker_id: int | None = None


class Job:
    """A running or waiting synthesis; iterate it for chunks (blocking), ``cancel()`` to stop it."""

    def __init__(self, request: SpeechRequest, stall_seconds: float) -> None:
        self.request = request
        self.stall_seconds = stall_seconds
        self.chunks: queue.Queue = queue.Queue(maxsize=4)
        self.cancelled = threading.Event()
        self.error: BaseException | None = None
        self.sample_rate: int | None = None
        self.started = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    def put(self, item) -> bool:
        """Worker side: hand over a chunk; False when the client has gone or stalled."""
        deadline = time.monotonic() + self.stall_seconds
        while not self.cancelled.is_set():
            try:
                self.chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                if time.monotonic() > deadline:
                    _LOGGER.warning("client stalled for %.0f s; job cancelled", self.stall_seconds)
                    self.cancel()
        return False

    def next_chunk(self, timeout: float | None = None) -> AudioChunk | None:
        """The next chunk, None at the end; raises the synthesis error if there was one."""
        item = self.chunks.get(timeout=timeout)
        if item is _DONE:
            self.chunks.put(_DONE)  # later calls see the end too
            if self.error is not None:
                raise self.error
            return None
        return item

    def __iter__(self) -> Iterator[AudioChunk]:
        while (chunk := self.next_chunk()) is not None:
            yield chunk


class SpeechEngine:
    """Keeps speakers loaded and runs jobs on ``workers`` threads with a bounded admission count."""

    def __init__(self, config: EngineConfig, loader=None) -> None:
        config.validate()
        self.config = config
        self._loader = loader
        self._speakers: OrderedDict[str, Any] = OrderedDict()
        self._speakers_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.workers + config.max_queue)
        self._jobs: queue.Queue = queue.Queue()
        self._running = 0
        self._admitted = 0
        self._count_lock = threading.Lock()
        self.served = 0
        self.refused = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"edge-vc-synth-{i}", daemon=True) for i in range(config.workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- speakers ---------------------------------------------------------------------------------
    def speaker(self, name: str | None):
        """A loaded Speaker (loading it on first use; least recently used ones are dropped)."""
        key = name or self.config.voice or ""
        with self._speakers_lock:
            if key in self._speakers:
                self._speakers.move_to_end(key)
                return self._speakers[key]
        if self._loader is not None:
            loaded = self._loader(key or None, self.config.threads)
        else:
            from ..pipeline import Speaker

            loaded = Speaker.load(key or None, threads=self.config.threads)
        with self._speakers_lock:
            self._speakers[key] = loaded
            while len(self._speakers) > self.config.max_voices_loaded:
                self._speakers.popitem(last=False)
        return loaded

    def loaded_voices(self) -> list[str]:
        with self._speakers_lock:
            return [k or "default" for k in self._speakers]

    # -- jobs -------------------------------------------------------------------------------------
    def submit(self, request: SpeechRequest) -> Job:
        """Admit a job or raise BusyError / InvalidTextError at once."""
        if not request.text or not request.text.strip():
            raise InvalidTextError("text is empty: nothing to say")
        if len(request.text) > self.config.max_text_chars:
            raise InvalidTextError(
                f"text is {len(request.text)} characters; this server accepts at most {self.config.max_text_chars}"
            )
        voice = request.voice or ""
        if "/" in voice or "\\" in voice or voice.startswith(".") or voice.endswith(".onnx") or len(voice) > 128:
            raise VoiceNotFoundError(f"voice {voice[:40]!r}: requests name a voice or profile, never a file path")
        if not 0.25 <= request.rate <= 4.0 or not 0.0 <= request.volume <= 4.0:
            raise InvalidTextError("rate must be in [0.25, 4] and volume in [0, 4]")
        if not self._slots.acquire(blocking=False):
            with self._count_lock:
                self.refused += 1
            raise BusyError(
                f"busy: {self.config.workers} synthesis running and {self.config.max_queue} waiting; try again"
            )
        with self._count_lock:
            self._admitted += 1
        job = Job(request, self.config.stall_seconds)
        self._jobs.put(job)
        return job

    def status(self) -> dict[str, Any]:
        with self._count_lock:
            running, admitted = self._running, self._admitted
        return {
            "running": running,
            "waiting": admitted - running,
            "capacity": self.config.workers + self.config.max_queue,
            "served": self.served,
            "refused": self.refused,
        }

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            with self._count_lock:
                self._running += 1
            try:
                self._run(job)
            finally:
                with self._count_lock:
                    self._running -= 1
                    self._admitted -= 1
                    self.served += 1
                self._slots.release()

    def _run(self, job: Job) -> None:
        stream = None
        try:
            if job.cancelled.is_set():
                return
            request = job.request
            speaker = self.speaker(request.voice)
            syn = speaker.voice.config.default_synthesis()
            syn.length_scale = syn.length_scale / request.rate
            syn.volume = request.volume
            syn.speaker_id = request.speaker_id
            text = request.text
            if request.ssml and not text.lstrip().lower().startswith(("<speak", "<?xml")):
                text = f"<speak>{text}</speak>"
            job.sample_rate = speaker.sample_rate
            job.started.set()
            stream = speaker.synthesize(text, syn)
            for chunk in stream:
                if not job.put(chunk):
                    break
        except BaseException as exc:  # reported to the client through the job
            job.error = exc
            if not isinstance(exc, EdgeVCError):
                _LOGGER.exception("synthesis failed")
        finally:
            if stream is not None:
                stream.close()
            job.started.set()
            self._finish(job)

    @staticmethod
    def _finish(job: Job) -> None:
        if job.put(_DONE):
            return
        while True:  # client gone: make room for the end marker (nobody reads the chunks)
            try:
                job.chunks.put_nowait(_DONE)
                return
            except queue.Full:
                try:
                    job.chunks.get_nowait()
                except queue.Empty:
                    pass

    def close(self) -> None:
        """Stop the workers after their current job."""
        for _ in self._threads:
            self._jobs.put(None)


def default_workers(threads: int | None) -> int:
    """One synthesis per ``threads`` cores (at least one)."""
    cores = os.cpu_count() or 1
    return max(1, cores // max(1, threads or cores))
