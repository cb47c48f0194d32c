"""The fashionlens web service: `create_app(ServiceSettings(...))`, run by `fashionlens serve`."""

from .app import create_app
from .settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
