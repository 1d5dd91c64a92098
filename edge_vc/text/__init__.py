"""Text handling before phonemization."""
