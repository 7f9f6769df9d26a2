"""`tracekd plan`: an experiment file laid out before anything trains: every fine-tune of the grid
(dataset x condition x student x seed), its training examples and tokens, and the GPU-hours the
newest GPU benchmark result says it takes (or that no such result exists yet).

Nothing is trained or downloaded: the traces are rendered from the datasets' files, and tokens are
counted with each base model's tokenizer when it is on this machine, else with SmolLM2's (which
ships offline; a close estimate for Llama- and Qwen-family tokenizers), said per row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from tracekd_ops.datasets import dataset_names, dataset_spec
from tracekd_ops.steps.data import RawRequest, load_raw
from tracekd_ops.traces.conditions import CONDITIONS, build_trace_set, condition, runnable
from tracekd_ops.train.experiment import ExperimentFile
from tracekd_ops.train.models import format_prompts
from tracekd_ops.train.settings import TrainingConfig

Log = Callable[[str], None]
ESTIMATOR = "smollm2-135m-instruct"
"""The tokenizer that stands in for a base model's own when that is not on this machine."""


@dataclass(frozen=True)
class FineTune:
    dataset: str
    condition: str
    student: str
    base_model: str
    seed: int
    mode: str
    examples: int
    train_tokens: int
    tokenizer: str
    gpu_hours: float | None


def check_experiment(experiment: ExperimentFile, where: str) -> None:
    """The experiment's datasets and conditions are ones TraceKD knows (the train wing cannot check)."""
    for field, given, known in (("datasets", experiment.datasets, dataset_names()), ("conditions", experiment.conditions, CONDITIONS)):
        unknown = sorted(set(given or ()) - set(known))
        if unknown:
            raise ValueError(f"{where}: {field}: unknown {unknown}; known: {', '.join(known)}")


def gpu_rates(results: Path) -> tuple[dict[str, float], str | None]:
    """Steady training tokens/s per mode on a GPU, from the newest benchmark result that has GPU
    rows (`bench/bench_training.py`, `bench/gpu_check.sh`), and which file said so."""
    for path in sorted(results.glob("training-*.json"), reverse=True):
        try:
            rows = json.loads(path.read_text()).get("rows", [])
        except (OSError, ValueError):
            continue
        rates = {r["mode"]: float(r["steady_tokens_per_s"]) for r in rows if r.get("device") == "cuda" and r.get("engine") == "trl"}
        if rates:
            return rates, path.name
    return {}, None


def _tokenizer(base_model: str, cache: dict[str, tuple[Any, str]]) -> tuple[Any, str]:
    """(tokenizer, whose): the base model's own when it is here, else the estimator's."""
    if base_model not in cache:
        from transformers import AutoTokenizer

        from tracekd_ops.train.bases import resolve_base_model

        try:
            cache[base_model] = (AutoTokenizer.from_pretrained(resolve_base_model(base_model), local_files_only=True), "own")
        except (OSError, ValueError):
            estimator = _tokenizer(ESTIMATOR, cache)[0] if base_model != ESTIMATOR else None
            if estimator is None:
                raise
            cache[base_model] = (estimator, f"estimated with {ESTIMATOR}'s")
    return cache[base_model]


def plan_experiment(experiment: ExperimentFile, sources: Mapping[str, str], protocol: str, results: Path, log: Log) -> list[FineTune]:
    """Every fine-tune of the experiment, with its training tokens and estimated GPU-hours."""
    datasets = experiment.datasets or ["synthetic"]
    conditions, left_out = runnable(experiment.conditions or CONDITIONS, teacher_configured=False)
    for name, reason in left_out.items():
        log(f"{name}: not laid out ({reason.split(':')[0]})")
    rates, rated_by = gpu_rates(results)
    log(f"GPU-hours from {rated_by}" if rated_by else "no GPU benchmark result in bench/results (run bench/gpu_check.sh on a GPU): GPU-hours unknown")
    tokenizers: dict[str, tuple[Any, str]] = {}
    plan = []
    for dataset in datasets:
        spec = dataset_spec(dataset)
        raw = load_raw(spec, RawRequest(sources.get(dataset), protocol))
        train = [r for r in raw.records if r.split == "train"]
        log(f"{dataset}: {len(train)} training questions ({raw.source}, protocol {raw.protocol})")
        for name in conditions:
            rows, _ = build_trace_set(condition(name), train, spec.labels)
            for student in experiment.students:
                tokenizer, whose = _tokenizer(student.base_model, tokenizers) if not student.from_config else (None, "whitespace words")
                if tokenizer is None:
                    lengths = [len((r.prompt + r.completion).split()) for r in rows]
                else:
                    texts = [p + r.completion for p, r in zip(format_prompts(tokenizer, [r.prompt for r in rows]), rows)]
                    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
                for seed in student.seeds:
                    config = student.training_config(seed, TrainingConfig())
                    tokens = train_tokens(config, lengths)
                    rate = rates.get(config.mode)
                    plan.append(FineTune(dataset, name, student.name, student.base_model, seed, config.mode, len(rows), tokens,
                                         whose, tokens / rate / 3600 if rate else None))  # fmt: skip
    return plan


def train_tokens(config: TrainingConfig, lengths: list[int]) -> int:
    """Tokens a fine-tune trains on: `epochs` passes over the examples, or `max_steps` batches of
    `batch_size x grad_accumulation` examples of the mean length."""
    if not lengths:
        return 0
    if config.max_steps > 0:
        return round(config.max_steps * config.batch_size * config.grad_accumulation * sum(lengths) / len(lengths))
    return round(config.epochs * sum(lengths))
