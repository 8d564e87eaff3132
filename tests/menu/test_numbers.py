"""Numbers as the voice menu says them: in words (English and German) or
digit by digit, as prompt names; and every prompt named exists in both
languages' texts."""

from pathlib import Path

import pytest

from services.menu.numbers import LIMIT, in_words, said

TEXTS = Path(__file__).resolve().parents[2] / "services" / "menu" / "prompt_texts"


def heard(names: list[str], language: str) -> str:
    """The prompts' texts in ``language`` (prompt_texts/<language>.txt)."""
    lines = (TEXTS / f"{language}.txt").read_text().splitlines()
    texts = dict(line.split("|", 1) for line in lines if line and not line.startswith("#"))
    return " ".join(texts[name] for name in names)


@pytest.mark.parametrize(
    ("number", "english", "german"),
    [
        (0, "zero", "null"),
        (1, "one", "eins"),
        (15, "fifteen", "fünfzehn"),
        (21, "twenty one", "ein und zwanzig"),
        (40, "forty", "vierzig"),
        (101, "one hundred and one", "ein hundert eins"),
        (300, "three hundred", "drei hundert"),
        (1001, "one thousand and one", "ein tausend eins"),
        (1000, "one thousand", "ein tausend"),
        (
            2345,
            "two thousand three hundred and forty five",
            "zwei tausend drei hundert fünf und vierzig",
        ),
        (31071, "thirty one thousand and seventy one", "ein und dreißig tausend ein und siebzig"),
        (
            999_999,
            "nine hundred and ninety nine thousand nine hundred and ninety nine",
            "neun hundert neun und neunzig tausend neun hundert neun und neunzig",
        ),
    ],
)
def test_numbers_in_words(number: int, english: str, german: str) -> None:
    assert heard(in_words(number, "en"), "en") == english
    assert heard(in_words(number, "de"), "de") == german


def test_other_languages_put_words_together_as_english() -> None:
    assert in_words(1001, "fr") == in_words(1001, "en")
    assert in_words(1001, "de-at") == in_words(1001, "de")


def test_extensions_as_the_tenant_prefers() -> None:
    assert heard(said("1001", "en", as_number=True), "en") == "one thousand and one"
    assert heard(said("1001", "en", as_number=False), "en") == "one zero zero one"
    assert heard(said("1001", "de", as_number=False), "de") == "eins null null eins"
    # A leading zero or a long number would be lost in words: digit by digit.
    assert heard(said("0815", "en", as_number=True), "en") == "zero eight one five"
    assert said(str(LIMIT), "en", as_number=True) == ["digit-1"] + ["digit-0"] * 6
    with pytest.raises(ValueError):
        in_words(LIMIT, "en")


def test_both_languages_have_the_same_prompts() -> None:
    def names(language: str) -> list[str]:
        lines = (TEXTS / f"{language}.txt").read_text().splitlines()
        return [line.split("|")[0] for line in lines if line and not line.startswith("#")]

    assert names("de") == names("en")
