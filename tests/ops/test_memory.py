"""Memory is planned before a student trains: the estimate grows as the shape says, the cheapest
plan that fits is chosen (no checkpointing, then checkpointing, then smaller micro-batches with
the same effective batch), and a student that cannot fit is refused before it starts."""

from __future__ import annotations

import pytest

from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.traces.conditions import CORRECT, build_trace, condition
from tracekd_ops.train import memory
from tracekd_ops.train.memory import GIB, DoesNotFit, Shape, estimate, fit
from tracekd_ops.train.settings import TinyModelConfig, TrainingConfig
from tracekd_ops.train.trainer import build_trainer

SMOLLM2_SHAPE = Shape(parameters=134_515_008, trainable=4_884_480, layers=30, hidden=576, intermediate=1536, heads=9, vocab=49152,
                      weight_bytes=4, activation_bytes=4)  # fmt: skip
"""SmolLM2-135M-Instruct with rank-16 LoRA adapters (the calibration case of `train.memory`)."""
ROWS = [build_trace(condition(CORRECT), r, list(TASKS)) for r in generate(SyntheticConfig(train_per_task=4, test_per_task=1)) if r.split == "train"]


def test_the_estimate_follows_the_shape():
    short, long = estimate(SMOLLM2_SHAPE, 8, 250, False), estimate(SMOLLM2_SHAPE, 8, 980, False)
    assert long.activations > 4 * short.activations  # attention scores grow with the square of the length
    assert estimate(SMOLLM2_SHAPE, 8, 980, True).activations < long.activations / 5
    full = Shape(**{**SMOLLM2_SHAPE.__dict__, "trainable": SMOLLM2_SHAPE.parameters})
    assert estimate(full, 8, 980, True).optimizer == 12 * SMOLLM2_SHAPE.parameters
    # the calibration: killed without checkpointing on a 24 GB machine, 7.4 GiB peak RSS with it
    assert estimate(SMOLLM2_SHAPE, 8, 980, False).total > 24 * GIB
    assert 6.5 * GIB < estimate(SMOLLM2_SHAPE, 8, 980, True).total < 8.5 * GIB


def test_the_cheapest_plan_that_fits_keeps_the_effective_batch():
    ample = fit(SMOLLM2_SHAPE, 8, 2, 250, 64 * GIB)
    assert (ample.checkpointing, ample.micro_batch, ample.accumulation) == (False, 8, 2)
    tight = fit(SMOLLM2_SHAPE, 8, 2, 980, 22 * GIB)
    assert (tight.checkpointing, tight.micro_batch, tight.accumulation) == (True, 8, 2)
    small = fit(SMOLLM2_SHAPE, 8, 2, 980, 4 * GIB)
    assert small.checkpointing and small.micro_batch < 8 and small.micro_batch * small.accumulation >= 8 * 2
    assert small.estimate.total <= 4 * GIB
    with pytest.raises(DoesNotFit, match=r"given 1\.0 GiB: give it more memory \(training\.memory_gib\)"):
        fit(SMOLLM2_SHAPE, 8, 1, 980, 1 * GIB)


def test_build_trainer_applies_the_plan_and_refuses_what_cannot_fit(tmp_path):
    prompts, completions = [r.prompt for r in ROWS], [r.completion for r in ROWS]
    shape = TinyModelConfig(hidden_size=32, num_heads=2)
    logged: list[str] = []
    trainer = build_trainer(prompts, completions, tmp_path / "a", TrainingConfig(max_steps=2, batch_size=8, model=shape), log=logged.append)
    assert any(line.startswith("memory: estimated peak") and "batch 8 at once, no activation checkpointing" in line for line in logged)
    assert trainer.args.per_device_train_batch_size == 8 and not trainer.args.gradient_checkpointing
    with pytest.raises(DoesNotFit, match="give it more memory"):
        build_trainer(prompts, completions, tmp_path / "b", TrainingConfig(max_steps=2, batch_size=8, model=shape, memory_gib=0.1),
                      log=lambda _: None)  # fmt: skip


def test_the_machine_says_what_it_has():
    assert memory.available_memory() > 256 << 20
