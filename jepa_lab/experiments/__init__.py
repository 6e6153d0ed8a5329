"""Experiments built on training: ``compare()`` (both arms over seeds with the
paired t-test), the background runner the widgets use, the HTML report, scoring a trained model
on real GSM8K, and the recorded study's tables and figures (with Holm-adjusted p) that notebook
06 reads.
"""

from jepa_lab import lazy_exports

# public name -> the module of this package that defines it; imported on first use, so that
# importing one light module of the package does not pull in torch or plotly
_EXPORTS = {
    "accuracy_gains": "confirmation",
    "loss_rise_gains": "confirmation",
    "one_sample": "confirmation",
    "confirm_point": "confirmation",
    "confirmations": "confirmation",
    "confirmation_table": "confirmation",
    "ArmStats": "experiment",
    "Comparison": "experiment",
    "paired_comparison": "experiment",
    "format_p": "experiment",
    "estimate_seconds": "experiment",
    "minutes_text": "experiment",
    "one_thread_if_busy": "experiment",
    "RunProgress": "experiment",
    "check_comparison_dir": "experiment",
    "compare": "experiment",
    "RealSliceResult": "gsm8k_real",
    "real_test_slice": "gsm8k_real",
    "answer": "gsm8k_real",
    "evaluate_real_gsm8k": "gsm8k_real",
    "data_description": "report",
    "collapse_thresholds": "report",
    "collapse_sentence": "report",
    "verdict_sentence": "report",
    "result_lines": "report",
    "report_figures": "report",
    "report_config": "report",
    "write_report": "report",
    "explorer_config": "runner",
    "Hyperparameters": "runner",
    "HyperparameterRun": "runner",
    "load_study": "study",
    "entries": "study",
    "history_records": "study",
    "epoch_curves_figure": "study",
    "paired_differences": "study",
    "gain_vs_params_figure": "study",
    "collapse_vs_params_figure": "study",
    "grid_heatmap_figure": "study",
    "gain_scale": "study",
    "holm_adjusted": "study",
    "holm_by_point": "study",
    "markdown_table": "study",
    "cost_table": "study",
    "significant_points": "study",
    "accuracies": "study",
    "held_out_losses": "study",
    "loss_overfitting": "study",
    "summarize_point": "study",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
