"""``cnn-search models`` and ``cnn-search train``: the zoo, and one model trained and evaluated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..runtime import import_backend_quietly
from .common import add_data_args, data_source, parse_assignments


def register(sub: Any) -> None:
    models = sub.add_parser("models", help="list the model zoo (with --count, their parameter counts)",
                            description="List the zoo's variants. Example: cnn-search models --budget 50000")
    models.add_argument("--count", action="store_true", help="build each variant once to count its trainable "
                        "parameters (starts the backend: seconds)")
    models.add_argument("--budget", type=int, help="count, and mark which variants fit under N trainable params")
    models.set_defaults(handler=cmd_models)

    train = sub.add_parser("train", help="train and evaluate one variant")
    train.add_argument("variant", nargs="?", help="a zoo variant (see `cnn-search models`) or your builder as "
                       "FILE.py:FUNCTION or package.module:FUNCTION")
    train.add_argument("--from", dest="from_spec", type=Path, metavar="BEST_JSON",
                       help="retrain exactly the configuration of a `cnn-search best` spec")
    train.add_argument("--full-train", action="store_true", help="fit on train + validation (final runs)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="set a hyperparameter (repeatable)")
    train.add_argument("--epochs", type=int, help="epochs (default: the variant's)")
    train.add_argument("--batch-size", type=int, help="batch size (default: the variant's)")
    train.add_argument("--seed", type=int, default=0,
                       help="training seed: weights, dropout, batch order (default 0); the data split stays put")
    train.add_argument("--split-seed", type=int, metavar="N",
                       help="seed of the train/validation split and --subset (default 0, or the spec's with --from)")
    train.add_argument("--out", type=Path, default=Path("results/train"), help="output directory")
    train.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    add_data_args(train)
    train.add_argument("--subset", type=int, help="train on a stratified subset of N training images")
    train.add_argument("--normalize", choices=("scale", "standardize"), default="scale",
                       help="scale: x/255; standardize: per-pixel mean/std of the training split")
    train.add_argument("--val-fraction", type=float, default=0.2, help="validation fraction (default 0.2)")
    train.set_defaults(handler=cmd_train)


def cmd_models(args: argparse.Namespace) -> int:
    from ..zoo import list_variants

    variants = list_variants()
    width = max(len(v.name) for v in variants)
    if not args.count and args.budget is None:  # the declarations only: no model is built, no backend starts
        print(f"{'variant':<{width}}  description")
        for v in variants:
            print(f"{v.name:<{width}}  {v.summary}")
        print("parameter counts: cnn-search models --count (builds each variant once)", file=sys.stderr)
        return 0
    import_backend_quietly()
    from ..zoo import count_params

    rows = [(v.name, count_params(v.name), v.summary) for v in variants]
    header = f"{'variant':<{width}}  {'params':>10}"
    if args.budget is not None:
        header += f"  {'fits ' + format(args.budget, ','):>12}"
    print(header + "  description")
    for name, params, summary in rows:
        line = f"{name:<{width}}  {params:>10,}"
        if args.budget is not None:
            line += f"  {'yes' if params <= args.budget else 'no':>12}"
        print(f"{line}  {summary}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    _check_before_the_backend(args)
    import_backend_quietly()
    from ..training import train, write_run

    config = _train_config(args)
    result = train(config, data_dir=args.data_dir, verbose=not args.quiet)
    out = write_run(result, args.out)
    m = result.metrics
    print(f"{m['variant']}: {m['params']:,} params, test accuracy {m['test']['accuracy']:.4f}, "
          f"test loss {m['test']['loss']:.4f}, {m['training_time_s']:.1f}s training; results in {out}")
    return 0


def _check_before_the_backend(args: argparse.Namespace) -> None:
    """Refuse a bad variant, ``--set`` or data option before Keras loads (seconds, not the backend's start-up)."""
    if args.from_spec is not None or not args.variant:
        return
    from ..data import DataOptions
    from ..zoo import get_variant

    get_variant(args.variant).resolve(parse_assignments(args.set))
    DataOptions(**data_source(args), subset=args.subset, normalize=args.normalize, val_fraction=args.val_fraction)


def _train_config(args: argparse.Namespace) -> Any:
    from ..data import DataOptions
    from ..handoff import differences, load_best, train_config
    from ..training import TrainConfig

    if args.from_spec is not None:
        if args.variant or args.set or args.epochs or args.batch_size or args.split_seed is not None \
                or data_source(args):
            raise ConfigError("train --from takes the whole configuration from the spec; drop VARIANT, --set, "
                              "--epochs, --batch-size, --split-seed and --data (--subset and --full-train are "
                              "for the final run)")
        spec = load_best(args.from_spec)
        config = train_config(spec, full_train=args.full_train, subset=args.subset)
        note = differences(spec, config)
        if note:
            print(f"note: {note}", file=sys.stderr)
        return config
    if not args.variant:
        raise ConfigError("train needs a VARIANT (see `cnn-search models`) or --from best.json")
    return TrainConfig(
        variant=args.variant,
        hparams=parse_assignments(args.set),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        split_seed=args.split_seed,
        data=DataOptions(**data_source(args), subset=args.subset, normalize=args.normalize,
                         val_fraction=args.val_fraction),
        full_train=args.full_train,
    )
