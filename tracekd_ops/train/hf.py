"""The one mapping from TraceKD's training settings to Hugging Face's: TRL `SFTConfig`, PEFT
`LoraConfig` and transformers `BitsAndBytesConfig` (as TRL's own scripts do, through
`trl.get_peft_config` / `get_quantization_config`-style helpers: typed settings parsed once, handed
to one trainer). Nothing else translates a setting field by field."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from tracekd_ops.train.settings import COSINE_MIN_LR, FULL, LORA, QLORA, WSD, TrainingConfig


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def effective_mode(config: TrainingConfig, log: Any = print) -> str:
    """The mode that can run here: QLoRA needs a CUDA GPU and bitsandbytes, else LoRA (said so)."""
    if config.mode == QLORA and not (cuda_available() and importlib.util.find_spec("bitsandbytes")):
        log("QLoRA needs a CUDA GPU and bitsandbytes; training LoRA adapters on the full-precision base instead")
        return LORA
    return config.mode


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


def quantization_config(mode: str) -> Any | None:
    """4-bit NF4 with double quantisation and bf16 compute (the QLoRA paper's), for QLoRA only."""
    if mode != QLORA:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True
    )


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


SHARDING_ENV = "TRACEKD_SHARDING"
"""Set by the launcher of a multi-process training (`ddp` or `fsdp`); how the ranks split the work."""
SHARDINGS = ("ddp", "fsdp")


def sharding_settings() -> dict[str, Any]:
    """Under torchrun with `TRACEKD_SHARDING=fsdp`: FSDP2, every parameter, gradient and optimizer
    state sharded over the ranks (a student too large for one device's memory); the saved
    checkpoint is gathered whole. Otherwise DDP (a full copy per rank): nothing to set."""
    sharding = os.environ.get(SHARDING_ENV, "ddp")
    if sharding not in SHARDINGS:
        raise ValueError(f"{SHARDING_ENV} must be one of {', '.join(SHARDINGS)}; got {sharding!r}")
    if sharding == "fsdp" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return {"fsdp": "full_shard", "fsdp_config": {"fsdp_version": 2, "reshard_after_forward": True}}
    return {}


def sft_config(config: TrainingConfig, output_dir: Path, mode: str) -> Any:
    """TRL's `SFTConfig`: tokenized prompt-completion data with the loss on the completion only, the
    configured learning-rate schedule (warmup-stable-decay by default), checkpoints every `save_every`
    steps (one kept), bf16 on CUDA, fp32 on CPU."""
    from trl import SFTConfig

    cuda = cuda_available()
    return SFTConfig(
        output_dir=str(output_dir / "_trainer"),
        max_steps=config.max_steps,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
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
        # under torchrun (WORLD_SIZE > 1): gloo on CPU, accelerate's default (NCCL) on GPUs
        ddp_backend="gloo" if not cuda and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        bf16=cuda,
        fp16=False,
        # padding-free batching needs an attention kernel that keeps sequences apart, and no Canon
        # layer (its convolution would mix the end of one sequence into the start of the next)
        padding_free=cuda and importlib.util.find_spec("flash_attn") is not None and not (config.from_config and config.model.canon_kernel),
        completion_only_loss=True,  # the labels already say so (trainer.tokenized_examples)
        dataset_kwargs={"skip_prepare_dataset": True},  # prepared by trainer.tokenized_examples
        max_length=config.sequence_limit,
        include_num_input_tokens_seen=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        activation_checkpointing=mode != FULL and cuda,  # TRL turns it on by default; a small model has memory to spare
        **sharding_settings(),
    )
