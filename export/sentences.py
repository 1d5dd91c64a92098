"""English sentences for VITS export: calibration inputs and a disjoint evaluation set."""

from __future__ import annotations

CALIBRATION: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "How much wood would a woodchuck chuck if a woodchuck could chuck wood?",
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "Turn left at the second traffic light, then keep going for about two miles.",
    "Wow! That was the loudest thunder I have ever heard.",
    "The meeting has been moved to Thursday afternoon at half past three.",
    "She sells sea shells by the sea shore, or so the old rhyme says.",
    "Could you repeat that, please? I didn't quite catch the last part.",
    "Thirty-seven engineers gathered in a small room to fix the broken pump.",
    "Yes.",
    "Warm rain fell softly on the rooftops while the city slept.",
    "Remember to water the plants, feed the cat, and lock the back door.",
    "Scientists measured the temperature of the lake every morning for a year.",
    "Oh no, I think I left my keys inside the car again!",
    "A journey of a thousand miles begins with a single step.",
)
"""Inputs for static-quantization calibration (never used to score a model)."""

EVALUATION: tuple[str, ...] = (
    "The weather today is sunny with a light breeze from the west.",
    "Please remind me to buy milk and bread on the way home.",
    "My favorite book is sitting on the shelf next to the window.",
    "The train to Boston leaves from the north platform very soon.",
    "Can you turn down the music a little bit?",
    "We planted tomatoes, beans and carrots in the garden last spring.",
    "The children laughed as the puppy chased its own tail.",
    "Our new office is on the fifth floor of the tall glass building.",
    "He opened the letter slowly and read it twice before smiling.",
    "Dinner will be ready in about half an hour.",
    "The museum is closed on Mondays but open late on Fridays.",
    "She played the piano beautifully at the concert last night.",
)
"""Sentences the exported voices are scored on (WER, speaker cosine, speed)."""
