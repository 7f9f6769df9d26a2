"""Where published outputs are read from and whose they are: one `PublishedSource` per folder or
file, declared once here (the Dagster config and the CLI flags are built from it).

Two layouts:

- `trace-check-qa`: the reference study's (`trace_check_qa` module); the files say the student,
  condition and relation, so only `path` (and optionally `student`, `source`) is needed.
- `simple`: anyone's outputs, JSON Lines (`.jsonl`/`.json`) or Parquet (`.parquet`), a file or a
  folder of them, one line per test question with the columns `question` (text), `facts` (list of
  texts), `answers` (list of gold answers) and `generation` (the student's text); optionally
  `category` (else the `category` setting), `gold_fact_ids` (1-based; else the dataset's rule, where
  it has one), `example_id`, `triple_element` (CoTempQA's official metric needs it). Whose they
  are is said by the settings: `dataset`, `condition`, `base_model`, `student` (and `seed`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tracekd_ops.datasets import dataset_names
from tracekd_ops.evaluate.metrics import BASELINE_CONDITION
from tracekd_ops.evaluate.scoring import ANSWER_RULES, CUT_SHORT_RULES, FACT_RULES, ScoringChoice
from tracekd_ops.published import trace_check_qa
from tracekd_ops.published.rescore import GENERATION_FORMATS, TRACEKD_FORMAT
from tracekd_ops.traces.conditions import CONDITIONS

SIMPLE = "simple"
AUTO = "auto"
LAYOUTS = (AUTO, trace_check_qa.LAYOUT, SIMPLE)
DEFAULT_STUDENT = "published"
KNOWN_CONDITIONS = (*CONDITIONS, BASELINE_CONDITION)


class PublishedSource(BaseModel):
    """One folder (or file) of published generations and whose they are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, description="a folder (or a file) of published outputs")
    layout: str = Field(default=AUTO, description="auto | trace-check-qa (the reference study's) | simple")
    student: str = Field(
        default=DEFAULT_STUDENT, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="the name these students go by (with base model, condition and seed, it names each one)",
    )  # fmt: skip
    source: str | None = Field(
        default=None, description="where the outputs come from, for lineage (e.g. github:sbhambr1/Trace_Check_QA@fa84bdc); "
        "unset: the git commit of the folder's repository, else the folder itself",
    )  # fmt: skip
    dataset: str = Field(default="cotempqa", description="the dataset the outputs answer (simple layout)")
    condition: str | None = Field(default=None, description="the trace condition the student was trained under (simple layout)")
    base_model: str | None = Field(default=None, description="the student's base model, e.g. Qwen/Qwen3-1.7B (simple layout)")
    category: str | None = Field(default=None, description="the question category, when the lines carry none (simple layout)")
    generation_format: str = Field(
        default=TRACEKD_FORMAT, description="how the generations are written: tracekd | trace-check-qa (simple layout)"
    )
    seed: int = Field(default=0, ge=0)
    condition_names: dict[str, str] = Field(
        default_factory=dict, description="more of the authors' condition names -> TraceKD conditions (trace-check-qa layout)"
    )

    @model_validator(mode="after")
    def _valid(self) -> "PublishedSource":
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {self.layout!r}")
        if self.dataset not in dataset_names():
            raise ValueError(f"dataset must be one of {', '.join(dataset_names())}; got {self.dataset!r}")
        if self.generation_format not in GENERATION_FORMATS:
            raise ValueError(f"generation_format must be one of {', '.join(GENERATION_FORMATS)}; got {self.generation_format!r}")
        for name, condition in [*self.condition_names.items(), *([("condition", self.condition)] if self.condition else [])]:
            if condition not in KNOWN_CONDITIONS:
                raise ValueError(f"{name}: unknown condition {condition!r}; known: {', '.join(KNOWN_CONDITIONS)}")
        if self.layout == SIMPLE and not (self.condition and self.base_model):
            raise ValueError("the simple layout needs the condition and the base_model of its student")
        return self


class PublishedConfig(BaseModel):
    """Every published source to import, and the scoring choices their lines are stored under
    (each choice's effect on the tables is in the report whatever is chosen here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[PublishedSource] = Field(default_factory=list, description="folders (or files) of published outputs and whose they are")
    answer: str = Field(default=ScoringChoice.answer, description=f"answer rule: {' | '.join(ANSWER_RULES)}")
    facts: str = Field(default=ScoringChoice.facts, description=f"IR step rule: {' | '.join(FACT_RULES)}")
    cut_short: str = Field(default=ScoringChoice.cut_short, description=f"an answer never closed: {' | '.join(CUT_SHORT_RULES)}")

    @model_validator(mode="after")
    def _valid(self) -> "PublishedConfig":
        self.choice()
        return self

    def choice(self) -> ScoringChoice:
        return ScoringChoice(self.answer, self.facts, self.cut_short)
