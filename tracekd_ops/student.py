"""Student models and their fine-tuning with TRL's `SFTTrainer` (loss on the completion only).

Two kinds of base model:
- the offline default, `tiny-llama-from-config`: a small Llama built from a config with a
  byte-level BPE tokenizer trained on the traces (no download, trains on a CPU in minutes);
- a pretrained causal LM, by Hugging Face id or local path (e.g. Llama-3.2-1B-Instruct,
  Qwen3-1.7B); prompts go through its chat template when it has one.

Modes: `full` fine-tuning, `lora` and `qlora` (PEFT adapters on every linear projection; QLoRA
loads the base in 4 bit where bitsandbytes and a CUDA GPU are present). bf16 on CUDA, fp32 on
CPU. Checkpoints are saved every `save_every` steps, and a run that finds one resumes from it.
Heavy imports (torch, transformers, trl, peft) happen inside the functions.
"""

from __future__ import annotations

import hashlib
import json
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


FULL, LORA, QLORA = "full", "lora", "qlora"
MODES: tuple[str, ...] = (FULL, LORA, QLORA)


@dataclass(frozen=True)
class LoraSettings:
    """PEFT LoRA on every linear projection of attention and MLP (`all-linear`: not the LM head)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"


@dataclass(frozen=True)
class TrainingConfig:
    """SFT settings. `max_steps` > 0 bounds steps, else `epochs` does. `max_seconds` bounds wall
    time so the demo stays in its budget; the step at which it stopped is recorded."""

    seed: int = 0
    base_model: str = TINY_BASE_MODEL
    mode: str = FULL
    max_steps: int = 700
    epochs: float = 1.0
    learning_rate: float = 2e-3
    batch_size: int = 32
    grad_accumulation: int = 1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_seconds: float | None = None
    log_every: int = 50
    save_every: int = 100
    lora: LoraSettings = field(default_factory=LoraSettings)
    model: TinyModelConfig = field(default_factory=TinyModelConfig)
    max_length: int | None = None
    """Longest training sequence in tokens; None: the tiny model's `max_positions`, else 1024."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"training mode must be one of {', '.join(MODES)}; got {self.mode!r}")
        if self.base_model == TINY_BASE_MODEL and self.mode != FULL:
            raise ValueError(f"{TINY_BASE_MODEL} is trained from scratch: mode must be {FULL}, got {self.mode}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        """A hash of every setting: a checkpoint is resumed only by a run with the same settings."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True, default=str).encode()).hexdigest()[:12]


PRESETS: dict[str, dict[str, Any]] = {
    "tiny_cpu": {},
    "reference_qlora": {
        "mode": QLORA,
        "lora": LoraSettings(r=16, alpha=32, dropout=0.05),
        "learning_rate": 2e-4,
        "warmup_ratio": 0.1,
        "epochs": 3.0,
        "max_steps": -1,
        "batch_size": 4,
        "grad_accumulation": 4,
        "max_seconds": None,
    },
}
"""Named training settings. `reference_qlora` is the reference study's: QLoRA r=16, alpha=32,
dropout 0.05 on all attention and MLP projections, lr 2e-4, cosine, warmup 0.1, 3 epochs,
batch 4 x accumulation 4."""


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


def format_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[str]:
    """The prompts as the model sees them: through its chat template when it has one (a
    pretrained chat model), as they are otherwise (the tiny student). Training and generation
    both call this, so they cannot disagree."""
    if not getattr(tokenizer, "chat_template", None):
        return list(prompts)
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]


def _load_pretrained(config: TrainingConfig, log: Log) -> tuple[Any, Any, str]:
    """(model, tokenizer, effective mode) of a pretrained base; QLoRA falls back to LoRA where
    4-bit loading is impossible (no CUDA or no bitsandbytes), and says so."""
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cuda = torch.cuda.is_available()
    mode = config.mode
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if cuda else torch.float32}
    if mode == QLORA:
        if cuda and importlib.util.find_spec("bitsandbytes"):
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True
            )
        else:
            log("QLoRA needs a CUDA GPU and bitsandbytes; training LoRA adapters on the full-precision base instead")
            mode = LORA
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(config.base_model, **kwargs)
    return model, tokenizer, mode


