"""The ``edge-vc`` command line: wires stages together, nothing more."""

from __future__ import annotations

import click

from . import __version__
from .commands.say import devices, say


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edge-vc")
def main() -> None:
    """Offline zero-shot voice cloning for small devices."""


main.add_command(say)
main.add_command(devices)
# Further commands register below, one line each (keep imports light at module level).

from .commands.export import export  # noqa: E402

main.add_command(export)
from .commands.serve import serve  # noqa: E402

main.add_command(serve)
from .commands.bench import bench  # noqa: E402

main.add_command(bench)
from .commands.bridge import bridge  # noqa: E402

main.add_command(bridge)
from .commands.eval import eval_  # noqa: E402

main.add_command(eval_)
from .commands.install_service import install_service  # noqa: E402

main.add_command(install_service)
from .commands.adapt import adapt  # noqa: E402

main.add_command(adapt)
from .commands.voices import voices  # noqa: E402

main.add_command(voices)
from .commands.enroll import enroll  # noqa: E402

main.add_command(enroll)
