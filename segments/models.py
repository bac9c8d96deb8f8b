"""Customers, their orders, and what segmentation learns from them.

Bulk paths (CSV import, segmentation) write these tables with multi-row SQL or COPY rather
than through `save()`, so every column that such a path fills has a plain default and
timestamps are set explicitly there (auto_now only fires on `save()`).
"""

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import LazyObject, empty

from segcampaign.jobs import Job
from . import clustering


class ConsentSource(models.TextChoices):
    IMPORT = "import", "CSV import"
    ADMIN = "admin", "Admin"
    API = "api", "API"
    FORM = "form", "Signup form"
    CHECKOUT = "checkout", "Checkout"
    SMS_REPLY = "sms_reply", "SMS reply (START)"


class Customer(models.Model):
    # Unique through Meta.constraints rather than unique=True: on PostgreSQL unique=True adds a
    # second, LIKE-pattern index that lookups never use and every bulk import pays for.
    external_id = models.CharField(
        max_length=64, help_text="The shop's own id for this customer (CustomerID in most exports)."
    )
    email = models.EmailField(blank=True, default="", help_text="Lower-cased; empty when unknown.")
    phone = models.CharField(max_length=20, blank=True, default="", help_text="E.164, for example +447911123456.")
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    country = models.CharField(max_length=64, blank=True, default="")
    time_zone = models.CharField(max_length=64, blank=True, default="", help_text="IANA name, e.g. Europe/London.")
    locale = models.CharField(max_length=16, blank=True, default="")

    email_consent = models.BooleanField(default=False, help_text="May we send marketing email?")
    email_consent_at = models.DateTimeField(null=True, blank=True)
    email_consent_source = models.CharField(max_length=32, blank=True, default="")
    sms_consent = models.BooleanField(default=False, help_text="May we send marketing SMS?")
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent_source = models.CharField(max_length=32, blank=True, default="")

    attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text="Extra columns from imported files, numbers kept as numbers (e.g. complains, money_spent).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Bumped by imports whenever the customer or one of its orders changes, so an
    # incremental re-segmentation finds exactly the customers it has to look at again.
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["external_id"]
        constraints = [models.UniqueConstraint(fields=["external_id"], name="customer_external_id_unique")]
        indexes = [
            # Admin search: email by its beginning (LIKE 'abc%'), phone exactly.
            models.Index(fields=["email"], name="customer_email_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["phone"], name="customer_phone"),
        ]

    def __str__(self):
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return f"{name} ({self.external_id})" if name else self.external_id

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)


class Order(models.Model):
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="orders",
        # The (customer, ordered_at) index below serves customer lookups; a second
        # single-column index would only slow down bulk imports.
        db_index=False,
    )
    external_id = models.CharField(
        max_length=64, help_text="Order or invoice number; derived from the row when a file has none."
    )
    ordered_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Negative for returns.")
    quantity = models.IntegerField(default=0, help_text="Items in the order.")
    is_return = models.BooleanField(default=False)
    coupon_code = models.CharField(max_length=64, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-ordered_at"]
        constraints = [models.UniqueConstraint(fields=["external_id"], name="order_external_id_unique")]
        indexes = [
            models.Index(fields=["customer", "ordered_at"], name="order_customer_date"),
            models.Index(fields=["ordered_at"], name="order_date"),
        ]

    def __str__(self):
        return self.external_id

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)


class CustomerStats(models.Model):
    """Order aggregates per customer, kept up to date incrementally by segmentation runs.

    Re-aggregating ten million orders on every run is the expensive part of segmentation;
    this table lets a run re-aggregate only customers whose orders changed since the last one.
    Derived features (recency, scores) are not stored: they depend on the run's reference date.
    """

    # No database-level foreign key on this derived table or on Membership: PostgreSQL checks
    # one by locking the referenced row (FOR KEY SHARE), which for a million rows written by a
    # run meant rewriting every customer page and took most of a minute. Rows are written only
    # by segmentation from ids it has just read, and deleting a customer through Django still
    # cascades (on_delete is carried out by the ORM).
    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="stats", db_constraint=False
    )
    first_order_at = models.DateTimeField(null=True)
    last_order_at = models.DateTimeField(null=True, help_text="Last order that is not a return.")
    frequency = models.IntegerField(default=0, help_text="Orders that are not returns.")
    returns = models.IntegerField(default=0)
    monetary = models.DecimalField(max_digits=14, decimal_places=2, default=0, help_text="Net spend.")
    quantity = models.IntegerField(default=0, help_text="Items bought in orders that are not returns.")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "customer stats"


# Algorithm.KMEANS == "kmeans", labelled for people, one member per row of the clustering table.
Algorithm = models.TextChoices(
    "Algorithm",
    [(name.upper(), (name, spec.label)) for name, spec in clustering.ALGORITHMS.items()],
    module=__name__,
)


