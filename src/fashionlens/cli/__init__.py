"""`fashionlens` command line. Importing the command modules registers their commands."""

from . import analyze, audit, catalog, demo, evaluate, export, insights, serve, train, train_detector  # noqa: F401
from .app import app, main

__all__ = ["app", "main"]
