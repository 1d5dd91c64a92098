"""``python -m edge_vc`` is the ``edge-vc`` command."""

from .cli import main

main()