class SegmentationRun(Job):
    """One segmentation: its parameters, how K was chosen, metrics, profiles and timings."""

    algorithm = models.CharField(max_length=16, choices=Algorithm.choices, default=Algorithm.KMEANS)
    k_requested = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: choose K automatically.")
    features = models.JSONField(default=list, blank=True, help_text="Feature names; empty: the default set.")
    as_of = models.DateField(null=True, blank=True, help_text="Reference date; empty: the day after the last order.")
    incremental = models.BooleanField(
        default=False, help_text="Re-assign only customers that changed since the base run, with its model."
    )
    base_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    triggered_by = models.CharField(max_length=32, blank=True, default="")
    params = models.JSONField(default=dict, blank=True, help_text="Seed, K range, preprocessing, sample sizes.")

    # Results
    k = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Number of segments found.")
    k_candidates = models.JSONField(
        default=list,
        blank=True,
        help_text="[{k, inertia, silhouette, stability, largest_share, smallest_share}] for every K tried.",
    )
    k_reason = models.TextField(blank=True, default="")
    metrics = models.JSONField(
        default=dict, blank=True, help_text="{silhouette, davies_bouldin, calinski_harabasz, sizes}."
    )
    warnings = models.JSONField(
        default=list,
        blank=True,
        help_text="[{code, message}]: what makes the segments doubtful or unfit to apply (see clustering/quality.py).",
    )
    profiles = models.JSONField(default=list, blank=True, help_text="One profile per segment, in original units.")
    model_state = models.JSONField(
        default=dict, blank=True, help_text="Fitted preprocessing and centroids: to match and assign later."
    )
    plot_data = models.JSONField(
        default=dict, blank=True, help_text="Bounded sample for the admin plots (PCA projection, RFM heatmap)."
    )
    transitions = models.JSONField(
        default=dict, blank=True, help_text="{from segment key: {to segment key: customers}} since the last run."
    )
    moved = models.IntegerField(default=0, help_text="Customers whose segment changed in this run.")
    n_customers = models.IntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage (by stage key), and the total.")
    stats_refreshed = models.IntegerField(
        null=True, blank=True, help_text="Customers whose order stats this run re-aggregated (empty: none)."
    )
    stats_watermark = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The stats this run refreshed hold every change committed before this instant; "
        "the next run re-aggregates the customers changed after it.",
    )

    # Try before apply: a run computes its segments, then either makes them live (membership,
    # segment rows) or keeps them as a draft that someone makes live later. Runs from before
    # drafts existed were all applied, hence the default.
    class GoLive(models.TextChoices):
        NEVER = "never", "No: a draft until someone makes it live"
        IF_FIT = "if_fit", "When the segments pass the sanity checks"
        ALWAYS = "always", "Always, whatever the checks say (--force)"

    go_live = models.CharField(
        max_length=8, choices=GoLive.choices, default=GoLive.IF_FIT,
        help_text="Whether the run makes its segments live when it ends.",
    )
    is_draft = models.BooleanField(
        default=False,
        help_text="Finished, but its segments are not live: nothing changed for customers, segments or campaigns.",
    )
    draft_reason = models.TextField(blank=True, default="", help_text="Why the run waits as a draft.")
    compared_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The run that was live when this one started: a draft may go live only while it still is.",
    )
    applied_at = models.DateTimeField(null=True, blank=True, help_text="When its segments went live.")
    applied_by = models.CharField(
        max_length=150, blank=True, default="", help_text="Who made it live: the command, the schedule or a user."
    )

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"
        permissions = [("make_live_segmentationrun", "Can make a draft segmentation run live")]
        constraints = [
            # Two runs never overlap: at most one run is running at any time.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="one_running_segmentation"
            ),
        ]

    def __str__(self):
        return f"Run {self.pk} ({self.get_algorithm_display()}, {self.get_status_display()})"

    @property
    def applied(self) -> bool:
        """Its segments went live (a finished run that is not a draft)."""
        return self.status == self.Status.SUCCEEDED and not self.is_draft


