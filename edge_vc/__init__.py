"""edge-vc: offline zero-shot voice cloning for small devices."""

__version__ = "0.1.0"
