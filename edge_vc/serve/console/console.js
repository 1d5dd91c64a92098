// edge-vc console: plain JavaScript, no libraries, nothing fetched from outside this device.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("edgevc-token") || "";
let info = {};
// The device's input for recordings and the level: its default, or the one named by /?device=NAME.
const micDevice = new URLSearchParams(location.search).get("device") || undefined;

// ---------------------------------------------------------------- requests

async function request(method, path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { method, headers, body: options.body });
  if (response.status === 401 && !options.retried) {
    await askToken();
    return request(method, path, Object.assign({}, options, { retried: true }));
  }
  return response;
}

async function errorText(response) {
  try {
    const data = await response.json();
    return data.error || JSON.stringify(data);
  } catch (e) {
    return response.status + " " + response.statusText;
  }
}

async function api(method, path, body) {
  const options = {};
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers = { "Content-Type": "application/json" };
  }
  const response = await request(method, path, options);
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

function askToken() {
  return new Promise((resolve) => {
    const dialog = $("token-dialog");
    dialog.addEventListener("close", () => {
      token = $("token-input").value.trim();
      sessionStorage.setItem("edgevc-token", token);
      resolve();
    }, { once: true });
    dialog.showModal();
  });
}

// Server-sent events read with fetch (EventSource cannot send the token header).
async function follow(path, onEvent) {
  const response = await request("GET", path, { headers: { Accept: "text/event-stream" } });
  if (!response.ok) throw new Error(await errorText(response));
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let type = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(type, JSON.parse(data));
    }
  }
}

async function blobUrl(path) {
  const response = await request("GET", path);
  if (!response.ok) throw new Error(await errorText(response));
  return URL.createObjectURL(await response.blob());
}

function banner(text) {
  const el = $("banner");
  el.textContent = text || "";
  el.hidden = !text;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function button(text, cls, onClick) {
  const b = el("button", text, cls);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

// ---------------------------------------------------------------- tabs

function showTab(name) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("active", s.id === "tab-" + name));
}
document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

// ---------------------------------------------------------------- level meter

function showLevel(dbfs, where = "") {
  const share = Math.max(0, Math.min(1, (dbfs + 60) / 60));
  const hint = dbfs > -1 ? " clipping" : dbfs < -45 ? " quiet" : "";
  const text = dbfs < -90 ? "silence" : dbfs.toFixed(0) + " dBFS" + hint;
  $("level-fill").style.width = (share * 100).toFixed(0) + "%";
  $("level-text").textContent = "mic: " + text;
  if (where === "enroll") {
    $("enroll-meter").hidden = false;
    $("enroll-level-fill").style.width = (share * 100).toFixed(0) + "%";
    $("enroll-level-text").textContent = text;
  }
}

$("level-button").addEventListener("click", async () => {
  $("level-button").disabled = true;
  try {
    const query = new URLSearchParams({ seconds: 15 });
    if (micDevice) query.set("device", micDevice);
    await follow("/v1/mic/level?" + query, (type, data) => {
      if (type === "level") showLevel(data.dbfs);
      if (type === "end" && data.error) banner(data.error);
    });
  } catch (e) {
    banner("microphone: " + e.message);
  } finally {
    $("level-button").disabled = false;
  }
});

// ---------------------------------------------------------------- voices

async function refreshProfiles() {
  const data = await api("GET", "/v1/profiles");
  const body = $("profiles").querySelector("tbody");
  body.replaceChildren();
  $("no-profiles").hidden = data.profiles.length > 0;
  for (const p of data.profiles) {
    const row = el("tr");
    row.dataset.name = p.name;
    row.append(el("td", p.name), el("td", p.stage || p.error || ""), el("td", p.base_voice || ""),
      el("td", p.consent || ""));
    const actions = el("td", undefined, "actions");
    actions.append(
      button("Show", "small ghost", () => showProfile(p.name)),
      button("Export", "small ghost", () => exportProfile(p.name)),
      button("Remove", "small danger", () => removeProfile(p.name)));
    row.append(actions);
    body.append(row);
  }
  const names = data.profiles.map((p) => p.name);
  fillSelect($("adapt-profile"), names);
  return names;
}

async function refreshVoices(profiles) {
  const data = await api("GET", "/v1/voices");
  const list = $("voices");
  list.replaceChildren();
  const voiceNames = [];
  for (const v of data.voices) {
    if (v.kind !== "voice") continue;
    voiceNames.push(v.name);
    const item = el("li", v.name + (v.description === "bundled voice" ? " (bundled)" : ""));
    item.append(" ", button("Export", "small ghost", () => download("/v1/voices/" + encodeURIComponent(v.name)
      + "/export", v.name + ".tar")));
    if (v.description !== "bundled voice") {
      item.append(" ", button("Remove", "small danger", () => removeVoice(v.name)));
    }
    list.append(item);
  }
  fillSelect($("try-voice"), [...profiles, ...voiceNames]);
}

