"""The student path for real: tokenizer, TRL SFT with completion-only loss, save, batched decode."""

import json
import math

import pytest

from tracekd_ops.traces.conditions import CORRECT, build_trace, condition
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.evaluate.generate import generate_completions
from tracekd_ops.train.models import train_tokenizer
from tracekd_ops.train.settings import TinyModelConfig, TrainingConfig
from tracekd_ops.train.trainer import build_trainer, tokenized_examples, train_student
from tracekd_ops.core.markup import MARKUP_TOKENS
from tracekd_ops.traces.render import render_prompt

RECORDS = generate(SyntheticConfig(train_per_task=30, test_per_task=4))
ROWS = [build_trace(condition(CORRECT), r, list(TASKS)) for r in RECORDS if r.split == "train"]
PROMPTS, COMPLETIONS = [r.prompt for r in ROWS], [r.completion for r in ROWS]
TINY = TrainingConfig(max_steps=12, batch_size=8, log_every=4, learning_rate=5e-3,
                      model=TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64))  # fmt: skip


def test_tokenizer_decodes_exactly_and_keeps_trace_markup_whole():
    tokenizer = train_tokenizer(PROMPTS + COMPLETIONS, 400)
    for text in (PROMPTS[0] + COMPLETIONS[0], PROMPTS[5] + COMPLETIONS[5]):
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    for tag in MARKUP_TOKENS:
        assert len(tokenizer(tag)["input_ids"]) == 1


def test_loss_is_on_the_completion_only(tmp_path):
    trainer = build_trainer(PROMPTS, COMPLETIONS, tmp_path, TINY)
    example = trainer.train_dataset[0]
    batch = trainer.data_collator([example])
    labels, ids = batch["labels"][0].tolist(), batch["input_ids"][0].tolist()
    prompt_len = len(trainer.processing_class(PROMPTS[0])["input_ids"])
    assert all(label == -100 for label in labels[:prompt_len])
    assert labels[prompt_len:] == ids[prompt_len:]
    decoded = trainer.processing_class.decode(ids[prompt_len:])
    assert decoded == COMPLETIONS[0] + trainer.processing_class.eos_token


@pytest.mark.parametrize("chat", [False, True], ids=["trained tokenizer", "chat template"])
def test_the_examples_are_tokenized_exactly_as_trl_prepares_them(tmp_path, chat):
    """TraceKD tokenizes the training data itself, in batches (trainer.tokenized_examples); the
    result must be what TRL's own preparation makes of the same prompt-completion text."""
    import dataclasses

    from datasets import Dataset

    from tests.teacher_server import CHAT_TEMPLATE
    from tracekd_ops.train.models import format_prompts

    hostile = ["Answer:", "Where is Mary? <think>", "Q: ünïcode ✓\n"]  # prompts ending mid-word, markup, non-ASCII
    prompts, completions = PROMPTS[:40] + hostile, COMPLETIONS[:40] + [" kitchen", "</think> no", "yes" + "</s>"]
    trainer = build_trainer(prompts, completions, tmp_path, TINY)
    tokenizer = trainer.processing_class
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    formatted = format_prompts(tokenizer, prompts)
    ours = tokenized_examples(tokenizer, formatted, completions, log=lambda _: None)
    args = dataclasses.replace(trainer.args, dataset_kwargs={}, max_length=None)
    theirs = trainer._prepare_dataset(Dataset.from_dict({"prompt": formatted, "completion": completions}), tokenizer, args,
                                      packing=False, formatting_func=None, dataset_name="train")  # fmt: skip
    assert ours["input_ids"] == theirs["input_ids"]
    assert ours["labels"] == theirs["labels"]


def test_the_loss_scores_only_the_completion_positions_and_equals_cross_entropy_on_them(tmp_path, monkeypatch):
    """TRL's fused LM head scores every position off Triton devices; TraceKD makes it score only
    the labelled ones (hf.score_labelled_positions_only): same loss, a quarter of the positions."""
    import torch
    import torch.nn.functional as F
    from trl.trainer import utils as trl_utils

    trainer = build_trainer(PROMPTS, COMPLETIONS, tmp_path, TINY)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(8)])
    scored = []
    chunked = trl_utils._ChunkedLogProbFunction

    class Counting(chunked):  # the real function, counting the positions it is given
        @staticmethod
        def forward(ctx, hidden, *args):  # noqa: ANN001
            scored.append(hidden.shape[0])
            return chunked.forward(ctx, hidden, *args)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Counting)
    model = trainer.model
    loss = trainer.compute_loss(model, dict(batch))
    labelled = int((batch["labels"][:, 1:] != -100).sum())
    assert scored == [labelled] and labelled < batch["input_ids"].numel() / 2
    with torch.no_grad():
        logits = type(model).forward(model, input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), batch["labels"][:, 1:].reshape(-1), ignore_index=-100)
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-5)


