"""The model zoo: the seeds' CNNs by name, the parametric ``cnn`` builder, and your own builders."""

from .hparams import ACTIVATIONS, OPTIMIZERS, Bool, Choice, Float, HParam, HParamSpace, Int
from .layers import total_params, trainable_params
from .registry import (
    FASHION_SHAPE,
    DataShape,
    ParamCount,
    Variant,
    build_model,
    count_params,
    get_variant,
    list_variants,
    param_count,
    variant_name,
)
from .training_recipe import SCHEDULES, recipe_record

__all__ = [
    "ACTIVATIONS", "FASHION_SHAPE", "OPTIMIZERS", "SCHEDULES", "Bool", "Choice", "DataShape", "Float", "HParam",
    "HParamSpace", "Int", "ParamCount", "Variant", "build_model", "count_params", "get_variant", "list_variants",
    "param_count", "recipe_record", "total_params", "trainable_params", "variant_name",
]
