"""Memory, planned before a student trains rather than discovered by the kernel's OOM killer.

A student's peak memory is estimated from its shape: weights, gradients and optimizer state of
what trains, and activations per token times the tokens of one micro-batch (attention scores grow
with the sequence length; the LM head's logits with the vocabulary). `fit` then picks, for the
memory the student is given, the cheapest way that fits, keeping the effective batch:
no activation checkpointing and the whole batch at once; else activation checkpointing (each
layer's activations recomputed in the backward pass, only its input kept); else halving the
micro-batch and doubling gradient accumulation, down to one example a micro-batch; else a clear
refusal before anything trains.

Calibrated on this project's hardest CPU case: LoRA on SmolLM2-135M-Instruct, batch 8, the 64
longest CoTempQA `equal` training examples (up to 980 tokens): without checkpointing the kernel
killed the process at step 2 on a 24 GB machine (estimate 50.8 GiB); with it the peak RSS was
7.4 GiB (estimate 7.2 GiB, headroom included). Estimates are deliberately simple: they decide
between plans that differ by integer factors, not by percent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracekd_ops.train.settings import TrainingConfig

GIB = 1 << 30
SAFETY = 1.25
"""Headroom over the estimate: allocator slack, temporaries the formula leaves out."""
RUNTIME_BYTES = int(0.6 * GIB)
"""Python, torch, transformers and the tokenized data before the first step (measured: ~0.6 GB RSS)."""


@dataclass(frozen=True)
class Shape:
    """What the estimate needs of a model."""

    parameters: int
    trainable: int
    layers: int
    hidden: int
    intermediate: int
    heads: int
    vocab: int
    weight_bytes: float
    """Bytes per stored weight (4 fp32, 2 bf16, ~0.56 NF4 with its scales)."""
    activation_bytes: int
    """Bytes per activation value (4 fp32, 2 bf16)."""

    @classmethod
    def of(cls, model: Any, trainable: int | None = None, quantized: bool = False) -> "Shape":
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        parameter = next(model.parameters())
        parameters = sum(p.numel() for p in model.parameters())
        size = parameter.element_size()
        return cls(
            parameters=parameters,
            trainable=parameters if trainable is None else trainable,
            layers=int(config.num_hidden_layers), hidden=int(config.hidden_size),
            intermediate=int(getattr(config, "intermediate_size", 4 * config.hidden_size)),
            heads=int(config.num_attention_heads), vocab=int(config.vocab_size),
            weight_bytes=0.56 if quantized else size, activation_bytes=2 if quantized or size == 2 else 4,
        )  # fmt: skip


def shape_before_loading(config: "TrainingConfig") -> Shape | None:
    """A student's shape from its settings alone (no weights loaded), for deciding how many train
    side by side: the tiny student's from its config; a pretrained base's from its `config.json`
    when the base is on this machine; None when it is not."""
    from tracekd_ops.train.settings import FULL, QLORA

    if config.from_config:
        m = config.model
        hidden, layers, inter, heads, vocab = m.hidden_size, m.num_layers, m.intermediate_size, m.num_heads, m.vocab_size
    else:
        try:
            from transformers import AutoConfig

            from tracekd_ops.train.bases import resolve_base_model

            loaded = AutoConfig.from_pretrained(resolve_base_model(config.base_model), local_files_only=True)
        except (OSError, ValueError):
            return None
        text = loaded.get_text_config() if hasattr(loaded, "get_text_config") else loaded
        hidden, layers, heads, vocab = text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.vocab_size
        inter = getattr(text, "intermediate_size", 4 * hidden)
    parameters = vocab * hidden + layers * (4 * hidden * hidden + 3 * hidden * inter)
    trainable = parameters if config.mode == FULL else config.lora.r * layers * (8 * hidden + 3 * (hidden + inter))
    quantized = config.mode == QLORA
    return Shape(parameters, trainable, layers, hidden, inter, heads, vocab, 0.56 if quantized else 4, 4)


def lora_parameters(model: Any, rank: int) -> int:
    """Parameters LoRA adapters of rank `rank` add on every linear projection but the LM head."""
    import torch

    head = getattr(model, "lm_head", None)
    return sum(
        rank * (module.in_features + module.out_features)
        for module in model.modules()
        if isinstance(module, torch.nn.Linear) and module is not head
    )


@dataclass(frozen=True)
class Estimate:
    weights: int
    optimizer: int
    """Gradients and AdamW's two moments of what trains (fp32)."""
    activations: int
    runtime: int

    @property
    def total(self) -> int:
        return int(SAFETY * (self.weights + self.optimizer + self.activations + self.runtime))

    def describe(self) -> str:
        gib = lambda b: f"{b / GIB:.1f}"  # noqa: E731
        return (f"{gib(self.total)} GiB (weights {gib(self.weights)}, gradients and optimizer {gib(self.optimizer)}, "
                f"activations {gib(self.activations)}, runtime {gib(self.runtime)}, x{SAFETY} headroom)")  # fmt: skip