class Segment(models.Model):
    """A group of customers with a stable identity across runs.

    The key never changes; the name does only when a marketer renames it (name_locked).
    Campaign rules point at segments, so a refit that matches a cluster to this segment
    keeps those rules working.
    """

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    name_locked = models.BooleanField(
        default=False, help_text="Set when a marketer renames the segment: later runs keep the name."
    )
    description = models.TextField(blank=True, default="")
    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    is_active = models.BooleanField(default=True, help_text="False once a run found no cluster like it.")
    centroid = models.JSONField(default=list, blank=True, help_text="Last centroid in the scaled feature space.")
    profile = models.JSONField(default=dict, blank=True, help_text="Last profile, in original units.")
    size = models.IntegerField(default=0)
    first_run = models.ForeignKey(SegmentationRun, null=True, on_delete=models.SET_NULL, related_name="+")
    last_run = models.ForeignKey(SegmentationRun, null=True, on_delete=models.SET_NULL, related_name="+")
    retired_at = models.DateTimeField(null=True, blank=True)
    profile_changed = models.BooleanField(
        default=False,
        help_text="A run found that the customers of this renamed segment changed a lot: check the name still fits.",
    )
    profile_change = models.TextField(
        blank=True, default="", help_text="What changed, in words; cleared when the segment is saved in admin."
    )

    class Meta:
        ordering = ["-is_active", "name"]
        constraints = [
            # Campaigns and people find a live segment by its name, whatever the case; retired
            # segments are listed apart and may share a live one's name.
            models.UniqueConstraint(
                Lower("name"), condition=Q(is_active=True), name="live_segment_names_unique"
            ),
        ]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """Which segment a customer is in, from the run that put it there until the run that moved it.

    Rows are written only for customers who move, so a refit where most customers stay
    writes little, and the membership of any past run stays answerable:
    run <= R and (ended_run is null or ended_run > R).
    """

    # No database-level foreign keys (see CustomerStats): a full run writes a million rows
    # that all reference a handful of segment and run rows, and checking each locked those
    # rows a million times over.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="memberships", db_index=False, db_constraint=False
    )
    # Indexed with the current customers only (below): every lookup by segment is of current members.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships", db_constraint=False, db_index=False
    )
    # PROTECT: every run is kept, and deleting one would rewrite the history of the others.
    # No single-column indexes on the runs: lookups go by customer (the indexes below) and a
    # run's membership is a range over most of the table; each index costs every COPY.
    run = models.ForeignKey(
        SegmentationRun, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    ended_run = models.ForeignKey(
        SegmentationRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(fields=["customer", "run"], name="membership_customer_run"),
            # A segment's current members in customer order, their row ids included: a page of the
            # admin's member list (and an audience) reads only the index, however deep the page.
            models.Index(
                fields=["segment", "customer"],
                include=["id"],
                condition=Q(ended_run__isnull=True),
                name="membership_current_by_segment",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(ended_run__isnull=True), name="one_current_membership"
            ),
        ]


class DraftLabel(models.Model):
    """The segment a draft run gave each customer, kept so that making it live later writes the
    membership without fitting again: (run, customer, label), the label being the one in the
    run's profiles. Rows go once any run goes live, which leaves every other draft out of date.
    """

    pk = models.CompositePrimaryKey("run", "customer")
    # No foreign keys in the database (see Membership): a draft writes a row per customer. A
    # customer deleted since the draft is left out when it goes live (its rows join customers).
    # The primary key's index serves "the rows of run R": no index of its own on run.
    run = models.ForeignKey(
        SegmentationRun, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    label = models.SmallIntegerField()


class _ImportsStorage(LazyObject):
    def _setup(self):
        self._wrapped = storages["imports"]


_imports_storage = _ImportsStorage()


def imports_storage() -> Storage:
    """Where uploads are kept: STORAGES["imports"], the database unless configured otherwise,
    so a worker on any machine reads what the web process stored. (A callable: migrations name
    it instead of freezing a backend.)"""
    return _imports_storage


def _storages_changed(*, setting, **kwargs):
    # As Django does for default_storage: a changed STORAGES (tests) takes effect.
    if setting == "STORAGES":
        _imports_storage._wrapped = empty


setting_changed.connect(_storages_changed)


class StoredFileChunk(models.Model):
    """A piece of a file kept in the database by segments.storage.DatabaseStorage."""

    name = models.CharField(max_length=255)
    index = models.PositiveIntegerField(help_text="Its place in the file, from 0.")
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "index"], name="one_stored_chunk_per_place")]

    def __str__(self):
        return f"{self.name} [{self.index}]"


class ImportJob(Job):
    """One CSV upload from the admin: the file, the options chosen, and what the import did."""

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        ORDERS = "orders", "Orders"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(
        upload_to="imports/%Y/%m/", max_length=255, storage=imports_storage, blank=True,
        help_text="The uploaded file; empty once the job ended and the file was deleted.",
    )
    original_name = models.CharField(max_length=255, blank=True, default="")
    options = models.JSONField(
        default=dict, blank=True, help_text="format, mapping {field: column}, date_format, encoding, dry_run."
    )
    rows_total = models.IntegerField(null=True, blank=True, help_text="Data lines in the file.")
    rows_processed = models.IntegerField(default=0, help_text="Data lines read so far.")
    report = models.JSONField(default=dict, blank=True, help_text="ImportReport.as_dict() once finished.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Import {self.pk}: {self.get_kind_display().lower()} from {self.original_name or self.file.name}"
