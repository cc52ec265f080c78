"""A class opening the app at once: per page, N sessions started together over Streamlit's own websocket protocol
(no browser competing for the CPU), each timed until its page has finished running; the server's CPU seconds per
session and its resident memory.

    python bench/bench_classroom.py                          # every page, the target counts, its own warm server
                                                             # (and Compare with 100 sessions at once)
    python bench/bench_classroom.py --pages compare --serve 2                # through `serve`: nginx, 2 replicas
    python bench/bench_classroom.py --pages compare --url http://127.0.0.1:8080 --pid PID  # through serve's nginx
    python bench/bench_classroom.py --pages compare lesson --sessions 30 --spread 10
    python bench/bench_classroom.py --url http://127.0.0.1:8501 --pid 1234   # a server already running
    python bench/bench_classroom.py --memory                 # 300 sessions in waves: RSS after the first and after all
    python bench/bench_classroom.py --browser                # a few headless Chromium students, and the cold start

Each session does what a browser tab does: open `ws://HOST:PORT/_stcore/stream`, ask for a run of the page, read until
the run has finished and a quiet second has passed, then close (the server drops it). Before timing, one session per
page warms the caches, and the bench waits until the server's CPU is idle (UMAP compiles in the background once per
process), so the CPU per session is what a new session costs on a warm server: the server's CPU seconds (user +
system, /proc of its pid) over the wave, divided by the sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import statistics
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import _common  # noqa: F401  (offline, repository on sys.path)
import psutil

from embedlab.replicas import free_port, settle
from tools.appserver import CHROMIUM, CHROMIUM_ARGS, running_app

# page name in the address (what the client asks for) -> (title, sessions at once, target p95 seconds)
PAGES = {
    "compare": ("Compare", 30, 4.0),
    "lesson": ("Lesson", 30, 4.0),
    "tokens": ("Tokens & layers", 30, 4.0),
    "projection": ("Projection", 10, 2.0),
    "negative_tests": ("Negative tests", 10, None),
    "sts_eval": ("STS evaluation", 10, None),
    "train": ("Train", 10, None),
}
CLASS_SESSIONS, CLASS_TARGET_S = 100, 6.0  # a hundred students opening Compare at once (issue 32): p95 target
CPU_TARGET_S = 0.1  # server CPU per new session, every page
QUIET_S = 1.0  # a run has finished and nothing more came for this long: the page is done
SESSION_TIMEOUT_S = 600
IDLE_WAIT_S = 180
MEMORY_SESSIONS = 300
MEMORY_TARGET_MB = 300


@dataclass
class SessionResult:
    seconds: float | None = None  # start -> the page's last run finished; None when it never did
    exceptions: list[str] = field(default_factory=list)  # exceptions the page showed
    failure: str | None = None  # the connection or the protocol failed


async def one_session(url: str, page: str, delay_s: float = 0.0) -> SessionResult:
    """Open one session of `page` after `delay_s`, read it until its run has finished and a quiet second followed.

    As a browser does, it fires a fragment's timer (``run_every``): a new session's first screen asks for the rest
    of the page that way (components/shared/first_screen.py), and the page counts as done once that run finished."""
    from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: TID251  (a client of the protocol, not the engine)
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: TID251
    from websockets.asyncio.client import connect

    await asyncio.sleep(delay_s)
    address = urllib.parse.urlsplit(url)
    result = SessionResult()
    started = time.perf_counter()
    try:
        async with connect(
            f"ws://{address.netloc}/_stcore/stream",
            subprotocols=["streamlit"],
            origin=f"{address.scheme}://{address.netloc}",
            max_size=None,
            proxy=None,
        ) as stream:
            request = BackMsg()
            request.rerun_script.query_string = ""
            request.rerun_script.page_name = "" if page == "compare" else page
            await stream.send(request.SerializeToString())
            timer: tuple[str, float] | None = None  # as a browser: a fragment's run_every (fragment id, interval)
            due = math.inf  # when that timer fires next
            while True:
                wait = QUIET_S if result.seconds is not None else SESSION_TIMEOUT_S
                try:
                    raw = await asyncio.wait_for(stream.recv(), timeout=min(wait, max(due - time.perf_counter(), 0)))
                except TimeoutError:
                    if timer is not None and time.perf_counter() >= due:  # the first screen's timer asks for the rest
                        tick = BackMsg()
                        tick.rerun_script.CopyFrom(request.rerun_script)
                        tick.rerun_script.fragment_id, tick.rerun_script.is_auto_rerun = timer[0], True
                        await stream.send(tick.SerializeToString())
                        due += timer[1]
                        continue
                    if result.seconds is None:
                        result.failure = f"no finished run within {SESSION_TIMEOUT_S} s"
                    return result
                message = ForwardMsg()
                message.ParseFromString(raw)
                kind = message.WhichOneof("type")
                if kind == "auto_rerun":
                    timer = (message.auto_rerun.fragment_id, message.auto_rerun.interval)
                    due = time.perf_counter() + timer[1]
                elif kind == "new_session" and not message.metadata.run.fragment_ids:
                    timer, due = None, math.inf  # a full run: the browser drops every fragment's timer
                elif kind == "delta" and message.delta.new_element.HasField("exception"):
                    exception = message.delta.new_element.exception
                    result.exceptions.append(f"{exception.type}: {exception.message}")
                elif kind == "navigation":  # the page that ran: the one asked for?
                    ran = [
                        app_page
                        for app_page in message.navigation.app_pages
                        if app_page.page_script_hash == message.navigation.page_script_hash
                    ]
                    if ran and not (ran[0].url_pathname == page or (page == "compare" and ran[0].is_default)):
                        result.failure = f"ran page {ran[0].url_pathname!r}, not {page!r}"
                        return result
                elif kind == "page_not_found":
                    result.failure = f"no page named {page!r}"
                    return result
                elif kind == "script_finished":
                    result.seconds = time.perf_counter() - started
    except (OSError, ValueError) as error:  # refused, reset, closed by the server, a bad frame
        result.failure = f"{type(error).__name__}: {error}"
    except Exception as error:  # websockets' own ConnectionClosed and friends
        result.failure = f"{type(error).__name__}: {error}"
    return result


async def wave(url: str, page: str, count: int, spread_s: float) -> list[SessionResult]:
    """`count` sessions of `page`, started together (or evenly over `spread_s` seconds)."""
    delays = [spread_s * i / count for i in range(count)]
    return list(await asyncio.gather(*(one_session(url, page, delay) for delay in delays)))


Server = psutil.Process | list[psutil.Process]  # one server, or the replicas behind `serve`


def _processes(server: Server) -> list[psutil.Process]:
    return server if isinstance(server, list) else [server]


def cpu_seconds(server: Server) -> float:
    """User + system CPU seconds of the server (of every replica, summed)."""
    return sum(times.user + times.system for times in (process.cpu_times() for process in _processes(server)))


def rss_mb(server: Server) -> float:
    """Resident memory of the server (of every replica, summed)."""
    return sum(process.memory_info().rss for process in _processes(server)) / 2**20


@contextmanager
def served(replicas: int) -> Iterator[tuple[str, list[psutil.Process]]]:
    """`python -m embedlab serve --replicas N` on a free port (nginx in front, as a class meets it): its URL and its
    replicas' processes; stopped on exit."""
    from _common import start_serve

    port = free_port()
    process = start_serve(replicas, port)
    try:
        children = psutil.Process(process.pid).children(recursive=True)
        yield f"http://127.0.0.1:{port}", [child for child in children if "streamlit" in " ".join(child.cmdline())]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def wait_idle(server: Server) -> float:
    """Wait (at most IDLE_WAIT_S) until every process of the server is idle, as `serve` waits for its replicas
    (embedlab.replicas.settle); seconds waited."""
    start = time.perf_counter()
    settle(_processes(server), threading.Event(), timeout_s=IDLE_WAIT_S)
    return time.perf_counter() - start


