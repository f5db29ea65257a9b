"""Throughput: training and inference images per second for every zoo variant on this device.

Comparing variants "on time" (seed 003's table) only means something next to
how fast the device runs each architecture, so this measures steady-state
speed: the first ``fit``/``predict`` call traces or compiles the step
functions and is excluded, later calls reuse them. Training speed is taken
from per-epoch wall times inside one ``fit`` call (what a training loop
pays per image, not ``fit``'s set-up), inference from whole ``predict``
calls with a large batch. Image counts are sized from a short probe so each
measurement lasts about ``seconds`` on any device, which keeps ``resnet50``
affordable on a CPU and the fast models measurable on a GPU. Variants are
timed in alternating rounds (see :func:`run_throughput`), medians reported.

Nothing here is TensorFlow-specific: only Keras 3 APIs are used, so the
same code measures the JAX and PyTorch backends.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .datasets import bench_dataset
from .records import Context, Recorder, ratio
from .settings import BenchSettings
from .timing import epoch_clock, median, rotations, timed

EVAL_BATCH = 1024     # default inference batch: no gradients are kept, so evaluation uses a large one
MAX_IMAGES = 60000    # at most this many images per measurement (memory bound on fast devices)
BASELINE = "cnn"      # ratios are relative to the parametric model with its defaults


@dataclass
class Throughput:
    """Steady-state speed of one variant, with the raw timings behind the medians."""

    variant: str
    params: int
    batch_size: int
    train_images: int
    train_epoch_s: list[float]
    eval_batch: int
    eval_images: int
    eval_call_s: list[float]
    setup_s: float  # build, tracing and probes: everything before the timed rounds

    @property
    def train_images_per_s(self) -> float:
        return self.train_images / median(self.train_epoch_s)

    @property
    def eval_images_per_s(self) -> float:
        return self.eval_images / median(self.eval_call_s)


def run_throughput(settings: BenchSettings, context: Context | None = None) -> list[dict[str, Any]]:
    """Measure every variant in ``settings.variants`` (default: the whole zoo); return the CSV rows.

    All variants are built and traced first; then each round times one
    training epoch and one ``predict`` call of every variant, the order
    rotated each round, so the ratios between variants are not skewed by
    the machine's load drifting while they run one after the other.
    """
    from ..runtime import import_backend_quietly

    import_backend_quietly()
    import keras

    from ..zoo import get_variant, list_variants

    names = list(settings.variants or [v.name for v in list_variants()])
    for name in names:
        get_variant(name)  # an unknown name fails before anything is timed
    context = context or Context.capture(settings.command)
    dataset = bench_dataset(settings)
    keras.backend.clear_session()
    gc.collect()
    benches = [VariantBench(name, dataset.x_train, dataset.y_train, batch_size=settings.batch_size,
                            eval_batch=settings.eval_batch, seconds=settings.seconds, seed=settings.seed)
               for name in names]
    for _, order in rotations(benches, settings.repeats):
        for bench in order:
            bench.time_train()
            bench.time_eval()
    rows = _rows(settings, context, [b.result for b in benches])
    del benches
    keras.backend.clear_session()
    gc.collect()
    return rows


def measure_variant(name: str, x: np.ndarray, y: np.ndarray, *, batch_size: int | None = None,
                    eval_batch: int = EVAL_BATCH, seconds: float = 3.0, repeats: int = 3,
                    seed: int = 0) -> Throughput:
    """Train and inference speed of one variant (its default hyperparameters) on images ``x``."""
    bench = VariantBench(name, x, y, batch_size=batch_size, eval_batch=eval_batch, seconds=seconds, seed=seed)
    for _ in range(repeats):
        bench.time_train()
        bench.time_eval()
    return bench.result


class VariantBench:
    """One variant built, traced and sized, ready for timed rounds.

    ``x`` is reused cyclically when a measurement needs more images than it
    holds: speed does not depend on which images, only on how many. Image
    counts are whole batches, so no call meets a new batch shape (which
    would trace again).
    """

    def __init__(self, name: str, x: np.ndarray, y: np.ndarray, *, batch_size: int | None = None,
                 eval_batch: int = EVAL_BATCH, seconds: float = 3.0, seed: int = 0) -> None:
        import keras

        from ..data import fit_normalization
        from ..zoo import build_model, get_variant, trainable_params

        variant = get_variant(name)
        bs = batch_size or variant.batch_size
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        # As every run trains it: raw pixels in, the x/255 scaling inside the model.
        self.model = model = build_model(name, variant.resolve({}), normalization=fit_normalization("scale", x))
        # Training: trace on one batch, probe the speed on another, size the timed epochs from it.
        model.fit(*_cycle(x, y, bs), epochs=1, batch_size=bs, shuffle=False, verbose=0)
        clock = epoch_clock()
        model.fit(*_cycle(x, y, bs), epochs=1, batch_size=bs, shuffle=False, verbose=0, callbacks=[clock])
        self.x_train, self.y_train = _cycle(x, y, _size(bs, clock.times[0], seconds, bs))
        # Inference: trace on one large batch, probe on another, size the timed calls from it.
        xe, _ = _cycle(x, y, eval_batch)
        model.predict(xe, batch_size=eval_batch, verbose=0)
        probe_s, _ = timed(lambda: model.predict(xe, batch_size=eval_batch, verbose=0))
        self.x_eval, _ = _cycle(x, y, _size(eval_batch, probe_s, seconds, eval_batch))
        self.result = Throughput(name, trainable_params(model), bs, len(self.y_train), [], eval_batch,
                                 len(self.x_eval), [], time.perf_counter() - start)

    def time_train(self) -> None:
        """One timed training epoch over the sized images (``fit``'s set-up excluded)."""
        clock = epoch_clock()
        self.model.fit(self.x_train, self.y_train, epochs=1, batch_size=self.result.batch_size, shuffle=False,
                       verbose=0, callbacks=[clock])
        self.result.train_epoch_s.append(clock.times[0])

    def time_eval(self) -> None:
        """One timed ``predict`` call over the sized images."""
        seconds, _ = timed(lambda: self.model.predict(self.x_eval, batch_size=self.result.eval_batch, verbose=0))
        self.result.eval_call_s.append(seconds)


def _size(probe_images: int, probe_s: float, seconds: float, multiple: int) -> int:
    """Images for a measurement of about ``seconds``, a whole number of batches, at least one."""
    rate = probe_images / max(probe_s, 1e-6)
    batches = max(1, math.ceil(rate * seconds / multiple))
    return min(batches * multiple, max(multiple, MAX_IMAGES // multiple * multiple))


def _cycle(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images of ``x`` repeated as often as needed."""
    idx = np.arange(n) % len(x)
    return x[idx], y[idx]


def _rows(settings: BenchSettings, context: Context, results: Sequence[Throughput]) -> list[dict[str, Any]]:
    rec = Recorder(context, "throughput", {"seed": settings.seed, "subset": settings.subset, "epochs": None,
                                           "repeats": settings.repeats})
    base = {r.variant: r for r in results}.get(BASELINE)
    for r in results:
        common = {"variant": r.variant, "batch_size": r.batch_size, "engine": "keras"}
        rec.add("train_images_per_s", r.train_images_per_s, "images/s", **common,
                ratio=ratio(r.train_images_per_s, base.train_images_per_s) if base else None,
                baseline=BASELINE if base else None,
                detail={"stat": "images / median epoch time", "images": r.train_images, "epoch_s": r.train_epoch_s,
                        "excluded": "first fit (tracing) and a probe fit", "rounds": "alternating"})
        rec.add("eval_images_per_s", r.eval_images_per_s, "images/s", **common,
                ratio=ratio(r.eval_images_per_s, base.eval_images_per_s) if base else None,
                baseline=BASELINE if base else None,
                detail={"stat": "images / median predict time", "images": r.eval_images, "eval_batch": r.eval_batch,
                        "predict_s": r.eval_call_s, "excluded": "first predict (tracing) and a probe predict",
                        "rounds": "alternating"})
        rec.add("params", r.params, "count", **common, ratio=ratio(r.params, base.params) if base else None,
                baseline=BASELINE if base else None, detail={"what": "trainable parameters"})
        rec.add("setup_time", r.setup_s, "s", **common,
                detail={"what": "build, compile, tracing and probes: everything before the timed rounds"})
    return rec.rows
