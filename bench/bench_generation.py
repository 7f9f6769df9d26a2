"""Benchmark: batched greedy generation (left padding) vs one prompt at a time.

Builds the default from-config student (untrained weights: speed does not depend on them),
then decodes the same test prompts at several batch sizes and prints prompts/s and the speed-up
over batch size 1. Numbers only; nothing is asserted.

    .venv/bin/python bench/bench_generation.py [--prompts 128] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tracekd_ops.traces.conditions import CORRECT, build_trace
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.evaluate.generate import generate_completions
from tracekd_ops.train.models import build_tiny_model, train_tokenizer
from tracekd_ops.train.settings import TinyModelConfig
from tracekd_ops.traces.render import render_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-sizes", default="1,8,32,128")
    args = parser.parse_args()

    records = generate(SyntheticConfig(train_per_task=300, test_per_task=max(1, args.prompts // len(TASKS) + 1)))
    train = [build_trace(CORRECT, r, list(TASKS)) for r in records if r.split == "train"]
    prompts = [render_prompt(r) for r in records if r.split == "test"][: args.prompts]
    config = TinyModelConfig()
    tokenizer = train_tokenizer([t.prompt + t.completion for t in train], config.vocab_size)
    model = build_tiny_model(tokenizer, config, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        generate_completions(Path(folder), prompts[:4], batch_size=4, max_new_tokens=4)  # warm-up
        baseline = None
        print(f"{len(prompts)} prompts, {args.max_new_tokens} new tokens max, model {sum(p.numel() for p in model.parameters()):,} params")
        print(f"{'batch':>6} {'seconds':>8} {'prompts/s':>10} {'speed-up':>9}")
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            started = time.perf_counter()
            generate_completions(Path(folder), prompts, batch_size=batch_size, max_new_tokens=args.max_new_tokens)
            seconds = time.perf_counter() - started
            rate = len(prompts) / seconds
            baseline = baseline or rate
            print(f"{batch_size:>6} {seconds:>8.2f} {rate:>10.1f} {rate / baseline:>8.1f}x")


if __name__ == "__main__":
    main()
