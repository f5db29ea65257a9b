"""The command line as a user meets it: exit codes and one-line errors."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys

import pytest

from search.cli import main


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cnn-search: error: ")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_models_lists_the_zoo_from_its_declarations_without_a_backend():
    listed = subprocess.run([sys.executable, "-c", "import sys; from search.cli import main; main(['models']); "
                             "print(sorted({'keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules)))"],
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[-1] == "[]", "no backend is started to list the zoo"
    assert {line.split()[0] for line in lines[1:-1]} >= {"grid50k", "cnn", "resnet50", "m4"}
    assert "cnn-search models --count" in listed.stderr


def test_models_lists_the_zoo_with_budget(capsys):
    assert main(["models", "--budget", "50000"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["grid50k"][1:3] == ["47,582", "yes"]
    assert rows["datacamp"][1:3] == ["356,234", "no"]
    assert set(rows) >= {"datacamp", "datacamp-dropout", "grid50k", "1A", "1B", "2", "3", "4", "m1", "m3", "m4",
                         "resnet50", "cnn"}


def test_unknown_variant_is_a_one_line_error():
    assert_one_line_error(run_cli("train", "nonsense"), "unknown variant 'nonsense'", "grid50k")


def test_bad_set_value_is_a_one_line_error():
    assert_one_line_error(run_cli("train", "grid50k", "--set", "dropout_rate=2"), "'dropout_rate'", "[0, 1)")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_data_file_is_a_one_line_error(tmp_path, data_dir, damage):
    broken = tmp_path / "fm"
    shutil.copytree(data_dir, broken)
    target = broken / "train-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    if damage == "truncate":
        target.write_bytes(bytes(raw[: len(raw) // 2]))
    else:
        raw[len(raw) // 2] ^= 0xFF
        target.write_bytes(bytes(raw))
    proc = run_cli("train", "grid50k", "--epochs", "1", "--subset", "1000", "--data-dir", str(broken),
                   "--out", str(tmp_path / "out"), env={"CNN_SEARCH_CACHE": str(tmp_path / "cache")})
    assert_one_line_error(proc, "train-labels-idx1-ubyte.gz")
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_gzip_module_reads_the_real_files(data_dir):
    # Guard for the corruption test above: the pristine files are valid gzip.
    with gzip.open(data_dir / "train-labels-idx1-ubyte.gz") as fh:
        assert fh.read(4) == b"\x00\x00\x08\x01"


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train"], "train needs a VARIANT"),
        (["train", "grid50k", "--from", "best.json"], "train --from takes the whole configuration"),
        (["train", "--from", "no-such-best.json"], "no-such-best.json: no such file"),
        (["run", "no-such-space.toml"], "no-such-space.toml: no such file"),
        (["report", "nope", "--results-dir", "{tmp}"], "no study 'nope'"),
        (["best", "nope", "--results-dir", "{tmp}"], "no study 'nope'"),
        (["train", "grid50k", "--set", "kernel"], "--set expects key=value"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(argv, fragment, tmp_path, capsys):
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cnn-search: error: ") and fragment in err[0]


def test_version_and_the_studies_of_a_results_directory(tmp_path, capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"cnn-search {version('cnn-search')}"

    results = tmp_path / "results"
    for name in ("seed000", "seed004"):  # committed studies, copied: they are read, never written
        shutil.copytree(f"results/{name}", results / name, ignore=shutil.ignore_patterns("*.png", "*.html"))
    assert main(["studies", "--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert "seed000" in out and "datacamp, datacamp-dropout" in out and "m1, m3, m4" in out

    assert main(["leaderboard", "seed0000", "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err
    assert "no study 'seed0000'" in err and "(did you mean 'seed000'?)" in err and "seed000, seed004" in err


def _cpu_seconds(args: list[str], status: int) -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == status, proc.stderr
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_a_bad_space_fails_before_the_backend_starts(tmp_path):
    """Side by side in fresh interpreters, best of 3, as CPU time (wall time on a shared machine varies 2x).

    A missing file and a misspelt key need no model, so they are reported before Keras and its backend load.
    """
    typo = tmp_path / "typo.toml"
    typo.write_text('study = "typo"\nvariant = "cnn"\n[search]\nfilters_1 = { type = "int", low = 8, hihg = 32 }\n')
    commands = {
        "imports": ([sys.executable, "-c", "import optuna, pandas"], 0),
        "missing": ([sys.executable, "-m", "search", "run", str(tmp_path / "absent.toml")], 2),
        "typo": ([sys.executable, "-m", "search", "run", str(typo)], 2),
    }
    took: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(3):
        for name, (args, status) in commands.items():
            took[name].append(_cpu_seconds(args, status))
    for name in ("missing", "typo"):
        ratio = min(took[name]) / min(took["imports"])
        assert ratio <= 3, f"{name}: {min(took[name]):.2f} s against optuna + pandas {min(took['imports']):.2f} s"
    assert_one_line_error(run_cli("run", str(typo)), "search.filters_1.hihg: unknown key (did you mean 'high'?)")


def test_the_python_api_starts_the_backend_without_its_cpp_start_up_lines(data_dir):
    code = ("from search import DataOptions, TrainConfig, train\n"
            f"train(TrainConfig('cnn', {{'blocks': 1}}, epochs=1, data=DataOptions(subset=200, test_subset=100)), "
            f"data_dir={str(data_dir)!r}, verbose=False)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)})
    assert done.returncode == 0, done.stderr
    for noise in ("cuInit", "cpu_feature_guard", "oneDNN", "NodeDef mentions"):
        assert noise not in done.stderr, done.stderr


def test_every_command_help_has_an_example_and_no_markup():
    from search.cli import build_parser

    parser = build_parser()
    assert "``" not in parser.format_help()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps the sub-parsers only here
    for name, command in commands.items():
        if name == "bench":  # its own parser: `cnn-search bench --help`
            continue
        text = command.format_help()
        assert f"example: cnn-search {name}" in text, name
        assert "``" not in text and "..." not in text.replace("COMMAND ...", ""), (name, text)
