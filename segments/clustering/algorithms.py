"""The one table of segmentation algorithms: what each is called, what it needs and what it gives.

segments.models builds its Algorithm choices (stored values and labels) from it, the segmentation
service its list of algorithms whose runs can place new customers incrementally, and fit() its
options and their defaults. It imports nothing, so Django can read it at start-up without loading
scikit-learn (see __init__).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class AlgorithmSpec:
    label: str  # for people: the admin's choices, a run's display name, the command's summary
    needs_k: bool  # fit() needs the number of segments, given or picked by choose_k
    has_centroids: bool  # each segment is a centroid: a later run can place new customers by the nearest
    finds_noise: bool  # it may leave customers in no segment (label -1, named "Outliers")
    uses_ml: bool  # fitted by fit(); False for a fixed rule (rfm: rfm_segments)
    # The keyword options fit() takes for it, with their defaults (None: worked out from the data).
    options: Mapping[str, object] = field(default_factory=dict)


# MiniBatch k-means, measured on 1M x 5 long-tailed RFM-like rows, 2 cores, sklearn 1.9:
#   KMeans(n_init=1) on all rows                  1.1 s (K=4)   1.2-2.0 s (K=8)
#   KMeans(n_init=4) on all rows                  2.6-2.9 s (K=2), 6.5 s (K=8)
#   MiniBatchKMeans.fit, batch 1,024 (default)    0.1 s but inertia 4.8% worse (K=4, stops early),
#                                                 12.9 s (K=8), 70-98 s (K=2)
#   MiniBatchKMeans.fit, batch 8,192 / 100,000    3.3 s / 2.3 s (K=4), 15.0 s / 4.9 s (K=8)
#   k-means++ on a 50k sample + 1 pass of partial_fit in batches of 16,384: 0.27-0.34 s for the
#   pass (K=4..8), inertia within 0.01% of full k-means; the whole fit 0.5-0.7 s.
# MiniBatchKMeans.fit draws every batch with choice(n, p=weights), which costs O(n) per step, so
# no batch size makes it beat k-means on a million rows. Feeding partial_fit ourselves avoids it.
# Against our "kmeans" (seeded on the same sample, then 4-9 Lloyd passes over all rows: 0.4-0.8 s)
# one pass of batches saves 0.1-0.5 s; the larger K, the more Lloyd passes it saves.
_MINIBATCH_SIZE = 16_384

ALGORITHMS: Mapping[str, AlgorithmSpec] = MappingProxyType(
    {
        "kmeans": AlgorithmSpec(
            label="k-means (k-means++)",
            needs_k=True,
            has_centroids=True,
            finds_noise=False,
            uses_ml=True,
            options={"n_init": 4, "max_iter": 300},
        ),
        "minibatch": AlgorithmSpec(
            label="MiniBatch k-means (large shops)",
            needs_k=True,
            has_centroids=True,
            finds_noise=False,
            uses_ml=True,
            options={"n_init": 4, "batch_size": _MINIBATCH_SIZE, "epochs": 1},
        ),
        "gmm": AlgorithmSpec(
            label="Gaussian mixture",
            needs_k=True,
            has_centroids=True,
            finds_noise=False,
            uses_ml=True,
            options={"covariance_type": "full", "gmm_sample": 20_000, "n_init": 1, "max_iter": 100},
        ),
        "agglomerative": AlgorithmSpec(
            label="Agglomerative (hierarchical)",
            needs_k=True,
            has_centroids=True,
            finds_noise=False,
            uses_ml=True,
            options={"agglomerative_sample": 5_000, "linkage": "ward"},
        ),
        "hdbscan": AlgorithmSpec(
            label="HDBSCAN (density, finds noise)",
            needs_k=False,
            has_centroids=False,
            finds_noise=True,
            uses_ml=True,
            options={"hdbscan_sample": 10_000, "min_cluster_size": None, "min_samples": None},
        ),
        "rfm": AlgorithmSpec(
            label="Classic RFM segments (no machine learning)",
            needs_k=False,
            has_centroids=False,
            finds_noise=False,
            uses_ml=False,
        ),
    }
)
