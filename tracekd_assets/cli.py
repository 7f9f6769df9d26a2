"""`tracekd` command line: `tracekd demo` runs the whole graph on the embedded default;
`tracekd run DATASET SOURCE` runs it on a downloaded dataset (a path or an `hf:` id);
`tracekd datasets inspect DATASET PATH` checks dataset files before they are materialized;
`tracekd query SQL` and `tracekd snapshot PATH` read results safely while Dagster is writing;
`tracekd dev` serves the UI; `tracekd doctor` recovers from killed runs; `tracekd instance-config`
prints a deployment profile's Dagster instance file; `tracekd ratings serve`
serves the rating page to participants, and `tracekd ratings export|import` moves ratings to and
from other annotation tools."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path

from tracekd_assets.flags import add_training_flags, training_changes, training_flag_problems
from tracekd_assets.home import CHECKOUT, HOME_HELP, HOME_VARIABLE, STORE_DATA_VARIABLE, STORE_VARIABLE, default_home
from tracekd_assets.instance import profiles
from tracekd_ops.datasets import loadable_datasets
from tracekd_ops.evaluate.scoring import ANSWER_RULES, CUT_SHORT_RULES, FACT_RULES
from tracekd_ops.ratings.formats import FORMATS


def _stop_on_term() -> None:
    """TERM stops `demo` and `run` as Ctrl-C does: as an exception in the main thread, so their
    unfinished runs are canceled, the Dagster services running them stopped, and the local
    teacher's server too, on the way out (by default TERM would end this process alone)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    # A background job starts with SIGINT ignored, and after a run in this process Dagster gives
    # TERM whatever SIGINT has: without this line TERM would be ignored from then on.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _materialize(args: argparse.Namespace, datasets: tuple[str, ...], changes: dict[str, object], teacher: object = None) -> int:
    """Every partition of the graph for `datasets` (raw data, each condition's chain, SQL models
    and report) into the instance under `$DAGSTER_HOME` (default: <home>/dagster); then the
    comparison table, how long each stage took, the result in one line, and where everything is."""
    import shutil
    import time

    from tracekd_assets.defs.resources import ExperimentSettings, TraceKDHome
    from tracekd_assets.demo import default_instance, materialize_everything
    from tracekd_ops.steps.report import run_summary

    started = time.monotonic()
    home = TraceKDHome()
    instance = default_instance(home)
    experiment = ExperimentSettings().with_changes(**changes) if changes else ExperimentSettings()
    conditions = tuple(args.conditions.split(",")) if getattr(args, "conditions", None) else None
    outcome = materialize_everything(instance, home, experiment, teacher=teacher, datasets=datasets, workers=args.workers,  # type: ignore[arg-type]
                                     **({"conditions": conditions} if conditions else {}))  # fmt: skip
    summary = run_summary(home.store(), datasets, width=shutil.get_terminal_size().columns) if outcome.reported else []
    if summary:
        print()
        print("\n".join(summary))
    print()
    for stage, seconds in outcome.seconds.items():
        print(f"took:        {seconds:6.0f} s  {stage}")
    print(f"took:        {time.monotonic() - started:6.0f} s  in all")
    print(f"report:      {home.reports_dir() / 'report.html'}" if outcome.reported else "report:      not written (its stage did not run or failed)")
    print(f"results:     {home.store().location}")
    print(f"registry:    {home.local_registry().root}")
    launcher = sys.argv[0] if Path(sys.argv[0]).name == "tracekd" else "tracekd"  # as the user typed it: .venv/bin/tracekd
    print(f"dagster UI:  {launcher} dev --home {home.root}")
    if outcome.failed:
        print(f"FAILED: {', '.join(outcome.failed)}", file=sys.stderr)
        return 1
    return 0


def _prepare_environment(args: argparse.Namespace) -> None:
    _stop_on_term()
    if os.environ.get("TRACEKD_REGISTRY", "local") == "local":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local study needs no network
    if args.home:
        os.environ[HOME_VARIABLE] = str(Path(args.home).resolve())


LOCAL_TEACHER_QUESTIONS = 60
"""Training questions per dataset the local teacher is asked about: a 135M model on two CPU cores
answers about one question every few seconds."""


