"""What a fashionlens service runs with: models, catalogue, limits. `fashionlens serve` fills it from options."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fashionlens.catalog.stores import is_server
from fashionlens.core.errors import FashionLensError
from fashionlens.core.images import MAX_PIXELS

MB = 1024 * 1024


@dataclass
class ServiceSettings:
    """The service's configuration (docs/service.md).

    detector, classifier: run directories or checkpoints; None = the shipped default models.
    analyzer: an Analyzer already loaded (tests, an application embedding the service); it takes the
        place of detector/classifier, so the models are never loaded twice.
    catalog: the catalogue database, created empty when missing: a SQLite file, or a PostgreSQL URL that
        several service processes share (docs/scaling.md); media_dir: where imported product photos (and,
        only with store_photos, customers' photos) are kept, default `<catalog>.media/` (for a PostgreSQL
        catalogue `fashionlens.media/` in the working folder: the workers must share it). Paths are made
        absolute against the working folder when the settings are made.
    admin_key: the X-API-Key of the admin routes; None refuses them all (403).
    """

    catalog: Path | str = Path("catalog.db")
    detector: Path | None = None
    classifier: Path | None = None
    whole_image: bool = False
    backend: str = "torch"  # "onnx": ONNX Runtime, the same outputs within 1e-4; "onnx-int8": quantised, faster
    conf: float | None = None  # the detector's score threshold; None: its checkpoint's
    device: str | None = None  # cpu, cuda, cuda:N for the torch backend; None: cpu
    analyzer: Any = None
    media_dir: Path | None = None
    admin_key: str | None = None
    max_upload_bytes: int = 10 * MB  # one photo
    max_import_bytes: int = 500 * MB  # a catalogue archive, packed and unpacked
    max_pixels: int = MAX_PIXELS
    max_pending: int = 8  # model requests waiting or running; more are answered 503
    cors_origins: list[str] = field(default_factory=list)  # none: browsers may not call from other sites
    store_photos: bool = False  # customers' photos are analysed in memory and forgotten
    body_timeout_s: float = 15.0  # the longest wait for the next part of a request body (then 408)
    max_connections: int = 200  # open connections; more are answered 503 by uvicorn (slow clients' cap)
    keep_alive_s: int = 5  # an idle kept-alive connection is closed after this

    def __post_init__(self) -> None:
        # absolute once, at start-up: imports link staged photos to their kept files, and a relative
        # link target would be read from the link's own folder (every photo "not found")
        if is_server(self.catalog):  # a URL: Path() would fold its "//"
            default_media = Path("fashionlens.media").absolute()
        else:
            self.catalog = Path(self.catalog).expanduser().absolute()
            default_media = self.catalog.with_name(self.catalog.name + ".media")
        self.media_dir = Path(self.media_dir).expanduser().absolute() if self.media_dir is not None else default_media
        if self.max_pending < 1:
            raise FashionLensError(f"max_pending {self.max_pending}: must be at least 1")

    @property
    def media(self) -> Path:
        """media_dir as __post_init__ resolved it (never None from then on)."""
        assert self.media_dir is not None
        return self.media_dir

    def to_environment(self) -> str:
        """These settings as JSON, for worker processes that build the app themselves (`serve --workers`);
        without the loaded analyzer: each worker loads its own models."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "analyzer"}
        return json.dumps({name: str(v) if isinstance(v, Path) else v for name, v in data.items()})

    @classmethod
    def from_environment(cls, text: str) -> "ServiceSettings":
        data = json.loads(text)
        for name in ("detector", "classifier", "media_dir"):
            data[name] = None if data[name] is None else Path(data[name])
        return cls(**data)

    def uvicorn_options(self) -> dict[str, Any]:
        """What uvicorn runs the service with (`fashionlens serve` and service/live.py alike)."""
        return {"limit_concurrency": self.max_connections, "timeout_keep_alive": self.keep_alive_s}