def build_trainer(
    prompts: Sequence[str], completions: Sequence[str], output_dir: Path, config: TrainingConfig, log: Log = print
) -> Any:
    """A TRL `SFTTrainer` on prompt-completion data: TRL masks the prompt tokens out of the loss
    (`completion_only_loss`), so the student learns only what it writes."""
    import importlib.util

    import torch
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    _quiet_progress_bars()
    cuda = torch.cuda.is_available()
    peft_config = None
    if config.base_model == TINY_BASE_MODEL:
        tokenizer = train_tokenizer([p + c for p, c in zip(prompts, completions)], config.model.vocab_size)
        model = build_tiny_model(tokenizer, config.model, config.seed)
        mode = FULL
    else:
        model, tokenizer, mode = _load_pretrained(config, log)
        if mode in (LORA, QLORA):
            from peft import LoraConfig

            lora = config.lora
            peft_config = LoraConfig(
                r=lora.r,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=lora.target_modules if isinstance(lora.target_modules, str) else list(lora.target_modules),
                task_type="CAUSAL_LM",
            )
    dataset = Dataset.from_dict({"prompt": format_prompts(tokenizer, prompts), "completion": list(completions)})
    max_length = config.max_length or (config.model.max_positions if config.base_model == TINY_BASE_MODEL else 1024)
    args = SFTConfig(
        output_dir=str(output_dir / "_trainer"),
        max_steps=config.max_steps,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
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
        bf16=cuda,
        fp16=False,
        # padding-free batching needs an attention kernel that keeps sequences apart
        padding_free=cuda and importlib.util.find_spec("flash_attn") is not None,
        completion_only_loss=True,
        max_length=max_length,
        include_num_input_tokens_seen=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        activation_checkpointing=mode != FULL and cuda,  # TRL turns it on by default; a small model has memory to spare
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_progress_callback(config, log)],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through `log`, not stdout
    trainer.effective_mode = mode
    return trainer


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
) -> TrainResult:
    """Fine-tune a student (resuming from a checkpoint left in `output_dir` by a killed run of the
    same settings) and save safetensors weights (or LoRA adapters) + tokenizer to `output_dir`."""
    trainer = build_trainer(prompts, completions, output_dir, config, log)
    progress = next(c for c in trainer.callback_handler.callbacks if hasattr(c, "budget_hit"))  # ours
    resume = last_checkpoint(output_dir)
    if resume is not None:
        log(f"resuming from {resume.name} (step {resume.name.split('-')[-1]}) left by an interrupted run")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
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
        trainable_parameters=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        train_tokens=int(trainer.state.num_input_tokens_seen),
        stopped_by_time_budget=progress.budget_hit,
        mean_completion_tokens=sum(completion_tokens) / max(1, len(completion_tokens)),
        mode=trainer.effective_mode,
        resumed_from_step=int(resume.name.split("-")[-1]) if resume else None,
    )


def load_student(model_dir: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of a saved student: full weights, or LoRA adapters on their base."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if (model_dir / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(str(model_dir))
    else:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    return model, tokenizer


def generate_completions(
    model_dir: Path | str, prompts: Sequence[str], batch_size: int = 64, max_new_tokens: int = 64
) -> list[str]:
    """Batched greedy decoding with left padding, so every row of a batch ends at its prompt.
    `model_dir` is a saved student, or a base model id/path (the untuned baseline)."""
    import torch

    _quiet_progress_bars()
    model, tokenizer = load_student(Path(model_dir)) if Path(model_dir).exists() else _load_base(str(model_dir))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    model.eval()
    formatted = format_prompts(tokenizer, prompts)
    templated = bool(getattr(tokenizer, "chat_template", None))  # the template writes any BOS itself
    outputs: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(formatted), batch_size):
            batch = tokenizer(
                formatted[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=not templated
            ).to(device)
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


def _load_base(base_model: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(base_model), AutoTokenizer.from_pretrained(base_model)
