"""Which number of segments `--k auto` picks on differently shaped shops, and what it costs.

    .venv/bin/python bench/k_choice.py [--seeds 3] [--large 200000] [--timing 1000000]

Shops: the sample shop of `make demo` (segments/sampledata.py) and a larger one; the benchmark
shop's shape (bench/segmentation.py: generate_shop with 10 orders per customer) on --large
customers; long-tailed shop data with independent features (bench/clustering_algorithms.py);
separated blobs of known number (make_blobs); and two shops without structure (Gaussian and
uniform noise). Features are recency_days, frequency and monetary through preprocess, as a run
clusters them.

For each shop the table shows the K the old rule picked (K = 2..12, the elbow's knee unless its
silhouette is more than 0.03 below the best, then the best silhouette) and the K the new rule
picks (segments/clustering/k_choice.py, K = 3..10) for seeds 0..--seeds-1, the knee, the best
silhouette, the most stable K, how much tighter than shuffled customers the segments are, the
flags, and both rules' CPU time (median over the seeds for the new rule). --timing N then times
both rules on the benchmark shape with N customers and a run's default seed (42), alternating old
and new three times so both see the same load (generating a million customers takes about 90 s
and 2.2 GB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from kneed import KneeLocator
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from segments import clustering, features  # noqa: E402
from segments.clustering.evaluation import silhouette  # noqa: E402
from segments.clustering.matrix import row_distances  # noqa: E402
from segments.clustering.sampling import sample_positions  # noqa: E402
from segments.sampledata import generate_shop  # noqa: E402

END = dt.date(2026, 11, 1)


def old_choose_k(X: np.ndarray, *, seed: int = 0) -> dict:
    """The rule before this change, as it was: the same sample, fits and silhouette, K = 2..12."""
    sample = X[sample_positions(X, 50_000, seed)]
    k_max = min(12, len(X) - 1, len(np.unique(sample, axis=0)))
    rows = sample[:5_000]
    distances = row_distances(rows, 0, len(rows), np.einsum("ij,ij->i", rows, rows), np.float32)
    candidates = []
    for k in range(2, k_max + 1):
        with threadpool_limits(limits=1):
            model = KMeans(n_clusters=k, init="k-means++", n_init=2, random_state=seed).fit(sample)
            score = silhouette(rows, model.labels_[: len(rows)], distances=distances)
        candidates.append({"k": k, "inertia": float(model.inertia_), "silhouette": score})
    best = max(candidates, key=lambda c: (c["silhouette"], -c["k"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        knee = KneeLocator(
            [c["k"] for c in candidates], [c["inertia"] for c in candidates], curve="convex", direction="decreasing"
        ).knee
    by_k = {c["k"]: c for c in candidates}
    if knee is None or by_k[knee]["silhouette"] < best["silhouette"] - 0.03:
        return {"k": best["k"], "knee": None if knee is None else int(knee)}
    return {"k": int(knee), "knee": int(knee)}


def sample_shop(customers: int, *, seed: int, orders_per_customer: float) -> pd.DataFrame:
    """recency_days, frequency and monetary of a generated shop, as a run computes them."""
    shop = generate_shop(customers=customers, seed=seed, end=END, orders_per_customer=orders_per_customer)
    stats = features.order_stats(shop.orders)
    as_of = features.day_after(shop.orders["ordered_at"].max().to_pydatetime())
    everyone = pd.DataFrame(index=pd.Index(shop.customers["external_id"], name="customer_id"))
    return features.build_features(stats, as_of=as_of, customers=everyone)[list(features.DEFAULT_FEATURES)]


def long_tailed(n: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frequency = rng.geometric(0.3, n).astype(np.float64)
    return pd.DataFrame(
        {
            "recency_days": np.floor(rng.exponential(120, n)),
            "frequency": frequency,
            "monetary": np.round(frequency * rng.lognormal(3.5, 0.8, n), 2),
        }
    )


def shops(large: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    blobs, _ = make_blobs(50_000, n_features=3, centers=5, cluster_std=1.0, random_state=0)
    return {
        "sample shop (make demo), 3,000": sample_shop(3_000, seed=7, orders_per_customer=5.0),
        "sample shop, 20,000": sample_shop(20_000, seed=7, orders_per_customer=5.0),
        f"benchmark shop's shape, {large:,}": sample_shop(large, seed=1, orders_per_customer=10.0),
        f"long-tailed, independent features, {large:,}": long_tailed(large, seed=0),
        "5 separated blobs (make_blobs), 50,000": pd.DataFrame(blobs),
        "no structure: Gaussian noise, 50,000": pd.DataFrame(rng.normal(size=(50_000, 3))),
        "no structure: uniform noise, 50,000": pd.DataFrame(rng.uniform(size=(50_000, 3))),
    }


def timed(function):
    """The result, and the CPU seconds it took (the fits run on one thread: on a shared machine
    CPU time measures the work, wall time mostly the neighbours)."""
    start = time.process_time()
    result = function()
    return result, time.process_time() - start


def table(large: int, seeds: int) -> None:
    header = (
        "| shop | old rule K | new rule K (seeds 0..{last}) | knee | best silhouette | most stable | "
        "tighter than shuffled | flags | CPU old | CPU new |"
    ).format(last=seeds - 1)
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for name, frame in shops(large).items():
        X = clustering.preprocess(frame).X
        old, old_time = timed(lambda: old_choose_k(X))
        choices, new_times = [], []
        for seed in range(seeds):
            choice, seconds = timed(lambda: clustering.choose_k(X, seed=seed))
            choices.append(choice)
            new_times.append(seconds)
        first = choices[0]
        ks = ", ".join(str(c.k) for c in choices)
        structure = "-" if first.structure is None else f"{first.structure:.0%}"
        flags = ", ".join(f["code"] for f in first.flags) or "none"
        print(
            f"| {name} | {old['k']} (knee {old['knee']}) | {ks} | {first.knee} | {first.best_silhouette} | "
            f"{first.most_stable} | {structure} | {flags} | {old_time:.1f} s | {statistics.median(new_times):.1f} s |",
            flush=True,
        )
        print(f"  reason (seed 0): {first.reason}", file=sys.stderr)


def timing(customers: int, seed: int) -> None:
    print(f"\nK choice on the benchmark shop's shape, {customers:,} customers x 3 features, seed {seed}", flush=True)
    X = clustering.preprocess(sample_shop(customers, seed=1, orders_per_customer=10.0)).X
    times: dict[str, dict[str, list[float]]] = {"old": {"wall": [], "cpu": []}, "new": {"wall": [], "cpu": []}}
    chosen = {}
    rules = {"old": lambda: old_choose_k(X, seed=seed)["k"], "new": lambda: clustering.choose_k(X, seed=seed).k}
    for _ in range(3):
        for rule, choose in rules.items():
            wall = time.perf_counter()
            chosen[rule], cpu = timed(choose)
            times[rule]["wall"].append(time.perf_counter() - wall)
            times[rule]["cpu"].append(cpu)
    for rule, label in (("old", "old rule (K=2..12)"), ("new", "new rule (K=3..10, stability)")):
        wall, cpu = times[rule]["wall"], times[rule]["cpu"]
        print(
            f"  {label:<30} wall {' '.join(f'{t:.2f}' for t in wall)} s (median {statistics.median(wall):.2f}), "
            f"CPU {' '.join(f'{t:.2f}' for t in cpu)} s (median {statistics.median(cpu):.2f}) -> K={chosen[rule]}"
        )
    for kind in ("wall", "cpu"):
        ratio = statistics.median(times["new"][kind]) / statistics.median(times["old"][kind])
        print(f"  new / old, {kind}: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--large", type=int, default=200_000, help="customers in the benchmark-shaped shop")
    parser.add_argument("--timing", type=int, default=0, help="also time both rules on this many customers")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}\n")
    table(args.large, args.seeds)
    if args.timing:
        timing(args.timing, seed=42)


if __name__ == "__main__":
    main()
