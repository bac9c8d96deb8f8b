"""How long an SMS is, in the units carriers bill: GSM-7 septets or UCS-2 code units.

An SMS body is sent in the GSM 03.38 7-bit alphabet when every character is in it: 160
characters fit one SMS; a longer message is split into parts of 153 (7 septets of each part
go to the header that joins them). Characters of the extension table (`{ } [ ] \\ ~ ^ | €`
and form feed) are sent as ESC + character and count twice; a part never ends between the
two. One character outside both tables (an emoji, `ç`, `á`, a smart quote, a no-break space)
and the whole message goes as UCS-2 instead: 70 code units per SMS, 67 per part, and
characters outside the Basic Multilingual Plane (most emoji) take two units that a part
never splits. An SMS that needed 1 part in GSM-7 can need 3 in UCS-2: it costs that much more.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

# GSM 03.38 default alphabet, in code order 0x00-0x7F, without ESC (0x1B), which introduces
# an extension character and is not a character itself. 0x09 is the capital Ç, as the
# standard and phones have it (the Unicode mapping file's small ç is its own correction).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + code, two septets.
GSM7_EXTENSION = "\f^{}\\[~]|€"

SINGLE_GSM7, PART_GSM7 = 160, 153
SINGLE_UCS2, PART_UCS2 = 70, 67
# Twilio refuses a Body longer than this (error 21617).
MAX_SMS_CHARACTERS = 1600

_NOT_GSM7 = re.compile("[^" + re.escape(GSM7_BASIC + GSM7_EXTENSION) + "]")
_EXTENSION = re.compile("[" + re.escape(GSM7_EXTENSION) + "]")

# Characters that push a message into UCS-2 by accident, and what to write instead.
LOOKALIKES = {
    "\u00a0": " ",  # no-break space: invisible, and it makes the SMS cost twice the money
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\t": " ",
    "`": "'",
    "\u00e7": "\u00c7",
}

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True, slots=True)
class SmsLength:
    """The length of one SMS body. `units` are septets for GSM-7 (extension characters count
    2) and UTF-16 code units for UCS-2; `first_ucs2` is the first character that forced UCS-2
    and its 1-based position in the body."""

    encoding: Encoding
    characters: int
    units: int
    segments: int
    first_ucs2: tuple[str, int] | None = None

    @property
    def per_segment(self) -> int:
        """The units one part holds: 160 or 70 for a single SMS, 153 or 67 when split."""
        if self.encoding == "GSM-7":
            return SINGLE_GSM7 if self.segments <= 1 else PART_GSM7
        return SINGLE_UCS2 if self.segments <= 1 else PART_UCS2

    def __str__(self) -> str:
        parts = "1 SMS" if self.segments == 1 else f"{self.segments} SMS parts"
        return f"{self.units} {self.encoding} characters, {parts}"


def sms_length(text: str) -> SmsLength:
    """Encoding, units and number of parts of an SMS body."""
    outside = _NOT_GSM7.search(text)
    if outside is None:
        extended = len(_EXTENSION.findall(text))
        units = len(text) + extended
        if units <= SINGLE_GSM7:
            segments = 1 if units else 0
        elif not extended:
            segments = -(-units // PART_GSM7)
        else:
            segments = _pack(text, PART_GSM7, lambda ch: 2 if ch in GSM7_EXTENSION else 1)
        return SmsLength("GSM-7", len(text), units, segments)

    astral = len(text.encode("utf-16-le")) // 2 - len(text)
    units = len(text) + astral
    if units <= SINGLE_UCS2:
        segments = 1
    elif not astral:
        segments = -(-units // PART_UCS2)
    else:
        segments = _pack(text, PART_UCS2, lambda ch: 2 if ord(ch) > 0xFFFF else 1)
    return SmsLength("UCS-2", len(text), units, segments, (outside.group(), outside.start() + 1))


def _pack(text: str, capacity: int, weight) -> int:
    """Parts needed when a character of weight 2 may not be split between two parts."""
    segments, used = 1, 0
    for ch in text:
        w = weight(ch)
        if used + w > capacity:
            segments += 1
            used = 0
        used += w
    return segments


def describe_character(ch: str) -> str:
    """`'’' (U+2019 RIGHT SINGLE QUOTATION MARK)`"""
    name = unicodedata.name(ch, "")
    return f"{ch!r} (U+{ord(ch):04X}{' ' + name if name else ''})"


def ucs2_warning(length: SmsLength) -> str | None:
    """Why an SMS goes as UCS-2 and what it costs, or None for GSM-7."""
    if length.first_ucs2 is None:
        return None
    ch, position = length.first_ucs2
    advice = f"; write {LOOKALIKES[ch]!r} instead" if ch in LOOKALIKES else ""
    return (
        f"{describe_character(ch)} at character {position} is not in the GSM-7 alphabet, so the whole SMS is "
        f"sent as UCS-2: {SINGLE_UCS2} characters per SMS instead of {SINGLE_GSM7} ({PART_UCS2} instead of "
        f"{PART_GSM7} per part when split), which can double the cost{advice}"
    )
