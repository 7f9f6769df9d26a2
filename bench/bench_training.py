"""Training throughput: steady-state tokens/s and model FLOPs utilisation (MFU) of TraceKD's SFT
path (TRL), against a bare PyTorch loop on the same model, tokens and batch in the same process.

- CPU (always): the demo's tiny from-config student, full fine-tuning in fp32, at two batch sizes,
  each next to the bare loop.
- CUDA (when a GPU is present): a Llama-3.2-1B-shaped model (random weights, from config, no
  download) in bf16 at the study's sequence lengths (stories of 40-120 facts): full, LoRA, QLoRA
  (bitsandbytes 4-bit, when installed), each padded and packed, and the bare loop.

Only steady-state steps are timed (the first `--warmup` steps are left out); trainer setup
(tokenisation, model build) and saving are reported apart. MFU = achieved model FLOPs/s over the
*measured* matmul peak of the device and dtype each row ran in: 6N per trained token for full
fine-tuning, 4N for LoRA/QLoRA (the frozen base back-propagates activations but computes no weight
gradients), N counted unpacked for 4-bit weights. Every row names its device and dtype. Results go
to bench/results/training-<time>-<host>.json; nothing is asserted.

    .venv/bin/python bench/bench_training.py [--steps 30] [--warmup 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import StepClock, device_name, logical_parameters, measured_peak_flops, peak_memory_gib, save_result  # noqa: E402
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate  # noqa: E402
from tracekd_ops.traces.conditions import CORRECT, build_trace, condition  # noqa: E402
from tracekd_ops.train.models import build_tiny_model, train_tokenizer  # noqa: E402
from tracekd_ops.train.settings import FULL, LORA, QLORA, TinyModelConfig, TrainingConfig  # noqa: E402
from tracekd_ops.train.trainer import build_trainer  # noqa: E402

FLOPS_PER_PARAMETER_TOKEN = {FULL: 6, LORA: 4, QLORA: 4}


def clock_callback(clock: StepClock) -> Any:
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            clock.mark(int(state.num_input_tokens_seen))

    return Clock()


def padding_share(trainer: Any, batches: int = 40) -> float:
    """Share of the tokens in the first `batches` training batches that are padding (a padded
    batch's masked positions; a packed row has none but the collator's fill)."""
    total = real = 0
    for number, batch in enumerate(trainer.get_train_dataloader()):
        if number == batches:
            break
        total += batch["input_ids"].numel()
        real += int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()
    return 1 - real / total


def trl_row(label: str, prompts: Sequence[str], completions: Sequence[str], config: TrainingConfig, peak: float, warmup: int) -> dict[str, Any]:
    """One TRL run through TraceKD's own `build_trainer`: setup, steady steps and saving timed apart."""
    import torch

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        trainer = build_trainer(prompts, completions, Path(folder), config, log=lambda _: None)
        setup_s = time.perf_counter() - started
        padding = padding_share(trainer)
        clock = StepClock(warmup=warmup)
        trainer.add_callback(clock_callback(clock))
        trainer.train()
        started = time.perf_counter()
        trainer.save_model(folder)
        save_s = time.perf_counter() - started
    mode = trainer.effective_mode
    n = logical_parameters(trainer.model)
    tokens_s = clock.steady_tokens_per_second()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {
        "run": label, "engine": "trl", "mode": mode, "device": device, "dtype": "bf16" if device == "cuda" else "fp32",
        "batch": config.batch_size, "batching": trainer.batching, "padding_share": padding, "parameters_m": n / 1e6,
        "steady_tokens_per_s": tokens_s,
        "seconds_per_step": clock.steady_seconds_per_step(), "mfu": FLOPS_PER_PARAMETER_TOKEN[mode] * n * tokens_s / peak,
        "setup_s": setup_s, "save_s": save_s, "peak_memory_gib": peak_memory_gib(),
    }  # fmt: skip


def bare_row(label: str, model: Any, tokenizer: Any, prompts: Sequence[str], completions: Sequence[str], batch: int, steps: int,
             peak: float, warmup: int, lr: float = 2e-3) -> dict[str, Any]:  # fmt: skip
    """The same model and tokens in a plain PyTorch loop: AdamW, loss on the completion only,
    batches padded to their longest row (as TRL's collator does)."""
    import torch

    device = next(model.parameters()).device
    dtype = "bf16" if device.type == "cuda" else "fp32"
    rows = []
    for prompt, completion in zip(prompts, completions):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append((p + c, [-100] * len(p) + c))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    clock, seen = StepClock(warmup=warmup), 0
    for step in range(steps):
        chunk = rows[(step * batch) % len(rows) :][:batch]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i, _ in chunk], device=device)
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in chunk], device=device)
        mask = (torch.arange(width, device=device)[None, :] < torch.tensor([len(i) for i, _ in chunk], device=device)[:, None]).long()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seen += int(mask.sum())
        clock.mark(seen)
    n = logical_parameters(model)
    tokens_s = clock.steady_tokens_per_second()
    return {
        "run": label, "engine": "bare loop", "mode": FULL, "device": device.type, "dtype": dtype, "batch": batch,
        "parameters_m": n / 1e6, "steady_tokens_per_s": tokens_s, "seconds_per_step": clock.steady_seconds_per_step(),
        "mfu": 6 * n * tokens_s / peak, "setup_s": None, "save_s": None, "peak_memory_gib": peak_memory_gib(),
    }  # fmt: skip


