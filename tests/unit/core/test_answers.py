"""smoothie_core.answers: extracting, normalising and comparing stated final answers."""

from __future__ import annotations

import time

import pytest

from smoothie_core.answers import extract_answer, final_answer, normalize_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # JSON "answer" fields: fenced, bare, after prose, non-string values
        ('```json\n{\n  "reasoning": "9 * 2",\n  "answer": "18"\n}\n```', "18"),
        ('Here is my answer:\n\n{"reasoning": "x", "answer": "70,000"}\n\nHope it helps', "70,000"),
        ('{"reasoning": "r", "answer": 42}', "42"),
        ('{"reasoning": "r", "answer": [1, 2]}', "[1, 2]"),
        ('{"reasoning": "r", "answer": true}', "true"),
        ('{"reasoning": "r", "final_answer": "B"}', "B"),
        # an empty string is a stated answer (a program that returns '')
        ('{"reasoning": "nothing is printed", "answer": ""}', '""'),
        # invalid or truncated JSON
        ('{"reasoning": "cut off", "answer": "70,000"', "70,000"),
        ('{"reasoning": "a \\"quote\\" and a \n raw newline", "answer": "7"}', "7"),
        ('{"reasoning": "r",\n "answer": "{"a": 1}"\n}', '{"a": 1}'),
        ('{"reasoning": "r",\n "answer": [(1, 2), (3, 4)]}', "[(1, 2), (3, 4)]"),
        ('```json\n{"reasoning": "draft", "answer": "1"}\n```\n```json\n{"answer": "2"}\n```', "2"),
        # \boxed, nested braces, the last one
        ("First \\boxed{3}, then corrected: \\boxed{\\frac{a}{b^{2}}}.", "\\frac{a}{b^{2}}"),
        ("The final answer is: $\\boxed{9}$", "9"),
        # "the answer is": the first, but the first option letter if one is given
        ("The answer is (E).\n\nQuestion: next one\nThe answer is (B).", "(E)"),
        ("The answer is $1,237.81. The correct answer is (G).", "(G)"),
        ("so $\\boxed{59}$. The answer is (A).", "(A)"),  # the choice, not the value
        ("So the answer is 3.5.", "3.5"),
        ("thus the answer is **Paris**\nmore text", "Paris"),
        ("The answer is (A).<EOS_TOKEN>\n\n", "(A)"),
        ("Working...\nFinal Answer: D.", "D"),
        # a short last line, an option letter on it
        ("Long reasoning.\n\nC) Paris", "(C)"),
        ("Long reasoning.\n\nOption B", "(B)"),
        ("reasoning\n\n12 apples\n", "12 apples"),
    ],
)
def test_extract_answer(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n ",
        "a very long line of reasoning that never states what the final answer actually is, at all",
        '{"reasoning": "truncated in the middle of the answer", "answer": "12',
    ],
)
def test_extract_answer_none(text: str) -> None:
    assert extract_answer(text) is None
    assert final_answer(text) is None


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["1,000", "1000", "1000.0", "$1,000", "\\$1000", "1000 dollars", "#### 1000"], "1000"),
        (["\\frac{1}{2}", "1/2", "0.5", "\\dfrac12", "$\\frac{1}{2}$", ".5", "0.50"], "0.5"),
        (["-\\frac{3}{4}", "\\frac{-3}{4}", "-0.75", "-3/4"], "-0.75"),
        (["1/3", "\\frac{1}{3}", "\\tfrac{1}{3}"], "1/3"),
        (["(c)", "C", "c)", "(C) Paris", "(C), the capital", "(C)."], "C"),
        (["Paris", "paris.", "  The answer is: Paris ", "\\text{Paris}", "**Paris**"], "paris"),
        (["90^\\circ", "90°", "90^{\\circ}"], "90"),
        (["50%", "50\\%", "50 percent"], "50"),
        (["x = -4", "-4", "y=-4"], "-4"),
        (["'abc'", '"abc"', "`abc`", "abc"], "abc"),
    ],
)
def test_normalize_answer_equal_forms(answers: list[str], expected: str) -> None:
    assert {normalize_answer(a) for a in answers} == {expected}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("0.333", "1/3"),  # equal only where exact
        ("2 pi", "2"),  # mathematics, not a unit
        ("3 4", "34"),  # spaces are not thousands separators
        ("1/0", "0"),
        ("12 - 10d", "12"),
        ("(A, B)", "A"),
    ],
)
def test_normalize_answer_keeps_different_answers_apart(a: str, b: str) -> None:
    assert normalize_answer(a) != normalize_answer(b)


def test_normalize_answer_literal_keeps_case_spacing_and_number_format() -> None:
    assert normalize_answer("AbB") == normalize_answer("abb")
    assert normalize_answer("AbB", literal=True) != normalize_answer("abb", literal=True)
    assert normalize_answer("'a   b'", literal=True) == "a   b"
    assert normalize_answer("'  spaced  '", literal=True) == "spaced"
    assert normalize_answer("8.50", literal=True) != normalize_answer("8.5", literal=True)
    assert normalize_answer("8.50") == normalize_answer("8.5")
    # a real newline and its escape are the same character of a literal
    assert normalize_answer("t\nZA", literal=True) == normalize_answer("'t\\nZA'", literal=True)
    assert normalize_answer("''", literal=True) == normalize_answer('""', literal=True) == ""


def test_final_answer_combines_both() -> None:
    assert final_answer('{"answer": "$1,000.00"}') == "1000"
    assert final_answer("The answer is \\boxed{\\dfrac{1}{2}}") == "0.5"
    assert final_answer("We refer to Wikipedia. The answer is (c).") == "C"
    assert final_answer('{"answer": ""}') == ""  # a stated empty answer is not "no answer"


@pytest.mark.parametrize("fn", [extract_answer, normalize_answer, final_answer])
def test_non_str_is_a_type_error(fn: object) -> None:
    with pytest.raises(TypeError, match="must be a str; got int"):
        fn(3)  # type: ignore[operator]


def test_long_and_adversarial_texts_stay_fast() -> None:
    texts = [
        "answer is " * 20_000,
        '"answer": "' * 5_000,
        "\\boxed{" * 5_000,
        "```" * 10_000,
        ("reasoning " * 2_000) + '\n{"reasoning": "r", "answer": "5"}',
    ]
    start = time.perf_counter()
    for text in texts:
        extract_answer(text)
    assert time.perf_counter() - start < 5.0
