"""The model zoo: the seeds' CNNs by name, plus the parametric ``cnn`` builder."""

from .hparams import ACTIVATIONS, OPTIMIZERS, Bool, Choice, Float, HParam, HParamSpace, Int
from .layers import trainable_params
from .registry import Variant, build_model, count_params, get_variant, list_variants

__all__ = [
    "ACTIVATIONS", "OPTIMIZERS", "Bool", "Choice", "Float", "HParam", "HParamSpace", "Int",
    "Variant", "build_model", "count_params", "get_variant", "list_variants", "trainable_params",
]
