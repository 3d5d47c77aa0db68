"""The decision threshold: the policy grammar, the choice on validation scores (checked against a brute force over
every candidate), ties, unreachable policies, and the one comparison rule (probability >= threshold)."""

import time

import numpy as np
import pytest

from train_job.evaluation import evaluate
from train_job.plots import precision_recall_figure
from train_job.threshold import ThresholdError, ThresholdPolicy, choose_threshold, is_fraud, parse_policy


@pytest.mark.parametrize(
    ("text", "kind", "value", "canonical"),
    [
        ("f1", "f1", None, "f1"),
        (" F1 ", "f1", None, "f1"),
        ("precision:0.9", "precision", 0.9, "precision:0.9"),
        ("Precision:.95", "precision", 0.95, "precision:0.95"),
        ("precision:1", "precision", 1.0, "precision:1.0"),
        ("recall:0.8", "recall", 0.8, "recall:0.8"),
        ("fixed:0.995", "fixed", 0.995, "fixed:0.995"),
        ("fixed:1e-3", "fixed", 0.001, "fixed:0.001"),
    ],
)
def test_policies_parse_to_their_canonical_text(text: str, kind: str, value: float | None, canonical: str) -> None:
    """Each policy parses (case and spaces aside) to kind and value; its text parses back to the same policy."""
    policy = parse_policy(text)
    assert (policy.kind, policy.value, str(policy)) == (kind, value, canonical)
    assert parse_policy(str(policy)) == policy


@pytest.mark.parametrize("text", ["", "f2", "f1:0.5", "precision", "precision:", "precision:high", "precision:0",
                                  "precision:1.5", "recall:-0.1", "recall:nan", "fixed:1", "fixed:0", "fixed:inf",
                                  "precison:0.9", "0.995"])
def test_bad_policies_are_refused_naming_the_value(text: str) -> None:
    """Anything outside the grammar (or a number out of range) is a ValueError naming the text and the grammar."""
    with pytest.raises(ValueError, match="expected a threshold policy f1, precision:P, recall:R") as refused:
        parse_policy(text)
    assert f"got {text!r}" in str(refused.value)


def test_a_bare_number_is_told_how_to_write_a_fixed_threshold() -> None:
    """The old ``--threshold 0.995`` value, given as a policy, gets the spelling it needs."""
    with pytest.raises(ValueError, match=r"\(a fixed threshold is written fixed:0\.995\)$"):
        parse_policy("0.995")


def scored(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """~10 % fraud; float32 scores of a noisy ranker, rounded to 3 decimals so that many rows tie."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.1).astype(np.int8)
    scores = 1 / (1 + np.exp(-(2.5 * labels + rng.normal(size=rows) - 1.5)))
    return labels, np.round(scores, 3).astype(np.float32)


def every_candidate(labels: np.ndarray, scores: np.ndarray) -> list[dict[str, float]]:
    """Brute force: precision, recall and F1 at every distinct score (rows >= it flagged), highest first."""
    candidates = []
    for threshold in np.unique(scores)[::-1]:
        flagged = scores >= threshold
        tp, fp, fn = (int(np.sum(flagged & (labels == 1))), int(np.sum(flagged & (labels == 0))),
                      int(np.sum(~flagged & (labels == 1))))
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        candidates.append({"threshold": float(threshold), "precision": precision, "recall": recall, "f1": f1})
    return candidates


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("text", ["f1", "precision:0.5", "precision:0.8", "recall:0.5", "recall:0.9", "recall:1"])
def test_each_policy_meets_its_constraint_and_is_optimal(text: str, seed: int) -> None:
    """Against `evaluate` at every candidate: f1 takes the best F1, precision:P the best recall with precision
    >= P, recall:R the highest threshold with recall >= R; ties go to the highest threshold. The choice's
    metrics are `evaluate`'s at its threshold."""
    labels, scores = scored(3_000, seed)
    policy = parse_policy(text)
    choice = choose_threshold(labels, scores, policy)
    at = evaluate(labels, scores, choice.threshold)
    assert (choice.precision, choice.recall, choice.f1) == pytest.approx((at["precision"], at["recall"], at["f1"]))
    candidates = every_candidate(labels, scores)
    assert choice.threshold in {c["threshold"] for c in candidates}
    if policy.kind == "f1":
        best = max(c["f1"] for c in candidates)
        expected = next(c for c in candidates if c["f1"] >= best - 1e-12)
    elif policy.kind == "precision":
        meeting = [c for c in candidates if c["precision"] >= policy.value]
        best = max(c["recall"] for c in meeting)
        expected = next(c for c in meeting if c["recall"] == best)
        assert at["precision"] >= policy.value
    else:
        expected = next(c for c in candidates if c["recall"] >= policy.value)
        assert at["recall"] >= policy.value
    assert choice.threshold == expected["threshold"]


def test_tied_scores_are_one_candidate_and_ties_go_to_the_highest_threshold() -> None:
    """Rows with the same score are flagged together: no threshold splits the three 0.8s (which would show a
    perfect 0.8 with two frauds out of two). F1 ties (0.9 and 0.8 both 2/3) go to 0.9."""
    labels = np.array([1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.8, 0.8, 0.2, 0.1], dtype=np.float32)
    f1 = choose_threshold(labels, scores, ThresholdPolicy("f1"))
    assert (f1.threshold, f1.precision, f1.recall, f1.f1) == (pytest.approx(0.9), 1.0, 0.5, pytest.approx(2 / 3))
    assert choose_threshold(labels, scores, parse_policy("precision:1")).threshold == pytest.approx(0.9)
    recall = choose_threshold(labels, scores, parse_policy("recall:1"))
    assert (recall.threshold, recall.precision) == (pytest.approx(0.8), 0.5)
    best_recall = choose_threshold(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.7, 0.6]),
                                   parse_policy("precision:0.5"))
    assert (best_recall.threshold, best_recall.precision, best_recall.recall) == (pytest.approx(0.8), 1.0, 1.0)


