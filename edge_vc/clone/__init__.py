"""Voice cloning: speaker encoder, enrollment, profiles and voice stages."""
