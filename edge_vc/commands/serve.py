"""``edge-vc serve``: a long-lived speech server (Wyoming for Home Assistant, and a local HTTP API)."""

from __future__ import annotations

import click

from edge_vc.commands.common import backend_option, user_errors


@click.command()
@click.option("--voice", "-v", default=None, help="Default voice or profile (loaded at start).")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="HTTP address (non-loopback needs --allow-remote)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=5500, show_default=True, help="HTTP port.")
@click.option("--no-http", is_flag=True, help="Run only the Wyoming server.")
@click.option("--wyoming-host", default="127.0.0.1", show_default=True, help="Wyoming address.")
@click.option("--wyoming-port", type=click.IntRange(0, 65535), default=10200, show_default=True, help="Wyoming port.")
@click.option("--no-wyoming", is_flag=True, help="Run only the HTTP server.")
@click.option("--allow-remote", is_flag=True, help="Allow non-loopback addresses (requires --token).")
@click.option("--token", envvar="EDGE_VC_TOKEN", default=None, help="Bearer token for HTTP (or $EDGE_VC_TOKEN).")
@click.option("--device", "-d", default=None, help="Output device for requests that ask to play locally.")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="Inference threads per synthesis.")
@click.option("--workers", type=click.IntRange(1, 16), default=None, help="Syntheses at once (default: cores/threads).")
@click.option(
    "--max-queue", type=click.IntRange(0, 256), default=4, show_default=True, help="Waiting jobs; more get 503."
)
@click.option(
    "--max-text", type=click.IntRange(1, 1_000_000), default=5000, show_default=True, help="Characters/request."
)
@click.option(
    "--max-voices", type=click.IntRange(1, 64), default=3, show_default=True,
    help="Voices kept loaded (least recently used is dropped).",
)  # fmt: skip
@click.option(
    "--max-memory", type=click.FloatRange(min=1.0), default=None,
    help="Memory budget in MB: least recently used voices are dropped while the server is above it.",
)  # fmt: skip
@click.option(
    "--memory-arena", is_flag=True,
    help="Keep onnxruntime's CPU memory arena (off by default in serve: ~100 MB less resident memory "
    "for ~10-15 % more CPU).",
)  # fmt: skip
@click.option("--verbose", is_flag=True, help="Log requests and errors on stderr.")
@backend_option
@user_errors
def serve(voice, host, port, no_http, wyoming_host, wyoming_port, no_wyoming, allow_remote, token, device, threads,
          workers, max_queue, max_text, max_voices, max_memory, memory_arena, verbose):  # fmt: skip
    """Keep models loaded and speak on request (Wyoming + HTTP), until Ctrl-C or SIGTERM."""
    import logging

    from edge_vc.serve.engine import EngineConfig, default_workers
    from edge_vc.serve.http import HttpConfig
    from edge_vc.serve.server import ServeConfig, run

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="edge-vc serve: %(message)s")
    from edge_vc.backends.heap import lean_memory

    lean_memory(memory_arena)
    engine = EngineConfig(
        voice=voice,
        threads=threads,
        workers=workers or default_workers(threads),
        max_queue=max_queue,
        max_text_chars=max_text,
        max_voices_loaded=max_voices,
        max_memory_mb=max_memory,
    )
    config = ServeConfig(
        engine=engine,
        http=HttpConfig(host=host, port=None if no_http else port, token=token, device=device),
        wyoming_host=wyoming_host,
        wyoming_port=None if no_wyoming else wyoming_port,
        allow_remote=allow_remote,
    )

    def ready(server) -> None:
        parts = []
        if server.http_port is not None:
            parts.append(f"HTTP on http://{host}:{server.http_port}")
        if server.wyoming_port is not None:
            parts.append(f"Wyoming on tcp://{wyoming_host}:{server.wyoming_port}")
        click.echo("edge-vc serve: " + ", ".join(parts) + f" ({engine.workers} worker(s))", err=True)

    run(config, ready)
