"""Sessions opened at once through `python -m embedlab serve`, with 1 replica and with 2: the time until every
session's page has finished running, on a warm server.

    python bench/bench_serve.py --sessions 10 --replicas 1 2

Each session is what a browser's websocket does (Streamlit's own protocol, no browser): open
`ws://HOST:PORT/_stcore/stream`, ask for a run of the page, read until the run has finished and a second has passed
without a message. Before timing, one session per replica loads the models (the proxy sends each new connection to
the next replica in turn), so the figures are for a warm server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import _common  # noqa: F401  (offline, repository on sys.path)
from _common import start_serve
from bench_classroom import one_session as classroom_session

from embedlab.replicas import free_port


async def one_session(port: int, page: str) -> float:
    """Seconds until the page's run has finished (and a quiet second followed), with bench_classroom's client of
    Streamlit's protocol; raises when the session failed or the page showed an exception."""
    result = await classroom_session(f"http://127.0.0.1:{port}", page or "compare")
    if result.failure or result.exceptions or result.seconds is None:
        raise RuntimeError(f"the session failed: {result.failure or '; '.join(result.exceptions)}")
    return result.seconds


async def sessions_at_once(port: int, count: int, page: str) -> list[float]:
    return list(await asyncio.gather(*(one_session(port, page) for _ in range(count))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10, help="sessions opened at once (default 10)")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2], help="replica counts to compare")
    parser.add_argument("--page", default="", help="page name ('' = Compare, the landing page)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; {args.sessions} sessions at once of page {args.page or 'compare'!r}, warm server")
    print("| replicas | median session | all finished after (slowest session) |")
    print("|---|---|---|")
    for replicas in args.replicas:
        port = free_port()
        process = start_serve(replicas, port)
        try:
            for _ in range(replicas):  # one each: models loaded, caches warm
                asyncio.run(one_session(port, args.page))
            times = sorted(asyncio.run(sessions_at_once(port, args.sessions, args.page)))  # all started at once
            print(f"| {replicas} | {times[len(times) // 2]:.1f} s | {times[-1]:.1f} s |", flush=True)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
