"""What the import commands print: the report (or its JSON) and the text of a failure."""

import json

from segments.importing import ImportFileError, ImportReport

MAX_ERRORS_SHOWN = 20


def import_failure(exc: ImportFileError) -> str:
    """The message of the CommandError for a file that could not be imported."""
    if exc.report is None:
        return str(exc)
    return f"{exc} (before that, {exc.report.rows:,} rows were read and their chunks imported)"


def print_import_report(command, report: ImportReport, *, as_json: bool) -> None:
    """The report on the command's stdout: its summary lines, or all of it as JSON."""
    if as_json:
        command.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        return
    for line in report.summary_lines(max_errors=MAX_ERRORS_SHOWN):
        command.stdout.write(line)
