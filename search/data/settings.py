"""The data settings, declared once: a space's ``[data]``, best.json's ``data``, ``cnn-search train``'s flags.

:class:`DataSettings` is what a person writes; :class:`DataOptions` adds the
two values a run supplies itself (the split seed and how many classes the
model outputs) and the rules that need them. Both validate with pydantic on
construction; built directly, a bad value is a one-line
:class:`~search.settings.SettingError` naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from search.data.normalization import NORMALIZATIONS
from search.settings import FieldError, PositiveInt, Settings, StrictInt

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

#: Where images come from: Fashion-MNIST (the default), the other standard sets Keras downloads,
#: a ``keras.datasets``-layout ``.npz`` file, or a folder of images with one subfolder per class.
SOURCES = ("fashion-mnist", "mnist", "cifar10", "cifar100", "npz", "folder")
#: The sources read from a path the user names.
PATH_SOURCES = ("npz", "folder")
COLOR_MODES = ("grayscale", "rgb")
#: One image's shape and the class count of each standard dataset, known without reading it.
STANDARD_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "fashion-mnist": ((28, 28, 1), 10), "mnist": ((28, 28, 1), 10), "cifar10": ((32, 32, 3), 10),
    "cifar100": ((32, 32, 3), 100),
}


class DataSettings(Settings):
    """Which images and how they are scaled."""

    source: Literal[SOURCES] = "fashion-mnist"  # type: ignore[valid-type]
    path: str | None = None  # the npz file or the image folder
    image_size: tuple[PositiveInt, PositiveInt] | None = None  # [height, width] every folder image is resized to
    color_mode: Literal[COLOR_MODES] | None = None  # type: ignore[valid-type]  # folder; none: grayscale if all are
    subset: StrictInt | None = None  # at least MIN_PER_CLASS per class: checked by DataOptions
    normalize: Literal[NORMALIZATIONS] = "scale"  # type: ignore[valid-type]
    val_fraction: Annotated[float, Field(strict=True, gt=0, lt=1)] = 0.2
    test_subset: StrictInt | None = None  # stratified, at least one per class; for fast runs only

    @model_validator(mode="after")
    def _source_options(self) -> DataSettings:
        if self.source in PATH_SOURCES and not self.path:
            raise FieldError(("path",), f'source "{self.source}" reads a path: give path = "..." (the '
                                        f'{"npz file" if self.source == "npz" else "image folder"})')
        if self.source not in PATH_SOURCES and self.path:
            raise FieldError(("path",), f'source "{self.source}" is a standard dataset read from the Keras cache; '
                                        'path is for source = "npz" or "folder"')
        for key in ("image_size", "color_mode"):
            if self.source != "folder" and getattr(self, key) is not None:
                raise FieldError((key,), f'{key} is for source = "folder" (images of any size and colour); '
                                         f'"{self.source}" images are used as they are')
        return self

    def options(self, *, seed: int = 0, num_classes: int | None = None) -> DataOptions:
        """These settings for a run with split ``seed`` on the first ``num_classes`` classes (None: all)."""
        return DataOptions(**dict(self), seed=seed, num_classes=num_classes)

    def with_path_from(self, base: str | Path) -> DataSettings:
        """A copy whose relative ``path`` is made absolute against ``base`` (a space file's folder)."""
        if not self.path or Path(self.path).expanduser().is_absolute():
            return self
        return self.replace(path=str((Path(base) / Path(self.path).expanduser()).resolve()))


class DataOptions(DataSettings):
    """How to build a :class:`~search.data.Dataset`: the settings plus the run's split seed and classes."""

    seed: Annotated[StrictInt, Field(ge=0, lt=2**32)] = 0
    num_classes: Annotated[StrictInt, Field(ge=2)] | None = None  # keep labels 0..n-1 only; None: every class

    @model_validator(mode="after")
    def _every_class_kept(self) -> DataOptions:
        available = STANDARD_SHAPES[self.source][1] if self.source in STANDARD_SHAPES else None
        if self.num_classes is not None and available is not None and self.num_classes > available:
            raise FieldError(("num_classes",), f"must be at most {available} (the classes of {self.source}), "
                                               f"got {self.num_classes}")
        classes = self.num_classes or available
        if classes is None:  # known once the data is read: prepare() checks it then
            return self
        minimum = MIN_PER_CLASS * classes
        if self.subset is not None and self.subset < minimum:
            raise FieldError(("subset",), f"must be an integer >= {minimum} ({MIN_PER_CLASS} per class for "
                                          f"{classes} classes) or None for all, got {self.subset!r}")
        if self.test_subset is not None and self.test_subset < classes:
            raise FieldError(("test_subset",), f"must be an integer >= {classes} (one per class) "
                                               f"or None for all, got {self.test_subset!r}")
        return self
