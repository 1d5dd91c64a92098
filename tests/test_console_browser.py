"""The installer console in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

Loads the page from a real ``edge-vc serve``, enrolls the shipped sample by upload, sees the coach's
checks and the report picture, runs a short adaptation (12 steps) and sees progress and the verdict,
speaks a sentence in the page and removes the profile. A screenshot of each screen goes to
``$EDGE_VC_SCREENSHOTS`` (default: the test's temporary folder; docs/console/ holds the committed ones).
Needs ``chromium`` (apt) and ``websocket-client`` (PyPI, no browser download).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.console_util import SAMPLE, Server, own_null_sink

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
KIOSK = (800, 480)
PHONE = (390, 844)


class Browser:
    """One Chromium page over CDP (JSON messages on the page's websocket)."""

    def __init__(self, profile_dir: Path) -> None:
        import websocket  # websocket-client

        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            pytest.skip("chromium is not installed (apt-get install -y chromium)")
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and self.proc.poll() is None:
            if select.select([self.proc.stderr], [], [], 1.0)[0]:
                match = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", self.proc.stderr.readline())
                port = int(match.group(1)) if match else None
        if port is None:
            self.proc.kill()
            raise RuntimeError("chromium did not open its DevTools port")
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120, suppress_origin=True)
        self.next_id = 0
        self.console: list[str] = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("method") == "Runtime.exceptionThrown":
                self.console.append(json.dumps(message["params"]["exceptionDetails"])[:500])
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self, selector: str) -> str:
        return self.js(f"document.querySelector({json.dumps(selector)}).innerText")

    def click(self, selector: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def fill(self, selector: str, value) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")

    def wait_for(self, expression: str, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; page says: {self.js('document.body.innerText')[:1500]}")

    def size(self, width: int, height: int, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, path: Path, full: bool = False) -> None:
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("EDGE_VC_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_console_in_chromium_enroll_adapt_speak_remove(tmp_path, shots):
    pytest.importorskip("websocket", reason="pip install websocket-client")
    server = Server(tmp_path / "home")
    browser = Browser(tmp_path / "chromium-profile")
    try:
        browser.size(*KIOSK)
        browser.send("Page.navigate", url=server.url + "/")
        browser.wait_for("document.readyState === 'complete' && !!document.querySelector('#read-script').textContent",
                         30, "the page and /v1/console")  # fmt: skip
        assert browser.js("document.querySelector('#no-profiles').hidden") is False
        assert "en_US-joe-medium" in browser.text("#voices")

        # enrollment by upload, no consent check (recorded as a no-consent import)
        browser.click("[data-tab=enroll]")
        browser.js("document.querySelector('#enroll-name').value = 'robert'")
        browser.js("document.querySelector('#upload-skip-consent').checked = true")
        root = browser.send("DOM.getDocument")["root"]["nodeId"]
        node = browser.send("DOM.querySelector", nodeId=root, selector="#upload-file")["nodeId"]
        browser.send("DOM.setFileInputFiles", nodeId=node, files=[str(SAMPLE)])
        browser.click("#upload-button")
        browser.wait_for("document.querySelector('#enroll-status').dataset.state", 300, "the enrollment to end")
        status = browser.text("#enroll-status")
        assert status.startswith("Enrolled robert: dsp stage on en_US-joe-medium") and "no-consent" in status, status
        findings = browser.js(
            "[...document.querySelectorAll('#findings li')].map(li => li.className + ' ' + li.innerText)"
        )
        assert any(f.startswith("warn") and "speech" in f and "10 s or more" in f for f in findings), findings
        assert sum(f.startswith("ok") for f in findings) >= 6, findings
        browser.wait_for("document.querySelector('#report-img').naturalWidth > 500", 30, "the report picture")
        assert not browser.js("document.querySelector('#report-img').hidden")
        browser.wait_for("!document.querySelector('#upload-button').disabled", 30, "the enroll buttons back")
        browser.js("document.querySelector('#findings').scrollIntoView()")
        browser.screenshot(shots / "enroll-kiosk.png")
        browser.js("window.scrollTo(0, 0)")
        browser.size(*PHONE, mobile=True)
        browser.screenshot(shots / "enroll-phone.png", full=True)
        browser.size(*KIOSK)

        # the profile in the list
        browser.click("[data-tab=voices]")
        row = browser.wait_for("document.querySelector('#profiles tbody tr')?.innerText", 10, "the profile row")
        assert "robert" in row and "dsp" in row and "no-consent import" in row
        browser.screenshot(shots / "voices-kiosk.png")

        # a short adaptation: progress, then the verdict and the stage now used
        browser.click("[data-tab=adapt]")
        browser.js("document.querySelector('#adapt-steps').value = 12")
        browser.click("#adapt-button")
        seen = set()
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and browser.js("document.querySelector('#adapt-verdict').hidden"):
            text = browser.text("#adapt-progress")
            if text.startswith("step "):
                seen.add(text.split(" \u00b7")[0])
                if len(seen) == 4:
                    browser.screenshot(shots / "adapt-progress-kiosk.png")
            time.sleep(0.2)
        verdict = browser.text("#adapt-verdict")
        assert verdict.startswith("Verdict: ") and "quality gate" in verdict and "probe WER" in verdict, verdict
        stage = re.search(r"through the (\w+) stage", verdict).group(1)
        assert stage in ("learned", "dsp")
        assert browser.text("#adapt-progress") == f"done: the profile uses the {stage} stage"
        assert len(seen) >= 3, seen  # progress was streamed step by step, not only the end
        browser.wait_for("!document.querySelector('#adapt-button').disabled", 30, "the start button back")
        browser.screenshot(shots / "adapt-kiosk.png")

        # try-out in the browser: measured first audio and RTF
        browser.click("[data-tab=try]")
        browser.wait_for("[...document.querySelectorAll('#try-voice option')].some(o => o.value === 'robert')", 10,
                         "the profile in the voice list")  # fmt: skip
        browser.js("document.querySelector('#try-voice').value = 'robert'")
        browser.js(
            "document.querySelector('#try-text').value = 'The kitchen light is on and the front door is locked.'"
        )
        browser.click("#try-browser")
        said = "document.querySelector('#try-result').innerText"
        result = browser.wait_for(f"{said}.includes('RTF') && {said}", 120, "the spoken sentence")
        match = re.match(r"first audio ([\d.]+) s \u00b7 ([\d.]+) s of audio in ([\d.]+) s \u00b7 RTF ([\d.]+)", result)
        assert match, result
        first, audio_s, total = (float(match.group(i)) for i in (1, 2, 3))
        assert 0 < first <= total and 2.0 < audio_s < 8.0, result
        assert browser.js("document.querySelector('#try-audio').src.startsWith('blob:')")
        browser.screenshot(shots / "try-kiosk.png")

        # bench screen (results appear after a run; here the empty table and its button)
        browser.click("[data-tab=bench]")
        browser.screenshot(shots / "bench-empty-kiosk.png")

        # remove the profile
        browser.click("[data-tab=voices]")
        browser.js("window.confirm = () => true")
        browser.click("#profiles tbody tr button.danger")
        browser.wait_for("document.querySelectorAll('#profiles tbody tr').length === 0", 20, "the profile to go")
        assert not (server.home / "profiles" / "robert").exists()
        assert browser.js("document.querySelector('#banner').hidden"), browser.js(
            "document.querySelector('#banner').innerText"
        )
        assert not browser.console, browser.console
    finally:
        browser.close()
        server.stop()


@pytest.fixture
def mic_sink(pulse_audio):
    """A null sink of this test's own: the server records its monitor (PULSE_SOURCE), the test plays into it."""
    with own_null_sink("edgevc_console_browser") as sink:
        yield sink


def _clear_speech(base_voice, text: str, path: Path) -> Path:
    import numpy as np
    import soundfile

    from edge_vc.base_voice.config import SynthesisConfig

    clear = SynthesisConfig(length_scale=1.1, noise_scale=0.333, noise_w=0.333)
    soundfile.write(path, np.concatenate([c.audio for c in base_voice.synthesize(text, clear)]), base_voice.sample_rate)
    return path


def _record_in_page(browser: Browser, sink: str, base_voice, tmp_path: Path, shots: Path) -> list[list[str]]:
    """One recording from the page: say the phrase shown, read (play the sample); the live checks seen meanwhile."""
    browser.js("document.querySelector('#record-seconds').value = '15'")
    browser.click("#record-button")
    phrase = browser.wait_for("!document.querySelector('#challenge').hidden && document.querySelector('#challenge')"
                              ".innerText", 120, "the consent phrase")  # fmt: skip
    phrase = phrase.removeprefix("Say: \u201c").removesuffix("\u201d")
    said = _clear_speech(base_voice, phrase, tmp_path / "phrase.wav")
    browser.wait_for("!document.querySelector('#enroll-meter').hidden", 30, "the device mic's level")
    player = subprocess.Popen(["paplay", f"--device={sink}", str(said)])
    browser.wait_for("document.querySelector('#enroll-level-text').innerText.includes('dBFS')", 10, "the phrase heard")
    browser.screenshot(shots / "record-phrase-kiosk.png")
    assert player.wait(60) == 0
    browser.wait_for("document.querySelector('#enroll-prompt').innerText.startsWith('Now read')", 30, "the reading")
    player = subprocess.Popen(["paplay", f"--device={sink}", str(SAMPLE)])
    seen: list[list[str]] = []
    shot = False
    live = "[...document.querySelectorAll('#live-findings li, #live-ok li')].map(li => (li.className ? li.className"
    live += " + ' ' : '') + li.innerText)"
    while browser.js("!document.querySelector('#findings li')"):  # until the coach's verdict on the whole
        if not browser.js("document.querySelector('#live-box').hidden"):
            checks = browser.js(live)
            if not seen or checks != seen[-1]:
                seen.append(checks)
            if not shot and player.poll() is None and "\u2713 level" in checks and len(checks) >= 5:
                browser.js("document.querySelector('#enroll-prompt').scrollIntoView()")
                browser.screenshot(shots / "record-read-kiosk.png")
                shot = True
        if browser.js("document.querySelector('#enroll-status').dataset.state"):
            break
        time.sleep(0.3)
    player.wait(30)
    browser.wait_for("document.querySelector('#enroll-status').dataset.state", 300, "the enrollment to end")
    return seen


@pytest.mark.device
def test_console_in_chromium_records_on_the_device_with_live_coach_checks(tmp_path, shots, mic_sink, base_voice):
    """Record from the page: the phrase shown is said at the device mic; the coach's checks fill in while reading."""
    pytest.importorskip("websocket", reason="pip install websocket-client")
    server = Server(tmp_path / "home", env={"PULSE_SOURCE": f"{mic_sink}.monitor"})
    browser = Browser(tmp_path / "chromium-profile")
    try:
        browser.size(*KIOSK)
        browser.send("Page.navigate", url=server.url + "/?device=pulse")
        browser.wait_for("document.readyState === 'complete' && !!document.querySelector('#read-script').textContent",
                         30, "the page and /v1/console")  # fmt: skip
        browser.click("[data-tab=enroll]")
        browser.js("document.querySelector('#enroll-name').value = 'micro'")
        for _ in range(3):  # a loaded machine can garble a word of the played phrase; like a user, record again
            seen = _record_in_page(browser, mic_sink, base_voice, tmp_path, shots)
            status = browser.text("#enroll-status")
            if not status.startswith("Not enrolled: the challenge phrase was not recognised"):
                break
        assert status.startswith("Enrolled micro: dsp stage on"), status
        # live: first the amount of speech so far, then the checks that need speech, all before the verdict
        assert seen and seen[0][0].startswith("info") and "so far: keep reading" in seen[0][0], seen
        assert any({"\u2713 level", "\u2713 clipping", "\u2713 noise"} <= set(checks) for checks in seen), seen
        assert browser.js("document.querySelector('#live-box').hidden")  # the verdict replaced the live checks
        findings = browser.js("[...document.querySelectorAll('#findings li')].map(li => li.className)")
        assert len(findings) >= 8 and "refuse" not in findings, findings
        assert (shots / "record-read-kiosk.png").is_file()
        assert not browser.console, browser.console
    finally:
        browser.close()
        server.stop()
