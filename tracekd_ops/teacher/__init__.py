"""The teacher: a model behind any OpenAI-compatible chat endpoint, asked for answers, summaries
and post-hoc explanations of a dataset's training questions.

Owns its config (`config.py`), requests and replies (`requests.py`), the HTTP client with retries
(`client.py`), the DuckDB cache `teacher_requests` (`cache.py`) and the concurrent asking and
reading back of texts per condition (`collect.py`). Imports `core`, `datasets`, `traces` (prompts,
conditions, reply parsing) and `store`; never training, registry or Dagster.
"""
