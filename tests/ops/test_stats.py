import math

import pytest
from scipy.stats import chi2_contingency

from tracekd_ops.evaluate.stats import TwoByTwo, bootstrap_ci, f1, mcnemar, mean_accuracy, phi_of_pairs


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


def test_fisher_share_and_small_cells_against_hand_values_and_scipy():
    from scipy.stats import fisher_exact

    table = TwoByTwo(ok_ok=10, ok_wrong=5, wrong_ok=3, wrong_wrong=12)
    assert table.share_both_correct() == pytest.approx(10 / 30)
    assert table.min_expected() == pytest.approx(15 * 13 / 30)  # 6.5: chi-square is fine here
    summary = table.summary()
    assert summary["chi2"] == pytest.approx(2 * 12.25 / 6.5 + 2 * 12.25 / 8.5) and summary["small_cells"] is False
    assert summary["phi"] == pytest.approx(105 / math.sqrt(15 * 15 * 13 * 17))
    assert summary["fisher_p"] == pytest.approx(fisher_exact([[10, 5], [3, 12]]).pvalue)
    sparse = TwoByTwo(ok_ok=3, ok_wrong=1, wrong_ok=1, wrong_wrong=3)
    assert sparse.summary()["small_cells"] is True  # expected counts of 2: read Fisher, not chi-square
    # Fisher by hand for [[3, 1], [1, 3]]: hypergeometric tables at least as extreme, both tails
    p3, p4 = math.comb(4, 3) * math.comb(4, 1) / math.comb(8, 4), math.comb(4, 4) * math.comb(4, 0) / math.comb(8, 4)
    assert sparse.fisher()[1] == pytest.approx(2 * (p3 + p4))
    assert TwoByTwo(0, 0, 0, 0).summary()["fisher_p"] is None


def test_mcnemar_exact_and_chi_square_branches():
    from scipy.stats import binomtest

    first = [True] * 7 + [False] * 2 + [True] * 5
    second = [False] * 7 + [True] * 2 + [True] * 5
    result = mcnemar(first, second)
    assert (result.b, result.c, result.exact) == (7, 2, True)
    assert result.p == pytest.approx(2 * (math.comb(9, 7) + math.comb(9, 8) + 1) / 2**9)
    assert result.p == pytest.approx(binomtest(7, 9, 0.5).pvalue)
    many_first = [True] * 20 + [False] * 8
    many_second = [False] * 20 + [True] * 8
    result = mcnemar(many_first, many_second)
    assert (result.b, result.c, result.exact) == (20, 8, False)
    assert result.statistic == pytest.approx(121 / 28)
    assert result.p == pytest.approx(math.erfc(math.sqrt(121 / 28 / 2)))
    assert mcnemar([True, False], [True, False]).p == 1.0


def test_bootstrap_interval_is_deterministic_covers_the_estimate_and_matches_scipy():
    from scipy.stats import bootstrap

    flags = [True] * 60 + [False] * 40
    low, high = bootstrap_ci(flags, mean_accuracy, n_resamples=2000, seed=1)
    assert (low, high) == bootstrap_ci(flags, mean_accuracy, n_resamples=2000, seed=1)
    assert low < 0.6 < high
    reference = bootstrap(([float(f) for f in flags],), lambda x: sum(x) / len(x), n_resamples=2000, method="percentile",
                          confidence_level=0.95, random_state=0, vectorized=False).confidence_interval  # fmt: skip
    assert low == pytest.approx(reference.low, abs=0.02) and high == pytest.approx(reference.high, abs=0.02)
    pairs = [(True, True)] * 30 + [(False, False)] * 30 + [(True, False)] * 20 + [(False, True)] * 20
    phi_low, phi_high = bootstrap_ci(pairs, phi_of_pairs, n_resamples=500)
    assert phi_low < phi_of_pairs(pairs) < phi_high
    assert bootstrap_ci([], mean_accuracy) is None


def test_f1_and_corpus_bleu_by_hand():
    assert f1(0.5, 1.0) == pytest.approx(2 / 3) and f1(0.0, 0.0) == 0.0 and f1(None, 1.0) is None
    from tracekd_ops.evaluate.scoring import corpus_bleu

    assert corpus_bleu(["a b c d"], ["a b c d"]) == pytest.approx(1.0)
    # p1..p4 = 4/5, 3/4, 2/3, 1/2; equal lengths: no brevity penalty
    assert corpus_bleu(["a b c d e"], ["a b c d f"]) == pytest.approx((0.8 * 0.75 * (2 / 3) * 0.5) ** 0.25)
    # a short hypothesis is penalised: exp(1 - 6/4)
    assert corpus_bleu(["a b c d"], ["a b c d e f"]) == pytest.approx(math.exp(1 - 6 / 4))
    assert corpus_bleu(["x y"], ["a b"]) == 0.0 and corpus_bleu([], []) is None
