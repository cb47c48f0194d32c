"""A real server in a background thread, on a free loopback port: for browser tests and load benchmarks.

with running_server(create_app(ServiceSettings(catalog=Path("shop.db")))) as url:
    httpx.get(f"{url}/health")
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 60.0


@contextmanager
def running_server(app: FastAPI, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a daemon thread (port 0: a free one) and yield its base URL; the
    server shuts down (lifespan included) when the block ends. `options`: uvicorn's, as
    ServiceSettings.uvicorn_options() gives those `fashionlens serve` runs with."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", **options))
    thread = threading.Thread(target=server.run, name="fashionlens-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the fashionlens server did not start (see the log above)")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
