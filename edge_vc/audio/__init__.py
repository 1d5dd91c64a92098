"""Audio input/output: files, resampling and sound devices."""
