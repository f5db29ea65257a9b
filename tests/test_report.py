"""The HTML study report, built from real small studies and rendered in a real headless Chromium.

Chromium is required, not optional: a missing browser fails these tests
(CI installs Debian's ``chromium``) rather than letting an unrendered page pass.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
from optuna.trial import TrialState
from sklearn import metrics

from search.data import CLASS_NAMES, load_dataset
from search.execution import run_study
from search.reports import figures
from search.reports.html import class_metrics, config_label, confused_pairs, write_report
from search.spaces import ParamCounter, validate_space_dict
from search.storages import load_existing_study, open_storage

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=5000")
OPTUNA_FIGURES = {figures.ACCURACY_VS_TIME, figures.ACCURACY_VS_PARAMS, figures.LEARNING_CURVES,
                  figures.OPTIMIZATION_HISTORY, figures.PARAM_IMPORTANCES, figures.CONFUSION_MATRIX}
HOSTILE = '<script>alert("x")</script> & co'


def space(**overrides):
    data = {"study": "report", "variant": "cnn", "engine": "optuna", "epochs": 2, "batch_size": 128, "seed": 0,
            "fixed": {"blocks": 1, "dense_units": 16},
            "search": {"filters_1": [4, 8], "learning_rate": [0.003, 0.01]},
            "optuna": {"sampler": "grid"}, "validation": {"repeats": 1}, "data": {"subset": 600}}
    data.update(overrides)
    return validate_space_dict(data)


@pytest.fixture(scope="module")
def small_data(data_dir):
    return load_dataset(space().data_options(), data_dir=data_dir)


@pytest.fixture(scope="module")
def optuna_study(tmp_path_factory, small_data):
    """Four configurations trained for two epochs with history and a test confusion matrix."""
    study = run_study(space(), open_storage(None, "report", tmp_path_factory.mktemp("results")), small_data,
                      ParamCounter())
    # what `cnn-search run` records after the engine; the device text also checks escaping
    study.set_user_attr("versions", {"python": "3.x", "optuna": "test"})
    study.set_user_attr("device", HOSTILE)
    study.set_user_attr("seed", 0)
    return study


@pytest.fixture(scope="module")
def grid_study(tmp_path_factory, small_data):
    """A GridSearchCV study: no per-epoch history, no test-set evaluation."""
    s = space(study="report-grid", engine="grid", epochs=1, search={"filters_1": [4, 8]},
              validation={"method": "kfold", "folds": 2}, optuna={})
    return run_study(s, open_storage(None, "report-grid", tmp_path_factory.mktemp("results")), small_data,
                     ParamCounter())


@pytest.fixture(scope="module")
def report(optuna_study, tmp_path_factory):
    return write_report(optuna_study, tmp_path_factory.mktemp("report") / "out")


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if path is None:
        pytest.fail("headless Chromium is required to render the report: install it (Debian: "
                    "`apt-get install -y chromium`); these tests never skip without it", pytrace=False)
    return path


def run_chromium(page: Path, profile: Path, *args: str) -> str:
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def rendered(page: Path, tmp_path: Path) -> str:
    dom = run_chromium(page, tmp_path / "profile", "--dump-dom")
    assert "<body" in dom, dom[:500]
    return dom


def body_attr(dom: str, name: str) -> int:
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    match = re.search(rf'{name}="(\d+)"', body.group(0))
    assert match, f"{name} not set on {body.group(0)}: the image-counting script did not finish"
    return int(match.group(1))


def table_rows(dom: str, table_id: str) -> list[str]:
    table = re.search(rf'<table[^>]*\bid="{table_id}"[^>]*>(.*?)</table>', dom, re.S)
    assert table, f"no table #{table_id} in the page"
    tbody = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    assert tbody
    return re.findall(r"<tr\b.*?</tr>", tbody.group(1), re.S)


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000, path
    assert path.read_bytes()[:8] == PNG_MAGIC, path


# --- the Optuna study ------------------------------------------------------------------------------


def test_report_writes_page_and_figures(report, optuna_study):
    out = report.parent
    assert report.name == "index.html" and report.is_file()
    assert len(optuna_study.get_trials(states=(TrialState.COMPLETE,))) == 4
    for name in OPTUNA_FIGURES:
        assert_png(out / name)
    assert sorted(p.name for p in out.iterdir()) == sorted({"index.html", *OPTUNA_FIGURES}), "temp files left"
    text = report.read_text(encoding="utf-8")
    for name in OPTUNA_FIGURES:
        assert f'src="{name}"' in text
    assert "http://" not in text and "https://" not in text, "the page must not reach the network"
    assert "<script>alert" not in text and html.escape(HOSTILE, quote=True) in text
    assert "Per class (test set)" in text and "Most confused pairs" in text
    assert "0.4" in text or "0.3" in text  # accuracies are printed as numbers


def test_report_renders_in_headless_chromium(report, tmp_path):
    dom = rendered(report, tmp_path)
    rows = table_rows(dom, "leaderboard-config")
    assert len(rows) == 4, rows
    assert 'class="best"' in rows[0]
    total, loaded = body_attr(dom, "data-images-total"), body_attr(dom, "data-images-loaded")
    assert total == len(OPTUNA_FIGURES) and loaded == total
    assert len(table_rows(dom, "per-class")) == len(CLASS_NAMES) + 2
    assert 1 <= len(table_rows(dom, "confused")) <= 5


def test_report_screenshot_is_not_blank(report, tmp_path):
    shot = tmp_path / "page.png"
    run_chromium(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    assert_png(shot)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert float(pixels[..., :3].std()) > 0.01, "the screenshot is a single flat colour"


# --- a wide study: the committed budget50k (13 searched hyperparameters, skipped and pruned trials) ---------------

#: Appended to a copy of the page: writes where the leaderboard's box and header cells end, for --dump-dom.
LAYOUT_PROBE = """<script>
(function () {
  var table = document.getElementById("leaderboard-config"), box = table.parentElement.getBoundingClientRect();
  var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (c) {
    return [c.textContent, Math.round(c.getBoundingClientRect().right)];
  });
  document.body.dataset.layout = JSON.stringify({page: document.documentElement.scrollWidth,
    viewport: window.innerWidth, box: Math.round(box.right), heads: heads});
})();
</script>"""


@pytest.fixture(scope="module")
def wide_report(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    (results / "budget50k").mkdir()
    shutil.copy2(ROOT / "results" / "budget50k" / "study.journal", results / "budget50k" / "study.journal")
    study = load_existing_study("budget50k", None, results)
    return study, write_report(study, tmp_path_factory.mktemp("wide") / "out")


def layout(page: Path, tmp_path: Path, width: int = 1400) -> dict:
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(probe, tmp_path / "profile", "--dump-dom", f"--window-size={width},3000")
    match = re.search(r'data-layout="([^"]*)"', dom)
    assert match, "the layout probe did not run"
    return json.loads(html.unescape(match.group(1)))


def test_wide_leaderboard_shows_what_each_row_is_within_1400_px(wide_report, tmp_path):
    study, page = wide_report
    facts = layout(page, tmp_path)
    assert facts["page"] <= facts["viewport"] == 1400, "the page itself must not scroll sideways"
    heads = [name for name, _ in facts["heads"]]
    varying = [p for p in figures.varied_params(study)]
    assert heads[:3] == ["rank", "status", "variant"]
    important = ["rank", "status", "variant", *varying, "val accuracy"]
    assert set(important) <= set(heads), heads
    hidden = [name for name, right in facts["heads"] if name in important and right > facts["box"]]
    assert not hidden, f"scrolled out of the table's box: {hidden}"
    dom = rendered(page, tmp_path)
    statuses = {re.sub(r"<.*?>", "", row.split("</td>")[1]) for row in table_rows(dom, "leaderboard-config")}
    assert {"complete", "over budget", "pruned"} <= statuses
    assert "The same in every row: epochs = 20, batch = 128." in dom


def test_importances_are_optuna_dashboards_ped_anova_and_the_caption_says_so(wide_report):
    study, page = wide_report
    with warnings.catch_warnings():  # as optuna-dashboard computes them for a maximised objective
        warnings.simplefilter("ignore")
        dashboard = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator(),
                                          target=lambda t: -t.values[0])
    ours = figures.importance_values(study)
    assert list(ours) == list(dashboard) and list(ours)[0] == "conv_dropout"
    assert ours == pytest.approx(dashboard)
    text = html.unescape(page.read_text(encoding="utf-8"))
    assert "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator" in text and "optuna-dashboard" in text
    assert "fANOVA" not in text
    assert_png(page.parent / figures.PARAM_IMPORTANCES)


def test_learning_curve_legend_is_outside_the_axes_and_its_labels_fit():
    history = [{"epoch": e, "val_accuracy": 0.8 + 0.01 * e, "val_loss": 0.5 - 0.01 * e} for e in range(1, 6)]
    long = ", ".join(f"hyperparameter_{i}=0.00751592" for i in range(20))  # the cut-off label, longer
    curves = [("#1 conv_dropout=0.007516", history), (f"#2 {long}", history)]
    fig = figures.curves_figure(curves)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert all(not box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes), "the legend hides curves"
    assert box.y1 < min(ax.get_window_extent(renderer).y0 for ax in fig.axes), "the legend is below the panels"
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y0 >= fig.bbox.y0, "the legend is cut off"
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0] == "#1 conv_dropout=0.007516"
    lines = texts[1].splitlines()
    assert len(lines) == figures.LEGEND_LINES and all(len(line) <= figures.LEGEND_WIDTH for line in lines)
    assert lines[-1].endswith(" …"), "a label too long is cut where it says so"


def test_curve_labels_name_the_values_that_differ_to_four_digits():
    row = pd.Series({"rank": 3, "variant": "cnn", "hp_conv_dropout": 0.00751592, "hp_blocks": 4,
                     "hp_activation": "relu"})
    assert config_label(row, False, ["hp_conv_dropout", "hp_activation"]) == "#3 conv_dropout=0.007516, activation=relu"
    assert config_label(row, True, []) == "#3 cnn"


# --- a grid study: training curves only, no confusion matrix -------------------------------------------------------


def test_grid_study_report_says_test_details_are_missing(grid_study, tmp_path):
    page = write_report(grid_study, tmp_path / "out")
    text = page.read_text(encoding="utf-8")
    assert "Test-set details" in text and "not available" in text
    assert "cnn-search best report-grid -o best.json &amp;&amp; cnn-search train --from best.json" in text
    assert "the first fold" in text and "training metrics" in text  # GridSearchCV validates at the end only
    assert_png(tmp_path / "out" / figures.LEARNING_CURVES)
    assert not (tmp_path / "out" / figures.CONFUSION_MATRIX).exists()
    for name in (figures.ACCURACY_VS_TIME, figures.ACCURACY_VS_PARAMS, figures.OPTIMIZATION_HISTORY):
        assert_png(tmp_path / "out" / name)
    dom = rendered(page, tmp_path)
    assert len(table_rows(dom, "leaderboard-config")) == 2
    total, loaded = body_attr(dom, "data-images-total"), body_attr(dom, "data-images-loaded")
    assert total > 0 and loaded == total


def test_rewriting_removes_figures_the_new_report_lacks(optuna_study, grid_study, tmp_path):
    out = tmp_path / "out"
    write_report(optuna_study, out)
    assert (out / figures.CONFUSION_MATRIX).exists()
    write_report(grid_study, out)
    assert not (out / figures.CONFUSION_MATRIX).exists(), "a grid study has no confusion matrix"


def test_unknown_metric_or_grouping_is_refused(grid_study, tmp_path):
    with pytest.raises(Exception, match="metric"):
        write_report(grid_study, tmp_path, metric="nope")
    with pytest.raises(Exception, match="by"):
        write_report(grid_study, tmp_path, by="nope")


# --- the numbers behind the page -----------------------------------------------------------------


def test_class_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 10, 500))
    cm = metrics.confusion_matrix(y_true, y_pred, labels=list(range(10)))
    ours = class_metrics(cm, CLASS_NAMES)
    p, r, f, s = metrics.precision_recall_fscore_support(y_true, y_pred, labels=list(range(10)), zero_division=0)
    np.testing.assert_allclose(ours["precision"][:10], p)
    np.testing.assert_allclose(ours["recall"][:10], r)
    np.testing.assert_allclose(ours["f1"][:10], f)
    assert list(ours["support"][:10]) == list(s)
    assert list(ours["class"][10:]) == ["macro avg", "weighted avg"]
    assert ours["f1"][10] == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))
    assert ours["f1"][11] == pytest.approx(metrics.f1_score(y_true, y_pred, average="weighted"))


def test_confused_pairs_are_the_largest_off_diagonal_cells():
    cm = np.diag([50, 50, 50])
    cm[0, 1], cm[2, 0], cm[1, 2] = 7, 3, 9
    pairs = confused_pairs(cm, ["a", "b", "c"], top=2)
    assert pairs[["true", "predicted", "count"]].values.tolist() == [["b", "c", 9], ["a", "b", 7]]
    assert pairs["share"].tolist() == pytest.approx([9 / 59, 7 / 57])


def test_pareto_front_keeps_only_undominated_points():
    costs = [1.0, 2.0, 2.0, 3.0, 4.0, 0.5]
    scores = [0.5, 0.7, 0.6, 0.65, 0.9, 0.4]
    assert figures.pareto_front(costs, scores) == [5, 0, 1, 4]
