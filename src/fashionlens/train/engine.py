"""Training engine shared by every model: `train_one_epoch`, `evaluate` and `fit`, plain functions.

A `Task` knows how to turn a batch into losses and how to validate; the engine knows the rest
(device, AMP, DistributedDataParallel, the non-finite guard, the schedule, checkpoints, history).
Under `torchrun` call `init_distributed()` first and build loaders with `make_loader`; rank 0 alone
validates and writes the run directory.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from fashionlens.core.checkpoint import BEST, LAST, load_checkpoint, save_checkpoint, write_config
from fashionlens.core.devices import pick_device
from fashionlens.core.errors import FashionLensError
from fashionlens.train.distributed import (
    all_ranks_finite,
    barrier,
    close_distributed,
    init_distributed,
    is_main_process,
    log,
    make_loader,
    rank,
    seed_everything,
    sum_over_ranks,
    world_size,
)
from fashionlens.train.history import read_history, write_history

__all__ = [
    "FitConfig",
    "Optimization",
    "Task",
    "autocast_dtype",
    "check_ema_decay",
    "check_precision",
    "evaluate",
    "fit",
    "train_one_epoch",
    "train_step",
    # re-exported: what a training command needs besides fit()
    "close_distributed",
    "init_distributed",
    "is_main_process",
    "log",
    "make_loader",
    "pick_device",
    "seed_everything",
    "world_size",
]


class Task(Protocol):
    """What a model family supplies to the engine. A batch is a sequence whose first item holds the images.

    Optional: `train_metrics() -> dict[str, float]`, called on every rank at the end of each epoch
    (e.g. accuracy over the epoch's training batches), then logged as `train_<name>`.
    """

    kind: str  # "classifier" | "detector"

    def losses(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, Tensor]: ...  # has "loss"

    def validate(
        self, model: nn.Module, loader: DataLoader, device: torch.device
    ) -> dict[str, float]: ...  # has "score"

    def checkpoint_extra(self) -> dict[str, Any]: ...  # arch, mode, class_names, preprocessing, ...


@dataclass
class FitConfig:
    """The engine's settings; `settings` carries the task's own (data, arch, mode...) into config.json."""

    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1  # one-cycle: share of the steps spent warming up to `lr`
    seed: int = 0
    max_nonfinite_steps: int = 5  # consecutive skipped steps before training stops with an error
    clip_grad_norm: float | None = None  # clip the gradients' total norm to this (None: no clipping)
    device: str | None = None  # None: the GPU of this rank when there is one, else the CPU
    precision: str = "mixed"  # mixed: autocast where the device computes faster in 16 bits; float32: never
    ema_decay: float | None = None  # average the weights after every step (e.g. 0.998): validated and saved
    lr_factors: dict[str, float] = field(default_factory=dict)  # parameter-name prefix -> share of `lr`
    frozen: tuple[str, ...] = ()  # parameter-name prefixes that do not train in the first `frozen_epochs`
    frozen_epochs: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Optimization:
    """What training updates besides the model, and what last.pt keeps for --resume: the optimiser, its
    learning-rate schedule, the AMP gradient scaler and the weight average (None without --ema)."""

    optimizer: torch.optim.Optimizer
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    ema: AveragedModel | None = None


# ----------------------------------------------------------------------------- the loop


def train_one_epoch(
    model: nn.Module,
    task: Task,
    optimization: Optimization,
    loader: DataLoader,
    device: torch.device,
    epoch: int,
    config: FitConfig,
) -> dict[str, float]:
    """One pass over `loader`, updating the weight average after every step; returns the mean of each
    loss, images, images/s and skipped steps."""
    model.train()
    totals: dict[str, float] = {}
    steps = images = skipped = in_a_row = 0
    low_precision = autocast_dtype(device, config.precision)
    start = time.perf_counter()
    with tqdm(
        loader,
        desc=f"epoch {epoch + 1}/{config.epochs}",
        unit="batch",
        file=sys.stderr,
        disable=not is_main_process(),
        dynamic_ncols=True,
    ) as progress:  # closed on errors too
        for batch in progress:
            losses = train_step(model, task, optimization, batch, device, config.clip_grad_norm, low_precision)
            if losses is None:
                skipped += 1
                in_a_row += 1
                if in_a_row >= config.max_nonfinite_steps:
                    raise FashionLensError(
                        f"training stopped: the loss was not finite (NaN or inf) for {in_a_row} steps in a row "
                        f"in epoch {epoch + 1}; lower --lr or check the data"
                    )
                continue
            in_a_row = 0
            if optimization.ema is not None:
                optimization.ema.update_parameters(model)
            steps += 1
            images += len(batch[0])
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + value
            rate = images * world_size() / max(time.perf_counter() - start, 1e-9)
            progress.set_postfix(loss=f"{losses['loss']:.4f}", img_s=f"{rate:.1f}")
    seconds = time.perf_counter() - start
    images_all = sum_over_ranks(images, device)
    stats = {name: total / max(steps, 1) for name, total in totals.items()}
    stats.update(
        images=int(images_all),
        images_per_second=images_all / max(seconds, 1e-9),
        skipped_steps=int(sum_over_ranks(skipped, device)),
    )
    return stats


def train_step(
    model: nn.Module,
    task: Task,
    optimization: Optimization,
    batch: Any,
    device: torch.device,
    clip_grad_norm: float | None = None,
    low_precision: torch.dtype | None = None,
) -> dict[str, float] | None:
    """One optimisation step (autocast to `low_precision` unless None); None, with nothing changed, when
    the loss is not finite on some rank. The weight average is the caller's to update."""
    optimizer, scaler = optimization.optimizer, optimization.scaler
    with torch.autocast(device.type, dtype=low_precision, enabled=low_precision is not None):
        losses = task.losses(model, batch, device)
    optimizer.zero_grad(set_to_none=True)
    if not all_ranks_finite(losses["loss"]):
        return None
    scaler.scale(losses["loss"]).backward()
    if clip_grad_norm is not None:
        scaler.unscale_(optimizer)  # clip the true gradients, not the AMP-scaled ones
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    optimization.lr_scheduler.step()
    return {name: float(value.detach()) for name, value in losses.items()}


def evaluate(model: nn.Module, task: Task, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """Validate with the task's metrics, in eval mode, without gradients."""
    model.eval()
    with torch.inference_mode():
        return task.validate(model, loader, device)


def fit(
    model: nn.Module,
    task: Task,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    config: FitConfig,
    run_dir: str | Path,
    resume: bool = False,
) -> list[dict[str, Any]]:
    """Train for `config.epochs` epochs into `run_dir`; returns the history (one dict per epoch).

    AdamW with a one-cycle schedule; channels_last everywhere (on CPUs too, where oneDNN's convolutions
    train resnet18 at 112 px 1.1-1.2x faster in it: benchmarks/training_layout.py) and AMP on a GPU.
    Each epoch reseeds from
    `config.seed` and its number, so a resumed run repeats an uninterrupted one exactly.
    """
    run_dir = Path(run_dir)
    device = pick_device(config.device)
    # Module.to takes a device and a memory format together; torch's overloads list them apart
    model.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimization = make_optimization(model, config, len(train_loader), device)
    config_dict = {**asdict(config), "world_size": world_size()}
    start_epoch, history = start_run(run_dir, model, task, optimization, config_dict, resume)
    ema = optimization.ema
    used = ema.module if ema is not None else model  # what is validated and saved as "model"
    low_precision = autocast_dtype(device, config.precision)
    if low_precision is not None:
        log(
            f"mixed precision: {str(low_precision).removeprefix('torch.')} autocast on the {device.type} "
            "(--precision float32 turns it off)"
        )
    if val_loader is None:
        log("no validation split: validation is skipped and only last.pt is written")
    freeze_for = freezer(model, config)
    wrapped = wrap_distributed(model, device)
    for epoch in range(start_epoch, config.epochs):
        seed_everything(config.seed + 1000 * epoch + rank())
        freeze_for(epoch)
        for per_epoch in (train_loader.sampler, train_loader.dataset):  # shuffling; progressive resizing
            if hasattr(per_epoch, "set_epoch"):
                per_epoch.set_epoch(epoch)
        start = time.perf_counter()
        stats = train_one_epoch(wrapped, task, optimization, train_loader, device, epoch, config)
        if hasattr(task, "train_metrics"):
            stats.update(task.train_metrics())
        metrics = evaluate(used, task, val_loader, device) if val_loader is not None and is_main_process() else {}
        history.append(
            {
                "epoch": epoch + 1,
                "lr": optimization.optimizer.param_groups[0]["lr"],
                **{k if k in NOT_METRICS else f"train_{k}": v for k, v in stats.items()},
                **{f"val_{k}": v for k, v in metrics.items()},
                "seconds": time.perf_counter() - start,
            }
        )
        if is_main_process():
            save_epoch(run_dir, model, task, optimization, config_dict, history)
            log(summary_line(history[-1]))
        barrier()  # no rank starts the next epoch (or exits) before rank 0 has written this one
    return history


def freezer(model: nn.Module, config: FitConfig) -> Callable[[int], None]:
    """What sets, at each epoch, whether the parameters under `config.frozen` train: not in the first
    `config.frozen_epochs`. They are collected before any is frozen, so a part frozen for good stays so."""
    parameters = [p for name, p in model.named_parameters() if name.startswith(config.frozen) and p.requires_grad]

    def freeze_for(epoch: int) -> None:
        for parameter in parameters:  # no gradient, so AdamW leaves them (and their decay) as they are
            parameter.requires_grad_(epoch >= config.frozen_epochs)

    return freeze_for


def weight_average(model: nn.Module, decay: float | None) -> AveragedModel | None:
    """An exponential moving average of the weights and of the batch-norm statistics (None without `decay`).

    Why: on a short schedule the last steps' weights wander; their average generalises better and makes
    the choice of the best epoch less of a lottery."""
    if decay is None:
        return None
    check_ema_decay(decay)
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def check_ema_decay(decay: float | None) -> None:
    if decay is not None and not 0.0 < decay < 1.0:
        raise FashionLensError(f"--ema {decay} is not a decay between 0 and 1 (e.g. 0.998)")


def make_optimization(model: nn.Module, config: FitConfig, steps_per_epoch: int, device: torch.device) -> Optimization:
    """AdamW, a one-cycle schedule over the whole run, a gradient scaler (active with CUDA AMP) and the
    weight average `config.ema_decay` asks for."""
    groups = parameter_groups(model, config)
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    lr_scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[group["lr"] for group in groups],
        total_steps=max(config.epochs * steps_per_epoch, 1),
        pct_start=config.warmup_fraction,
    )
    scaling = autocast_dtype(device, config.precision) == torch.float16  # bfloat16 has float32's range
    scaler = torch.amp.GradScaler(device.type, enabled=scaling)
    return Optimization(optimizer, lr_scheduler, scaler, weight_average(model, config.ema_decay))


def parameter_groups(model: nn.Module, config: FitConfig) -> list[dict[str, Any]]:
    """The trainable parameters, grouped by learning rate: `lr` times the factor of the first prefix of
    `config.lr_factors` that a parameter's name starts with (a pretrained backbone learns more gently
    than a new head), else `lr` itself."""
    groups: dict[float, list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            factor = next((f for prefix, f in config.lr_factors.items() if name.startswith(prefix)), 1.0)
            groups.setdefault(factor, []).append(parameter)
    return [{"params": params, "lr": config.lr * factor} for factor, params in groups.items()]


PRECISIONS = ("mixed", "float32")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise FashionLensError(f"unknown --precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """What `precision` trains in on `device`: with "mixed", float16 on a GPU (AMP) and bfloat16 on a CPU
    that computes it natively (AVX512-BF16 or AMX: resnet18 trains 1.6x faster at 112 px); None means
    float32 throughout. Weights, optimiser state and the loss stay float32 either way."""
    check_precision(precision)
    if precision == "float32":
        return None
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()):
        return torch.bfloat16
    return None  # an emulated 16-bit format would be slower than float32


def start_run(
    run_dir: Path,
    model: nn.Module,
    task: Task,
    optimization: Optimization,
    config: dict[str, Any],
    resume: bool,
) -> tuple[int, list[dict[str, Any]]]:
    """(first epoch, history so far): restored from last.pt, or a new run that writes config.json."""
    if resume:
        return restore(run_dir, model, task, optimization)
    if (run_dir / LAST).exists():
        raise FashionLensError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
    if is_main_process():
        write_config(run_dir, config)
    return 0, []


def save_epoch(
    run_dir: Path,
    model: nn.Module,
    task: Task,
    optimization: Optimization,
    config: dict[str, Any],
    history: list[dict[str, Any]],
) -> None:
    """last.pt (with the optimiser state, for --resume), best.pt when val improved, and the history.
    With a weight average, "model" holds the average (what is used) and last.pt also the trained weights."""
    row, ema = history[-1], optimization.ema
    metrics = {k[len("val_") :]: v for k, v in row.items() if k.startswith("val_")}
    checkpoint = {
        "kind": task.kind,
        **task.checkpoint_extra(),
        "config": config,
        "metrics": metrics,
        "epoch": row["epoch"] - 1,
        "model": (ema.module if ema is not None else model).state_dict(),
    }
    earlier = [r["val_score"] for r in history[:-1] if "val_score" in r]
    if "score" in metrics and metrics["score"] > max(earlier, default=-math.inf):
        save_checkpoint(checkpoint, run_dir / BEST)
    training = {"trained_model": model.state_dict()} if ema is not None else {}
    save_checkpoint(
        {
            **checkpoint,
            **training,
            "optimizer": optimization.optimizer.state_dict(),
            "lr_scheduler": optimization.lr_scheduler.state_dict(),
            "scaler": optimization.scaler.state_dict(),
        },
        run_dir / LAST,
    )
    write_history(run_dir, history)


NOT_METRICS = ("images", "images_per_second", "skipped_steps")


def summary_line(row: dict[str, Any]) -> str:
    shown = {k: v for k, v in row.items() if k.startswith(("train_", "val_")) or k == "skipped_steps"}
    return f"epoch {row['epoch']}: " + ", ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
    )


def wrap_distributed(model: nn.Module, device: torch.device) -> nn.Module:
    if not dist.is_initialized():
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def restore(run_dir: Path, model: nn.Module, task: Task, optimization: Optimization) -> tuple[int, list]:
    """Load last.pt for --resume; the model must be the same kind, architecture and classes."""
    if not (run_dir / LAST).is_file():
        raise FashionLensError(f"{run_dir}: no {LAST} to resume from (not a run directory, or no epoch finished)")
    checkpoint = load_checkpoint(run_dir / LAST)
    expected = {"kind": task.kind, **task.checkpoint_extra()}
    for key in ("kind", "arch", "mode", "class_names"):
        if key in expected and checkpoint.get(key) != expected[key]:
            raise FashionLensError(
                f"{run_dir / LAST}: the checkpoint's {key} {checkpoint.get(key)!r} "
                f"differs from this run's {expected[key]!r}"
            )
    model.load_state_dict(checkpoint.get("trained_model", checkpoint["model"]))
    if optimization.ema is not None:
        optimization.ema.module.load_state_dict(checkpoint["model"])
        optimization.ema.n_averaged.fill_(1)  # an average already: the next step updates it, not copies the weights
    optimization.optimizer.load_state_dict(checkpoint["optimizer"])
    optimization.lr_scheduler.load_state_dict(checkpoint["lr_scheduler"])
    optimization.scaler.load_state_dict(checkpoint["scaler"])
    start_epoch = checkpoint["epoch"] + 1
    log(f"resuming {run_dir} at epoch {start_epoch + 1}")
    return start_epoch, read_history(run_dir)[:start_epoch]
