"""The teacher client against a real HTTP server on loopback that injects faults (5xx, 429, slow
replies, bad JSON), and the DuckDB cache that makes asking again free. The server speaks the
OpenAI chat-completions wire format the `openai` client parses."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Iterator

import pytest

from tracekd_ops.teacher.loopback import ScriptedChatServer, chat_reply
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.datasets.synthetic import SyntheticConfig, generate
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.store.store import Store
from tracekd_ops.teacher.cache import TeacherCache
from tracekd_ops.teacher.client import TeacherClient
from tracekd_ops.teacher.collect import ask_all, collect, teacher_questions, teacher_texts
from tracekd_ops.teacher.config import TeacherConfig, public_url
from tracekd_ops.teacher.requests import answer_request, summary_request
from tracekd_ops.traces.conditions import ANSWER, EXPLANATION, SUMMARY
from tracekd_ops.traces.render import extract_answer, render_prompt, split_reasoning

SECRET = "sk-test-DO-NOT-LEAK-4242"
SYNTHETIC = dataset_spec("synthetic")
RECORDS = [r for r in generate(SyntheticConfig(train_per_task=2, test_per_task=1)) if r.split == "train"]


def right_answer(prompt: str) -> str:
    record = next(r for r in RECORDS if r.question in prompt)
    return record.answers[0]


def config_for(server: ScriptedChatServer, **changes: Any) -> TeacherConfig:
    base = {"base_url": server.base_url, "model": "fault-teacher", "max_attempts": 5, "timeout_s": 1.0,
            "backoff_s": 0.01, "backoff_max_s": 0.05, "max_concurrency": 1, "flush_every_s": 0.0}  # fmt: skip
    return TeacherConfig(**{**base, **changes})


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TRACEKD_TEACHER_API_KEY", SECRET)
    yield SECRET


def test_reasoning_is_read_from_reasoning_content_or_think_tags():
    assert split_reasoning("<answer>x</answer>", "because y") == ("because y", "<answer>x</answer>")
    assert split_reasoning("<think>because y</think>\n<answer>x</answer>", None) == ("because y", "<answer>x</answer>")
    assert split_reasoning("because y</think>The answer is x", None) == ("because y", "The answer is x")
    assert split_reasoning("x", None) == ("", "x")
    assert extract_answer("<answer> office </answer>") == "office"
    assert extract_answer("Let me see.\nAnswer: office") == "office"
    assert public_url("https://user:pw@api.example.com:8443/v1?key=abc") == "https://api.example.com:8443/v1"


def test_cache_key_is_model_prompt_and_sampling_parameters():
    base = TeacherConfig(base_url="http://a/v1", model="m")
    key = answer_request(base, RECORDS[0]).key
    assert answer_request(TeacherConfig(base_url="http://other/v1", model="m"), RECORDS[0]).key == key
    assert answer_request(TeacherConfig(base_url="http://a/v1", model="m2"), RECORDS[0]).key != key
    assert answer_request(TeacherConfig(base_url="http://a/v1", model="m", temperature=0.1), RECORDS[0]).key != key
    assert answer_request(base, RECORDS[1]).key != key
    assert answer_request(base, RECORDS[0], example=RECORDS[1]).key != key
    answer = answer_request(base, RECORDS[0])
    assert summary_request(base, answer, "r").key != summary_request(TeacherConfig(model="m", summary_model="s"), answer, "r").key
    assert summary_request(base, answer, "r").key == summary_request(base, answer_request(base, RECORDS[1]), "r").key  # the text alone is sent


def test_transient_faults_are_retried_with_backoff_until_an_answer(tmp_path, secret_key):
    faults = {1: (500, {"error": {"message": "boom"}}, {}), 2: (429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
              3: ("hang", 3.0, {}), 4: (200, b"{not json", {}), 5: (200, {"choices": []}, {})}  # fmt: skip

    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        assert headers.get("Authorization") == f"Bearer {SECRET}"
        return faults.get(number, (200, chat_reply(f"<answer>{right_answer(prompt)}</answer>", "facts say so"), {}))

    with ScriptedChatServer(script) as server:
        client = TeacherClient(config_for(server, max_attempts=6))
        reply = client.complete(answer_request(client.config, RECORDS[0]))
    assert reply.ok and reply.attempts == 6, reply
    assert (reply.content, reply.reasoning) == (f"<answer>{RECORDS[0].answers[0]}</answer>", "facts say so")
    assert (reply.prompt_tokens, reply.completion_tokens) == (10, 5)


def test_what_still_fails_is_stored_as_failed_never_lost_and_retried_next_run(tmp_path, secret_key):
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    broken = {RECORDS[0].question}

    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        if any(q in prompt for q in broken):  # the server even echoes the key back in its error
            return 503, {"error": {"message": f"overloaded, key {headers.get('Authorization')}"}}, {}
        return 200, chat_reply(f"<think>facts say so</think><answer>{right_answer(prompt)}</answer>"), {}

    with ScriptedChatServer(script) as server:
        client = TeacherClient(config_for(server, max_attempts=3, max_concurrency=3))
        requests = [answer_request(client.config, r) for r in RECORDS]
        first = ask_all(client, TeacherCache(store), requests, log=lambda _: None)
        assert (first.sent, first.ok, first.failed, first.errors) == (len(RECORDS), len(RECORDS) - 1, 1, {"HTTP 503": 1})
        assert len(server.requests) == len(RECORDS) - 1 + 3  # three tries for the broken one

        rows = store.rows("SELECT * FROM teacher_requests ORDER BY status")
        assert [r["status"] for r in rows].count("failed") == 1 and len(rows) == len(RECORDS)
        failed = next(r for r in rows if r["status"] == "failed")
        assert failed["attempts"] == 3 and "HTTP 503" in failed["error"] and "***" in failed["error"]
        assert SECRET not in json.dumps(rows, default=str)

        broken.clear()  # the server recovers: only the failed request is asked again
        second = ask_all(client, TeacherCache(store), requests, log=lambda _: None)
        assert (second.from_cache, second.sent, second.ok) == (len(RECORDS) - 1, 1, 1)
        third = ask_all(client, TeacherCache(store), requests, log=lambda _: None)
        assert (third.from_cache, third.sent) == (len(RECORDS), 0)
        assert len(server.requests) == len(RECORDS) - 1 + 3 + 1
    assert store.rows("SELECT count(*) AS n FROM teacher_requests WHERE status = 'ok'") == [{"n": len(RECORDS)}]


def test_requests_run_concurrently_up_to_the_limit(tmp_path):
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        return 200, chat_reply(f"<answer>{right_answer(prompt)}</answer>", "r"), {}

    with ScriptedChatServer(script) as server:
        client = TeacherClient(config_for(server, max_concurrency=3))
        stats = ask_all(client, TeacherCache(Store(tmp_path / "t.duckdb", tables=CATALOG)), [answer_request(client.config, r) for r in RECORDS], log=lambda _: None)
    assert stats.ok == len(RECORDS) == 6
    assert peak[0] == 3


def test_a_permanent_error_is_not_retried(tmp_path):
    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        return 404, {"error": {"message": "model fault-teacher not found"}}, {}

    with ScriptedChatServer(script) as server:
        client = TeacherClient(config_for(server))
        reply = client.complete(answer_request(client.config, RECORDS[0]))
        assert (reply.status, reply.attempts, len(server.requests)) == ("failed", 1, 1)
        assert "HTTP 404" in (reply.error or "")


def test_collect_keeps_right_answers_and_asks_follow_ups_only_for_them(tmp_path):
    wrong = RECORDS[1].question

    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        if prompt.startswith("Summarise"):
            return 200, chat_reply("Short summary."), {}
        if "is correct. Explain" in prompt:
            return 200, chat_reply("<think>hmm</think>Because the fact says so."), {}
        answer = "nowhere" if wrong in prompt else right_answer(prompt)
        question = next(r.question for r in RECORDS if r.question in prompt)
        return 200, chat_reply(f"<think>I read the facts for: {question}</think><answer>{answer}</answer>"), {}

    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    with ScriptedChatServer(script) as server:
        client = TeacherClient(config_for(server))
        outcome = collect(SYNTHETIC, RECORDS, client, TeacherCache(store), log=lambda _: None)
        assert (outcome.questions, outcome.answers_correct) == (6, 5)
        assert outcome.summaries.sent == outcome.explanations.sent == 5
        assert len(server.requests) == 6 + 5 + 5
        again = collect(SYNTHETIC, RECORDS, client, TeacherCache(store), log=lambda _: None)
        assert again.answers.sent == again.summaries.sent == again.explanations.sent == 0
        assert len(server.requests) == 16
    texts = teacher_texts(SYNTHETIC, ANSWER, RECORDS, client.config, TeacherCache(store))
    assert texts[RECORDS[0].example_id].text == f"I read the facts for: {RECORDS[0].question}"
    assert texts[RECORDS[0].example_id].answer_correct
    assert not texts[RECORDS[1].example_id].answer_correct
    summaries = teacher_texts(SYNTHETIC, SUMMARY, RECORDS, client.config, TeacherCache(store))
    assert summaries[RECORDS[0].example_id].text == "Short summary."
    explanations = teacher_texts(SYNTHETIC, EXPLANATION, RECORDS, client.config, TeacherCache(store))
    assert explanations[RECORDS[0].example_id].text == "Because the fact says so."


def test_follow_ups_are_read_back_by_question_for_twin_questions_and_for_a_store_from_before_the_links(tmp_path):
    """Two questions asked in the same words (one request, one key) both get their summary and
    explanation back; `teacher_request_questions` joins the replies to their questions; a store
    written before that table (its links deleted) gets them from the next ask, which sends nothing."""
    import dataclasses

    twin = dataclasses.replace(RECORDS[0], example_id=RECORDS[0].example_id + "-twin")
    records = [*RECORDS, twin]

    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        if prompt.startswith("Summarise"):
            return 200, chat_reply("Short summary."), {}
        if "is correct. Explain" in prompt:
            return 200, chat_reply("Because the fact says so."), {}
        return 200, chat_reply(f"<think>Facts for {right_answer(prompt)}.</think><answer>{right_answer(prompt)}</answer>"), {}

    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    with ScriptedChatServer(script) as server:
        client = TeacherClient(config_for(server))
        collect(SYNTHETIC, records, client, TeacherCache(store), log=lambda _: None)
        sent = len(server.requests)  # the twin shares every request with its original; questions with one answer share a summary
        assert sent == 2 * len(RECORDS) + len({r.answers[0] for r in RECORDS}) < 3 * len(RECORDS)
        by_question = store.rows("SELECT q.example_id, r.purpose FROM teacher_request_questions q JOIN teacher_requests r USING (request_hash)")
        assert {(row["example_id"], row["purpose"]) for row in by_question} == {(r.example_id, p) for r in records for p in (ANSWER, SUMMARY, EXPLANATION)}

        def read_back() -> dict[str, dict[str, str | None]]:
            return {purpose: {i: t.text for i, t in teacher_texts(SYNTHETIC, purpose, records, client.config, TeacherCache(store)).items()} for purpose in (SUMMARY, EXPLANATION)}

        assert read_back() == {SUMMARY: {r.example_id: "Short summary." for r in records}, EXPLANATION: {r.example_id: "Because the fact says so." for r in records}}
        store.execute("DELETE FROM teacher_request_questions")  # as a store from before the table holds it
        assert {text for texts in read_back().values() for text in texts.values()} == {None}
        problems = {t.problem for t in teacher_texts(SYNTHETIC, SUMMARY, records, client.config, TeacherCache(store)).values()}
        assert problems == {"the teacher has not been asked for the summary yet (materialize teacher_responses)"}
        again = collect(SYNTHETIC, records, client, TeacherCache(store), log=lambda _: None)
        assert again.answers.sent == again.summaries.sent == again.explanations.sent == 0 and len(server.requests) == sent
        assert read_back() == {SUMMARY: {r.example_id: "Short summary." for r in records}, EXPLANATION: {r.example_id: "Because the fact says so." for r in records}}
        third = dataclasses.replace(RECORDS[0], example_id=RECORDS[0].example_id + "-third")  # a new twin, asked beside the stored ones
        collect(SYNTHETIC, [RECORDS[0], third], client, TeacherCache(store), log=lambda _: None)
        assert teacher_texts(SYNTHETIC, SUMMARY, [third], client.config, TeacherCache(store))[third.example_id].text == "Short summary."
        linked = store.rows("SELECT r.purpose FROM teacher_request_questions q JOIN teacher_requests r USING (request_hash) WHERE q.example_id = ?", [third.example_id])
        assert sorted(row["purpose"] for row in linked) == sorted([ANSWER, SUMMARY, EXPLANATION])
        assert len(server.requests) == sent


def test_a_worked_example_is_shown_first_never_asked_and_read_back_with_the_same_keys(tmp_path):
    """For a small teacher (SmolLM2-135M wrote no answer tags without one): one solved training
    question, the one with the most supporting facts, opens every conversation, follow-ups included."""
    train = [r for r in generate(SyntheticConfig(train_per_task=10, test_per_task=1)) if r.split == "train"]

    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        if prompt.startswith("Summarise"):
            return 200, chat_reply("Short summary."), {}
        if "is correct. Explain" in prompt:
            return 200, chat_reply("Because the fact says so."), {}
        record = next(r for r in train if render_prompt(r) in prompt)
        return 200, chat_reply(f"Fact [{record.gold_fact_ids[0]}] says so.\n<answer>{record.answers[0]}</answer>"), {}

    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    with ScriptedChatServer(script) as server:
        config = config_for(server, worked_example=True, max_questions=6)
        questions = teacher_questions(train, config)
        example = questions.example
        assert example is not None and len(example.gold_fact_ids) == max(len(r.gold_fact_ids) for r in train)
        assert questions == teacher_questions(list(reversed(train)), config)  # the same whatever the order
        assert len(questions.asked) == 6 and example not in questions.asked
        assert teacher_questions(train, config_for(server, max_questions=6)).example is None
        client = TeacherClient(config)
        outcome = collect(SYNTHETIC, questions.asked, client, TeacherCache(store), log=lambda _: None, example=example)
        client.close()
    assert outcome.answers_correct == 6 and outcome.explanations.sent == 6
    for messages in (m for m in server.conversations if not m[-1]["content"].startswith("Summarise")):  # a summary is of a text alone
        shown, reply = messages[0]["content"], messages[1]["content"]
        assert example.question in shown and messages[1]["role"] == "assistant"
        assert all(f"Fact [{i}] says: {example.fact(i).text}" in reply for i in example.gold_fact_ids)
        assert reply.endswith(f"<answer>{example.answers[0]}</answer>")
    explanations = [m for m in server.conversations if "is correct. Explain" in m[-1]["content"]]
    assert len(explanations) == 6 and all(len(m) == 5 for m in explanations)  # example (2), question, answer, request
    for name, text in [(ANSWER, "says so."), (SUMMARY, "Short summary."), (EXPLANATION, "Because the fact says so.")]:
        texts = teacher_texts(SYNTHETIC, name, train, config, TeacherCache(store))  # from the cache alone: same keys
        assert sorted(texts) == sorted(r.example_id for r in questions.asked), name
        assert all(t.text.endswith(text) and t.answer_correct for t in texts.values()), name
    without = teacher_texts(SYNTHETIC, ANSWER, train, config_for(server, max_questions=6), TeacherCache(store))
    assert without == {}  # asked with the example: other requests, never sent


def test_requests_spread_over_replicas_within_each_ones_limit_and_a_failing_one_is_routed_around(tmp_path):
    lock = threading.Lock()
    in_flight: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    failing = {"b"}

    def script_for(name: str):
        def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
            with lock:
                in_flight[name] += 1
                peak[name] = max(peak[name], in_flight[name])
            time.sleep(0.2)
            with lock:
                in_flight[name] -= 1
            if name in failing:
                return 503, {"error": {"message": "replica down"}}, {}
            asked = any(r.question in prompt for r in RECORDS)
            return 200, chat_reply(f"<answer>{right_answer(prompt)}</answer>" if asked else "A short summary.", "r"), {}

        return script

    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    with ScriptedChatServer(script_for("a")) as a, ScriptedChatServer(script_for("b")) as b:
        failing.clear()
        client = TeacherClient(config_for(a, extra_urls=(b.base_url,), max_concurrency=2))
        assert client.capacity == 4
        healthy = ask_all(client, TeacherCache(store), [answer_request(client.config, r) for r in RECORDS], log=lambda _: None)
        assert healthy.ok == len(RECORDS) == 6
        assert peak == {"a": 2, "b": 2}  # both used, neither above its own limit
        assert len(a.requests) + len(b.requests) == 6 and a.requests and b.requests
        endpoints = {r["endpoint"] for r in store.rows("SELECT endpoint FROM teacher_requests")}
        assert endpoints == {public_url(a.base_url), public_url(b.base_url)}

        failing.add("b")  # one replica goes down: its requests are retried on the other
        summaries = [summary_request(client.config, answer_request(client.config, r), f"reasoning {r.example_id}") for r in RECORDS]
        routed = ask_all(client, TeacherCache(store), summaries, log=lambda _: None)
        assert (routed.ok, routed.failed) == (len(RECORDS), 0)
        rows = store.rows("SELECT endpoint FROM teacher_requests WHERE purpose = 'summary'")
        assert {r["endpoint"] for r in rows} == {public_url(a.base_url)}


def test_replica_urls_are_checked_like_the_first():
    with pytest.raises(ValueError, match="must be an http"):
        TeacherConfig(base_url="http://a/v1", model="m", extra_urls=("ftp://b/v1",))
    with pytest.raises(ValueError, match="endpoints must differ"):
        TeacherConfig(base_url="http://a/v1", model="m", extra_urls=("http://a/v1",))
    with pytest.raises(ValueError, match="need a base_url"):
        TeacherConfig(extra_urls=("http://b/v1",))


def test_the_key_never_reaches_storage_in_any_form_or_cut(tmp_path, secret_key, faults):
    """A server that echoes the request's headers in a 200 reply (content and reasoning), and one
    whose 401 carries the key across the 300th character of its message: the key is removed before
    anything is cut short, in plain, URL-quoted and base64 form."""
    import base64
    from urllib.parse import quote

    forms = (SECRET, quote(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode())
    store = Store(tmp_path / "t.duckdb", tables=CATALOG)
    echo, refuse = RECORDS[0].question, RECORDS[1].question

    def script(number: int, prompt: str, headers: dict[str, str]) -> tuple[Any, Any, dict[str, str]]:
        bearer = headers.get("Authorization", "")
        if echo in prompt:
            said = f"you sent {bearer} ({' / '.join(forms)})"
            return 200, chat_reply(f"<answer>{right_answer(prompt)}</answer> {said}", f"headers: {said}"), {}
        if refuse in prompt:
            return 401, {"error": {"message": "x" * (300 - len("Bearer ") - 10) + f" {bearer} is not valid"}}, {}
        return 200, chat_reply(f"<answer>{right_answer(prompt)}</answer>"), {}

    with ScriptedChatServer(script) as server:
        client = TeacherClient(config_for(server, max_attempts=1))
        ask_all(client, TeacherCache(store), [answer_request(client.config, r) for r in RECORDS[:3]], log=lambda _: None)
    rows = json.dumps(store.rows("SELECT * FROM teacher_requests"), default=str)
    for form in forms:
        assert form not in rows
    assert SECRET[:12] not in rows and SECRET[-12:] not in rows  # no piece of it survives the cut at 300 characters
    assert "***" in rows
    faults.held("secret")
