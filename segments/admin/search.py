"""Reading what was typed into an admin search box: its words, or a phone number."""

import phonenumbers
from django.conf import settings
from django.utils.text import smart_split, unescape_string_literal

_MIN_PHONE_DIGITS = 6


def search_terms(search_term):
    """The words of a search, a quoted phrase ("Van Dijk") counting as one word."""
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit:
            yield bit


def as_e164(term):
    """The term as an E.164 phone number, or None when it does not look like one."""
    if sum(ch.isdigit() for ch in term) < _MIN_PHONE_DIGITS or any(ch.isalpha() for ch in term):
        return None
    try:
        number = phonenumbers.parse(term, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
