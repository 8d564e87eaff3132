"""Numbers as the voice menu says them, as prompt names: digit by digit
("one zero zero one") or as a number in words ("one thousand and one"; in
German "eintausend eins"), each word a prompt of the tenant's language.

The words are put together by the language's rules (English and German;
any other language is put together as English, with its own recordings of
the words where it has them). A number with a leading zero, or of a
million or more, is always said digit by digit: as a number its zeros or
its length would be lost.
"""

LIMIT = 1_000_000


def digit_by_digit(number: str) -> list[str]:
    return [f"digit-{d}" for d in number if d.isdigit()]


def _word(n: int) -> str:
    """The prompt of one number word: 0-9 are the digits' own prompts."""
    return f"digit-{n}" if n < 10 else f"num-{n}"


def _english_below_100(n: int) -> list[str]:
    if n < 20 or n % 10 == 0:
        return [_word(n)]
    return [_word(n - n % 10), _word(n % 10)]  # twenty one


def _english_below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [_word(hundreds), "hundred"] if hundreds else []
    if rest:
        words += (["and"] if hundreds else []) + _english_below_100(rest)
    return words


def _english(n: int) -> list[str]:
    thousands, rest = divmod(n, 1000)
    words = [*_english_below_1000(thousands), "thousand"] if thousands else []
    if rest:
        words += (["and"] if thousands and rest < 100 else []) + _english_below_1000(rest)
    return words or [_word(0)]


def _german_below_100(n: int, last: bool) -> list[str]:
    """ "eins" at the end, "ein" before a word ("einundzwanzig", "eintausend")."""
    if n == 1:
        return [_word(1) if last else "num-1c"]
    if n < 20 or n % 10 == 0:
        return [_word(n)]
    ones = "num-1c" if n % 10 == 1 else _word(n % 10)
    return [ones, "and", _word(n - n % 10)]  # einundzwanzig


def _german_below_1000(n: int, last: bool) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [*_german_below_100(hundreds, last=False), "hundred"] if hundreds else []
    return words + (_german_below_100(rest, last) if rest else [])


def _german(n: int) -> list[str]:
    thousands, rest = divmod(n, 1000)
    words = [*_german_below_1000(thousands, last=False), "thousand"] if thousands else []
    if rest:
        words += _german_below_1000(rest, last=True)
    return words or [_word(0)]


def in_words(n: int, language: str) -> list[str]:
    """``n`` (0 to LIMIT - 1) as number words of ``language``."""
    if not 0 <= n < LIMIT:
        raise ValueError(f"{n} is not said in words (0 to {LIMIT - 1})")
    return _german(n) if language.split("-")[0] == "de" else _english(n)


def said(number: str, language: str, as_number: bool) -> list[str]:
    """``number`` (digits) as prompt names: in words with ``as_number``
    unless it has a leading zero or is too long, else digit by digit."""
    digits = "".join(d for d in number if d.isdigit())
    if as_number and digits and (digits == "0" or digits[0] != "0") and int(digits) < LIMIT:
        return in_words(int(digits), language)
    return digit_by_digit(digits)
