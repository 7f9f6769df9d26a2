"""The model card of a registered student: Hugging Face `ModelCardData` front matter and a
Markdown body naming its lineage, hyper-parameters, training summary and (once evaluated) results.
Built only from those: no environment, no secrets."""

from __future__ import annotations

import json
from typing import Any

from tracekd_ops.core.lineage import Lineage


def render_model_card(
    lineage: Lineage,
    hyperparameters: dict[str, Any],
    summary: dict[str, Any],
    eval_results: dict[str, float] | None = None,
) -> str:
    """A Hugging Face model card (YAML front matter from `ModelCardData` + Markdown) naming the
    lineage keys. Built only from lineage, hyper-parameters, the training summary and, when
    known, evaluation results: no environment, no secrets."""
    from huggingface_hub import EvalResult, ModelCardData

    results = [
        EvalResult(
            task_type="question-answering",
            dataset_type=lineage.dataset,
            dataset_name=lineage.dataset,
            metric_type=name,
            metric_value=value,
        )
        for name, value in sorted((eval_results or {}).items())
    ]
    data = ModelCardData(
        library_name="peft" if hyperparameters.get("mode") in ("lora", "qlora") else "transformers",
        base_model=None if lineage.base_model.startswith("tiny-") else lineage.base_model,
        datasets=[lineage.dataset],
        tags=["tracekd", f"condition:{lineage.condition}", f"seed:{lineage.seed}", "trl", "sft"],
        model_name=lineage.model_name,
        eval_results=results or None,
    )
    lines = ["---", data.to_yaml(), "---", ""]
    lines += [
        f"# {lineage.model_name}",
        "",
        "A TraceKD student fine-tuned with TRL `SFTTrainer` (loss on the completion only).",
        "",
        "| key | value |",
        "|---|---|",
        f"| dataset | `{lineage.dataset}` |",
        f"| trace condition | `{lineage.condition}` |",
        f"| student | `{lineage.student}` |",
        f"| trace_set_version | `{lineage.trace_set_version}` |",
        f"| base model | `{lineage.base_model}` |",
        f"| seed | {lineage.seed} |",
        "",
        "## Hyper-parameters",
        "",
        "```json",
        json.dumps(hyperparameters, indent=2, sort_keys=True),
        "```",
        "",
        "## Training summary",
        "",
        "```json",
        json.dumps(summary, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)
