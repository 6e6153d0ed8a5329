"""The LLM-JEPA objective on a Hugging Face decoder: ``JepaConfig``, the chat template split
around Text and Code, the ``Packer`` (pairs -> packed rows, labels and anchors) with its
block-causal mask, the distances and the objective written once from sums and counts, and
``JepaModel``, one packed forward pass beside a readable separate-pass reference. It imports
only from ``data`` and ``scoring``'s neighbours on the ground floor, never from training.
"""

from jepa_lab import lazy_exports

# public name -> the module of this package that defines it; imported on first use, so that
# importing one light module of the package does not pull in torch or plotly
_EXPORTS = {
    "ChatTemplateError": "chat",
    "ChatPieces": "chat",
    "special_token_ids": "chat",
    "chat_pieces": "chat",
    "InputError": "checks",
    "ConfigError": "checks",
    "check_jepa_config": "checks",
    "custom_code_declared": "checks",
    "CONFIG_NAME": "config",
    "MAX_PREDICTOR_TOKENS": "config",
    "JepaConfig": "config",
    "jepa_distance": "losses",
    "variance_covariance_penalty": "losses",
    "total_loss": "losses",
    "Objective": "losses",
    "objective": "losses",
    "require_jepa_lam": "losses",
    "jepa_dropped": "losses",
    "UnsupportedAttentionError": "masks",
    "Segment": "masks",
    "PackedRows": "masks",
    "pack_rows": "masks",
    "block_mask_reference": "masks",
    "block_mask": "masks",
    "check_attention_implementation": "masks",
    "to_attention_mask": "masks",
    "JepaOutput": "model",
    "JepaModel": "model",
    "add_predictor_tokens": "packing",
    "Packer": "packing",
    "TokenizedPair": "packing",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
