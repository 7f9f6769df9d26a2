"""What a stored table is, and what every wing's tables share: a wing that writes a table declares
it (`<wing>/tables.py`: its DDL, its comment, what its columns mean) beside the queries that read it,
so a table's schema and SQL have one home; `steps.catalog` gathers them for `store.Store`.

The store keeps the connections, locks and transactions; it knows the tables only through the
`Catalog` it is given, so a wing below `store` declares and queries its tables without importing it
(`Reader` is what its queries need of a store).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from tracekd_ops.core.lineage import Lineage

if TYPE_CHECKING:
    import pandas as pd

LINEAGE_COLUMNS = ", ".join(
    f"{f.name} {'INTEGER' if f.name == 'seed' else 'VARCHAR'} NOT NULL" for f in dataclasses.fields(Lineage)
)
"""Every result table starts with the lineage keys (`core.lineage.Lineage`)."""

MEANINGS: dict[str, str] = {
    "dataset": "the dataset's name in TraceKD (e.g. babi, cotempqa, msmarco, synthetic)",
    "condition": "trace condition: solution_only, correct, incorrect, swapped, teacher, teacher_summary, posthoc; untuned_base: no tuning",
    "student": "the student's name in the experiment file; untuned: an untuned base model; published outputs: the name given on import",
    "base_model": "the pretrained model the student was tuned from (Hugging Face id; tiny-llama-from-config: a tiny model built from config)",
    "seed": "the student's training seed: one run per dataset, condition, student, base model and seed",
    "trace_set_version": "content hash of the training traces the student learned from; none: untuned base model; external: published outputs",
    "model_revision": "registry revision of the evaluated student (registry.revision); untuned: untuned base model; ext-...: published outputs",
    "eval_split": "the dataset split the student was evaluated on (test)",
    "scorer_version": "version of the dataset's answer scorer (published outputs add their format and scoring choices)",
    "dataset_source": "where the evaluated questions came from: a path, an hf: id or generated; published outputs: where the outputs came from",
    "dataset_hash": "content hash of the dataset's stored questions (dataset_versions.content_hash); published outputs: hash of their files",
    "example_id": "the question's id in its dataset, the same in every condition and run",
    "category": "the question's gold class: bAbI task, CoTempQA temporal relation or MS MARCO query type",
    "prompt": "the model's input: the numbered facts, then the question (an untuned base model gets an instruction first)",
    "gold_class": "the gold classification step: the question's category",
    "gold_fact_ids": "ids of the question's gold supporting facts: the gold IR step",
    "gold_answers": "the question's gold answers (aliases allowed), as the dataset's answer rule scores against them",
    "step": "the step the 2x2 table sets against the answer: class, ir, or trace (both steps right)",
    "n_step_ok_answer_ok": "questions with the step right and the answer right (a cell of the step x answer 2x2 table)",
    "n_step_ok_answer_wrong": "questions with the step right and the answer wrong (a cell of the step x answer 2x2 table)",
    "n_step_wrong_answer_ok": "questions with the step wrong and the answer right (a cell of the step x answer 2x2 table)",
    "n_step_wrong_answer_wrong": "questions with the step wrong and the answer wrong (a cell of the step x answer 2x2 table)",
    "scale": "the Likert scale: interpretability or cognitive_load (each 1-5)",
}
"""Columns with one meaning in every table of every wing that has them (and in any SQL model column
of that name that declares none of its own): the lineage keys, the question's fields, the step x
answer 2x2 cells and the rating scale. A meaning shared by one wing's tables alone is that wing's
`tables.MEANINGS`."""


@dataclass(frozen=True)
class Table:
    """One stored table: its columns as DuckDB DDL (the order is the table's), a one-line comment,
    and the meaning of each column that has none shared (`MEANINGS`) or means something else here.
    Both comments are kept in DuckDB (`tracekd query --tables`, `--describe TABLE`)."""

    name: str
    columns: str
    comment: str
    column_comments: Mapping[str, str]


@dataclass(frozen=True, eq=False)
class Catalog:
    """Every stored table, and the column meanings shared across them: what a `Store` creates,
    upgrades and comments. Compared and hashed by identity: one catalog per process
    (`steps.catalog.CATALOG`), so what the store derives from it is computed once."""

    tables: tuple[Table, ...]
    meanings: Mapping[str, str]

    def __post_init__(self) -> None:
        names = [table.name for table in self.tables]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"table(s) declared more than once: {', '.join(repeated)}")

    def __getitem__(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def names(self) -> list[str]:
        return [table.name for table in self.tables]

    def column_comment(self, table: str, column: str) -> str:
        """The column's one-line meaning: the table's own where it has one, else the shared one,
        else "" (only a SQL model column can have none: its file must declare it)."""
        own = next((t.column_comments.get(column) for t in self.tables if t.name == table), None)
        return own or self.meanings.get(column, "")


class Reader(Protocol):
    """What a wing's queries need of the store (`store.Store` has it): a wing below `store` types
    its reads against this instead of importing it."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...