function fillSelect(select, names) {
  const keep = select.value;
  select.replaceChildren(...names.map((n) => { const o = el("option", n); o.value = n; return o; }));
  if (names.includes(keep)) select.value = keep;
}

async function refreshAll() {
  try {
    const profiles = await refreshProfiles();
    await refreshVoices(profiles);
  } catch (e) {
    banner(e.message);
  }
}

async function showProfile(name) {
  const data = await api("GET", "/v1/profiles/" + encodeURIComponent(name));
  const box = $("profile-details");
  box.hidden = false;
  box.open = true;
  box.querySelector("summary").textContent = "Profile " + name;
  box.querySelector("pre").textContent = JSON.stringify(data, null, 1);
}

async function download(path, filename) {
  try {
    const a = el("a");
    a.href = await blobUrl(path);
    a.download = filename;
    a.click();
  } catch (e) {
    banner(e.message);
  }
}

function exportProfile(name) {
  return download("/v1/profiles/" + encodeURIComponent(name) + "/export", name + ".evc");
}

async function removeProfile(name) {
  if (!window.confirm("Remove the voice profile " + name + "? This cannot be undone.")) return;
  try {
    await api("DELETE", "/v1/profiles/" + encodeURIComponent(name));
    banner("");
  } catch (e) {
    banner(e.message);
  }
  await refreshAll();
}

async function removeVoice(name) {
  if (!window.confirm("Remove the installed voice " + name + "?")) return;
  try {
    await api("DELETE", "/v1/voices/" + encodeURIComponent(name));
  } catch (e) {
    banner(e.message);
  }
  await refreshAll();
}

// Import a profile (.evc) or a Piper voice (.tar): the file is the body, the answer names what was installed.
function importOnChange(input, status, path, contentType, busyText) {
  $(input).addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    $(status).textContent = busyText(file.name);
    try {
      const response = await request("POST", path, { body: file, headers: { "Content-Type": contentType } });
      $(status).textContent = response.ok ? "imported " + (await response.json()).imported
        : "import failed: " + await errorText(response);
    } catch (e) {
      $(status).textContent = "import failed: " + e.message;
    }
    event.target.value = "";
    await refreshAll();
  });
}
importOnChange("import-file", "import-status", "/v1/profiles/import", "application/octet-stream",
  (name) => "importing " + name + " ...");
importOnChange("voice-import-file", "voice-import-status", "/v1/voices/import", "application/x-tar",
  (name) => "checking " + name + " (it must load and speak) ...");

// ---------------------------------------------------------------- enrollment

function enrollName() {
  const name = $("enroll-name").value.trim();
  if (!name) throw new Error("give the voice a name first");
  return name;
}

function findingItem(finding) {
  const item = el("li", undefined, finding.level);
  item.append(el("b", finding.level), finding.check + ": " + finding.message);
  return item;
}

// The coach's live checks of the reading so far: what needs doing in full, the passed checks as chips.
function showLiveChecks(data) {
  $("live-box").hidden = false;
  $("live-when").textContent = "(" + data.seconds.toFixed(0) + " s, " + data.speech_seconds.toFixed(1)
    + " s of speech)";
  $("live-findings").replaceChildren(...data.findings.filter((f) => f.level !== "ok").map(findingItem));
  $("live-ok").replaceChildren(...data.findings.filter((f) => f.level === "ok").map((f) => {
    const chip = el("li", "\u2713 " + f.check);
    chip.title = f.message;
    return chip;
  }));
}

function resetEnroll() {
  $("findings").replaceChildren();
  $("live-box").hidden = true;
  $("live-findings").replaceChildren();
  $("live-ok").replaceChildren();
  $("challenge").hidden = true;
  $("enroll-prompt").textContent = "";
  $("enroll-status").textContent = "";
  delete $("enroll-status").dataset.state;
  $("report-img").hidden = true;
  $("enroll-meter").hidden = true;
  banner("");
}

function setEnrollBusy(busy) {
  $("record-button").disabled = busy;
  $("upload-button").disabled = busy;
}

