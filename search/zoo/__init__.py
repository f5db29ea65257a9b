"""The model zoo: the seeds' CNNs by name, plus the parametric ``cnn`` builder."""

from .hparams import ACTIVATIONS, OPTIMIZERS, Bool, Choice, Float, HParam, HParamSpace, Int
from .layers import total_params, trainable_params
from .registry import ParamCount, Variant, build_model, count_params, get_variant, list_variants, param_count
from .training_recipe import SCHEDULES, recipe_record

__all__ = [
    "ACTIVATIONS", "OPTIMIZERS", "Bool", "Choice", "Float", "HParam", "HParamSpace", "Int",
    "SCHEDULES", "ParamCount", "Variant", "build_model", "count_params", "get_variant", "list_variants",
    "param_count", "recipe_record", "total_params", "trainable_params",
]
