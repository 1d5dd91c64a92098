"""``python -m edge_vc`` is the ``edge-vc`` command."""

from edge_vc.cli import main

main()
