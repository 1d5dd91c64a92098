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

from edge_vc.audio.chunk import AudioChunk
from edge_vc.audio.sinks import AudioSink
from edge_vc.backends.heap import release_free_memory
from edge_vc.errors import EdgeVCError
from edge_vc.render import SpeechRequest, render
from edge_vc.serve.request import check_request, check_speaker

__all__ = ["BusyError", "EngineConfig", "Job", "SpeechEngine", "SpeechRequest", "default_workers"]

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

    max_memory_mb: float | None = None
    """Memory budget: after a voice loads, least recently used voices are dropped while the process's
    resident memory is above this (the voice just loaded always stays). None: no budget."""

    trim_memory: bool = True
    """After each request, hand the heap memory it freed back to the OS (glibc ``malloc_trim``): a
    sentence's working memory (~70-140 MB with onnxruntime's arena off) then does not stay resident
    between requests or pile up as fragments (benchmarks/results/serve_memory.md)."""

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
        if self.max_memory_mb is not None and self.max_memory_mb <= 0:
            raise ValueError("max_memory_mb must be > 0")


class JobSink(AudioSink):
    """Hands a job's chunks to its client (``Job.put``); the engine marks the end itself."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def write(self, chunk: AudioChunk) -> None:
        self.job.put(chunk)

    def close(self) -> None:
        return None


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
        """A loaded voice pipeline (loading it on first use; least recently used ones are dropped)."""
        key = name or self.config.voice or ""
        with self._speakers_lock:
            if key in self._speakers:
                self._speakers.move_to_end(key)
                return self._speakers[key]
        if self._loader is not None:
            loaded = self._loader(key or None, self.config.threads)
        else:
            from edge_vc.loader import load

            loaded = load(key or None, threads=self.config.threads)
        with self._speakers_lock:
            self._speakers[key] = loaded
            while len(self._speakers) > self.config.max_voices_loaded:
                self._speakers.popitem(last=False)
        self._keep_memory_budget()
        return loaded

    def _keep_memory_budget(self) -> None:
        """Drop least recently used voices while resident memory is above ``max_memory_mb``."""
        budget = self.config.max_memory_mb
        if budget is None:
            return
        import gc

        from edge_vc.bench.system import current_rss_mb

        while current_rss_mb() > budget:
            with self._speakers_lock:
                if len(self._speakers) <= 1:
                    return
                dropped, _ = self._speakers.popitem(last=False)
            gc.collect()
            release_free_memory()
            _LOGGER.info("memory above %.0f MB: unloaded voice %r", budget, dropped or "default")

    def forget(self, name: str) -> None:
        """Drop a loaded speaker (a profile that was changed or removed loads afresh on its next request)."""
        with self._speakers_lock:
            self._speakers.pop(name, None)

    def loaded_voices(self) -> list[str]:
        with self._speakers_lock:
            return [k or "default" for k in self._speakers]

    # -- jobs -------------------------------------------------------------------------------------
    def submit(self, request: SpeechRequest) -> Job:
        """Admit a job or raise BusyError, InvalidTextError, RequestError or VoiceNotFoundError at once."""
        check_request(request, self.config.max_text_chars)
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
        try:
            if job.cancelled.is_set():
                return
            pipeline = self.speaker(job.request.voice)
            check_speaker(job.request, pipeline.voice.config.num_speakers)
            job.sample_rate = pipeline.sample_rate
            job.started.set()
            render(pipeline, job.request, [JobSink(job)], cancelled=job.cancelled.is_set)
        except BaseException as exc:  # reported to the client through the job
            job.error = exc
            if not isinstance(exc, EdgeVCError):
                _LOGGER.exception("synthesis failed")
        finally:
            job.started.set()
            if self.config.trim_memory:
                release_free_memory()
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
