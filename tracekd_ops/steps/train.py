"""Step `student`: every student of the experiment file, on every seed, fine-tuned on one
condition's stored traces and registered as a new revision (listed in the registry index)."""

from __future__ import annotations

import shutil
from typing import Any, Callable

from tracekd_ops.core.lineage import Lineage
from tracekd_ops.core.metadata import Markdown
from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.registry.base import PENDING, Registry
from tracekd_ops.registry.index import RegistryIndex
from tracekd_ops.steps.outcome import StepOutcome
from tracekd_ops.store.store import Store
from tracekd_ops.traces.conditions import Condition
from tracekd_ops.traces.render import TEMPLATE_PHRASES
from tracekd_ops.traces.tables import read_traces
from tracekd_ops.train.experiment import ExperimentFile
from tracekd_ops.train.settings import TrainingConfig
from tracekd_ops.train.trainer import TrainResult, last_checkpoint, train_student

Log = Callable[[str], None]
Train = Callable[..., TrainResult]
"""`train_student`'s signature: in this process by default; the Dagster layer can pass one that
launches the same training elsewhere (torchrun through Dagster Pipes)."""


def train_summary(result: TrainResult, examples: int) -> dict[str, Any]:
    """What a training run did, as recorded on its registry row and model card."""
    return {
        "steps": result.steps,
        "train_seconds": round(result.train_seconds, 1),
        "final_loss": result.final_loss,
        "num_parameters": result.num_parameters,
        "trainable_parameters": result.trainable_parameters,
        "train_tokens": result.train_tokens,
        "tokens_per_second": round(result.train_tokens / result.train_seconds, 1) if result.train_seconds else None,
        "mean_completion_tokens": round(result.mean_completion_tokens, 2),
        "stopped_by_time_budget": result.stopped_by_time_budget,
        "resumed_from_step": result.resumed_from_step,
        "mode": result.mode,
        "train_examples": examples,
        "dropped_too_long": result.dropped_too_long,
        "longest_sequence_tokens": result.longest_sequence_tokens,
        "context_tokens": result.context_tokens,
    }


def _complete_pending(index: RegistryIndex, registry: Registry, lineage: Lineage, fingerprint: str, log: Log) -> list[dict[str, Any]]:
    """Finish the pushes of earlier runs of this very training whose upload failed, newest first;
    their outcomes (still `pending` where the push failed again). Never retrains."""
    outcomes = []
    for entry in index.pending(lineage, fingerprint):
        log(f"completing the push of pending revision {entry.local_revision} (no retraining)")
        done = registry.complete(entry.registered())
        index.update(done)
        outcomes.append({"model_name": done.model_name, "revision": done.revision, "status": done.status, "seed": lineage.seed,
                         "student": lineage.student, "completed_pending_push": done.status != PENDING, "error": done.error})  # fmt: skip
    return outcomes


def train_students(
    store: Store, registry: Registry, spec: DatasetSpec, condition: Condition, experiment: ExperimentFile, defaults: TrainingConfig,
    log: Callable[[str], None], error: Callable[[str], None], train: Train = train_student,
) -> StepOutcome:  # fmt: skip
    """Train and register every student of the experiment on every seed; the outcome fails (with
    the checkpoints kept as pending) when a push to the registry failed."""
    dataset, name = spec.name, condition.name
    frame = read_traces(store, dataset, name)
    if frame.empty:
        raise ValueError(f"no stored traces for {dataset}/{name}: materialize traces first")
    version = str(frame["trace_set_version"].iloc[0])
    index = RegistryIndex(store)
    phrases = spec.vocabulary_phrases + TEMPLATE_PHRASES  # for from-config students' tokenizers
    students: list[dict[str, Any]] = []
    curves: dict[str, list[tuple[int, float]]] = {}
    for student in experiment.students:
        for seed in student.seeds:
            config = student.training_config(seed, defaults)
            fingerprint = config.fingerprint()
            lineage = Lineage(dataset, name, student.name, config.base_model, seed, version)
            say = lambda line, model=lineage.model_name: log(f"[{model}] {line}")  # noqa: E731
            completed = _complete_pending(index, registry, lineage, fingerprint, say)
            if completed:  # trained already: only its push was missing
                students += completed
                continue
            work = registry.work_dir(lineage, fingerprint)
            say(f"training ({config.mode}) on {len(frame)} traces, trace_set_version {version}, settings {fingerprint}")
            try:
                result = train(list(frame["prompt"]), list(frame["completion"]), work, config, log=say, phrases=phrases)
            except BaseException:
                if last_checkpoint(work) is None:  # nothing a later run could resume: leave no empty folder behind
                    shutil.rmtree(work, ignore_errors=True)
                raise
            summary = train_summary(result, len(frame))
            hyperparameters = config.as_dict()
            registered = registry.register(work, lineage, hyperparameters, summary)
            index.record(registered, lineage, fingerprint, hyperparameters, summary)
            if registered.status == PENDING:
                error(f"[{lineage.model_name}] push failed, checkpoint kept on disk as pending: {registered.error}")
            else:
                say(f"registered {registered.model_name}@{registered.revision} ({registered.backend})")
            students.append({"model_name": registered.model_name, "revision": registered.revision,
                             "status": registered.status, "seed": seed, "student": student.name, **summary})  # fmt: skip
            curves[f"{student.name}/seed{seed}"] = result.loss_curve
    pending = [s for s in students if s["status"] == PENDING]
    failure = (
        f"{len(pending)} of {len(students)} students could not be pushed to the registry; their checkpoints are "
        "kept and marked pending in the `registry` table; materialize this partition again to complete the push"
    ) if pending else None  # fmt: skip
    metadata = {
        "dataset": dataset,
        "condition": name,
        "trace_set_version": version,
        "students": students,
        "experiment": experiment.model_dump(),
        "loss_curves": Markdown(loss_table(curves)),
        "registry_backend": registry.backend,
    }
    return StepOutcome(metadata=metadata, tables=("registry",), failure=failure)


def loss_table(curves: dict[str, list[tuple[int, float]]]) -> str:
    steps = sorted({s for curve in curves.values() for s, _ in curve})
    if not steps:
        return "(no loss logged)"
    names = sorted(curves)
    by_name = {name: dict(curve) for name, curve in curves.items()}
    header = "| step | " + " | ".join(names) + " |\n|---|" + "---|" * len(names)
    rows = [f"| {s} | " + " | ".join(f"{by_name[n][s]:.4f}" if s in by_name[n] else "" for n in names) + " |" for s in steps]
    return "\n".join([header, *rows])
