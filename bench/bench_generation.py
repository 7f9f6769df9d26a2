"""Generation throughput: batched greedy decoding (left padding) at several batch sizes against
one prompt at a time, in the same process, on the default from-config student (untrained weights:
speed does not depend on them), without a KV cache (every new token recomputing the whole
sequence, as the Canon student did before its layers kept their states), with the dynamic cache,
and with the static one (what evaluation uses); all give the same tokens. Loading is timed apart; each row is timed once warm.
Reports prompts/s and generated tokens/s per row, labelled with device and dtype, and writes
bench/results/generation-<time>-<host>.json. Nothing is asserted.

    .venv/bin/python bench/bench_generation.py [--prompts 128] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import device_name, logical_parameters, peak_memory_gib, save_result  # noqa: E402
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate  # noqa: E402
from tracekd_ops.evaluate.generate import generate_with, load_for_generation  # noqa: E402
from tracekd_ops.traces.conditions import CORRECT, build_trace, condition  # noqa: E402
from tracekd_ops.traces.render import render_prompt  # noqa: E402
from tracekd_ops.train.models import build_tiny_model, train_tokenizer  # noqa: E402
from tracekd_ops.train.settings import TinyModelConfig  # noqa: E402


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-sizes", default="1,8,32,128")
    args = parser.parse_args()

    records = generate(SyntheticConfig(train_per_task=300, test_per_task=max(1, args.prompts // len(TASKS) + 1)))
    train = [build_trace(condition(CORRECT), r, list(TASKS)) for r in records if r.split == "train"]
    prompts = [render_prompt(r) for r in records if r.split == "test"][: args.prompts]
    config = TinyModelConfig()
    tokenizer = train_tokenizer([t.prompt + t.completion for t in train], config.vocab_size)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_model(tokenizer, config, seed=0).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        started = time.perf_counter()
        model, loaded_tokenizer = load_for_generation(Path(folder))
        load_s = time.perf_counter() - started
        device = next(model.parameters()).device.type
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        generate_with(model, loaded_tokenizer, prompts[:4], batch_size=4, max_new_tokens=4)  # warm-up
        print(f"{device_name()}: {len(prompts)} prompts, up to {args.max_new_tokens} new tokens, "
              f"{logical_parameters(model):,} params, loaded in {load_s:.1f} s")  # fmt: skip
        print(f"{'batch':>6} {'cache':>7} {'dev':>5} {'dtype':>8} {'seconds':>8} {'prompts/s':>10} {'tokens/s':>9} {'vs batch 1':>10} {'vs no cache':>11}")
        baseline = None
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            uncached = None
            for cache in ("off", "dynamic", "static"):
                model.generation_config.use_cache = cache != "off"
                model.generation_config.cache_implementation = "static" if cache == "static" else None
                started = time.perf_counter()
                outputs = generate_with(model, loaded_tokenizer, prompts, batch_size=batch_size, max_new_tokens=args.max_new_tokens)
                seconds = time.perf_counter() - started
                tokens = sum(len(ids) for ids in loaded_tokenizer(outputs, add_special_tokens=False)["input_ids"])
                row = {"batch": batch_size, "kv_cache": cache, "device": device, "dtype": dtype, "seconds": seconds,
                       "prompts_per_s": len(prompts) / seconds, "generated_tokens_per_s": tokens / seconds, "load_s": load_s,
                       "peak_memory_gib": peak_memory_gib(), "same_outputs_as_no_cache": None if uncached is None else outputs == uncached[1]}  # fmt: skip
                baseline = baseline or row
                versus = f"{row['prompts_per_s'] / uncached[0]['prompts_per_s']:>10.1f}x" if uncached else "          –"
                print(f"{batch_size:>6} {cache:>7} {device:>5} {dtype:>8} {seconds:>8.2f} {row['prompts_per_s']:>10.1f} "
                      f"{row['generated_tokens_per_s']:>9,.0f} {row['prompts_per_s'] / baseline['prompts_per_s']:>9.1f}x {versus}"
                      + ("" if row["same_outputs_as_no_cache"] in (None, True) else "  OUTPUTS DIFFER"))  # fmt: skip
                rows.append(row)
                uncached = uncached or (row, outputs)
    print(f"saved {save_result('generation', rows, {'prompts': len(prompts), 'max_new_tokens': args.max_new_tokens, 'torch_threads': torch.get_num_threads()})}")


if __name__ == "__main__":
    main()
