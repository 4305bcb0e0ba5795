"""The final answer an output states: extract it, normalise it, compare it.

Chain-of-thought outputs put their answer at the end, after the reasoning, in one of a
few conventional forms. :func:`extract_answer` finds it, :func:`normalize_answer` puts
it in a canonical form so that equal answers compare equal as strings, and
:func:`final_answer` does both. Scorers that compare *what* candidates answer (answer
agreement, a label model over answers) and the ``"answer"`` text view of the embedding
step (:mod:`smoothie_core.textviews`) build on these three functions.

Pure functions, standard library only, every regular expression compiled once.

Examples
--------
>>> final_answer('```json\\n{"reasoning": "9 eggs at $2", "answer": "$18.00"}\\n```')
'18'
>>> final_answer("... so x = 1/2. The answer is \\\\boxed{\\\\frac{1}{2}}.")
'0.5'
>>> final_answer("Statement 1 is true. The answer is (c).")
'C'
>>> final_answer("") is None
True
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

__all__ = ["extract_answer", "normalize_answer", "final_answer"]

#: A last line longer than this (characters) is reasoning, not a stated answer.
LAST_LINE_MAX_CHARS = 60

# ------------------------------------------------------------------ extraction
_FENCE = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_ANSWER_KEY = re.compile(r"""["']?\b(?:final_?)?answer["']?\s*:\s*""", re.I)
_JSON_KEY = re.compile(r'"(?:final_?)?answer"\s*:\s*', re.I)
_JSON_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_AFTER_STRING_OK = re.compile(r"\s*(?:[,}\]]|\Z)")
_GREEDY_STRING = re.compile(r'"(.*)"\s*,?\s*}?\s*$')
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_IS = re.compile(
    r"\banswer\s+is\s*[:=]?\s*(?P<ans>.+?)\s*(?:\.(?=\s|\Z)|\n|\Z)", re.I | re.S
)
_ANSWER_COLON = re.compile(r"\banswer\s*\**\s*:\s*\**[ \t]*(?P<ans>[^\n]+)", re.I)
_OPTION_LINE = re.compile(
    r"^(?:the\s+)?(?:correct\s+)?(?:option|choice)?\s*[:\-]?\s*\(?(?P<letter>[A-Z])\)"
    r"|^(?:option|choice)\s+\(?(?P<letter2>[A-Z])\b"
    r"|^\(?(?P<letter3>[A-Z])[.)]?$",
    re.I,
)
_SPECIAL_TOKENS = re.compile(r"<\|?/?[A-Za-z_]*(?:eos|eot|end)[A-Za-z_]*\|?>|</s>", re.I)
_MARKUP = re.compile(r"^[\s*_#>`]+|[\s*_`]+$")


def _json_value_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        # an empty string is a stated answer (e.g. a program that prints nothing): keep
        # it visible as the JSON literal '""'
        return value if value.strip() else json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _json_objects(text: str) -> list[str]:
    """Candidate JSON documents: fenced blocks (last first), then the outermost braces."""
    blocks = [m.group(1) for m in _FENCE.finditer(text)][::-1]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        blocks.append(text[first : last + 1])
    return blocks


def _from_json(text: str) -> str | None:
    if '"' not in text or "answer" not in text.lower():
        return None
    for block in _json_objects(text):
        try:
            obj = json.loads(block)
        except ValueError:
            continue
        if isinstance(obj, dict):
            for key, value in reversed(list(obj.items())):
                if str(key).lower() in {"answer", "final_answer", "finalanswer"}:
                    return _json_value_text(value)
    return _from_broken_json(text)


def _from_broken_json(text: str) -> str | None:
    """The last ``"answer": value`` of invalid or truncated JSON."""
    matches = list(_JSON_KEY.finditer(text))
    for key in reversed(matches):
        rest = text[key.end() :]
        if rest.startswith('"'):
            strict = _JSON_STRING.match(rest)
            if strict and _AFTER_STRING_OK.match(rest, strict.end()):
                try:
                    return _json_value_text(json.loads(strict.group(0)))
                except ValueError:
                    return strict.group(1)
            line = rest.split("\n", 1)[0]
            greedy = _GREEDY_STRING.match(line)  # unescaped quotes inside the value
            if greedy:
                return greedy.group(1).replace('\\"', '"')
            continue  # an unterminated string: truncated mid-answer
        value = rest.split("\n", 1)[0].strip().rstrip(",").strip()
        if value.endswith("}") and value.count("{") < value.count("}"):
            value = value[:-1].rstrip()
        if value and value not in {"null", "{", "["}:
            return value
    return None


def _balanced(text: str, start: int, stop: int) -> str | None:
    """The text inside the brace opened just before ``start``, closed before ``stop``."""
    depth = 1
    for i in range(start, stop):
        ch = text[i]
        if ch in "{}" and text[i - 1] != "\\":
            depth += 1 if ch == "{" else -1
            if depth == 0:
                return text[start:i]
    return None


def _from_boxed(text: str) -> str | None:
    stop = len(text)
    for m in reversed(list(_BOXED.finditer(text))):
        inner = _balanced(text, m.end(), stop)
        if inner is None:
            # unclosed: an earlier box that reaches this one cannot close either, so
            # later scans stop here (linear time on many unclosed boxes)
            stop = m.start()
        elif inner.strip():
            return inner.strip()
    return None


def _clean_phrase(ans: str) -> str | None:
    ans = _MARKUP.sub("", ans.strip())
    ans = ans.strip().rstrip(".").strip()
    if not ans or len(ans) > 4 * LAST_LINE_MAX_CHARS:
        return None
    return ans


def _option_phrase(text: str) -> str | None:
    """The first "answer is X" whose X is an option letter ("(G)", "G", "(g)")."""
    for m in _ANSWER_IS.finditer(text):
        ans = _clean_phrase(m.group("ans"))
        if ans and _OPTION.match(ans):
            return ans
    return None


def _from_phrase(text: str) -> str | None:
    # the first "answer is" (base models ramble on with new questions after answering)
    for m in _ANSWER_IS.finditer(text):
        ans = _clean_phrase(m.group("ans"))
        if ans:
            return ans
    colon = _ANSWER_COLON.search(text)
    return _clean_phrase(colon.group("ans")) if colon else None


def _last_line(text: str) -> str | None:
    for line in reversed(text.strip().splitlines()):
        line = _MARKUP.sub("", line).strip()
        if not line or set(line) <= set("`{}[]()"):
            continue
        if len(line) > LAST_LINE_MAX_CHARS:
            return None
        opt = _OPTION_LINE.match(line)
        if opt:
            return f"({(opt.group('letter') or opt.group('letter2') or opt.group('letter3'))})"
        return line.rstrip(".").strip() or None
    return None


def extract_answer(text: str, *, strict: bool = False) -> str | None:
    """The final answer ``text`` states, as written (not normalised), or None.

    Tried in order, the first that finds something wins:

    1. a JSON ``"answer"`` (or ``"final_answer"``) field: in a code fence or bare, and
       also in invalid or truncated JSON (the last ``"answer": value`` whose value is
       complete);
    2. the first "answer is X" where X is an option letter ("The answer is (E)"; a
       multiple-choice answer wins over a value computed on the way, e.g. in a
       ``\\boxed{}``);
    3. the last ``\\boxed{...}`` (or ``\\fbox{...}``), nested braces allowed;
    4. the first "answer is X" (up to the end of the sentence or line; the first, since
       base models ramble on with new questions after answering), else the first
       "Answer: X" line;
    5. the last non-empty line if it is short (at most ``LAST_LINE_MAX_CHARS``
       characters): an option letter such as "(C)", "C)" or "Option C" becomes "(C)",
       anything else is returned as it is.

    Parameters
    ----------
    text : str
        One model output.
    strict : bool, default=False
        Accept a short last line (the last strategy) only when it is an option letter or
        a number. Free-form prose ends in short lines that are not answers ("Hope this
        helps!"); scorers that compare answers use ``strict=True`` so that prose falls
        back to comparing whole texts.

    Returns
    -------
    str or None
        None when no answer is stated (empty text, or reasoning that stops without one).

    Examples
    --------
    >>> extract_answer('{"reasoning": "2 + 2", "answer": 4}')
    '4'
    >>> extract_answer('```json\\n{"reasoning": "it prints", "answer": "[1, 2]"}\\n```')
    '[1, 2]'
    >>> extract_answer('{"reasoning": "cut off", "answer": "70,000"')  # truncated JSON
    '70,000'
    >>> extract_answer("so the sum is \\\\boxed{\\\\frac{a}{b^{2}}} in the end")
    '\\\\frac{a}{b^{2}}'
    >>> extract_answer("We refer to Wikipedia. The answer is (E).\\n\\nQuestion: ... The answer is (B).")
    '(E)'
    >>> extract_answer("Working...\\nAnswer: 42 apples")
    '42 apples'
    >>> extract_answer("Long reasoning.\\n\\nC) Paris")
    '(C)'
    >>> extract_answer("Long reasoning that never concludes " * 5) is None
    True
    >>> extract_answer("Paris is lovely.\\nHope this helps!", strict=True) is None
    True
    >>> extract_answer("Adding them up:\\n144", strict=True)
    '144'
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str; got {type(text).__name__}.")
    text = _SPECIAL_TOKENS.sub("", text)
    if not text.strip():
        return None
    for strategy in (_from_json, _option_phrase, _from_boxed, _from_phrase):
        found = strategy(text)
        if found is not None and found.strip():
            return found.strip()
    found = _last_line(text)
    if found is None or not found.strip():
        return None
    found = found.strip()
    if strict and not (_OPTION.match(found) or _numeric(normalize_answer(found)) is not None):
        return None
    return found


# ------------------------------------------------------------------ normalisation
_WRAPPERS = (
    re.compile(r"^\\boxed\s*\{(.*)\}$", re.S),
    re.compile(r"^\$\$(.*)\$\$$", re.S),
    re.compile(r"^\$(.*)\$$", re.S),
    re.compile(r"^\\\((.*)\\\)$", re.S),
    re.compile(r"^\\\[(.*)\\\]$", re.S),
    re.compile(r"^\*\*(.*)\*\*$", re.S),
    re.compile(r"^`(.*)`$", re.S),
)
_PREFIX = re.compile(
    r"^(?:#+\s+|(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*[:=]?\s+|answer\s*:\s*)", re.I
)
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_SPACING = re.compile(r"\\[,;:!]|\\quad|\\qquad|~")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)\s*(?=[()\[\]|.]|\\[{}])")
_FRAC_NAME = re.compile(r"\\[dt]frac")
_OPTION = re.compile(r"^\(([A-Za-z])\)(?:[\s,.;:].*)?$|^([A-Za-z])\)(?:\s.*)?$|^([A-Za-z])$", re.S)
_VARIABLE = re.compile(r"^(?:[A-Za-z]|\\[a-z]+)\s*=\s*(?=\S)")
_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+"
_NUMERIC = re.compile(rf"^(?:{_NUMBER})$")
_LATEX_FRAC = re.compile(
    r"^(?P<sign>[-+]?)\\frac\s*(?:\{\s*(?P<a>[-+]?[\d.,]+)\s*\}|(?P<a1>\d))"
    r"\s*(?:\{\s*(?P<b>[-+]?[\d.,]+)\s*\}|(?P<b1>\d))$"
)
_SLASH_FRAC = re.compile(rf"^(?P<a>{_NUMBER})\s*/\s*(?P<b>{_NUMBER})$")
_CURRENCY = re.compile(r"^(?P<sign>-?)\s*(?:\\\$|\$|€|£|¥|usd\b|eur\b)\s*", re.I)
_PERCENT = re.compile(r"\s*(?:\\%|%|percent)$", re.I)
#: number followed by a unit: letters only (2+ characters, no digit), up to three words.
_UNIT = re.compile(
    rf"^(?P<num>{_NUMBER})\s*(?P<unit>[A-Za-z]{{2,}}(?:[ /.^]+[A-Za-z23]+){{0,3}}\.?)$"
)
#: words after a number that are mathematics, not a unit ("2 pi" is not 2).
_NOT_UNITS = frozenset(
    {"pi", "sqrt", "and", "or", "to", "times", "plus", "minus", "over", "divided", "by", "mod"}
    | {"modulo", "cdot", "i", "e", "x", "y", "z", "log", "ln", "sin", "cos", "tan"}
)
_WS = re.compile(r"\s+")


_QUOTES = (re.compile(r'^"(.*)"$', re.S), re.compile(r"^'(.*)'$", re.S))


def _unwrap(s: str, *, literal: bool = False) -> tuple[str, bool]:
    """``s`` without wrappers and markers; True when a quoted string was unwrapped."""
    changed = True
    while changed:
        changed = False
        s = s.strip()
        for pat in _WRAPPERS:
            m = pat.match(s)
            if m and m.group(1).strip():
                s, changed = m.group(1), True
        for pat in _QUOTES:  # a quoted empty or blank string is still a string
            m = pat.match(s)
            if m and len(s) >= 2:
                if literal:
                    return m.group(1).strip(), True
                s, changed = m.group(1), True
        stripped = _PREFIX.sub("", s, count=1)
        if stripped != s and stripped.strip():
            s, changed = stripped, True
        if not literal and s.endswith(".") and not s.endswith(".."):
            s, changed = s[:-1], True
    return s.strip(), False


def _to_fraction(text: str) -> Fraction | None:
    t = text.strip()
    if _NUMERIC.match(t):
        return Fraction(t.replace(",", ""))
    m = _LATEX_FRAC.match(t)
    if m:
        a, b = m.group("a") or m.group("a1"), m.group("b") or m.group("b1")
        num, den = _to_fraction(a), _to_fraction(b)
        if num is None or den is None or den == 0:
            return None
        value = num / den
        return -value if m.group("sign") == "-" else value
    m = _SLASH_FRAC.match(t)
    if m:
        num, den = Fraction(m.group("a").replace(",", "")), Fraction(m.group("b").replace(",", ""))
        return None if den == 0 else num / den
    return None


def _format_fraction(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den == 1:  # a finite decimal: print it exactly
        digits = 0
        scaled = value
        while scaled.denominator != 1:
            scaled *= 10
            digits += 1
        sign = "-" if value < 0 else ""
        whole = str(abs(scaled.numerator)).rjust(digits + 1, "0")
        return f"{sign}{whole[:-digits]}.{whole[-digits:]}"
    return f"{value.numerator}/{value.denominator}"


def _numeric(s: str) -> str | None:
    """The canonical form of a number (with currency, percent or a safe unit), or None."""
    t = s.strip()
    m = _CURRENCY.match(t)
    if m:
        t = m.group("sign") + t[m.end() :]
    t = _PERCENT.sub("", t).strip()
    value = _to_fraction(t)
    if value is None:
        unit = _UNIT.match(t)
        if unit and unit.group("unit").split()[0].lower().strip(".") not in _NOT_UNITS:
            value = _to_fraction(unit.group("num"))
    return None if value is None else _format_fraction(value)


def normalize_answer(answer: str, *, literal: bool = False) -> str:
    """A canonical form of an answer, so that equal answers compare equal as strings.

    - wrappers and markers go: surrounding whitespace, ``$...$``, ``\\(...\\)``,
      ``\\boxed{...}``, ``**...**``, backticks and one layer of quotes, a leading
      "The answer is" / "Answer:" / ``#`` (GSM8K's ``#### 18``), a trailing period;
    - LaTeX: ``\\text{...}``/``\\mathrm{...}`` keep their content; ``\\dfrac`` and
      ``\\tfrac`` are ``\\frac``; ``\\left``/``\\right``, thin spaces and degree signs go;
    - option letters: "(c)", "c)", "C", "(C) Paris" all become "C";
    - numbers: "1,000" == "1000" == "1000.0" == "$1,000" == "1000 dollars"; fractions
      equal where exact ("\\frac{1}{2}" == "1/2" == "0.5" -> "0.5"; "1/3" stays
      "1/3"); a percent sign is dropped ("50%" -> "50"); a trailing unit is dropped
      only when it is words of letters that are not mathematics ("2 pi" stays);
    - a single-letter variable goes: "x = -4" -> "-4";
    - anything else is case-folded with runs of whitespace collapsed to one space, unless
      ``literal=True``.

    Parameters
    ----------
    answer : str
        An answer as extracted (:func:`extract_answer`) or a reference answer.
    literal : bool, default=False
        Only take the wrappers off (markers, ``$...$``, backticks, one layer of quotes,
        the whitespace around a quoted string) and write newlines and tabs as their
        escapes ``\\n`` and ``\\t``; keep everything else (case, inner whitespace,
        number formats, a trailing period). For answers that are literals, such as the
        printed value of a program (CRUXEval), where "8.50" is not "8.5" and "AbB" is
        not "abb".

    Returns
    -------
    str
        The canonical form (possibly empty).

    Examples
    --------
    >>> [normalize_answer(a) for a in ["1,000", "1000.0", "$1,000", "1000 dollars"]]
    ['1000', '1000', '1000', '1000']
    >>> [normalize_answer(a) for a in ["\\\\frac{1}{2}", "1/2", "0.5", "\\\\dfrac12", "$\\\\frac{1}{3}$"]]
    ['0.5', '0.5', '0.5', '0.5', '1/3']
    >>> [normalize_answer(a) for a in ["(c)", "C", "c)", "(C) Paris"]]
    ['C', 'C', 'C', 'C']
    >>> normalize_answer("#### 18"), normalize_answer("  The answer is: Paris. ")
    ('18', 'paris')
    >>> normalize_answer("\\\\text{ New  York }"), normalize_answer("'abc'"), normalize_answer("2 pi")
    ('new york', 'abc', '2 pi')
    >>> normalize_answer("90^\\\\circ"), normalize_answer("50\\\\%"), normalize_answer("x = -4")
    ('90', '50', '-4')
    >>> normalize_answer("'AbB  c'"), normalize_answer("'AbB  c'", literal=True)
    ('abb c', 'AbB  c')
    """
    if not isinstance(answer, str):
        raise TypeError(f"`answer` must be a str; got {type(answer).__name__}.")
    s, _ = _unwrap(answer, literal=literal)
    if literal:  # a newline and its escape "\\n" are the same character of a literal
        return s.replace("\n", "\\n").replace("\t", "\\t")
    s = _TEXT_CMD.sub(lambda m: m.group(1), s)
    s = _FRAC_NAME.sub(r"\\frac", s)
    s = _LEFT_RIGHT.sub("", s)
    s = _SPACING.sub(" ", s)
    s = _DEGREES.sub("", s)
    s, _ = _unwrap(s)
    s = _VARIABLE.sub("", s, count=1)
    opt = _OPTION.match(s)
    if opt:
        return (opt.group(1) or opt.group(2) or opt.group(3)).upper()
    number = _numeric(s)
    if number is not None:
        return number
    return _WS.sub(" ", s).strip().casefold()


def final_answer(text: str, *, literal: bool = False, strict: bool = False) -> str | None:
    """:func:`extract_answer` then :func:`normalize_answer`.

    Returns None when no answer is stated, and ``""`` when the stated answer is empty
    (``"answer": ""``, e.g. a program that prints nothing): a scorer that compares
    answers may treat ``""`` as an abstention where an empty answer cannot be right.

    Examples
    --------
    >>> final_answer('{"answer": "1,000"}') == final_answer("The answer is 1000.")
    True
    >>> final_answer("no conclusion here, only a very long line of reasoning that goes on") is None
    True
    >>> final_answer('{"reasoning": "it returns the empty string", "answer": ""}')
    ''
    """
    found = extract_answer(text, strict=strict)
    return None if found is None else normalize_answer(found, literal=literal)
