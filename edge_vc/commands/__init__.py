"""CLI sub-commands, one module per area; ``edge_vc.cli`` registers them."""
