"""The numerical core of segmentation: preprocess, choose K, fit, evaluate, profile, name, match.

NumPy, pandas, SciPy, scikit-learn, kneed and threadpoolctl only; nothing here imports Django, so
every function is tested with plain arrays and benchmarked alone (bench/clustering_algorithms.py).

Figures this package is built for: 1,000,000 customers x 3..10 features on 2 cores, with choose_k
in about 2-3 s (stability included) and fit + evaluate + profile in about 3 s (k-means). Nothing builds an n x n matrix:
the O(n^2) steps (silhouette, Ward, HDBSCAN) run on bounded samples drawn so that the same
customers and seed give the same segments whatever order the database returns them in.

The names below are what other modules may use (`from segments import clustering;
clustering.fit(...)`). Each is loaded from its module on first use: segments.models reads the
algorithm table when Django starts, and importing scikit-learn there would cost every web
process about 2 s and its memory for a button pressed now and then. No module of the package
is named like one of these names, so a loaded module never hides the function of that name.
"""

from importlib import import_module

_MODULE_OF = {
    "ClusteringError": "errors",
    "ALGORITHMS": "algorithms",
    "AlgorithmSpec": "algorithms",
    "Preprocessed": "preprocessing",
    "preprocess": "preprocessing",
    "transform": "preprocessing",
    "KChoice": "k_choice",
    "choose_k": "k_choice",
    "ClusterResult": "fitting",
    "fit": "fitting",
    "assign": "matrix",
    "evaluate": "evaluation",
    "RFM_SEGMENTS": "rfm",
    "rfm_segments": "rfm",
    "profile": "profiles",
    "name_segments": "naming",
    "match_segments": "identity",
    "NO_PREVIOUS_SEGMENT": "identity",
    "transitions": "identity",
    "projection": "scatter",
    "fit_to_apply": "quality",
    "blocking_flags": "quality",
    "size_flags": "quality",
    "resized_flags": "quality",
    "missing_flags": "quality",
    "constant_flags": "quality",
    "profile_drift": "drift",
    "drift_message": "drift",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
