"""Limits before work: oversized bodies refused before they are read, malformed JSON refused with
a clear 400, and the hub's files readable by their owner only."""

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from carmen.cli import main
from federation.hub.bodies import MAX_INTEGER_DIGITS, MAX_JSON_DEPTH
from tests.federation.conftest import stored_counts
from tests.federation.factories import make_identity, make_registration

ROOT = Path(__file__).resolve().parents[2]
NOTHING = {"snapshots": 0, "aggregate_cells": 0, "seen_nonces": 0, "node_services": 0}
# Both read a body before anyone is authenticated.
ENDPOINTS = ["/api/v1/enroll", "/api/v1/auth/tokens"]


def assert_bad_request(response, words: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == "malformed_json"
    assert words in response.json["message"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_deeply_nested_json_is_a_clear_400(client, hub_app, path):
    for body in ("[" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000, "[" * 40 + "]" * 40):
        response = client.post(path, data=body, headers={"Content-Type": "application/json"})
        assert_bad_request(response, f"nested more than {MAX_JSON_DEPTH} levels")
    assert stored_counts(hub_app) == NOTHING


@pytest.mark.parametrize("path", ENDPOINTS)
def test_an_integer_of_thousands_of_digits_is_a_clear_400(client, hub_app, path):
    for digits in (5_000, MAX_INTEGER_DIGITS + 1):
        body = '{"token": "x", "password": ' + "9" * digits + "}"
        response = client.post(path, data=body, headers={"Content-Type": "application/json"})
        assert_bad_request(response, f"more than {MAX_INTEGER_DIGITS} digits")
    assert stored_counts(hub_app) == NOTHING


def test_a_signed_push_of_deeply_nested_json_is_a_clear_400_and_keeps_not_even_its_nonce(
    enrolled, push, hub_app
):
    bologna = enrolled("bologna")
    response = push(bologna, b'{"cells": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    assert_bad_request(response, "nested")
    assert stored_counts(hub_app) == NOTHING


def test_nan_and_infinite_numbers_are_a_clear_400(client):
    for number in ("NaN", "Infinity", "-Infinity", "1e999"):
        response = client.post(
            "/api/v1/enroll",
            data='{"registration": {"population": ' + number + "}}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, number
        assert response.json["error"] == "malformed_json"


def test_a_registration_at_the_depth_of_the_wire_models_is_still_read(client, hub_app):
    from tests.federation.test_hub_enrollment import issue_token

    registration = make_registration(make_identity("bologna")).model_dump(mode="json")
    response = client.post(
        "/api/v1/enroll", json={"token": issue_token(hub_app), "registration": registration}
    )
    assert response.status_code == 201


def test_a_body_over_the_limit_is_refused_from_its_content_length(tmp_path, migrated_hub_db):
    from tests.federation.conftest import make_hub

    app = make_hub(tmp_path / "hub", migrated_hub_db, MAX_BODY_BYTES=1024)
    response = app.test_client().post(
        "/api/v1/enroll", data=b"{" + b" " * 2048 + b"}", content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large"
    assert "1024 bytes" in response.json["message"]


# ---------------------------------------------------------------- real servers on loopback

# Over waitress's default spool threshold (512 KiB), so that spooling would show.
LIMIT = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited: {process.communicate()[0]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"nothing listens on {port}: {process.communicate()[0]}")


def open_request(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    """A connection that has sent a POST's headers and no body yet."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the answer (the server closes or says how long the body is)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        None,
    )
    while length is not None and len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def refused_before_the_body(port: int) -> tuple[int, bytes]:
    """Announce a body of 1 GiB and send none of it: the answer must not wait for it."""
    sock = open_request(port, "/api/v1/enroll", {"Content-Length": str(1024**3)})
    with sock:
        return read_response(sock)


SIZE_LINE = f"{2 * LIMIT:x}\r\n".encode()  # one chunk, announced larger than what is sent


def refused_after_the_limit(port: int, data_bytes: int) -> tuple[int, bytes]:
    """A chunked body that stops, unfinished, past the limit: the answer must come from the
    bytes read, without waiting for the end of a body that never ends.

    Sending nothing the server will not read lets it close without a reset that could lose
    its answer: so data_bytes is what the server reads before it refuses.
    """
    sock = open_request(port, "/api/v1/enroll", {"Transfer-Encoding": "chunked"})
    with sock:
        sock.sendall(SIZE_LINE + b" " * data_bytes)
        return read_response(sock)


@pytest.fixture
def hub_instance(tmp_path) -> Path:
    instance = tmp_path / "hub"
    result = CliRunner().invoke(main, ["hub", "init", "--instance", str(instance)])
    assert result.exit_code == 0, result.output
    return instance


def serve(command: list[str], instance: Path, port: int, tmpdir: Path) -> subprocess.Popen:
    env = os.environ | {
        "CARMEN_HUB_INSTANCE": str(instance),
        "CARMEN_HUB_MAX_BODY_BYTES": str(LIMIT),
        "TMPDIR": str(tmpdir),
    }
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    wait_until_listening(port, process)
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@pytest.mark.slow
def test_gunicorn_refuses_oversized_bodies_before_reading_them(hub_instance, tmp_path):
    port = free_port()
    process = serve(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "federation.hub:create_app()",
        ],
        hub_instance,
        port,
        tmp_path,
    )
    try:
        for status, body in (
            refused_before_the_body(port),
            # Werkzeug reads one byte past the limit; gunicorn reads at least 1 KiB at a time.
            refused_after_the_limit(port, LIMIT + 1024),
        ):
            assert status == 413
            assert json.loads(body)["error"] == "payload_too_large"
    finally:
        stop(process)


def spool_files(pid: int, tmpdir: Path) -> list[str]:
    """Files the process holds open in the temporary folder (waitress spools bodies there)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(tmpdir)):
            found.append(target)
    return found


def server_has_read_everything(client: socket.socket) -> bool:
    """Whether the server end of this loopback connection has nothing left unread."""
    local = client.getsockname()
    wanted = f"{socket.htonl(0x7F000001):08X}:{local[1]:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == wanted:  # the server's socket: its remote end is our client
            _tx, rx = fields[4].split(":")
            return int(rx, 16) == 0
    return False


@pytest.mark.slow
def test_waitress_refuses_oversized_bodies_and_keeps_accepted_ones_off_the_disk(
    hub_instance, tmp_path
):
    port = free_port()
    spool = tmp_path / "spool"
    spool.mkdir()
    carmen = str(Path(sys.executable).parent / "carmen")
    command = [carmen, "hub", "serve", "--instance", str(hub_instance), "--port", str(port)]
    process = serve(command, hub_instance, port, spool)
    try:
        for status, _body in (
            refused_before_the_body(port),
            # waitress counts the chunk's size line against its limit too.
            refused_after_the_limit(port, LIMIT + 1 - len(SIZE_LINE)),
        ):
            assert status == 413  # waitress's own answer, plain text
        # A body just under the limit, far over waitress's default 512 KiB spool threshold
        # when the limit is raised: paused half-way, once the server read what was sent, it
        # holds no file in the temporary folder.
        body = b"[" + b" " * (LIMIT - 2) + b"]"
        sock = open_request(port, "/api/v1/enroll", {"Content-Length": str(len(body))})
        with sock:
            sock.sendall(body[: LIMIT - 10])
            deadline = time.monotonic() + 30
            while not server_has_read_everything(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server_has_read_everything(sock)
            assert spool_files(process.pid, spool) == []
            sock.sendall(body[LIMIT - 10 :])
            status, answer = read_response(sock)
        assert status == 400 and json.loads(answer)["error"] == "malformed_json"
    finally:
        stop(process)


def test_the_hub_s_files_are_created_for_their_owner_only(tmp_path):
    old = os.umask(0o022)  # the usual umask: without care, files come out world-readable
    try:
        instance = tmp_path / "hub"
        result = CliRunner().invoke(main, ["hub", "init", "--instance", str(instance)])
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    for path in (instance, instance / "hub.toml", instance / "hub.db"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"
