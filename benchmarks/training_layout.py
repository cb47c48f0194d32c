"""Training speed of resnet18 (or --arch) on this CPU in PyTorch's two memory layouts, and in bfloat16
mixed precision (why the engine trains in channels_last, and with `--precision mixed` in bfloat16 on CPUs
that have it).

    .venv/bin/python benchmarks/training_layout.py            # 64 and 112 px, batch 32, 2 threads
    .venv/bin/python benchmarks/training_layout.py --arch regnet_x_400mf --sizes 112 \\
        --results benchmarks/results/training_layout_regnet.json
    (the bfloat16 row needs a CPU with AVX512-BF16 or AMX; elsewhere it is emulated and slow)

Random images, so only the arithmetic is timed (no decoding or augmentation): AdamW training steps of
32 images after two warm-up steps, alternating the settings so all see the same machine. Writes
benchmarks/results/training_layout.json (--results). Random images: this recipe takes no --data-path.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torchvision
from torch.nn import functional as F

from recipe import RESULTS, write_result

# name: (memory layout, autocast dtype or None)
SETTINGS = {
    "contiguous": (torch.contiguous_format, None),
    "channels_last": (torch.channels_last, None),
    "channels_last_bfloat16": (torch.channels_last, torch.bfloat16),
}


def images_per_second(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    size: int,
    layout: torch.memory_format,
    low_precision: torch.dtype | None,
    batch: int,
    steps: int,
) -> float:
    model.to(memory_format=layout)
    images = torch.randn(batch, 3, size, size).to(memory_format=layout)
    targets = torch.randint(0, 10, (batch,))
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=low_precision, enabled=low_precision is not None):
            logits = model(images)
        F.cross_entropy(logits.float(), targets).backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="64,112", help="image sizes in pixels (default 64,112)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2; the best is kept)")
    parser.add_argument("--arch", default="resnet18", help="torchvision classifier (default resnet18)")
    parser.add_argument("--results", type=Path, default=RESULTS / "training_layout.json", help="results JSON")
    options = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = torchvision.models.get_model(options.arch, num_classes=10)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    results: dict[str, dict[str, float]] = {}
    for size in map(int, options.sizes.split(",")):
        for _ in range(options.rounds):
            for name, (layout, low_precision) in SETTINGS.items():
                speed = images_per_second(model, optimizer, size, layout, low_precision, 32, options.steps)
                best = results.setdefault(f"{size}px", {})
                best[name] = round(max(best.get(name, 0.0), speed), 1)
        row = results[f"{size}px"]
        row["ratio"] = round(row["channels_last"] / row["contiguous"], 2)
        row["bfloat16_ratio"] = round(row["channels_last_bfloat16"] / row["channels_last"], 2)
        print(
            f"{size} px: contiguous {row['contiguous']} images/s, channels_last {row['channels_last']} "
            f"({row['ratio']}x), channels_last in bfloat16 {row['channels_last_bfloat16']} "
            f"({row['bfloat16_ratio']}x channels_last)",
            flush=True,
        )
    write_result(options.results, {"arch": options.arch, **results})


if __name__ == "__main__":
    main()
