"""Serve the app to a class: several ``streamlit run app.py`` replicas behind nginx, started and stopped as one.

    serve(replicas=2, port=8080)   # blocks until Ctrl-C / SIGTERM, or until any of its processes dies

Streamlit serves every session from one process, so a class shares one core; N replicas share the machine's cores.
nginx (Debian's package, run as an ordinary process from a temporary folder) listens on the public port, proxies the
websocket (``/_stcore/stream``), plain HTTP (uploads, media, ``/_stcore/health``) and keeps each browser on one
replica with a cookie it sets itself (see ``nginx_config``). The replicas share the models directory
(``$EMBEDLAB_MODELS_DIR``), so a model trained through one is offered by every other.

Every process started here is in one process group: stopping sends SIGTERM to the group, then SIGKILL to whatever is
left after ``STOP_TIMEOUT_S``. The group's first member is a watchdog that kills the group when this process dies
without stopping it (SIGKILL, a crash): it reads a pipe only this process can write to, and reads its end when
this process is gone. (The replicas could die with their parent by ``PR_SET_PDEATHSIG``, but nginx's workers are
its master's children and outlive it, still listening.)
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_UPLOAD_MB, SERVED_MAX_UPLOAD_MB
from embedlab.models.names import MODELS_DIR_ENV, models_dir
from embedlab.served import SERVED_ENV
from embedlab.training.queue import worker_command, worker_environment

ROOT = Path(__file__).resolve().parents[1]
NGINX = "/usr/sbin/nginx"
REPLICA_COOKIE = "embedlab_replica"
NGINX_TEMPLATE = Path(__file__).with_name("nginx.conf.template")  # filled in by nginx_config
MAX_REPLICAS = 64
FIRST_EXAMPLE_PORT = 8501  # the replica ports --print-config shows when no --upstream is given
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.25
LOG_TAIL_CHARS = 2000


def replica_address(text: str) -> str:
    """``IP:PORT`` of one replica (IPv6 as ``[::1]:8501``), checked; raises ValueError naming the expected form.

    An IP, not a host name: the cookie that keeps a browser on its replica is set from the address nginx connected
    to (``$upstream_addr``), which is always numeric.
    """
    host, sep, port = text.strip().rpartition(":")
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        number = int(port)
    except ValueError:
        number = -1
    bracketed = host.startswith("[") and host.endswith("]")
    if not sep or not 1 <= number <= 65535 or bracketed != (number > 0 and address.version == 6):
        raise ValueError(f"{text!r} is not IP:PORT (e.g. 10.0.0.11:8501 or [::1]:8501)")
    return f"[{address}]:{number}" if address.version == 6 else f"{address}:{number}"


def listen_address(host: str, port: int) -> str:
    """nginx's ``listen`` argument: ``127.0.0.1:8080``, ``[::]:8080``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class NginxTemplate(string.Template):
    """``@{name}`` placeholders: nginx's own variables are ``$name``."""

    delimiter = "@"


def nginx_config(replicas: Sequence[str], port: int, host: str = "127.0.0.1") -> str:
    """The nginx configuration in front of ``replicas`` (``IP:PORT`` each, see ``replica_address``).

    Every path in it is relative to nginx's prefix (``-p DIR``): the pid file, the logs and the temp folders go
    there, so it runs as an ordinary process: ``nginx -c FILE -p DIR -e stderr -g 'daemon off;'``.

    Affinity: a browser without a valid ``embedlab_replica`` cookie goes to the next replica in turn (round robin,
    one worker process so the turn is shared), and the answer sets the cookie to that replica's number; every later
    request of that browser (page, websocket, upload, media download, health) carries it and goes to the same
    replica. A cookie rather than ``ip_hash``: a class behind one school NAT, or every tab of a test on one
    machine, shares one address, which ``ip_hash`` would send to one replica. The cookie's value only selects one
    of the configured replicas; anything else counts as no cookie.
    """
    addresses = [replica_address(address) for address in replicas]
    if not addresses:
        raise ValueError("no replicas: give at least one IP:PORT")
    if len(set(addresses)) != len(addresses):
        raise ValueError(f"a replica address is given twice: {', '.join(addresses)}")
    numbered = list(enumerate(addresses, start=1))
    cookie_of = {index: f"{REPLICA_COOKIE}=r{index}; Path=/; HttpOnly; SameSite=Lax" for index, _ in numbered}
    return NginxTemplate(NGINX_TEMPLATE.read_text()).substitute(
        cookie=REPLICA_COOKIE,
        cookie_to_upstream="\n".join(f"        r{index} embedlab_replica_{index};" for index, _ in numbered),
        upstream_to_cookie="\n".join(
            f'        "embedlab_replicas {address}" "{cookie_of[index]}";' for index, address in numbered
        ),
        servers="\n".join(f"        server {address};" for _, address in numbered),
        replica_upstreams="\n".join(
            f"    upstream embedlab_replica_{index} {{\n        server {address};\n    }}"
            for index, address in numbered
        ),
        listen=listen_address(host, port),
        max_body_mb=MAX_UPLOAD_MB + 1,  # the multipart form around a file of the limit adds a few hundred bytes
    )


