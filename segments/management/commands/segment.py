"""manage.py segment: one segmentation run, in this process, with a summary."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from segments import services
from segments.management import output
from segments.models import Algorithm, SegmentationRun

# The exit status when the run succeeded but its segments wait as a draft (the sanity checks).
HELD = 3


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
    help = (
        "Segment the customers: features, K choice, clustering, named segments, membership. The segments go "
        "live unless the sanity checks fail (then the run waits as a draft, exit status 3; --force)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=Algorithm.values, default=Algorithm.KMEANS)
        parser.add_argument(
            "--k", default="auto", help="'auto' (elbow, silhouette and stability) or a number of segments"
        )
        parser.add_argument(
            "--k-min", type=int, metavar="N", help="with --k auto, the fewest segments to try (default SEGMENT_K_MIN)"
        )
        parser.add_argument(
            "--k-max", type=int, metavar="M", help="with --k auto, the most segments to try (default SEGMENT_K_MAX)"
        )
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
        parser.add_argument(
            "--force", action="store_true",
            help="make the segments live even when the sanity checks would hold them back as a draft",
        )
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args, **options):
        params = {}
        if options["seed"] is not None:
            params["seed"] = options["seed"]
        if options["rebuild_stats"]:
            params["rebuild_stats"] = True
        for name in ("k_min", "k_max"):
            if options[name] is not None:
                params[name] = options[name]
        try:
            run = services.segmentation_run_create(
                algorithm=options["algorithm"],
                k=_k(options["k"]),
                feature_names=options["features"],
                as_of=_date(options["as_of"]) if options["as_of"] else None,
                incremental=options["incremental"],
                triggered_by="command",
                params=params,
                go_live=SegmentationRun.GoLive.ALWAYS if options["force"] else SegmentationRun.GoLive.IF_FIT,
            )
            listener = None if options["json"] else self._progress
            run = services.segmentation_run_execute(run_id=run.pk, listener=listener)
        except services.RunInProgress as exc:
            # The run was created and cannot start: failed with the reason, not left queued.
            services.segmentation_run_not_started(run_id=run.pk, reason=str(exc))
            raise CommandError(str(exc)) from None
        except services.SegmentationError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(output.run_summary(run), indent=2, default=str))
        else:
            output.print_run(self, run)
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"run {run.pk} failed: {run.error}")
        if run.is_draft:
            # Not a failure, but not what was asked for: a script must be able to tell.
            raise CommandError(f"run {run.pk} is kept as a draft, not live: {run.draft_reason}", returncode=HELD)

    def _progress(self, stage, percent):
        self.stderr.write(output.stage_line(stage, percent))
