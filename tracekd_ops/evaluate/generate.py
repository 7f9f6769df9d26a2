"""Batched greedy generation of a student (or of an untuned base model, the baseline), within the
model's context: a batch generates at most as many tokens as its longest prompt leaves room for,
and a prompt that leaves no room at all gets no output (scored wrong) and is counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from tracekd_ops.train.bases import quiet_progress_bars
from tracekd_ops.train.models import format_prompts, load_pretrained, load_student
from tracekd_ops.train.trainer import context_length


def load_for_generation(model_dir: Path | str) -> tuple[Any, Any]:
    """(model, tokenizer) ready to decode: a saved student, or a base model id/path/name (the
    untuned baseline), on CUDA when there is one, in eval mode, padding on the left."""
    import torch

    quiet_progress_bars()
    model, tokenizer = load_student(Path(model_dir)) if Path(model_dir).exists() else load_pretrained(str(model_dir))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    model.eval()
    # the dynamic KV cache: a static one gave the same tokens at 0.96-1.04x its speed on this CPU
    # (bench_generation, 2026-12-04), not worth a cache sized per batch
    model.generation_config.use_cache = True  # Canon students saved before their layers kept a cache said False
    return model, tokenizer


def generate_completions(
    model_dir: Path | str,
    prompts: Sequence[str],
    batch_size: int = 64,
    max_new_tokens: int = 64,
    log: Callable[[str], None] | None = None,
) -> list[str]:
    """Batched greedy decoding with left padding, so every row of a batch ends at its prompt.
    `model_dir` is a saved student, or a base model id/path (the untuned baseline)."""
    model, tokenizer = load_for_generation(model_dir)
    return generate_with(model, tokenizer, prompts, batch_size, max_new_tokens, log)


def generate_with(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    batch_size: int = 64,
    max_new_tokens: int = 64,
    log: Callable[[str], None] | None = None,
) -> list[str]:
    """Decode `prompts` with a loaded model (see `load_for_generation`)."""
    import torch

    device = next(model.parameters()).device
    formatted = format_prompts(tokenizer, prompts)
    templated = bool(getattr(tokenizer, "chat_template", None))  # the template writes any BOS itself
    context = context_length(model)
    lengths = [len(ids) for ids in tokenizer(formatted, add_special_tokens=not templated)["input_ids"]]
    fits = [i for i, n in enumerate(lengths) if n < context]
    if len(fits) < len(formatted) and log is not None:
        log(f"{len(formatted) - len(fits)} of {len(formatted)} prompts are as long as the model's {context}-token context: "
            "no output for them (scored wrong)")  # fmt: skip
    outputs = [""] * len(formatted)
    shortened = 0
    with torch.inference_mode():
        for start in range(0, len(fits), batch_size):
            rows = fits[start : start + batch_size]
            batch = tokenizer([formatted[i] for i in rows], return_tensors="pt", padding=True, add_special_tokens=not templated).to(device)
            room = min(max_new_tokens, context - batch["input_ids"].shape[1])
            shortened += room < max_new_tokens
            generated = model.generate(
                **batch,
                do_sample=False,
                max_new_tokens=room,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            for i, text in zip(rows, tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)):
                outputs[i] = text
    if shortened and log is not None:
        log(f"{shortened} batches generated fewer than {max_new_tokens} tokens: their prompts left less room in the context")
    return outputs