def test_the_threshold_is_exactly_a_validation_score() -> None:
    """The chosen float is the float32 score itself, so ``str`` of it (the registry tag) reads back exactly."""
    labels, scores = scored(2_000, 5)
    choice = choose_threshold(labels, scores, ThresholdPolicy("f1"))
    assert np.float32(choice.threshold) == choice.threshold and float(str(choice.threshold)) == choice.threshold
    assert np.any(scores == choice.threshold)


def test_fixed_uses_its_value_and_counts_at_it() -> None:
    """``fixed:T`` picks T whatever the scores, with the validation metrics at T (also without fraud)."""
    labels, scores = scored(2_000, 3)
    choice = choose_threshold(labels, scores, parse_policy("fixed:0.7"))
    at = evaluate(labels, scores, 0.7)
    assert (choice.threshold, choice.precision, choice.recall) == (0.7, at["precision"], at["recall"])
    assert choice.f1 == pytest.approx(at["f1"])
    none = choose_threshold(np.zeros(3), np.array([0.1, 0.8, 0.9]), parse_policy("fixed:0.5"))
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)


def test_unreachable_precision_names_the_policy_and_the_best_reachable() -> None:
    """No threshold reaches precision 0.9: the error says so, with the highest precision any threshold gives."""
    labels = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    scores = np.array([0.9, 0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4], dtype=np.float32)
    with pytest.raises(ThresholdError) as refused:
        choose_threshold(labels, scores, parse_policy("precision:0.9"))
    message = str(refused.value)
    assert message.startswith("threshold policy precision:0.9 cannot be met on the validation split (8 rows, 3 fraud)")
    assert "the highest precision reachable is 0.5000 (threshold 0.9, recall 0.3333)" in message


@pytest.mark.parametrize("text", ["f1", "precision:0.5", "recall:0.5"])
def test_no_fraud_in_the_validation_split_is_an_error(text: str) -> None:
    """Without fraud no policy but fixed means anything: a `ThresholdError` naming the policy."""
    with pytest.raises(ThresholdError, match=rf"^threshold policy {text} needs fraud in the validation split, "
                                             r"which has none \(4 rows\)$"):
        choose_threshold(np.zeros(4, dtype=np.int8), np.array([0.1, 0.2, 0.3, 0.4]), parse_policy(text))


def test_a_hundred_thousand_rows_choose_in_well_under_a_second() -> None:
    """One sort and cumulative sums: 100k validation rows take milliseconds (a loop over candidates would not)."""
    labels, scores = scored(100_000, 9)
    scores = (scores + np.random.default_rng(9).random(100_000) * 1e-3).astype(np.float32)  # ~all distinct
    started = time.perf_counter()
    for text in ("f1", "precision:0.8", "recall:0.8"):
        choose_threshold(labels, scores, parse_policy(text))
    assert time.perf_counter() - started < 1.0


def test_a_score_at_the_threshold_is_fraud() -> None:
    """The one rule: fraud when probability >= threshold, also for the metrics, the plot's operating point and a
    threshold that a float32 cannot hold (compared exactly, as the app compares Python floats)."""
    labels = np.array([0, 1, 1, 0])
    scores = np.array([0.25, 0.5, 0.75, 0.5], dtype=np.float32)
    metrics = evaluate(labels, scores, 0.5)
    assert (metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"]) == (2, 1, 0, 1)
    assert evaluate(labels, scores, 0.75)["tp"] == 1
    figure = precision_recall_figure(labels, scores, 0.5, "fixed:0.5", metrics["pr_auc"])
    (point,) = figure.axes[0].collections[0].get_offsets()
    assert tuple(point) == (1.0, pytest.approx(2 / 3))
    assert "fixed:0.5" in figure.axes[0].get_legend().get_texts()[1].get_text()
    just_above = float(np.float32(0.1)) + 1e-12  # rounds down to float32(0.1): numpy alone would flag 0.1
    assert not is_fraud(np.array([0.1], dtype=np.float32), just_above)[0]
    assert is_fraud(np.array([0.1], dtype=np.float32), float(np.float32(0.1)))[0]
