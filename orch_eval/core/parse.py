"""Extract final answers from free-text model outputs.

Two answer kinds are supported:

* ``choice``: an option letter (``A``..``J``) of a multiple-choice item (MMLU, MMLU-Pro);
* ``numeric``: a number (GSM8K), returned as a canonical decimal string.

Every parser first removes code (fenced blocks and the ``Output:`` blocks that models
invent after code), so an answer is only read from prose. Explicit forms win over implicit
ones: an ``ANSWER: X`` line beats "the answer is X", which beats ``\\boxed{X}``, which beats
a bare leading letter (choice) or the last number in the text (numeric).

All functions are pure and never raise on odd text; "no answer" is ``None``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "strip_code",
    "parse_letter",
    "normalise_number",
    "parse_number",
    "numbers_equal",
    "parse_answer",
    "has_answer_line",
    "parse_subquestions",
]

# --------------------------------------------------------------------------- code

_FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")
_INLINE_FENCE = re.compile(r"```[^\n]*?```")
_OUTPUT_LINE = re.compile(r"^\s*[*_]*output[*_]*\s*:[*_]*\s*(?P<rest>.*)$", re.IGNORECASE)


def strip_code(text: str) -> str:
    """Remove code from ``text`` so that answers written inside code are ignored.

    Removed: fenced blocks opened by ``` or ~~~ (closed by a fence of the same kind and
    at least the same length; an unterminated fence runs to the end of the text), one-line
    ```...``` spans, and, after a code block, invented ``Output:`` blocks (the ``Output:``
    line and, when the output starts on the next line, the lines up to the next blank line).
    """
    text = _INLINE_FENCE.sub(" ", text)
    kept: list[str] = []
    fence: str | None = None
    seen_code = False
    skipping_output = False
    for line in text.splitlines():
        if fence is not None:
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = None
            continue
        opened = _FENCE_OPEN.match(line)
        if opened:
            fence = opened.group("fence")
            seen_code = True
            skipping_output = False
            kept.append("")
            continue
        if skipping_output:
            if line.strip() and not has_answer_line(line):
                continue
            skipping_output = False
        output = _OUTPUT_LINE.match(line) if seen_code else None
        if output:
            skipping_output = not output.group("rest").strip()
            kept.append("")
            continue
        kept.append(line)
    return "\n".join(kept)


# ------------------------------------------------------------------------ letters

# An option letter as written after an answer cue. Upper case may stand alone ("C",
# "C.", "C) Lysosome"); lower case only in brackets or at the end of the phrase
# ("(c)", "c", "c.", "c)") so that the article "a" in "a cell" is never read.
# "I" followed by a lower-case word is the pronoun ("I think"), not option I.
_LETTER = r"""
(?:
    [(\[]\s*(?P<bracketed>[A-Za-z])\s*[)\]]
  | (?!I\s+[a-z])(?P<upper>[A-Z])(?![A-Za-z0-9'’])
  | (?P<lower>[a-z])(?=\s*[.):]?[*_]*\s*(?:$|[,;]|\.\s|\)\s|:\s))
)
"""

_ANSWER_LINE = re.compile(r"^[\s>#*_\-]*(?i:(?:final|correct)\s+)?(?i:answer)\s*[*_]*\s*[:：]", re.MULTILINE)
_ANSWER_LINE_LETTER = re.compile(
    r"^[\s>#*_\-]*(?i:(?:final|correct)\s+)?(?i:answer)\s*[*_]*\s*[:：][\s*_]*"
    r"(?i:(?:option|choice|letter)\s+)?" + _LETTER,
    re.VERBOSE,
)
_ANSWER_IS = re.compile(
    r"(?i:\b(?:answer|(?:correct|right|best|final)\s+(?:option|choice)))"
    r"[\s*_]*(?i:is|would\s+be|will\s+be|should\s+be|must\s+be|[:=])"
    r"[\s*_:]*(?i:(?:therefore|thus|clearly)\s+)?(?i:(?:option|choice|letter)\s+)?" + _LETTER,
    re.VERBOSE | re.MULTILINE,
)
_BOXED_LETTER = re.compile(
    r"\\boxed\s*\{\s*(?:\\(?:text|textbf|mathrm|mathbf)\s*\{\s*)?[(\[]?\s*"
    r"(?P<letter>[A-Za-z])\s*[)\]]?\s*(?:[.:)][^}]*)?\}"
)
_LEADING_OPTION = re.compile(
    r"^[\s*_#>]*(?:"
    r"[(\[]\s*(?P<bracketed>[A-Za-z])\s*[)\]]"
    r"|(?P<upper>[A-Z])[*_]*(?:\s*$|\s*[.):](?!\d)|\s+[-–—]\s)"
    r"|(?P<lower>[a-z])(?:\s*$|\))"
    r")",
)


def _letter_of(match: re.Match[str]) -> str:
    """The option letter captured by a pattern built on ``_LETTER``, upper case."""
    return next(g for g in match.group("bracketed", "upper", "lower") if g).upper()


def parse_letter(text: str, letters: str = "ABCD") -> str | None:
    """The option letter chosen in ``text`` (upper case, one of ``letters``), or None.

    Priority: the last ``ANSWER: X`` line; else the last "the answer is X" / "correct
    option: X" phrase; else the last ``\\boxed{X}``; else a response that consists of, or
    starts with, one option (``C``, ``(C)``, ``C. Lysosome``). A letter outside ``letters``
    never counts, and the rule moves on to earlier matches and then to the next rule.
    Code blocks are ignored.
    """
    allowed = set(letters.upper())
    prose = strip_code(text)
    lines = prose.splitlines()

    for line in reversed(lines):
        m = _ANSWER_LINE_LETTER.match(line)
        if m and _letter_of(m) in allowed:
            return _letter_of(m)

    for m in reversed(list(_ANSWER_IS.finditer(prose))):
        if _letter_of(m) in allowed:
            return _letter_of(m)

    for m in reversed(list(_BOXED_LETTER.finditer(prose))):
        if m.group("letter").upper() in allowed:
            return m.group("letter").upper()

    return _leading_option(lines, allowed)


def _leading_option(lines: list[str], allowed: set[str]) -> str | None:
    """The option a response opens with ("C. Lysosome"), unless it enumerates options.

    A response whose lines start with several different option markers ("A) ... B) ...")
    is an analysis of the options, not a choice, and gives None.
    """
    content = [line for line in lines if line.strip()]
    if not content:
        return None
    first = _LEADING_OPTION.match(content[0])
    if not first:
        return None
    chosen = _letter_of(first)
    for line in content[1:]:
        other = _LEADING_OPTION.match(line)
        if other and _letter_of(other) != chosen:
            return None
    return chosen if chosen in allowed else None


# ------------------------------------------------------------------------ numbers

_NUMBER = re.compile(
    r"""
    (?<![\w.])
    (?P<sign>[-−+])?\s*\$?\s*(?P<sign2>[-−])?
    (?:
        (?P<num>\d+(?:\.\d+)?)\s*/\s*(?P<den>\d+(?:\.\d+)?)(?![\d.,/])
      | (?P<value>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)
        (?P<exp>[eE][-+]?\d{1,3}(?!\d))?
    )
    """,
    re.VERBOSE,
)
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_LATEX_SPACE = re.compile(r"\\[,!;: ]|~")
_HASHES = re.compile(r"^\s*#{4}\s*(?P<rest>[-−+$\\\d.(][^\n]*)$", re.MULTILINE)
_ANSWER_LINE_REST = re.compile(
    r"^[\s>#*_\-]*(?:(?:final|correct)\s+)?answer\s*[*_]*\s*[:：](?P<rest>.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_ANSWER_IS_REST = re.compile(
    r"\b(?:answer|final\s+number)\s*(?:is|would\s+be|will\s+be|should\s+be|[:=])(?P<rest>[^\n]*)",
    re.IGNORECASE,
)
_BOXED_OPEN = re.compile(r"\\boxed\s*\{")
_PLAIN_FRAC = re.compile(r"\((-?\d+(?:\.\d+)?)\)/\((\d+(?:\.\d+)?)\)")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|[;!?]")


def _clean_latex(s: str) -> str:
    """Rewrite the LaTeX number notations models use into plain text."""
    s = s.replace("{,}", ",").replace("\\$", "$").replace("\\%", "%")
    s = _LATEX_SPACE.sub("", s)
    for _ in range(3):  # nested \text{\frac{..}{..}} and the like
        s = _LATEX_FRAC.sub(r"(\1)/(\2)", s)
        s = _LATEX_WRAPPER.sub(r"\1", s)
    # "(7)/(2)" -> "7/2" when both parts are plain numbers
    s = _PLAIN_FRAC.sub(r"\1/\2", s)
    return s.replace("\\left", "").replace("\\right", "")


def _fraction(match: re.Match[str]) -> Fraction:
    """The exact value of a ``_NUMBER`` match (a percent sign is ignored: 50% -> 50)."""
    if match.group("num") is not None:
        den = Fraction(Decimal(match.group("den")))
        value = Fraction(Decimal(match.group("num"))) / den if den else Fraction(0)
    else:
        literal = match.group("value").replace(",", "") + (match.group("exp") or "")
        value = Fraction(Decimal(literal))
    negative = match.group("sign") in ("-", "−")
    if negative != (match.group("sign2") is not None):
        value = -value
    return value


def _numbers(s: str) -> list[Fraction]:
    """All numbers written in ``s``, in order."""
    cleaned = _clean_latex(s)
    out: list[Fraction] = []
    for m in _NUMBER.finditer(cleaned):
        if m.group("num") is not None and Decimal(m.group("den")) == 0:
            continue
        out.append(_fraction(m))
    return out


def _to_fraction(s: str) -> Fraction | None:
    """The first number written in ``s``, exactly; None when there is none."""
    found = _numbers(s)
    return found[0] if found else None


def _format(value: Fraction) -> str:
    """Canonical decimal string: no exponent, no trailing zeros, "-0" -> "0".

    A value that has no finite decimal expansion (1/3) is rounded to 6 decimals.
    """
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den == 1:
        places = max(twos, fives)
    else:
        places = 6
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    whole, frac = digits[: len(digits) - places], digits[len(digits) - places :]
    frac = frac.rstrip("0")
    result = f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"
    return "0" if result == "-0" else result


def normalise_number(s: str) -> str | None:
    """Canonical decimal string of the first number in ``s``, or None when there is none.

    Accepts thousands separators (``1,234``), currency (``$5``), signs, fractions
    (``7/2`` -> ``3.5``), exponents (``1e3`` -> ``1000``), percentages (``50%`` -> ``50``),
    LaTeX (``\\frac{7}{2}``, ``1{,}234``) and surrounding words or units. Trailing zeros
    are dropped (``3.50`` -> ``3.5``, ``42.0`` -> ``42``). A value without a finite
    decimal expansion is rounded to 6 decimals (``1/3`` -> ``0.333333``).
    """
    value = _to_fraction(s)
    return None if value is None else _format(value)


def _answer_value(rest: str) -> Fraction | None:
    """The number an answer phrase states: after the last "=", else its first number."""
    clause = _clean_latex(rest)
    if "=" in clause:
        after = _to_fraction(clause.rsplit("=", 1)[1])
        if after is not None:
            return after
    return _to_fraction(clause)


def _boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` in ``text``, braces balanced."""
    out: list[str] = []
    for m in _BOXED_OPEN.finditer(text):
        depth, start = 1, m.end()
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    out.append(text[start:i])
                    break
    return out


def parse_number(text: str, stated_only: bool = False) -> str | None:
    """The final numeric answer of a worked solution, as a canonical string, or None.

    Priority: the last ``ANSWER:`` line holding a number; else the last ``#### N``; else
    the last ``\\boxed{...}`` holding a number; else the last "the answer is N" phrase;
    else (unless ``stated_only``) the last number in the text. Code blocks and invented
    outputs are ignored. ``stated_only`` keeps a cut-off solution's last intermediate number
    from passing for its answer.
    """
    prose = strip_code(text)

    candidates_by_rule: list[list[str]] = [
        [m.group("rest") for m in _ANSWER_LINE_REST.finditer(prose)],
        [m.group("rest") for m in _HASHES.finditer(prose)],
        _boxed_contents(prose),
    ]
    for candidates in candidates_by_rule:
        for rest in reversed(candidates):
            value = _answer_value(rest)
            if value is not None:
                return _format(value)

    for m in reversed(list(_ANSWER_IS_REST.finditer(prose))):
        rest = _clean_latex(m.group("rest"))
        end = _SENTENCE_END.search(rest)
        value = _answer_value(rest[: end.start()] if end else rest)
        if value is not None:
            return _format(value)

    if stated_only:
        return None
    found = _numbers(prose)
    return _format(found[-1]) if found else None


def numbers_equal(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` state the same number, compared exactly ("3.50" == "3.5")."""
    x, y = _to_fraction(a), _to_fraction(b)
    return x is not None and y is not None and x == y


