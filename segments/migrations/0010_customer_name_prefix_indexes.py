"""Indexes for the customer search's name prefixes ("Oliv" finds Olivia), PostgreSQL only.

The admin searches names with istartswith, UPPER(name) LIKE 'OLIV%': without these, each search
(and its count) read all 1,000,000 customers of the benchmark shop, 2.5 s on a busy machine.
text_pattern_ops lets LIKE use the index whatever the database's collation. Declared here and
not on the model: Django writes an expression's operator class into SQLite's DDL too, which
SQLite refuses. An import's first load drops and rebuilds them with the table's other indexes.
"""

from django.db import migrations

INDEXES = {
    "customer_first_name_prefix": "first_name",
    "customer_last_name_prefix": "last_name",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "segments_customer" ((UPPER("{column}"::text)) text_pattern_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0009_run_drafts"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
