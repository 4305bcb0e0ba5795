"""The label-free baselines the evaluation reports next to the scorers."""

from __future__ import annotations

from smoothie_core.evaluation import get_method
from smoothie_core.evaluation.methods import EnsembleData


def _data(outputs: list[list[str]]) -> EnsembleData:
    return EnsembleData(["a", "b", "c"], [f"q{i}" for i in range(len(outputs))], outputs)


def test_longest_answer_picks_the_most_words_first_on_ties() -> None:
    data = _data([["one two", "one two three", "x"], ["same size", "also two", "a b"]])
    assert get_method("longest_answer")(data).picks.tolist() == [1, 0]


def test_answer_vote_takes_the_majority_of_stated_answers() -> None:
    data = _data(
        [
            ["The answer is 7.", "The answer is 8.", "The answer is 8."],
            ["The answer is 7.", "no idea", "The answer is 9."],  # no majority: first
        ]
    )
    assert get_method("answer_vote")(data).picks.tolist() == [1, 0]
