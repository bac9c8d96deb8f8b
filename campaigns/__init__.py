"""Campaigns: message templates, rendering, channels (email, SMS), the outbox and reports.

Reads segments only through `segments.selectors`; segments never imports campaigns.
"""