async function followEnrollment(name) {
  await follow("/v1/profiles/" + encodeURIComponent(name) + "/enrollment", async (type, data) => {
    if (type === "challenge") {
      const box = $("challenge");
      box.hidden = false;
      box.textContent = "Say: \u201c" + data.phrase + "\u201d";
      box.scrollIntoView({ block: "start" });
    } else if (type === "prompt") {
      $("enroll-prompt").textContent = data.message.startsWith("now read") ? "Now read the text aloud." : data.message;
      if (data.message.startsWith("now read")) {
        $("challenge").hidden = true;
        $("script-box").open = true;
        $("enroll-meter").scrollIntoView({ block: "start" });
      }
    } else if (type === "countdown") {
      $("enroll-prompt").textContent = "recording starts in " + data.seconds + " ...";
    } else if (type === "level") {
      showLevel(data.dbfs, "enroll");
      if (data.total_s) {
        $("enroll-level-text").textContent += " \u00b7 " + Math.max(0, data.total_s - data.seconds).toFixed(0) + " s left";
      }
    } else if (type === "coach") {
      showLiveChecks(data);
    } else if (type === "finding") {
      $("live-box").hidden = true;  // the coach's verdict on the whole recording replaces the live checks
      $("findings").append(findingItem(data));
    } else if (type === "report") {
      const img = $("report-img");
      img.src = await blobUrl(data.url);
      img.hidden = false;
    } else if (type === "log") {
      $("enroll-status").textContent = data.message;
    } else if (type === "end") {
      if (data.state === "done") {
        const r = data.result;
        $("enroll-status").textContent = "Enrolled " + r.profile + ": " + r.stage + " stage on " + r.base_voice
          + (r.consent === "no-consent import" ? " (no-consent import)" : "") + ".";
      } else {
        $("enroll-status").textContent = "Not enrolled: " + data.error;
      }
      $("enroll-status").dataset.state = data.state;
    }
  });
  await refreshAll();
}

$("upload-button").addEventListener("click", async () => {
  resetEnroll();
  try {
    const name = enrollName();
    const file = $("upload-file").files[0];
    if (!file) throw new Error("choose a WAV or FLAC file first");
    setEnrollBusy(true);
    const query = new URLSearchParams({ filename: file.name });
    if ($("upload-skip-consent").checked) query.set("consent", "skip");
    if ($("enroll-force").checked) query.set("force", "1");
    if (micDevice) query.set("device", micDevice);
    $("enroll-status").textContent = "uploading " + file.name + " ...";
    const response = await request("POST", "/v1/profiles/" + encodeURIComponent(name) + "/enrollment?" + query, {
      body: file, headers: { "Content-Type": file.type || "application/octet-stream" } });
    if (!response.ok) throw new Error(await errorText(response));
    $("enroll-status").textContent = "checking the recording ...";
    await followEnrollment(name);
  } catch (e) {
    banner(e.message);
    $("enroll-status").textContent = "";
  } finally {
    setEnrollBusy(false);
  }
});

$("record-button").addEventListener("click", async () => {
  resetEnroll();
  try {
    const name = enrollName();
    setEnrollBusy(true);
    $("script-box").open = true;
    await api("POST", "/v1/profiles/" + encodeURIComponent(name) + "/recording",
      { seconds: Number($("record-seconds").value), force: $("enroll-force").checked, device: micDevice });
    await followEnrollment(name);
  } catch (e) {
    banner(e.message);
  } finally {
    setEnrollBusy(false);
  }
});

// ---------------------------------------------------------------- adaptation

$("adapt-button").addEventListener("click", async () => {
  const name = $("adapt-profile").value;
  const verdict = $("adapt-verdict");
  verdict.hidden = true;
  $("adapt-log").replaceChildren();
  $("adapt-fill").style.width = "0";
  banner("");
  if (!name) { banner("enroll a profile first"); return; }
  $("adapt-button").disabled = true;
  try {
    await api("POST", "/v1/profiles/" + encodeURIComponent(name) + "/adapt",
      { steps: Number($("adapt-steps").value), threads: Number($("adapt-threads").value) });
    $("adapt-progress").textContent = "starting ...";
    await follow("/v1/profiles/" + encodeURIComponent(name) + "/adapt", (type, data) => {
      if (type === "progress") {
        $("adapt-fill").style.width = (100 * data.step / data.total).toFixed(1) + "%";
        const left = data.remaining_s === null ? "" : data.remaining_s < 1 ? " \u00b7 under a second of training left"
          : " \u00b7 about " + Math.round(data.remaining_s) + " s of training left";
        $("adapt-progress").textContent = "step " + data.step + " of " + data.total + left;
      } else if (type === "log") {
        $("adapt-log").append(el("li", data.message));
        if (data.phase === "gate") $("adapt-progress").textContent = "exporting and checking the quality gate ...";
        if (data.phase === "features") $("adapt-progress").textContent = "preparing features ...";
      } else if (type === "end") {
        verdict.hidden = false;
        if (data.state === "done") {
          verdict.textContent = "Verdict: " + data.verdict;
          verdict.classList.toggle("bad", data.result.status.status !== "ready");
          $("adapt-fill").style.width = "100%";
          $("adapt-progress").textContent = "done: the profile uses the " + data.stage + " stage";
        } else {
          verdict.textContent = "Adaptation failed: " + data.error;
          verdict.classList.add("bad");
        }
      }
    });
  } catch (e) {
    banner(e.message);
  } finally {
    $("adapt-button").disabled = false;
    await refreshAll();
  }
});

