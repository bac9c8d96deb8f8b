"""Time the clustering core on a million synthetic customers and print the figures.

    .venv/bin/python bench/clustering_algorithms.py [--customers 1000000] [--features 5]
        [--algorithms kmeans,minibatch,gmm,agglomerative,hdbscan]

Two data sets: make_blobs (separated groups, the easy case) and long-tailed RFM-like shop data
(recency exponential, order counts geometric, spend log-normal: the realistic case, through
preprocess). The budget for a whole 1M-customer segmentation is 30 s on 2 cores, of which this
part should take ~3-5 s for choose_k and ~3-5 s for fit + evaluate + profile. The comparison
measured in the same run is sklearn used the plain way: KMeans(n_init=4) on all rows and
MiniBatchKMeans.fit with its default batch.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.datasets import make_blobs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segments import clustering  # noqa: E402


def shop(n: int, extra: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frequency = rng.geometric(0.3, n).astype(np.float64)
    frame = pd.DataFrame(
        {
            "recency_days": np.floor(rng.exponential(120, n)),
            "frequency": frequency,
            "monetary": np.round(frequency * rng.lognormal(3.5, 0.8, n), 2),
        }
    )
    for j in range(extra):
        frame[f"attribute_{j}"] = rng.normal(0, 1, n) + 0.3 * np.log1p(frequency)
    return frame


def timed(label: str, function, figures: dict):
    start = time.perf_counter()
    result = function()
    figures[label] = time.perf_counter() - start
    print(f"  {label:<42} {figures[label]:6.2f} s", flush=True)
    return result


def run(name: str, frame: pd.DataFrame, algorithms: list[str]) -> None:
    print(f"\n{name}: {len(frame):,} customers x {frame.shape[1]} features")
    figures: dict[str, float] = {}
    prepared = timed("preprocess", lambda: clustering.preprocess(frame), figures)
    X = prepared.X
    choice = timed("choose_k (K=3..10 + stability, 50k sample)", lambda: clustering.choose_k(X), figures)
    print(f"    {choice.reason}")
    for algorithm in algorithms:
        result = timed(f"fit {algorithm}", lambda: clustering.fit(X, algorithm=algorithm, k=choice.k), figures)
        print(f"    {result.n_clusters} clusters, inertia {result.inertia:,.0f}, noise {result.noise}")
    result = clustering.fit(X, algorithm="kmeans", k=choice.k)
    metrics = timed("evaluate (10k sample)", lambda: clustering.evaluate(X, result.labels), figures)
    print(f"    silhouette {metrics['silhouette']}, Davies-Bouldin {metrics['davies_bouldin']}")
    profiles = timed("profile", lambda: clustering.profile(frame, result.labels), figures)
    names = timed("name_segments", lambda: clustering.name_segments(profiles), figures)
    for item in profiles[:4]:
        print(f"    {names[item['label']]!r}: {item['description']}")
    timed("assign (nearest centroid, all rows)", lambda: clustering.assign(X, result.centroids), figures)
    timed("projection (5k stratified sample)", lambda: clustering.projection(X, result.labels), figures)
    core = figures["fit kmeans"] + figures["evaluate (10k sample)"] + figures["profile"] if "fit kmeans" in figures else None
    if core is not None:
        print(f"  => choose_k {figures['choose_k (K=3..10 + stability, 50k sample)']:.2f} s; fit kmeans + evaluate + profile {core:.2f} s")
    print("  compared with sklearn the plain way, same K:")
    timed("KMeans(n_init=4).fit(all rows)", lambda: KMeans(choice.k, n_init=4, random_state=0).fit(X), figures)
    timed("MiniBatchKMeans().fit(all rows), batch 1024", lambda: MiniBatchKMeans(choice.k, random_state=0).fit(X), figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--algorithms", default="kmeans,minibatch,gmm,agglomerative,hdbscan")
    args = parser.parse_args()
    algorithms = [name for name in args.algorithms.split(",") if name]
    print(f"{os.cpu_count()} CPU(s)")
    X, _ = make_blobs(args.customers, n_features=args.features, centers=5, cluster_std=1.5, random_state=0)
    run("make_blobs, 5 centers", pd.DataFrame(X, columns=[f"f{j}" for j in range(args.features)]), algorithms)
    run("RFM-like shop", shop(args.customers, max(0, args.features - 3), seed=0), algorithms)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (max RSS) {peak:,.0f} MB")


if __name__ == "__main__":
    main()
