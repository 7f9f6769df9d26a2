"""Command-line flags generated from the typed training settings (`tracekd_ops.train.settings`).

The same pydantic schema gives the launchpad's `training` config (`defs.resources.dagster_config`),
the job file a training process reads, and these flags: a setting added there is a flag here, with
its type, choices, default and description, and a value it refuses is refused before any work,
naming the setting. Nested sections become prefixed flags (`lora.r` is `--lora-r`).
"""

from __future__ import annotations

import argparse
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from tracekd_ops.train.settings import CHOICES, PLATFORM_DEFAULTS, TrainingConfig

EXPERIMENT_OWNED = ("seed", "base_model")
"""Per-student settings an experiment file (or the tiny student) gives; as in the launchpad, not flags."""
DEST_PREFIX = "training."
NOTES = {"max_steps": "given alone, every step is trained, however long it takes (no wall-time cap unless --max-seconds is given too)"}
"""What a flag means beyond its setting: how `training_changes` reads it."""
METAVARS = {int: "N", float: "X", str: "NAME", bool: "BOOL"}


def _scalar(annotation: Any) -> tuple[type, bool] | None:
    """(type a flag parses, whether the setting takes a list) for an int, float, str or bool
    setting (optional or a list of one); None for anything else."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _scalar(inner[0]) if len(inner) == 1 else None
    if get_origin(annotation) is list:
        found = _scalar(get_args(annotation)[0])
        return (found[0], True) if found and not found[1] else None
    return (annotation, False) if annotation in (int, float, str, bool) else None


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "yes", "1", "on"):
        return True
    if text.lower() in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _flags(schema: type[BaseModel], defaults: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any, Any]]:
    """(setting path, field info, default) of every setting a flag can carry, nested ones included."""
    found = []
    for name, info in schema.model_fields.items():
        if not path and name in EXPERIMENT_OWNED:
            continue
        default = defaults.get(name, info.get_default(call_default_factory=True))
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found += _flags(info.annotation, default.model_dump() if isinstance(default, BaseModel) else default, (*path, name))
        elif _scalar(info.annotation):
            found.append(((*path, name), info, default))
    return found


def add_training_flags(command: argparse.ArgumentParser) -> None:
    """One flag per training setting, in a group of its own; unset flags change nothing."""
    group = command.add_argument_group("training", "every student's training settings (the launchpad's `training` section; an "
                                       "experiment file's per-student values win over them)")  # fmt: skip
    for path, info, default in _flags(TrainingConfig, PLATFORM_DEFAULTS):
        kind, many = _scalar(info.annotation)  # type: ignore[misc]
        flag = "--" + "-".join(path).replace("_", "-")
        description = " ".join((info.description or path[-1].replace("_", " ")).split()).rstrip(".")
        note = f"; {NOTES[path[-1]]}" if path[-1] in NOTES else ""
        shown = ", ".join(default) if many else default
        group.add_argument(flag, dest=DEST_PREFIX + ".".join(path), type=_boolean if kind is bool else kind, default=None,
                           nargs="+" if many else None, choices=CHOICES.get(path[-1]) if not path[:-1] else None,
                           metavar=None if path[-1] in CHOICES and not path[:-1] else METAVARS[kind],
                           help=f"{description} (default: {shown if shown is not None else 'none'}){note}")  # fmt: skip


def training_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The training settings the flags give, nested as the experiment's `training` section takes
    them. `--max-steps` alone also lifts the wall-time cap (`NOTES`)."""
    changes: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if dest.startswith(DEST_PREFIX) and value is not None:
            *sections, name = dest.removeprefix(DEST_PREFIX).split(".")
            target = changes
            for section in sections:
                target = target.setdefault(section, {})
            target[name] = value
    if "max_steps" in changes and "max_seconds" not in changes:
        changes["max_seconds"] = None
    return changes


def training_flag_problems(args: argparse.Namespace) -> list[str]:
    """What the training settings refuse in the given flags, one line each naming the flag, so a
    bad value stops the command before any work (an empty list: nothing given is refused)."""
    changes = training_changes(args)
    if not changes:
        return []
    defaults = TrainingConfig(**PLATFORM_DEFAULTS).model_dump()
    merged = {**defaults, **{k: {**defaults[k], **v} if isinstance(v, dict) else v for k, v in changes.items()}}
    try:
        TrainingConfig.model_validate(merged)
    except ValidationError as error:
        problems = []
        for found in error.errors():
            path = [str(part) for part in found["loc"] if isinstance(part, str)]
            section = isinstance(found["input"], dict)  # a rule across a section's settings, not one flag's
            flag = "--" + "-".join(path).replace("_", "-") if path else "the training flags"
            named = f"{flag}-* flags" if path and section else flag if section else f"{flag} {found['input']}"
            problems.append(f"{named}: {found['msg'].removeprefix('Value error, ')}")
        return problems
    return []
