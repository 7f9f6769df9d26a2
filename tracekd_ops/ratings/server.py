"""The rating page: a small web app (FastAPI, served by uvicorn) that a participant opens in an
ordinary browser. Consent, instructions, one item at a time with the two Likert scales and an
optional comment, progress, and a completion code at the end.

Crowdsourcing conventions: a Prolific link carries `PROLIFIC_PID`, `STUDY_ID` and `SESSION_ID`
(other platforms: `participant_id`); the end page links to the study's completion URL with the
code. Without them (an in-lab session) the page makes up a participant id.

Each participant's browser holds a session token the server made (random, signed with the study's
secret, in an HttpOnly cookie; the database keeps only its hash): a cookie the client chose, or one
whose signature does not hold, is no session. Every request acts on that session alone: nobody can
read or change another participant's answers, and a participant id that has started in one browser
cannot be taken over from another. A link with another participant id, or the study link opened
again after a completed in-lab session, starts a fresh session: nobody is shown another's code. A
rating is accepted only for the item the server is showing (the first unanswered one); a reload
continues there; a resubmitted form is not counted twice. Every input is checked on the server; a
rejected one gets a 4xx naming the field and changes nothing, and a body over `MAX_FORM_BYTES` is
refused (413) before more of it is read. Nothing blocks the event loop: sessions are read once and
kept (`Participants`), and answers arriving together are committed together by one writer thread
(`GroupCommit`), so one answer waiting on the store's lock (a materialization writing) delays no
one else's page, and 50 participants cost about one write's time, not 50.

Needs the `serve` extra (fastapi, uvicorn): only `tracekd ratings serve` imports this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from tracekd_ops.ratings.glossary import glossary, shown_in
from tracekd_ops.ratings.items import RatingItem
from tracekd_ops.ratings.storage import ParticipantTaken, Session, load_items, record_answer, session_for, start_session
from tracekd_ops.ratings.study import SCALES, RatingRejected, check_answer, check_participant_id, completion_code
from tracekd_ops.store.group_commit import GroupCommit
from tracekd_ops.store.store import Store, StoreBusy

COOKIE = "tracekd_rating_session"
MAX_FORM_BYTES = 16_384
"""A form larger than this is refused (413) before it is parsed: a comment is at most 2,000 characters."""
PLATFORM_PARAMETERS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "participant_id")
log = logging.getLogger("tracekd.ratings")


@dataclass(frozen=True)
class StudySettings:
    store: Store
    item_set_version: str
    secret: bytes
    """Signs completion codes; kept in a file of the TraceKD home (`study_secret`), never logged."""
    completion_code: str | None = None
    """A fixed code for every participant (what Prolific studies use); None: one per participant."""
    completion_url: str | None = None
    """Where a participant goes at the end; `{code}` is replaced by the completion code."""
    title: str = "Rating reasoning traces"
    label_meanings: Mapping[str, str] = field(default_factory=dict)
    """The item set's dataset's categories in plain words (`DatasetSpec.label_meanings`), for the instructions."""


def study_secret(home: Path) -> bytes:
    """The home's completion-code secret, made once (owner-only file) and the same after a restart."""
    path = home / "ratings_secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(path.name + ".tmp")
        staged.write_bytes(secrets.token_bytes(32))
        staged.chmod(0o600)
        staged.replace(path)
    return path.read_bytes()


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{html.escape(title)}</title><style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: .6rem; border-radius: 4px; }}
fieldset {{ border: 1px solid #ccc; margin: 1rem 0; }} label {{ display: block; margin: .2rem 0; }}
.trace {{ background: #eef4ff; }} .error {{ color: #a00; }} textarea {{ width: 100%; }}
button {{ font-size: 1rem; padding: .4rem 1.2rem; }}
</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>""",
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


class Participants:
    """This page's sessions and the items each has answered, read from the store once per browser
    and then kept: only this page writes them, so a page view costs no database work and an answer
    one short write (at 50 participants, reading the store on every request queued them for seconds).
    One page process per study, as `tracekd ratings serve` runs it."""

    def __init__(self, store: Store, item_set_version: str) -> None:
        self._store, self._version = store, item_set_version
        self._known: dict[str, tuple[Session, set[str]]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[Session, set[str]] | None:
        """The session of this token in this item set, and a copy of its answered items."""
        with self._lock:
            known = self._known.get(token)
        if known is None:
            found = session_for(self._store, token)
            if found is None or found[0].item_set_version != self._version:
                return None
            with self._lock:
                known = self._known.setdefault(token, found)
        return known[0], set(known[1])

    def started(self, token: str) -> None:
        """Read again the session just started (or resumed) with this token."""
        with self._lock:
            self._known.pop(token, None)
        self.get(token)

    def answered(self, token: str, item_id: str) -> None:
        with self._lock:
            self._known[token][1].add(item_id)


def create_app(settings: StudySettings) -> FastAPI:
    """The FastAPI app of one item set."""
    items = {item.item_id: item for item in load_items(settings.store, settings.item_set_version)}
    participants = Participants(settings.store, settings.item_set_version)
    writes = GroupCommit(settings.store)  # answers arriving together are committed together
    app = FastAPI(title="TraceKD rating study", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, error: PageError) -> Any:
        return _page("Something is wrong", f'<p class="error" id="error">{html.escape(error.message)}</p>', error.status)

    @app.exception_handler(StoreBusy)
    async def _busy(request: Request, error: StoreBusy) -> Any:
        log.warning("store busy: %s", error)
        return _page("Please try again", '<p class="error" id="error">The study database is busy; nothing was saved. '
                     "Please go back and submit again in a moment.</p>", 503)  # fmt: skip

    def signed(token: str) -> str:
        # "session:" keeps these signatures apart from completion codes, made with the same secret
        signature = hmac.new(settings.secret, b"session:" + token.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{token}.{signature}"

    def token_of(request: Request) -> str | None:
        """The session token of a cookie this server made; None for a missing, chosen or forged one."""
        token, _, signature = (request.cookies.get(COOKIE) or "").rpartition(".")
        return token if token and hmac.compare_digest(signed(token), f"{token}.{signature}") else None

    def current(request: Request) -> tuple[Session, set[str]] | None:
        """This browser's session and the items it has answered; None without a valid one."""
        token = token_of(request)
        return participants.get(token) if token else None

    def required(request: Request) -> tuple[Session, set[str]]:
        found = current(request)
        if found is None:
            raise PageError(401, "No study session in this browser: open the study link you were given.")
        return found

    async def form(request: Request) -> dict[str, str]:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            raise PageError(413, f"The form is too large ({int(declared)} bytes; at most {MAX_FORM_BYTES}).")
        body = bytearray()
        async for chunk in request.stream():  # never more than the limit in memory, whatever the header said
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise PageError(413, f"The form is too large (over {MAX_FORM_BYTES} bytes).")
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise PageError(400, "The form is not UTF-8 text.") from None
        repeated = [k for k, v in fields.items() if len(v) > 1]
        if repeated:
            raise PageError(400, f"Field {repeated[0]} was sent more than once.")
        return {k: v[0] for k, v in fields.items()}

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "item_set_version": settings.item_set_version, "items": len(items)}

    @app.get("/")
    def consent(request: Request) -> Any:
        found = current(request)
        linked = request.query_params.get("PROLIFIC_PID") or request.query_params.get("participant_id")
        # the same person coming back continues; another id, or a new in-lab participant after a
        # completed session, gets the consent page and a fresh session
        if found is not None and (found[0].participant_id == linked if linked else len(found[1]) < len(found[0].item_order)):
            return _redirect("/item")
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name in PLATFORM_PARAMETERS if (value := request.query_params.get(name)) is not None
        )  # fmt: skip
        return _page(settings.title, f"""
<h2>Consent</h2>
<p>You are invited to take part in a research study on how people judge written reasoning. You will read
{len(items)} short puzzles, each with a piece of reasoning and an answer, and rate each on two 5-point
scales. It takes about {max(1, len(items) // 2)} minutes. Your ratings are stored with a participant id
and used only for research; you may stop at any time by closing this page.</p>
<form method="post" action="/start">{hidden}
<label><input type="checkbox" name="consent" value="yes" id="consent" required> I have read the above and agree to take part.</label>
<button type="submit" id="start">Start</button></form>""")

    @app.post("/start")
    async def start(request: Request) -> Any:
        fields = await form(request)
        if fields.get("consent") != "yes":
            raise PageError(400, "Consent is required to take part (tick the box on the first page).")
        platform_fields = {k: fields[k] for k in PLATFORM_PARAMETERS if k in fields}
        try:
            if "PROLIFIC_PID" in platform_fields or "STUDY_ID" in platform_fields or "SESSION_ID" in platform_fields:
                participant, platform = check_participant_id(platform_fields.get("PROLIFIC_PID"), "PROLIFIC_PID"), "prolific"
            elif "participant_id" in platform_fields:
                participant, platform = check_participant_id(platform_fields["participant_id"]), "url"
            else:
                participant, platform = f"lab-{secrets.token_hex(4)}", "lab"
            study_id = check_participant_id(platform_fields["STUDY_ID"], "STUDY_ID") if "STUDY_ID" in platform_fields else None
            session_id = check_participant_id(platform_fields["SESSION_ID"], "SESSION_ID") if "SESSION_ID" in platform_fields else None
        except RatingRejected as error:
            raise PageError(400, f"The study link is incomplete or malformed: {error}.") from None
        existing = await run_in_threadpool(current, request)
        # this browser's own session when it is this participant's; otherwise a new token, made here
        token = token_of(request) if existing is not None and existing[0].participant_id == participant else secrets.token_urlsafe(32)
        try:
            session = await asyncio.wrap_future(writes.submit(start_session, list(items.values()), settings.item_set_version,
                                                              participant, token, platform, study_id, session_id))  # fmt: skip
        except ParticipantTaken:
            raise PageError(409, "This participant id has already started the study in another browser; please continue there.") from None
        await run_in_threadpool(participants.started, token)
        log.info("participant %s (%s) started, counterbalance row %d", participant, platform, session.counterbalance_row)
        response = _redirect("/instructions")
        response.set_cookie(COOKIE, signed(token), httponly=True, samesite="lax", secure=request.url.scheme == "https", max_age=7 * 86400)
        return response

    instructions_html = instructions_body(list(items.values()), settings.label_meanings)  # the same for every participant of this item set

    @app.get("/instructions")
    def instructions(request: Request) -> Any:
        required(request)
        return _page(settings.title, instructions_html + '<p><a href="/item" id="begin">Begin</a></p>')

    @app.get("/item")
    def item_page(request: Request) -> Any:
        session, done = required(request)
        remaining = [i for i in session.item_order if i not in done]
        if not remaining:
            return _redirect("/done")
        position = len(session.item_order) - len(remaining) + 1
        return _page(settings.title, _item_form(items[remaining[0]], position, len(session.item_order)))

    @app.post("/rate")
    async def rate(request: Request) -> Any:
        fields = await form(request)
        session, done = await run_in_threadpool(required, request)
        item_id = fields.get("item_id", "")
        if item_id not in session.item_order:
            raise PageError(404, f"item_id: {item_id[:40]!r} is not an item of your session.")
        try:
            values, comment = check_answer(fields)
        except RatingRejected as error:
            raise PageError(422, f"Your answer was not saved: {error}. Go back and correct it.") from None
        showing = next((i for i in session.item_order if i not in done), None)
        if item_id in done:  # a resubmitted form: already counted once
            return _redirect("/item")
        if item_id != showing:
            raise PageError(409, f"item_id: {item_id[:40]!r} is not the item you are being shown; your answer was not saved.")
        if await asyncio.wrap_future(writes.submit(record_answer, session, items[item_id], values, comment)):
            log.info("participant %s rated an item", session.participant_id)
        participants.answered(str(token_of(request)), item_id)
        return _redirect("/item")

    @app.get("/done")
    def done_page(request: Request) -> Any:
        session, done = required(request)
        if len(done) < len(session.item_order):
            return _redirect("/item")
        code = settings.completion_code or completion_code(settings.secret, settings.item_set_version, session.participant_id)
        link = ""
        if settings.completion_url:
            url = settings.completion_url.replace("{code}", code)
            link = f'<p><a href="{html.escape(url)}" id="complete">Return to the study platform to finish</a></p>'
        return _page(settings.title, f'<h2>Thank you!</h2><p>Your completion code is <code id="code">{code}</code>.</p>{link}')

    return app


def instructions_body(items: list[RatingItem], label_meanings: Mapping[str, str]) -> str:
    """The instructions of an item set: the scales, and every internal label its traces show,
    explained (`glossary`, the categories with the dataset's `label_meanings`): an item shows the
    trace exactly as the student was trained on it."""
    scales = "".join(f"<li><b>{html.escape(s.question)}</b> 1 = {html.escape(s.anchors[0])}, 5 = {html.escape(s.anchors[-1])}</li>"
                     for s in SCALES)  # fmt: skip
    terms = glossary(items, label_meanings)
    labels = "".join(f"<dt><code>{html.escape(t.shown)}</code></dt><dd>{html.escape(t.meaning)}</dd>" for t in terms)
    free = " Some reasoning is free text, written in no fixed form." if shown_in(items).free_text else ""
    explained = (f"""<h3 id="labels">What the labels in the reasoning mean</h3>
<p>The reasoning is shown exactly as a computer model was taught to write it, so it contains some fixed labels
and marks.{free} This is what they mean:</p><dl>{labels}</dl>""" if terms else
                 f"<p>{free.strip()}</p>" if free else "")  # fmt: skip
    return f"""
<h2>Instructions</h2>
<p>Each page shows a short story of numbered facts, a question about it, a piece of <em>reasoning</em> that
leads to an answer, and the answer. Judge the reasoning, not the answer; there are no right or wrong
ratings, except for a few attention checks that tell you what to choose.</p><ul>{scales}</ul>
{explained}
<p>You will see some stories more than once, each time with other reasoning: rate each piece of reasoning on
its own.</p>
<p>You can leave an optional comment. Your progress is saved after every item: if you reload or come back
later in this browser, you continue where you were.</p>"""


def _item_form(item: RatingItem, position: int, total: int) -> str:
    scales = "".join(
        f'<fieldset><legend>{html.escape(s.question)}</legend>'
        + "".join(f'<label><input type="radio" name="{s.name}" value="{k}" id="{s.name}-{k}" required> {k} – {html.escape(a)}</label>'
                  for k, a in enumerate(s.anchors, start=1))
        + "</fieldset>"
        for s in SCALES
    )  # fmt: skip
    return f"""
<p id="progress">Item {position} of {total} <progress value="{position - 1}" max="{total}"></progress></p>
<h3>Facts</h3><pre>{html.escape(item.facts)}</pre>
<h3>Question</h3><p>{html.escape(item.question)}</p>
<h3>Reasoning</h3><pre class="trace">{html.escape(item.trace)}</pre>
<h3>Answer</h3><p>{html.escape(item.answer)}</p>
<form method="post" action="/rate" autocomplete="off"><input type="hidden" name="item_id" value="{html.escape(item.item_id)}">{scales}
<label for="comment">Comment (optional)</label><textarea name="comment" id="comment" rows="2" maxlength="2000"></textarea>
<p><button type="submit" id="next">Next</button></p></form>"""



PROLIFIC_QUERY = "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
"""What to append to the study URL in Prolific's study settings (Prolific fills in the ids)."""
