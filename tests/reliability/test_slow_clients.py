"""Slow clients against a real server (uvicorn in a thread): a body that stops coming is answered 408 and
its connection closed; connections beyond the cap are refused at once; the server keeps answering others."""

from __future__ import annotations

import json
import socket
import time
from contextlib import closing

import httpx
import pytest

from service_testing import tiny_live_server

BODY_TIMEOUT_S = 0.5  # the settings' read timeout in these tests (15 s by default)
GENEROUS_S = 30.0  # how long a test waits for an answer before it counts as held forever
MAX_CONNECTIONS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with tiny_live_server(
        tmp_path_factory.mktemp("slow"), body_timeout_s=BODY_TIMEOUT_S, max_connections=MAX_CONNECTIONS
    ) as live:
        yield live


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=GENEROUS_S)
    return connection


def read_answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the test fails if it never does)."""
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def partial_request(path: str, declared: int, sent: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n"
    ).encode() + sent


@pytest.mark.parametrize(
    "path, content_type, declared, sent",
    [
        ("/events", "application/json", 100, b'{"kind": "click", "item_ids": ["T'),  # the 33 of 100 bytes
        (
            "/analyze",
            "multipart/form-data; boundary=b",
            1000,
            b'--b\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n\xff\xd8",
        ),
    ],
)
def test_a_body_that_stops_coming_is_answered_408_and_closed(server, path, content_type, declared, sent):
    with closing(connect(server.url)) as connection:
        connection.sendall(partial_request(path, declared, sent, content_type))
        started = time.monotonic()
        answer = read_answer(connection)  # returns only when the server closes the connection
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"x-content-type-options: nosniff" in head.lower()
    assert "request body too slow" in json.loads(body)["error"]
    assert time.monotonic() - started < GENEROUS_S


def test_a_trickling_body_is_cut_off_too(server):
    """A byte every tenth of a second passes any per-read timeout; the body's minimum rate stops it."""
    with closing(connect(server.url)) as connection:
        connection.sendall(partial_request("/events", 10_000, b"{"))
        answer, started = b"", time.monotonic()
        connection.settimeout(0.1)
        while time.monotonic() - started < GENEROUS_S:
            try:
                connection.sendall(b" ")
                answer = connection.recv(65536)
            except socket.timeout:
                continue
            except OSError:  # closed by the server after its answer
                break
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_connections_over_the_cap_are_refused_and_the_server_recovers(server):
    """Connections that never send a request hold their place until closed; uvicorn counts them against
    the cap (max_connections, the new one included) and refuses the rest at once."""
    held = [connect(server.url) for _ in range(MAX_CONNECTIONS - 1)]
    try:
        time.sleep(0.2)  # the server has accepted them all
        refused = httpx.get(f"{server.url}/health", timeout=GENEROUS_S)
    finally:
        for connection in held:
            connection.close()
    assert refused.status_code == 503
    deadline = time.monotonic() + GENEROUS_S
    while time.monotonic() < deadline:  # the places free up once the sockets are closed
        answer = httpx.get(f"{server.url}/health", timeout=GENEROUS_S)
        if answer.status_code == 200:
            break
        time.sleep(0.1)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_a_whole_body_sent_in_slow_parts_is_still_served(server):
    """Parts within the read timeout and above the minimum rate: a slow but honest client gets its answer."""
    body = json.dumps({"kind": "click", "item_ids": ["TEE-RED"]}).encode()
    with closing(connect(server.url)) as connection:
        connection.sendall(partial_request("/events", len(body), body[:10]))
        time.sleep(BODY_TIMEOUT_S / 4)
        connection.sendall(body[10:])
        head = connection.recv(65536)
    assert head.startswith(b"HTTP/1.1 202"), head
