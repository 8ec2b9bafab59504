"""Tests of answer extraction (orch_eval.core.parse) on realistic model outputs."""

from __future__ import annotations

import pytest

from orch_eval.core.parse import (
    has_answer_line,
    normalise_number,
    numbers_equal,
    parse_answer,
    parse_letter,
    parse_number,
    strip_code,
)

MMLU_PRO = "ABCDEFGHIJ"

# ----------------------------------------------------------------- letters: realistic

LETTER_REALISTIC: list[tuple[str, str, str, str | None]] = [
    (
        "option_by_option_then_answer",
        """Let's analyse each option.

A) The nucleus stores genetic material; it does not digest waste. Incorrect.
B) The lysosome contains hydrolytic enzymes that break down waste. Correct.
C) The ribosome synthesises proteins. Incorrect.
D) The Golgi apparatus packages proteins. Incorrect.

ANSWER: B""",
        "ABCD",
        "B",
    ),
    ("smollm_option_text", "C. Lysosome", "ABCD", "C"),
    (
        "smollm_option_with_explanation",
        "C. Lysosome\n\nExplanation: Lysosomes contain digestive enzymes that break down "
        "cellular waste. A lysosome is often called the suicide bag of the cell.",
        "ABCD",
        "C",
    ),
    (
        "qwen_boxed_letter",
        """To determine which organelle digests waste, recall the functions:
- Mitochondria produce ATP.
- Lysosomes contain hydrolytic enzymes.

Therefore, the organelle is the lysosome, which corresponds to option C.

\\[
\\boxed{C}
\\]""",
        "ABCD",
        "C",
    ),
    (
        "qwen_boxed_text_letter",
        "The derivative of x^2 is 2x, so at x = 3 the slope is 6.\n\n"
        "The final answer is $\\boxed{\\text{B}}$.",
        "ABCD",
        "B",
    ),
    (
        "several_answer_lines_last_wins",
        """First thought: ANSWER: A
Wait, option A confuses mitosis with meiosis. Re-checking, crossing over happens in
prophase I, which is option D.
ANSWER: D""",
        "ABCD",
        "D",
    ),
    (
        "markdown_bold_lower_paren",
        "Inflation erodes the real value of fixed payments, so lenders lose.\n\n"
        "**Answer:** (c)",
        "ABCD",
        "C",
    ),
    ("answer_with_period", "Newton's third law gives equal and opposite forces.\nANSWER: C.", "ABCD", "C"),
    (
        "final_answer_colon",
        "Step 1: The speed is distance over time: 100/20 = 5 m/s.\nFinal Answer: A",
        "ABCD",
        "A",
    ),
    (
        "answer_with_option_text",
        "The cell's waste-disposal system is the lysosome.\nANSWER: C) Lysosome",
        "ABCD",
        "C",
    ),
    (
        "lower_case_answer_line",
        "Considering the options, the Treaty of Versailles was signed in 1919.\nanswer: b",
        "ABCD",
        "B",
    ),
    (
        "mmlu_pro_letter_j",
        """We need the value of the integral of 2x from 0 to 3, which is 9.
Checking options: A) 3, B) 4, ..., J) 9.
ANSWER: J""",
        MMLU_PRO,
        "J",
    ),
    (
        "mmlu_pro_letter_i",
        "Among the ten options, only option I lists all three noble gases.\nANSWER: I",
        MMLU_PRO,
        "I",
    ),
    (
        "the_answer_is_paren",
        "Let's think step by step. Photosynthesis occurs in the chloroplast. "
        "The answer is (B).",
        "ABCD",
        "B",
    ),
    (
        "the_correct_answer_is",
        "Water boils at lower temperatures at altitude because air pressure is lower.\n"
        "So the correct answer is D",
        "ABCD",
        "D",
    ),
    (
        "answer_is_option",
        "Both statements are true, and the second explains the first, so the answer is option A.",
        "ABCD",
        "A",
    ),
    (
        "correct_option_colon",
        "Evaluating: the demand curve shifts right when income rises for normal goods.\n"
        "Correct option: B",
        "ABCD",
        "B",
    ),
    (
        "the_answer_is_bold_with_text",
        "Hence the correct answer is **C. Lysosome**.",
        "ABCD",
        "C",
    ),
    (
        "answer_is_lower_paren",
        "the sum of the angles of a triangle is 180 degrees, so the answer is (c)",
        "ABCD",
        "C",
    ),
    (
        "last_phrase_wins",
        "At first it seems the answer is A, but A ignores friction. "
        "Accounting for friction, the answer is B.",
        "ABCD",
        "B",
    ),
    (
        "answer_line_beats_phrase",
        "One might say the answer is A.\nHowever, considering inflation:\nANSWER: D",
        "ABCD",
        "D",
    ),
    (
        "answer_line_beats_boxed",
        "Computing gives \\boxed{B} at first, but that uses the wrong formula.\nANSWER: C",
        "ABCD",
        "C",
    ),
    (
        "cut_off_mid_sentence",
        """Let's analyse each option.

A) The mitochondria is the powerhouse of the cell, which is unrelated to waste.
B) The lysosome contains enzymes that""",
        "ABCD",
        None,
    ),
    (
        "reasoning_without_answer",
        "A cell is a unit of life. It has a membrane and a nucleus, and the question asks "
        "about the organelle responsible for digestion.",
        "ABCD",
        None,
    ),
    ("bare_article_lower", "a cell is a unit", "ABCD", None),
    (
        "answer_out_of_range_falls_through",
        "Options E and F do not exist here.\nANSWER: E",
        "ABCD",
        None,
    ),
    (
        "answer_out_of_range_then_phrase",
        "The answer is B because of conservation of energy.\nANSWER: E",
        "ABCD",
        "B",
    ),
    (
        "answer_inside_code_ignored",
        """Let me check with code:
```python
options = {"A": 1, "B": 2}
print("ANSWER: A")
```
```output
ANSWER: A
```
Based on the analysis, the energy is conserved.
ANSWER: B""",
        "ABCD",
        "B",
    ),
    (
        "only_code_answer_is_none",
        """```python
# ANSWER: C
answer = "C"
print(answer)
```""",
        "ABCD",
        None,
    ),
    (
        "unterminated_code_fence",
        "The answer is B.\n\n```python\ndef check():\n    return 'ANSWER: D'\n",
        "ABCD",
        "B",
    ),
    (
        "answer_is_not_article",
        "This is a tricky question and the answer is a bit subtle; we need more data.",
        "ABCD",
        None,
    ),
    (
        "pronoun_i_not_option",
        "I think the question is about enzymes. I believe enzymes lower activation energy.",
        MMLU_PRO,
        None,
    ),
    ("just_letter_paren", "(D)", "ABCD", "D"),
    ("just_letter", "B", "ABCD", "B"),
    ("just_letter_newline_spaces", "  A  \n", "ABCD", "A"),
    ("letter_dash_text", "D - All of the above", "ABCD", "D"),
    ("letter_colon_text", "B: Ribosome", "ABCD", "B"),
    ("letter_paren_text", "C) Lysosome, because it digests waste.", "ABCD", "C"),
    ("lower_paren_text", "(b) the Golgi apparatus", "ABCD", "B"),
    (
        "enumeration_is_not_a_choice",
        "A. Lysosome - digests waste\nB. Ribosome - makes protein\nC. Nucleus - stores DNA",
        "ABCD",
        None,
    ),
    (
        "heading_bold_answer",
        "### Reasoning\nThe capital of Australia is Canberra.\n\n**ANSWER: B**",
        "ABCD",
        "B",
    ),
    (
        "answer_letter_brackets",
        "Bond prices fall when interest rates rise.\nANSWER: [A]",
        "ABCD",
        "A",
    ),
    (
        "answer_bold_inside",
        "Thus demand is elastic.\n\nANSWER: **A**",
        "ABCD",
        "A",
    ),
    (
        "answer_word_not_letter",
        "ANSWER: Cell membrane",
        "ABCD",
        None,
    ),
    (
        "invented_output_after_code",
        """```python
print(2 + 2)
```
Output:
ANSWER: A

The computation confirms that the sum is four, so the answer is (D).""",
        "ABCD",
        "A",
    ),
]