def quantile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def page_row(url: str, server: Server, page: str, count: int, spread_s: float, target_p95: float | None = None) -> str:
    title, _, page_target = PAGES[page]
    target_p95 = page_target if target_p95 is None else target_p95
    asyncio.run(one_session(url, page))  # this page's caches warm (usually already: the warm-up ran every page)
    wait_idle(server)
    load = load_average()
    cpu_before = cpu_seconds(server)
    results = asyncio.run(wave(url, page, count, spread_s))
    cpu_per_session = (cpu_seconds(server) - cpu_before) / count
    finished = [result.seconds for result in results if result.seconds is not None and result.failure is None]
    failures = sorted({result.failure for result in results if result.failure})
    shown = sorted({text for result in results for text in result.exceptions})
    if finished:
        p50, p95, slowest = statistics.median(finished), quantile(finished, 0.95), max(finished)
        timing = f"{p50:.1f} / {p95:.1f} / {slowest:.1f} s"
    else:
        p95, timing = float("nan"), "none finished"
    met_time = "" if target_p95 is None else f" (p95 ≤ {target_p95:g} s: {_common.yes(p95 <= target_p95)})"
    met_cpu = _common.yes(cpu_per_session <= CPU_TARGET_S)
    problems = "; ".join([*(f"failed: {text}" for text in failures), *(f"shown: {text}" for text in shown)])
    return (
        f"| {title} | {count}{f' over {spread_s:g} s' if spread_s else ''} | {timing}{met_time} | "
        f"{len(results) - len(finished)} | {cpu_per_session:.2f} s ({met_cpu}) | {rss_mb(server):.0f} MB | {load} | "
        f"{problems or '–'} |"
    )