def show(row: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    ratio = f"{row['steady_tokens_per_s'] / baseline['steady_tokens_per_s']:>6.2f}x" if baseline else "      "
    setup = f"{row['setup_s']:>7.1f}" if row["setup_s"] is not None else "      –"
    padding = f"{row['padding_share']:>7.1%}" if row.get("padding_share") is not None else "      –"
    print(f"{row['run']:<38} {row['device']:>5} {row['dtype']:>5} {row['parameters_m']:>8.2f} {row['steady_tokens_per_s']:>10,.0f} "
          f"{ratio} {row['mfu']:>7.2%} {setup} {row['peak_memory_gib']:>7.2f} {padding} {row['seconds_per_step']:>7.3f}")  # fmt: skip


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    records = [r for r in generate(SyntheticConfig(train_per_task=400, test_per_task=1)) if r.split == "train"]
    traces = [build_trace(condition(CORRECT), r, list(TASKS)) for r in records]
    prompts, completions = [t.prompt for t in traces], [t.completion for t in traces]
    cuda = torch.cuda.is_available()
    peak = measured_peak_flops("bfloat16", "cuda", size=8192, repeats=20) if cuda else measured_peak_flops("float32", "cpu")
    print(f"{device_name()}: measured {'bf16' if cuda else 'fp32'} matmul peak {peak / 1e9:,.1f} GFLOP/s")
    print(f"{'run':<38} {'dev':>5} {'dtype':>5} {'params M':>8} {'tokens/s':>10} {'vs bare':>7} {'MFU':>7} {'setup s':>7} {'mem GiB':>7} "
          f"{'padding':>7} {'s/step':>7}")  # fmt: skip
    rows: list[dict[str, Any]] = []
    shape = TinyModelConfig()
    for batch in (8, 32):
        tokenizer = train_tokenizer([p + c for p, c in zip(prompts, completions)], shape.vocab_size)
        model = build_tiny_model(tokenizer, shape, seed=0).to("cuda" if cuda else "cpu")
        bare = bare_row(f"tiny full, batch {batch}", model, tokenizer, prompts, completions, batch, args.steps, peak, args.warmup)
        show(bare, None)
        rows.append(bare)
        for batching in ("padded", "packed"):
            config = TrainingConfig(max_steps=args.steps, batch_size=batch, log_every=10_000, save_every=10_000, model=shape, batching=batching)
            trl = trl_row(f"tiny full, batch {batch}, {batching}", prompts, completions, config, peak, args.warmup)
            show(trl, bare)
            rows.append(trl)
    if cuda:  # the study's sequence lengths: stories of 40-120 facts, prompts of hundreds to ~1,000 tokens
        long = [r for r in generate(SyntheticConfig(train_per_task=300, test_per_task=1, min_facts=40, max_facts=120)) if r.split == "train"]
        long_traces = [build_trace(condition(CORRECT), r, list(TASKS)) for r in long]
        rows += gpu_rows([t.prompt for t in long_traces], [t.completion for t in long_traces], peak, args)
    else:
        print("no CUDA GPU here: the Llama-3.2-1B-shaped bf16 rows (full, LoRA, QLoRA, bare loop) are skipped")
    print(f"saved {save_result('training', rows, {'steps': args.steps, 'warmup': args.warmup, 'peak_flops': peak})}")


def gpu_rows(prompts: Sequence[str], completions: Sequence[str], peak: float, args: argparse.Namespace) -> list[dict[str, Any]]:
    import importlib.util

    from transformers import LlamaConfig, LlamaForCausalLM

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = train_tokenizer([p + c for p, c in zip(prompts, completions)], 2000)
        shape = LlamaConfig(  # Llama-3.2-1B's shape, random weights
            vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
            num_key_value_heads=8, max_position_embeddings=2048, tie_word_embeddings=True, rope_theta=500000.0,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        )  # fmt: skip
        model = LlamaForCausalLM(shape)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        bare = bare_row("llama-1b-shape full, batch 16", model.to("cuda"), tokenizer, prompts, completions, 16, args.steps, peak, args.warmup, 2e-5)
        show(bare, None)
        rows.append(bare)
        del model
        modes = [FULL, LORA] + ([QLORA] if importlib.util.find_spec("bitsandbytes") else [])
        for mode in modes:
            for batching in ("padded", "packed"):
                config = TrainingConfig(base_model=folder, mode=mode, max_steps=args.steps, batch_size=16, learning_rate=2e-4,
                                        log_every=10_000, save_every=10_000, max_length=1024, batching=batching)  # fmt: skip
                row = trl_row(f"llama-1b-shape {mode}, batch 16, {batching}", prompts, completions, config, peak, args.warmup)
                show(row, bare)
                rows.append(row)
    return rows


if __name__ == "__main__":
    main()
