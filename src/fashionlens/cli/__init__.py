"""`fashionlens` command line. Importing the command modules registers their commands."""

from fashionlens.cli import (  # noqa: F401
    analyze,
    audit,
    catalog,
    demo,
    evaluate,
    experiment,
    export,
    insights,
    serve,
    train,
    train_detector,
)
from fashionlens.cli.app import app, main

__all__ = ["app", "main"]
