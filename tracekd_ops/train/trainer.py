"""Fine-tuning a student with TRL's `SFTTrainer` (loss on the completion only).

Two kinds of base model (`models.py`): the offline default, a small Llama built from a config with
a byte-level BPE tokenizer trained on the traces (no download, trains on a CPU in minutes); and a
pretrained causal LM by Hugging Face id or local path, prompted through its chat template. Modes:
`full`, `lora` and `qlora` (settings mapped to TRL/PEFT/bitsandbytes in `hf.py`). Checkpoints are
saved every `save_every` steps, and a run that finds one resumes from it.
Heavy imports (torch, transformers, trl, peft) happen inside the functions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from tracekd_ops.train import hf, memory
from tracekd_ops.train.bases import quiet_progress_bars
from tracekd_ops.train.models import build_tiny_model, format_prompts, load_pretrained, train_tokenizer
from tracekd_ops.train.settings import FULL, QLORA, TrainingConfig

Log = Callable[[str], None]
TRAINER_VERSION = "sft-4"
"""Bump when how a student is trained changes (its asset's code version: students go stale)."""


@dataclass
class TrainResult:
    output_dir: Path
    steps: int
    train_seconds: float
    final_loss: float | None
    loss_curve: list[tuple[int, float]]
    num_parameters: int
    train_tokens: int
    stopped_by_time_budget: bool
    mean_completion_tokens: float
    """Mean length of the training completions in the student's own tokens (the trace's cost)."""
    trainable_parameters: int = 0
    mode: str = FULL
    resumed_from_step: int | None = None
    dropped_too_long: int = 0
    """Training examples left out because they are longer than the student's context (never cut)."""
    longest_sequence_tokens: int = 0
    context_tokens: int = 0


def _progress_callback(config: TrainingConfig, log: Log) -> Any:
    """A trainer callback that forwards progress to `log`, keeps the loss curve and enforces the
    wall-time budget (defined here so transformers is imported only when training)."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def __init__(self) -> None:
            self.curve: list[tuple[int, float]] = []
            self.started = time.monotonic()
            self.budget_hit = False

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and "loss" in logs:
                self.curve.append((state.global_step, float(logs["loss"])))
                elapsed = time.monotonic() - self.started
                tokens_s = state.num_input_tokens_seen / elapsed if elapsed else 0.0
                log(
                    f"step {state.global_step}/{state.max_steps} loss {logs['loss']:.4f} "
                    f"lr {logs.get('learning_rate', 0):.2e} {tokens_s:,.0f} tokens/s"
                )

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if config.max_seconds and not self.budget_hit and time.monotonic() - self.started > config.max_seconds:
                self.budget_hit = True
                control.should_training_stop = True
                log(f"wall-time budget of {config.max_seconds:g} s reached at step {state.global_step}/{state.max_steps}: "
                    "training stopped early, so this student saw fewer steps than configured (a busy machine makes "
                    "steps slower; raise max_seconds to train them all)")  # fmt: skip

    return Progress()


def build_trainer(
    prompts: Sequence[str],
    completions: Sequence[str],
    output_dir: Path,
    config: TrainingConfig,
    log: Log = print,
    phrases: Sequence[str] = (),
    platform: hf.Platform | None = None,
) -> Any:
    """A TRL `SFTTrainer` on prompt-completion data: TRL masks the prompt tokens out of the loss
    (`completion_only_loss`), so the student learns only what it writes. `phrases`: fixed wording
    the from-config student's tokenizer keeps whole (`models.train_tokenizer`). `platform`: what
    the machine offers (default: this one's)."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    quiet_progress_bars()
    platform = platform or hf.Platform.here()
    if config.from_config:
        tokenizer = train_tokenizer([p + c for p, c in zip(prompts, completions)], config.model.vocab_size, phrases)
        examples = tokenized_examples(tokenizer, format_prompts(tokenizer, prompts), completions, log)
        lengths = [len(ids) for ids in examples["input_ids"]]
        positions = sized_for(lengths, config.model.max_positions)
        if positions != config.model.max_positions:
            log(f"the longest training sequence is {max(lengths)} tokens: the student gets {positions} positions "
                f"(configured {config.model.max_positions}), so no example is cut")  # fmt: skip
        model, mode = build_tiny_model(tokenizer, config.model.model_copy(update={"max_positions": positions}), config.seed), FULL
        limit = positions
    else:
        mode = hf.effective_mode(config, platform, log)
        model, tokenizer = load_pretrained(config.base_model, hf.quantization_config(mode, platform))
        examples = tokenized_examples(tokenizer, format_prompts(tokenizer, prompts), completions, log)
        lengths = [len(ids) for ids in examples["input_ids"]]
        limit = min(config.max_length or 1 << 30, context_length(model))
    keep = [i for i, n in enumerate(lengths) if n <= limit]
    dropped = len(lengths) - len(keep)
    if dropped:
        log(f"{dropped} of {len(lengths)} training examples are longer than {limit} tokens (the student's context): left out, "
            "never cut (a cut example would teach a trace or an answer without its end)")  # fmt: skip
    if not keep:
        raise ValueError(f"every training example is longer than the student's {limit}-token context")
    dataset = Dataset.from_dict({column: [values[i] for i in keep] for column, values in examples.items()})
    # no cache while training: transformers builds one in a forward when the config asks for it, and then
    # does not look for packed rows (their boundaries would be ignored); saved with the value it had
    trainer_cache, model.config.use_cache = model.config.use_cache, False
    batched = hf.batching(config, platform)
    settings = config.with_changes(max_length=limit)
    longest = max(lengths[i] for i in keep)
    if batched.packed:
        dataset, rows = packed_dataset(dataset, limit, config.batch_size)
        settings = settings.with_changes(batch_size=rows)
        log(f"batches {batched.reason}: {len(keep)} examples in {len(dataset)} rows of up to {limit} tokens, {rows} row(s) a step "
            f"(about {config.batch_size} examples' tokens)")  # fmt: skip
    else:
        log(f"batches {batched.reason}")
    plan = memory_plan(model, settings, mode, platform, sequence=limit * settings.batch_size if batched.packed else longest,
                       rows=1 if batched.packed else settings.batch_size)  # fmt: skip
    log(plan.describe())
    hf.score_labelled_positions_only()
    trainer = SFTTrainer(
        model=model,
        args=hf.sft_config(settings, output_dir, mode, platform, batched, plan),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=hf.peft_config(config, mode),
        callbacks=[_progress_callback(config, log)],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through `log`, not stdout
    trainer.effective_mode = mode
    trainer.batching = "packed" if batched.packed else "padded"
    trainer.model_use_cache = trainer_cache
    trainer.length_report = {"dropped_too_long": dropped, "longest_sequence_tokens": max(lengths), "context_tokens": limit}
    return trainer


def memory_plan(model: Any, config: TrainingConfig, mode: str, platform: hf.Platform, sequence: int, rows: int) -> memory.MemoryPlan:
    """How this student trains within its memory (`train.memory.fit`): `rows` sequences of
    `sequence` tokens a step (a packed batch is one row: the collator joins its rows)."""
    trainable = None if mode == FULL else memory.lora_parameters(model, config.lora.r)
    shape = memory.Shape.of(model, trainable, quantized=mode == QLORA)
    available = int(config.memory_gib * memory.GIB) if config.memory_gib else platform.memory
    if rows == 1 and config.batch_size > 1:  # packed: its rows are one sequence to the model, and cannot be split here
        found = memory.estimate(shape, 1, sequence, checkpointing=True)
        if found.total > available:
            raise memory.DoesNotFit(f"a packed step needs about {found.describe()}, but the student is given "
                                    f"{available / memory.GIB:.1f} GiB: use batching padded, or fewer rows a step (batch_size)")  # fmt: skip
        return memory.fit(shape, 1, config.grad_accumulation, sequence, available)
    return memory.fit(shape, rows, config.grad_accumulation, sequence, available)


def packed_dataset(dataset: Any, row_tokens: int, batch_size: int) -> tuple[Any, int]:
    """(rows, rows a step): the examples packed whole into rows of at most `row_tokens` tokens by
    TRL's best-fit-decreasing packing (no example is cut: longer ones were left out before), and as
    many rows a step as hold about `batch_size` examples' tokens, so a packed step learns from as
    much as a padded one."""
    from trl.data_utils import pack_dataset

    lengths = [len(ids) for ids in dataset["input_ids"]]
    packed = pack_dataset(dataset.select_columns(["input_ids", "labels"]), row_tokens, "bfd")
    rows = max(1, round(batch_size * (sum(lengths) / len(lengths)) / row_tokens))
    return packed, rows


GENERATION_ROOM = 128
"""Positions a from-config student keeps beyond its longest training sequence, for what it writes."""


def tokenized_examples(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str], log: Log = print) -> dict[str, list[list[int]]]:
    """`input_ids` and `labels` of each (formatted) prompt + completion, exactly as TRL's
    `SFTTrainer` prepares prompt-completion text: the completion ends with the EOS token, the
    whole text is tokenized, and the labels are -100 up to where the tokenized prompt and the
    tokenized whole diverge (`trl.data_utils.common_prefix_length`).

    Why here and not in TRL: TRL does it example by example in `datasets` maps (four passes, about
    half a minute for the demo's 18,000 traces on this CPU, in every student); here it is two
    batched tokenizer calls, and the lengths the context check needs come from the same ids. The
    trainer gets the result as a prepared dataset (`skip_prepare_dataset`); a test checks it
    equals TRL's own preparation."""
    from trl.data_utils import common_prefix_length

    eos = tokenizer.eos_token
    prompt_ids = tokenizer(list(prompts))["input_ids"]
    input_ids = tokenizer([p + c + ("" if c.endswith(eos) else eos) for p, c in zip(prompts, completions)])["input_ids"]
    labels, merged = [], 0
    for prompt, ids in zip(prompt_ids, input_ids):
        start = common_prefix_length(prompt, ids)
        merged += start < len(prompt)
        labels.append([-100] * start + ids[start:])
    if merged:
        log(f"{merged} of {len(prompt_ids)} prompts end in a token that merges with their completion: the completion "
            "(and the loss) starts where the two tokenizations diverge, as TRL does")  # fmt: skip
    return {"input_ids": input_ids, "labels": labels}


def sized_for(lengths: Sequence[int], configured: int) -> int:
    """Positions for a from-config student: at least the configured number, and enough for the
    longest sequence plus room to generate (rounded up to a multiple of 64)."""
    needed = max(lengths) + GENERATION_ROOM
    return max(configured, -(-needed // 64) * 64)


def context_length(model: Any) -> int:
    """The positions a pretrained model was built for (its context window)."""
    return int(getattr(model.config, "max_position_embeddings", None) or 1 << 30)


def last_checkpoint(output_dir: Path) -> Path | None:
    """The newest `checkpoint-N` a previous (killed) run of this training left behind."""
    folder = output_dir / "_trainer"
    checkpoints = [
        p
        for p in (folder.glob("checkpoint-*") if folder.exists() else [])
        if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").exists()  # complete ones only
    ]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)


def train_student(
    prompts: Sequence[str],
    completions: Sequence[str],
    output_dir: Path,
    config: TrainingConfig,
    log: Log = print,
    phrases: Sequence[str] = (),
) -> TrainResult:
    """Fine-tune a student (resuming from a checkpoint left in `output_dir` by a killed run of the
    same settings) and save safetensors weights (or LoRA adapters) + tokenizer to `output_dir`."""
    trainer = build_trainer(prompts, completions, output_dir, config, log, phrases)
    progress = next(c for c in trainer.callback_handler.callbacks if hasattr(c, "budget_hit"))  # ours
    resume = last_checkpoint(output_dir)
    if resume is not None:
        log(f"resuming from {resume.name} (step {resume.name.split('-')[-1]}) left by an interrupted run")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.model.config.use_cache = trainer.model_use_cache  # generation uses the cache again where the model has one
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(output_dir))  # every rank calls it (sharded states gather); rank 0 writes
    tokenizer = trainer.processing_class
    if trainer.is_world_process_zero():  # under torchrun, one process writes the folder
        adapter = output_dir / "adapter_config.json"
        if adapter.exists():  # adapters name their base as the student's settings do (a named base, not a cache path)
            settings = json.loads(adapter.read_text())
            adapter.write_text(json.dumps({**settings, "base_model_name_or_path": config.base_model}, indent=2, sort_keys=True))
        (output_dir / "training_args.bin").unlink(missing_ok=True)  # a pickle: the same settings go out as JSON
        (output_dir / "training_args.json").write_text(trainer.args.to_json_string())
        tokenizer.save_pretrained(str(output_dir))
    completion_tokens = [len(ids) for ids in tokenizer(list(completions), add_special_tokens=False)["input_ids"]]
    return TrainResult(
        output_dir=output_dir,
        steps=trainer.state.global_step,
        train_seconds=time.monotonic() - progress.started,
        final_loss=progress.curve[-1][1] if progress.curve else None,
        loss_curve=progress.curve,
        num_parameters=sum(p.numel() for p in trainer.model.parameters()),
        trainable_parameters=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        train_tokens=int(trainer.state.num_input_tokens_seen),
        stopped_by_time_budget=progress.budget_hit,
        mean_completion_tokens=sum(completion_tokens) / max(1, len(completion_tokens)),
        mode=trainer.effective_mode,
        resumed_from_step=int(resume.name.split("-")[-1]) if resume else None,
        **trainer.length_report,
    )
