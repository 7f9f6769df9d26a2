"""Time to accuracy of the demo's student: how fast the from-config tiny student learns the
generated tasks, and against what.

Each variant (the default student, and a baseline in the same process: the same settings as a
plain Llama, `canon_kernel` 0) is trained through the project's own trainer (`build_trainer`: TRL,
the demo's data, prompts and tokenizer) on each condition and seed; every `--eval-every` steps the
model answers the test questions (greedy, as the evaluation asset does) and the answer accuracy per
task type, the trace accuracy and the training CPU seconds so far (evaluation left out) are
recorded. Prints one line per evaluation and a summary per run with the first step that reached
`--target` on every task, and writes bench/results/student_learning-<time>-<host>.json.
Nothing is asserted.

    .venv/bin/python bench/bench_student_learning.py [--conditions solution_only,correct] [--seeds 0]
        [--steps 600] [--eval-every 200] [--variants default,plain] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import save_result  # noqa: E402
from tracekd_ops.datasets.synthetic import PHRASES, SPEC, TASKS, SyntheticConfig, generate  # noqa: E402
from tracekd_ops.evaluate.generate import generate_with  # noqa: E402
from tracekd_ops.evaluate.metrics import category_baselines, score_prediction  # noqa: E402
from tracekd_ops.traces.conditions import build_trace_set, condition as condition_record  # noqa: E402
from tracekd_ops.traces.render import TEMPLATE_PHRASES, render_prompt  # noqa: E402
from tracekd_ops.train.settings import TrainingConfig  # noqa: E402
from tracekd_ops.train.trainer import build_trainer  # noqa: E402

VARIANTS = {
    "default": {},
    "plain": {"model": {"canon_kernel": 0}},
    "cosmin10": {"lr_scheduler": "cosine_with_min_lr", "min_lr_ratio": 0.1},
    "cosmin25": {"lr_scheduler": "cosine_with_min_lr", "min_lr_ratio": 0.25},
    "wsd": {"lr_scheduler": "warmup_stable_decay", "decay_ratio": 0.2, "min_lr_ratio": 0.1},
    "const": {"lr_scheduler": "constant_with_warmup"},
    "padded": {"batching": "padded"},
    "packed": {"batching": "packed"},
}
"""Settings changed from the demo's defaults; `plain` is the baseline (no Canon layers); the
schedule variants change only the learning-rate schedule; `padded`/`packed` only how examples
are batched (several examples a row, no padding, for `packed`)."""


def scores(test: list[Any], steps_stated: bool, outputs: list[str]) -> dict[str, float | None]:
    rows = [(record.category, score_prediction(SPEC, steps_stated, record, output)) for record, output in zip(test, outputs)]
    per_task: dict[str, list[bool]] = defaultdict(list)
    for category, row in rows:
        per_task[category].append(bool(row["answer_correct"]))
    result: dict[str, float | None] = {f"acc[{task}]": sum(v) / len(v) for task, v in sorted(per_task.items())}
    result["acc"] = sum(bool(r["answer_correct"]) for _, r in rows) / len(rows)
    traced = [r["trace_correct"] for _, r in rows if r["trace_correct"] is not None]
    result["trace"] = sum(traced) / len(traced) if traced else None
    return result


def main() -> None:
    import torch
    from transformers import TrainerCallback

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", default="solution_only,correct")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--steps", type=int, default=None, help="default: the demo's max_steps")
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--variants", default="default,plain")
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the demo trains students side by side on 1 each)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    records = generate(SyntheticConfig())
    train = [r for r in records if r.split == "train"]
    test = [r for r in records if r.split == "test"]
    prompts = [render_prompt(r) for r in test]
    baselines = category_baselines(SPEC, train, test)
    print("chance / majority per task: " + ", ".join(f"{b['category']} {b['chance_accuracy']:.3f}/{b['majority_accuracy']:.3f}" for b in baselines))
    rows: list[dict[str, Any]] = []
    for variant in args.variants.split(","):
        for condition in args.conditions.split(","):
            resolved = condition_record(condition)  # once per condition: its traces, and whether its steps are scored
            traces, _ = build_trace_set(resolved, train, list(TASKS))
            for seed in (int(s) for s in args.seeds.split(",")):
                config = TrainingConfig(seed=seed).with_changes(**VARIANTS[variant])
                if args.steps:
                    config = config.with_changes(max_steps=args.steps)
                run = {"variant": variant, "condition": condition, "seed": seed}
                curve: list[dict[str, Any]] = []

                class Evaluate(TrainerCallback):
                    cpu_started = 0.0
                    cpu_in_eval = 0.0

                    def on_train_begin(self, a, state, control, **kwargs):  # noqa: ANN001
                        self.cpu_started = time.process_time()

                    def on_step_end(self, a, state, control, model=None, processing_class=None, **kwargs):  # noqa: ANN001
                        step = state.global_step
                        if step % args.eval_every and step != state.max_steps:
                            return
                        started = time.process_time()
                        train_cpu_s = started - self.cpu_started - self.cpu_in_eval
                        model.eval()
                        processing_class.padding_side = "left"
                        outputs = generate_with(model, processing_class, prompts, batch_size=100, max_new_tokens=48)
                        processing_class.padding_side = "right"
                        model.train()
                        self.cpu_in_eval += time.process_time() - started
                        point = {**run, "step": step, "train_cpu_s": round(train_cpu_s, 1), **scores(test, resolved.writes_steps, outputs)}
                        curve.append(point)
                        print("  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in point.items()), flush=True)

                with tempfile.TemporaryDirectory() as folder:
                    trainer = build_trainer([t.prompt for t in traces], [t.completion for t in traces], Path(folder), config,
                                            log=lambda _: None, phrases=PHRASES + TEMPLATE_PHRASES)  # as the students step does
                    trainer.add_callback(Evaluate())
                    trainer.train()
                reached = next((p for p in curve if all(v >= args.target for k, v in p.items() if k.startswith("acc["))), None)
                summary = {**run, "steps": config.max_steps, "final": curve[-1], "first_step_at_target": reached and reached["step"],
                           "train_cpu_s_to_target": reached and reached["train_cpu_s"], "curve": curve}  # fmt: skip
                rows.append(summary)
                print(f"== {variant} {condition} seed {seed}: final acc {curve[-1]['acc']:.3f} "
                      f"(every task >= {args.target}: {'step ' + str(reached['step']) if reached else 'not reached'})", flush=True)  # fmt: skip
    for variant in args.variants.split(","):
        finals = [r["final"]["acc"] for r in rows if r["variant"] == variant]
        print(f"{variant}: mean final answer accuracy {sum(finals) / len(finals):.3f} over {len(finals)} runs")
    path = save_result("student_learning", rows, {"baselines": baselines, "target": args.target, "threads": args.threads})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
