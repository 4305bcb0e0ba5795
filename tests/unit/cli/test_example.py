"""`smoothie example`: the canned select-mode demo of the core."""

from __future__ import annotations

import pytest

from smoothie_core.cli import main
from smoothie_core.cli._example import EXAMPLES, _rotated


def test_rotation_moves_every_role_across_candidates() -> None:
    names = list(EXAMPLES[0][1])
    off_topic = [list(_rotated(canned, q))[-1] for q, (_, canned) in enumerate(EXAMPLES)]
    assert len(set(off_topic)) == min(len(EXAMPLES), len(names))
    assert set(_rotated(EXAMPLES[0][1], 3)) == set(names)


@pytest.mark.minilm
def test_example_never_selects_the_off_topic_answer(capsys) -> None:
    assert main(["example"]) == 0
    out = capsys.readouterr().out
    for _, canned in EXAMPLES:
        assert list(canned.values())[-1][:40] not in out  # the off-topic answers are never shown
    assert "selected per candidate" in out
    assert "reliability" in out