def reachable_host(host: str) -> str:
    """Where this machine reaches a server listening on ``host``: the loopback for a wildcard address."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def example_replicas(count: int) -> list[str]:
    """The replica addresses ``--print-config`` shows without ``--upstream``: 127.0.0.1:8501, :8502, ..."""
    return [f"127.0.0.1:{FIRST_EXAMPLE_PORT + i}" for i in range(count)]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS picks it; another program could still take it before we do)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def check_port_free(host: str, port: int) -> None:
    """Raise EmbedLabError when ``host:port`` cannot be listened on (taken, or an address of another machine)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does: a closing socket is no obstacle
        try:
            probe.bind((host, port))
        except OSError as error:
            raise EmbedLabError(
                f"Cannot listen on {listen_address(host, port)} ({error.strerror}): choose another --port or --host."
            ) from None


def find_nginx() -> str:
    """The nginx binary: /usr/sbin/nginx, else the first nginx on PATH; EmbedLabError saying how to install it."""
    found = NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")
    if not found:
        raise EmbedLabError("nginx is not installed: apt-get install nginx (Debian's package), then try again.")
    return found


def replica_command(port: int) -> list[str]:
    """``streamlit run app.py`` on 127.0.0.1:port, headless, no usage statistics."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.scriptHealthCheckEnabled",  # WARM_PATH: serve runs the first page once before a browser comes
        "true",
    ]


def replica_environment(served: bool, base: dict[str, str] | None = None) -> dict[str, str]:
    """The replicas' environment: one models directory (absolute), EMBEDLAB_SERVED=1 when served (removed when
    not), one cookie secret shared by every replica."""
    import secrets

    env = dict(os.environ if base is None else base)
    env[MODELS_DIR_ENV] = str(models_dir())  # resolved here, so every replica reads and writes the same folder
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    if served:
        env[SERVED_ENV] = "1"
        # Streamlit itself refuses a larger upload before it reaches a page (the pages refuse it too, later).
        env["STREAMLIT_SERVER_MAX_UPLOAD_SIZE"] = str(SERVED_MAX_UPLOAD_MB)
    else:
        env.pop(SERVED_ENV, None)
    return env


WATCHDOG = "import os, signal, sys; sys.stdin.buffer.read(); os.killpg(0, signal.SIGKILL)"


@dataclass
class Child:
    """One process started by a Group: its name for messages, and where its output goes."""

    name: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Group:
    """Processes in one process group, all stopped together. The group's leader is the watchdog; it is reaped
    last, so the group's id cannot be reused by another program while ``stop`` still signals it."""

    folder: Path
    children: list[Child] = field(default_factory=list)
    pgid: int | None = None
    watchdog: subprocess.Popen | None = None

    def start(self, name: str, command: Sequence[str], env: dict[str, str] | None = None) -> Child:
        if self.watchdog is None:  # the group's leader: kills the group once this process is gone
            self.watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG], stdin=subprocess.PIPE, process_group=0)
            self.pgid = self.watchdog.pid
        log = self.folder / f"{name.replace(' ', '-')}.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                list(command),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                process_group=self.pgid,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def exited(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((child for child in self.children if child.process.poll() is not None), None)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM to the whole group, wait up to ``timeout_s``, then SIGKILL to what is left; reaps every child."""
        if self.pgid is None:
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)  # stragglers, and any grandchild a replica started
        for child in self.children:
            child.process.wait()
        self.watchdog.wait()
        self.watchdog.stdin.close()

    def _signal_group(self, number: int) -> None:
        try:
            os.killpg(self.pgid, number)
        except ProcessLookupError:  # every member has exited
            pass


