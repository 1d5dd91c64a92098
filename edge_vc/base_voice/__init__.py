"""Text to speech with Piper-format VITS voices."""
