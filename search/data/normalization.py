"""Pixel normalisation statistics, fitted on the images a model trains on and nothing else.

The statistics are not applied to the arrays: they become the first layer of
the model (see :mod:`search.zoo.preprocessing`), so that

* each cross-validation fold is normalised with statistics of its own
  training part (fitting them on a split that includes the fold's
  validation images would leak them into training), and
* a saved ``model.keras`` takes raw 0-255 pixels and can be shipped as is.

Numpy only: fitting happens before Keras is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: ``scale``: x / 255 (seeds 000, 002, 003, 004); ``standardize``: per-pixel mean and std (seed 001).
NORMALIZATIONS = ("scale", "standardize")
PIXEL_MAX = 255.0


@dataclass(frozen=True)
class PixelNormalization:
    """How raw pixels become model inputs; ``mean``/``std`` are per pixel, in raw 0-255 units.

    A pixel constant over the fitted images (an always-black corner in a small
    subset) gets a std of 255, i.e. it is scaled like ``scale``, rather than
    dividing other images' values there by almost zero.
    """

    method: str
    n_fit: int
    fitted_on: str
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    constant_pixels: int = 0

    def record(self) -> dict[str, Any]:
        """Metadata for metrics.json: no arrays, they live in the saved model."""
        out: dict[str, Any] = {"method": self.method, "fitted_on": self.fitted_on, "n_fit": self.n_fit}
        if self.method == "standardize":
            out["constant_pixels"] = self.constant_pixels
        return out


def fit_normalization(method: str, images: np.ndarray, fitted_on: str = "train") -> PixelNormalization:
    """Fit ``method`` on ``images`` (raw pixel values, shaped (N, H, W, C)): the training images only."""
    if method not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {method!r}")
    if method == "scale":
        return PixelNormalization(method, len(images), fitted_on)
    mean, std = _pixel_stats(images)
    constant = std == 0
    return PixelNormalization(method, len(images), fitted_on, mean, np.where(constant, PIXEL_MAX, std),
                              int(constant.sum()))


def _pixel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel mean and population std in float64.

    Raw pixels are integers, so float64 sums of up to ~10**9 are exact and the
    variance is computed as E[x^2] - E[x]^2 without cancellation error.
    """
    flat = images.reshape(len(images), -1).astype(np.float64)
    n = len(images)
    s1 = flat.sum(axis=0)
    s2 = np.einsum("ij,ij->j", flat, flat)
    var = np.maximum(n * s2 - s1 * s1, 0.0) / (float(n) * n)
    shape = images.shape[1:]
    return (s1 / n).reshape(shape), np.sqrt(var).reshape(shape)
