"""Logging filters that settings.LOGGING names."""

import logging


class WithoutTraceback(logging.Filter):
    """Keeps a record's message and drops its traceback, for errors that their message tells in full.

    A request for a host that is not in ALLOWED_HOSTS (scanners send them all day) would otherwise log
    a whole traceback each time.
    """

    def filter(self, record):
        record.exc_info = None
        record.exc_text = None
        return True
