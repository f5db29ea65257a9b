"""Test-set reports: the per-class table and confusion matrix the seeds printed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, then macro and weighted averages."""
    labels = list(range(len(class_names)))
    report = metrics.classification_report(y_true, y_pred, labels=labels, target_names=list(class_names),
                                           output_dict=True, zero_division=0)
    rows = []
    for name in [*class_names, "macro avg", "weighted avg"]:
        entry = report[name]
        rows.append({"class": name, "precision": entry["precision"], "recall": entry["recall"],
                     "f1": entry["f1-score"], "support": int(entry["support"])})
    return pd.DataFrame(rows)


def confusion_frame(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> pd.DataFrame:
    """Rows are true classes, columns predicted classes."""
    cm = metrics.confusion_matrix(y_true, y_pred, labels=list(range(len(class_names))))
    return pd.DataFrame(cm, index=pd.Index(class_names, name="true"), columns=list(class_names))
