"""Small data files shipped with edge-vc (see NOTICE.md for their sources and licences)."""