def _demo(args: argparse.Namespace) -> int:
    """The embedded default (generated data, CPU, no network); `--teacher local` also serves
    SmolLM2-135M-Instruct as the teacher on loopback, so the three teacher conditions run too."""
    _prepare_environment(args)
    changes: dict[str, object] = {**({"seeds": list(range(args.seeds))} if args.seeds != 1 else {}), **_budget_changes(args)}
    if args.teacher == "none":
        return _materialize(args, ("synthetic",), changes)
    from tracekd_assets.defs.resources import TeacherSettings, TraceKDHome
    from tracekd_ops.teacher.local import serve
    from tracekd_ops.train.bases import resolve_base_model

    model = resolve_base_model("smollm2-135m-instruct")
    with serve(Path(model), TraceKDHome().root / "teacher" / "serve.log") as server:
        print(f"local teacher: {model} served at {server.base_url}; asked about {LOCAL_TEACHER_QUESTIONS} questions per dataset")
        teacher = TeacherSettings(base_url=server.base_url, model=model, max_questions=LOCAL_TEACHER_QUESTIONS, max_tokens=160,
                                  max_concurrency=2, timeout_s=300.0, worked_example=True)  # fmt: skip
        return _materialize(args, ("synthetic",), changes, teacher)


def _dataset_and_source(args: argparse.Namespace, sources_folder: Path) -> tuple[str, str]:
    """(dataset, source) from `DATASET SOURCE [SOURCE ...]`, or from `--spec FILE SOURCE [...]`:
    the spec file is read (an error names the file and key) and added to $TRACEKD_DATASET_SPECS, so
    that every process of the run knows the dataset it declares. Several files (a train and a test
    file) become one folder of links to them under `sources_folder`."""
    from tracekd_ops.datasets.declared import read_spec
    from tracekd_ops.datasets.catalog import SPECS_VARIABLE

    given = list(args.given)
    if args.spec is None:
        if len(given) < 2:
            raise ValueError("give a dataset and its source: a file, a folder, several files (train and test) or hf:<repo id>")
        if given[0] not in loadable_datasets():
            raise ValueError(f"unknown dataset {given[0]!r}; known: {', '.join(loadable_datasets())} (or --spec FILE for your own)")
        name, sources = given[0], given[1:]
    else:
        name, sources = read_spec(args.spec).name, given
        spec_path = str(Path(args.spec).resolve())
        known = [p for p in os.environ.get(SPECS_VARIABLE, "").split(os.pathsep) if p]
        os.environ[SPECS_VARIABLE] = os.pathsep.join([*known, spec_path] if spec_path not in known else known)
    return name, _one_source(name, sources, sources_folder)


def _one_source(dataset: str, sources: list[str], folder: Path) -> str:
    """One source for several files: a folder of links to them, named by what they are, so that
    the same files give the same folder (and the folder is the dataset's recorded source)."""
    import hashlib

    if len(sources) == 1:
        return sources[0]
    files = [Path(s).expanduser().resolve() for s in sources]
    for source, file in zip(sources, files):
        if not file.is_file():
            raise ValueError(f"{source}: several sources must each be a file (a folder or an hf: id stands alone)")
    if len({f.name for f in files}) != len(files):
        raise ValueError(f"several sources share a file name: {', '.join(sorted(str(f) for f in files))}")
    target = folder / f"{dataset}-{hashlib.sha256(chr(0).join(sorted(map(str, files))).encode()).hexdigest()[:12]}"
    target.mkdir(parents=True, exist_ok=True)
    for file in files:
        link = target / file.name
        if not link.is_symlink():
            link.symlink_to(file)
    return str(target)


def _add_source_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("given", nargs="+", metavar="DATASET SOURCE",
                         help=f"the dataset ({', '.join(loadable_datasets())}; with --spec, the spec names it), then its source: a "
                         "file, a folder (a downloaded Hub folder too), several files (e.g. a train and a test file), or "
                         "hf:<repo id>[:<config>]")  # fmt: skip
    command.add_argument("--spec", metavar="FILE", help="a YAML dataset spec: your own open-book QA dataset (see docs/datasets/declared.md)")


