"""segments.models: what is derived rather than written out."""

import re
from pathlib import Path

import phonenumbers
from django.conf import settings

from segments import clustering
from segments.models import Algorithm, Customer


def test_the_algorithm_choices_are_the_clustering_table_with_its_labels():
    assert Algorithm.choices == [(name, spec.label) for name, spec in clustering.ALGORITHMS.items()]
    assert (Algorithm.KMEANS, Algorithm.HDBSCAN, Algorithm.RFM) == ("kmeans", "hdbscan", "rfm")
    assert Algorithm.MINIBATCH.label == "MiniBatch k-means (large shops)"


def test_the_phone_numbers_the_admin_gives_as_examples_are_valid():
    import_form = (Path(settings.BASE_DIR) / "templates/admin/segments/import_form.html").read_text()
    examples = re.findall(r"\+\d[\d ]{6,}\d", Customer._meta.get_field("phone").help_text + import_form)

    assert len(examples) == 2
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(example)) for example in examples)
