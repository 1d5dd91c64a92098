"""The ``edge-vc`` command line: wires stages together, nothing more."""

from __future__ import annotations

import click

from edge_vc import __version__
from edge_vc.commands.say import devices, say


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edge-vc")
def main() -> None:
    """Offline zero-shot voice cloning for small devices."""


main.add_command(say)
main.add_command(devices)
# Further commands register below, one line each (keep imports light at module level).

from edge_vc.commands.export import export  # noqa: E402

main.add_command(export)
from edge_vc.commands.serve import serve  # noqa: E402

main.add_command(serve)
from edge_vc.commands.bench import bench  # noqa: E402

main.add_command(bench)
from edge_vc.commands.bridge import bridge  # noqa: E402

main.add_command(bridge)
from edge_vc.commands.eval import eval_  # noqa: E402

main.add_command(eval_)
from edge_vc.commands.install_service import install_service  # noqa: E402

main.add_command(install_service)
from edge_vc.commands.adapt import adapt  # noqa: E402

main.add_command(adapt)
from edge_vc.commands.voices import voices  # noqa: E402

main.add_command(voices)
from edge_vc.commands.enroll import enroll  # noqa: E402

main.add_command(enroll)
