"""Batched greedy generation of a student (or of an untuned base model, the baseline)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tracekd_ops.train.models import format_prompts, load_pretrained, load_student, quiet_progress_bars


def generate_completions(
    model_dir: Path | str, prompts: Sequence[str], batch_size: int = 64, max_new_tokens: int = 64
) -> list[str]:
    """Batched greedy decoding with left padding, so every row of a batch ends at its prompt.
    `model_dir` is a saved student, or a base model id/path (the untuned baseline)."""
    import torch

    quiet_progress_bars()
    model, tokenizer = load_student(Path(model_dir)) if Path(model_dir).exists() else load_pretrained(str(model_dir))
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
