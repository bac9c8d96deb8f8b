"""What the commands print for an import that is one step of something larger (the sample shop)."""

from segments.importing import ImportReport, RowError
from segments.management import output


def test_the_counts_and_the_rows_listed_include_the_warnings():
    report = ImportReport(
        kind="customers", created=3, rejected=1,
        errors=[RowError(7, "customer_id", "", "missing customer id")],
        warnings=[RowError(2, "phone", "+44 7700 900123", "+44 7700 900123 is not a valid number"),
                  RowError(4, "email", "nope", "not a valid email address")],
        warnings_omitted=3,
    )

    assert output.import_counts("Customers", report) == (
        "Customers: 3 created, 0 updated, 0 unchanged, 1 rejected, 5 warnings"
    )
    assert output.rejected_rows(report, limit=1) == [
        "  line 7, customer_id = '': missing customer id",
        "  warning: line 2, phone = '+44 7700 900123': +44 7700 900123 is not a valid number",
        "  ... and 1 more",
    ]
    assert output.import_counts("Orders", ImportReport()) == "Orders: 0 created, 0 updated, 0 unchanged, 0 rejected"
