"""The development harness: benchmarks that measure cnn-search's engine itself, from a checkout.

Not part of the installed package (``pyproject.toml`` packages ``search*``
only), as scikit-learn and Optuna keep theirs: what a user measures on their
own hardware (throughput, worker scaling, seed 003's comparison) is
``cnn-search bench``; what says whether a change to the engine made it
slower or faster is here:

- ``overhead``: one Optuna trial and one GridSearchCV point against the same
  work in bare Keras, with the time per phase;
- ``options``: each ``[training]`` speed setting against the defaults;
- ``startup``: launching ``cnn-search run`` to the first trial's first epoch,
  with the probe (``startup_probe.py``) that splits it into phases;
- ``efficiency``: Optuna (TPE + Hyperband) against seed 001's grid, per
  image-epoch trained, on the checkout's space files.

Run one from the checkout's root as ``python -m benchmarks.overhead [options]``
(or ``python benchmarks/overhead.py``, or ``python -m benchmarks overhead``),
all four in fresh interpreters with ``python -m benchmarks all --small``;
``--help`` lists the options. Rows go to ``results/bench/<benchmark>.csv``
in the format of :mod:`search.bench.records`. The phase timing
(:mod:`benchmarks.phases`) wraps Keras entry points only inside a ``with``
block around the runs it measures.
"""
