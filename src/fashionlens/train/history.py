"""A run's history: history.json, history.csv and a plot per metric, written atomically after each epoch."""

from __future__ import annotations

import csv
import io
import json
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from fashionlens.core.files import atomic_write, write_text


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "history.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def write_history(run_dir: str | Path, history: list[dict[str, Any]]) -> None:
    """history.json, history.csv, history.png and one PNG per metric group (loss.png, accuracy.png...)."""
    run_dir = Path(run_dir)
    write_text(run_dir / "history.json", json.dumps(history, indent=2) + "\n")
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(run_dir / "history.csv", buffer.getvalue())
    plot_history(run_dir, history)


def metric_groups(history: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Group `train_X` and `val_X` columns by X, so train and val of one metric share a plot."""
    groups: dict[str, list[str]] = {}
    for key in dict.fromkeys(key for row in history for key in row):
        for prefix in ("train_", "val_"):
            if key.startswith(prefix):
                groups.setdefault(key[len(prefix) :], []).append(key)
    return groups


def plot_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    """history.png (every metric group side by side) and NAME.png per group."""
    groups = metric_groups(history)
    if not groups:
        return
    epochs = [row["epoch"] for row in history]
    overview = Figure(figsize=(4 * len(groups), 3.2))
    axes = overview.subplots(1, len(groups), squeeze=False)
    for axis, (name, keys) in zip(axes[0], groups.items()):
        single = Figure(figsize=(5, 3.5))
        for target in (axis, single.subplots()):
            for key in keys:
                values = [row.get(key) for row in history]
                target.plot(epochs, [float("nan") if v is None else v for v in values], marker="o", label=key)
            target.set_title(name.replace("_", " "))
            target.set_xlabel("epoch")
            target.legend()
        single.tight_layout()
        atomic_write(run_dir / f"{name}.png", partial(single.savefig, format="png"))
    overview.tight_layout()
    atomic_write(run_dir / "history.png", lambda temporary: overview.savefig(temporary, format="png"))
