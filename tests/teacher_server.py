"""A real OpenAI-compatible teacher on loopback (`tracekd_ops.teacher.local.serve`) running a tiny Llama that
this module trains (with TraceKD's own student trainer) to answer a handful of questions.

The model learns, for each training question, the exact request TraceKD's teacher layer sends:
an R1-style reply (`<think>reasoning</think><answer>...</answer>`) to the answer request, and a
short text to the summary and post-hoc requests that follow. The tokenizer carries a chat template
and a `response_template`, so the server splits the reasoning into `reasoning_content` the way
DeepSeek-style servers do. Everything is local: no download, no network beyond 127.0.0.1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tracekd_ops.core.records import QARecord
from tracekd_ops.train.models import EOS
from tracekd_ops.train.settings import TinyModelConfig, TrainingConfig
from tracekd_ops.train.trainer import train_student
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.teacher.requests import TeacherReply, answer_request, posthoc_request, summary_request

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
RESPONSE_TEMPLATE = {
    "defaults": {"role": "assistant"},
    "start_anchor": "<|assistant|>",
    "fields": {
        "reasoning_content": {"open": "<think>", "close": "</think>", "content": "text"},
        "content": {"close_pattern": r"\s*" + EOS, "content": "text"},
    },
}
WRONG_ANSWER = "nowhere"


def render_chat(messages: Sequence[tuple[str, str]]) -> str:
    """What CHAT_TEMPLATE renders (with the generation prompt): the training prompts must match
    the server's rendering token for token."""
    return "".join(f"<|{role}|>{content}{EOS}" for role, content in messages) + "<|assistant|>"


@dataclass(frozen=True)
class TeacherModel:
    path: Path
    reasoning: dict[str, str]
    answers: dict[str, str]
    requests: int
    """How many distinct requests a full round (answers, summaries, explanations) sends."""


def build_teacher_model(path: Path, records: Sequence[QARecord], config: TeacherConfig, wrong: set[str]) -> TeacherModel:
    """Train the tiny teacher: right answers except for the example ids in `wrong`."""
    prompts, completions = [], []
    reasoning, answers = {}, {}
    for record in records:
        facts = " ".join(f.text for f in record.facts if f.id in record.gold_fact_ids)
        reasoning[record.example_id] = f"Facts {list(record.gold_fact_ids)} say: {facts}"
        answers[record.example_id] = WRONG_ANSWER if record.example_id in wrong else record.answers[0]
        reply_text = f"<think>{reasoning[record.example_id]}</think><answer>{answers[record.example_id]}</answer>"
        asked = answer_request(config, record)
        prompts.append(render_chat(asked.messages))
        completions.append(reply_text)
        if record.example_id in wrong:
            continue
        # what the server will hand back for the answer request, as the teacher layer reads it
        reply = TeacherReply("", "ok", f"<answer>{answers[record.example_id]}</answer>", reasoning[record.example_id], None, 1, 0.0)
        prompts.append(render_chat(summary_request(config, asked, reasoning[record.example_id]).messages))
        completions.append(f"Summary: facts {list(record.gold_fact_ids)} give {answers[record.example_id]}.")
        prompts.append(render_chat(posthoc_request(config, asked, reply).messages))
        completions.append(f"It is right because facts {list(record.gold_fact_ids)} say so.")
    training = TrainingConfig(
        max_steps=240, learning_rate=3e-3, batch_size=8, warmup_ratio=0.02, log_every=1000,
        # a plain Llama (no Canon layers): `transformers serve` loads it without TraceKD's model type
        model=TinyModelConfig(hidden_size=96, num_layers=2, num_heads=4, intermediate_size=192, vocab_size=500, init_std=0.05, canon_kernel=0),
    )  # fmt: skip
    train_student(prompts, completions, path, training, log=lambda line: None)
    _add_chat_templates(path)
    return TeacherModel(path, reasoning, answers, len(prompts))


def _add_chat_templates(path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(str(path))
    config_path = path / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["response_template"] = RESPONSE_TEMPLATE
    config_path.write_text(json.dumps(config, indent=1))
    rendered = AutoTokenizer.from_pretrained(str(path)).apply_chat_template(
        [{"role": "user", "content": "q"}], add_generation_prompt=True, tokenize=False
    )
    assert rendered == render_chat([("user", "q")]), rendered
