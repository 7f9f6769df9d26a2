"""Secrets never leave in any form: credentials inside a teacher URL (sent as Basic auth) are
scrubbed from stored errors as given, URL-encoded and base64-encoded."""

from __future__ import annotations

import base64
from urllib.parse import quote

from tracekd_ops.core.secrets import redact, url_secrets
from tracekd_ops.datasets.synthetic import SyntheticConfig, generate
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store
from tracekd_ops.teacher.cache import TeacherCache
from tracekd_ops.teacher.client import TeacherClient
from tracekd_ops.teacher.collect import ask_all
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.teacher.loopback import ScriptedChatServer
from tracekd_ops.teacher.requests import answer_request

KEY = "sk-url+SECRET/42="
"""With characters a URL encodes, so the encoded form differs from the raw one."""


def test_every_form_of_a_url_credential_is_redacted(faults):
    url = f"http://alice:{quote(KEY, safe='')}@127.0.0.1:9/v1"
    basic = base64.b64encode(f"alice:{KEY}".encode()).decode()
    text = f"GET {url} Authorization: Basic {basic} key={KEY}"
    scrubbed = redact(text, *url_secrets(url))
    assert KEY not in scrubbed and basic not in scrubbed and "SECRET" not in scrubbed
    faults.held("secret")


def test_a_teacher_url_with_credentials_leaves_no_trace_of_them_in_stored_errors(tmp_path, faults):
    def echo_auth(number, prompt, headers):  # noqa: ANN001, ANN202 - a server that repeats what it was sent
        return 401, {"error": {"message": f"bad credentials: {headers.get('authorization')}"}}, {}

    records = [r for r in generate(SyntheticConfig(train_per_task=2, test_per_task=1)) if r.split == "train"][:2]
    with ScriptedChatServer(echo_auth) as server:
        base = server.base_url.replace("http://", f"http://alice:{quote(KEY, safe='')}@")
        client = TeacherClient(TeacherConfig(base_url=base, model="t", max_attempts=1))
        store = Store(tmp_path / "t.duckdb", tables=CATALOG)
        ask_all(client, TeacherCache(store), [answer_request(client.config, r) for r in records], log=lambda _: None)
        client.close()
    rows = store.rows("SELECT * FROM teacher_requests")
    assert rows and all(r["status"] == "failed" and "401" in r["error"] for r in rows)
    dumped = str(rows)
    basic = base64.b64encode(f"alice:{KEY}".encode()).decode()
    assert KEY not in dumped and quote(KEY, safe="") not in dumped and basic not in dumped
    faults.held("secret")
