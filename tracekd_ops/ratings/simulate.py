"""A simulated panel: seeded synthetic raters, so the demo shows the rating analysis end to end
without people. Everything they produce is stored as panel `simulated` and labelled so in every
table and plot; it is never analysed together with real ratings.

The raters' model is deliberately simple and says nothing about people: an item's latent
interpretability falls with the trace's length and with a corrupted step; its latent cognitive
load rises with length and corruption; each rater adds a personal bias and noise; a share of
raters is inattentive (answers at random, and so fails attention checks).
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from tracekd_ops.ratings.items import RatingItem
from tracekd_ops.ratings.study import participant_order

SIMULATED_SOURCE = "simulated panel (TraceKD's synthetic raters, not people)"


def _clip(value: float) -> int:
    return max(1, min(5, round(value)))


def simulate_panel(items: Sequence[RatingItem], item_set_version: str, raters: int = 24, seed: int = 0,
                   inattentive_share: float = 0.1) -> list[dict[str, Any]]:  # fmt: skip
    """One rating per rater and item, in the order the rating page would have shown them."""
    if raters < 1:
        raise ValueError(f"raters must be at least 1; got {raters}")
    rng = random.Random(seed)
    by_id = {item.item_id: item for item in items}
    rows = []
    for k in range(raters):
        participant = f"sim-{k + 1:03d}"
        inattentive = rng.random() < inattentive_share
        bias = rng.gauss(0.0, 0.4)
        for item_id in participant_order([i.as_order_item() for i in items], k, participant, item_set_version):
            item = by_id[item_id]
            if inattentive:
                values = {"interpretability": rng.randint(1, 5), "cognitive_load": rng.randint(1, 5)}
            elif item.attention_check:
                values = {"interpretability": item.expected_interpretability, "cognitive_load": item.expected_cognitive_load}
            else:
                excess = max(0, item.trace_words - 20)
                values = {
                    "interpretability": _clip(4.6 - 1.4 * item.trace_corrupted - 0.012 * excess + bias + rng.gauss(0, 0.8)),
                    "cognitive_load": _clip(1.8 + 0.6 * item.trace_corrupted + 0.02 * item.trace_words - bias + rng.gauss(0, 0.8)),
                }
            rows.append({"item_id": item_id, "participant_id": participant, "dataset": item.dataset, "condition": item.condition,
                         "trace_set_version": item.trace_set_version, **values, "comment": None})  # fmt: skip
    return rows
