"""Decode gzip-compressed IDX files (the MNIST family's format) into numpy arrays.

Format: two zero bytes, a type code (0x08 = unsigned byte, the only one these
datasets use), the number of dimensions, then one big-endian uint32 per
dimension, then the data. Everything is checked, so a truncated or garbled
file fails here with its name instead of producing wrongly shaped arrays.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from search.errors import DataError

_UBYTE = 0x08
_ADVICE = "the file is truncated or corrupted — delete it and download it again"


def read_idx(path: str | Path, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Return the uint8 array stored in the gzip IDX file ``path``.

    ``expected_shape`` (optional) is checked against the header, so a valid
    file of the wrong kind (labels where images belong) is caught too.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress ({exc}); {_ADVICE}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number); {_ADVICE}")
    if raw[2] != _UBYTE:
        raise DataError(f"{path}: IDX type code {raw[2]:#04x} is not unsigned byte (0x08); {_ADVICE}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header is truncated or has {ndim} dimensions; {_ADVICE}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if expected_shape is not None and shape != tuple(expected_shape):
        raise DataError(f"{path}: IDX shape {shape}, expected {tuple(expected_shape)}; {_ADVICE}")
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != size:
        raise DataError(f"{path}: IDX data has {len(raw) - header} bytes, header {shape} says {size}; {_ADVICE}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
