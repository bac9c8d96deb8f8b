"""The admin of customers, orders, imports, segmentation runs and segments.

Importing the modules registers their ModelAdmins with the admin site; nothing else lives here.
"""

from . import customers, imports, orders, runs, segments  # noqa: F401
