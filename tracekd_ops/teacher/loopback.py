"""A scriptable OpenAI-compatible chat server on loopback (stdlib `http.server`): a stand-in
teacher endpoint with no model behind it. It speaks the chat-completions wire format the `openai`
client parses, and a script decides each reply, so the client can be exercised for real: tests
inject faults (5xx, 429, hangs, bad JSON), the teacher benchmark adds latency."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


def chat_reply(content: str, reasoning: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fault-teacher",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }  # fmt: skip


class ScriptedChatServer:
    """Answers chat completions; `script` decides each reply from (request number, prompt, headers)."""

    def __init__(self, script: Callable[[int, str, dict[str, str]], tuple[int, Any, dict[str, str]]]) -> None:
        self.script = script
        self.requests: list[str] = []
        self.conversations: list[list[dict[str, str]]] = []
        """Every request's whole message list, in arrival order."""
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                with outer.lock:
                    outer.requests.append(prompt)
                    outer.conversations.append(body["messages"])
                    number = len(outer.requests)
                status, payload, headers = outer.script(number, prompt, self.headers)  # case-insensitive lookup
                if status == "hang":
                    time.sleep(payload)
                    status, payload, headers = 200, chat_reply("<answer>late</answer>"), {}
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is the point of a hang

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "ScriptedChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
