"""Names of features and run settings in a marketer's words: "Days since last order", not recency_days.

Pure (no Django), so plots.py labels its axes with the same words as the pages. A name this
module does not know (an imported attribute such as "money_spent") reads as a sentence:
"Money spent".
"""

from __future__ import annotations

FEATURE_LABELS = {
    "recency_days": "Days since last order",
    "frequency": "Orders",
    "monetary": "Total spend ({currency})",
    "r_score": "Recency score (5: bought most recently)",
    "f_score": "Frequency score (5: most orders)",
    "m_score": "Spend score (5: spends most)",
    "rfm_code": "RFM code",
    "tenure_days": "Days since first order",
    "avg_order_value": "Average order ({currency})",
    "products_purchased": "Items bought",
    "return_rate": "Share of orders returned",
    "returns": "Returns",
}

SETTING_LABELS = {
    "algorithm": "Method",
    "k_requested": "Segments asked for",
    "k": "Segments found",
    "k_min": "Fewest segments tried",
    "k_max": "Most segments tried",
    "features": "Customer figures used",
    "as_of": "Figures as of",
    "incremental": "Only customers who changed",
    "base_run": "Model taken from run",
    "triggered_by": "Started by",
    "seed": "Random seed",
    "n_init": "Fits per K (best kept)",
    "scaler": "Scaling",
    "k_sample": "Customers sampled to choose the number of segments",
    "fit_sample": "Customers sampled to fit the model",
    "plot_sample": "Customers drawn on the maps",
    "log_transform": "Long tails compressed (log)",
    "sample_size": "Customers sampled for the quality scores",
    "silhouette_sample": "Customers sampled for the silhouette",
    "stability_sample": "Customers sampled for stability",
    "stability_runs": "Refits measuring stability",
    "batch_size": "Batch size",
    "covariance_type": "Covariance type",
    "linkage": "Linkage",
    "min_cluster_size": "Smallest segment allowed",
    "min_samples": "Neighbours a core customer needs",
    "stats_refreshed": "Customers whose order figures were refreshed",
    "moved": "Customers who changed segment",
    "n_customers": "Customers",
    "created_at": "Created",
    "started_at": "Started",
    "finished_at": "Finished",
}


def humanize(name: str) -> str:
    """"money_spent" -> "Money spent": the words of a snake_case or slug name, as a sentence."""
    words = name.replace("_", " ").replace("-", " ").split()
    if not words:
        return name
    text = " ".join(words)
    return text[0].upper() + text[1:]


def feature_label(name: str, *, currency: str = "£") -> str:
    label = FEATURE_LABELS.get(name)
    return label.format(currency=currency) if label else humanize(name)


def setting_label(name: str) -> str:
    return SETTING_LABELS.get(name) or humanize(name)