@pytest.mark.parametrize(
    ("text", "letters", "expected"),
    [case[1:] for case in LETTER_REALISTIC],
    ids=[case[0] for case in LETTER_REALISTIC],
)
def test_parse_letter_realistic(text: str, letters: str, expected: str | None) -> None:
    assert parse_letter(text, letters) == expected


# ----------------------------------------------------------------- numbers: realistic

NUMBER_REALISTIC: list[tuple[str, str, str | None]] = [
    (
        "gsm8k_hashes",
        """Natalia sold 48 clips in April.
In May she sold half as many: 48 / 2 = 24 clips.
Altogether she sold 48 + 24 = 72 clips.
#### 72""",
        "72",
    ),
    (
        "answer_line_dollars_commas",
        "The house costs $80,000 and repairs cost $50,000, so the total is $130,000.\n"
        "The profit is $1,234 after fees.\nANSWER: $1,234",
        "1234",
    ),
    (
        "answer_line_cents",
        "Each ticket is $12.35 and he buys 100 tickets: 100 * 12.35 = 1234.5\n"
        "ANSWER: $1,234.50",
        "1234.5",
    ),
    ("answer_line_fraction", "Half of 7 is 7/2.\nANSWER: 7/2", "3.5"),
    (
        "answer_line_negative",
        "The temperature drops from 5 to -3 degrees, a change of -3 - 5 = -8.\nANSWER: -8",
        "-8",
    ),
    (
        "answer_line_with_units",
        "He runs 3 miles a day for 4 days: 3 * 4 = 12 miles.\nANSWER: 12 miles",
        "12",
    ),
    (
        "answer_line_percent",
        "She answered 45 of 90 questions: 45 / 90 = 0.5, i.e. 50%.\nANSWER: 50%",
        "50",
    ),
    (
        "answer_line_with_equation",
        "Total apples:\nANSWER: 5 + 3 = 8",
        "8",
    ),
    (
        "several_answer_lines_last",
        "ANSWER: 20\nWait, I forgot the 2 extra eggs: 20 + 2 = 22.\nANSWER: 22",
        "22",
    ),
    (
        "answer_line_beats_hashes",
        "So the result is 15.\n#### 15\nActually recomputing gives 16.\nANSWER: 16",
        "16",
    ),
    (
        "qwen_boxed_number",
        """To find the total cost, we multiply the number of notebooks by the price:
\\[
6 \\times 3 = 18
\\]
Thus, the total cost is \\(\\boxed{18}\\).""",
        "18",
    ),
    (
        "qwen_boxed_dollar",
        "The total earnings are 4 * 3 = 12 dollars.\n\nThe final answer is \\(\\boxed{\\$12}\\).",
        "12",
    ),
    (
        "qwen_boxed_thousands",
        "Summing the monthly amounts gives \\boxed{1{,}234}.",
        "1234",
    ),
    (
        "qwen_boxed_frac",
        "Each person receives \\(\\frac{7}{2}\\) pizzas.\n\\[\n\\boxed{\\frac{7}{2}}\n\\]",
        "3.5",
    ),
    (
        "qwen_boxed_decimal_frac",
        "Half of 1.5 cups split over 3 bowls: \\(\\boxed{\\frac{1.5}{3}}\\) cups each.",
        "0.5",
    ),
    (
        "qwen_boxed_negative_dfrac",
        "The slope is \\(\\boxed{-\\dfrac{3}{4}}\\).",
        "-0.75",
    ),
    (
        "qwen_code_then_invented_output",
        """Let's compute with Python.

```python
eggs_per_day = 16
eaten = 3
baked = 4
price = 2
print((eggs_per_day - eaten - baked) * price)
```
```output
99
```
Janet sells 16 - 3 - 4 = 9 eggs at $2 each, earning 9 * 2 = 18 dollars.
The answer is 18.""",
        "18",
    ),
    (
        "code_then_unfenced_output",
        """```python
x = 3 * 7
print(x)
```
Output: 99
So the result is 3 * 7 = 21 marbles.""",
        "21",
    ),
    (
        "only_code_no_number",
        """Let's write code.
```python
total = 5 * 4
print(total)
```
```output
20
```""",
        None,
    ),
    (
        "the_answer_is_sentence",
        "Each box has 6 pencils and there are 3 boxes, so 6 * 3 = 18. The answer is 18.",
        "18",
    ),
    (
        "final_answer_is_dollars",
        "He earns $15 per hour for 4 hours, 15 * 4 = 60, minus $18 for lunch.\n"
        "Therefore the final answer is $42.",
        "42",
    ),
    (
        "answer_phrase_beats_later_number",
        "The answer is 42. This is checked in 3 steps.",
        "42",
    ),
    (
        "last_number_fallback",
        "There are 12 cookies. Tom eats 4, leaving 12 - 4 = 8 cookies.",
        "8",
    ),
    (
        "last_number_decimal_units",
        "The car travels 150 km in 2 hours, so its speed is 75.0 km/h",
        "75",
    ),
    (
        "negative_money",
        "Her balance was $20 and she spent $25.50, so her balance is -$5.50 now.",
        "-5.5",
    ),
    (
        "cut_off_no_number",
        "Let's think about how many apples Sarah has left after giving some to",
        None,
    ),
    (
        "hashes_with_commas",
        "The company earns 1,200 per month for 12 months: 1,200 * 12 = 14,400.\n#### 14,400",
        "14400",
    ),
    (
        "markdown_heading_not_hashes",
        "#### Step 2: add the totals\n5 + 7 = 12\n\nANSWER: 12",
        "12",
    ),
    (
        "markdown_bold_answer",
        "Combining both trips: 35 + 37 = 72.\n\n**Answer:** 72 kilometres",
        "72",
    ),
    (
        "answer_line_words_no_number_then_phrase",
        "So the answer is 9.\nANSWER: nine",
        "9",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in NUMBER_REALISTIC],
    ids=[case[0] for case in NUMBER_REALISTIC],
)
def test_parse_number_realistic(text: str, expected: str | None) -> None:
    assert parse_number(text) == expected


