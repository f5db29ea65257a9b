"""Loading an image folder: the first time (decode every file) and the second (the memory-mapped cache).

A folder of PNGs is decoded once into the cache and memory-mapped after
that, so a search pays the decode once, not per trial or per worker. This
writes Fashion-MNIST's training images (``--subset N`` of them, default all
60,000) as one PNG per image in class folders, then times ``load_source``
in fresh interpreters: with an empty cache (first load) and again with the
cache it left (second load). The baseline of the same run is Fashion-MNIST's
own four IDX files decoded into an empty cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if not __package__:  # `python benchmarks/NAME.py`: import this checkout's packages, not this folder's modules
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.settings import DevSettings
from search.bench.records import Context, Recorder, ratio
from search.bench.timing import median

#: Run in a fresh interpreter: time one load_source call (imports excluded) and print it as JSON.
_PROBE = """
import json, sys, time
from search.data import load_source
source, path, data_dir = sys.argv[1], sys.argv[2] or None, sys.argv[3] or None
start = time.perf_counter()
raw = load_source(source, path, data_dir=data_dir)
print(json.dumps({"seconds": time.perf_counter() - start, "images": len(raw.y_train) + len(raw.y_test)}))
"""


def run_folder(settings: DevSettings, context: Context | None = None) -> list[dict[str, Any]]:
    """Write the folder once, then time ``settings.repeats`` first and second loads; return the CSV rows."""
    from search.data import load_raw

    context = context or Context.capture(settings.command)
    raw = load_raw(settings.data_dir)
    n = settings.subset or len(raw.y_train)
    timings: dict[str, list[float]] = {"idx_first": [], "folder_first": [], "folder_second": []}
    with tempfile.TemporaryDirectory(prefix="cnn-search-bench-folder-") as tmp:
        folder = Path(tmp) / "images"
        write_pngs(folder, raw.x_train[:n], raw.y_train[:n])
        for repeat in range(settings.repeats):
            cache = Path(tmp) / f"cache-{repeat}"
            timings["idx_first"].append(_probe(cache, "fashion-mnist", "", str(settings.data_dir or "")))
            timings["folder_first"].append(_probe(cache, "folder", str(folder), ""))
            timings["folder_second"].append(_probe(cache, "folder", str(folder), ""))
    return _rows(settings, context, timings, n)


def write_pngs(folder: Path, images: Any, labels: Any) -> None:
    """One PNG per image under ``folder/<label>/`` (the training images only: a test split is carved)."""
    from PIL import Image

    for label in sorted(set(int(y) for y in labels)):
        (folder / f"class-{label}").mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image, mode="L").save(folder / f"class-{int(label)}" / f"{i:05d}.png")


def _probe(cache: Path, source: str, path: str, data_dir: str) -> float:
    env = {**os.environ, "CNN_SEARCH_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", _PROBE, source, path, data_dir], capture_output=True, text=True,
                          env=env, check=True, timeout=1800)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def _rows(settings: DevSettings, context: Context, timings: dict[str, list[float]], n: int) -> list[dict[str, Any]]:
    rec = Recorder(context, "folder", {"subset": n, "repeats": settings.repeats})
    base = median(timings["idx_first"])
    labels = {"idx_first": ("fashion-mnist", "first load (decode 4 IDX files)"),
              "folder_first": ("folder", f"first load (decode {n:,} PNGs)"),
              "folder_second": ("folder", "second load (memory-mapped cache)")}
    for key, seconds in timings.items():
        engine, what = labels[key]
        rec.add("load_time", median(seconds), "s", engine=engine, ratio=None if key == "idx_first" else
                ratio(median(seconds), base), baseline=None if key == "idx_first" else "fashion-mnist",
                detail={"runs_s": seconds, "what": what})
    return rec.rows


if __name__ == "__main__":
    from benchmarks.cli import main_for

    sys.exit(main_for("folder", __package__))
