"""`python -m embedlab serve`: the nginx configuration, its command line, and the processes it starts and stops.

The configuration is checked as text, then run by the real nginx in front of two small HTTP servers (affinity,
uploads, the websocket upgrade, health); the supervisor is checked by running the real command with real replicas.
Without nginx these skip, except when EMBEDLAB_REQUIRE_NGINX=1 (set by .ci/run): then they fail.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from embedlab.cli import main
from embedlab.limits import MAX_UPLOAD_MB
from embedlab.models.names import MODELS_DIR_ENV
from embedlab.replicas import (
    SERVED_ENV,
    Group,
    example_replicas,
    free_port,
    health,
    nginx_config,
    reachable_host,
    replica_address,
    replica_environment,
)
from embedlab.settings import get_settings
from tests.helpers import one_line_error
from tests.servehelpers import environment, living, running_serve

REPLICAS = ["127.0.0.1:9001", "127.0.0.1:9002", "[::1]:9003"]
BOUND_S = 60


def location_block(config: str) -> str:
    return config[config.index("location / {") : config.index("}", config.index("location / {"))]


# The configuration as text -------------------------------------------------------------------------------------


def test_config_passes_websocket_upgrades_with_a_long_read_timeout():
    location = location_block(nginx_config(REPLICAS, 8080))
    assert "proxy_http_version 1.1;" in location
    assert "proxy_set_header Upgrade $http_upgrade;" in location
    assert "proxy_set_header Connection $connection_upgrade;" in location
    read_timeout = re.search(r"proxy_read_timeout (\d+)([smhd]);", location)
    seconds = int(read_timeout.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[read_timeout.group(2)]
    assert seconds >= 3600  # nginx's default (60 s) would cut an idle tab's websocket


def test_config_lists_every_replica_once_in_the_pool_and_once_alone():
    config = nginx_config(REPLICAS, 8080)
    pool = re.search(r"upstream embedlab_replicas \{(.*?)\}", config, re.S).group(1)
    assert re.findall(r"server (\S+);", pool) == REPLICAS
    for index, address in enumerate(REPLICAS, start=1):
        alone = re.search(rf"upstream embedlab_replica_{index} \{{(.*?)\}}", config, re.S).group(1)
        assert re.findall(r"server (\S+);", alone) == [address]


def test_config_keeps_a_browser_on_its_replica_by_cookie():
    config = nginx_config(REPLICAS, 8080)
    chooser = re.search(r"map \$cookie_embedlab_replica \$embedlab_upstream \{(.*?)\}", config, re.S).group(1)
    assert "default embedlab_replicas;" in chooser  # no cookie, or one naming no replica: the next in turn
    for index in range(1, len(REPLICAS) + 1):
        assert f"r{index} embedlab_replica_{index};" in chooser
        assert f'"embedlab_replicas {REPLICAS[index - 1]}" "embedlab_replica=r{index}; Path=/;' in config
    location = location_block(config)
    assert "proxy_pass http://$embedlab_upstream;" in location
    assert "add_header Set-Cookie $embedlab_set_cookie always;" in location


def test_config_listens_where_asked_and_takes_streamlit_sized_uploads():
    assert "listen 127.0.0.1:8080;" in nginx_config(REPLICAS, 8080)
    assert "listen 0.0.0.0:80;" in nginx_config(REPLICAS, 80, "0.0.0.0")
    assert "listen [::]:8443;" in nginx_config(REPLICAS, 8443, "::")
    # the app's limit, and 1 MB for the multipart form around a file of that size
    assert f"client_max_body_size {MAX_UPLOAD_MB + 1}m;" in nginx_config(REPLICAS, 8080)


def test_nginx_streamlit_and_the_pages_take_the_same_uploads():
    import tomllib

    app_config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert app_config["server"]["maxUploadSize"] == MAX_UPLOAD_MB  # Streamlit refuses what the pages would refuse
    body_mb = int(re.search(r"client_max_body_size (\d+)m;", nginx_config(REPLICAS, 8080)).group(1))
    assert MAX_UPLOAD_MB < body_mb <= MAX_UPLOAD_MB + 1  # nginx lets a file of the limit through, not much more


def test_serve_checks_a_wildcard_listener_through_the_loopback():
    assert reachable_host("0.0.0.0") == "127.0.0.1"
    assert reachable_host("::") == "::1"  # nginx listens on IPv6 only for [::]
    assert reachable_host("10.0.0.5") == "10.0.0.5"


def test_every_path_in_the_config_is_relative_to_the_prefix():
    config = nginx_config(REPLICAS, 8080)
    for directive in ("pid", "error_log", "access_log", "client_body_temp_path", "proxy_temp_path"):
        value = re.search(rf"^\s*{directive} (\S+)", config, re.M).group(1)
        assert not value.startswith("/"), directive  # Debian's defaults under /var would need root


@pytest.mark.parametrize(
    "bad",
    ["localhost:8501", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "10.0.0.1:port", "::1:8501", "[::1:8501"]
    + ["[10.0.0.1]:8501"],
)
def test_a_replica_address_must_be_ip_and_port(bad):
    with pytest.raises(ValueError, match="IP:PORT"):
        replica_address(bad)


def test_replica_addresses_are_normalised_and_duplicates_refused():
    assert replica_address(" 10.0.0.11:8501 ") == "10.0.0.11:8501"
    assert replica_address("[0:0::1]:8501") == "[::1]:8501"
    with pytest.raises(ValueError, match="twice"):
        nginx_config(["10.0.0.1:8501", "10.0.0.1:8501"], 8080)
    with pytest.raises(ValueError, match="at least one"):
        nginx_config([], 8080)


# The command line ----------------------------------------------------------------------------------------------


def test_print_config_prints_the_config_and_starts_nothing(capsys):
    assert main(["serve", "--print-config", "--replicas", "3", "--port", "8080"]) == 0
    printed = capsys.readouterr().out
    assert printed == nginx_config(example_replicas(3), 8080)
    assert example_replicas(3) == ["127.0.0.1:8501", "127.0.0.1:8502", "127.0.0.1:8503"]


def test_print_config_with_replicas_on_other_machines(capsys):
    argv = ["serve", "--print-config", "--host", "0.0.0.0", "--port", "80"]
    argv += ["--upstream", "10.0.0.11:8501", "--upstream", "10.0.0.12:8501"]
    assert main(argv) == 0
    assert capsys.readouterr().out == nginx_config(["10.0.0.11:8501", "10.0.0.12:8501"], 80, "0.0.0.0")


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--replicas", "0"],
        ["serve", "--replicas", "two"],
        ["serve", "--replicas", "65"],
        ["serve", "--port", "0"],
        ["serve", "--port", "70000"],
        ["serve", "--print-config", "--upstream", "replica-1:8501"],
        ["serve", "--workers", "65"],
        ["serve", "--workers", "some"],
    ],
)
def test_bad_serve_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_upstream_without_print_config_is_refused(capsys):
    assert main(["serve", "--upstream", "10.0.0.11:8501"]) == 2
    assert "--print-config" in one_line_error(capsys)


def test_replica_environment_shares_the_models_dir_and_passes_served(tmp_path):
    base = {MODELS_DIR_ENV: str(tmp_path / "." / "models"), SERVED_ENV: "1", "PATH": "/usr/bin"}
    served = replica_environment(True, base)
    assert served[SERVED_ENV] == "1"
    assert Path(served[MODELS_DIR_ENV]).is_absolute()
    assert served["STREAMLIT_SERVER_COOKIE_SECRET"]
    assert SERVED_ENV not in replica_environment(False, base)  # --no-served: not even an inherited one


# The configuration run by the real nginx -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    from embedlab.errors import EmbedLabError
    from embedlab.replicas import find_nginx

    try:
        return find_nginx()
    except EmbedLabError as missing:
        if get_settings().require_nginx:
            pytest.fail(f"{missing} (EMBEDLAB_REQUIRE_NGINX=1)")
        pytest.skip(str(missing))


class Backend(BaseHTTPRequestHandler):
    """A replica stand-in that answers health and uploads, and remembers what reached it."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def answer(self, body: bytes) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        reply = b"ok" if self.path == "/_stcore/health" else f"{self.server.name} {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self) -> None:
        self.answer(b"")

    def do_PUT(self) -> None:
        self.answer(self.rfile.read(int(self.headers["Content-Length"])))


