"""The Dagster definitions, one folder per domain (data, teacher, students, evaluation, reports),
each with its assets and, side by side, its sensors and schedules; shared resources, partitions,
pools, jobs and the metadata conversion at this level. Loaded by `tracekd_assets.definitions`
(and `dg`) with `dagster.components.load_defs`."""