def memory_run(url: str, server: Server, pages: list[str], total: int, wave_size: int) -> None:
    """`total` sessions in waves of `wave_size`, going round the pages; RSS after the first session and after all."""
    asyncio.run(one_session(url, pages[0]))
    wait_idle(server)
    first = rss_mb(server)
    print(f"RSS after the first session: {first:.0f} MB (load {load_average()})", flush=True)
    done = 1
    failed = 0
    while done < total:
        size = min(wave_size, total - done)
        page = pages[(done // wave_size) % len(pages)]
        results = asyncio.run(wave(url, page, size, 0.0))
        failed += sum(result.failure is not None for result in results)
        done += size
        print(f"  {done} sessions ({page}): RSS {rss_mb(server):.0f} MB", flush=True)
    wait_idle(server)
    after = rss_mb(server)
    growth = after - first
    print(
        f"RSS after {total} sessions (all closed): {after:.0f} MB, {growth:+.0f} MB over the first "
        f"(≤ {MEMORY_TARGET_MB} MB: {_common.yes(growth <= MEMORY_TARGET_MB)}); {failed} sessions failed; "
        f"load {load_average()}"
    )


async def first_scores(browser, url: str, students: int) -> list[float]:
    """Seconds from each student's page load to the first score shown on Compare, all students at once."""

    async def student() -> float:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        started = time.perf_counter()
        await page.goto(url)
        await page.get_by_test_id("stMetricValue").first.wait_for(state="visible", timeout=SESSION_TIMEOUT_S * 1000)
        elapsed = time.perf_counter() - started
        await context.close()
        return elapsed

    return list(await asyncio.gather(*(student() for _ in range(students))))


async def browser_check(students: int, url: str | None) -> None:
    """Cold start to the first score (a fresh server of its own, unless --url), then `students` new sessions at once."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with running_app(start_timeout_s=300) if url is None else nullcontext() as app:
                if app is not None:
                    url = app.url
                    await first_scores(browser, url, 1)
                    cold = time.perf_counter() - app.started  # the process launch -> the first score shown
                    print(f"cold start, launch to the first score: {cold:.1f} s (≤ 7 s: {_common.yes(cold <= 7)})")
                    wait_idle(psutil.Process(app.pid))
                else:
                    await first_scores(browser, url, 1)  # warm
                load = load_average()
                seconds = sorted(await first_scores(browser, url, students))
                print(
                    f"{students} browser sessions at once, page load to the first score: median "
                    f"{statistics.median(seconds):.1f} s, last {seconds[-1]:.1f} s (one new session ≤ 2.5 s: "
                    f"{_common.yes(seconds[0] <= 2.5)}); load {load}"
                )
        finally:
            await browser.close()


def find_server(url: str) -> psutil.Process:
    """The process listening on the URL's port (a server started by this user)."""
    port = urllib.parse.urlsplit(url).port
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return psutil.Process(connection.pid)
    raise SystemExit(f"no process of this user listens on port {port}: pass --pid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one on a free loopback port)")
    parser.add_argument("--pid", type=int, help="the running server's process id (default: found from --url's port)")
    parser.add_argument(
        "--serve",
        type=int,
        metavar="REPLICAS",
        help="start `python -m embedlab serve --replicas REPLICAS` (nginx in front) instead of one server; the CPU and "
        "memory are every replica's",
    )
    parser.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES), help="pages (default: all)")
    parser.add_argument(
        "--sessions",
        type=int,
        help="sessions at once per page (default: 30 for Compare, the Lesson and Tokens & layers, 10 for the others)",
    )
    parser.add_argument("--spread", type=float, default=0.0, help="start the sessions evenly over S seconds")
    parser.add_argument("--memory", action="store_true", help=f"{MEMORY_SESSIONS} sessions in waves: RSS growth")
    parser.add_argument("--memory-sessions", type=int, default=MEMORY_SESSIONS, help="sessions of the memory run")
    parser.add_argument("--wave", type=int, default=30, help="sessions per wave of the memory run (default 30)")
    parser.add_argument(
        "--browser",
        type=int,
        nargs="?",
        const=3,
        default=0,
        metavar="STUDENTS",
        help="also a browser check: cold start, then STUDENTS (default 3) headless Chromium at once",
    )
    args = parser.parse_args()

    if args.serve:
        starting = served(args.serve)
    else:
        starting = running_app(start_timeout_s=300) if args.url is None else nullcontext()
    with starting as app:
        if args.serve:
            url, server = app
            where = f"`serve --replicas {args.serve}` (replica pids {', '.join(str(p.pid) for p in server)})"
        else:
            url = app.url if app is not None else args.url
            server = psutil.Process(app.pid if app is not None else args.pid or find_server(url).pid)
            where = f"server pid {server.pid}"
        print(f"{os.cpu_count()} cores; {where} at {url}; load {load_average()}", flush=True)
        warm_start = time.perf_counter()
        for page in args.pages:  # models, baselines and projections loaded once (in each replica: nginx takes turns)
            for _ in range(args.serve or 1):
                result = asyncio.run(one_session(url, page))
                if result.failure or result.exceptions:
                    print(f"warm-up of {page}: {result.failure or result.exceptions}", flush=True)
        waited = wait_idle(server)
        print(
            f"warm after {time.perf_counter() - warm_start:.0f} s (idle after {waited:.0f} s more); "
            f"RSS {rss_mb(server):.0f} MB",
            flush=True,
        )
        if args.memory:
            memory_run(url, server, args.pages, args.memory_sessions, args.wave)
        else:
            print(
                "| page | sessions at once | p50 / p95 / max to the finished page | not finished | "
                "server CPU per session | server RSS | load (1 / 5 / 15 min) | failures, exceptions shown |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for page in args.pages:
                count = args.sessions or PAGES[page][1]
                print(page_row(url, server, page, count, args.spread), flush=True)
            if "compare" in args.pages and args.sessions is None:  # the class: 100 at once (--url: through serve)
                print(page_row(url, server, "compare", CLASS_SESSIONS, args.spread, CLASS_TARGET_S), flush=True)
    if args.browser:
        asyncio.run(browser_check(args.browser, args.url))


if __name__ == "__main__":
    main()
