"""A Hugging Face Hub test double on loopback (stdlib `http.server`), for offline tests.

It speaks the wire protocol that `huggingface_hub` 2.4.0's client actually uses (read from its source, then
checked by driving the real client against it), so tests exercise the real `HfApi`, `hf_hub_download` and
`snapshot_download` code paths instead of mocks:

    with HubServer(tmp_path / "hub") as hub, hub.patch_client():
        api = HfApi(endpoint=hub.endpoint, token="hf_test_token_123")
        api.create_repo("test-user/model", exist_ok=True)
        ...

Scope and deliberate simplifications (each one is where the real Hub is richer than tests need):

* Uploads: `preupload` answers ``uploadMode: "regular"`` for every file, so the client sends all content inline,
  base64-encoded, in the NDJSON commit. The client honours that for any size and file type (it only forces
  empty files to "regular"; it never overrides the server towards LFS), so no LFS batch / S3 / Xet upload route
  is needed. Consequently files never look LFS-backed: tree entries carry no ``lfs`` field and
  `HEAD /resolve` answers 200 with a git-blob ETag rather than a 302 to a CDN with ``X-Linked-Etag``.
* Xet should be off on the client (``HF_HUB_DISABLE_XET=1`` *before* import, or `patch_client`) so that
  `upload_folder` takes the plain `create_commit` path. With Xet on it takes the pipelined Xet uploader instead,
  which also works here (every file being "regular", no Xet storage is contacted) but retries the commit POST
  (see `fail_next`).
* Repo ids must be ``namespace/name``; pull requests (``create_pr``) are not supported (answered 400).
* Pagination: listings are returned in one page (no ``Link`` header), which the client accepts.

State (repos, commits, refs) lives in ``root/state.json`` and file contents in ``root/blobs/<sha256>``, so a new
`HubServer` on the same root sees what an earlier one stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# URL segment after /api/ -> repo type, and the prefix repo URLs get on the website / resolve routes.
_API_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}$")
_YAML_BLOCK_RE = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
# Routes that use POST but change nothing: `fail_next` leaves them alone.
_READ_ONLY_POSTS = {"validate-yaml", "paths-info"}
# What `create_repo` on the real Hub puts in the "initial commit" (abridged): tests that list a fresh repo see it.
_INITIAL_GITATTRIBUTES = (
    "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    "*.pt filter=lfs diff=lfs merge=lfs -text\n"
    "*.pth filter=lfs diff=lfs merge=lfs -text\n"
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.zip filter=lfs diff=lfs merge=lfs -text\n"
).encode()


class HubError(Exception):
    """An HTTP error answered the way the Hub does: JSON ``{"error": ...}`` plus the ``X-Error-Code`` /
    ``X-Error-Message`` headers that `hf_raise_for_status` maps onto `RepositoryNotFoundError`,
    `RevisionNotFoundError`, `RemoteEntryNotFoundError`, ..."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class Headers(dict):
    """The request headers as a dict with case-insensitive lookups (`headers["authorization"]` and
    `headers["Authorization"]` both work), since the client's header casing is an implementation detail."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((str(k).lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def git_blob_oid(data: bytes) -> str:
    """git's blob id (`git hash-object`): what the Hub reports as a regular file's ``oid``/ETag, and what the client
    compares with preupload's ``oid`` to skip unchanged files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    """A timestamp in the one format `huggingface_hub.utils.parse_datetime` accepts."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class HubServer:
    """Serves the Hub routes behind repo creation, uploads, refs, listings and downloads on 127.0.0.1.

    Attributes tests use:
        endpoint: ``http://127.0.0.1:PORT``; pass it as ``HfApi(endpoint=...)`` / ``hf_hub_download(endpoint=...)``.
        requests: ``(method, raw path with query, headers)`` of every request, in arrival order; `headers` is a
            case-insensitive dict, e.g. ``headers["authorization"] == "Bearer hf_..."``.
        fail_next: status codes answered, one each, to the next *write* requests (create/delete repo, preupload,
            commit, branch/tag create/delete) instead of handling them. What the client then does is its own
            business: in huggingface_hub 2.4.0 `preupload` (and any GET listing) goes through `http_backoff`,
            which retries 408/429/500/502/503/504 up to 5 times sleeping 1, 2, 4, 8, 8 s; the commit POST of
            `create_commit`/`upload_folder` (Xet disabled) and `create_repo`/`create_branch`/`create_tag` are
            *not* retried and raise `HfHubHTTPError`. With Xet enabled, `upload_folder` retries the commit too.
            To aim at the commit POST of a `create_commit`, call `HfApi.preupload_lfs_files` on the operations
            first: the client then knows their upload mode and skips preupload.
        unhandled: ``(method, path)`` of requests no route matched (answered 404); a test can assert it is empty
            to catch a client upgrade that starts calling routes this double does not know.
        server_errors: tracebacks of bugs in this double (answered 500).

    Args:
        root: folder holding ``state.json`` and ``blobs/``.
        user: the account `whoami` reports and the namespace of repos created without an organization.
        token: if set, writes and `whoami` accept only ``Authorization: Bearer <token>``; otherwise any bearer
            token is accepted. Writes without a bearer token are refused (401) either way, as on the Hub.
    """

    def __init__(self, root: Path, *, user: str = "test-user", token: str | None = None) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.token = token
        self.requests: list[tuple[str, str, dict]] = []
        self.fail_next: list[int] = []
        self.unhandled: list[tuple[str, str]] = []
        self.server_errors: list[str] = []
        self._lock = threading.RLock()
        state_path = self.root / "state.json"
        self._state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {"repos": {}}

        outer = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keep-alive: the client pools connections; every response below carries Content-Length.
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                outer._handle(self, "GET")

            def do_HEAD(self) -> None:  # noqa: N802
                outer._handle(self, "HEAD")

            def do_POST(self) -> None:  # noqa: N802
                outer._handle(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                outer._handle(self, "PUT")

            def do_DELETE(self) -> None:  # noqa: N802
                outer._handle(self, "DELETE")

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @contextmanager
    def patch_client(self) -> Iterator["HubServer"]:
        """Point the already-imported `huggingface_hub` at this server, restoring everything on exit.

        Needed because the client reads its settings from the environment once, at import: `tests/conftest.py`
        sets ``HF_HUB_OFFLINE=1`` (every request would raise `OfflineModeIsEnabled`), Xet is on by default, and
        a few code paths ignore ``HfApi(endpoint=...)`` and use the import-time endpoint: `ModelCard.validate`
        (hence `push_to_hub`) posts to ``constants.ENDPOINT``, and the module-level helpers
        (`huggingface_hub.upload_file`, `create_repo`, ...) are bound to an `HfApi` built at import. Passing
        ``endpoint=hub.endpoint`` explicitly is still the clearer style; this makes forgetting it harmless.
        It also keeps the client's AI-agent detection on loopback: when not offline, the first
        `build_hf_headers` fetches ``{constants.ENDPOINT}/api/agent-harnesses`` (token-less), which would
        otherwise try huggingface.co.
        Not thread-safe: it patches process-wide module attributes.
        """
        from huggingface_hub import constants, hf_api

        template = self.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        patches = [
            (constants, "HF_HUB_OFFLINE", False),
            (constants, "HF_HUB_DISABLE_XET", True),
            (constants, "ENDPOINT", self.endpoint),
            (constants, "HUGGINGFACE_CO_URL_TEMPLATE", template),  # `hf_hub_url` builds on it, keep both in step
            (hf_api.api, "endpoint", self.endpoint),
        ]
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
        try:
            for obj, name, value in patches:
                setattr(obj, name, value)
            yield self
        finally:
            for obj, name, value in reversed(saved):
                setattr(obj, name, value)

    # ------------------------------------------------------------------ plumbing

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        """Record, maybe inject a failure, route, and answer one request (errors as the Hub formats them)."""
        headers = Headers(h.headers.items())
        with self._lock:
            self.requests.append((method, h.path, headers))
        body = self._read_body(h)
        url = urlsplit(h.path)
        segments = url.path.split("/")[1:]  # still percent-encoded: a "%2F" inside a revision is not a separator
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if self._is_write(method, segments):
                with self._lock:
                    code = self.fail_next.pop(0) if self.fail_next else None
                if code is not None:
                    raise HubError(code, f"HubServer injected failure ({code})")
            status, payload, extra = self._route(method, segments, query, headers, body)
        except HubError as e:
            status, extra = e.status, dict(e.headers)
            payload = {"error": e.message}
            extra["X-Error-Message"] = e.message
            if e.code:
                extra["X-Error-Code"] = e.code
        except Exception:  # a bug in this double: make it loud, not a silent hang
            tb = traceback.format_exc()
            with self._lock:
                self.server_errors.append(tb)
            status, payload, extra = 500, {"error": "HubServer internal error", "traceback": tb}, {}
        self._respond(h, method, status, payload, extra)

    @staticmethod
    def _is_write(method: str, segments: list[str]) -> bool:
        """Whether `fail_next` applies: every non-GET/HEAD request except the two read-only POSTs
        (``/api/validate-yaml`` and ``/api/{type}s/{ns}/{name}/paths-info/{rev}``)."""
        if method in ("GET", "HEAD"):
            return False
        if segments[:2] == ["api", "validate-yaml"]:
            return False
        return not (len(segments) > 4 and segments[0] == "api" and segments[4] in _READ_ONLY_POSTS)

    @staticmethod
    def _read_body(h: BaseHTTPRequestHandler) -> bytes:
        """The whole request body (Content-Length or chunked), read even if we fail the request, so the
        keep-alive connection stays in sync."""
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length else b""

    @staticmethod
    def _respond(h: BaseHTTPRequestHandler, method: str, status: int, payload: Any, extra: dict[str, str]) -> None:
        """Send JSON / bytes / a file, never writing a body for HEAD (that would desync keep-alive)."""
        file_range: tuple[Path, int, int] | None = None
        if isinstance(payload, tuple):  # (path, start, end_inclusive) of a blob to stream
            file_range = payload
            length = payload[2] - payload[1] + 1
            data = b""
        else:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            length = len(data)
            extra.setdefault("Content-Type", "application/json; charset=utf-8")
        try:
            h.send_response(status)
            for name, value in extra.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(length))
            h.end_headers()
            if method == "HEAD":
                return
            if file_range is None:
                h.wfile.write(data)
                return
            path, start, end = file_range
            with path.open("rb") as f:
                f.seek(start)
                left = end - start + 1
                while left > 0:
                    chunk = f.read(min(1 << 20, left))
                    if not chunk:
                        break
                    h.wfile.write(chunk)
                    left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (e.g. it gave up on a slow answer)

    def _save(self) -> None:
        """Persist the state atomically (callers hold the lock)."""
        tmp = self.root / f"state.json.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(self._state, indent=1, sort_keys=True))
        os.replace(tmp, self.root / "state.json")

    def _store_blob(self, data: bytes) -> dict[str, Any]:
        """Store content by sha256 and return the tree entry describing it."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.blobs / sha256
        if not path.exists():
            tmp = self.blobs / f"{sha256}.{uuid.uuid4().hex}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return {"sha256": sha256, "oid": git_blob_oid(data), "size": len(data)}

    # ------------------------------------------------------------------ routing

    def _route(
        self, method: str, seg: list[str], query: dict[str, str], headers: Headers, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Dispatch on the (still percent-encoded) path segments; returns (status, payload, headers)."""
        if seg[:1] == ["api"]:
            rest = seg[1:]
            if rest == ["whoami-v2"] and method == "GET":
                self._check_auth(headers)
                return 200, self._whoami(), {}
            if rest == ["repos", "create"] and method == "POST":
                return self._create_repo(headers, json.loads(body or b"{}"))
            if rest == ["repos", "delete"] and method == "DELETE":
                return self._delete_repo(headers, json.loads(body or b"{}"))
            if rest == ["validate-yaml"] and method == "POST":
                return self._validate_yaml(json.loads(body or b"{}"))
            if rest == ["agent-harnesses"] and method == "GET":
                # Fetched once per process (token-less, from `constants.ENDPOINT`) by the client's AI-agent
                # detection when `build_hf_headers` composes the user-agent. A 404 on purpose: the client then
                # falls back to "no agent" and, unlike after a 200, writes no 24-hour cache file into HF_HOME.
                raise HubError(404, "HubServer does not serve the agent harnesses registry")
            if len(rest) >= 3 and rest[0] in _API_TYPES:
                repo_type, repo_id = _API_TYPES[rest[0]], f"{unquote(rest[1])}/{unquote(rest[2])}"
                action, args = (rest[3], [unquote(s) for s in rest[4:]]) if len(rest) > 3 else ("", [])
                return self._repo_route(method, repo_type, repo_id, action, args, query, headers, body)
        else:
            prefix = {"datasets": "dataset", "spaces": "space"}.get(seg[0] if seg else "")
            tail = seg[1:] if prefix else seg
            if len(tail) >= 5 and tail[2] == "resolve" and method in ("GET", "HEAD"):
                repo_id = f"{unquote(tail[0])}/{unquote(tail[1])}"
                filename = "/".join(unquote(s) for s in tail[4:])
                return self._resolve(prefix or "model", repo_id, unquote(tail[3]), filename, headers)
        with self._lock:
            self.unhandled.append((method, "/" + "/".join(seg)))
        raise HubError(404, f"HubServer: no route for {method} /{'/'.join(seg)}")

    def _repo_route(
        self,
        method: str,
        repo_type: str,
        repo_id: str,
        action: str,
        args: list[str],
        query: dict[str, str],
        headers: Headers,
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        """Routes under ``/api/{type}s/{namespace}/{name}/...``."""
        write = method != "GET" and action not in _READ_ONLY_POSTS
        if write:
            self._check_auth(headers)
        with self._lock:
            repo = self._repo(repo_type, repo_id, headers)
            if method == "GET" and action == "" and not args:
                return 200, self._info(repo, "main", query), {}
            if method == "GET" and action == "revision" and len(args) == 1:
                return 200, self._info(repo, args[0], query), {}
            if method == "GET" and action == "refs" and not args:
                return 200, self._refs(repo), {}
            if method == "GET" and action == "tree" and args:
                return 200, self._tree(repo, args[0], "/".join(args[1:]), query), {}
            if method == "GET" and action == "commits" and len(args) == 1:
                return 200, self._commits(repo, args[0]), {}
            if method == "POST" and action == "paths-info" and len(args) == 1:
                return 200, self._paths_info(repo, args[0], body), {}
            if method == "POST" and action == "preupload" and len(args) == 1:
                return 200, self._preupload(repo, args[0], json.loads(body or b"{}")), {}
            if method == "POST" and action == "commit" and len(args) == 1:
                if _truthy(query.get("create_pr")):
                    raise HubError(400, "HubServer does not support pull requests (create_pr)")
                return 200, self._commit(repo, args[0], headers, body), {}
            if action == "branch" and len(args) == 1 and method in ("POST", "DELETE"):
                return self._branch(repo, method, args[0], json.loads(body or b"{}"))
            if action == "tag" and len(args) == 1 and method in ("POST", "DELETE"):
                return self._tag(repo, method, args[0], json.loads(body or b"{}"))
            self.unhandled.append((method, f"/api/{repo_type}s/{repo_id}/{action}/{'/'.join(args)}"))
            raise HubError(404, f"HubServer: no route for {method} {action!r} on {repo_id}")

    # ------------------------------------------------------------------ state helpers (lock held)

    def _check_auth(self, headers: Headers) -> None:
        """Writes need a bearer token, as on the Hub (401 otherwise); `token=` narrows it to one value."""
        auth = headers.get("authorization") or ""
        if not auth.startswith("Bearer ") or (self.token is not None and auth != f"Bearer {self.token}"):
            raise HubError(401, "Invalid credentials in Authorization header")

    def _repo(self, repo_type: str, repo_id: str, headers: Headers) -> dict[str, Any]:
        """Look a repo up; a private repo read without a token is 401 ``RepoNotFound``, like the Hub."""
        repo = self._state["repos"].get(f"{repo_type}:{repo_id}")
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        if repo["private"] and not (headers.get("authorization") or "").startswith("Bearer "):
            raise HubError(401, "Repository not found", "RepoNotFound")
        return repo

    def _resolve_rev(self, repo: dict[str, Any], rev: str) -> str:
        """Branch, tag, ``refs/heads|tags/...``, full commit id or a unique prefix (>= 5 hex) -> commit id."""
        name = rev.removeprefix("refs/heads/").removeprefix("refs/tags/")
        if name in repo["branches"]:
            return repo["branches"][name]
        if name in repo["tags"]:
            return repo["tags"][name]["oid"]
        if re.fullmatch(r"[0-9a-f]{5,40}", rev):
            matches = [oid for oid in repo["commits"] if oid.startswith(rev)]
            if len(matches) == 1:
                return matches[0]
        raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def _new_commit(self, repo: dict[str, Any], parent: str | None, files: dict, title: str, message: str) -> str:
        """Record a commit (a full snapshot of the file tree) under a fresh 40-hex id."""
        seed = json.dumps([parent, files, title, message, time.time_ns(), uuid.uuid4().hex], sort_keys=True)
        oid = hashlib.sha1(seed.encode()).hexdigest()
        repo["commits"][oid] = {
            "parents": [parent] if parent else [],
            "files": files,
            "title": title,
            "message": message,
            "date": _now(),
            "author": self.user,
        }
        return oid

    def _repo_url(self, repo: dict[str, Any]) -> str:
        return f"{self.endpoint}/{_URL_PREFIX[repo['type']]}{repo['id']}"

    # ------------------------------------------------------------------ routes

    def _whoami(self) -> dict[str, Any]:
        return {
            "type": "user",
            "id": hashlib.sha1(self.user.encode()).hexdigest()[:24],
            "name": self.user,
            "fullname": self.user,
            "email": f"{self.user}@example.invalid",
            "emailVerified": True,
            "isPro": False,
            "canPay": False,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "hub-server", "role": "write"}},
        }

    def _create_repo(self, headers: Headers, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        """``POST /api/repos/create``: 409 with the repo ``url`` when it exists (`create_repo(exist_ok=True)`
        parses that body), otherwise an "initial commit" with ``.gitattributes`` on ``main``, like the Hub."""
        self._check_auth(headers)
        name, namespace = body.get("name") or "", body.get("organization") or self.user
        repo_type = body.get("type") or "model"
        if repo_type not in _URL_PREFIX or not _NAME_RE.match(name) or not _NAME_RE.match(namespace):
            raise HubError(400, f"Invalid repo name or type: {namespace}/{name} ({repo_type})")
        key = f"{repo_type}:{namespace}/{name}"
        with self._lock:
            existing = self._state["repos"].get(key)
            if existing is not None:
                url = self._repo_url(existing)
                return 409, {"error": f"You already created this {repo_type} repo", "url": url}, {
                    "X-Error-Message": f"You already created this {repo_type} repo"
                }
            private = body.get("visibility") == "private" or bool(body.get("private"))
            repo: dict[str, Any] = {
                "type": repo_type,
                "id": f"{namespace}/{name}",
                "private": private,
                "createdAt": _now(),
                "branches": {},
                "tags": {},
                "commits": {},
            }
            files = {".gitattributes": self._store_blob(_INITIAL_GITATTRIBUTES)}
            repo["branches"]["main"] = self._new_commit(repo, None, files, "initial commit", "")
            self._state["repos"][key] = repo
            self._save()
            repo_hash = hashlib.sha1(key.encode()).hexdigest()[:24]
            return 200, {"url": self._repo_url(repo), "name": repo["id"], "id": repo_hash}, {}

    def _delete_repo(self, headers: Headers, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        self._check_auth(headers)
        key = f"{body.get('type') or 'model'}:{body.get('organization') or self.user}/{body.get('name')}"
        with self._lock:
            if self._state["repos"].pop(key, None) is None:
                raise HubError(404, "Repository not found", "RepoNotFound")
            self._save()
        return 200, {}, {}

    @staticmethod
    def _card_metadata(content: str) -> dict[str, Any] | None:
        """The README's YAML front matter as a dict (None if absent); ValueError if it is not a YAML mapping."""
        import yaml  # a dependency of huggingface_hub itself

        match = _YAML_BLOCK_RE.search(content)
        if match is None:
            return None
        try:
            data = yaml.safe_load(match.group(2))
        except yaml.YAMLError as e:
            raise ValueError(f"Invalid YAML in the metadata block: {e}") from None
        if data is None:
            return None
        if not isinstance(data, dict):
            raise ValueError("The metadata block must be a YAML mapping")
        return data

    def _validate_yaml(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        """``POST /api/validate-yaml``: the client calls it before committing a README.md (and
        `ModelCard.validate` does). The client reads ``warnings``/``errors`` from the JSON even on success;
        400 turns into ``ValueError("Invalid metadata in README.md ...")``. Only YAML well-formedness is checked,
        not the Hub's per-field schema."""
        try:
            metadata = self._card_metadata(body.get("content") or "")
        except ValueError as e:
            return 400, {"error": str(e), "errors": [{"message": str(e)}], "warnings": []}, {}
        warnings = [] if metadata else [{"message": "Empty or missing yaml metadata in repo card"}]
        return 200, {"errors": [], "warnings": warnings}, {}

    def _info(self, repo: dict[str, Any], rev: str, query: dict[str, str]) -> dict[str, Any]:
        """``GET /api/{type}s/{id}[/revision/{rev}]``: what `ModelInfo`/`DatasetInfo` parse; ``sha`` is the
        resolved commit id (`snapshot_download` resolves branches and tags with it)."""
        oid = self._resolve_rev(repo, rev)
        commit = repo["commits"][oid]
        files = commit["files"]
        siblings = [{"rfilename": p} for p in sorted(files)]
        if _truthy(query.get("blobs")):
            siblings = [{"rfilename": p, "size": files[p]["size"], "blobId": files[p]["oid"]} for p in sorted(files)]
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo["id"].encode()).hexdigest()[:24],
            "id": repo["id"],
            "author": repo["id"].split("/")[0],
            "sha": oid,
            "lastModified": commit["date"],
            "createdAt": repo["createdAt"],
            "private": repo["private"],
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "usedStorage": sum(f["size"] for f in files.values()),
        }
        if repo["type"] == "model":
            info["modelId"] = repo["id"]
        if "README.md" in files:
            try:
                card = self._card_metadata((self.blobs / files["README.md"]["sha256"]).read_text("utf-8"))
            except (ValueError, UnicodeDecodeError):
                card = None
            if card:
                info["cardData"] = card
                info["tags"] = list(card.get("tags") or [])
                if card.get("library_name"):
                    info["library_name"] = card["library_name"]
        return info

    def _refs(self, repo: dict[str, Any]) -> dict[str, Any]:
        """``GET /api/{type}s/{id}/refs``: the client indexes ``branches``, ``converts`` and ``tags``
        unconditionally, and ``pullRequests`` when asked for (``include_prs=1``)."""
        branches = sorted(repo["branches"].items())
        tags = sorted((n, t["oid"]) for n, t in repo["tags"].items())
        return {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": oid} for n, oid in branches],
            "converts": [],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": oid} for n, oid in tags],
            "pullRequests": [],
        }

    def _entries(self, repo: dict[str, Any], oid: str) -> dict[str, dict[str, Any]]:
        """Every file *and* folder of a commit, keyed by path, in the Hub's tree-entry JSON shape. Folder oids are a
        hash of their contents (stable, not git's tree id)."""
        files = repo["commits"][oid]["files"]
        entries = {p: {"type": "file", "oid": f["oid"], "size": f["size"], "path": p} for p, f in files.items()}
        folders: dict[str, list[str]] = {}
        for p, f in files.items():
            parts = p.split("/")
            for i in range(1, len(parts)):
                folders.setdefault("/".join(parts[:i]), []).append(f"{p}:{f['oid']}")
        for d, content in folders.items():
            tree_oid = hashlib.sha1("\n".join(sorted(content)).encode()).hexdigest()
            entries[d] = {"type": "directory", "oid": tree_oid, "size": 0, "path": d}
        return entries

    def _last_commit(self, repo: dict[str, Any], oid: str, path: str) -> dict[str, str]:
        """The newest commit (first-parent walk) that changed `path`, for ``expand=true`` listings."""
        def state(c: str) -> Any:
            files = repo["commits"][c]["files"]
            return sorted((p, f["oid"]) for p, f in files.items() if p == path or p.startswith(path + "/"))

        current, mine = oid, state(oid)
        while repo["commits"][current]["parents"]:
            parent = repo["commits"][current]["parents"][0]
            if state(parent) != mine:
                break
            current = parent
        c = repo["commits"][current]
        return {"id": current, "title": c["title"], "date": c["date"]}

    def _tree(self, repo: dict[str, Any], rev: str, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /api/{type}s/{id}/tree/{rev}[/{path}]?recursive=&expand=``: direct children of `path`, or all
        descendants when recursive (folders included, as on the Hub). `snapshot_download` lists recursively at
        the commit id and downloads every ``type == "file"`` entry."""
        oid = self._resolve_rev(repo, rev)
        entries = self._entries(repo, oid)
        path = path.strip("/")
        if path and entries.get(path, {}).get("type") != "directory":
            raise HubError(404, f"{path} does not exist on {rev}", "EntryNotFound", {"X-Repo-Commit": oid})
        prefix = f"{path}/" if path else ""
        recursive = _truthy(query.get("recursive"))
        out = [
            dict(e)
            for p, e in sorted(entries.items())
            if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])
        ]
        if _truthy(query.get("expand")):
            for e in out:
                e["lastCommit"] = self._last_commit(repo, oid, e["path"])
        return out

    def _paths_info(self, repo: dict[str, Any], rev: str, body: bytes) -> list[dict[str, Any]]:
        """``POST /api/{type}s/{id}/paths-info/{rev}`` (form-encoded ``paths=...``): entries for the paths that
        exist, silently skipping the others, as `HfApi.get_paths_info` documents."""
        form = parse_qs(body.decode())
        entries = self._entries(repo, self._resolve_rev(repo, rev))
        return [dict(entries[p.strip("/")]) for p in form.get("paths", []) if p.strip("/") in entries]

    def _preupload(self, repo: dict[str, Any], rev: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/{type}s/{id}/preupload/{rev}``: always ``uploadMode: "regular"`` (content then travels
        inline in the commit; see the module docstring), ``shouldIgnore: false``, and the current git-blob
        ``oid`` of the path so the client drops unchanged files from the commit, as it does against the Hub."""
        oid = self._resolve_rev(repo, rev)
        files = repo["commits"][oid]["files"]
        return {
            "files": [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": files[f["path"]]["oid"] if f["path"] in files else None,
                }
                for f in body.get("files", [])
            ],
            "commitOid": oid,
        }

    def _commit(self, repo: dict[str, Any], rev: str, headers: Headers, body: bytes) -> dict[str, Any]:
        """``POST /api/{type}s/{id}/commit/{branch}``, NDJSON: a ``header`` line (``summary``, ``description``,
        optional ``parentCommit``) then ``file`` (base64 content), ``lfsFile`` (by sha256, accepted only if that
        content is already stored), ``deletedFile`` and ``deletedFolder`` lines. The new commit starts from the
        branch head's tree, so files not mentioned are kept. The client reads ``commitOid`` and ``commitUrl``
        (and ``pullRequestUrl`` for PRs)."""
        branch = rev.removeprefix("refs/heads/")
        if branch not in repo["branches"]:
            self._resolve_rev(repo, rev)  # 404 RevisionNotFound if it is nothing at all
            raise HubError(400, f"Invalid rev id: {rev} is not a branch; commits must target a branch")
        head = repo["branches"][branch]
        if "json" in (headers.get("content-type") or "") and "ndjson" not in headers.get("content-type", ""):
            raise HubError(400, "HubServer only accepts the NDJSON commit payload (application/x-ndjson)")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first NDJSON line must be the commit header")
        header = lines[0]["value"]
        parent_commit = header.get("parentCommit")
        if parent_commit and not head.startswith(parent_commit):
            raise HubError(412, f"A commit has happened since {parent_commit}: {branch} is now at {head}")
        files = dict(repo["commits"][head]["files"])
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value") or {}
            path = str(value.get("path", "")).strip("/")
            if key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise HubError(400, f"Unsupported encoding {value.get('encoding')!r} for {path}")
                files[path] = self._store_blob(base64.b64decode(value["content"]))
            elif key == "lfsFile":
                blob = self.blobs / str(value.get("oid"))
                if not blob.is_file():
                    raise HubError(422, f"LFS object {value.get('oid')} for {path} was never uploaded")
                files[path] = self._store_blob(blob.read_bytes())
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            elif key == "deletedFolder":
                doomed = [p for p in files if p.startswith(path + "/")]
                if not doomed:
                    raise HubError(404, f"A file with this name doesn't exist: {path}/", "EntryNotFound")
                for p in doomed:
                    del files[p]
            else:
                raise HubError(400, f"Unknown commit operation {key!r}")
        oid = self._new_commit(repo, head, files, header.get("summary") or "", header.get("description") or "")
        repo["branches"][branch] = oid
        self._save()
        return {
            "success": True,
            "commitOid": oid,
            "commitUrl": f"{self._repo_url(repo)}/commit/{oid}",
            "hookOutput": "",
            "pullRequestUrl": None,
        }

    def _branch(self, repo: dict[str, Any], method: str, name: str, body: dict) -> tuple[int, Any, dict[str, str]]:
        """``POST /api/{type}s/{id}/branch/{name}`` (``startingPoint`` defaults to ``main``; 409 if it exists,
        which ``exist_ok=True`` swallows) and ``DELETE`` of the same."""
        if method == "DELETE":
            if name not in repo["branches"]:
                raise HubError(404, f"Invalid rev id: {name}", "RevisionNotFound")
            if name == "main":
                raise HubError(403, "Cannot delete the default branch")
            del repo["branches"][name]
        else:
            if not name or name.startswith("refs/") or ".." in name:
                raise HubError(400, f"Invalid reference for a branch: {name}")
            if name in repo["branches"]:
                raise HubError(409, f"Reference already exists: refs/heads/{name}")
            repo["branches"][name] = self._resolve_rev(repo, body.get("startingPoint") or "main")
        self._save()
        return 200, {}, {}

    def _tag(self, repo: dict[str, Any], method: str, arg: str, body: dict) -> tuple[int, Any, dict[str, str]]:
        """``POST /api/{type}s/{id}/tag/{revision}`` with ``{"tag", "message"}`` (note: the URL names the
        revision being tagged, not the tag) and ``DELETE /tag/{tag}``."""
        if method == "DELETE":
            if repo["tags"].pop(arg, None) is None:
                raise HubError(404, f"Invalid rev id: {arg}", "RevisionNotFound")
        else:
            tag = body.get("tag") or ""
            if not tag or tag.startswith("refs/"):
                raise HubError(400, f"Invalid tag name: {tag!r}")
            if tag in repo["tags"]:
                raise HubError(409, f"Tag already exists: {tag}")
            repo["tags"][tag] = {"oid": self._resolve_rev(repo, arg), "message": body.get("message") or ""}
        self._save()
        return 200, {}, {}

    def _commits(self, repo: dict[str, Any], rev: str) -> list[dict[str, Any]]:
        """``GET /api/{type}s/{id}/commits/{rev}``: first-parent history, newest first (`GitCommitInfo`)."""
        out, oid = [], self._resolve_rev(repo, rev)
        while oid:
            c = repo["commits"][oid]
            out.append(
                {
                    "id": oid,
                    "title": c["title"],
                    "message": c["message"],
                    "authors": [{"user": c["author"], "avatar": None}],
                    "date": c["date"],
                }
            )
            oid = c["parents"][0] if c["parents"] else None
        return out

    def _resolve(
        self, repo_type: str, repo_id: str, rev: str, filename: str, headers: Headers
    ) -> tuple[int, Any, dict[str, str]]:
        """``HEAD|GET /[{type}s/]{id}/resolve/{rev}/{path}``. `hf_hub_download` requires ``X-Repo-Commit`` (else
        `FileMetadataError`), an ``ETag`` (the cache blob name; git-blob sha1 for regular files) and the size in
        ``Content-Length``; it sends ``Accept-Encoding: identity`` and resumes with ``Range``. A missing file is
        404 ``EntryNotFound`` *with* ``X-Repo-Commit``, which the client caches under ``.no_exist/``."""
        with self._lock:
            repo = self._repo(repo_type, repo_id, headers)
            oid = self._resolve_rev(repo, rev)
            entry = repo["commits"][oid]["files"].get(filename)
        if entry is None:
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": oid})
        size = entry["size"]
        start, end, status = 0, size - 1, 200
        extra = {
            "X-Repo-Commit": oid,
            "ETag": f'"{entry["oid"]}"',
            "Accept-Ranges": "bytes",
            "Content-Type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        }
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", headers.get("range") or "")
        if match and size:
            first, last = match.groups()
            start, end = (int(first), min(int(last or size - 1), size - 1)) if first else (size - int(last), size - 1)
            if start > end or start >= size:
                raise HubError(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
            status = 206
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        if size == 0:
            return status, b"", extra
        return status, (self.blobs / entry["sha256"], start, end), extra
