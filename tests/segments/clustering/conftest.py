"""Data for the clustering tests: separated blobs and a small shop in original units."""

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs

# Far-apart centres: make_blobs' random centres sometimes overlap, and then "the right K" is moot.
CENTRES = np.array(
    [[0, 0, 0, 0], [12, 0, 0, 0], [0, 12, 0, 0], [0, 0, 12, 0], [0, 0, 0, 12], [12, 12, 12, 12]], dtype=float
)


def blobs(n=2_000, centres=4, seed=0, std=1.0):
    X, y = make_blobs(n_samples=n, centers=CENTRES[:centres], cluster_std=std, random_state=seed)
    return X, y


def shop(seed=0):
    """Four kinds of customer in original units, with the group each one was drawn from."""
    rng = np.random.default_rng(seed)
    groups = {
        # name: (customers, recency days, orders, spend per order)
        "champions": (150, (2, 20), (15, 25), (80, 120)),
        "new": (250, (1, 15), (1, 2), (20, 40)),
        "at_risk": (200, (150, 250), (6, 12), (60, 90)),
        "lost": (400, (300, 400), (1, 2), (15, 30)),
    }
    frames = []
    for name, (n, recency, orders, spend) in groups.items():
        frequency = rng.integers(orders[0], orders[1] + 1, n)
        frames.append(
            pd.DataFrame(
                {
                    "recency_days": rng.integers(recency[0], recency[1], n).astype(float),
                    "frequency": frequency,
                    "monetary": np.round(frequency * rng.uniform(spend[0], spend[1], n), 2),
                    "group": name,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return frame.drop(columns="group"), frame["group"].to_numpy()