def health(url: str, timeout_s: float = 5.0) -> str:
    """What ``url``/_stcore/health answers (``ok`` when up), or why there is no answer."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via $http_proxy
    try:
        with direct.open(f"{url}/_stcore/health", timeout=timeout_s) as answer:
            return answer.read().decode(errors="replace").strip()
    except OSError as error:
        return f"no answer ({error})"


WARM_PATH = "/_stcore/script-health-check"  # Streamlit runs the app's script once, in a session of its own
WARM_TIMEOUT_S = 90.0  # Streamlit gives that run 60 s, then answers "timeout" (the warm-up carries on regardless)


def warm(url: str, timeout_s: float = WARM_TIMEOUT_S) -> str:
    """Run the app's first page once in the replica at ``url`` (``WARM_PATH``): its models, reference sentences and
    baselines load there (``components/shared/warmup.py``) before any browser arrives. Returns Streamlit's answer
    (``ok`` when the page ran without an error) or why there was none."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(f"{url}{WARM_PATH}", timeout=timeout_s) as answer:
            return answer.read().decode(errors="replace").strip()
    except urllib.error.HTTPError as error:  # 503: the script's "error", or "timeout" after Streamlit's 60 s
        return error.read().decode(errors="replace").strip() or f"HTTP {error.code}"
    except OSError as error:
        return f"no answer ({error})"


def warm_all(urls: dict[str, str], stop: threading.Event, announce=print, timeout_s: float = WARM_TIMEOUT_S) -> None:
    """``warm`` every replica (name -> base URL) at once; says which did not answer ``ok`` (they still serve).
    Raises Stopped when ``stop`` is set meanwhile."""
    answers: dict[str, str] = {}

    def one(name: str, url: str) -> None:
        answers[name] = warm(url, timeout_s)

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in urls.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s + 5
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
        if stop.is_set():
            raise Stopped
        stop.wait(POLL_S)
    for name in urls:
        answer = answers.get(name, "no answer")
        if answer == "timeout":  # Streamlit stopped waiting for the run; the warm-up goes on in the replica
            announce(f"{name}: still warming after 60 s (a busy machine); it carries on in the background")
        elif answer != "ok":
            announce(f"{name}: its first page did not run cleanly while warming ({answer})")


SETTLE_TIMEOUT_S = 120.0  # the longest serve waits for the replicas' background warm-up before opening its port
IDLE_SHARE = 0.05  # a replica is idle below 5 % of a core over a second


