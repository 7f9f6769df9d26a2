"""The one mapping from TraceKD's training settings to Hugging Face's: TRL `SFTConfig`, PEFT
`LoraConfig` and transformers `BitsAndBytesConfig` (as TRL's own scripts do, through
`trl.get_peft_config` / `get_quantization_config`-style helpers: typed settings parsed once, handed
to one trainer). Nothing else translates a setting field by field."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracekd_ops.train.memory import MemoryPlan
from tracekd_ops.train.settings import COSINE_MIN_LR, FSDP, FULL, LORA, PACKED, PADDED, QLORA, WSD, TrainingConfig


@dataclass(frozen=True)
class Platform:
    """What the machine offers a training process. Every decision below is made from this value,
    so a test can hand in a GPU machine's and check the combinations it leads to on a CPU."""

    cuda: bool
    flash_attn: bool
    bitsandbytes: bool
    world_size: int = 1
    memory: int = 16 << 30
    """Bytes a training process may use: the GPU's memory on CUDA, else what the machine has available."""

    @classmethod
    def here(cls) -> "Platform":
        import torch

        from tracekd_ops.train.memory import available_memory

        cuda = torch.cuda.is_available()
        return cls(
            cuda=cuda,
            flash_attn=importlib.util.find_spec("flash_attn") is not None,
            bitsandbytes=importlib.util.find_spec("bitsandbytes") is not None,
            world_size=int(os.environ.get("WORLD_SIZE", "1")),
            memory=torch.cuda.mem_get_info()[1] if cuda else available_memory(),
        )


def effective_mode(config: TrainingConfig, platform: Platform, log: Any = print) -> str:
    """The mode that can run here: QLoRA needs bitsandbytes (whose NF4 kernels run on CUDA and,
    from 0.50, on the CPU), else LoRA on the full-precision base (said so)."""
    if config.mode == QLORA and not platform.bitsandbytes:
        log("QLoRA needs bitsandbytes (pip install 'tracekd[qlora]'); training LoRA adapters on the full-precision base instead")
        return LORA
    return config.mode


@dataclass(frozen=True)
class Batching:
    """How training examples become batches. `packed`: several examples share a row, with no
    padding and `position_ids` restarting at each one (attention and the Canon layers keep them
    apart); `padded`: one example a row, padded to the longest in its batch."""

    packed: bool
    reason: str


def batching(config: TrainingConfig, platform: Platform) -> Batching:
    """The one place that decides batching, so only combinations TRL accepts exist: a packed batch
    is both padding-free and packed (TRL refuses padding-free without packing when `max_length` is
    set, since it could not enforce it), a padded one is neither. `auto` packs where packing is
    correct and pays: with flash-attention's variable-length kernel (a packed row costs attention per
    example); SDPA and eager attention on a packed row compute attention over the whole row (masked
    block-diagonally), which costs more than the padding it saves at short lengths (measured: docs/results.md)."""
    if config.batching == PACKED:
        return Batching(True, "packed (asked for)")
    if config.batching == PADDED:
        return Batching(False, "padded (asked for)")
    if platform.cuda and platform.flash_attn:
        return Batching(True, "packed: flash-attention trains only the real tokens of each row")
    return Batching(False, "padded: without flash-attention a packed row costs attention over its whole length")


def score_labelled_positions_only() -> None:
    """Make TRL's fused LM head score only the positions with a label on every device.

    Why: TRL 1.16's `SFTTrainer` computes the loss (and its entropy and token-accuracy metrics)
    through a chunked LM head that scores only labelled positions on Triton devices but every
    position elsewhere, to keep tile shapes fixed for compilers such as Neuron's. In eager CPU
    training that is the prompt and the padding too: about 4 times the positions of a trace
    student's completions, and about a quarter of each tiny-student step (profiled: a [1600, 488]
    tile for 404 labelled positions). TRL decides this with `trl.trainer.utils._use_triton`; this
    answers yes for CPU tensors in that decision only (the kernel module keeps its own, torch
    path). The loss and the metrics are the same, since unlabelled positions count zero.
    Idempotent; does nothing if TRL no longer makes the decision there."""
    from trl.trainer import utils

    decide = getattr(utils, "_use_triton", None)
    if decide is None or getattr(decide, "tracekd_compact_on_cpu", False):
        return

    def compact_on_cpu_too(device: Any) -> bool:
        return device.type == "cpu" or decide(device)

    compact_on_cpu_too.tracekd_compact_on_cpu = True  # type: ignore[attr-defined]
    utils._use_triton = compact_on_cpu_too


