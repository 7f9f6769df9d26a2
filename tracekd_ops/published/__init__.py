"""Published outputs as students: another study's per-question generations (no weights), read in
their layout, joined to canonical records, re-scored with TraceKD's own scorers."""