# ------------------------------------------------------------------------ unit level


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234", "1234"),
        ("$5", "5"),
        ("-3.5", "-3.5"),
        ("7/2", "3.5"),
        ("3.50", "3.5"),
        ("42.0", "42"),
        ("1e3", "1000"),
        ("50%", "50"),
        ("12 apples", "12"),
        ("$1,200.00", "1200"),
        ("5 km/h", "5"),
        ("-$7", "-7"),
        ("0.125", "0.125"),
        ("1/3", "0.333333"),
        ("-0", "0"),
        ("\\frac{7}{2}", "3.5"),
        ("1{,}234", "1234"),
        ("no number here", None),
        ("", None),
    ],
)
def test_normalise_number(raw: str, expected: str | None) -> None:
    assert normalise_number(raw) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("3.50", "3.5", True),
        ("1,000", "1000", True),
        ("7/2", "3.5", True),
        ("$42", "42.00", True),
        ("1e3", "1000", True),
        ("-5", "5", False),
        ("1/3", "0.333333", False),
        ("abc", "abc", False),
        ("", "0", False),
    ],
)
def test_numbers_equal(a: str, b: str, expected: bool) -> None:
    assert numbers_equal(a, b) is expected


@pytest.mark.parametrize(
    ("text", "kind", "letters", "expected"),
    [
        ("ANSWER: H", "choice", MMLU_PRO, "H"),
        ("ANSWER: H", "choice", "ABCD", None),
        ("#### 72", "numeric", "ABCD", "72"),
        ("The answer is (b).", "choice", "ABCD", "B"),
    ],
)
def test_parse_answer_dispatch(text: str, kind: str, letters: str, expected: str | None) -> None:
    assert parse_answer(text, kind, letters) == expected


