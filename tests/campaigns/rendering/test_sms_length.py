"""SMS length in billed units: GSM 03.38 (basic and extension tables) or UCS-2."""

import pytest

from campaigns.rendering.sms import GSM7_BASIC, GSM7_EXTENSION, sms_length, ucs2_warning


def test_the_gsm7_tables_are_the_standard_ones():
    # 128 codes minus ESC, and the ten characters reached through ESC.
    assert len(GSM7_BASIC) == 127 == len(set(GSM7_BASIC))
    assert set(GSM7_EXTENSION) == set("\f^{}\\[~]|€")
    assert GSM7_BASIC[9] == "Ç" and "ç" not in GSM7_BASIC
    assert "`" not in GSM7_BASIC + GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC


@pytest.mark.parametrize(
    "text, units",
    [
        ("Hello", 5),
        ("é è ù ì ò É Ç Ø ø Å å Æ æ ß Ä Ö Ñ Ü ä ö ñ ü à ¡ ¿ § ¤ £ ¥ $ @ _", 63),
        ("ΔΦΓΛΩΠΨΣΘΞ", 10),
        ("Price: 10€", 11),  # € is in the extension table: two septets
        ("{[~]}|^\\", 16),
        ("line\nbreak\r", 11),
    ],
)
def test_gsm7_characters_count_one_and_extension_characters_two(text, units):
    length = sms_length(text)

    assert length.encoding == "GSM-7"
    assert length.units == units
    assert length.first_ucs2 is None


@pytest.mark.parametrize(
    "text, culprit, position",
    [
        ("Caf\u00e9 ok, but \u00e7a no", "\u00e7", 14),  # small c-cedilla is not in the basic table
        ("10%\u00a0off", "\u00a0", 4),  # a no-break space, invisible
        ("It\u2019s here", "\u2019", 3),  # a smart quote
        ("\u201cHi\u201d", "\u201c", 1),
        ("Tab\there", "\t", 4),
        ("back`tick", "`", 5),
        ("Olá", "á", 3),
        ("Greek A: \u0391", "\u0391", 10),  # looks like A, is not
    ],
)
def test_one_character_outside_gsm7_makes_the_sms_ucs2_and_is_named(text, culprit, position):
    length = sms_length(text)

    assert length.encoding == "UCS-2"
    assert length.first_ucs2 == (culprit, position)
    assert f"at character {position}" in ucs2_warning(length)


def test_the_warning_says_what_to_write_instead_and_what_it_costs():
    warning = ucs2_warning(sms_length("It\u2019s 10%\u00a0off"))

    assert "'’' (U+2019 RIGHT SINGLE QUOTATION MARK) at character 3" in warning
    assert "UCS-2: 70 characters per SMS instead of 160" in warning
    assert "write \"'\" instead" in warning
    assert ucs2_warning(sms_length("plain")) is None


@pytest.mark.parametrize(
    "text, segments",
    [
        ("", 0),
        ("x" * 160, 1),
        ("x" * 161, 2),
        ("x" * 306, 2),
        ("x" * 307, 3),
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),
        ("x" * 152 + "€" + "x" * 10, 2),  # the escape pair is not split: 152 + (2 + 10)
        ("x" * 152 + "€" + "x" * 152, 3),  # 152 | 2 + 151 | 1
    ],
)
def test_gsm7_segments_are_160_single_and_153_when_split(text, segments):
    assert sms_length(text).segments == segments


@pytest.mark.parametrize(
    "text, units, segments",
    [
        ("é" * 69 + "ç", 70, 1),
        ("ç" * 71, 71, 2),
        ("ç" * 134, 134, 2),
        ("ç" * 135, 135, 3),
        ("😀" * 35, 70, 1),  # outside the BMP: two UTF-16 units each
        ("ç" + "😀" * 33 + "x", 68, 1),
        ("ç" * 66 + "😀" + "x" * 10, 78, 2),  # the pair is not split: 66 | 2 + 10
    ],
)
def test_ucs2_segments_are_70_single_and_67_when_split_and_emoji_count_two(text, units, segments):
    length = sms_length(text)

    assert (length.encoding, length.units, length.segments) == ("UCS-2", units, segments)


def test_per_segment_tells_the_capacity_that_applies():
    assert sms_length("hi").per_segment == 160
    assert sms_length("x" * 200).per_segment == 153
    assert sms_length("ç").per_segment == 70
    assert sms_length("ç" * 100).per_segment == 67
    assert str(sms_length("x" * 200)) == "200 GSM-7 characters, 2 SMS parts"
