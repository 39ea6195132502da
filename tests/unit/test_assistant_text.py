"""What the voice says of a long text (the card shows all of it)."""

from __future__ import annotations

import pytest

from glassbridge.assistant.text import spoken

ANSWER = ('One person ahead. Their emotions stayed on your glasses. (You asked: "What am I looking at?".) '
          "The photo: 360x360 JPEG, mostly black (#0d0909, 21% of the picture).")


@pytest.mark.parametrize(("limit", "expected"), [
    (0, ANSWER),                                        # no limit
    (len(ANSWER), ANSWER),                              # fits
    (60, "One person ahead. Their emotions stayed on your glasses."),  # whole sentences only
    (100, 'One person ahead. Their emotions stayed on your glasses. (You asked: "What am I looking at?".)'),
    (17, "One person ahead."),                          # exactly the first sentence
    (12, "One person..."),                              # the first sentence alone is too long: cut at a word
])
def test_whole_sentences_within_the_limit(limit: int, expected: str) -> None:
    assert spoken(ANSWER, limit) == expected
    if limit:
        assert len(expected.removesuffix("...")) <= limit


def test_whitespace_is_normalised_and_short_text_kept() -> None:
    assert spoken("  Turn left\n in 200 m.  ", 200) == "Turn left in 200 m."
    assert spoken("Wonderful.", 4) == "Wond..."
