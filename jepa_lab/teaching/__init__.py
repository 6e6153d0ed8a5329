"""Teaching: the explorers' logic as plain functions (the mask view needs no model),
the ipywidgets wiring that only calls them, and the exercises' generation and grading with
otter-grader.
"""

from jepa_lab import lazy_exports

# public name -> the module of this package that defines it; imported on first use, so that
# importing one light module of the package does not pull in torch or plotly
_EXPORTS = {
    "CURVE_METRICS": "explore",
    "GeometryView": "explore",
    "HyperparameterRun": "explore",
    "Hyperparameters": "explore",
    "MaskView": "explore",
    "curves_view": "explore",
    "default_tokenizer": "explore",
    "embeddings_of": "explore",
    "explorer_config": "explore",
    "figure_bundle": "explore",
    "fit_to_width": "explore",
    "geometry_view": "explore",
    "mask_view": "explore",
    "padded_example": "explore",
    "Assignment": "grading",
    "Grade": "grading",
    "assign": "grading",
    "question_points": "grading",
    "grade": "grading",
    "write_csv": "grading",
    "main": "grading",
    "FigurePane": "widgets",
    "MaskExplorer": "widgets",
    "mask_explorer": "widgets",
    "HyperparameterExplorer": "widgets",
    "hyperparameter_explorer": "widgets",
    "GeometryExplorer": "widgets",
    "geometry_explorer": "widgets",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