def quantization_config(mode: str, platform: Platform) -> Any | None:
    """4-bit NF4 with double quantisation (the QLoRA paper's), for QLoRA only; bf16 compute on CUDA
    (the paper's), fp32 on the CPU (bf16 matmuls are slow on CPUs without AVX-512 BF16)."""
    if mode != QLORA:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    compute = torch.bfloat16 if platform.cuda else torch.float32
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute, bnb_4bit_use_double_quant=True)


def peft_config(config: TrainingConfig, mode: str) -> Any | None:
    """LoRA adapters for the LoRA and QLoRA modes; None for full fine-tuning."""
    if mode == FULL:
        return None
    from peft import LoraConfig

    targets = config.lora.target_modules
    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=targets[0] if targets == ["all-linear"] else list(targets),
        task_type="CAUSAL_LM",
    )


def scheduler_kwargs(config: TrainingConfig) -> dict[str, Any]:
    """transformers' `lr_scheduler_kwargs` for the configured schedule (its warmup comes from
    `warmup_steps`; warmup-stable-decay's stable phase is what warmup and decay leave)."""
    if config.lr_scheduler == COSINE_MIN_LR:
        return {"min_lr_rate": config.min_lr_ratio}
    if config.lr_scheduler == WSD:
        return {"num_decay_steps": config.decay_steps, "min_lr_ratio": config.min_lr_ratio, "decay_type": "cosine"}
    return {}


def sharding_settings(sharding: str, world_size: int) -> dict[str, Any]:
    """Under torchrun with `sharding` fsdp: FSDP2, every parameter, gradient and optimizer state
    sharded over the ranks (a student too large for one device's memory); the saved checkpoint is
    gathered whole. Otherwise DDP (a full copy per rank): nothing to set."""
    if sharding == FSDP and world_size > 1:
        return {"fsdp": "full_shard", "fsdp_config": {"fsdp_version": 2, "reshard_after_forward": True}}
    return {}


DEVICE_SETTINGS = ("use_cpu", "bf16", "ddp_backend")
"""The `SFTConfig` fields that name the device: the only ones a GPU machine's settings must change
to be constructed on a CPU (transformers refuses bf16 without a device that has it)."""


def sft_settings(
    config: TrainingConfig, output_dir: Path, mode: str, platform: Platform, batched: Batching, memory: MemoryPlan | None = None
) -> dict[str, Any]:
    """The keyword arguments of TRL's `SFTConfig` (see `sft_config`), as a plain dict a test can
    inspect for any platform. `memory`: the plan that fits the student's memory (micro-batch,
    accumulation, activation checkpointing); None: the configured batch at once, checkpointing for
    adapters on CUDA."""
    cuda = platform.cuda
    micro, accumulation = (memory.micro_batch, memory.accumulation) if memory else (config.batch_size, config.grad_accumulation)
    checkpointing = memory.checkpointing if memory else mode != FULL and cuda
    return dict(
        output_dir=str(output_dir / "_trainer"),
        max_steps=config.max_steps,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        lr_scheduler_kwargs=scheduler_kwargs(config) or None,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a share of the total steps
        weight_decay=config.weight_decay,
        logging_steps=config.log_every,
        save_strategy="steps",
        save_steps=config.save_every,
        save_total_limit=1,
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not cuda,
        # under torchrun (world size > 1): gloo on CPU, accelerate's default (NCCL) on GPUs
        ddp_backend="gloo" if not cuda and platform.world_size > 1 else None,
        bf16=cuda,
        fp16=False,
        # packed: padding-free *and* packed, always together (`batching`); the rows were packed by
        # trainer.packed_dataset, and the collator gives each example its own position_ids
        padding_free=batched.packed,
        packing=batched.packed,
        packing_strategy="bfd",
        completion_only_loss=True,  # the labels already say so (trainer.tokenized_examples)
        dataset_kwargs={"skip_prepare_dataset": True},  # prepared by trainer.tokenized_examples
        max_length=config.sequence_limit,
        include_num_input_tokens_seen=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        activation_checkpointing=checkpointing,
        **sharding_settings(config.sharding, platform.world_size),
    )


def sft_config(config: TrainingConfig, output_dir: Path, mode: str, platform: Platform, batched: Batching, memory: MemoryPlan | None) -> Any:
    """TRL's `SFTConfig`: tokenized prompt-completion data with the loss on the completion only, the
    configured learning-rate schedule (warmup-stable-decay by default), checkpoints every `save_every`
    steps (one kept), bf16 on CUDA, fp32 on CPU, padded or packed batches (`batching`), micro-batches
    and activation checkpointing as the memory plan says."""
    from trl import SFTConfig

    return SFTConfig(**sft_settings(config, output_dir, mode, platform, batched, memory))
