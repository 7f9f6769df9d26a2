"""TraceKD domain library: plain Python with no Dagster import, organised in wings that follow the
data flow of DESIGN.md (data -> traces -> teacher -> train -> registry -> evaluate -> store -> report;
traces -> ratings -> report; published outputs -> evaluate),
composed by `steps`, the one package the Dagster layer calls for work.

`ALLOWED_IMPORTS` is the architecture: which wings each wing may import (besides itself). A test
over the import graph (tests/test_architecture.py) fails on any other arrow, and the README draws it.
"""

ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "store": frozenset({"core"}),
    "datasets": frozenset({"core"}),
    "traces": frozenset({"core", "datasets"}),
    "teacher": frozenset({"core", "datasets", "traces", "store"}),
    "train": frozenset({"core"}),
    "registry": frozenset({"core", "store"}),
    "evaluate": frozenset({"core", "datasets", "traces", "train"}),
    "ratings": frozenset({"core", "store", "traces"}),
    "report": frozenset({"core", "store", "evaluate"}),
    "published": frozenset({"core", "datasets", "traces", "evaluate"}),
    "steps": frozenset({"core", "store", "datasets", "traces", "teacher", "train", "registry", "evaluate", "report", "ratings", "published"}),
}
