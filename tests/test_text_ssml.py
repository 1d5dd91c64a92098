"""SSML subset and English normalisation: pure text tests (fast)."""

from __future__ import annotations

import time

import pytest

from edge_vc.text.normalize import normalize_text, spell_characters
from edge_vc.text.ssml import (
    MAX_BREAK_SECONDS,
    MAX_TOTAL_PAUSE_SECONDS,
    Pause,
    Utterance,
    looks_like_ssml,
    parse_pitch,
    parse_rate,
    parse_ssml,
    speech_plan,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("It costs $12.50.", "It costs twelve dollars and fifty cents."),
        ("Only $0.99", "Only ninety-nine cents"),
        ("£1 each", "one pound each"),
        ("$1.5 million", "one point five million dollars"),
        ("Due 2024-03-05.", "Due March fifth, twenty twenty-four."),
        ("on 12/25/2023", "on December twenty-fifth, twenty twenty-three"),
        ("March 3rd, 2024", "March third, twenty twenty-four"),
        ("6 May 2021", "the sixth of May, twenty twenty-one"),
        ("at 10:30 pm", "at ten thirty p m"),
        ("at 9:05", "at nine oh five"),
        ("the 21st time", "the twenty-first time"),
        ("50% off", "fifty percent off"),
        ("pi is 3.14", "pi is three point one four"),
        ("1,234 people", "one thousand two hundred and thirty-four people"),
        ("in 1999", "in nineteen ninety-nine"),
        ("the 1990s", "the nineteen nineties"),
        ("-12 °C", "minus twelve degrees Celsius"),
        ("5 km", "five kilometers"),
        ("Dr. Smith", "Doctor Smith"),
        ("Main St. is near St. Paul", "Main Street is near Saint Paul"),
        ("No. 7", "number seven"),
        ("No. I will not", "No. I will not"),
        ("R&D", "R and D"),
        ("id 12345678901234567890", "id " + " ".join("one two three four five six seven eight nine zero".split() * 2)),
    ],
)
def test_normalize_english(text, expected):
    assert normalize_text(text) == expected


def test_spell_characters_names_letters_and_digits():
    assert spell_characters("AB9") == "eh bee nine"


def test_ssml_segments_carry_pauses_rate_pitch_and_say_as():
    plan = parse_ssml(
        '<speak>Hello <break time="500ms"/> world. <prosody rate="slow" pitch="+2st">slow high</prosody>'
        ' <say-as interpret-as="characters">AB</say-as> <say-as interpret-as="digits">42</say-as>'
        '<p>Para.</p><s>Sent</s> <sub alias="World Wide Web">WWW</sub> a &lt; b</speak>'
    )
    assert plan[0] == Utterance("Hello")
    assert plan[1] == Pause(0.5)
    assert plan[2] == Utterance("world.")
    assert plan[3].text == "slow high" and plan[3].rate == 0.75 and plan[3].pitch == pytest.approx(2 ** (2 / 12))
    assert plan[4].text == "eh bee four two" and plan[4].rate == 1.0
    assert plan[5] == Utterance("Para.")
    assert isinstance(plan[6], Pause) and plan[6].seconds > 0
    assert plan[7] == Utterance("Sent")
    assert plan[8] == Utterance("World Wide Web a < b")


def test_break_strengths_and_limits():
    plan = parse_ssml('<speak>a<break strength="x-strong"/>b<break time="99s"/>c<break/>d</speak>')
    pauses = [p.seconds for p in plan if isinstance(p, Pause)]
    assert pauses == [1.0, MAX_BREAK_SECONDS, 0.4]
    many = parse_ssml("<speak>" + 'x<break time="9s"/>' * 100 + "</speak>")
    assert sum(p.seconds for p in many if isinstance(p, Pause)) == pytest.approx(MAX_TOTAL_PAUSE_SECONDS)


def test_nested_prosody_multiplies_and_restores():
    plan = parse_ssml('<speak><prosody rate="50%">a <prosody rate="+100%">b</prosody> c</prosody> d</speak>')
    assert [(u.text, u.rate) for u in plan] == [("a", 0.5), ("b", 1.0), ("c", 0.5), ("d", 1.0)]


@pytest.mark.parametrize(
    "value, factor", [("x-slow", 0.5), ("fast", 1.3), ("80%", 0.8), ("+20%", 1.2), ("-50%", 0.5), ("2", 2.0)]
)
def test_parse_rate(value, factor):
    assert parse_rate(value) == pytest.approx(factor)


def test_parse_rate_and_pitch_clamp_and_ignore_garbage():
    assert parse_rate("1000%") == 4.0 and parse_rate("banana") == 1.0
    assert parse_pitch("+12st") == pytest.approx(2.0) and parse_pitch("-99%") == 0.5 and parse_pitch("??") == 1.0
    assert parse_pitch("high") > 1.0 > parse_pitch("low")


@pytest.mark.parametrize(
    "document",
    [
        '<speak>Unclosed <prosody rate="fast">fast text',
        '<speak>stray </prosody> close and <break time="1s" no end',
        "<speak>a < b and c > d</speak>",
        "<speak><bogus attr='x'>kept text</bogus></speak>",
        "<speak><!-- comment --><?pi x?>text</speak>",
    ],
)
def test_malformed_ssml_is_read_leniently(document):
    plan = parse_ssml(document)
    words = " ".join(u.text for u in plan if isinstance(u, Utterance))
    assert words.strip()
    assert "prosody" not in words and "bogus" not in words and "comment" not in words


@pytest.mark.parametrize(
    "hostile",
    [
        "<a" * 25_000,
        "<!--" * 12_500,
        "<speak>" + '<prosody rate="fast">' * 2_500 + "x",
        "<" + " " * 50_000,
        "<speak " + 'a="' * 15_000,
        "<speak>" + "</p>" * 12_000,
        "<speak>" + "<say-as interpret-as='characters'>" + "A" * 50_000,
    ],
)
def test_hostile_markup_parses_in_bounded_time(hostile):
    started = time.perf_counter()
    plan = parse_ssml(hostile)
    items = list(speech_plan(hostile, ssml=True))
    assert time.perf_counter() - started < 3.0
    assert isinstance(plan, list) and isinstance(items, list)


def test_plain_text_is_not_parsed_as_ssml():
    assert looks_like_ssml("  <speak>hi</speak>") and looks_like_ssml('<?xml version="1.0"?><speak>x</speak>')
    assert not looks_like_ssml("I think a <b> tag is fine")
    plan = list(speech_plan("Pay $5 now. Then <b>bold</b> stays."))
    assert [u.text for u in plan] == ["Pay five dollars now.", "Then <b>bold</b> stays."]


def test_normalising_a_long_text_in_one_call_is_linear():
    text = "In 1999 St. Paul paid $5 on 2024-03-05 at 10:30 and No. 7 won. " * 800  # ~50 kB
    started = time.perf_counter()
    spoken = normalize_text(text)
    assert time.perf_counter() - started < 5.0
    assert spoken.count("nineteen ninety-nine") == 800 and "$" not in spoken and "Saint Paul" in spoken
