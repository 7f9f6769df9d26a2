import math

import pytest
from scipy.stats import chi2_contingency

from tracekd_ops.stats import TwoByTwo


def test_hand_computed_chi_square_phi_and_conditionals():
    table = TwoByTwo(ok_ok=20, ok_wrong=10, wrong_ok=30, wrong_wrong=40)
    # expected counts: row totals 30/70, column totals 50/50, n=100 -> E = 15, 15, 35, 35
    hand = (20 - 15) ** 2 / 15 + (10 - 15) ** 2 / 15 + (30 - 35) ** 2 / 35 + (40 - 35) ** 2 / 35
    statistic, p = table.chi_square()
    assert statistic == pytest.approx(hand)
    assert p == pytest.approx(math.erfc(math.sqrt(hand / 2)))  # chi-square survival at 1 d.f.
    assert table.phi() == pytest.approx((20 * 40 - 10 * 30) / math.sqrt(30 * 70 * 50 * 50))
    assert table.phi() ** 2 * table.n == pytest.approx(statistic)
    assert table.p_answer_given_step_correct() == pytest.approx(20 / 30)
    assert table.p_answer_given_step_wrong() == pytest.approx(30 / 70)


def test_agrees_with_scipy_without_continuity_correction():
    table = TwoByTwo(7, 3, 12, 28)
    expected = chi2_contingency([[7, 3], [12, 28]], correction=False)
    assert table.chi_square() == pytest.approx((expected.statistic, expected.pvalue))


def test_from_pairs_counts_cells():
    table = TwoByTwo.from_pairs([True, True, False, False, False], [True, False, True, False, False])
    assert (table.ok_ok, table.ok_wrong, table.wrong_ok, table.wrong_wrong) == (1, 1, 1, 2)


def test_undefined_when_a_margin_is_empty():
    table = TwoByTwo(ok_ok=0, ok_wrong=0, wrong_ok=5, wrong_wrong=5)
    assert table.chi_square() is None and table.phi() is None
    assert table.p_answer_given_step_correct() is None
    assert table.p_answer_given_step_wrong() == 0.5
