"""core.textsplit.split_text: the one way long texts are cut into messages (manager group posts, replies through VK,
a Telegram account or a business connection)."""

from __future__ import annotations

import pytest

from core.textsplit import split_text, utf16_len


def joined_words(parts: list[str]) -> list[str]:
    return " ".join(parts).split()


def test_a_text_of_exactly_the_limit_is_one_part_and_one_more_character_makes_two():
    assert split_text("x" * 100, 100) == ["x" * 100]
    assert split_text("x" * 101, 100) == ["x" * 100, "x"]
    assert split_text("", 100) == []
    assert split_text("коротко", 4096) == ["коротко"]


def test_without_whitespace_the_text_is_cut_at_the_limit_and_nothing_is_lost():
    text = "x" * 9000
    assert split_text(text, 4096) == ["x" * 4096, "x" * 4096, "x" * 808]
    assert "".join(split_text(text, 4096)) == text


def test_a_paragraph_break_is_preferred_to_a_line_break_and_a_line_break_to_a_space():
    paragraph = "a" * 60 + "\n\n" + "b" * 20 + "\n" + "c" * 10 + " " + "d" * 30
    assert split_text(paragraph, 100) == ["a" * 60, "b" * 20 + "\n" + "c" * 10 + " " + "d" * 30]
    line = "a" * 60 + "\n" + "b" * 20 + " " + "c" * 30
    assert split_text(line, 100) == ["a" * 60, "b" * 20 + " " + "c" * 30]
    words = "a" * 60 + " " + "b" * 20 + " " + "c" * 30
    assert split_text(words, 100) == ["a" * 60 + " " + "b" * 20, "c" * 30]


def test_a_break_that_would_leave_a_tiny_part_is_not_taken():
    text = "a" * 10 + "\n\n" + "b" * 200
    assert split_text(text, 100) == ["a" * 10 + "\n\n" + "b" * 88, "b" * 100, "b" * 12]


def test_every_word_is_kept_and_every_part_respects_the_limit():
    text = " ".join(f"слово{i}" for i in range(2000))
    parts = split_text(text, 4096)
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert joined_words(parts) == text.split()
    assert all(p == p.strip() for p in parts)


def test_telegram_counts_utf16_units_so_an_emoji_takes_two_and_is_never_cut_in_half():
    text = "😀" * 150  # 150 characters, 300 UTF-16 code units
    parts = split_text(text, 100, measure=utf16_len)
    assert parts == ["😀" * 50] * 3
    assert all(utf16_len(p) <= 100 for p in parts)
    odd = "a" + "😀" * 60  # the 100th unit falls inside an emoji: that emoji goes to the next part
    parts = split_text(odd, 100, measure=utf16_len)
    assert parts == ["a" + "😀" * 49, "😀" * 11]
    assert "".join(parts) == odd
    # counted as characters, the same text fits in one part of 150
    assert split_text("😀" * 150, 150) == ["😀" * 150]


@pytest.mark.parametrize("symbol", [
    "👨\u200d👩\u200d👧",  # a family: emoji joined by zero-width joiners
    "👍🏽",  # an emoji with a skin tone modifier
    "e\u0301",  # a letter with a combining accent
    "❤\ufe0f",  # a character with a variation selector
    "🇷🇺",  # a flag: two regional indicators
])
def test_a_hard_cut_does_not_break_a_symbol_made_of_several_characters(symbol):
    text = symbol * 40
    for limit in range(10, 40):
        parts = split_text(text, limit)
        assert "".join(parts) == text
        assert all(len(p) <= limit for p in parts)
        assert all(len(p) % len(symbol) == 0 for p in parts), (limit, parts)


def test_the_whitespace_of_a_break_is_dropped_and_nothing_else():
    text = "first line   \n\n   second paragraph " + "z" * 30
    parts = split_text(text, 24)
    assert parts[0] == "first line"
    assert parts[1].startswith("second")
    assert "".join(parts).replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_a_limit_too_small_for_any_text_is_refused():
    with pytest.raises(ValueError):
        split_text("abc", 1)
