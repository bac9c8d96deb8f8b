"""manage.py demo: the whole loop on a sample shop, printing what it learned.

It lives in the campaigns app because it runs both halves: segments (sample shop, RFM, k-means,
a refit that keeps identities) and campaigns (a starter campaign written for the segments found,
previewed, then sent: email to files, SMS to the console by default).
"""

import contextlib
import io
import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from campaigns import selectors as campaign_selectors
from campaigns import services as campaign_services
from campaigns import tasks as campaign_tasks
from campaigns.starter import starter_definition
from segments import services
from segments.management import output
from segments.models import Customer, Order


_SMS_SHOWN = 3


@contextlib.contextmanager
def _quiet(name: str):
    """A logger held at WARNING for the block (the demo's eager tasks log every success)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class Command(BaseCommand):
    help = (
        "Load the sample shop, segment it, write a starter campaign for the segments found, preview and send it "
        "(email to files, SMS to the console unless configured otherwise), and print what was learned and how "
        "to open the admin. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options):
        w = self.stdout.write
        w(self.style.MIGRATE_HEADING("1. The sample shop"))
        call_command("generate_sample_data", customers=options["customers"], seed=options["seed"], stdout=self.stdout)
        w(f"   In the database: {Customer.objects.count():,} customers, {Order.objects.count():,} orders")

        w(self.style.MIGRATE_HEADING("2. The classic RFM segments (rules, no machine learning)"))
        rfm = self._run(algorithm="rfm")
        for p in sorted(rfm.profiles, key=lambda p: -p["size"]):
            w(f"   {p['name']:<20} {p['size']:>6,} customers")

        w(self.style.MIGRATE_HEADING("3. Segmentation by k-means, K chosen by elbow, silhouette and stability"))
        run = self._run()
        output.print_run(self, run)

        w(self.style.MIGRATE_HEADING("4. A refit keeps each segment's identity"))
        again = self._run()
        kept = {p["key"] for p in again.profiles} & {p["key"] for p in run.profiles}
        w(
            f"   Run {again.pk}: {again.k} segments, {len(kept)} of them matched to run {run.pk} by centroid; "
            f"{again.moved:,} customers changed segment"
        )

        w(self.style.MIGRATE_HEADING("5. A starter campaign for these segments"))
        campaign = campaign_services.campaign_load(data=starter_definition(again.profiles, shop_url=settings.SITE_URL))
        planned = campaign_services.plan_summary(campaign_services.campaign_plan(campaign=campaign))
        for line in campaign_selectors.plan_lines({"campaign": campaign.name, "dry_run": True, "plan": planned}):
            w(f"   {line}")
        w(self.style.MIGRATE_HEADING("6. Sending it"))
        # With no broker the run is sent right here; the console SMS backend prints each SMS, of
        # which the demo shows the first few.
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), _quiet("celery"), transaction.atomic():  # on_commit runs inside
            launched = campaign_tasks.campaign_run_queue(campaign=campaign, triggered_by="demo")
        sms = [block for block in printed.getvalue().split("--- SMS ") if block.strip()]
        for block in sms[:_SMS_SHOWN]:
            w("   --- SMS " + block.rstrip().replace("\n", "\n   "))
        if len(sms) > _SMS_SHOWN:
            w(f"   ... and {len(sms) - _SMS_SHOWN:,} more SMS")
        launched.refresh_from_db()
        if launched.status == launched.Status.FAILED:
            raise CommandError(f"campaign run {launched.pk} failed: {launched.error}")
        progress = campaign_selectors.run_progress(launched)
        w(
            f"   Run {launched.pk}: {progress['sent']:,} sent, {progress['failed']:,} failed, "
            f"{progress['counts'].get('holdout', 0):,} held out to measure the campaign against, "
            f"{progress['waiting']:,} waiting"
        )
        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
            w(f"   Email was written to files in {settings.EMAIL_FILE_PATH}/ (set EMAIL_BACKEND to send for real)")
        w(f"   SMS went to the {settings.SMS_BACKEND} SMS backend (SMS_BACKEND)")
        w(f'   Every message: python manage.py export_messages --campaign "{campaign.name}" --output messages.csv')

        w(self.style.MIGRATE_HEADING("7. Admin"))
        password = self._admin_login(options["username"])
        w(f"   Start it with:  make serve   then open http://127.0.0.1:8000/admin/")
        w(f"   Login:          {options['username']} / {password}")

    def _run(self, **kwargs):
        run = services.segmentation_run_create(triggered_by="demo", **kwargs)
        run = services.segmentation_run_execute(run_id=run.pk)
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"segmentation run {run.pk} failed: {run.error}")
        return run

    def _admin_login(self, username):
        """The admin's password, made by the first demo run and kept (mode 0600) in DEMO_LOGIN_FILE: a later
        run prints it again instead of resetting it, and leaves a password changed since alone."""
        if not settings.DEBUG:
            return "(not created: DEBUG is off; use createsuperuser)"
        login_file = settings.DEMO_LOGIN_FILE
        saved = dict(line.split(" ", 1) for line in login_file.read_text().splitlines()) if login_file.exists() else {}
        user = get_user_model().objects.filter(username=username).first()
        if user is not None:
            if username in saved and user.check_password(saved[username]):
                return saved[username]
            return f"(unchanged; set a new one with: python manage.py changepassword {username})"
        # A fresh random password, not a fixed one: printing a fixed one would invite reusing it.
        password = secrets.token_urlsafe(9)
        get_user_model().objects.create_superuser(username=username, email="admin@example.com", password=password)
        login_file.touch(mode=0o600)
        login_file.chmod(0o600)
        login_file.write_text("".join(f"{name} {secret}\n" for name, secret in {**saved, username: password}.items()))
        return password
