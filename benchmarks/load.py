"""Load check of the web service: concurrent customers posting photos to POST /recommend.

    .venv/bin/python benchmarks/load.py --clients 4 --seconds 20
    .venv/bin/python benchmarks/load.py --clients 16 --seconds 120 --workdir /tmp/load   # the catalogue is kept
    .venv/bin/python benchmarks/load.py --clients 8 --seconds 600 --sample-every 60   # memory over 10 minutes

Starts `fashionlens serve` (the shipped default models; the clothing sample imported through the API as
its catalogue, scripts/sample_service.py) as a subprocess on 127.0.0.1, then N client threads, each with
its own HTTP connection, post the embedded street photos in turn for a bounded time. Reports requests/s,
latency p50/p90/p99/max of the answered requests, errors by HTTP status (503: the model queue was full,
as designed under overload), and the server's resident memory (VmRSS of /proc/PID/status, Linux) at the
start, middle and end of the load, with its peak (VmHWM), and with --sample-every S every S seconds
(`server_memory.timeline`: is growth levelling off?). Results: benchmarks/results/load.json (--out).
The photos and the catalogue are the package's embedded samples, so this recipe takes no --data-path.
Not a test: run it alone on the machine, as it saturates the CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

from recipe import RESULTS, ROOT, load_module, write_result

# scripts/sample_service.py: the server the screenshots use too
sample_service_module = load_module(ROOT / "scripts" / "sample_service.py")
sample_service, street_photos = sample_service_module.sample_service, sample_service_module.street_photos
REQUEST_TIMEOUT_S = 120.0


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now (VmRSS) and its peak so far (VmHWM) of the server, in MB: with --workers, the
    sum over its process and every process below it (uvicorn's workers each hold the models)."""
    fields = {"VmRSS": 0.0, "VmHWM": 0.0}
    for process in [pid, *descendants(pid)]:
        try:
            lines = Path(f"/proc/{process}/status").read_text().splitlines()
        except OSError:  # ended while we looked
            continue
        for line in lines:
            name, _, value = line.partition(":")
            if name in fields:
                fields[name] += int(value.split()[0]) / 1024  # kB
    return {"rss_mb": round(fields["VmRSS"], 1), "peak_mb": round(fields["VmHWM"], 1)}


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def client(
    url: str,
    photos: list[tuple[str, bytes]],
    first: int,
    deadline: float,
    k: int,
    results: list[tuple[float, float, str]],
) -> None:
    """Post photos (from `first` on, in turn) until the deadline; (start, seconds, status) per request."""
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
        number = first
        while time.monotonic() < deadline:
            name, data = photos[number % len(photos)]
            number += 1
            start = time.monotonic()
            try:
                answer = http.post(
                    f"{url}/recommend",
                    files={"photo": (name, data, "image/jpeg")},
                    data={"k": str(k), "channel": "online"},
                )
                status = str(answer.status_code)
            except httpx.HTTPError as error:
                status = type(error).__name__
            results.append((start, time.monotonic() - start, status))


def sample_memory(pid: int, begin: float, seconds: float, every: float | None) -> list[dict]:
    """The server's memory every `every` seconds of the load (None: at its middle and end)."""
    step = every or seconds / 2
    timeline = []
    for number in range(1, int(seconds // step) + 1):
        time.sleep(max(0.0, begin + number * step - time.monotonic()))
        timeline.append({"s": round(number * step), **memory_mb(pid)})
    return timeline


def run_load(url: str, pid: int, clients: int, seconds: float, k: int, every: float | None = None) -> dict:
    photos = [(path.name, path.read_bytes()) for path in street_photos()]
    results: list[tuple[float, float, str]] = []  # list.append is atomic: the threads share it
    memory = {"start": memory_mb(pid)}
    begin = time.monotonic()
    deadline = begin + seconds
    threads = [
        threading.Thread(target=client, args=(url, photos, number * 7, deadline, k, results))
        for number in range(clients)
    ]
    for thread in threads:
        thread.start()
    timeline = sample_memory(pid, begin, seconds, every)
    middle = min(timeline, key=lambda sample: abs(sample["s"] - seconds / 2))
    memory["middle"] = {"rss_mb": middle["rss_mb"], "peak_mb": middle["peak_mb"]}
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - begin  # includes the last requests, started before the deadline
    memory["end"] = memory_mb(pid)
    if every:
        memory["timeline"] = timeline
    return summarise(results, elapsed, memory)


def summarise(results: list[tuple[float, float, str]], elapsed: float, memory: dict) -> dict:
    statuses = Counter(status for _, _, status in results)
    answered = np.array([seconds for _, seconds, status in results if status == "200"]) * 1000
    latency = (
        {
            name: round(float(np.percentile(answered, q)), 1)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        }
        if answered.size
        else {}
    )
    return {
        "requests": len(results),
        "ok": int(answered.size),
        "seconds": round(elapsed, 1),
        "requests_per_s": round(len(results) / elapsed, 2),
        "ok_per_s": round(answered.size / elapsed, 2),
        "latency_ms": latency,
        "errors": {s: n for s, n in sorted(statuses.items()) if s != "200"},
        "server_memory": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="Concurrent clients (threads).")
    parser.add_argument("--seconds", type=float, default=20.0, help="How long the clients keep posting.")
    parser.add_argument("--k", type=int, default=4, help="Products per garment asked for.")
    parser.add_argument("--sample-every", type=float, help="Also record the server's memory every this many seconds.")
    parser.add_argument("--products", type=int, help="Import only the first N sample products (default: all 250).")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="Catalogue and server log; reused when it holds a catalogue (default: a temporary folder).",
    )
    parser.add_argument(
        "--backend", choices=("torch", "onnx", "onnx-int8"), default="torch", help="The server's backend."
    )
    parser.add_argument("--workers", type=int, default=1, help="The server's processes (`serve --workers`).")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json", help="results JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        options = ["--backend", args.backend, "--workers", str(args.workers)]
        with sample_service(args.workdir or Path(temporary), args.products, options) as service:
            health = httpx.get(f"{service.url}/health", timeout=30).json()
            print(
                f"server pid {service.process.pid}, {health['catalog_items']} products; "
                f"{args.clients} clients for {args.seconds:.0f} s",
                file=sys.stderr,
            )
            load_before = [round(v, 2) for v in os.getloadavg()]  # others' work on the machine skews the numbers
            report = run_load(service.url, service.process.pid, args.clients, args.seconds, args.k, args.sample_every)
    report = {
        "backend": args.backend,
        "workers": args.workers,
        "clients": args.clients,
        "duration_s": args.seconds,
        "k": args.k,
        "catalog_items": health["catalog_items"],
        "models": health["models"],
        **report,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(write_result(args.out, report), indent=2))


if __name__ == "__main__":
    main()
