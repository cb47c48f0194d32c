"""`fashionlens` command line. Importing the command modules registers their commands."""

from . import audit, demo, evaluate, train  # noqa: F401
from .app import app, main

__all__ = ["app", "main"]
