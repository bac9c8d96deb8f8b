"""How many segments: k-means for each K on a sample, and the K a marketer can act on.

Three figures per K, all on one sample of the customers:
- inertia, the elbow curve: how far customers sit from their segment's centre. It always falls
  as K grows; its knee (kneed) is where more segments stop making each one much tighter. The
  curve runs from 2 to 12 segments (ELBOW) whatever range is tried.
- silhouette: how well separated the segments are, from -1 to 1.
- stability: k-means refitted on `resamples` random subsamples of the sample; the K segments are
  the best of the sample's fit and the refits (least inertia on the sample), and stability is
  the mean adjusted Rand index between them and each other fit over the silhouette rows (1: the
  same segments every time, 0: no more alike than chance). Segments that change with the sample
  of customers are not ones to build campaigns on.

The rule. A K is usable when its segments are stable (at least STABLE), separated (silhouette
at least SEPARATED of the best one) and sized for campaigns (no segment above LARGEST_SHARE or
below SMALLEST_SHARE of the sample). Of the usable K, the one nearest the knee is taken (equally
near: the better separated); without a knee, the best separated. Silhouette alone favours two
or three groups on long-tailed shop data ("good customers and the rest"), which the knee and
stability overrule as long as the extra segments hold up.

Two fallbacks do not pretend: when no K is usable, and when the customers show no structure,
the fewest segments offered (k_min) are taken and a flag says why. "No structure" is measured
against the same sample with each feature shuffled on its own between customers: that keeps
every feature's values and removes any tendency of features to go together, which is what
segments describe. When the chosen K's segments are not at least STRUCTURE tighter (inertia)
than the shuffled data's, they slice one crowd. With one feature there is nothing to shuffle
against and the test is skipped.

bench/k_choice.py measures the rule on differently shaped shops (the README has the table).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from kneed import KneeLocator
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from .errors import ClusteringError
from .evaluation import silhouette
from .matrix import assign, check_matrix, row_distances, within_ss
from .quality import LARGEST_SHARE, SMALLEST_SHARE, flag
from .sampling import sample_positions

# Mean adjusted Rand index between refits on other subsamples for a K to count as stable.
STABLE = 0.80
# Share of the best silhouette a K must reach to count as separated.
SEPARATED = 0.80
# The elbow curve runs over at least these K, whatever range is tried: kneed finds the bend
# relative to the curve's ends, so a curve cut at the tried range would move it (on [3, 10] it
# can never be 3, an end), and the knee is the same whichever K a shop owner lets the run try.
ELBOW = (2, 12)
# How much tighter than the shuffled customers the segments must be: 10% less inertia per customer.
STRUCTURE = 0.10


@dataclass
class KChoice:
    k: int
    candidates: list[dict]  # per K: k, inertia, silhouette, stability, largest_share, smallest_share; K of
    # the elbow curve outside [k_min, k_max] carry k and inertia only
    knee: int | None
    best_silhouette: int
    most_stable: int | None
    reason: str
    flags: list[dict] = field(default_factory=list)  # {code, message}: see quality.py
    structure: float | None = None  # how much tighter than shuffled customers (0.25: 25%); None: not measured
    params: dict = field(default_factory=dict)


def choose_k(
    X: np.ndarray,
    *,
    k_min: int = 3,
    k_max: int = 10,
    seed: int = 0,
    sample_size: int = 50_000,
    silhouette_sample: int = 5_000,
    n_init: int = 2,
    resamples: int = 4,
    resample_size: int = 10_000,
    threads: int | None = 1,
) -> KChoice:
    """Measure inertia, silhouette and stability for every K in [k_min, k_max] and pick K (see the module).

    Inertia is measured on the fitting sample (sample_size rows), silhouette and stability on its
    first silhouette_sample rows (silhouette is O(n^2)). Each of the `resamples` refits per K
    (n_init restarts each) sees resample_size rows of the sample, or half of a smaller sample.
    k_max is clamped to n - 1 and to the number of distinct rows. threads: see fit().
    """
    X = check_matrix(X)
    n = len(X)
    if k_min < 2:
        raise ClusteringError(f"k_min must be at least 2, not {k_min}")
    if resamples < 1:
        raise ClusteringError(f"stability needs at least 1 resample, not {resamples}")
    if n < k_min + 1:
        raise ClusteringError(
            f"too few customers to choose K: {n} customer(s), and trying K={k_min} needs at least {k_min + 1}"
        )
    sample = X[sample_positions(X, sample_size, seed)]
    distinct = len(np.unique(sample, axis=0))
    k_max = min(k_max, n - 1, distinct)
    if k_max < k_min:
        raise ClusteringError(
            f"too few distinct customers to choose K: only {distinct} different feature rows, need more than {k_min}"
        )
    rows = sample[:silhouette_sample]
    # One distance matrix for all K (float32: 100 MB for the default 5,000 rows) instead of one per K.
    distances = (
        row_distances(rows, 0, len(rows), np.einsum("ij,ij->i", rows, rows), np.float32) if len(rows) <= 8_192 else None
    )
    # The same subsamples for every K, so the stability curve compares K with K, not draw with draw.
    size = min(len(sample), max(len(sample) // 2, k_max + 1), resample_size)
    rng = np.random.default_rng(seed)
    subsamples = [rng.choice(len(sample), size=size, replace=False) for _ in range(resamples)]

    curve = []  # every K of the elbow curve; those from k_min to k_max carry all the figures
    with threadpool_limits(limits=threads):
        for k in range(min(ELBOW[0], k_min), min(max(ELBOW[1], k_max), n - 1, distinct) + 1):
            tried = k_min <= k <= k_max
            labels, inertia, agreement = _segments(
                sample, subsamples if tried else [], k=k, rows=len(rows), seed=seed, n_init=n_init
            )
            point = {"k": k, "inertia": inertia}
            if tried:
                score = silhouette(rows, labels[: len(rows)], distances=distances)
                shares = np.bincount(labels, minlength=k) / len(sample)
                point.update(
                    silhouette=None if score is None else round(score, 4),
                    stability=round(agreement, 4),
                    largest_share=round(float(shares.max()), 4),
                    smallest_share=round(float(shares.min()), 4),
                )
            curve.append(point)
        candidates = [point for point in curve if "stability" in point]
        if all(c["silhouette"] is None for c in candidates):
            raise ClusteringError("no K gives a usable silhouette: the customers do not form separate groups")
        knee = _knee([point["k"] for point in curve], [point["inertia"] for point in curve])
        decision = _Decision(candidates, knee)
        k, reason = decision.pick()
        structure = None
        if X.shape[1] > 1:
            inertia = next(c["inertia"] for c in candidates if c["k"] == k)
            structure = _structure(sample, inertia, k=k, size=size, seed=seed, n_init=n_init)
        flags = []
        if structure is not None and structure < STRUCTURE:
            k, reason = k_min, decision.no_structure(structure)
            flags.append(flag("no_structure", decision.no_structure_warning(structure)))
        problems = decision.problems(decision.by_k[k])
        if problems:
            flags.append(flag("unreliable_segments", decision.unreliable_warning(k, problems)))

    params = {
        "k_min": k_min,
        "k_max": k_max,
        "seed": seed,
        "n_init": n_init,
        "sample_size": len(sample),
        "silhouette_sample": len(rows),
        "resamples": resamples,
        "resample_size": size,
        "threads": threads,
        "stable": STABLE,
        "separated": SEPARATED,
        "structure": STRUCTURE,
    }
    return KChoice(
        k=k,
        candidates=curve,
        knee=knee,
        best_silhouette=decision.best["k"],
        most_stable=max(candidates, key=lambda c: (c["stability"], -c["k"]))["k"],
        reason=reason,
        flags=flags,
        structure=None if structure is None else round(structure, 4),
        params=params,
    )


def _segments(
    sample: np.ndarray, subsamples: list[np.ndarray], *, k: int, rows: int, seed: int, n_init: int
) -> tuple[np.ndarray, float, float | None]:
    """K segments of the sample: the best of its own fit and the refits on each subsample, and how
    much the others agree with it.

    Returns the sample's labels and inertia under the fit with the least inertia on the whole
    sample, and the mean adjusted Rand index between its labels of the first `rows` rows and each
    other fit's (None without subsamples). A refit labels the sample by its nearest centroid. The
    refits double as restarts: a sample fit caught in a poor local optimum does not make a K look
    unstable, nor bend the elbow curve.
    """
    fitted = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(sample)
    labellings, inertias = [fitted.labels_], [float(fitted.inertia_)]
    with warnings.catch_warnings():
        # A subsample of few distinct rows can hold fewer than k: the refit then finds fewer
        # segments, which lowers the agreement as it should.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for b, positions in enumerate(subsamples):
            centres = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed + 1 + b).fit(
                sample[positions]
            ).cluster_centers_
            labels = assign(sample, centres)
            labellings.append(labels)
            inertias.append(within_ss(sample, labels, centres))
    best = int(np.argmin(inertias))
    others = [labels[:rows] for i, labels in enumerate(labellings) if i != best]
    agreement = float(np.mean([adjusted_rand_score(labellings[best][:rows], o) for o in others])) if others else None
    return labellings[best], inertias[best], agreement


def _structure(sample, inertia: float, *, k: int, size: int, seed: int, n_init: int) -> float:
    """How much tighter the sample's K segments are than those of the same rows, features shuffled.

    Inertia per customer of the sample's fit against a fit on `size` rows whose every column
    was permuted on its own: 0.0 means no tighter, 0.5 means the shuffled segments have 50% more
    inertia per customer.
    """
    rng = np.random.default_rng(seed + 1_000)
    head = sample[:size]
    shuffled = np.column_stack([rng.permutation(head[:, j]) for j in range(head.shape[1])])
    null = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed).fit(shuffled)
    ours = inertia / len(sample)
    return float("inf") if ours == 0 else float(null.inertia_ / len(shuffled) / ours - 1.0)


def pick_k(candidates: list[dict], knee: int | None) -> tuple[int, str]:
    """The rule of the module over measured candidates, and the reason in plain words.

    candidates: one per K tried, in order of K, with k, silhouette, stability, largest_share and
    smallest_share (as choose_k measures them). The structure test is choose_k's: it needs the data.
    """
    return _Decision(candidates, knee).pick()


class _Decision:
    """The rule of the module over the measured candidates, and its reasons in plain words."""

    def __init__(self, candidates: list[dict], knee: int | None):
        self.candidates = candidates
        self.by_k = {c["k"]: c for c in candidates}
        self.knee = knee
        scored = [c for c in candidates if c["silhouette"] is not None]
        self.best = max(scored, key=lambda c: (c["silhouette"], -c["k"]))
        best = self.best["silhouette"]
        self.floor = SEPARATED * best if best > 0 else best
        self.k_min, self.k_max = candidates[0]["k"], candidates[-1]["k"]

    def problems(self, c: dict) -> list[str]:
        """Why K's segments are not ones to act on, in words; empty when they are."""
        found = []
        if c["stability"] < STABLE:
            found.append(
                f"refitting them on another sample of customers changes them (agreement {c['stability']:.2f} "
                f"of 1, below {STABLE:.2f})"
            )
        if c["silhouette"] is None or c["silhouette"] < self.floor:
            shown = "none" if c["silhouette"] is None else f"{c['silhouette']:.2f}"
            found.append(
                f"they are much less separated than the best choice (silhouette {shown} against "
                f"{self.best['silhouette']:.2f} with {self.best['k']} segments)"
            )
        if c["largest_share"] > LARGEST_SHARE:
            found.append(f"one of them would hold {c['largest_share']:.0%} of the customers")
        if c["smallest_share"] < SMALLEST_SHARE:
            found.append(f"one of them would hold under {SMALLEST_SHARE:.0%} of the customers")
        return found

    def pick(self) -> tuple[int, str]:
        usable = [c for c in self.candidates if not self.problems(c)]
        if not usable:
            return self.k_min, (
                f"{self.k_min} segments, the fewest tried: no number of segments from {self.k_min} to {self.k_max} "
                "gave segments that stay the same on another sample of customers, are well separated and "
                "are neither nearly everyone nor a handful of customers."
            )
        if self.knee is None:
            chosen = max(usable, key=lambda c: (c["silhouette"], -c["k"]))
            return chosen["k"], (
                f"{chosen['k']} segments: the elbow curve has no clear bend, so of the numbers whose segments hold "
                f"up the best separated one was taken. {self._qualities(chosen)}"
            )
        chosen = min(usable, key=lambda c: (abs(c["k"] - self.knee), -c["silhouette"], c["k"]))
        k = chosen["k"]
        if k == self.knee:
            head = (
                f"{k} segments: this is where the elbow curve bends, so more segments would not make "
                "each one much more alike inside."
            )
        elif self.knee in self.by_k:
            why = "; ".join(self.problems(self.by_k[self.knee]))
            head = (
                f"{k} segments: the elbow curve bends at {self.knee}, but with {self.knee} segments {why}. "
                f"{k} is the nearest number whose segments hold up."
            )
        else:
            head = (
                f"{k} segments: the elbow curve bends at {self.knee}, outside the numbers tried ({self.k_min} to "
                f"{self.k_max}); {k} is the nearest number tried whose segments hold up."
            )
        return k, f"{head} {self._qualities(chosen)}"

    def _qualities(self, c: dict) -> str:
        if c["k"] == self.best["k"]:
            separated = f"no other number separates them better (silhouette {c['silhouette']:.2f})"
        else:
            separated = (
                f"they are nearly as well separated as the best choice (silhouette {c['silhouette']:.2f} against "
                f"{self.best['silhouette']:.2f} with {self.best['k']} segments)"
            )
        return (
            f"Refitting on other samples of your customers gives the same segments (agreement "
            f"{c['stability']:.2f} of 1), and {separated}."
        )

    def no_structure(self, structure: float) -> str:
        return (
            f"{self.k_min} segments, the fewest tried: your customers do not fall into distinct groups. "
            f"{self._tighter(structure)}, so more segments would only cut one crowd into more slices."
        )

    def no_structure_warning(self, structure: float) -> str:
        return (
            f"Your customers do not fall into distinct groups. {self._tighter(structure)}. The "
            f"{self.k_min} segments are bands of one crowd, not different kinds of customer."
        )

    def unreliable_warning(self, k: int, problems: list[str]) -> str:
        return (
            f"These {k} segments are not reliable: {'; '.join(problems)}. "
            "Check them before building campaigns on them."
        )

    @staticmethod
    def _tighter(structure: float) -> str:
        return (
            "Segments of your figures are hardly tighter than segments of the same figures shuffled at random "
            f"between customers ({max(structure, 0.0):.0%} tighter; distinct groups make them at least "
            f"{STRUCTURE:.0%} tighter)"
        )


def _knee(ks: list[int], inertias: list[float]) -> int | None:
    if len(ks) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kneed warns "No knee/elbow found"; None says the same
        knee = KneeLocator(ks, inertias, curve="convex", direction="decreasing").knee
    return None if knee is None else int(knee)