@pytest.fixture()
def proxy(nginx_binary, tmp_path):
    """nginx on a free port, with our configuration, in front of two Backends; yields (port, backends)."""
    backends = []
    for name in ("one", "two"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
        server.name, server.seen = name, []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        backends.append(server)
    port = free_port()
    config = tmp_path / "nginx.conf"
    config.write_text(nginx_config([f"127.0.0.1:{b.server_address[1]}" for b in backends], port), encoding="utf-8")
    group = Group(tmp_path)
    group.start("nginx", [nginx_binary, "-c", str(config), "-p", str(tmp_path), "-e", "stderr", "-g", "daemon off;"])
    try:
        wait_for(lambda: health(f"http://127.0.0.1:{port}", timeout_s=2) == "ok", group)
        yield port, backends
    finally:
        group.stop()
        for server in backends:
            server.shutdown()
            server.server_close()


def wait_for(condition, group: Group) -> None:
    stop = threading.Event()
    for _ in range(int(BOUND_S / 0.1)):
        if condition():
            return
        assert group.exited() is None, group.children[0].log_tail()
        stop.wait(0.1)
    raise AssertionError(f"not within {BOUND_S} s:\n{group.children[0].log_tail()}")


def request(port: int, method: str, path: str, cookie: str = "", body: bytes | None = None, headers=None):
    """(status, body, the embedlab_replica cookie set, or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {**({"Cookie": cookie} if cookie else {}), **(headers or {})}
    connection.request(method, path, body=body, headers=sent)
    answer = connection.getresponse()
    data = answer.read()
    set_cookie = [value for key, value in answer.getheaders() if key.lower() == "set-cookie"]
    connection.close()
    replica = re.search(r"embedlab_replica=(r\d+)", " ".join(set_cookie))
    return answer.status, data, replica.group(1) if replica else None


def test_new_visitors_alternate_and_each_keeps_its_replica(proxy):
    port, _ = proxy
    first = request(port, "GET", "/")
    second = request(port, "GET", "/")
    assert {first[2], second[2]} == {"r1", "r2"}  # two new browsers: one on each replica
    for _, body, cookie in (first, second):
        name = body.split()[0]
        for path in ("/", "/static/app.js", "/media/chart.png", "/_stcore/host-config"):
            again = request(port, "GET", path, cookie=f"embedlab_replica={cookie}")
            assert again[1].split()[0] == name  # same replica
            assert again[2] is None  # the cookie is not set again


def test_a_cookie_naming_no_replica_counts_as_none(proxy):
    port, _ = proxy
    status, _, cookie = request(port, "GET", "/", cookie="embedlab_replica=r9")
    assert status == 200 and cookie in {"r1", "r2"}


def test_an_upload_bigger_than_nginx_defaults_reaches_the_browsers_replica(proxy):
    port, backends = proxy
    _, body, cookie = request(port, "GET", "/")
    name = body.split()[0].decode()
    upload = os.urandom(3 * 1024 * 1024)  # over nginx's 1 MB default body limit and its 16 KB memory buffer
    status, reply, _ = request(
        port, "PUT", "/_stcore/upload_file/session/file", cookie=f"embedlab_replica={cookie}", body=upload
    )
    assert status == 200
    assert reply.decode() == f"{name} {len(upload)}"
    receiver = next(b for b in backends if b.name == name)
    assert receiver.seen[-1][3] == upload


def test_health_is_proxied(proxy):
    port, _ = proxy
    status, body, _ = request(port, "GET", "/_stcore/health")
    assert (status, body) == (200, b"ok")


def test_the_script_health_check_is_not_reachable_through_nginx(proxy):
    """`serve` warms replicas on their own ports; a visitor must not be able to run a throwaway session at will."""
    port, backends = proxy
    status, _, _ = request(port, "GET", "/_stcore/script-health-check")
    assert status == 404
    assert not any(seen[1].startswith("/_stcore/script-health-check") for b in backends for seen in b.seen)


def test_the_websocket_upgrade_reaches_the_replica(proxy):
    port, backends = proxy
    _, _, cookie = request(port, "GET", "/")
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    headers["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    request(port, "GET", "/_stcore/stream", cookie=f"embedlab_replica={cookie}", headers=headers)
    streams = [seen for b in backends for seen in b.seen if seen[1] == "/_stcore/stream"]
    assert len(streams) == 1
    received = {key.lower(): value for key, value in streams[0][2].items()}
    assert received["upgrade"] == "websocket"
    assert received["connection"].lower() == "upgrade"
    assert received["host"] == f"127.0.0.1:{port}"  # with the port, as the browser's Origin has it


# The command that starts and stops everything ------------------------------------------------------------------


def test_a_taken_port_is_refused_before_anything_starts(nginx_binary, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--replicas", "1", "--port", str(port)]) == 2
    assert f"127.0.0.1:{port}" in one_line_error(capsys)


def test_sigterm_stops_every_replica_and_nginx(nginx_binary, tmp_path):
    models = tmp_path / "models"
    with running_serve(["--replicas", "2"], free_port(), {MODELS_DIR_ENV: str(models)}) as run:
        replicas = run.replicas()
        assert len(replicas) == 2
        assert any("nginx: master" in command for command in run.children.values())
        for pid in replicas:  # every replica: the one models directory, and served mode on
            assert environment(pid)[MODELS_DIR_ENV] == str(models.resolve())
            assert environment(pid)[SERVED_ENV] == "1"
        (worker,) = [pid for pid, command in run.children.items() if "embedlab worker" in command]  # --workers 1
        assert environment(worker)[MODELS_DIR_ENV] == str(models.resolve())  # the replicas' queue and models
        assert health(run.url) == "ok"
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=BOUND_S) == 0
        assert living(run.children) == {}


def test_a_replica_that_dies_stops_the_rest(nginx_binary, tmp_path):
    with running_serve(["--replicas", "2", "--no-served", "--workers", "0"], free_port(), {SERVED_ENV: "1"}) as run:
        replicas = run.replicas()
        assert all(SERVED_ENV not in environment(pid) for pid in replicas)
        os.kill(next(iter(replicas)), signal.SIGKILL)
        assert run.process.wait(timeout=BOUND_S) == 1
        assert "exited" in run.output and "stopping the rest" in run.output
        assert living(run.children) == {}


def test_killing_serve_itself_takes_its_processes_with_it(nginx_binary):
    with running_serve(["--replicas", "1", "--workers", "0"], free_port()) as run:
        run.process.kill()  # SIGKILL: no chance to clean up; the children die with their parent
        run.process.wait(timeout=BOUND_S)
        stop = threading.Event()
        for _ in range(int(BOUND_S / 0.1)):
            if not living(run.children):
                break
            stop.wait(0.1)
        assert living(run.children) == {}
        folder = re.search(r"\(logs in (\S+)\)", run.output).group(1)
        shutil.rmtree(folder)  # a killed serve cannot remove its own folder


def test_the_printed_config_is_one_nginx_accepts(nginx_binary, tmp_path):
    printed = subprocess.run(
        [sys.executable, "-m", "embedlab", "serve", "--print-config", "--upstream", "10.0.0.11:8501"],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    ).stdout
    config = tmp_path / "embedlab-nginx.conf"
    config.write_text(printed, encoding="utf-8")
    checked = subprocess.run(
        [nginx_binary, "-t", "-c", str(config), "-p", str(tmp_path), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_warming_names_a_replica_whose_first_page_failed_or_is_still_running():
    from embedlab.replicas import WARM_PATH, warm_all

    answers = {"/ok": (200, b"ok"), "/error": (503, b"error"), "/slow": (503, b"timeout")}
    asked: list[str] = []

    class Replica(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            base, _, path = self.path.rpartition(WARM_PATH)
            asked.append(base)
            status, body = answers.get(base, (404, b""))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Replica)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    said: list[str] = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        replicas = {name: f"{url}/{name}" for name in ("ok", "error", "slow")}
        warm_all(replicas, threading.Event(), said.append, timeout_s=30)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(asked) == ["/error", "/ok", "/slow"]  # every replica asked once
    assert said == [
        "error: its first page did not run cleanly while warming (error)",
        "slow: still warming after 60 s (a busy machine); it carries on in the background",
    ]


SPIN_THEN_IDLE = (  # a process that computes for {spin} s of CPU, then waits without computing
    "import threading, time\nend = time.process_time() + {spin}\nwhile time.process_time() < end: pass\n"
    "threading.Event().wait(60)"
)


def test_serve_opens_once_the_replicas_background_warm_up_has_finished():
    import time

    from embedlab.replicas import Stopped, settle

    # a replica still compiling UMAP after its first page: 1.5 s of CPU, then idle
    busy = subprocess.Popen([sys.executable, "-c", SPIN_THEN_IDLE.format(spin=1.5)])
    spinning = subprocess.Popen([sys.executable, "-c", SPIN_THEN_IDLE.format(spin=600)])  # never settles
    try:
        started = time.monotonic()
        assert settle([busy], threading.Event(), timeout_s=60) is True
        assert time.monotonic() - started >= 1.0  # it waited for the spin (at most one second of it overlaps)
        assert settle([busy, spinning], threading.Event(), timeout_s=3) is False  # a bound, then serve opens anyway
        stop = threading.Event()
        stop.set()
        with pytest.raises(Stopped):  # Ctrl-C while waiting
            settle([spinning], stop, timeout_s=60)
    finally:
        for process in (busy, spinning):
            process.kill()
            process.wait()
