"""The server's memory budget: least recently used voices are dropped while RSS is above it."""

from __future__ import annotations

import pytest

from edge_vc.serve.engine import EngineConfig, SpeechEngine


def _engine(**limits) -> tuple[SpeechEngine, list[str]]:
    loads: list[str] = []

    def loader(name, threads):
        loads.append(name)
        return object()

    return SpeechEngine(EngineConfig(workers=1, **limits), loader=loader), loads


def test_budget_below_current_memory_keeps_only_the_voice_just_loaded():
    engine, loads = _engine(max_memory_mb=1.0, max_voices_loaded=3)
    try:
        engine.speaker("a")
        engine.speaker("b")
        assert engine.loaded_voices() == ["b"]
        engine.speaker("a")  # dropped before: loads again
        assert loads == ["a", "b", "a"] and engine.loaded_voices() == ["a"]
    finally:
        engine.close()


def test_without_budget_the_lru_count_rules():
    engine, loads = _engine(max_voices_loaded=2)
    try:
        for name in ("a", "b", "a", "c"):
            engine.speaker(name)
        assert engine.loaded_voices() == ["a", "c"] and loads == ["a", "b", "c"]
    finally:
        engine.close()


def test_budget_must_be_positive():
    with pytest.raises(ValueError, match="max_memory_mb"):
        EngineConfig(max_memory_mb=0).validate()


def test_cli_takes_the_budget(run_cli):
    out = run_cli("serve", "--help")
    text = out.stdout.decode()
    assert "--max-memory" in text and "--max-voices" in text