def settle(
    processes: Sequence[subprocess.Popen | psutil.Process], stop: threading.Event, timeout_s: float = SETTLE_TIMEOUT_S
) -> bool:
    """Wait until every process has used under ``IDLE_SHARE`` of a core over one second: after ``warm``, a replica
    still imports and compiles UMAP in the background (10-25 s of CPU on 2 cores), and a class let in meanwhile
    waited for it. True once they are idle, False after ``timeout_s`` (they serve anyway). Raises Stopped when
    ``stop`` is set meanwhile."""
    watched = [psutil.Process(process.pid) for process in processes]

    def busy() -> list[float]:
        return [sum(process.cpu_times()[:2]) for process in watched]

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = busy()
        if stop.wait(1.0):
            raise Stopped
        if all(after - start < IDLE_SHARE for start, after in zip(before, busy(), strict=True)):
            return True
    return False


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived."""


def wait_healthy(group: Group, urls: dict[str, str], stop: threading.Event, timeout_s: float) -> None:
    """Wait until every ``urls`` (name -> base URL) answers ``ok``; EmbedLabError when a child exits or on timeout."""
    waiting = dict(urls)
    deadline = time.monotonic() + timeout_s
    while waiting:
        if stop.is_set():
            raise Stopped
        if dead := group.exited():
            raise EmbedLabError(
                f"{dead.name} exited (status {dead.process.returncode}) while starting:\n{dead.log_tail()}"
            )
        waiting = {name: url for name, url in waiting.items() if health(url, timeout_s=2.0) != "ok"}
        if waiting and time.monotonic() > deadline:
            raise EmbedLabError(f"{', '.join(waiting)} did not answer /_stcore/health within {timeout_s:g} s.")
        if waiting:
            stop.wait(POLL_S)


def serve(
    replicas: int,
    port: int,
    host: str = "127.0.0.1",
    served: bool = True,
    start_timeout_s: float = START_TIMEOUT_S,
    announce=print,
    workers: int = 1,
    warm_first: bool = True,
) -> int:
    """Start ``replicas`` app processes, ``workers`` training workers (``python -m embedlab worker``, on the queue
    of the shared models directory) and nginx on ``host:port``; run until Ctrl-C / SIGTERM or a child dies. With
    ``warm_first`` every replica runs its first page once (``warm``) before nginx opens the public port.

    Returns 0 after a requested stop, 1 when a process died on its own (its log's end is announced). Raises
    EmbedLabError for what the user can fix (nginx missing, port taken, a replica that does not start).
    Everything started is stopped before this returns, whatever happens.
    """
    if not 1 <= replicas <= MAX_REPLICAS:
        raise EmbedLabError(f"--replicas must be between 1 and {MAX_REPLICAS}, not {replicas}.")
    nginx = find_nginx()
    check_port_free(host, port)
    stop = threading.Event()
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    def request_stop(number, frame) -> None:
        stop.set()

    folder = Path(tempfile.mkdtemp(prefix="embedlab-serve-"))
    group = Group(folder)
    try:
        for number in previous:
            signal.signal(number, request_stop)
        env = replica_environment(served)
        ports = []
        for index in range(1, replicas + 1):
            ports.append(free_port())
            while ports[-1] in ports[:-1] or ports[-1] == port:
                ports[-1] = free_port()
            group.start(f"replica {index}", replica_command(ports[-1]), env)
        for index in range(1, workers + 1):  # in the group: stopped (SIGTERM: a run ends its step) with the rest
            group.start(f"worker {index}", worker_command(), worker_environment(env))
        announce(f"starting {workers} training worker(s)")
        announce(f"starting {replicas} replica(s) on 127.0.0.1 ports {', '.join(map(str, ports))} (logs in {folder})")
        replica_urls = {f"replica {i}": f"http://127.0.0.1:{p}" for i, p in enumerate(ports, start=1)}
        wait_healthy(group, replica_urls, stop, start_timeout_s)
        if warm_first:  # the model, the reference sentences and the baselines, before the first browser arrives
            announce("warming the replicas: loading the model and its baselines in each")
            warm_all(replica_urls, stop, announce)
            announce("waiting for the replicas' background warm-up (UMAP's compilation) to finish")
            replica_processes = [child.process for child in group.children if child.name.startswith("replica")]
            if not settle(replica_processes, stop):
                announce(f"the replicas were still busy after {SETTLE_TIMEOUT_S:.0f} s; serving anyway")
        config = folder / "nginx.conf"
        config.write_text(nginx_config([f"127.0.0.1:{p}" for p in ports], port, host), encoding="utf-8")
        group.start("nginx", [nginx, "-c", str(config), "-p", str(folder), "-e", "stderr", "-g", "daemon off;"])
        wait_healthy(group, {"nginx": f"http://{listen_address(reachable_host(host), port)}"}, stop, 30.0)
        shown = listen_address(reachable_host(host), port)
        wildcard = " on every address of this machine" if reachable_host(host) != host else ""
        announce(
            f"Embedding Lab: http://{shown}{wildcard} ({replicas} replica(s); "
            f"models in {env[MODELS_DIR_ENV]}). Ctrl-C stops everything."
        )
        while not stop.is_set():
            if dead := group.exited():
                announce(f"{dead.name} exited (status {dead.process.returncode}); stopping the rest.")
                announce(dead.log_tail())
                return 1
            stop.wait(POLL_S)
        announce("stopping the replicas and nginx")
        return 0
    except Stopped:
        announce("stopped while starting")
        return 0
    finally:
        group.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
        shutil.rmtree(folder, ignore_errors=True)
