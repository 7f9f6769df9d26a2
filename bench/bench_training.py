"""Training throughput: tokens/s and model FLOPs utilisation (MFU) of TraceKD's SFT path.

- CPU (always): the demo's tiny from-config student, full fine-tuning in fp32, at two batch sizes.
- CUDA (when a GPU is present): LoRA in bf16 on a from-config model of Llama-3.2-1B's shape
  (random weights, no download), through the same `train_student` the assets use.

MFU = achieved model FLOPs/s / peak FLOPs/s. Model FLOPs per trained token: 6N for full
fine-tuning (forward 2N, backward 4N); 4N for LoRA (the frozen base still back-propagates
activations, 2N, but computes no weight gradients). The peak is *measured* with a large matmul in
the training dtype, so the MFU is against what this machine achieves, not a datasheet.
Prints numbers; asserts nothing.

    .venv/bin/python bench/bench_training.py [--steps 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracekd_ops.traces.conditions import CORRECT, build_trace  # noqa: E402
from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate  # noqa: E402
from tracekd_ops.train.models import train_tokenizer  # noqa: E402
from tracekd_ops.train.settings import LORA, TinyModelConfig, TrainingConfig  # noqa: E402
from tracekd_ops.train.trainer import train_student  # noqa: E402


def measured_peak_flops(dtype_name: str, device: str, size: int = 2048, repeats: int = 10) -> float:
    """FLOPs/s of a square matmul in `dtype` on `device`: the achievable peak to divide by."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def run(label: str, prompts, completions, config: TrainingConfig, flops_per_param_token: int, peak: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = train_student(prompts, completions, Path(folder), config, log=lambda _: None)
    tokens_s = result.train_tokens / result.train_seconds
    mfu = flops_per_param_token * result.num_parameters * tokens_s / peak
    print(f"{label:<34} {result.num_parameters / 1e6:>8.2f} {result.steps:>6} {result.train_tokens:>9,} "
          f"{result.train_seconds:>8.1f} {tokens_s:>10,.0f} {mfu:>7.2%}")  # fmt: skip


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    records = [r for r in generate(SyntheticConfig(train_per_task=400, test_per_task=1)) if r.split == "train"]
    rows = [build_trace(CORRECT, r, list(TASKS)) for r in records]
    prompts, completions = [r.prompt for r in rows], [r.completion for r in rows]

    cpu_peak = measured_peak_flops("float32", "cpu")
    print(f"CPU: {torch.get_num_threads()} threads, measured fp32 matmul peak {cpu_peak / 1e9:,.1f} GFLOP/s")
    print(f"{'run':<34} {'params M':>8} {'steps':>6} {'tokens':>9} {'seconds':>8} {'tokens/s':>10} {'MFU':>7}")
    for batch in (8, 32):
        config = TrainingConfig(max_steps=args.steps, batch_size=batch, log_every=10_000, save_every=10_000, model=TinyModelConfig())
        run(f"tiny full fp32, batch {batch}", prompts, completions, config, 6, cpu_peak)

    if not torch.cuda.is_available():
        print("no CUDA GPU here: the bf16 LoRA run on a Llama-3.2-1B-shaped model is skipped")
        return
    from transformers import LlamaConfig, LlamaForCausalLM

    gpu_peak = measured_peak_flops("bfloat16", "cuda", size=8192, repeats=20)
    print(f"GPU: {torch.cuda.get_device_name()}, measured bf16 matmul peak {gpu_peak / 1e12:,.1f} TFLOP/s")
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = train_tokenizer(prompts + completions, 2000)
        shape = LlamaConfig(  # Llama-3.2-1B's shape, random weights
            vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
            num_key_value_heads=8, max_position_embeddings=2048, tie_word_embeddings=True, rope_theta=500000.0,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        )  # fmt: skip
        LlamaForCausalLM(shape).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        config = TrainingConfig(base_model=folder, mode=LORA, max_steps=args.steps, batch_size=16, learning_rate=2e-4,
                                log_every=10_000, save_every=10_000, max_length=512)  # fmt: skip
        run("llama-1b-shape LoRA bf16, batch 16", prompts, completions, config, 4, gpu_peak)


if __name__ == "__main__":
    main()
