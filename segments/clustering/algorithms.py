"""The clustering algorithms this package offers."""

ALGORITHMS = ("kmeans", "minibatch", "gmm", "agglomerative", "hdbscan", "rfm")
NEEDS_K = ("kmeans", "minibatch", "gmm", "agglomerative")
