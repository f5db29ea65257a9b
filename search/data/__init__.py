"""Image data loading: locate/verify files, decode and cache them, build splits.

Fashion-MNIST is :func:`load_raw`; every source (it, MNIST, CIFAR-10/100, an
npz file, a folder of images) is :func:`load_source`.

Only numpy, scikit-learn and Pillow (both imported lazily) and the standard library: no Keras
or TensorFlow, so importing this is fast and independent of the backend.
"""

from search.data.cache import CACHE_ENV, RawData, cache_dir, clear_memo, load_raw
from search.data.dataset import Dataset, load_dataset, prepare, stratified_indices
from search.data.fetch import DATA_ENV, FILES, MIRROR, file_md5, keras_cache_dir, locate, verify
from search.data.idx import read_idx
from search.data.normalization import NORMALIZATIONS, PixelNormalization, fit_normalization
from search.data.settings import CLASS_NAMES, MIN_PER_CLASS, DataOptions, DataSettings
from search.data.sources import SOURCES, load_source
from search.data.sources.npz import from_arrays

__all__ = [
    "CACHE_ENV",
    "CLASS_NAMES",
    "DATA_ENV",
    "FILES",
    "MIN_PER_CLASS",
    "MIRROR",
    "NORMALIZATIONS",
    "SOURCES",
    "DataOptions",
    "DataSettings",
    "Dataset",
    "PixelNormalization",
    "RawData",
    "cache_dir",
    "clear_memo",
    "file_md5",
    "fit_normalization",
    "from_arrays",
    "keras_cache_dir",
    "load_dataset",
    "load_raw",
    "load_source",
    "locate",
    "prepare",
    "read_idx",
    "stratified_indices",
    "verify",
]