def test_training_lowers_the_loss_saves_safetensors_and_decodes_in_batches(tmp_path):
    logged = []
    result = train_student(PROMPTS, COMPLETIONS, tmp_path / "ckpt", TINY, log=logged.append)
    assert result.steps == 12 and len(result.loss_curve) == 3 and any("tokens/s" in line for line in logged)
    assert result.loss_curve[-1][1] < result.loss_curve[0][1]
    assert (tmp_path / "ckpt" / "model.safetensors").exists()
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["model_type"] == "tracekd_canon_llama"  # Canon layers (train/canon.py)
    prompts = [render_prompt(r) for r in RECORDS if r.split == "test"]
    batched = generate_completions(tmp_path / "ckpt", prompts, batch_size=5, max_new_tokens=12)
    single = generate_completions(tmp_path / "ckpt", prompts, batch_size=1, max_new_tokens=12)
    assert batched == single  # left padding: a row's output does not depend on its batch-mates


def test_time_budget_stops_training_early(tmp_path):
    config = TrainingConfig(**{**TINY.as_dict(), "model": TINY.model, "max_steps": 10_000, "max_seconds": 2.0})
    logged: list[str] = []
    result = train_student(PROMPTS, COMPLETIONS, tmp_path / "ckpt", config, log=logged.append)
    assert result.stopped_by_time_budget and result.steps < 10_000
    assert [line for line in logged if line.startswith("wall-time budget of 2 s reached at step ")], logged[-3:]


def test_examples_longer_than_the_configured_positions_are_never_cut(tmp_path):
    """Long prompts (CoTempQA-like: many facts) make a from-config student with enough positions
    for its longest example, and generation stays within the model's context."""
    long_prompts = [p.replace("Facts:\n", "Facts:\n" + "[99] Nobody went anywhere at all that day.\n" * 40) for p in PROMPTS[:24]]
    config = TINY.with_changes(max_steps=2, model={"max_positions": 64})
    result = train_student(long_prompts, COMPLETIONS[:24], tmp_path / "student", config, log=lambda _: None)
    assert result.dropped_too_long == 0 and result.longest_sequence_tokens > 64
    assert result.context_tokens >= result.longest_sequence_tokens
    saved = json.loads((tmp_path / "student" / "config.json").read_text())
    assert saved["max_position_embeddings"] == result.context_tokens
    messages: list[str] = []
    outputs = generate_completions(tmp_path / "student", long_prompts[:4], batch_size=4, max_new_tokens=500, log=messages.append)
    assert len(outputs) == 4 and any("fewer than 500 tokens" in m for m in messages)


def cosine(progress: float, floor: float = 0.0) -> float:
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize(
    "changes, start, expected",
    [  # 20 steps, 1 of warmup; the share of the peak learning rate at steps 0, 1, 10, 15, 19
        ({"lr_scheduler": "cosine"}, 0.0, [1.0, cosine(9 / 19), cosine(14 / 19), cosine(18 / 19)]),
        ({"lr_scheduler": "cosine_with_min_lr", "min_lr_ratio": 0.25}, 0.0, [1.0, cosine(9 / 19, 0.25), cosine(14 / 19, 0.25), cosine(18 / 19, 0.25)]),
        # warmup from the floor, 14 steps stable, 5 decaying (steps 15 to 19)
        ({"lr_scheduler": "warmup_stable_decay", "decay_ratio": 0.25, "min_lr_ratio": 0.1}, 0.1, [1.0, 1.0, 1.0, cosine(4 / 5, 0.1)]),
        ({"lr_scheduler": "constant_with_warmup"}, 0.0, [1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_the_configured_schedule_is_the_one_the_trainer_steps(tmp_path, changes, start, expected):
    config = TINY.with_changes(max_steps=20, warmup_ratio=0.05, **changes)
    trainer = build_trainer(PROMPTS, COMPLETIONS, tmp_path, config)
    trainer.create_optimizer_and_scheduler(num_training_steps=20)
    shares = []
    for _ in range(20):
        shares.append(trainer.lr_scheduler.get_last_lr()[0] / config.learning_rate)
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    assert [shares[s] for s in (0, 1, 10, 15, 19)] == pytest.approx([start, *expected])
