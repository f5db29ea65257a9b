"""Write the example datasets that spaces/examples/ search, from the real Fashion-MNIST files.

Nothing here is committed: the images are made on your machine, offline, from
the four official Fashion-MNIST files (``$CNN_SEARCH_DATA``, ``--data-dir`` or
the Keras cache), so the examples need no download beyond Fashion-MNIST's.

* ``fashion-folder/``: an image folder as ``keras.utils.image_dataset_from_directory``
  reads one: ``train/`` and ``test/``, each with one subfolder of PNGs per
  class, named after Fashion-MNIST's classes (500 training and 100 test
  images per class, a stratified sample).
* ``rgb32.npz``: the ``keras.datasets`` layout with 32x32 RGB images:
  Fashion-MNIST images zero-padded to 32x32 and tinted with a random colour
  per image, so the colour carries no information about the class: it
  exercises the RGB path (three channels, colour plots), it is not a new
  benchmark.

    python scripts/make-example-data.py [--out .data/examples] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search.data import CLASS_NAMES, load_raw, stratified_indices  # noqa: E402

TRAIN_PER_CLASS, TEST_PER_CLASS, SEED = 500, 100, 0


def folder_name(name: str) -> str:
    """A class name as a folder name ("T-shirt/top" -> "T-shirt_top")."""
    return name.replace("/", "_")


def write_folder(out: Path, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 y_test: np.ndarray) -> None:
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        for label, name in enumerate(CLASS_NAMES):
            (tmp / split / folder_name(name)).mkdir(parents=True)
        for i, (image, label) in enumerate(zip(x, y, strict=True)):
            Image.fromarray(image, mode="L").save(tmp / split / folder_name(CLASS_NAMES[label]) / f"{i:05d}.png")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def write_rgb_npz(out: Path, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray) -> None:
    rng = np.random.default_rng(SEED)

    def tinted(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (2, 2), (2, 2))).astype(np.float32)
        tint = rng.uniform(0.3, 1.0, size=(len(x), 1, 1, 3)).astype(np.float32)
        return np.round(padded[..., None] * tint).astype(np.uint8)

    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez_compressed(tmp, x_train=tinted(x_train), y_train=y_train, x_test=tinted(x_test), y_test=y_test,
                        class_names=np.array(CLASS_NAMES))
    tmp.replace(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".data" / "examples", help="where to write them")
    parser.add_argument("--data-dir", type=Path, help="the Fashion-MNIST files (default: $CNN_SEARCH_DATA, ...)")
    args = parser.parse_args()
    raw = load_raw(args.data_dir)
    train = stratified_indices(raw.y_train, TRAIN_PER_CLASS * len(CLASS_NAMES), SEED)
    test = stratified_indices(raw.y_test, TEST_PER_CLASS * len(CLASS_NAMES), SEED)
    arrays = (np.asarray(raw.x_train[train]), raw.y_train[train].astype(np.int64),
              np.asarray(raw.x_test[test]), raw.y_test[test].astype(np.int64))
    args.out.mkdir(parents=True, exist_ok=True)
    write_folder(args.out / "fashion-folder", *arrays)
    write_rgb_npz(args.out / "rgb32.npz", *arrays)
    print(f"wrote {args.out / 'fashion-folder'} ({len(train):,} train / {len(test):,} test PNGs) and "
          f"{args.out / 'rgb32.npz'} (32x32 RGB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
