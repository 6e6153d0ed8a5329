"""Embedding geometry on plain arrays and its figures: collapse diagnostics (paired and
random-pair cosine, effective rank, spectra, linear maps between views), 2-D projections, and
the plotly figures with their shared colours and labels (``plot_style.VIEW_COLORS``). Nothing
here needs a model, so training can call it at every epoch end.
"""

from jepa_lab import lazy_exports

# public name -> the module of this package that defines it; imported on first use, so that
# importing one light module of the package does not pull in torch or plotly
_EXPORTS = {
    "Embeddings": "views",
    "project": "diagnostics",
    "project_models": "diagnostics",
    "svd_spectrum": "diagnostics",
    "LinearMap": "diagnostics",
    "linear_map_fit": "diagnostics",
    "linear_map_error": "diagnostics",
    "paired_cosine": "diagnostics",
    "derangement": "diagnostics",
    "random_pair_cosine": "diagnostics",
    "retrieval_accuracy": "diagnostics",
    "effective_rank": "diagnostics",
    "mean_pairwise_cosine": "diagnostics",
    "CollapseReport": "diagnostics",
    "collapse_report": "diagnostics",
    "train_test_split_indices": "diagnostics",
    "geometry_summary": "diagnostics",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
