"""The one config helper: field types drive coercion; unknown and missing keys and wrong types are named."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge_vc.configs import from_mapping, to_mapping
from edge_vc.errors import ConfigError, EdgeVCError, ProfileError, VoiceConfigError


@dataclass
class Inner:
    gain_db: float
    label: str = ""


@dataclass
class Settings:
    rate: int
    name: str = "x"
    level: float = 1.0
    loud: float | None = None
    on: bool = True
    freqs: list[float] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)
    weights: dict[int, float] = field(default_factory=dict)
    pair: tuple[int, int] = (0, 0)
    folder: Path | None = None
    inner: Inner | None = None
    checked: bool = False

    def validate(self) -> None:
        if self.rate <= 0:
            raise ConfigError("rate must be > 0")


def test_values_are_coerced_to_their_field_types():
    s = from_mapping(
        Settings,
        {
            "rate": "22050",
            "name": 123,
            "level": "1e-5",  # YAML 1.1 reads this as a string
            "loud": -20,
            "on": "false",
            "freqs": [100, "200.5"],
            "stats": {"f0": 120},
            "weights": {"3": "0.5"},
            "pair": [1, 2.0],
            "folder": "out/x",
            "inner": {"gain_db": 3},
        },
    )
    assert s == Settings(
        rate=22050,
        name="123",
        level=1e-5,
        loud=-20.0,
        on=False,
        freqs=[100.0, 200.5],
        stats={"f0": 120.0},
        weights={3: 0.5},
        pair=(1, 2),
        folder=Path("out/x"),
        inner=Inner(3.0),
    )
    assert isinstance(s.rate, int) and isinstance(s.loud, float) and isinstance(s.freqs[0], float)
    assert from_mapping(Settings, {"rate": 1}) == Settings(rate=1)  # defaults fill the rest
    assert from_mapping(Settings, {"rate": 1, "loud": None, "inner": None}).loud is None


def test_round_trip_through_to_mapping():
    s = Settings(rate=8000, freqs=[1.0], folder=Path("a/b"), inner=Inner(1.5, "l"), pair=(3, 4))
    data = to_mapping(s)
    assert data["folder"] == "a/b" and data["pair"] == [3, 4] and data["inner"] == {"gain_db": 1.5, "label": "l"}
    assert from_mapping(Settings, data) == s


@pytest.mark.parametrize(
    "data, words",
    [
        ({"rate": "fast"}, "rate has the wrong type: expected an integer, got 'fast'"),
        ({"rate": 2.5}, "rate has the wrong type: expected an integer"),
        ({"rate": True}, "rate has the wrong type"),
        ({"rate": 1, "level": "tall"}, "level has the wrong type: expected a number, got 'tall'"),
        ({"rate": 1, "level": None}, "level has the wrong type"),
        ({"rate": 1, "on": "maybe"}, "on has the wrong type: expected true or false"),
        ({"rate": 1, "name": None}, "name has the wrong type: expected a string"),
        ({"rate": 1, "freqs": "100"}, "freqs has the wrong type: expected a list, got '100'"),
        ({"rate": 1, "freqs": [1, "x"]}, r"freqs\[1\] has the wrong type"),
        ({"rate": 1, "stats": [1]}, "stats has the wrong type: expected a mapping"),
        ({"rate": 1, "weights": {"a": 1}}, "weights key 'a' has the wrong type"),
        ({"rate": 1, "pair": [1]}, "pair has the wrong type: expected 2 items"),
        ({"rate": 1, "inner": {"gain_db": "loud"}}, "inner.gain_db has the wrong type"),
        ({"rate": 1, "inner": {}}, "missing required keys in inner: inner.gain_db"),
        ({"rate": 1, "inner": {"gain_db": 1, "x": 2}}, "unknown keys in inner: x"),
        ({}, "missing required keys: rate"),
        ({"rate": 1, "colour": 1, "alpha": 2}, "unknown keys: alpha, colour"),
        ([1, 2], "expected a mapping, got list"),
    ],
)
def test_problems_raise_one_error_naming_the_field(data, words):
    with pytest.raises(ConfigError, match=words) as info:
        from_mapping(Settings, data, what="test settings")
    assert str(info.value).startswith("invalid test settings: ")


def test_unknown_keys_can_be_ignored_and_validate_runs():
    assert from_mapping(Settings, {"rate": 5, "colour": 1}, unknown="ignore") == Settings(rate=5)
    with pytest.raises(ConfigError, match="rate must be > 0"):
        from_mapping(Settings, {"rate": 0})
    assert from_mapping(Settings, {"rate": 0}, validate=False).rate == 0


def test_the_error_class_is_chosen_by_the_caller_and_stays_in_one_family():
    with pytest.raises(ProfileError) as info:
        from_mapping(Settings, {"rate": "x"}, what="DSP voice-stage parameters", error=ProfileError)
    assert info.value.exit_code == 8 and str(info.value).startswith("invalid DSP voice-stage parameters: rate")
    # one family: user-facing exit codes stay, and code that caught ValueError still does
    assert issubclass(ProfileError, ConfigError) and issubclass(VoiceConfigError, ConfigError)
    assert issubclass(ConfigError, EdgeVCError) and issubclass(ConfigError, ValueError)
    assert VoiceConfigError.exit_code == 4 and ConfigError.exit_code == 1


def test_real_config_classes_use_it():
    from edge_vc.bench.config import BenchConfig
    from edge_vc.speaker.base_select import BaseChoice
    from edge_vc.stages.dsp import DSPParams

    with pytest.raises(ProfileError, match="invalid DSP voice-stage parameters: unknown keys: colour"):
        DSPParams.from_dict({"colour": 1})
    with pytest.raises(ProfileError, match="invalid base-voice choice: missing required keys: voice"):
        BaseChoice.from_dict({"num_speakers": 1})
    assert BaseChoice.from_dict({"voice": "joe", "weights": {"2": 0.5}, "g": None}).weights == {2: 0.5}
    with pytest.raises(ConfigError, match="invalid bench settings: repeats has the wrong type"):
        BenchConfig.from_dict({"repeats": "many"})
    assert BenchConfig.from_dict({"repeats": "3", "other": 1}).repeats == 3
