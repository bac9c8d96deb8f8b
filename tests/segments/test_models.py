"""segments.models: what is derived rather than written out."""

from segments import clustering
from segments.models import Algorithm


def test_the_algorithm_choices_are_the_clustering_table_with_its_labels():
    assert Algorithm.choices == [(name, spec.label) for name, spec in clustering.ALGORITHMS.items()]
    assert (Algorithm.KMEANS, Algorithm.HDBSCAN, Algorithm.RFM) == ("kmeans", "hdbscan", "rfm")
    assert Algorithm.MINIBATCH.label == "MiniBatch k-means (large shops)"
