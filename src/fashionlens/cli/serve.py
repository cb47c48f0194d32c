"""`fashionlens serve`: the web service (API + pages) for shops and customers."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Optional

import typer

from fashionlens.catalog.stores import is_server
from fashionlens.cli.analyze import CLASSIFIER_HELP, CONF_OPTION, DETECTOR_HELP, DEVICE_OPTION, WHOLE_HELP
from fashionlens.cli.app import app
from fashionlens.cli.catalog import BACKEND_HELP, CATALOG_OPTION, open_store
from fashionlens.core.errors import FashionLensError

ADMIN_KEY_VARIABLE = "FASHIONLENS_ADMIN_KEY"
MEDIA_DIR_OPTION = typer.Option(
    None,
    "--media-dir",
    help="Where imported product photos are kept; default: CATALOG.media/ beside it (fashionlens.media/ for a "
    "PostgreSQL URL).",
)
CORS_OPTION = typer.Option(
    [], "--cors-origin", help="A web site allowed to call the API from browsers, repeatable (default: none)."
)
MAX_PENDING_OPTION = typer.Option(
    8, "--max-pending", min=1, help="Photos waiting for the models before more are answered 503 (busy)."
)
MAX_CONNECTIONS_OPTION = typer.Option(
    200, "--max-connections", min=1, help="Open connections before more are answered 503 (busy)."
)
WORKERS_OPTION = typer.Option(
    1,
    "--workers",
    min=1,
    help="Service processes on this port, each with its own copy of the models (memory grows with each); they "
    "share the catalogue (see docs/scaling.md).",
)
STORE_PHOTOS_OPTION = typer.Option(
    False, "--store-photos", help="Keep customers' photos in MEDIA_DIR/photos (off: never stored)."
)


@app.command("serve")
def serve_command(
    detector: Optional[Path] = typer.Option(None, "--detector", help=DETECTOR_HELP),
    classifier: Optional[Path] = typer.Option(
        None, "--classifier", help=CLASSIFIER_HELP + " Must be the catalogue's model."
    ),
    whole_image: bool = typer.Option(False, "--whole-image", help=WHOLE_HELP),
    backend: str = typer.Option("torch", "--backend", help=BACKEND_HELP),
    catalog: str = CATALOG_OPTION,
    media_dir: Optional[Path] = MEDIA_DIR_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    cors_origin: list[str] = CORS_OPTION,
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", min=0.1, help="Largest photo upload."),
    max_pending: int = MAX_PENDING_OPTION,
    max_connections: int = MAX_CONNECTIONS_OPTION,
    store_photos: bool = STORE_PHOTOS_OPTION,
    workers: int = WORKERS_OPTION,
    conf: Optional[float] = CONF_OPTION,
    device: Optional[str] = DEVICE_OPTION,
) -> None:
    """Serve the API (described at /openapi.json), the customer page (/) and the retailer dashboard (/dashboard).

    Admin routes (import, update, delete) need FASHIONLENS_ADMIN_KEY set; clients send it as X-API-Key.

    Example: FASHIONLENS_ADMIN_KEY=s3cret fashionlens serve --catalog shop.db --classifier runs/clothing --port 8000

    Faster on a CPU: add --backend onnx (docs/benchmarks.md, speed)
    """
    check_address(host, port)  # a taken port: one line in a second, not after the models load
    from fashionlens.service import ServiceSettings

    settings = ServiceSettings(
        catalog=catalog,
        detector=detector,
        classifier=classifier,
        whole_image=whole_image,
        backend=backend,
        conf=conf,
        device=device,
        media_dir=media_dir,
        admin_key=os.environ.get(ADMIN_KEY_VARIABLE) or None,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_pending=max_pending,
        max_connections=max_connections,
        cors_origins=list(cors_origin),
        store_photos=store_photos,
    )
    serve(settings, host, port, workers)


def serve(settings, host: str, port: int, workers: int = 1) -> None:
    """Load the models and open the catalogue, then serve until stopped; with several workers, each
    process loads the models again (those loaded here only proved they load, and exported them once)."""
    import uvicorn

    from fashionlens.service import create_app
    from fashionlens.service.app import SETTINGS_VARIABLE
    from fashionlens.service.state import load_analyzer

    # loaded here, before the port opens, so a wrong run or database is one line of error, not a traceback;
    # a database server is asked first (it answers in seconds, the models take longer), a new SQLite file is
    # made only once the models loaded
    if is_server(settings.catalog):
        open_store(settings.catalog, create=True).close()
    settings.analyzer = load_analyzer(settings)
    open_store(settings.catalog, create=True).close()
    if settings.admin_key is None:
        typer.echo(
            f"note: {ADMIN_KEY_VARIABLE} is not set; the admin routes (import, update, delete) are off", err=True
        )
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **settings.uvicorn_options())
        return
    settings.analyzer = None
    os.environ[SETTINGS_VARIABLE] = settings.to_environment()
    factory = "fashionlens.service.app:app_from_environment"
    uvicorn.run(factory, factory=True, workers=workers, host=host, port=port, **settings.uvicorn_options())


def check_address(host: str, port: int) -> None:
    """Bind the address once, as uvicorn will (SO_REUSEADDR), and let it go: whether it is free."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise FashionLensError(f"--host {host}: {error.strerror}") from None
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise FashionLensError(
                    f"{host}:{port} is already in use; stop what listens there or choose another --port"
                ) from None
            raise FashionLensError(f"cannot listen on {host}:{port}: {error.strerror}") from None