// ---------------------------------------------------------------- try-out

function tryBody(extra) {
  return JSON.stringify(Object.assign({ text: $("try-text").value, voice: $("try-voice").value || undefined }, extra));
}

$("try-browser").addEventListener("click", async () => {
  const result = $("try-result");
  result.textContent = "speaking ...";
  try {
    const start = performance.now();
    const response = await request("POST", "/speak", {
      body: tryBody({ stream: true, format: "wav" }), headers: { "Content-Type": "application/json" } });
    if (!response.ok) throw new Error(await errorText(response));
    const rate = Number(response.headers.get("X-Sample-Rate")) || 22050;
    const reader = response.body.getReader();
    const parts = [];
    let bytes = 0, first = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      bytes += value.length;
      if (first === null && bytes > 44) first = performance.now() - start;
    }
    const total = (performance.now() - start) / 1000;
    const seconds = Math.max(0, bytes - 44) / 2 / rate;
    const wav = new Uint8Array(bytes);
    let at = 0;
    for (const p of parts) { wav.set(p, at); at += p.length; }
    const view = new DataView(wav.buffer);  // a streamed WAV header has open sizes: fill them in for the player
    view.setUint32(4, bytes - 8, true);
    view.setUint32(40, bytes - 44, true);
    const audio = $("try-audio");
    audio.src = URL.createObjectURL(new Blob([wav], { type: "audio/wav" }));
    audio.hidden = false;
    audio.play().catch(() => {});
    result.textContent = "first audio " + (first / 1000).toFixed(2) + " s \u00b7 " + seconds.toFixed(2)
      + " s of audio in " + total.toFixed(2) + " s \u00b7 RTF " + (total / Math.max(seconds, 1e-3)).toFixed(2);
  } catch (e) {
    result.textContent = "";
    banner(e.message);
  }
});

$("try-device").addEventListener("click", async () => {
  const result = $("try-result");
  result.textContent = "speaking on the device ...";
  try {
    const start = performance.now();
    const data = await api("POST", "/speak", JSON.parse(tryBody({ play: true })));
    const total = (performance.now() - start) / 1000;
    result.textContent = "played " + data.played_seconds.toFixed(2) + " s on the device; the request took "
      + total.toFixed(2) + " s (synthesis, then playback)";
  } catch (e) {
    result.textContent = "";
    banner(e.message);
  }
});

// ---------------------------------------------------------------- bench

function showBench(results) {
  const body = $("bench-table").querySelector("tbody");
  body.replaceChildren();
  for (const row of results.rows || []) {
    const tr = el("tr");
    tr.append(el("td", row.what), el("td", row.threads === null ? "-" : String(row.threads)), el("td", row.rtf), el("td", row.first_audio));
    body.append(tr);
  }
  $("bench-status").textContent = results.measured ? "measured " + results.measured + " on " + results.machine
    : "no bench results on this device yet";
}

async function loadBench() {
  try {
    const data = await api("GET", "/v1/bench");
    showBench(data);
    if (data.plot) { $("bench-img").src = await blobUrl(data.plot); $("bench-img").hidden = false; }
  } catch (e) {
    $("bench-status").textContent = e.message;
  }
}

$("bench-button").addEventListener("click", async () => {
  $("bench-button").disabled = true;
  $("bench-status").textContent = "running ...";
  try {
    await api("POST", "/v1/bench", {});
    await follow("/v1/bench/run", (type, data) => {
      if (type === "log") $("bench-status").textContent = data.message;
      if (type === "end" && data.state !== "done") $("bench-status").textContent = "bench failed: " + data.error;
    });
    await loadBench();
  } catch (e) {
    banner(e.message);
  } finally {
    $("bench-button").disabled = false;
  }
});

// ---------------------------------------------------------------- start

(async () => {
  try {
    info = await api("GET", "/v1/console");
    $("read-script").textContent = info.read_script;
    if (!info.adaptation_available) {
      $("adapt-button").disabled = true;
      $("adapt-progress").textContent = "Adaptation needs PyTorch on this device (pip install 'edge-vc[train]').";
    }
  } catch (e) {
    banner(e.message);
  }
  await refreshAll();
  loadBench();
})();
