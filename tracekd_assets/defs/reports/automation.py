"""When the SQL models and the report rebuild on their own."""

from dagster import AutomationCondition

FOLLOW_UPSTREAM = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing()).with_label("follow upstream")
"""Dagster's `eager()` without its 'no upstream partition missing' clause: the models read
partitioned tables (28 dataset x condition partitions of `metrics`) of which a study fills only
some, so waiting for all of them would wait forever. Rebuilt when anything upstream was updated,
never while it is still being written."""
