"""No two live segments share a name, case aside: campaigns and people find a segment by it.

Live segments that already share one (a rename made before this rule) are told apart first, as
runs number a name that is taken: the older segment keeps the name, the newer ones become
"Loyal 2", "Loyal 3" ...
"""

from django.db import migrations, models
from django.db.models.functions import Lower


def number_shared_live_names(apps, schema_editor):
    Segment = apps.get_model("segments", "Segment")
    limit = Segment._meta.get_field("name").max_length
    taken = set()
    for segment in Segment.objects.filter(is_active=True).order_by("pk"):
        name, n = segment.name, 2
        while name.lower() in taken:
            suffix = f" {n}"
            name, n = segment.name[: limit - len(suffix)] + suffix, n + 1
        taken.add(name.lower())
        if name != segment.name:
            Segment.objects.filter(pk=segment.pk).update(name=name)


class Migration(migrations.Migration):

    dependencies = [
        ("segments", "0007_run_warnings"),
    ]

    operations = [
        migrations.RunPython(number_shared_live_names, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="segment",
            constraint=models.UniqueConstraint(
                Lower("name"), condition=models.Q(("is_active", True)), name="live_segment_names_unique"
            ),
        ),
    ]
