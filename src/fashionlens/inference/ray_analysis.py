"""Photo analysis spread over Ray workers (`fashionlens analyze`, `catalog import` and `catalog reindex`
with `--ray ADDRESS`).

RayAnalyzer stands where an Analyzer stands in catalog.importer: each Ray actor loads the models once
(`make_analyzer`, a picklable factory), and every batch the importer hands over is split into one chunk per
actor, analysed in parallel, and put back in order. Nothing is written by the workers: the importer still
writes every item in one transaction once all photos are analysed, so a worker that dies mid-way costs a
retry of its chunk (Ray restarts the actor and re-runs the task), never a half-imported item, and a killed
driver writes nothing. Ray is optional (`pip install 'fashionlens[ray]'`).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Callable, Sequence

from fashionlens.core.errors import FashionLensError

LOCAL = "local"  # --ray local: start a Ray instance on this machine for the command's duration
OBJECT_STORE_BYTES = 256 * 1024 * 1024  # a local instance's shared memory: batches of photos, not datasets
CONNECT_TIMEOUT_S = 5


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise FashionLensError("--ray needs Ray, which is not installed: pip install 'fashionlens[ray]'") from None
    return ray


def check_reachable(address: str) -> None:
    """A host:port (or ray://host:port) that does not answer fails in seconds: ray.init would keep retrying
    for minutes. `auto` and `local` have nothing to check here."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise FashionLensError(f"--ray {address}: cannot reach a Ray cluster ({error.strerror or error})") from None


def start_ray(address: str, workers: int | None) -> bool:
    """Connect to the cluster at `address` (or start a local one); True when this process started it."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address != LOCAL:
        check_reachable(address)
    try:
        if address == LOCAL:
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=OBJECT_STORE_BYTES,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except Exception as error:  # Ray raises ConnectionError, RuntimeError, ValueError... for a bad address
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FashionLensError(f"--ray {address}: cannot reach a Ray cluster ({detail})") from None
    return True


class AnalyzerWorker:
    """One Ray actor: the models, loaded once, analysing the chunks it is sent."""

    def __init__(self, make_analyzer: Callable[[], Any]):
        import torch

        torch.set_num_threads(1)  # one core per actor: the actors, not torch's threads, use the cores
        try:
            self.analyzer, self.error = make_analyzer(), None
        except FashionLensError as error:  # a wrong run or device: the driver says it on one line
            self.analyzer, self.error = None, str(error)

    def describe(self) -> tuple[str | None, str, dict[str, Any], int]:
        """(the error that stopped the models from loading, or None; model id, description, batch size)."""
        if self.error is not None:
            return self.error, "", {}, 0
        return None, self.analyzer.model_id, self.analyzer.description, self.analyzer.batch_size

    def analyze(self, images: list, names: list[str], full_sizes: list | None, whole_image: bool) -> list:
        return self.analyzer.analyze(images, names, full_sizes, whole_image=whole_image)


class RayAnalyzer:
    """The Analyzer's interface for the importer and `analyze` (load_images, analyze, batch_size, model_id,
    description), on Ray actors."""

    def __init__(self, make_analyzer: Callable[[], Any], address: str = LOCAL, workers: int | None = None):
        ray = import_ray()
        self.started = start_ray(address, workers)
        count = workers or max(1, int(ray.available_resources().get("CPU", 1)))
        # a crashed actor is restarted and its chunk analysed again (the results are written only at the end)
        actor = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(AnalyzerWorker)
        self.actors = [actor.remote(make_analyzer) for _ in range(count)]
        error, self.model_id, self.description, per_actor = ray.get(self.actors[0].describe.remote())
        if error is not None:
            self.close()
            raise FashionLensError(error)
        self.batch_size = per_actor * count  # one importer batch = a chunk for every actor

    def load_images(self, paths: Sequence[str | Path]) -> tuple[list, list[tuple[int, int]]]:
        """The photos, decoded here in full (the workers get pixels, not paths), and their sizes."""
        from fashionlens.core.images import load_image_with_size

        loaded = [load_image_with_size(path) for path in paths]
        return [image for image, _ in loaded], [size for _, size in loaded]

    def analyze(
        self, images: list, names: list[str], full_sizes: list | None = None, *, whole_image: bool = False
    ) -> list:
        import ray

        size = -(-len(images) // len(self.actors))  # ceil: contiguous chunks keep the photos' order
        starts = range(0, len(images), size)
        sizes = [None if full_sizes is None else full_sizes[start : start + size] for start in starts]
        chunks = [(images[start : start + size], names[start : start + size]) for start in starts]
        results = ray.get(
            [
                actor.analyze.remote(*chunk, chunk_sizes, whole_image)
                for actor, chunk, chunk_sizes in zip(self.actors, chunks, sizes)
            ]
        )
        return [analysis for chunk in results for analysis in chunk]

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        if self.started:
            ray.shutdown()
