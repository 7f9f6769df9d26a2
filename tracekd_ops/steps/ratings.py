"""Steps of the rating study: sample an item set from the stored trace sets, let the simulated
panel rate it, analyse each panel's ratings, and move ratings in and out of other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracekd_ops.core.metadata import Markdown
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.ratings.analysis import analyse
from tracekd_ops.ratings.formats import ImportRejected, export, read
from tracekd_ops.ratings.items import sample_item_set
from tracekd_ops.ratings.simulate import SIMULATED_SOURCE, simulate_panel
from tracekd_ops.ratings.storage import (PANELS, REAL, SIMULATED, latest_item_set, load_items, newest_item_sets, ratings_of, replace_panel,
                                         store_item_set)  # fmt: skip
from tracekd_ops.report.render import markdown_table
from tracekd_ops.steps.outcome import Level, StepOutcome
from tracekd_ops.store.store import Store
from tracekd_ops.traces.tables import current_train_traces, trace_set_datasets


def build_item_set(store: Store, dataset: str, per_condition: int, seed: int, attention_checks: int) -> dict[str, Any]:
    """Sample items from the training traces of every stored condition of `dataset` and store them."""
    rows = current_train_traces(store, dataset)
    by_condition: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_condition.setdefault(row["condition"], []).append(row)
    if not by_condition:
        raise ValueError(f"{dataset}: no stored traces; materialize traces of {dataset} first")
    item_set = sample_item_set(dataset, by_condition, per_condition, seed, attention_checks)
    store_item_set(store, item_set)
    return {"item_set_version": item_set.version, "dataset": dataset, "items": len(item_set.items),
            "conditions": list(item_set.conditions), "trace_set_versions": item_set.trace_set_versions,
            "paired": item_set.paired, "attention_checks": attention_checks,
            "left_out": sorted(set(by_condition) - set(item_set.conditions))}  # fmt: skip


def build_item_sets(store: Store, per_condition: int, seed: int, attention_checks: int) -> StepOutcome:
    """One item set for every dataset with traces to rate, and why the other datasets have none
    (the rating study never stops the models' report)."""
    built, none = [], {}
    for dataset in trace_set_datasets(store):
        try:
            built.append(build_item_set(store, dataset, per_condition, seed, attention_checks))
        except ValueError as reason:
            none[dataset] = str(reason)
    messages: list[tuple[Level, str]] = [("info", f"{b['dataset']}: item set {b['item_set_version']}, {b['items']} items of {b['conditions']}") for b in built]  # fmt: skip
    messages += [("warning", f"{dataset}: no rating items: {reason}") for dataset, reason in none.items()]
    metadata = {"item_sets": built, "item_set_versions": [b["item_set_version"] for b in built], "datasets_without_items": none}
    return StepOutcome(metadata=metadata, tables=("rating_items", "rating_item_sets"), messages=tuple(messages))


def current_item_set(store: Store, item_set_version: str | None = None, dataset: str | None = None) -> str:
    version = item_set_version or latest_item_set(store, dataset)
    if version is None:
        raise LookupError(f"no rating item set in {store.location}: materialize the asset rating_items first")
    return version


def label_meanings(store: Store, item_set_version: str) -> dict[str, str]:
    """The item set's dataset's categories in plain words (its spec's), for the rating page's instructions."""
    items = load_items(store, item_set_version)
    return dict(dataset_spec(items[0].dataset).label_meanings)


def run_simulated_panel(store: Store, raters: int, seed: int, version: str) -> dict[str, Any]:
    rows = simulate_panel(load_items(store, version), version, raters, seed)
    replace_panel(store, version, SIMULATED, SIMULATED_SOURCE, rows)
    return {"item_set_version": version, "panel": SIMULATED, "raters": raters, "ratings": len(rows), "source": SIMULATED_SOURCE}


def simulate_panels(store: Store, raters: int, seed: int) -> StepOutcome:
    """The simulated panel's ratings of the newest item set of each dataset (what the page serves
    and the report shows by default)."""
    runs = [run_simulated_panel(store, raters, seed, version) for version in newest_item_sets(store)]
    return StepOutcome(metadata={"panels": runs, "ratings": sum(r["ratings"] for r in runs)}, tables=("ratings",))


def analyse_item_sets(store: Store) -> StepOutcome:
    """Each panel's statistics of the newest item set of each dataset (`analyse_ratings`)."""
    outcomes = [analyse_ratings(store, version) for version in newest_item_sets(store)]
    preview = [row for outcome in outcomes for row in outcome.pop("preview")]
    messages: tuple[tuple[Level, str], ...] = tuple(
        ("info", f"item set {o['item_set_version']}: panels {o['panels']}, {o['excluded']} of {o['participants']} participants failed an attention check")
        for o in outcomes
    )  # fmt: skip
    return StepOutcome(metadata={"item_sets": outcomes, "summary": Markdown(markdown_table(preview))},
                       tables=("rating_summary", "rating_tests", "rating_participants"), messages=messages)  # fmt: skip


def analyse_ratings(store: Store, version: str) -> dict[str, Any]:
    """Analyse each panel of the item set apart (real and simulated are never mixed) and replace the
    item set's rows of `rating_summary`, `rating_tests` and `rating_participants` in one transaction."""
    items = load_items(store, version)
    dataset = items[0].dataset
    keys = {"item_set_version": version}
    summary, tests, participants = [], [], []
    for panel in PANELS:
        ratings = ratings_of(store, version, panel)
        if not ratings:
            continue
        result = analyse(items, ratings)
        tag = {"item_set_version": version, "panel": panel}
        summary += [{**tag, "dataset": dataset, **row} for row in result.summary]
        tests += [{**tag, **row} for row in result.tests]
        participants += [{**tag, **row} for row in result.participants]
    if not summary:
        raise ValueError(f"item set {version} has no ratings yet: run the rating page or the simulated panel, or import ratings")
    store.replace_partitions([("rating_summary", keys, summary), ("rating_tests", keys, tests), ("rating_participants", keys, participants)])
    shown = REAL if any(r["panel"] == REAL for r in summary) else SIMULATED
    preview = [{k: r[k] for k in ("panel", "condition", "scale", "n_participants", "mean", "ci_low", "ci_high")} for r in summary if r["panel"] == shown]
    return {"item_set_version": version, "panels": sorted({r["panel"] for r in summary}), "reported_panel": shown,
            "participants": len(participants), "excluded": sum(p["excluded"] for p in participants), "preview": preview}  # fmt: skip


def export_ratings(store: Store, fmt: str, path: Path, item_set_version: str | None = None, panel: str = REAL) -> dict[str, Any]:
    version = current_item_set(store, item_set_version)
    count = export(fmt, load_items(store, version), ratings_of(store, version, panel), version, path)
    return {"item_set_version": version, "panel": panel, "ratings": count, "path": path}


def import_ratings(store: Store, fmt: str, path: Path, item_set_version: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Bring in a study run on another tool as real ratings. An import is known by the name the
    user gives it (`name`: importing under it again replaces it, and says what it replaced), else
    by its content (importing the same ratings again changes nothing). An import never deletes
    another's ratings, and a participant's rating of an item is counted once: one already stored
    by another import or by the rating page is refused, naming it. The panel is decided here: the
    simulated panel's raters are refused whatever the file says (`formats.read`)."""
    import hashlib

    version = current_item_set(store, item_set_version)
    simulated = frozenset(r["participant_id"] for r in ratings_of(store, version, SIMULATED))
    rows = read(fmt, path, load_items(store, version), simulated)
    source = f"import:{name}" if name else f"import:{fmt}:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    others = {(r["participant_id"], r["item_id"]): r["source"] for r in ratings_of(store, version, REAL) if r["source"] != source}
    clash = next(((r["participant_id"], r["item_id"]) for r in rows if (r["participant_id"], r["item_id"]) in others), None)
    if clash:
        raise ImportRejected(f"{path}: participant {clash[0]} already rated item {clash[1]} (in {others[clash]}): a rating is "
                             "counted once; import the same file under the same name to replace it")  # fmt: skip
    replaced = len([r for r in ratings_of(store, version, REAL) if r["source"] == source])
    replace_panel(store, version, REAL, source, rows)
    return {"item_set_version": version, "ratings": len(rows), "participants": len({r["participant_id"] for r in rows}),
            "source": source, "replaced": replaced}  # fmt: skip