def estimate(shape: Shape, micro_batch: int, sequence: int, checkpointing: bool) -> Estimate:
    """Peak bytes of one training step with `micro_batch` sequences of `sequence` tokens."""
    tokens = micro_batch * sequence
    a = shape.activation_bytes
    # a layer's saved activations per token: norms, q/k/v/o and MLP projections, and the attention
    # probabilities (one row of heads x sequence per token, kept with their softmax and dropout)
    per_layer_token = a * (16 * shape.hidden + 4 * shape.intermediate) + a * 3 * shape.heads * sequence
    kept = a * shape.hidden * shape.layers * tokens + per_layer_token * tokens if checkpointing else per_layer_token * shape.layers * tokens
    logits = 2 * 4 * shape.vocab * tokens  # fp32 logits and their gradient
    return Estimate(
        weights=int(shape.parameters * shape.weight_bytes),
        optimizer=12 * shape.trainable,
        activations=kept + logits,
        runtime=RUNTIME_BYTES,
    )


@dataclass(frozen=True)
class MemoryPlan:
    checkpointing: bool
    micro_batch: int
    accumulation: int
    """Gradient accumulation steps: `micro_batch x accumulation` is the configured effective batch."""
    estimate: Estimate
    available: int

    def describe(self) -> str:
        how = "activation checkpointing" if self.checkpointing else "no activation checkpointing"
        batch = f"{self.micro_batch} x {self.accumulation} accumulated" if self.accumulation > 1 else f"{self.micro_batch} at once"
        return f"memory: estimated peak {self.estimate.describe()} of {self.available / GIB:.1f} GiB given: batch {batch}, {how}"


class DoesNotFit(MemoryError):
    """No plan fits the memory a student is given."""


def fit(shape: Shape, batch: int, accumulation: int, sequence: int, available: int) -> MemoryPlan:
    """The cheapest plan that fits `available` bytes (see the module docstring); `DoesNotFit`
    names the smallest estimate when none does."""
    micro = batch
    for checkpointing in (False, True):
        found = estimate(shape, micro, sequence, checkpointing)
        if found.total <= available:
            return MemoryPlan(checkpointing, micro, accumulation, found, available)
    while micro > 1:
        micro = (micro + 1) // 2
        found = estimate(shape, micro, sequence, True)
        if found.total <= available:
            return MemoryPlan(True, micro, accumulation * -(-batch // micro), found, available)
    raise DoesNotFit(
        f"the student needs about {found.describe()} with one example a micro-batch and activation checkpointing, "
        f"but is given {available / GIB:.1f} GiB: give it more memory (training.memory_gib), train fewer students at once, "
        "shorten its sequences (training.max_length), or use LoRA/QLoRA"
    )


def available_memory() -> int:
    """Bytes this process may use: the cgroup's limit when there is one, else MemAvailable."""
    limits = []
    for path in (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            limits.append(int(text))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return min(limits) if limits else int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def fits_side_by_side(configs: list["TrainingConfig"], workers: int, available: int) -> tuple[int, str]:
    """(how many students can train at once, at most `workers`, and why): the largest number whose
    equal share of `available` every student's plan fits (its longest sequence taken as its whole
    context, the worst case). A student whose shape cannot be known here does not limit it."""
    shapes = [(c, shape_before_loading(c)) for c in configs]
    for n in range(max(1, workers), 0, -1):
        share = available // n
        try:
            plans = [fit(s, c.batch_size, c.grad_accumulation, c.sequence_limit, share) for c, s in shapes if s is not None]
        except DoesNotFit:
            continue
        largest = max((p.estimate.total for p in plans), default=0)
        return n, f"{n} at once: each student's plan fits its {share / GIB:.1f} GiB share of {available / GIB:.1f} GiB available " \
                  f"(largest estimate {largest / GIB:.1f} GiB)"
    return 1, f"1 at a time: a student needs more than the {available / GIB:.1f} GiB available even alone (it will say so when it starts)"