def test_parse_answer_unknown_kind() -> None:
    with pytest.raises(ValueError):
        parse_answer("ANSWER: A", "essay")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reasoning...\nANSWER: B", True),
        ("**Answer:** (c)", True),
        ("Final Answer: 42", True),
        ("The answer is B.", False),
        ("No conclusion was reached.", False),
    ],
)
def test_has_answer_line(text: str, expected: bool) -> None:
    assert has_answer_line(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("before\n```python\nx = 1\n```\nafter", "before\n\nafter"),
        ("before\n~~~\ncode\n~~~\nafter", "before\n\nafter"),
        ("before\n```python\nnever closed\nANSWER: A", "before\n"),
        ("```python\nprint(1)\n```\n```output\n1\n```\nafter", "\n\nafter"),
        ("```python\nprint(1)\n```\nOutput:\n99\n\nafter", "\n\n\nafter"),
        ("no code at all", "no code at all"),
    ],
)
def test_strip_code(text: str, expected: str) -> None:
    assert strip_code(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Qwen2.5-Coder-1.5B as a GSM8K merger, local demo run 2026-11-27
        ("Analyst 3's reasoning is correct because the load is constant. Therefore, the final number is 100.", "100"),
        ("Therefore, the final answer is N = 1800.", "1800"),
        ("The final number is \\(\\boxed{140}\\).", "140"),
    ],
)
def test_merger_final_number_phrases(text: str, expected: str) -> None:
    assert parse_number(text, stated_only=True) == expected
