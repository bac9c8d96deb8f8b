import datetime as dt
from pathlib import Path

FIXTURES = Path(__file__).parent.parent / "fixtures"
UTC = dt.timezone.utc


def errors_of(report, which="errors"):
    """The report's rejected rows (or its warnings) as (line, column, reason)."""
    return [(e.line, e.column, e.reason) for e in getattr(report, which)]


def write(tmp_path, text, name="file.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path
