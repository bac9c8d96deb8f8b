"""The admin of campaigns, message templates, campaign runs, the outbox and suppressions.

Importing the modules registers their ModelAdmins with the admin site; nothing else lives here.
"""

from . import campaigns, messages, runs, suppressions, templates  # noqa: F401
