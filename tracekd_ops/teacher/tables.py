"""The tables the teacher's cache keeps: `teacher_requests`, every request and its reply or error,
and `teacher_request_questions`, the questions each request was about. Their queries are the
cache's (`cache.py`)."""

from __future__ import annotations

from tracekd_ops.core.tables import Table

TEACHER_REQUESTS = Table(
    name="teacher_requests",
    columns="""
        request_hash VARCHAR NOT NULL, purpose VARCHAR NOT NULL, model VARCHAR NOT NULL, endpoint VARCHAR,
        request VARCHAR NOT NULL, status VARCHAR NOT NULL, content VARCHAR, reasoning VARCHAR,
        error VARCHAR, attempts INTEGER NOT NULL, latency_s DOUBLE NOT NULL,
        prompt_tokens INTEGER, completion_tokens INTEGER, updated_at TIMESTAMP NOT NULL
    """,
    comment="every teacher request and its reply or error, secrets redacted (asset teacher_responses)",
    column_comments={
        "request_hash": "SHA-256 of (model, messages, sampling parameters, prompt version): the cache key",
        "purpose": "what was asked: answer, summary (of the reasoning) or posthoc (an explanation after being told it was right)",
        "model": "the model the request was sent to",
        "endpoint": "public URL (no credentials) of the endpoint that answered or last failed; NULL: not recorded",
        "request": "JSON of the request as sent: model, messages and sampling parameters (never a key)",
        "status": "ok (answered) or failed (asked again by the next materialization)",
        "content": "the reply's text (secrets scrubbed); NULL: failed, or the reply had only reasoning",
        "reasoning": "the reply's separate reasoning (reasoning_content); NULL: failed or none sent",
        "error": "why the request failed, after its retries (secrets scrubbed); NULL: ok",
        "attempts": "tries made, retries included",
        "latency_s": "seconds from the first try to the reply or the final failure, retries and waits included",
        "prompt_tokens": "prompt tokens the server reported; NULL: failed or not reported",
        "completion_tokens": "completion tokens the server reported; NULL: failed or not reported",
        "updated_at": "when the row was last written (UTC)",
    },
)

TEACHER_REQUEST_QUESTIONS = Table(
    name="teacher_request_questions",
    columns="request_hash VARCHAR NOT NULL, dataset VARCHAR NOT NULL, example_id VARCHAR NOT NULL, follows VARCHAR",
    comment="the question each teacher request was about, and the answer request a follow-up follows up (asset teacher_responses)",
    column_comments={
        "request_hash": "the request (teacher_requests.request_hash); identical questions share one request, so one request may have several rows",
        "follows": "request_hash of the answer request a summary or posthoc request follows up; NULL: an answer request",
    },
)

TABLES = (TEACHER_REQUESTS, TEACHER_REQUEST_QUESTIONS)
