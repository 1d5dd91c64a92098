"""English text normalisation: numbers, dates, times, currency, units and abbreviations as words.

Numbers are spelled by ``num2words`` (pure Python, ~160 kB); everything else is a few regular
expressions applied to one sentence at a time, so the cost is linear in the text length.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_NUMBER_DIGITS = 15
"""Longer digit runs (ids, phone numbers) are read digit by digit."""

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_ABBR = {m[:3].lower(): m for m in _MONTHS} | {"sept": "September"}
_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_LETTER_NAMES = {
    "a": "eh", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "eff", "g": "jee", "h": "aitch",
    "i": "eye", "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en", "o": "oh", "p": "pee",
    "q": "cue", "r": "ar", "s": "ess", "t": "tee", "u": "you", "v": "vee", "w": "double you",
    "x": "ex", "y": "why", "z": "zee",
}  # fmt: skip
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_SCALES = {"k": "thousand", "m": "million", "bn": "billion", "b": "billion", "thousand": "thousand",
           "million": "million", "billion": "billion", "trillion": "trillion"}  # fmt: skip
_ABBREVIATIONS = {
    "mr.": "Mister", "mrs.": "Missus", "ms.": "Miz", "dr.": "Doctor", "prof.": "Professor",
    "jr.": "Junior", "sr.": "Senior", "st.": "Saint", "mt.": "Mount", "vs.": "versus", "etc.": "et cetera",
    "e.g.": "for example", "i.e.": "that is", "approx.": "approximately", "dept.": "department",
    "est.": "established", "fig.": "figure", "inc.": "incorporated", "ltd.": "limited",
    "co.": "company", "ave.": "avenue", "rd.": "road", "blvd.": "boulevard",
}  # fmt: skip
_UNITS = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "mi": ("mile", "miles"), "ft": ("foot", "feet"),
    "ml": ("milliliter", "milliliters"), "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"), "kmh": ("kilometer per hour", "kilometers per hour"),
    "°c": ("degree Celsius", "degrees Celsius"), "°f": ("degree Fahrenheit", "degrees Fahrenheit"),
    "kb": ("kilobyte", "kilobytes"), "mb": ("megabyte", "megabytes"), "gb": ("gigabyte", "gigabytes"),
    "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"), "ms": ("millisecond", "milliseconds"),
    "min": ("minute", "minutes"), "kw": ("kilowatt", "kilowatts"), "mah": ("milliamp hour", "milliamp hours"),
}  # fmt: skip
_YEAR_CUES = {"in", "since", "by", "from", "until", "till", "year", "of", "during", "before", "after", "circa"}


def _n2w(value, **kwargs) -> str:
    from num2words import num2words

    return num2words(value, lang="en", **kwargs).replace(",", "")


def spell_digits(digits: str) -> str:
    """``"407"`` → ``"four zero seven"``."""
    return " ".join(_DIGIT_WORDS[int(d)] for d in digits if d.isdigit())


def spell_characters(text: str) -> str:
    """Letters by name and digits one by one: ``"AB1"`` → ``"ay bee one"``."""
    words = []
    for ch in text:
        if ch.isdigit():
            words.append(_DIGIT_WORDS[int(ch)])
        elif ch.lower() in _LETTER_NAMES:
            words.append(_LETTER_NAMES[ch.lower()])
        elif not ch.isspace():
            words.append(ch)
    return " ".join(words)


def cardinal(digits: str) -> str:
    """Spell an integer written with optional thousands commas; long runs digit by digit."""
    plain = digits.replace(",", "")
    if len(plain) > MAX_NUMBER_DIGITS:
        return spell_digits(plain)
    return _n2w(int(plain))


def year(value: int) -> str:
    """``1999`` → ``"nineteen ninety-nine"``, ``2005`` → ``"two thousand five"``."""
    return _n2w(value, to="year")


def _decimal(number: str) -> str:
    whole, _, frac = number.replace(",", "").partition(".")
    head = cardinal(whole) if whole else "zero"
    return f"{head} point {spell_digits(frac)}" if frac else head


def _money(match: re.Match) -> str:
    symbol, number, scale = match.group("sym"), match.group("num"), match.group("scale")
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    if scale:
        return f"{_decimal(number)} {_SCALES[scale.lower()]} {many}"
    whole, _, frac = number.replace(",", "").partition(".")
    whole_i = int(whole or "0") if len(whole) <= MAX_NUMBER_DIGITS else None
    if whole_i is None:
        return f"{spell_digits(whole)} {many}"
    words = f"{cardinal(whole or '0')} {one if whole_i == 1 else many}"
    if frac and sub_one:
        cents = int((frac + "0")[:2])
        if cents:
            cents_words = f"{_n2w(cents)} {sub_one if cents == 1 else sub_many}"
            words = cents_words if whole_i == 0 else f"{words} and {cents_words}"
    return words


def _day(day: str) -> str:
    return _n2w(int(day), to="ordinal")


def _iso_date(match: re.Match) -> str:
    y, m, d = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return match.group(0)
    return f"{_MONTHS[m - 1]} {_day(str(d))}, {year(y)}"


def _slash_date(match: re.Match) -> str:
    m, d, y = int(match.group(1)), int(match.group(2)), match.group(3)
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return match.group(0)
    y_int = int(y) + (2000 if len(y) == 2 else 0)
    return f"{_MONTHS[m - 1]} {_day(str(d))}, {year(y_int)}"


def _month_day(match: re.Match) -> str:
    month = _MONTH_ABBR[match.group("mon")[:3].lower()]
    day = int(match.group("day"))
    if not 1 <= day <= 31:
        return match.group(0)
    words = f"{month} {_day(str(day))}"
    if match.group("year"):
        words += f", {year(int(match.group('year')))}"
    return words


def _day_month(match: re.Match) -> str:
    month = _MONTH_ABBR[match.group("mon")[:3].lower()]
    day = int(match.group("day"))
    if not 1 <= day <= 31:
        return match.group(0)
    words = f"the {_day(str(day))} of {month}"
    if match.group("year"):
        words += f", {year(int(match.group('year')))}"
    return words


def _time(match: re.Match) -> str:
    hour, minute, ampm = int(match.group(1)), int(match.group(2)), match.group(3)
    if hour > 23 or minute > 59:
        return match.group(0)
    words = _n2w(hour)
    if minute == 0:
        words += "" if ampm else " hundred" if hour > 12 or hour == 0 else " o'clock"
    elif minute < 10:
        words += f" oh {_n2w(minute)}"
    else:
        words += f" {_n2w(minute)}"
    if ampm:
        words += " " + " ".join(ampm.lower().replace(".", ""))
    return words


def _ordinal(match: re.Match) -> str:
    digits = match.group(1).replace(",", "")
    if len(digits) > MAX_NUMBER_DIGITS:
        return spell_digits(digits)
    return _n2w(int(digits), to="ordinal")


def _unit(match: re.Match) -> str:
    number, unit = match.group("num"), match.group("unit")
    one, many = _UNITS[unit.lower()]
    is_one = number.replace(",", "") in ("1", "1.0")
    sign = "minus " if match.group("sign") else ""
    return f"{sign}{_decimal(number)} {one if is_one else many}"


def _percent(match: re.Match) -> str:
    return f"{_decimal(match.group(1))} percent"


def _number(match: re.Match) -> str:
    sign, number = match.group("sign"), match.group("num")
    before = match.string[max(0, match.start() - 40) : match.start()].split()
    prev = before[-1].lower().strip(",(") if before else ""
    plain = number.replace(",", "")
    if "." not in plain and "," not in number and len(plain) == 4 and 1100 <= int(plain) <= 2099 and not sign:
        if prev in _YEAR_CUES or prev in {m.lower() for m in _MONTHS}:
            return year(int(plain))
    words = _decimal(number)
    return f"minus {words}" if sign else words


def _abbreviation(match: re.Match) -> str:
    key = match.group(0).lower()
    if key == "st.":
        after = match.string[match.end() : match.end() + 40].lstrip()
        return "Saint" if after[:1].isupper() else "Street"
    return _ABBREVIATIONS[key]


def _decade(match: re.Match) -> str:
    digits = match.group(1)
    words = year(int(digits)) if len(digits) == 4 else _n2w(int(digits))
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


_RULES: list[tuple[re.Pattern, Callable[[re.Match], str] | str]] = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), _iso_date),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b"), _slash_date),
    (
        re.compile(
            r"\b(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
            r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.? (?P<day>\d{1,2})(?:st|nd|rd|th)?\b"
            r"(?:,? (?P<year>\d{4})\b)?"
        ),
        _month_day,
    ),
    (
        re.compile(
            r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)? (?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|"
            r"June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b"
            r"(?:,? (?P<year>\d{4})\b)?"
        ),
        _day_month,
    ),
    (re.compile(r"\b(\d{1,2}):(\d{2})(?:\s?([AaPp]\.?[Mm]\.?))?(?![\d:])"), _time),
    (
        re.compile(
            r"(?P<sym>[$€£¥₹])\s?(?P<num>\d[\d,]*(?:\.\d+)?)(?:\s?(?P<scale>k|m|bn|b|thousand|million|billion|trillion)\b)?",
            re.IGNORECASE,
        ),
        _money,
    ),
    (re.compile(r"\b(\d[\d,]*(?:\.\d+)?)\s?%"), _percent),
    (re.compile(r"\b(\d[\d,]*)(?:st|nd|rd|th)\b"), _ordinal),
    (re.compile(r"\b'?(\d{1,3}0)'?s\b"), _decade),
    (re.compile(r"\b[Nn]o\.\s?(?=\d)"), "number "),
    (
        re.compile(
            r"(?<![\w.])(?P<sign>-)?(?P<num>\d[\d,]*(?:\.\d+)?)\s?(?P<unit>km/h|°[CcFf]|"
            + "|".join(sorted(_UNITS, key=len, reverse=True))
            + r")(?![\w/])",
            re.IGNORECASE,
        ),
        _unit,
    ),
    (re.compile(r"(?<![\w.])(?P<sign>-)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d])"), _number),
    (re.compile(r"(?<!\w)(?:" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")(?=\s|$)", re.IGNORECASE),
     _abbreviation),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"(?<=\w)\s*\+\s*(?=\w)"), " plus "),
]  # fmt: skip


def normalize_text(text: str) -> str:
    """Rewrite numbers, dates, times, money, units and common abbreviations as English words."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
