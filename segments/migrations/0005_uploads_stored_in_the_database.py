"""Uploads move from MEDIA_ROOT into STORAGES["imports"] (the database unless configured otherwise).

The file of a job still to run moves along; the files of jobs that ended are deleted: they
are customers' personal data nobody needs any more.
"""

import django.utils.timezone
from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import migrations, models

import segments.models

UNFINISHED = ("queued", "running")


def move_uploads(apps, schema_editor):
    ImportJob = apps.get_model("segments", "ImportJob")
    disk = FileSystemStorage(location=settings.MEDIA_ROOT)
    for job in ImportJob.objects.exclude(file=""):
        name = job.file.name
        if not disk.exists(name):
            continue
        if job.status in UNFINISHED:
            with disk.open(name, "rb") as content:
                job.file = storages["imports"].save(name, content)
        else:
            job.file = ""
        job.save(update_fields=["file"])
        disk.delete(name)


class Migration(migrations.Migration):

    dependencies = [
        ('segments', '0004_job_lifecycle'),
    ]

    operations = [
        migrations.AlterField(
            model_name='importjob',
            name='file',
            field=models.FileField(blank=True, help_text='The uploaded file; empty once the job ended and the file was deleted.', max_length=255, storage=segments.models.imports_storage, upload_to='imports/%Y/%m/'),
        ),
        migrations.CreateModel(
            name='StoredFileChunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=255)),
                ('index', models.PositiveIntegerField(help_text='Its place in the file, from 0.')),
                ('data', models.BinaryField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('name', 'index'), name='one_stored_chunk_per_place')],
            },
        ),
        migrations.RunPython(move_uploads, migrations.RunPython.noop),
    ]
