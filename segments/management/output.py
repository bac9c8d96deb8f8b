"""What the commands print: import reports, segmentation runs (or their JSON), failures."""

import json

from segments import selectors, services
from segments.importing import ImportFileError, ImportReport
from segments.models import SegmentationRun

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


def import_counts(label: str, report: ImportReport) -> str:
    """One line of counts, for commands that import as one step of something larger."""
    warnings = len(report.warnings) + report.warnings_omitted
    return (
        f"{label}: {report.created:,} created, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.rejected:,} rejected"
        + (f", {warnings:,} warnings" if warnings else "")
    )


def rejected_rows(report: ImportReport, *, limit: int) -> list[str]:
    """The rejected rows, then the warnings (rows kept with a field left empty), ``limit`` of each."""
    lines = []
    for prefix, rows in (("", report.errors), ("warning: ", report.warnings)):
        lines.extend(f"  {prefix}line {e.line}, {e.column} = {e.value!r}: {e.reason}" for e in rows[:limit])
        if len(rows) > limit:
            lines.append(f"  ... and {len(rows) - limit} more")
    return lines


def print_run(command, run: SegmentationRun) -> None:
    """A finished segmentation run as a person reads it: K and why, quality, segments, timings."""
    w = command.stdout.write
    w(f"Run {run.pk}: {run.get_algorithm_display()}, {run.n_customers:,} customers as of {run.as_of}")
    if run.status != run.Status.SUCCEEDED:
        return
    w(f"Segments: {run.k}. {run.k_reason}")
    if run.k_candidates:
        w("  K  inertia        silhouette  stability")
        for c in run.k_candidates:
            mark = "  <- chosen" if c["k"] == run.k else ""
            sil = "-" if c.get("silhouette") is None else f"{c['silhouette']:.3f}"
            stability = "-" if c.get("stability") is None else f"{c['stability']:.3f}"
            w(f"  {c['k']:<2} {c['inertia']:<14.1f} {sil:<11} {stability}{mark}")
    for warning in run.warnings:
        w(f"Warning: {warning['message']}")
    metrics = {k: v for k, v in run.metrics.items() if k in {"silhouette", "davies_bouldin", "calinski_harabasz"}}
    if metrics:
        w("Quality: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
    for p in sorted(run.profiles, key=lambda p: -p.get("size", 0)):
        revenue = p.get("revenue_share")
        revenue = f", {revenue:.0%} of revenue" if isinstance(revenue, float) else ""
        w(f"  {p['name']:<24} {p['size']:>9,} customers ({p.get('share', 0):.0%}{revenue})")
        if p.get("description"):
            w(f"      {p['description']}")
    w(_moved(run))
    if run.is_draft:
        w(f"Not live: this run is a draft. {run.draft_reason}")
    w("Timings: " + ", ".join(f"{services.STAGES.get(k, k)} {v:.2f}s" for k, v in run.timings.items()))


def _moved(run: SegmentationRun) -> str:
    if run.is_draft:
        return f"Would move between segments if made live: {run.moved:,}"
    previous = selectors.latest_successful_run(exclude=run.pk)
    if previous is None or previous.pk > run.pk:
        return f"First segmentation: {run.moved:,} customers placed"
    if previous.model_state.get("columns") != run.model_state.get("columns") or previous.algorithm != run.algorithm:
        # Segments of another kind (the RFM grid, other features): every customer moves, which says nothing.
        return (f"Placed {run.moved:,} customers anew (run {previous.pk} before it was "
                f"{previous.get_algorithm_display()}, other segments)")
    return f"Moved between segments since the last run: {run.moved:,}"


def stage_line(stage: str, percent: int) -> str:
    return f"  [{percent:3d}%] {services.STAGES.get(stage, stage)}"


def run_summary(run: SegmentationRun) -> dict:
    """The run as `segment --json` prints it (keys are part of the command-line contract)."""
    return {
        "run": run.pk,
        "status": run.status,
        "error": run.error,
        "algorithm": run.algorithm,
        "incremental": run.incremental,
        "as_of": run.as_of,
        "features": run.features,
        "n_customers": run.n_customers,
        "k": run.k,
        "k_reason": run.k_reason,
        "k_candidates": run.k_candidates,
        "metrics": run.metrics,
        "warnings": run.warnings,
        "segments": [
            {key: p.get(key) for key in ("key", "name", "size", "share", "revenue_share", "description")}
            | {"profile": p}
            for p in run.profiles
        ],
        "moved": run.moved,
        "transitions": run.transitions,
        "timings": run.timings,
        # Whether the segments went live; when not, why the run waits as a draft.
        "applied": run.applied,
        "draft_reason": run.draft_reason,
    }