def _run(args: argparse.Namespace) -> int:
    """A downloaded dataset, end to end: its source, loader options and budget as flags. The source
    is read and split first, and refused (exit 2, one line) before any work when it is unusable."""
    _prepare_environment(args)
    from tracekd_assets.defs.resources import TraceKDHome

    try:
        args.dataset, args.source = _dataset_and_source(args, TraceKDHome().root / "sources")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options = dict(item.split("=", 1) for item in args.option)
    changes: dict[str, object] = {"sources": {args.dataset: args.source}, "protocol": args.protocol, **_budget_changes(args)}
    if options:
        changes["dataset_options"] = {args.dataset: options}
    if _read_limits(args):
        changes["read_limits"] = _read_limits(args)
    try:
        _preflight(args.dataset, changes)
    except (ValueError, FileNotFoundError) as error:  # a DatasetFormatError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return _materialize(args, (args.dataset,), changes)
    except ValueError as error:  # settings refused before anything runs
        print(f"error: {error}", file=sys.stderr)
        return 1


def _preflight(dataset: str, changes: dict[str, object]) -> None:
    """Read the source and split it under the protocol, as `raw_examples` will, and say what the run
    will use; an unusable source (unreadable, no questions, no train or no test split) raises here,
    before any work and with nothing stored."""
    from tracekd_assets.defs.resources import ExperimentSettings
    from tracekd_ops.datasets import dataset_spec
    from tracekd_ops.datasets.inspection import protocol_use
    from tracekd_ops.steps.data import load_raw

    experiment = ExperimentSettings().with_changes(**changes)
    partition = load_raw(dataset_spec(dataset), experiment.raw_request(dataset))
    partition.check()
    use = protocol_use(partition.records, experiment.protocol)
    splits = ", ".join(f"{count:,} {split}" for split, count in use["by_split"].items())  # type: ignore[union-attr]
    print(f"{dataset}: {use['questions']:,} questions under the {experiment.protocol} protocol ({splits}), from {partition.source}")


def _dev(args: argparse.Namespace) -> int:
    """`dagster dev` on TraceKD's instance (the demo's `DAGSTER_HOME`, with the `duckdb` pool limit),
    stopped cleanly by TERM or INT even when started in the background: a shell starts background
    jobs with SIGINT ignored, and `dagster dev` maps SIGTERM to SIGINT's handler, so both would be
    ignored; the child gets default handlers, the signals are forwarded, and whatever it leaves in
    its session (code servers) is ended with it."""
    import signal
    import subprocess

    from tracekd_assets.defs.resources import TraceKDHome
    from tracekd_assets.demo import bind_instance
    from tracekd_ops.core.lifetime import stop_process_group

    if args.home:
        os.environ[HOME_VARIABLE] = str(Path(args.home).resolve())
    instance = bind_instance(TraceKDHome().root)
    _pools(args)
    workspace = instance / "workspace.yaml"  # the code location named as the runs recorded it, from whatever directory
    workspace.write_text("load_from:\n  - python_module:\n      module_name: tracekd_assets.definitions\n      attribute: defs\n"
                         "      location_name: tracekd\n")  # fmt: skip
    command = [str(Path(sys.executable).parent / "dagster"), "dev", "-w", str(workspace), "--host", args.host, "--port", str(args.port)]

    def default_signals() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    child = subprocess.Popen(command, start_new_session=True, preexec_fn=default_signals)
    forward = lambda number, frame: child.send_signal(signal.SIGINT)  # noqa: E731 - dagster dev shuts down on SIGINT
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = child.wait()
    finally:
        stop_process_group(child.pid, [child])  # the code servers dagster dev leaves running
    return code


def _pools(args: argparse.Namespace) -> int:
    """Write TraceKD's pool limits (tracekd_assets/defs/pools.py) into the instance at $DAGSTER_HOME."""
    from dagster import DagsterInstance

    from tracekd_assets.defs.pools import apply_pool_limits

    with DagsterInstance.get() as instance:
        limits = apply_pool_limits(instance)
    print("pool limits: " + ", ".join(f"{pool} {limit}" for pool, limit in limits.items()))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    """Free what killed runs left behind in the Dagster instance (runs stuck STARTED, claimed
    pool slots) and say what was done."""
    from dagster import DagsterInstance

    from tracekd_assets.defs.recovery import free_dead_runs

    with DagsterInstance.get() as instance:
        done = free_dead_runs(instance)
    print("\n".join(done) if done else "nothing to recover: no killed run holds a pool slot or stays STARTED")
    return 0


