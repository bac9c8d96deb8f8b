"""Errors a segmentation run reports to the person who started it."""

from segments import clustering, features


class SegmentationError(Exception):
    """A run cannot go on; the message says why in words a marketer can act on."""


class RunInProgress(SegmentationError):
    """Another run holds the one-running-run lock; the caller decides whether to wait."""


# Bad input or a shop that cannot be segmented as asked: the run fails with the message, and
# nothing is logged as a crash.
USER_ERRORS = (SegmentationError, features.FeatureError, clustering.ClusteringError)
