"""``serve``: several app replicas behind nginx on one port (``embedlab.replicas``)."""

from __future__ import annotations

import argparse

from embedlab.cli.common import say, whole_number
from embedlab.errors import EmbedLabError


def _replica(text: str) -> str:
    from embedlab.replicas import replica_address

    try:
        return replica_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_serve_command(commands) -> None:
    """The ``serve`` subcommand (see ``embedlab.replicas``)."""
    from embedlab.replicas import MAX_REPLICAS

    serve = commands.add_parser("serve", help="several app replicas behind nginx on one port, for a class")
    serve.add_argument(
        "--replicas",
        type=whole_number("a whole number", 1, MAX_REPLICAS),
        default=2,
        metavar="N",
        help="app processes (default 2)",
    )
    serve.add_argument(
        "--port",
        type=whole_number("a port", 1, 65535),
        default=8080,
        metavar="P",
        help="the port browsers open (default 8080)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address nginx listens on (default 127.0.0.1; 0.0.0.0 for a network)"
    )
    serve.add_argument(
        "--served",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="set EMBEDLAB_SERVED=1 in the replicas (default; --no-served leaves it unset)",
    )
    serve.add_argument(
        "--warm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each replica's first page once before opening the port, so the first browsers find the model "
        "and its baselines loaded (default; --no-warm opens the port at once)",
    )
    serve.add_argument(
        "--workers",
        type=whole_number("a whole number", 0, MAX_REPLICAS),
        default=1,
        metavar="K",
        help="training workers (python -m embedlab worker) started with the replicas (default 1)",
    )
    serve.add_argument(
        "--print-config", action="store_true", help="print the nginx configuration and exit (start nothing)"
    )
    serve.add_argument(
        "--upstream",
        type=_replica,
        action="append",
        metavar="IP:PORT",
        help="with --print-config: a replica running elsewhere (repeat per replica; default 127.0.0.1:8501, ...)",
    )


def run_serve(args: argparse.Namespace) -> int:
    from embedlab.replicas import example_replicas, nginx_config, serve

    if args.upstream and not args.print_config:
        raise EmbedLabError("--upstream only shapes --print-config: serve starts its own replicas.")
    if args.print_config:
        replicas = args.upstream or example_replicas(args.replicas)
        try:
            print(nginx_config(replicas, args.port, args.host), end="")
        except ValueError as error:
            raise EmbedLabError(f"{error}.") from None
        return 0
    return serve(
        args.replicas,
        args.port,
        args.host,
        served=args.served,
        announce=say,
        workers=args.workers,
        warm_first=args.warm,
    )
