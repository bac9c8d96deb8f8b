"""A marketer's day with the segments, in a real browser: log in, import a file with a bad row,
segment the shop and read its charts, rename a segment, and find which segment a customer is in."""

import re

import pytest

from segments.models import Customer, Membership, Segment

from .conftest import PASSWORD, admin_path, expect, load_time

pytestmark = pytest.mark.browser

# Line 3 has no customer id, the one field a customer row cannot do without; line 4's email is
# invalid, which costs only that field.
CUSTOMERS_CSV = (
    "customer_id,email,first_name,last_name,country\n"
    "B-1001,ana.silva@example.com,Ana,Silva,United Kingdom\n"
    ",nobody@example.com,No,Id,Ireland\n"
    "B-1002,not-an-email,Bo,Berg,Sweden\n"
)
# The charts of a first run ("who moved" shows everyone coming from "not segmented before").
# A first run has nothing to move from (no Sankey); its sizes are an HTML chart, not a figure.
FIRST_RUN_PLOTS = ("elbow", "projection-2d", "projection-3d", "rfm-heatmap")


def test_log_in_with_the_admin_form(page, admin_user):
    page.goto(admin_path("index"))
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.steps.shot("login-form")
    page.get_by_label("Username:").fill(admin_user.username)
    page.get_by_label("Password:").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".errornote")).to_contain_text("Please enter the correct username and password")
    page.steps.shot("wrong-password")

    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Your shop")).to_be_visible()
    page.steps.shot("logged-in")


def test_import_a_customer_file_with_a_bad_row(logged_in, tmp_path):
    page = logged_in
    upload = tmp_path / "customers.csv"
    upload.write_text(CUSTOMERS_CSV)
    page.goto(admin_path("segments_customer_changelist"))
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_label("Customers").check()
    page.steps.shot("upload-form")

    page.get_by_role("button", name="Upload and import").click()

    expect(page.locator("table.import-counts")).to_be_visible()
    counts = dict(zip(page.locator("table.import-counts th").all_inner_texts(),
                      page.locator("table.import-counts td").all_inner_texts()))
    assert (counts["Rows read"], counts["Created"], counts["Rejected rows"]) == ("3", "2", "1")
    rejected = page.locator("table.import-errors").first.locator("tbody tr")
    expect(rejected).to_have_count(1)
    expect(rejected.first.locator("td").first).to_have_text("3")  # the file's line, as the marketer counts
    expect(page.get_by_text("not-an-email").first).to_be_visible()  # the warning names the bad value
    page.steps.shot("import-report")
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"B-1001", "B-1002"}


def test_a_runs_charts_are_drawn(logged_in, segmented_shop):
    page = logged_in
    page.goto(admin_path("segments_segmentationrun_changelist"))
    page.steps.shot("run-list")
    page.get_by_role("link", name=str(segmented_shop.pk), exact=True).click()
    load_time(page, "run page, first visit")
    # Cards first: one per segment, in the words of the page.
    expect(page.get_by_text(f"{segmented_shop.k} segments", exact=True)).to_be_visible()
    expect(page.locator("#segments .segcampaign-card")).to_have_count(segmented_shop.k)
    page.steps.shot("run-page-cards")

    # The technical figures are drawn when their section is opened (plotly.js fetched then, once).
    page.locator("#technical-details > summary").click()
    for plot in FIRST_RUN_PLOTS:
        chart = page.locator(f'[data-figure="plot-{plot}"]')
        # Plotly draws into .main-svg (the 3-D map too, around its WebGL canvas) once the figure is built.
        expect(chart.locator(".main-svg").first).to_be_attached()
    expect(page.locator('[data-figure="plot-projection-3d"] canvas').first).to_be_attached()
    page.steps.shot("run-page")

    # The page as a marketer opens it again (plotly.js cached): its picture is the README's.
    page.goto(page.url)
    load_time(page, "run page, again")
    expect(page.locator("#segments .segcampaign-card").first).to_be_visible()
    page.steps.shot("run-page-again", readme_name="run-page.png")


def test_rename_a_segment_and_find_a_customers_segment(logged_in, segmented_shop):
    page = logged_in
    biggest = Segment.objects.filter(is_active=True).order_by("-size").first()
    page.goto(admin_path("segments_segment_changelist"))
    page.steps.shot("segment-list")
    page.get_by_role("link", name=biggest.name, exact=True).click()
    load_time(page, "segment page")
    expect(page.locator("#members h2")).to_contain_text(f"({biggest.size})")
    page.steps.shot("segment-page", readme_name="segment-page.png", readme_from="#members")

    page.locator("#id_name").fill("Weekend regulars")
    page.locator("input[name=_continue]").first.click()

    expect(page.locator(".messagelist .success")).to_contain_text("Weekend regulars")
    page.steps.shot("segment-renamed")
    biggest.refresh_from_db()
    assert (biggest.name, biggest.name_locked) == ("Weekend regulars", True)

    # A customer of that segment, found by their email in the customer list.
    member = Membership.objects.filter(segment=biggest, ended_run__isnull=True).exclude(customer__email="")
    customer = member.select_related("customer").order_by("customer_id").first().customer
    page.goto(admin_path("segments_customer_changelist"))
    page.locator("#searchbar").fill(customer.email)
    page.locator("#searchbar").press("Enter")
    # The list's customer cell links the name, with the id and email beneath it.
    page.locator("#result_list th.field-customer a").filter(has_text=customer.external_id).click()
    segment_link = page.locator("#customer-segment")
    expect(segment_link).to_have_text("Weekend regulars")
    page.steps.shot("customer-segment")

    segment_link.click()
    expect(page.locator("#id_name")).to_have_value("Weekend regulars")
    page.steps.shot("back-on-the-segment")
