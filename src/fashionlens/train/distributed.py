"""One process or many under torchrun: ranks, loaders split between them, the device, seeds, logging.

Without torchrun every helper behaves as for a single process (rank 0 of 1).
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Sized
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm import tqdm


def init_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes in the environment; (rank, world size)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return rank(), world_size


def close_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def log(message: str) -> None:
    """A line on stderr from rank 0 only, without breaking a progress bar."""
    if is_main_process():
        tqdm.write(message, file=sys.stderr)


def seed_everything(seed: int) -> None:
    """Seed every generator training draws from (torch, numpy, random)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    workers: int = 0,
    sampler: Sampler | None = None,
    collate_fn: Any = None,
    seed: int = 0,
) -> DataLoader:
    """A DataLoader that splits the data between ranks under torchrun (a given sampler runs per rank)."""
    assert isinstance(dataset, Sized)  # map-style datasets only: both samplers draw indices up to len()
    if sampler is None and dist.is_initialized() and shuffle:
        sampler = DistributedSampler(dataset, shuffle=True, seed=seed, drop_last=False)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_fn,
        pin_memory=torch.cuda.is_available(),
        # a last batch of one breaks BatchNorm in training; validation keeps every item
        drop_last=shuffle and len(dataset) > batch_size,
    )


def all_ranks_finite(loss: Tensor) -> bool:
    """True when the loss is finite on every rank: all ranks must skip a step together or DDP hangs."""
    finite = torch.isfinite(loss.detach()).all().to(torch.int32).reshape(1)
    if dist.is_initialized():
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


def sum_over_ranks(value: float, device: torch.device) -> float:
    if not dist.is_initialized():
        return value
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total.item())
