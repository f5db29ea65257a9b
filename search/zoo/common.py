"""Hyperparameter declarations shared by several variants."""

from __future__ import annotations

from .hparams import Float, HParam, Int
from .training_recipe import recipe_params


def optimizer_params(default: str = "adam") -> dict[str, HParam]:
    """Every variant can be trained with any optimizer and recipe; the default optimizer is the seed's."""
    return recipe_params(default)


def num_classes_param() -> dict[str, HParam]:
    """Seed 004 trained on 5 of the 10 classes; the data keeps labels < num_classes."""
    return {"num_classes": Int(2, 1000, None, "output classes (labels 0..n-1 are kept); none = every class of "
                                              "the data", optional=True)}


def dropout_param(default: float, doc: str = "dropout rate") -> Float:
    """A dropout rate: dropout layers have no weights, whatever their rate (or whether it is 0)."""
    return Float(0.0, 1.0, default, doc, changes_params=False)
