"""What the tests of ``cnn-search bench`` and of the harness in ``benchmarks/`` check on every CSV."""

from __future__ import annotations

import json

from search.bench import COLUMNS, read_rows

TINY = ["--subset", "200", "--test-subset", "100", "--epochs", "1", "--repeats", "1"]


def run_bench(main, tmp_path, capsys, *args):
    """``main(ARGS + TINY --out TMP)`` in this process; the rows of each CSV written, and stdout."""
    status = main([*args, *TINY, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    return {p.stem: read_rows(p) for p in tmp_path.glob("*.csv")}, out


def figures(rows, metric):
    return {(r["variant"], r["engine"]): float(r["value"]) for r in rows if r["metric"] == metric}


def check_common(rows, what, invoked_as):
    assert rows, f"no rows for {what}"
    assert list(rows[0]) == list(COLUMNS)
    for r in rows:
        assert r["what"] == what
        assert r["command"].startswith(f"{invoked_as} {what}")
        assert r["backend"] and r["device"].startswith(r["backend"])
        assert "keras" in json.loads(r["versions"])
        assert r["created_at"] and r["unit"]


def check_one_line_error(main, args, message, prog, capsys, data_dir, tmp_path):
    """``main(ARGS)`` fails with status 2 and one line ``PROG: error: ...MESSAGE...``, writing no CSV."""
    extra = [] if "--data-dir" in args else ["--data-dir", str(data_dir)]
    try:
        status = main([*args, *extra, "--out", str(tmp_path)])
    except SystemExit as exc:  # argparse's own checks exit from parse_args
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: ") and message in err, err
    assert not list(tmp_path.glob("*.csv"))
