"""Hyperparameter declarations shared by several variants."""

from __future__ import annotations

from .hparams import OPTIMIZERS, Choice, Float, HParam, Int


def optimizer_params(default: str = "adam") -> dict[str, HParam]:
    """Every variant can be trained with any optimizer; the default is the seed's."""
    return {
        "optimizer": Choice(OPTIMIZERS, default, "training optimizer"),
        "learning_rate": Float(1e-6, 10.0, None, "learning rate; none = optimizer default",
                               optional=True, log=True),
    }


def num_classes_param() -> dict[str, HParam]:
    """Seed 004 trained on 5 of the 10 classes; the data keeps labels < num_classes."""
    return {"num_classes": Int(2, 10, 10, "output classes (labels 0..n-1 are kept)")}


def dropout_param(default: float, doc: str = "dropout rate") -> Float:
    return Float(0.0, 1.0, default, doc)