def _instance_config(args: argparse.Namespace) -> int:
    """Print a profile's dagster.yaml: how a deployment without the Helm chart gets its instance
    file (`> $DAGSTER_HOME/dagster.yaml`, or into the config map its run launcher names)."""
    from tracekd_assets.instance import instance_yaml

    try:
        text = instance_yaml(args.profile or os.environ.get("TRACEKD_DEPLOYMENT") or "local", args.max_concurrent_runs)
    except ValueError as error:  # a TRACEKD_DEPLOYMENT no profile has
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _add_budget_flags(command: argparse.ArgumentParser) -> None:
    """How much a run does: questions per category, and every training setting (`tracekd_assets.flags`:
    `--max-steps` and `--max-seconds` bound each student)."""
    command.add_argument("--per-category-limit", type=int, help="at most this many questions per split and category (default: no limit "
                         "beyond the protocol's)")  # fmt: skip
    add_training_flags(command)


def _budget_changes(args: argparse.Namespace) -> dict[str, object]:
    """The experiment changes the budget and training flags ask for."""
    training = training_changes(args)
    changes: dict[str, object] = {"training": training} if training else {}
    if args.per_category_limit is not None:
        changes["per_category_limit"] = args.per_category_limit
    return changes


def _read_limits(args: argparse.Namespace) -> dict[str, int]:
    """The read limits given as flags (`--max-depth` and the like), by their settings names."""
    from tracekd_ops.datasets.files import READ_LIMITS

    return {name: getattr(args, name) for name in asdict(READ_LIMITS) if getattr(args, name) is not None}


def _add_read_limit_flags(command: argparse.ArgumentParser) -> None:
    from tracekd_ops.datasets.files import READ_LIMITS

    for name, default in asdict(READ_LIMITS).items():
        command.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, metavar="N",
                             help=f"refuse a file past this {name.removeprefix('max_').replace('_', ' ')} (default {default:,})")  # fmt: skip


