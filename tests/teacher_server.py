"""A real OpenAI-compatible teacher on loopback: `transformers serve` running a tiny Llama that
this module trains (with TraceKD's own student trainer) to answer a handful of questions.

The model learns, for each training question, the exact request TraceKD's teacher layer sends:
an R1-style reply (`<think>reasoning</think><answer>...</answer>`) to the answer request, and a
short text to the summary and post-hoc requests that follow. The tokenizer carries a chat template
and a `response_template`, so the server splits the reasoning into `reasoning_content` the way
DeepSeek-style servers do. Everything is local: no download, no network beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

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
        prompts.append(render_chat(answer_request(config, record).messages))
        completions.append(reply_text)
        if record.example_id in wrong:
            continue
        # what the server will hand back for the answer request, as the teacher layer reads it
        reply = TeacherReply("", "ok", f"<answer>{answers[record.example_id]}</answer>", reasoning[record.example_id], None, 1, 0.0)
        prompts.append(render_chat(summary_request(config, reasoning[record.example_id]).messages))
        completions.append(f"Summary: facts {list(record.gold_fact_ids)} give {answers[record.example_id]}.")
        prompts.append(render_chat(posthoc_request(config, record, reply).messages))
        completions.append(f"It is right because facts {list(record.gold_fact_ids)} say so.")
    training = TrainingConfig(
        max_steps=240, learning_rate=3e-3, batch_size=8, warmup_ratio=0.02, log_every=1000,
        model=TinyModelConfig(hidden_size=96, num_layers=2, num_heads=4, intermediate_size=192, vocab_size=500, init_std=0.05),
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    log: Path

    def requests_served(self) -> int:
        """Chat requests the server answered, counted from uvicorn's access log."""
        return self.log.read_text().count('"POST /v1/chat/completions HTTP/1.1"')


@contextmanager
def serve(model_dir: Path, log: Path, timeout_s: float = 120.0) -> Iterator[Server]:
    """`transformers serve` for `model_dir` on a free loopback port, offline; stopped on exit."""
    port = free_port()
    (log.parent / "hf_cache").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_CACHE": str(log.parent / "hf_cache"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(Path(sys.executable).parent / "transformers"), "serve", str(model_dir),
               "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"transformers serve did not come up in {timeout_s} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(base + "/v1", log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