# ------------------------------------------------------------------------ dispatch


def parse_answer(text: str, kind: str, letters: str = "ABCD", stated_only: bool = False) -> str | None:
    """Parse ``text`` as a ``"choice"`` (option letter) or ``"numeric"`` answer.

    ``stated_only``: numbers only count when the text states them as the answer (``ANSWER:``,
    ``####``, ``\\boxed{}``, "the answer is"); letters are always read from explicit forms.
    """
    kind = str(getattr(kind, "value", kind))
    if kind == "choice":
        return parse_letter(text, letters)
    if kind == "numeric":
        return parse_number(text, stated_only=stated_only)
    raise ValueError(f"unknown answer kind: {kind!r}")


def has_answer_line(text: str) -> bool:
    """Whether ``text`` has an ``ANSWER:`` line (``Final Answer:``, ``**Answer:**`` too)."""
    return _ANSWER_LINE.search(text) is not None


# --------------------------------------------------------------------------- sub-questions

_SUBQ_LINE = re.compile(
    r"^\s*(?:[*_#>\-]+\s*)?(?:sub[- ]?question\s*)?\(?(?P<n>\d{1,2})\s*[.):\]]\s*[*_]*\s*(?P<text>\S.*)$",
    re.IGNORECASE,
)
SUBQUESTION_MAX_CHARS = 300
"""Longer sub-questions are cut here (a looping dispatcher must not flood the analysts' prompts)."""


def parse_subquestions(text: str, k: int) -> list[str]:
    """Up to ``k`` distinct sub-questions from a dispatcher's numbered lines (``1. ...``,
    ``2) ...``, ``Sub-question 3: ...``), in the order written. Code and lines with an answer
    marker are ignored; duplicates (case-insensitive) are dropped. Never raises."""
    out: list[str] = []
    seen: set[str] = set()
    for line in strip_code(text).splitlines():
        m = _SUBQ_LINE.match(line)
        if not m:
            continue
        sub = m.group("text").strip().strip("*_").strip()
        if not sub or re.match(r"(?i)(final\s+)?answer\s*[:：]", sub):
            continue
        sub = sub[:SUBQUESTION_MAX_CHARS]
        key = sub.casefold()
        if key in seen:
            continue
        seen.add(key)
        out.append(sub)
        if len(out) == k:
            break
    return out
