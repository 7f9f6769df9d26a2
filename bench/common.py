"""What the benchmarks share: the machine's description, a measured matmul peak, parameter
counts that see through 4-bit packing, steady-state timing of a step loop, and one JSON result
file per run under bench/results/ (so runs on different machines can be compared)."""

from __future__ import annotations

import json
import platform
import resource
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    return f"{model} ({torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("torch", "transformers", "trl", "peft", "accelerate")}


def measured_peak_flops(dtype_name: str, device: str, size: int = 2048, repeats: int = 10) -> float:
    """FLOPs/s of a square matmul in `dtype` on `device`: the achievable peak to divide by."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def logical_parameters(model: Any) -> int:
    """Parameters as the model computes with them: a 4-bit packed weight counts its unpacked
    shape (bitsandbytes keeps it in `quant_state.shape`), not its storage."""
    total = 0
    for parameter in model.parameters():
        state = getattr(parameter, "quant_state", None)
        shape = getattr(state, "shape", None)
        total += int(__import__("math").prod(shape)) if shape is not None else parameter.numel()
    return total


@dataclass
class StepClock:
    """Wall time and tokens at each step end; the steady state leaves out the first `warmup` steps
    (allocator warm-up, lazy initialisation, compilation)."""

    warmup: int = 3
    marks: list[tuple[float, int]] = field(default_factory=list)

    def mark(self, tokens_seen: int) -> None:
        self.marks.append((time.perf_counter(), tokens_seen))

    def steady_tokens_per_second(self) -> float:
        if len(self.marks) <= self.warmup + 1:
            raise ValueError(f"need more than {self.warmup + 1} steps for a steady state; got {len(self.marks)}")
        (t0, n0), (t1, n1) = self.marks[self.warmup], self.marks[-1]
        return (n1 - n0) / (t1 - t0)

    def steady_seconds_per_step(self) -> float:
        (t0, _), (t1, _) = self.marks[self.warmup], self.marks[-1]
        return (t1 - t0) / (len(self.marks) - 1 - self.warmup)


def peak_memory_gib() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def save_result(kind: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> Path:
    """One JSON file per run: machine, versions, and every row."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc)
    path = RESULTS / f"{kind}-{stamp.strftime('%Y%m%dT%H%M%SZ')}-{socket.gethostname()}.json"
    path.write_text(json.dumps({"kind": kind, "at": stamp.isoformat(), "device": device_name(), "versions": versions(),
                                **extra, "rows": rows}, indent=2))  # fmt: skip
    return path
