"""Pieces every sub-command shares: exit statuses, common flags, the resume command."""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from ..runtime import STORAGE_ENV

EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def parse_assignments(items: Sequence[str] | None) -> dict[str, str]:
    """``["kernel=5", "activation=elu"]`` -> ``{"kernel": "5", "activation": "elu"}``."""
    values: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        values[key.strip()] = value.strip()
    return values


def add_data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="directory with the four Fashion-MNIST .gz files "
                   "(default: $CNN_SEARCH_DATA, then the Keras cache, then download)")


def add_data_args(p: argparse.ArgumentParser) -> None:
    """``--data`` and the folder options: which images to use instead of (or besides naming) the space's."""
    add_data_dir_arg(p)
    p.add_argument("--data", metavar="SOURCE", help="fashion-mnist (default), mnist, cifar10, cifar100, an .npz file "
                   "(x_train, y_train, x_test, y_test) or a folder with one subfolder of images per class")
    p.add_argument("--image-size", metavar="HxW", help="resize every folder image to H x W pixels, e.g. 32x32")
    p.add_argument("--color-mode", choices=("grayscale", "rgb"),
                   help="folder images as grayscale or RGB (default: grayscale if all of them are)")


def data_source(args: argparse.Namespace) -> dict[str, object]:
    """The source settings ``--data``, ``--image-size`` and ``--color-mode`` give (empty: none given)."""
    from ..data.settings import PATH_SOURCES, SOURCES

    out: dict[str, object] = {}
    given = getattr(args, "data", None)
    if given:
        kind, sep, rest = given.partition(":")
        if sep and kind in PATH_SOURCES:
            out.update(source=kind, path=str(Path(rest).expanduser().resolve()))
        elif given in SOURCES and given not in PATH_SOURCES:
            out["source"] = given
        elif Path(given).expanduser().is_dir() or given.endswith(".npz"):
            path = Path(given).expanduser()
            out.update(source="folder" if path.is_dir() else "npz", path=str(path.resolve()))
        else:
            names = ", ".join(s for s in SOURCES if s not in PATH_SOURCES)
            raise ConfigError(f"--data {given}: not a dataset name ({names}), an .npz file or an image folder")
    if getattr(args, "image_size", None):
        out["image_size"] = _image_size(args.image_size)
    if getattr(args, "color_mode", None):
        out["color_mode"] = args.color_mode
    return out


def _image_size(text: str) -> tuple[int, int]:
    height, sep, width = text.lower().partition("x")
    if not sep or not height.strip().isdigit() or not width.strip().isdigit() or not int(height) or not int(width):
        raise ConfigError(f"--image-size must be HEIGHTxWIDTH in pixels, e.g. 32x32, got {text!r}")
    return int(height), int(width)


def add_study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", help="study name")
    add_storage_args(p)


def add_storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", default=os.environ.get(STORAGE_ENV) or None,
                   help=f"Optuna storage URL or .journal path (default: ${STORAGE_ENV}, else "
                        "results/<study>/study.journal)")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where default studies live")


def add_heartbeat_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--heartbeat", type=int, metavar="S",
                   help="seconds between a running trial's heartbeats; a trial silent for 5x this is failed "
                        "and retried (default 10). Fixed when the study is created: every worker uses the study's")


def heartbeat_seconds(args: argparse.Namespace) -> int | None:
    """The ``--heartbeat`` given (None: not given, so the study's or the default)."""
    if args.heartbeat is not None and args.heartbeat < 1:
        raise ConfigError(f"--heartbeat must be a whole number of seconds >= 1, got {args.heartbeat}")
    return args.heartbeat


def resume_command(args: argparse.Namespace) -> str:
    """The command line that was run, with any storage password masked."""
    from ..storages import mask_url

    return "cnn-search " + " ".join(shlex.quote(mask_url(a)) for a in args.argv)
