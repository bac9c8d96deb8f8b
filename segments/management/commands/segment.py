"""manage.py segment: one segmentation run, in this process, with a summary."""

import datetime as dt
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from segments import services
from segments.models import Algorithm


def _k(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise CommandError(f"--k must be 'auto' or a whole number, got {value!r}") from None


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of must be a date like 2026-11-23, got {value!r}") from None


class Command(BaseCommand):
    help = "Segment the customers: features, K choice, clustering, named segments, membership."

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=Algorithm.values, default=Algorithm.KMEANS)
        parser.add_argument("--k", default="auto", help="'auto' (elbow and silhouette) or a number of segments")
        parser.add_argument(
            "--features",
            nargs="+",
            default=[],
            metavar="NAME",
            help="features to cluster on (default: recency_days frequency monetary); customer attributes by name",
        )
        parser.add_argument("--as-of", type=str, default=None, help="reference date (default: day after last order)")
        parser.add_argument("--incremental", action="store_true", help="re-place only customers changed since the last run")
        parser.add_argument("--seed", type=int, default=None, help="random seed (same data and seed: same segments)")
        parser.add_argument("--rebuild-stats", action="store_true", help="re-aggregate every customer's orders")
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args, **options):
        params = {}
        if options["seed"] is not None:
            params["seed"] = options["seed"]
        if options["rebuild_stats"]:
            params["rebuild_stats"] = True
        try:
            run = services.segmentation_run_create(
                algorithm=options["algorithm"],
                k=_k(options["k"]),
                feature_names=options["features"],
                as_of=_date(options["as_of"]) if options["as_of"] else None,
                incremental=options["incremental"],
                triggered_by="command",
                params=params,
            )
            listener = None if options["json"] else self._progress
            run = services.segmentation_run_execute(run_id=run.pk, listener=listener)
        except services.SegmentationError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(run_summary(run), indent=2, default=str))
        else:
            self._print(run)
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"run {run.pk} failed: {run.error}")

    def _progress(self, stage, percent):
        sys.stderr.write(f"  [{percent:3d}%] {services.STAGES.get(stage, stage)}\n")

    def _print(self, run):
        w = self.stdout.write
        w(f"Run {run.pk}: {run.get_algorithm_display()}, {run.n_customers:,} customers as of {run.as_of}")
        if run.status != run.Status.SUCCEEDED:
            return
        w(f"Segments: {run.k}. {run.k_reason}")
        if run.k_candidates:
            w("  K  inertia        silhouette")
            for c in run.k_candidates:
                mark = "  <- chosen" if c["k"] == run.k else ""
                sil = "-" if c.get("silhouette") is None else f"{c['silhouette']:.3f}"
                w(f"  {c['k']:<2} {c['inertia']:<14.1f} {sil}{mark}")
        metrics = {k: v for k, v in run.metrics.items() if k in {"silhouette", "davies_bouldin", "calinski_harabasz"}}
        if metrics:
            w("Quality: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
        for p in sorted(run.profiles, key=lambda p: -p.get("size", 0)):
            revenue = p.get("revenue_share")
            revenue = f", {revenue:.0%} of revenue" if isinstance(revenue, float) else ""
            w(f"  {p['name']:<24} {p['size']:>9,} customers ({p.get('share', 0):.0%}{revenue})")
            if p.get("description"):
                w(f"      {p['description']}")
        w(f"Moved between segments since the last run: {run.moved:,}")
        w("Timings: " + ", ".join(f"{services.STAGES.get(k, k)} {v:.2f}s" for k, v in run.timings.items()))


def run_summary(run) -> dict:
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
        "segments": [
            {key: p.get(key) for key in ("key", "name", "size", "share", "revenue_share", "description")}
            | {"profile": p}
            for p in run.profiles
        ],
        "moved": run.moved,
        "transitions": run.transitions,
        "timings": run.timings,
    }
