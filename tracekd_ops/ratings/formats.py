"""Ratings in the formats people use elsewhere: CSV, Label Studio's JSON task export and Argilla's
(2.x) record JSON. Exports carry the item with its lineage; imports read a study run on those
tools back in, as `real` ratings of a stored item set.

An import is checked whole before anything is stored: every rating must name an item of the item
set and a participant, and give both scales as integers 1-5, and none may be a rating of the
simulated panel (an export of it carries its panel); an error names the file and the line (CSV)
or record (JSON) and the field. The item's condition and trace set come from the item set, never
from the file.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from tracekd_ops.ratings.items import RatingItem
from tracekd_ops.ratings.storage import SIMULATED
from tracekd_ops.ratings.study import SCALE_NAMES, RatingRejected, check_answer, check_participant_id

FORMATS = ("csv", "label-studio", "argilla")
CSV_COLUMNS = ("participant_id", "item_id", "dataset", "condition", "trace_set_version", "item_set_version", "panel",
               "interpretability", "cognitive_load", "comment", "submitted_at")  # fmt: skip
ITEM_FIELDS = ("facts", "question", "trace", "answer")


class ImportRejected(ValueError):
    """A ratings file that cannot be imported; says where (file, line or record, field)."""


def _item_metadata(item: RatingItem, item_set_version: str) -> dict[str, Any]:
    return {"item_id": item.item_id, "item_set_version": item_set_version, "dataset": item.dataset, "condition": item.condition,
            "trace_set_version": item.trace_set_version, "attention_check": item.attention_check}  # fmt: skip


def export(fmt: str, items: Sequence[RatingItem], ratings: Sequence[Mapping[str, Any]], item_set_version: str, path: Path) -> int:
    """Write the ratings (CSV: one row per rating) or the items with their ratings (JSON formats)."""
    by_item: dict[str, list[Mapping[str, Any]]] = {}
    for r in ratings:
        by_item.setdefault(r["item_id"], []).append(r)
    staged = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        with staged.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({**r, "submitted_at": str(r.get("submitted_at") or "")} for r in ratings)
    elif fmt == "label-studio":
        tasks = [{"id": n, "data": {**{f: getattr(i, f) for f in ITEM_FIELDS}, **_item_metadata(i, item_set_version)},
                  "annotations": [_label_studio_annotation(r) for r in by_item.get(i.item_id, [])]}
                 for n, i in enumerate(items, start=1)]  # fmt: skip
        staged.write_text(json.dumps(tasks, indent=1, default=str))
    elif fmt == "argilla":
        records = [{"id": i.item_id, "fields": {f: getattr(i, f) for f in ITEM_FIELDS}, "metadata": _item_metadata(i, item_set_version),
                    "responses": _argilla_responses(by_item.get(i.item_id, [])), "status": "completed" if by_item.get(i.item_id) else "pending"}
                   for i in items]  # fmt: skip
        staged.write_text(json.dumps(records, indent=1, default=str))
    else:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    staged.replace(path)
    return len(ratings)


def _label_studio_annotation(r: Mapping[str, Any]) -> dict[str, Any]:
    result = [{"from_name": s, "to_name": "trace", "type": "rating", "value": {"rating": r[s]}} for s in SCALE_NAMES]
    if r.get("comment"):
        result.append({"from_name": "comment", "to_name": "trace", "type": "textarea", "value": {"text": [r["comment"]]}})
    return {"completed_by": r["participant_id"], "result": result, "created_at": str(r.get("submitted_at") or ""), "panel": r.get("panel")}


def _argilla_responses(ratings: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    responses: dict[str, list[dict[str, Any]]] = {s: [] for s in (*SCALE_NAMES, "comment")}
    for r in ratings:
        for name in SCALE_NAMES:
            responses[name].append({"value": r[name], "user_id": r["participant_id"], "panel": r.get("panel")})
        if r.get("comment"):
            responses["comment"].append({"value": r["comment"], "user_id": r["participant_id"], "panel": r.get("panel")})
    return responses


SIMULATED_ID = re.compile(r"^sim-\d+$", re.IGNORECASE)
"""The ids TraceKD's synthetic raters go by (`ratings.simulate`): never a real participant's."""


def read(fmt: str, path: Path, items: Sequence[RatingItem], simulated_ids: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The ratings in `path`, checked against the item set; `ImportRejected` names what is wrong.
    Whether a rating is a person's is decided here, not by the file: a participant id of the
    simulated panel (`simulated_ids`, or the synthetic raters' `sim-N` form) is refused whatever
    the file says its panel is (or leaves out)."""
    if not path.is_file():
        raise ImportRejected(f"{path}: no such file")
    by_id = {item.item_id: item for item in items}
    if fmt == "csv":
        raw = list(_csv_answers(path))
    elif fmt in ("label-studio", "argilla"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ImportRejected(f"{path}: not JSON: {error}") from None
        if not isinstance(document, list):
            raise ImportRejected(f"{path}: expected a JSON list of {'tasks' if fmt == 'label-studio' else 'records'}")
        raw = list(_label_studio_answers(path, document) if fmt == "label-studio" else _argilla_answers(path, document))
    else:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    rows, seen = [], set()
    for where, answer in raw:
        if answer.get("panel") == SIMULATED:
            raise ImportRejected(f"{path}:{where}: panel: a simulated rating (TraceKD's synthetic raters); only people's ratings are imported")
        try:
            participant = check_participant_id(str(answer.get("participant_id") or ""))
            values, comment = check_answer(answer)
        except RatingRejected as error:
            raise ImportRejected(f"{path}:{where}: {error}") from None
        if participant in simulated_ids or SIMULATED_ID.match(participant):
            raise ImportRejected(f"{path}:{where}: participant_id: {participant} is one of TraceKD's synthetic raters (the simulated "
                                 "panel), not a person, whatever the file's panel column says")  # fmt: skip
        item = by_id.get(str(answer.get("item_id") or ""))
        if item is None:
            raise ImportRejected(f"{path}:{where}: item_id: {answer.get('item_id')!r} is not an item of this item set")
        if (participant, item.item_id) in seen:
            raise ImportRejected(f"{path}:{where}: participant {participant} rated item {item.item_id} twice")
        seen.add((participant, item.item_id))
        rows.append({"item_id": item.item_id, "participant_id": participant, "dataset": item.dataset, "condition": item.condition,
                     "trace_set_version": item.trace_set_version, **values, "comment": comment})  # fmt: skip
    if not rows:
        raise ImportRejected(f"{path}: no ratings in the file")
    return rows


def _csv_answers(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("participant_id", "item_id", *SCALE_NAMES) if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportRejected(f"{path}:1: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            yield f"line {line}", row


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _label_studio_answers(path: Path, tasks: list[Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for n, task in enumerate(tasks):
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            raise ImportRejected(f"{path}: task {n}: no `data` object")
        for k, annotation in enumerate(task.get("annotations") or []):
            who = annotation.get("completed_by")
            if isinstance(who, dict):
                who = who.get("email") or who.get("id")
            answer: dict[str, Any] = {"item_id": data.get("item_id"), "participant_id": _text(who), "panel": annotation.get("panel")}
            for result in annotation.get("result") or []:
                value = result.get("value") or {}
                if result.get("from_name") in SCALE_NAMES:
                    answer[result["from_name"]] = _text(value.get("rating"))
                elif result.get("from_name") == "comment":
                    answer["comment"] = "\n".join(value.get("text") or [])
            yield f"task {n} annotation {k}", answer


def _argilla_answers(path: Path, records: list[Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    for n, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("responses", {}), dict):
            raise ImportRejected(f"{path}: record {n}: expected an object with `responses` by question")
        item_id = (record.get("metadata") or {}).get("item_id") or record.get("id")
        answers: dict[str, dict[str, Any]] = {}
        for question, responses in (record.get("responses") or {}).items():
            for response in responses or []:
                user = _text(response.get("user_id"))
                answer = answers.setdefault(user, {"item_id": item_id, "participant_id": user})
                answer[question] = _text(response.get("value"))
                answer["panel"] = answer.get("panel") or response.get("panel")
        for user, answer in answers.items():
            yield f"record {n} user {user}", answer
