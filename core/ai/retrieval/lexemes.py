"""The `russian` text search configuration read in Python: the lexemes (and their positions) to_tsvector('russian',
…) makes of a text, without a round trip to the database — or None for a text this reader leaves to the database."""

from __future__ import annotations

import re
from functools import lru_cache


# PostgreSQL's `russian` text search configuration, in Python: the default parser's words, hyphenated words and
# numbers; Cyrillic words through the Snowball russian stemmer, Latin ones through Snowball english (porter2), both
# after their stop-word lists (share/tsearch_data/{russian,english}.stop); numbers and words mixing letters and
# digits as they are (the `simple` dictionary). The question's lexemes are then made without a round trip to the
# database, and are the very lexemes to_tsvector('russian', …) stored for the chunks (tests/ai/test_lexemes.py
# compares the two over the demo shops, the evaluation questions and the benchmark's catalog). A text with what
# this reader does not model (an e-mail, a URL, a file path, a decimal or version number, a signed number) gives
# None and the database reads it.
RUSSIAN_STOP = frozenset(
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня "
    "еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь "
    "там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз "
    "тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы "
    "нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти "
    "нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя "
    "такой им более всегда конечно всю между".split())
ENGLISH_STOP = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves what which who whom this that these those am is are "
    "was were be been being have has had having do does did doing a an the and but if or because as until while "
    "of at by for with about against between into through during before after above below to from up down in out "
    "on off over under again further then once here there when where why how all any both each few more most "
    "other some such no nor not only own same so than too very s t can will just don should now".split())
# Runs of letters and digits joined by single hyphens; anything else separates. Characters the default parser gives
# a meaning of their own (@ : / . between word characters, a sign before a number) send the text to the database.
_LEX_TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_LEX_UNSURE = re.compile(r"[^\W_][@/\\.][^\W_]|[^\W\d_]:[^\W_]|[@~]|://|(?:^|[^\w-])[-+]\d|&[a-z#]|<[a-z/!]",
                         re.IGNORECASE)


@lru_cache(maxsize=1)
def _stemmers():
    import snowballstemmer

    return snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english")


@lru_cache(maxsize=100_000)
def _word_lexeme(word: str) -> str | None:
    """One word of the default parser as the `russian` configuration stores it (None: a stop word)."""
    low = word.lower()
    russian, english = _stemmers()
    has_digit = any(ch.isdigit() for ch in low)
    if has_digit:
        return low  # int, numword: the simple dictionary
    if low.isascii():
        return None if low in ENGLISH_STOP else english.stemWord(low)
    return None if low in RUSSIAN_STOP else russian.stemWord(low)


def local_lexeme_positions(text_: str) -> list[tuple[str, int]] | None:
    """(lexeme, position) as to_tsvector('russian', text_) has them — every token the parser makes counts a position,
    a stop word too; a hyphenated word is the compound, then each part — or None when the text has a construct this
    reader leaves to the database."""
    if _LEX_UNSURE.search(text_):
        return None
    out: list[tuple[str, int]] = []
    position = 0

    def add(lexeme: str | None) -> None:
        nonlocal position
        position += 1
        if lexeme:
            out.append((lexeme, position))

    for match in _LEX_TOKEN.finditer(text_):
        token = match.group(0)
        parts = token.split("-")
        if len(parts) == 2 and parts[1].isdigit() and not parts[0].isdigit():
            add(_word_lexeme(parts[0]))  # «TD-002», «Хаб-2»: a word, then a signed integer (simple)
            add("-" + parts[1])
            continue
        if any(p.isdigit() for p in parts[1:]) or len(parts) > 1 and parts[0].isdigit():
            return None  # «2-7», «A-1-B»: signed numbers inside a run
        if len(parts) == 1:
            add(_word_lexeme(token))
            continue
        low = token.lower()
        russian, english = _stemmers()
        if any(ch.isdigit() for ch in low):
            add(low)  # numhword: simple
        elif low.isascii():
            add(english.stemWord(low))  # asciihword: english_stem
        else:
            add(russian.stemWord(low))  # hword: russian_stem
        for part in parts:
            add(_word_lexeme(part))
    return out


def local_lexemes(text_: str) -> list[str] | None:
    """The lexemes of to_tsvector('russian', text_) in order of appearance (with repeats), or None."""
    positions = local_lexeme_positions(text_)
    return None if positions is None else [lexeme for lexeme, _ in positions]
