"""The data settings, declared once: a space's ``[data]``, best.json's ``data``, ``cnn-search train``'s flags.

:class:`DataSettings` is what a person writes; :class:`DataOptions` adds the
two values a run supplies itself (the split seed and how many classes the
model outputs) and the rules that need them. Both validate with pydantic on
construction; built directly, a bad value is a one-line
:class:`~search.settings.SettingError` naming the field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from search.data.normalization import NORMALIZATIONS
from search.settings import FieldError, Settings, StrictInt

CLASS_NAMES = (  # fmt: skip
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Fewest training images per class a ``subset`` may leave (so a stratified
#: validation split still has every class in it).
MIN_PER_CLASS = 10


class DataSettings(Settings):
    """Which images and how they are scaled."""

    subset: StrictInt | None = None  # at least MIN_PER_CLASS per class: checked by DataOptions
    normalize: Literal[NORMALIZATIONS] = "scale"  # type: ignore[valid-type]
    val_fraction: Annotated[float, Field(strict=True, gt=0, lt=1)] = 0.2
    test_subset: StrictInt | None = None  # stratified, at least one per class; for fast runs only

    def options(self, *, seed: int = 0, num_classes: int = len(CLASS_NAMES)) -> DataOptions:
        """These settings for a run with split ``seed`` on the first ``num_classes`` classes."""
        return DataOptions(**dict(self), seed=seed, num_classes=num_classes)


class DataOptions(DataSettings):
    """How to build a :class:`~search.data.Dataset`: the settings plus the run's split seed and classes."""

    seed: Annotated[StrictInt, Field(ge=0, lt=2**32)] = 0
    num_classes: Annotated[StrictInt, Field(ge=2, le=len(CLASS_NAMES))] = len(CLASS_NAMES)

    @model_validator(mode="after")
    def _every_class_kept(self) -> DataOptions:
        minimum = MIN_PER_CLASS * self.num_classes
        if self.subset is not None and self.subset < minimum:
            raise FieldError(("subset",), f"must be an integer >= {minimum} ({MIN_PER_CLASS} per class for "
                                          f"num_classes={self.num_classes}) or None for all, got {self.subset!r}")
        if self.test_subset is not None and self.test_subset < self.num_classes:
            raise FieldError(("test_subset",), f"must be an integer >= {self.num_classes} (one per class) "
                                               f"or None for all, got {self.test_subset!r}")
        return self
