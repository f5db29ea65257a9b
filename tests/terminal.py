"""Reading back the leaderboard a terminal shows, for the tests that check what a person sees."""

from __future__ import annotations

import re

import pandas as pd


def terminal_table(stdout: str) -> pd.DataFrame:
    """The printed table as strings, one column per header (its lines joined with ``_``, as the name was split).

    Headers stand over a line of dashes, one run of dashes per column; every
    cell lies within its column's dashes (numbers right-aligned, words left).
    """
    lines = stdout.rstrip("\n").splitlines()
    rule = next(i for i, line in enumerate(lines) if re.fullmatch(r"[- ]+", line))
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    names = ["_".join(filter(None, (line[a:b].strip() for line in lines[:rule]))) for a, b in spans]
    rows = [[line[a:b].strip() for a, b in spans] for line in lines[rule + 1:]]
    return pd.DataFrame(rows, columns=names)
