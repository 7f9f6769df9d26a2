"""The catalog of datasets: which names exist (a module's `SPEC`, a built-in spec file, the user's
spec files) and their specs, looked up by name; and reading a dataset's records from a source.
Kept apart from `specs.py` (what a spec is), which the dataset modules and `declared.py` import."""

from __future__ import annotations

import importlib
import os
from dataclasses import replace
from pathlib import Path

from tracekd_ops.datasets.declared import read_spec
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits
from tracekd_ops.datasets.screening import Screened
from tracekd_ops.datasets.specs import DatasetSpec

_MODULES: dict[str, str] = {
    "synthetic": "tracekd_ops.datasets.synthetic",
    "babi": "tracekd_ops.datasets.babi",
    "cotempqa": "tracekd_ops.datasets.cotempqa",
    "msmarco": "tracekd_ops.datasets.msmarco",
}
"""Each dataset's module defines its `SPEC`; imported on first use."""
DECLARED_SPECS: dict[str, Path] = {"hotpotqa": Path(__file__).with_name("declared_specs") / "hotpotqa.yaml"}
"""Built-in datasets declared by a spec file (`declared.py`) rather than a module."""
SPECS_VARIABLE = "TRACEKD_DATASET_SPECS"
"""The user's own dataset spec files, separated by the path separator (`:`); a run's processes
inherit it, so every one of them knows the same datasets."""
_declared_cache: dict[str, dict[str, DatasetSpec]] = {}


def _declared_specs() -> dict[str, DatasetSpec]:
    """The declared datasets: built-in spec files, then the user's (`$TRACEKD_DATASET_SPECS`)."""
    users = os.environ.get(SPECS_VARIABLE, "")
    if users not in _declared_cache:
        specs: dict[str, DatasetSpec] = {}
        files = [*DECLARED_SPECS.values(), *(Path(p) for p in users.split(os.pathsep) if p.strip())]
        for file in files:
            spec = read_spec(file).spec()
            if spec.name in _MODULES or spec.name in specs:
                raise ValueError(f"{file}: name: dataset {spec.name!r} is already defined; give the spec another name")
            specs[spec.name] = spec
        _declared_cache[users] = specs
    return _declared_cache[users]


def dataset_names() -> tuple[str, ...]:
    """Every dataset: the modules', the built-in declared ones, and the user's spec files."""
    return (*_MODULES, *_declared_specs())


def dataset_spec(name: str) -> DatasetSpec:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name]).SPEC
    declared = _declared_specs()
    if name not in declared:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())} (a dataset of your own: a spec file in ${SPECS_VARIABLE}, or --spec)")
    return declared[name]


def loadable_datasets() -> tuple[str, ...]:
    """Datasets read from files (as opposed to generated)."""
    return tuple(name for name in dataset_names() if not dataset_spec(name).generated)


def scorer_versions() -> dict[str, str]:
    """Every dataset's answer-rule version (the evaluation assets' code version is built from it)."""
    return {name: dataset_spec(name).scorer_version for name in dataset_names()}


def load_source(name: str, source: str | Path, limits: ReadLimits = READ_LIMITS, **options: str) -> Screened:
    """Screened records of a file dataset from a path (read within `limits`), or from the Hub given
    `hf:<repo id>[:<config>]`; what screening leaves out is counted on the result."""
    from tracekd_ops.datasets.hub import HF_PREFIX, HubSource

    spec = dataset_spec(name)
    if spec.load is None:
        raise ValueError(f"dataset {name!r} is generated, not loaded from a source")
    spec.check_options(options)
    if str(source).startswith(HF_PREFIX):
        if spec.from_hub is None:
            raise ValueError(f"dataset {name!r} has no Hub source")
        hub, config = HubSource.parse(str(source)), options.pop("config", None)
        if config and hub.config and config != hub.config:
            raise ValueError(f"{source}: names config {hub.config!r}, but the config option says {config!r}")
        return Screened(spec.from_hub(replace(hub, config=hub.config or config), **options))
    return Screened(spec.load(Path(source), limits=limits, **options))
