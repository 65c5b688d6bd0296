"""The thin CLI: version, store commands, error reporting (other commands are tested with their layer)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from aicost import __version__
from aicost.cli import build_parser, main
from aicost.store import Store


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"aicost {__version__}"


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "aicost.cli", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"aicost {__version__}"


def test_every_command_has_a_handler():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, sp in sub.choices.items():
        nested = [a for a in sp._actions if getattr(a, "choices", None) and a.dest.endswith("_command")]
        if nested:
            for leaf_name, leaf in nested[0].choices.items():
                assert leaf.get_default("func") is not None, f"{name} {leaf_name} has no handler"
        else:
            assert sp.get_default("func") is not None, f"{name} has no handler"


def test_store_list_empty_and_filled(capsys, tmp_path):
    path = tmp_path / "r.duckdb"
    assert main(["store", "list", "--path", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    run_id = Store(path).save_run(pd.DataFrame({"name": ["triad"], "value": [1.0], "unit": ["B/s"]}),
                                  context={"device": "cpu"})
    assert main(["store", "list", "--path", str(path)]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["store", "show", run_id, "--path", str(path), "--format", "csv"]) == 0
    shown = capsys.readouterr().out
    assert "triad" in shown and shown.splitlines()[0].startswith("run_id,")


def test_store_errors_are_one_line(capsys, tmp_path):
    path = tmp_path / "bad.duckdb"
    path.write_bytes(b"not a database" * 100)
    assert main(["store", "list", "--path", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aicost: error: cannot open results store")
    assert path.read_bytes() == b"not a database" * 100


def test_catalog_list_table_is_compact_unless_all(capsys):
    assert main(["catalog", "list", "instances", "--provider", "aws"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "price on demand [USD/GPU-h]" in header and "source" not in header.split()
    assert main(["catalog", "list", "instances", "--provider", "aws", "--all"]) == 0
    assert "source" in capsys.readouterr().out.splitlines()[0].split()
    assert main(["catalog", "list", "fabrics", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"name", "bandwidth_gb_s", "source", "as_of"} <= set(rows[0])
