"""The one exception of the clustering package."""


class ClusteringError(ValueError):
    """Input that cannot be clustered; the message says what to change."""
