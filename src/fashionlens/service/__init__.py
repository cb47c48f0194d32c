"""The fashionlens web service: `create_app(ServiceSettings(...))`, run by `fashionlens serve`."""

from fashionlens.service.app import create_app
from fashionlens.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
