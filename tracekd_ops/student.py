"""Student models: a tokenizer trained on the data, a causal LM built from a config, SFT with TRL.

The offline default student is a small Llama trained from scratch (no download). Heavy imports
(torch, transformers, trl) happen inside the functions so importing this module is cheap.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tracekd_ops.traces import MARKUP_TOKENS

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PAD, EOS = "<pad>", "<eos>"
TINY_BASE_MODEL = "tiny-llama-from-config"
"""Base-model name recorded in lineage for the from-config student (there is no hub id)."""

Log = Callable[[str], None]


@dataclass(frozen=True)
class TinyModelConfig:
    """Shape of the from-config student. A larger init std than the Llama default (0.02) is what
    lets a model this small leave the chance plateau within a CPU minute (measured: README)."""

    hidden_size: int = 256
    num_layers: int = 2
    num_heads: int = 8
    intermediate_size: int = 512
    init_std: float = 0.08
    vocab_size: int = 600
    max_positions: int = 1024


@dataclass(frozen=True)
class TrainingConfig:
    """SFT settings. `max_seconds` bounds wall time so the demo stays in its budget; the step at
    which it stopped is recorded with the checkpoint."""

    seed: int = 0
    max_steps: int = 700
    learning_rate: float = 2e-3
    batch_size: int = 32
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_seconds: float | None = None
    log_every: int = 50
    model: TinyModelConfig = field(default_factory=TinyModelConfig)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> "PreTrainedTokenizerFast":
    """Byte-level BPE trained on the corpus: exact decode (traces parse back), and the trace
    markup tags as whole tokens so the student learns them as units."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS)
    fast.add_tokens(list(MARKUP_TOKENS))
    return fast


def build_tiny_model(tokenizer: "PreTrainedTokenizerFast", config: TinyModelConfig, seed: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        initializer_range=config.init_std,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(model_config)


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
            if config.max_seconds and time.monotonic() - self.started > config.max_seconds:
                self.budget_hit = True
                control.should_training_stop = True

    return Progress()


def _quiet_progress_bars() -> None:
    """Progress goes to the caller's log (Dagster's) as lines, not as tqdm bars on stderr."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def build_trainer(
    prompts: Sequence[str], completions: Sequence[str], output_dir: Path, config: TrainingConfig, log: Log = print
) -> Any:
    """A TRL `SFTTrainer` for the tiny student on prompt-completion data: TRL masks the prompt
    tokens out of the loss (`completion_only_loss`), so the student learns only what it writes."""
    import torch
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    _quiet_progress_bars()
    tokenizer = train_tokenizer([p + c for p, c in zip(prompts, completions)], config.model.vocab_size)
    model = build_tiny_model(tokenizer, config.model, config.seed)
    dataset = Dataset.from_dict({"prompt": list(prompts), "completion": list(completions)})
    args = SFTConfig(
        output_dir=str(output_dir / "_trainer"),
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=math.ceil(config.warmup_ratio * config.max_steps),
        weight_decay=config.weight_decay,
        logging_steps=config.log_every,
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not torch.cuda.is_available(),
        completion_only_loss=True,
        max_length=config.model.max_positions,
        include_num_input_tokens_seen=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        gradient_checkpointing=False,  # TRL turns it on by default; a tiny model has memory to spare
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=[_progress_callback(config, log)]
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through `log`, not stdout
    return trainer


def train_student(
    prompts: Sequence[str],
    completions: Sequence[str],
    output_dir: Path,
    config: TrainingConfig,
    log: Log = print,
) -> TrainResult:
    """Fine-tune the tiny student with TRL's SFTTrainer (loss on the completion only) and save
    safetensors weights + tokenizer to `output_dir`."""
    trainer = build_trainer(prompts, completions, output_dir, config, log)
    progress = next(c for c in trainer.callback_handler.callbacks if hasattr(c, "budget_hit"))  # ours
    trainer.train()
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(output_dir))
    tokenizer = trainer.processing_class
    tokenizer.save_pretrained(str(output_dir))
    completion_tokens = [len(ids) for ids in tokenizer(list(completions), add_special_tokens=False)["input_ids"]]
    return TrainResult(
        output_dir=output_dir,
        steps=trainer.state.global_step,
        train_seconds=time.monotonic() - progress.started,
        final_loss=progress.curve[-1][1] if progress.curve else None,
        loss_curve=progress.curve,
        num_parameters=sum(p.numel() for p in trainer.model.parameters()),
        train_tokens=int(trainer.state.num_input_tokens_seen),
        stopped_by_time_budget=progress.budget_hit,
        mean_completion_tokens=sum(completion_tokens) / max(1, len(completion_tokens)),
    )


def generate_completions(
    model_dir: Path, prompts: Sequence[str], batch_size: int = 64, max_new_tokens: int = 64
) -> list[str]:
    """Batched greedy decoding with left padding, so every row of a batch ends at its prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    model.eval()
    outputs: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(list(prompts[start : start + batch_size]), return_tensors="pt", padding=True)
            generated = model.generate(
                **batch,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            new_tokens = generated[:, batch["input_ids"].shape[1] :]
            outputs += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    return outputs
