"""The installer console: the page at ``GET /`` and the JSON API behind it (``/v1/...``).

Everything here calls the product's own code: enrollment is :func:`edge_vc.enroll.flow.enroll`
(coach, consent, report included), profiles are :mod:`edge_vc.profiles`, adaptation is
``edge-vc adapt`` (run by :mod:`edge_vc.serve.jobs`), voices are the server's voice list. Long jobs
run one at a time (409 otherwise) beside the speech engine, which keeps its own admission limits.

Security (see docs/serve.md): with a token every ``/v1`` request needs it (checked by the HTTP API
before these routes); without one the server is loopback-only, the ``Host`` header must name a
loopback address (no DNS rebinding), and state-changing requests (POST, DELETE) must come from the
page's own origin: an ``Origin`` header, when present, must be ``http://<Host>`` and
``Sec-Fetch-Site``, when present, ``same-origin`` or ``none``. Clients that send neither (curl,
scripts on the device) are allowed: browsers always send ``Origin`` on POST and DELETE.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from edge_vc.errors import AudioFormatError, EdgeVCError, EnrollmentError, ProfileError
from edge_vc.serve import console_params as checks
from edge_vc.serve import console_voices as voices
from edge_vc.serve import jobs
from edge_vc.serve.console_data import bench_paths, bench_summary, describe, profile_names, stage_in_use
from edge_vc.serve.console_enroll import check_microphone, enrollment_work, mic_level_stream, report_path
from edge_vc.serve.http_transport import Handler, HttpError, Request

ENROLL_MAX_BYTES = 8 * 1024 * 1024
"""Largest enrollment upload (8 MiB: 87 s of 48 kHz 16-bit mono WAV; FLAC holds more)."""
IMPORT_MAX_BYTES = 32 * 1024 * 1024
"""Largest ``.evc`` upload (a profile with its enrollment and a learned decoder is ~6 MB)."""
VOICE_IMPORT_MAX_BYTES = 128 * 1024 * 1024
"""Largest Piper voice upload (a medium fp32 voice is ~63 MB; the whole body must arrive within 10 s)."""
MAX_ADAPT_STEPS = 5000
STATIC = {"/": "index.html", "/console.css": "console.css", "/console.js": "console.js"}
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript"}
_PROFILE = re.compile(r"^/v1/profiles/([^/]+)(?:/(enrollment|recording|adapt|export|report\.png))?$")
_VOICE = re.compile(r"^/v1/voices/([^/]+)$")
_VOICE_EXPORT = re.compile(r"^/v1/voices/([^/]+)/export$")


class Console:
    """Answers the console's paths (``route``/``static`` return False for any other path)."""

    def __init__(self, api) -> None:
        self.api = api
        self.jobs = jobs.LongJobs()

    # -- limits and checks ---------------------------------------------------------------------------
    @staticmethod
    def body_limit(method: str, path: str) -> int | None:
        """This path's own body limit (None: the API's default 64 KiB)."""
        path = path.split("?", 1)[0].rstrip("/")
        if method == "POST" and path == "/v1/profiles/import":
            return IMPORT_MAX_BYTES
        if method == "POST" and path == "/v1/voices/import":
            return VOICE_IMPORT_MAX_BYTES
        if method == "POST" and path.startswith("/v1/profiles/") and path.endswith("/enrollment"):
            return ENROLL_MAX_BYTES
        return None

    def _check_origin(self, request: Request) -> None:
        if self.api.config.token:
            return  # the bearer token (checked before these routes) is what protects a remote console
        host = request.headers.get("host", "")
        if not checks.loopback(host):
            raise HttpError(403, f"Host {host[:80]!r} is not a loopback address; open the console at "
                                 "http://127.0.0.1:PORT/ (or run with --token)")  # fmt: skip
        if request.method in ("GET", "HEAD"):
            return
        origin = request.headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            raise HttpError(403, f"cross-origin request refused (Origin {origin[:80]!r}, Host {host[:80]!r})")
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise HttpError(403, f"cross-site request refused (Sec-Fetch-Site: {site[:40]})")

    # -- the page ------------------------------------------------------------------------------------
    def static(self, handler: Handler, request: Request) -> bool:
        """The page and its files (no token needed: they hold no data; the page asks for the token)."""
        name = STATIC.get(request.path)
        if name is None:
            return False
        if request.method not in ("GET", "HEAD"):
            raise HttpError(405, f"{request.method} is not allowed on {request.path}")
        self._check_origin(request)
        body = (resources.files("edge_vc.serve") / "console" / name).read_bytes()
        headers = {
            "Content-Type": _TYPES[Path(name).suffix], "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
            "frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
        }  # fmt: skip
        handler.answer(200, body, headers)
        return True

    # -- the API -------------------------------------------------------------------------------------
    def route(self, handler: Handler, request: Request) -> bool:
        path, method = request.path, request.method
        if not path.startswith("/v1/") or path == "/v1/audio/speech":
            return False
        self._check_origin(request)
        try:
            return self._route(handler, request, path, method)
        except HttpError:
            raise
        except jobs.JobBusy as exc:
            raise HttpError(409, str(exc)) from exc
        except (ProfileError, EnrollmentError, AudioFormatError) as exc:
            status = 404 if str(exc).startswith("no profile named") else 400
            raise HttpError(status, str(exc)) from exc
        except EdgeVCError as exc:
            raise HttpError(500, str(exc)) from exc

    def _route(self, handler: Handler, request: Request, path: str, method: str) -> bool:
        if path == "/v1/console" and method == "GET":
            handler.answer_json(200, self._info())
        elif path == "/v1/profiles" and method == "GET":
            handler.answer_json(200, {"profiles": [describe(n) for n in profile_names()]})
        elif path == "/v1/profiles/import" and method == "POST":
            name = checks.name(request.query["name"]) if request.query.get("name") else None
            imported = voices.import_profile_upload(request, name, checks.flag(request.query.get("force")))
            _forget_speaker(self.api.engine, imported)
            handler.answer_json(201, {"imported": imported, "profile": describe(imported)})
        elif path == "/v1/voices/import" and method == "POST":
            answer = voices.import_piper_voice(
                request, request.query.get("name"), checks.flag(request.query.get("force"))
            )
            _forget_speaker(self.api.engine, answer["imported"])
            handler.answer_json(201, answer)
        elif (match := _VOICE_EXPORT.match(path)) and method == "GET":
            voices.export_piper_voice(handler, match.group(1))
        elif path == "/v1/voices" and method == "GET":
            handler.answer_json(200, {"voices": self.api.voices()})
        elif path == "/v1/mic/level" and method == "GET":
            seconds = checks.number(request.query.get("seconds", "10"), 1, 120, "seconds")
            mic_level_stream(handler, request.query.get("device"), seconds)
        elif path == "/v1/bench" and method == "GET":
            handler.answer_json(200, bench_summary())
        elif path == "/v1/bench" and method == "POST":
            handler.answer_json(202, _accepted(self._bench(), "/v1/bench/run"))
        elif path == "/v1/bench/run" and method == "GET":
            self._follow(handler, request, self.jobs.get("bench", "device"), "bench", "device")
        elif path == "/v1/bench.png" and method == "GET":
            png = bench_paths()[1]
            if not png.is_file():
                raise HttpError(404, "no bench plot yet (POST /v1/bench runs one; the plot needs matplotlib)")
            handler.answer(200, png.read_bytes(), {"Content-Type": "image/png", "Cache-Control": "no-cache"})
        elif (match := _VOICE.match(path)) and method == "DELETE":
            handler.answer_json(200, voices.remove_piper_voice(match.group(1)))
            _forget_speaker(self.api.engine, match.group(1))
        elif match := _PROFILE.match(path):
            self._profile_route(handler, request, checks.name(match.group(1)), match.group(2), method)
        else:
            return False
        return True

    def _profile_route(self, handler: Handler, request: Request, name: str, part: str | None, method: str) -> None:
        key = (part, method)
        if key == (None, "GET"):
            handler.answer_json(200, describe(name, full=True))
        elif key == (None, "DELETE"):
            self._delete(handler, name)
        elif key == ("enrollment", "POST"):
            self._enroll_upload(handler, request, name)
        elif key == ("recording", "POST"):
            self._enroll_mic(handler, request, name)
        elif key in (("enrollment", "GET"), ("recording", "GET")):
            self._follow(handler, request, self.jobs.get("enrollment", name), "enrollment", name)
        elif key == ("adapt", "POST"):
            self._adapt(handler, request, name)
        elif key == ("adapt", "GET"):
            self._follow(handler, request, self.jobs.get("adaptation", name), "adaptation", name)
        elif key == ("export", "GET"):
            headers = {"Content-Type": "application/x-edge-vc-profile",
                       "Content-Disposition": f'attachment; filename="{name}.evc"'}  # fmt: skip
            handler.answer(200, voices.export_profile_bytes(name), headers)
        elif key == ("report.png", "GET"):
            png = report_path(name)
            if not png.is_file():
                raise HttpError(404, f"no enrollment report for {name!r}")
            handler.answer(200, png.read_bytes(), {"Content-Type": "image/png", "Cache-Control": "no-cache"})
        else:
            raise HttpError(405, f"{method} is not allowed on {request.path}")

    def _info(self) -> dict[str, Any]:
        from edge_vc.enroll.capture import READ_SCRIPT
        from edge_vc.enroll.flow import CHALLENGE_SECONDS

        running = self.jobs.current if self.jobs.current is not None and self.jobs.current.running else None
        return {
            "read_script": READ_SCRIPT, "challenge_seconds": CHALLENGE_SECONDS,
            "enroll_max_bytes": ENROLL_MAX_BYTES, "import_max_bytes": IMPORT_MAX_BYTES,
            "adaptation_available": jobs.torch_available(), "token_required": bool(self.api.config.token),
            "running": {"kind": running.kind, "name": running.name} if running else None,
            "queue": self.api.engine.status(),
        }  # fmt: skip

    # -- enrollment ----------------------------------------------------------------------------------
    def _enroll_upload(self, handler: Handler, request: Request, name: str) -> None:
        from edge_vc.audio.io import read_audio
        from edge_vc.enroll.flow import MAX_INPUT_SECONDS

        consent = checks.consent(request.query.get("consent", "check"))
        force = checks.flag(request.query.get("force"))
        device = request.query.get("device")
        self._check_new(name, force)
        if consent:
            check_microphone(device, "the consent check (the person in the recording says the phrase shown "
                                     "there); upload with consent=skip for a no-consent import")  # fmt: skip
        if not request.body:
            raise HttpError(400, "the body must be the recording (WAV or FLAC)")
        suffix = checks.audio_suffix(request.body)
        folder = Path(tempfile.mkdtemp(prefix="edge-vc-upload-"))
        try:
            upload = folder / f"{checks.upload_name(request.query.get('filename'))}{suffix}"
            upload.write_bytes(request.body)
            try:
                read_audio(upload, max_seconds=MAX_INPUT_SECONDS)
            except AudioFormatError as exc:
                message = str(exc).replace(str(upload), upload.name)
                raise HttpError(400, f"the upload is not a usable recording: {message}") from None
            task = self.jobs.start(
                "enrollment", name, enrollment_work(name, [upload], folder, consent, force, device=device)
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _forget_speaker(self.api.engine, name)
        handler.answer_json(202, _accepted(task, f"/v1/profiles/{name}/enrollment"))

    def _enroll_mic(self, handler: Handler, request: Request, name: str) -> None:
        params = request.params() if request.body else dict(request.query)
        seconds = checks.number(params.get("seconds", 30), 5, 120, "seconds")
        force = checks.flag(params.get("force"))
        self._check_new(name, force)
        device = params.get("device")
        check_microphone(device, "recording an enrollment")
        task = self.jobs.start("enrollment", name, enrollment_work(name, [], None, True, force, seconds, device))
        _forget_speaker(self.api.engine, name)
        handler.answer_json(202, _accepted(task, f"/v1/profiles/{name}/enrollment"))

    @staticmethod
    def _check_new(name: str, force: bool) -> None:
        from edge_vc.profiles.profile import PROFILE_FILE, profile_path

        if (profile_path(name) / PROFILE_FILE).is_file() and not force:
            raise HttpError(409, f"a profile named {name!r} exists; add ?force=1 to replace it, or choose a new name")

    # -- adaptation ----------------------------------------------------------------------------------
    def _adapt(self, handler: Handler, request: Request, name: str) -> None:
        if not jobs.torch_available():
            raise HttpError(501, "adaptation needs PyTorch on this device: pip install 'edge-vc[train]' "
                                 "(speaking with an adapted profile does not)")  # fmt: skip
        folder = jobs.profile_dir_of(name)
        if not folder.is_dir():
            raise HttpError(404, f"no profile named {name!r} (enroll first)")
        params = request.params() if request.body else dict(request.query)
        steps = int(checks.number(params.get("steps", 1000), 1, MAX_ADAPT_STEPS, "steps"))
        minutes = checks.number(params.get("minutes", 5.0), 1, 120, "minutes")
        threads = int(checks.number(params.get("threads", 1), 1, 64, "threads"))
        replay = checks.number(params.get("replay_minutes", 4.0), 0.1, 30, "replay_minutes")
        command = jobs.adapt_command(name, steps, minutes, threads, replay)
        engine = self.api.engine

        def work(task: jobs.Task) -> dict[str, Any]:
            status = jobs.run_adaptation(task, command, threads)
            _forget_speaker(engine, name)
            stage = stage_in_use(name)
            return {"status": status, "stage": stage, "verdict": jobs.verdict(status, stage)}

        task = self.jobs.start("adaptation", name, work)
        handler.answer_json(202, _accepted(task, f"/v1/profiles/{name}/adapt") | {"steps": steps})

    def _bench(self) -> jobs.Task:
        results, plot = bench_paths()
        results.parent.mkdir(parents=True, exist_ok=True)
        command = jobs.bench_command(results.with_suffix(".new.json"), plot)

        def work(task: jobs.Task) -> dict[str, Any]:
            jobs.run_command(task, command, 1)
            fresh = results.with_suffix(".new.json")
            if task.returncode != 0 or not fresh.is_file():
                raise EdgeVCError(f"bench failed: {task.log_tail[-1] if task.log_tail else task.returncode}")
            fresh.replace(results)
            return bench_summary()

        return self.jobs.start("bench", "device", work)

    # -- following a task ----------------------------------------------------------------------------
    def _follow(self, handler: Handler, request: Request, task, kind: str, name: str) -> None:
        if task is None:
            raise HttpError(404, f"no {kind} of {name!r} since the server started")
        if "text/event-stream" not in request.headers.get("accept", ""):
            since = int(checks.number(request.query.get("since", 0), 0, 10**9, "since"))
            snap = task.snapshot()
            snap["events"] = snap["events"][since:]
            handler.answer_json(200, snap | _summary(task))
            return
        handler.head(200, {"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        index, last = 0, time.monotonic()
        while True:
            events, ended = task.follow(index, wait=1.0)
            for event in events:
                handler.write(_sse(event["event"], event))
            index += len(events)
            if ended and not events:
                snap = task.snapshot()
                del snap["events"]
                handler.write(_sse("end", snap | _summary(task)))
                return
            if events:
                last = time.monotonic()
            elif time.monotonic() - last > 10:
                handler.write(b": keep-alive\n\n")
                last = time.monotonic()
            if handler.client_gone():
                return

    # -- profiles and voices -------------------------------------------------------------------------
    def _delete(self, handler: Handler, name: str) -> None:
        from edge_vc.profiles.profile import remove_profile

        current = self.jobs.current
        if current is not None and current.running and current.name == name:
            raise HttpError(409, f"{current.kind} of {name!r} is running; wait for it to end")
        folder = remove_profile(name)
        report_path(name).unlink(missing_ok=True)
        self.jobs.forget(name)
        _forget_speaker(self.api.engine, name)
        handler.answer_json(200, {"removed": name, "path": str(folder)})

    def close(self) -> None:
        self.jobs.close()


# ---------------------------------------------------------------------------------------------------


def _summary(task: jobs.Task) -> dict[str, Any]:
    progress = next((e for e in reversed(task.events) if e["event"] == "progress"), None)
    phase = next((e.get("phase") for e in reversed(task.events) if e.get("phase") not in (None, "log")), None)
    result = task.result or {}
    return {"progress": progress, "phase": "done" if not task.running else phase,
            "verdict": result.get("verdict"), "stage": result.get("stage")}  # fmt: skip


def _accepted(task: jobs.Task, follow: str) -> dict[str, Any]:
    return {"state": task.state, "kind": task.kind, "name": task.name, "follow": follow}


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _forget_speaker(engine, name: str) -> None:
    """Drop the engine's loaded copy of ``name`` so the next request loads the changed profile."""
    forget = getattr(engine, "forget", None)
    if forget is not None:
        forget(name)