def _inspect(args: argparse.Namespace) -> int:
    from tracekd_ops.datasets import inspect_dataset
    from tracekd_ops.datasets.errors import DatasetFormatError
    from tracekd_ops.datasets.files import ReadLimits

    import tempfile

    try:
        with tempfile.TemporaryDirectory(prefix="tracekd-inspect-") as scratch:  # several files: linked here while read
            dataset, source = _dataset_and_source(args, Path(scratch))
            options = dict(item.split("=", 1) for item in args.option)
            if args.gold_rule:
                options["gold_rule"] = args.gold_rule
            summary = inspect_dataset(dataset, source, ReadLimits(**_read_limits(args)), args.protocol, **options)
    except (DatasetFormatError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


def _published_import(args: argparse.Namespace) -> int:
    """Import a folder of published outputs as external students through the asset graph
    (`published_students[<dataset>]`, then the SQL models and the report), and print what was
    imported, every left-out line's reason, and whether trace correctness predicts answer
    correctness for each published student."""
    import time

    from pydantic import ValidationError

    from tracekd_assets.defs.jobs import published_job, report_job
    from tracekd_assets.defs.resources import ExperimentSettings, TraceKDHome
    from tracekd_assets.demo import InstanceServices, default_instance
    from tracekd_ops.published.settings import PublishedConfig, PublishedSource
    from tracekd_ops.steps.published import import_summary

    _prepare_environment(args)
    names = dict(item.split("=", 1) for item in args.condition_name)
    settings = {key: value for key, value in {
        "path": args.path, "layout": args.layout, "student": args.student, "source": args.source, "dataset": args.dataset,
        "condition": args.condition, "base_model": args.base_model, "category": args.category,
        "generation_format": args.generation_format, "seed": args.seed, "condition_names": names,
    }.items() if value is not None}  # fmt: skip
    try:
        source = PublishedSource(**settings)
        published = PublishedConfig(sources=[source], answer=args.answer, facts=args.facts, cut_short=args.cut_short)
        experiment = ExperimentSettings().with_changes(published=published.model_dump())
    except (ValidationError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.monotonic()
    home = TraceKDHome()
    instance = default_instance(home)
    resources = {"home": {"home": home.home}, "experiment": experiment.as_config()}
    with InstanceServices(instance) as services:
        ok, run_id = services.run(published_job.name, source.dataset, resources)
        if not ok:
            print(f"FAILED: published_students[{source.dataset}] (run {run_id}); its error is in the run's log: "
                  f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} tracekd dev", file=sys.stderr)  # fmt: skip
            return 1
        reported, report_run = services.run(report_job.name, None, resources)
    store = home.store()
    print("\n".join(import_summary(store, reported)))
    if reported:
        print(f"report:      {home.reports_dir() / 'report.html'}")
    else:
        print(f"FAILED: SQL models + report (run {report_run}): the imported rows are stored; rerun the report job", file=sys.stderr)
    print(f"results:     {store.location} (tables predictions, metrics, external_files, external_lines; SQL models published_comparison, published_rescoring)")
    print(f"took:        {time.monotonic() - started:6.0f} s")
    return 0 if reported else 1


def _plan(args: argparse.Namespace) -> int:
    """The experiment's grid of fine-tunes, with training tokens and GPU-hours; nothing trains."""
    from tracekd_ops.steps.plan import check_experiment, plan_experiment
    from tracekd_ops.train.experiment import default_experiment, load_experiment_file

    sources = dict(item.split("=", 1) for item in args.source)
    try:
        experiment = load_experiment_file(args.experiment) if args.experiment else default_experiment()
        check_experiment(experiment, args.experiment or "the default experiment")
        plan = plan_experiment(experiment, sources, args.protocol, Path(args.benchmarks), lambda line: print(f"plan:        {line}"))
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{'dataset':<10} {'condition':<14} {'student':<14} {'seed':>4} {'mode':<6} {'examples':>8} {'train tokens':>13} {'GPU-hours':>9}  tokens counted by")
    for row in plan:
        hours = f"{row.gpu_hours:9.2f}" if row.gpu_hours is not None else "        –"
        print(f"{row.dataset:<10} {row.condition:<14} {row.student:<14} {row.seed:>4} {row.mode:<6} {row.examples:>8,} {row.train_tokens:>13,} {hours}  {row.tokenizer}")
    known = [row.gpu_hours for row in plan if row.gpu_hours is not None]
    print(f"{len(plan)} fine-tunes, {sum(r.train_tokens for r in plan):,} training tokens"
          + (f", {sum(known):.1f} GPU-hours" if known and len(known) == len(plan) else ", GPU-hours unknown (no GPU benchmark result)"))  # fmt: skip
    return 0


def _home_root(home: str | None) -> Path:
    return Path(home or default_home()).resolve()


def _store(home: str | None):  # noqa: ANN202 - keeps the import lazy
    from tracekd_ops.steps.catalog import open_store

    root = _home_root(home)
    store = open_store(os.environ.get(STORE_VARIABLE), root, os.environ.get(STORE_DATA_VARIABLE))
    if not store.exists():
        raise SystemExit(f"no TraceKD database at {store.location}: run `tracekd demo` or materialize something")
    return store


def _query(args: argparse.Namespace) -> int:
    """One read-only SELECT under TraceKD's shared lock: safe while Dagster materializes, and
    unable to touch anything but the results (no files, no other databases, no network)."""
    from tracekd_ops.store.lake import LakeUnavailable
    from tracekd_ops.store.store import QueryRefused, StoreBusy, StoreUnreadable

    import shutil

    from tracekd_ops.report.cells import terminal_table

    if args.tables:
        sql = ("SELECT table_name AS \"table\", estimated_size AS \"rows (about)\", comment FROM duckdb_tables() "
               "WHERE schema_name = 'main' ORDER BY table_name")  # fmt: skip
    elif args.describe:
        quoted = args.describe.replace("'", "''")
        sql = (f"SELECT column_name AS \"column\", data_type AS type, is_nullable AS nullable, comment FROM duckdb_columns() "
               f"WHERE schema_name = 'main' AND table_name = '{quoted}' ORDER BY column_index")  # fmt: skip
    elif args.sql:
        sql = args.sql
    else:
        print("error: give a SELECT, --tables, or --describe TABLE", file=sys.stderr)
        return 2
    try:
        frame = _store(args.home).query(sql, timeout_s=args.timeout)
    except (QueryRefused, StoreBusy, StoreUnreadable, LakeUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.describe and not len(frame):
        print(f"error: no table {args.describe!r}; tracekd query --tables lists them", file=sys.stderr)
        return 1
    if args.format == "csv":
        print(frame.to_csv(index=False), end="")
        return 0
    rows = [{key: _plain(value) for key, value in row.items()} for row in frame.astype(object).where(frame.notna(), None).to_dict("records")]
    if args.format == "json":
        print(json.dumps(rows, default=lambda value: value.isoformat() if hasattr(value, "isoformat") else str(value)))
    else:  # values as the report writes them: '–' for NULL, integers as integers, fractions to three places
        print(terminal_table(rows, width=shutil.get_terminal_size().columns))
    return 0


def _plain(value: object) -> object:
    """A DuckDB value as Python holds it plainly: a HUGEINT (what sum() of integers gives, a whole
    Decimal here) as an int, not '300.0'; another Decimal as a float."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _snapshot(args: argparse.Namespace) -> int:
    target = _store(args.home).snapshot(args.path)
    print(f"snapshot written to {target}: open it with `duckdb {target}` for as long as you like")
    return 0


def _ratings_serve(args: argparse.Namespace) -> int:
    """The rating page for the newest item set (or `--item-set`), on loopback unless told otherwise."""
    import logging

    import uvicorn

    from tracekd_ops.ratings.server import PROLIFIC_QUERY, StudySettings, create_app, study_secret
    from tracekd_ops.steps.ratings import current_item_set, label_meanings

    store = _store(args.home)
    try:
        version = current_item_set(store, args.item_set, args.dataset)
        settings = StudySettings(store, version, study_secret(_home_root(args.home)), args.completion_code, args.completion_url,
                                 label_meanings=label_meanings(store, version))  # fmt: skip
        app = create_app(settings)
    except (LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    base = f"http://{args.host}:{args.port}"
    print(f"rating page for item set {version}: {base}/ (in-lab), or {base}/{PROLIFIC_QUERY} as a Prolific study URL", flush=True)
    # access_log off: request lines carry participant ids in their query strings
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _ratings_export(args: argparse.Namespace) -> int:
    from tracekd_ops.steps.ratings import export_ratings

    try:
        done = export_ratings(_store(args.home), args.format, Path(args.path), args.item_set, args.panel)
    except (LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{done['ratings']} {done['panel']} ratings of item set {done['item_set_version']} written to {done['path']}")
    return 0


def _ratings_import(args: argparse.Namespace) -> int:
    from tracekd_ops.ratings.formats import ImportRejected
    from tracekd_ops.steps.ratings import import_ratings

    try:
        done = import_ratings(_store(args.home), args.format, Path(args.path), args.item_set, args.name)
    except (ImportRejected, LookupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    replaced = f", replacing the {done['replaced']} ratings it held before" if done["replaced"] else ""
    print(f"imported {done['ratings']} ratings by {done['participants']} participants into item set {done['item_set_version']} "
          f"as {done['source']}{replaced}; materialize rating_analysis (or the report job) to see them")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `tracekd` parser, apart from `main` so the docs' CLI reference is generated from it."""
    parser = argparse.ArgumentParser(prog="tracekd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="materialize the full asset graph on the generated default dataset")
    demo.add_argument("--home", help=f"where the DuckDB file, registry and reports go ({HOME_HELP})")
    demo.add_argument("--teacher", choices=("none", "local"), default="none",
                      help="local: serve SmolLM2-135M-Instruct on loopback as the teacher, so the teacher conditions run too")
    demo.add_argument("--seeds", type=int, default=1, help="seeds of the tiny student (default 1); the leaderboard shows sd and CIs over them")
    demo.add_argument("--workers", type=int, default=4,
                      help="condition chains trained and evaluated at once, each in its own process (default: 4, one per condition without a teacher)")
    _add_budget_flags(demo)  # e.g. a one-minute smoke run: --max-steps 2 --per-category-limit 4
    demo.set_defaults(handler=_demo)
    dev = commands.add_parser("dev", help="the Dagster UI and daemon on TraceKD's instance; TERM or INT stops it cleanly")
    dev.add_argument("--home", help=f"the TraceKD home whose results and runs to show ({HOME_HELP}); its Dagster instance comes with it")
    dev.add_argument("--host", "-H", default="127.0.0.1")
    dev.add_argument("--port", "-p", type=int, default=3000)
    dev.set_defaults(handler=_dev)
    pools = commands.add_parser("pools", help="set TraceKD's pool limits (duckdb 1, training $TRACEKD_TRAINING_SLOTS, "
                                "teacher_endpoint $TRACEKD_TEACHER_SLOTS) in the instance at $DAGSTER_HOME")
    pools.set_defaults(handler=_pools)
    doctor = commands.add_parser("doctor", help="recover from killed runs: mark them failed and free their pool slots ($DAGSTER_HOME)")
    doctor.set_defaults(handler=_doctor)
    instance = commands.add_parser("instance-config", help="print a deployment profile's Dagster instance file (dagster.yaml) from "
                                   "tracekd_assets/instance.yaml, e.g. tracekd instance-config --profile cluster > $DAGSTER_HOME/dagster.yaml")
    instance.add_argument("--profile", choices=profiles(), help="the deployment profile (default: $TRACEKD_DEPLOYMENT, else local)")
    instance.add_argument("--max-concurrent-runs", type=int, metavar="N", help="runs the run queue starts at once (default: the profile's)")
    instance.set_defaults(handler=_instance_config)
    run = commands.add_parser("run", help="materialize the full asset graph on a downloaded dataset (a file, a folder or hf:<repo id>)")
    _add_source_arguments(run)
    run.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                     help="a loader option, e.g. split=train (MS MARCO), relation=mix (CoTempQA), gold_rule=max_overlap")
    run.add_argument("--protocol", choices=("reference", "full"), default="reference")
    _add_budget_flags(run)
    run.add_argument("--conditions", help="comma-separated trace conditions (default: every one that can run)")
    run.add_argument("--home", help=f"where the DuckDB file, registry and reports go ({HOME_HELP})")
    run.add_argument("--workers", type=int, default=1, help="condition chains trained at once, each in its own process (default 1)")
    _add_read_limit_flags(run)
    run.set_defaults(handler=_run)
    datasets = commands.add_parser("datasets", help="work with dataset files").add_subparsers(dest="action", required=True)
    inspect = datasets.add_parser("inspect", help="load a file or folder and print a JSON summary (exit 1 on malformed input)")
    _add_source_arguments(inspect)
    inspect.add_argument("--gold-rule", choices=("is_selected", "max_overlap"), help="MS MARCO gold passages")
    inspect.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                         help="a loader option, e.g. split=train (MS MARCO), relation=mix (CoTempQA)")
    inspect.add_argument("--protocol", choices=("reference", "full"), default="reference",
                         help="also show what this protocol uses of the files: questions per split and category (default reference)")
    _add_read_limit_flags(inspect)
    inspect.set_defaults(handler=_inspect)
    query = commands.add_parser("query", help="run one read-only SELECT on the results (safe during materialization)")
    query.add_argument("sql", nargs="?", help="one SELECT (tables: --tables; their columns: --describe TABLE)")
    query.add_argument("--tables", action="store_true", help="list the tables, with their size and what each holds")
    query.add_argument("--describe", metavar="TABLE", help="list a table's columns and types")
    query.add_argument("--home", help=f"TraceKD home ({HOME_HELP})")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--timeout", type=float, default=60.0, help="seconds before the query is stopped (default: 60)")
    query.set_defaults(handler=_query)
    snapshot = commands.add_parser("snapshot", help="copy the database consistently, for the duckdb CLI or a notebook")
    snapshot.add_argument("path")
    snapshot.add_argument("--home", help=f"TraceKD home ({HOME_HELP})")
    snapshot.set_defaults(handler=_snapshot)
    ratings = commands.add_parser("ratings", help="the human rating study").add_subparsers(dest="action", required=True)
    serve = ratings.add_parser("serve", help="serve the rating page to participants (loopback by default)")
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to reach it from other machines (put TLS in front)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--item-set", help="item set version (default: the newest)")
    serve.add_argument("--dataset", help="the newest item set of this dataset")
    serve.add_argument("--completion-code", help="one code for every participant (as Prolific studies use); default: one per participant")
    serve.add_argument("--completion-url", help="where participants go at the end; {code} is replaced, "
                       "e.g. https://app.prolific.com/submissions/complete?cc={code}")
    serve.add_argument("--home", help=f"TraceKD home ({HOME_HELP})")
    serve.set_defaults(handler=_ratings_serve)
    for name, handler, text in (("export", _ratings_export, "write ratings (and their items) to a file"),
                                ("import", _ratings_import, "read ratings collected with another tool as real ratings")):  # fmt: skip
        action = ratings.add_parser(name, help=text)
        action.add_argument("format", choices=FORMATS)
        action.add_argument("path")
        action.add_argument("--item-set", help="item set version (default: the newest)")
        action.add_argument("--home", help=f"TraceKD home ({HOME_HELP})")
        if name == "export":
            action.add_argument("--panel", choices=("real", "simulated"), default="real")
        else:
            action.add_argument("--name", help="what this import is called: importing under it again replaces it (default: "
                                "its content, so the same ratings imported twice are stored once)")
        action.set_defaults(handler=handler)
    plan = commands.add_parser("plan", help="lay an experiment's fine-tunes out (training tokens, GPU-hours) without training")
    plan.add_argument("--experiment", help="the experiment file, e.g. experiments/reference.yaml (default: one tiny student)")
    plan.add_argument("--source", action="append", default=[], metavar="DATASET=PATH",
                      help="where a dataset's files are (default: its variable, e.g. TRACEKD_BABI_PATH)")
    plan.add_argument("--protocol", choices=("reference", "full"), default="reference")
    plan.add_argument("--benchmarks", default=str(CHECKOUT / "bench" / "results"), metavar="DIR",
                      help="the GPU benchmark results GPU-hours are estimated from (default: bench/results of this checkout; "
                      "an installed package has none, and GPU-hours are then unknown)")  # fmt: skip
    plan.set_defaults(handler=_plan)
    published = commands.add_parser("published", help="another study's published outputs as students").add_subparsers(dest="action", required=True)
    imported = published.add_parser("import", help="import a folder of published generations (the reference study's layout, or the "
                                    "simple one: JSON Lines/Parquet with question, facts, answers, generation), score it, report it")
    imported.add_argument("path", help="a folder (or file) of published outputs, e.g. ../shared/data/trace_check_qa_outputs/cotempqa")
    imported.add_argument("--layout", choices=("auto", "trace-check-qa", "simple"), default="auto")
    imported.add_argument("--student", help="the name these students go by (default: published)")
    imported.add_argument("--source", help="where the outputs come from, for lineage (default: the folder's git commit, else its path)")
    imported.add_argument("--dataset", help="simple layout: the dataset the outputs answer (default: cotempqa)")
    imported.add_argument("--condition", help="simple layout: the trace condition the student was trained under")
    imported.add_argument("--base-model", help="simple layout: the student's base model, e.g. Qwen/Qwen3-1.7B")
    imported.add_argument("--category", help="simple layout: the question category, when the lines carry none")
    imported.add_argument("--generation-format", choices=("tracekd", "trace-check-qa"), help="simple layout: how generations are written")
    imported.add_argument("--seed", type=int)
    imported.add_argument("--condition-name", action="append", default=[], metavar="NAME=CONDITION",
                          help="map another of the study's condition names, e.g. sft-adapter-reasoning=correct")
    imported.add_argument("--answer", choices=ANSWER_RULES, default="em", help="answer rule the stored rows use (default: em)")
    imported.add_argument("--facts", choices=FACT_RULES, default="exact", help="IR step rule the stored rows use (default: exact)")
    imported.add_argument("--cut-short", choices=CUT_SHORT_RULES, default="wrong", help="an answer never closed (default: wrong)")
    imported.add_argument("--home", help=f"TraceKD home ({HOME_HELP})")
    imported.set_defaults(handler=_published_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    problems = training_flag_problems(args)
    if problems:
        parser.error("; ".join(problems))
    try:
        return args.handler(args)
    except BrokenPipeError:  # `tracekd query ... | head`: the reader left; no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
