"""CSV import of customers and orders: read in chunks, validated with pandas, upserted in bulk.

What other code may use is named here. The modules, in the order a chunk meets them:

- reading: a path, file object or DataFrames into chunks of text cells (encoding and
  separator guessed, Arrow's CSV reader for plain files).
- pipeline: lines numbered, blank rows dropped, chunks prepared one ahead in a thread.
- formats/: one row preparer per file shape (customers, orders, online retail), built on
  fields (the columns a file may have), cleaning (one column at a time, vectorised),
  keys (duplicates and derived ids across chunks), attributes (extra columns as JSON) and
  preparing (rejected rows with their line, column and reason).
- writing: one transaction of upserts per chunk; first_load: the first load of orders
  into an empty table, with its indexes built at the end.
- services: import_customers and import_orders, which run all that and return a report;
  jobs: the same for a file uploaded in admin, run by a task, and the upload's deletion;
  uploads: what an upload must be (its size, and sniffing: CSV text, not a workbook).

report, fields, reading, cleaning, attributes, keys, preparing, formats/, pipeline and
sniffing import nothing from Django (settings reach them as arguments: cleaning.Context,
chunk_rows); writing, first_load, services, jobs and uploads are where Django is.
"""

from segments.importing.fields import (
    CUSTOMER_FIELDS,
    FORMATS,
    ONLINE_RETAIL_FIELDS,
    ORDER_FIELDS,
    FieldSpec,
    fields_for,
    parse_mapping,
)
from segments.importing.jobs import (
    import_copies_expire,
    import_job_create,
    import_job_run,
    import_job_upload_delete,
    import_uploads_expire,
)
from segments.importing.report import (
    MAX_ERRORS_KEPT,
    ImportFileError,
    ImportReport,
    RowError,
)
from segments.importing.services import import_customers, import_orders
from segments.importing.uploads import upload_content_problem, upload_size_problem

__all__ = [
    "CUSTOMER_FIELDS",
    "FORMATS",
    "MAX_ERRORS_KEPT",
    "ONLINE_RETAIL_FIELDS",
    "ORDER_FIELDS",
    "FieldSpec",
    "ImportFileError",
    "ImportReport",
    "RowError",
    "fields_for",
    "import_copies_expire",
    "import_customers",
    "import_job_create",
    "import_job_run",
    "import_job_upload_delete",
    "import_orders",
    "import_uploads_expire",
    "parse_mapping",
    "upload_content_problem",
    "upload_size_problem",
]
