"""Writing a finished run to its output directory.

Every file is written atomically and ``metrics.json`` goes last, so a
directory with a ``metrics.json`` holds a complete run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..fileio import atomic_path, write_json, write_text
from . import plots
from .evaluation import classification_report, confusion_frame

if TYPE_CHECKING:
    from .trainer import TrainResult

ARTIFACTS = ("metrics.json", "history.csv", "model.keras", "classification_report.csv",
             "confusion_matrix.csv", "learning_curves.png", "confusion_matrix.png", "predictions.png")


def write_run(result: TrainResult, out: str | Path) -> Path:
    """Write every artifact of ``result`` under ``out`` and return the directory.

    A run that did not evaluate the test set has no test reports, so those
    artifacts are left out rather than written empty.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "history.csv", result.history.to_csv(index=False))
    with atomic_path(out / "model.keras") as tmp:
        result.model.save(tmp)
    plots.learning_curves(result.history, out / "learning_curves.png", title=result.metrics["variant"])
    if result.y_pred is not None:
        _write_test_reports(result, out)
    write_json(out / "metrics.json", result.metrics)
    return out


def _write_test_reports(result: TrainResult, out: Path) -> None:
    data, names = result.dataset, result.dataset.class_names
    write_text(out / "classification_report.csv",
               classification_report(data.y_test, result.y_pred, names).to_csv(index=False))
    cm = confusion_frame(data.y_test, result.y_pred, names)
    write_text(out / "confusion_matrix.csv", cm.to_csv())
    plots.confusion_matrix(cm.to_numpy(), names, out / "confusion_matrix.png")
    plots.prediction_examples(data.x_test, data.y_test, result.y_pred, names, out / "predictions.png")
