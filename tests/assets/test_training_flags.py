"""The training settings are declared once (`tracekd_ops.train.settings`) and give the launchpad's
config, the CLI's flags and the job file: a setting in the schema is a flag, a flag's value reaches
the training config a student is trained with, and a value the schema refuses stops the command
before any work, naming the flag."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import BaseModel

from tracekd_assets.cli import _budget_changes, build_parser
from tracekd_assets.defs.resources import ExperimentSettings, TrainingDefaults
from tracekd_ops.train.settings import CHOICES, PLATFORM_DEFAULTS, TrainingConfig


def settings_of(schema: type[BaseModel], prefix: str = "") -> dict[str, object]:
    """Every scalar setting of a schema by dotted path, nested sections included."""
    found: dict[str, object] = {}
    for name, info in schema.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found |= settings_of(info.annotation, f"{prefix}{name}.")
        else:
            found[prefix + name] = info
    return found


def training_actions(command: str) -> dict[str, object]:
    subcommand = build_parser()._subparsers._group_actions[0].choices[command]  # argparse keeps its subcommands there
    return {action.dest.removeprefix("training."): action for action in subcommand._actions if action.dest.startswith("training.")}


@pytest.mark.parametrize("command", ["demo", "run"])
def test_every_training_setting_is_a_flag_with_its_default_and_choices(command):
    actions = training_actions(command)
    expected = {path for path in settings_of(TrainingConfig) if path not in ("seed", "base_model")}
    assert set(actions) == expected
    platform = TrainingConfig(**PLATFORM_DEFAULTS)
    for path, action in actions.items():
        value = platform.model_dump()
        for part in path.split("."):
            value = value[part]
        shown = ", ".join(value) if isinstance(value, list) else value if value is not None else "none"
        assert f"(default: {shown})" in action.help, path
    assert {path: tuple(action.choices) for path, action in actions.items() if action.choices} == CHOICES
    assert "(default: 600.0)" in actions["max_seconds"].help  # the platform's wall-time cap, not the schema's none


def test_the_launchpad_describes_each_setting_as_the_flags_do():
    for name, info in TrainingDefaults.model_fields.items():
        assert info.description == TrainingConfig.model_fields[name].description, name
        assert info.description, f"training.{name} has no description"


def test_flag_values_reach_the_training_config_a_student_gets():
    args = build_parser().parse_args(["demo", "--learning-rate", "0.01", "--lora-r", "8", "--lora-target-modules", "q_proj", "v_proj",
                                      "--batching", "padded", "--max-steps", "7"])  # fmt: skip
    config = ExperimentSettings().with_changes(**_budget_changes(args)).training_defaults()
    assert (config.learning_rate, config.lora.r, config.lora.target_modules, config.batching, config.max_steps) == (
        0.01, 8, ["q_proj", "v_proj"], "padded", 7)  # fmt: skip
    assert config.max_seconds is None  # --max-steps alone lifts the wall-time cap
    assert config.lora.alpha == 32 and config.epochs == 1.0  # what no flag gave keeps its default
    untouched = ExperimentSettings().with_changes(**_budget_changes(build_parser().parse_args(["demo"]))).training_defaults()
    assert untouched == ExperimentSettings().training_defaults()


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--learning-rate", "5"], "--learning-rate 5.0: Input should be less than 1"),
        (["--max-steps", "0"], "--max-steps 0: max_steps must be positive"),
        (["--model-num-heads", "3"], "--model-* flags: hidden_size 128 must be a multiple of num_heads 3"),
        (["--batching", "sideways"], "argument --batching: invalid choice: 'sideways'"),
    ],
)
def test_a_refused_training_flag_stops_the_command_before_any_work(tmp_path, flags, said):
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-m", "tracekd_assets.cli", "demo", "--home", str(home), *flags],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert not home.exists()
