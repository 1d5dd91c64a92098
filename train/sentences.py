"""A reproducible, varied English sentence set for base-voice training data (seeded template grammar).

No external text: a small grammar over a few hundred common words (statements, questions, commands,
numbers, names, lists) gives broad phoneme and prosody coverage. ``generate(n, seed)`` is deterministic.
"""

from __future__ import annotations

import random

NAMES = (
    "Anna Ben Carlos Diana Ethan Fiona George Hannah Ivan Julia Kevin Laura Marcus Nina Oscar Priya "
    "Quentin Rosa Samuel Tara Umar Vera William Xavier Yusuf Zoe Margaret Theodore Bridget Leonard"
).split()
PLACES = (
    "the kitchen|the station|the library|the garden|the harbour|the old bridge|the market|the office|"
    "the museum|the hospital|the airport|the mountains|the village square|the beach|the bakery|the school|"
    "the river bank|the parking lot|the north tower|the farm|Chicago|London|Tokyo|the theatre|the warehouse"
).split("|")
THINGS = (
    "a red umbrella|the blue notebook|three apples|an old clock|the heavy suitcase|a paper map|the keys|"
    "a glass of water|the yellow bicycle|some fresh bread|the broken radio|a wooden chair|the letters|"
    "a silver ring|the empty boxes|a cup of coffee|the laptop|a warm blanket|the camera|two tickets|"
    "a jar of honey|the garden hose|a pair of shoes|the violin|the report|a bag of rice|the puzzle|"
    "the microphone|a basket of eggs|the window frame|a fishing rod|the thermometer|a bottle of juice"
).split("|")
ADJ = (
    "quiet loud bright dark strange careful happy tired quick slow gentle angry curious friendly "
    "nervous proud clever lucky honest lazy polite brave patient cheerful serious anxious calm"
).split()
VERBS_PAST = (
    "found|carried|painted|dropped|borrowed|repaired|opened|cleaned|sold|bought|hid|forgot|noticed|"
    "wrapped|measured|delivered|checked|moved|watched|described|photographed|ordered|lifted|weighed"
).split("|")
VERBS_BASE = (
    "find|carry|paint|drop|borrow|repair|open|clean|sell|buy|hide|forget|notice|wrap|measure|deliver|"
    "check|move|watch|describe|photograph|order|lift|weigh|bring|fetch|return|keep"
).split("|")
TIMES = (
    "yesterday|this morning|last week|on Monday|at midnight|after lunch|before dawn|every Sunday|"
    "in the evening|two days ago|at half past seven|during the storm|late on Friday|this afternoon"
).split("|")
ADVERBS = "quickly slowly carefully quietly suddenly happily nervously politely finally eagerly".split()
WEATHER = (
    "It is raining again|The wind is getting stronger|The sky cleared up at noon|Snow covered the roads|"
    "The sun feels warm today|A thick fog rolled in from the sea|Thunder rumbled over the hills"
).split("|")
INTERJ = "Oh|Well|Honestly|Look|Wow|Hmm|Listen|Okay|Sure|Actually".split("|")
NUMBERS = (
    "seven|twelve|forty two|a hundred|three thousand|nineteen|sixty five|eight hundred|two and a half|ninety nine"
).split("|")
UNITS = "miles|dollars|minutes|people|kilograms|pages|degrees|boxes|steps|years".split("|")


def _sentence(rng: random.Random) -> str:
    n, p, t, a = rng.choice(NAMES), rng.choice(PLACES), rng.choice(THINGS), rng.choice(ADJ)
    vp, vb, tm, adv = rng.choice(VERBS_PAST), rng.choice(VERBS_BASE), rng.choice(TIMES), rng.choice(ADVERBS)
    num, unit, n2 = rng.choice(NUMBERS), rng.choice(UNITS), rng.choice(NAMES)
    forms = (
        f"{n} {vp} {t} near {p} {tm}.",
        f"Did {n} really {vb} {t} {tm}?",
        f"Please {vb} {t} to {p} as soon as you can.",
        f"{rng.choice(INTERJ)}, I think {n} was {a} when we reached {p}.",
        f"The {a} man {adv} {vp} {t}, and then he left for {p}.",
        f"We walked {num} {unit} to {p}, but {n2} had already gone home.",
        f"{rng.choice(WEATHER)}, so {n} stayed at {p} {tm}.",
        f"Why would anyone {vb} {t} {tm}?",
        f"{n} and {n2} {adv} {vp} {t}; nobody expected that.",
        f"Could you tell {n} that {t} is waiting at {p}?",
        f"It costs {num} {unit}, which seems {a} to me.",
        f"After the meeting, {n} {vp} {t}, {rng.choice(THINGS)}, and {rng.choice(THINGS)}.",
        f"Don't {vb} {t} until {n} says it is safe!",
        f"The {a} children {vp} {t} {tm}, laughing the whole time.",
        f"How many {unit} did {n} count at {p}?",
        f"{rng.choice(INTERJ)}! {n} {vp} {t} again.",
        f"If you {vb} {t}, {n} will be {a} for {num} {unit}.",
        f"{tm.capitalize()}, {n} {adv} {vp} {t} at {p}.",
    )
    return rng.choice(forms)


def generate(count: int, seed: int = 1234) -> list[str]:
    """``count`` distinct sentences, the same for the same seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        sentence = _sentence(rng)
        if sentence not in seen:
            seen.add(sentence)
            out.append(sentence)
    return out
