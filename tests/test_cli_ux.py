"""The command line to the standard of the tools users like: help everywhere, one --format
option with JSON that parses back, '-' meaning stdout, consistent flags, readable tables."""

from __future__ import annotations

import argparse
import json
import subprocess

import pandas as pd
import pytest

from aicost.cli import build_parser, completion_script, main
from aicost.store import Store


def _walk(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _walk(child, (*path, name))
        else:
            yield path, action


def test_bare_aicost_and_bare_groups_print_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: aicost") and "catalog" in out and "plan" in out
    for group in ("catalog", "store", "bench", "plan"):
        assert main([group]) == 0
        assert capsys.readouterr().out.startswith(f"usage: aicost {group}")


def test_every_option_has_help():
    missing = [(" ".join(path), a.option_strings or a.dest) for path, a in _walk(build_parser())
               if a.dest != "help" and not (a.help or "").strip()]
    assert missing == [], f"options without help text: {missing}"


def test_model_help_lists_the_presets(capsys):
    from aicost.model import list_models

    with pytest.raises(SystemExit):
        main(["plan", "train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name in list_models()[:3]:
        assert name in out


def test_format_json_parses_back(capsys):
    assert main(["catalog", "list", "accelerators", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) > 5 and "name" in rows[0]
    assert main(["catalog", "show", "h100", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "H100-SXM" and doc["offers"]
    assert {"provider", "region", "price_on_demand_usd_per_hour"} <= set(doc["offers"][0])
    assert main(["catalog", "list", "instances", "--accelerator", "h100", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 2 and all(",H100-SXM," in line for line in lines[1:])


def test_plan_format_json_and_json_dash_is_stdout(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["plan", "serve", "--model", "llama-3.1-8b", "--qps", "5", "--providers", "aws,lambda",
            "--top", "2"]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "inference" and len(doc["top"]) <= 2
    assert main([*args, "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "inference"
    assert not (tmp_path / "-").exists(), "--json - wrote a file named '-'"
    assert main([*args, "--format", "csv"]) == 0
    df = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert len(df) <= 2 and "provider" in df.columns


def test_serve_and_train_flags_are_consistent(capsys):
    """--prompt-tokens/--output-tokens as in `aicost report`; old --prompt/--output still work;
    pricing names with hyphens and 'reserved' are read."""
    common = ["--model", "llama-3.1-8b", "--providers", "aws", "--top", "1", "--format", "json"]
    assert main(["plan", "serve", *common, "--qps", "5", "--prompt-tokens", "256",
                 "--output-tokens", "128", "--pricing", "on-demand"]) == 0
    new = json.loads(capsys.readouterr().out)
    assert main(["plan", "serve", *common, "--qps", "5", "--prompt", "256", "--output", "128",
                 "--pricing", "on_demand"]) == 0
    old = json.loads(capsys.readouterr().out)
    assert new["best"] == old["best"]
    with pytest.raises(SystemExit):
        main(["plan", "serve", *common, "--qps", "5", "--pricing", "spott"])
    assert "did you mean 'spot'" in capsys.readouterr().err


def test_catalog_show_lists_offers_by_provider_and_region(capsys):
    assert main(["catalog", "show", "h100"]) == 0
    out = capsys.readouterr().out
    assert "offers of H100-SXM" in out
    for word in ("provider", "region", "[USD/GPU-h]", "aws", "us-east-1", "lambda"):
        assert word in out
    assert "nan" not in out.lower().split() and "None" not in out


def test_tables_have_units_in_headers_and_no_raw_floats(capsys):
    assert main(["catalog", "list", "instances", "--provider", "aws"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "[USD/h]" in header and "[USD/GPU-h]" in header
    assert "NaN" not in out and "None" not in out
    import re

    # no float with more than 3 decimals (0.556686) anywhere in the table
    assert not re.search(r"\d\.\d{4,}", out)


def test_store_show_hides_samples_and_compare_does_not_cross_join(capsys, tmp_path):
    path = tmp_path / "r.duckdb"
    store = Store(path)

    def run(scale):
        rows = [{"kind": "compute", "name": "roofline", "dtype": "fp32", "shape": "1048576",
                 "value": scale * 1e9 * k, "unit": "FLOP/s", "median_s": 0.01, "stdev_s": 0.001,
                 "iqr_s": 0.002, "params": {"fmas_per_element": k}, "samples_s": [0.01] * 12,
                 "flags": "noisy: rse 3% > target 0.5%" if k == 4 else ""} for k in (1, 2, 4, 8)]
        return store.save_run(pd.DataFrame(rows), context={"device": "cpu"})

    a, b = run(1.0), run(2.0)
    assert main(["store", "show", a, "--path", str(path)]) == 0
    out = capsys.readouterr().out
    assert "0.01, 0.01" not in out and "[0.01" not in out  # no raw sample arrays
    assert "rel. stdev" in out and "noisy" in out
    assert main(["store", "compare", a, b, "--path", str(path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4, "roofline rows were cross-joined"
    assert all(r["ratio"] == pytest.approx(2.0) for r in rows)


def test_completion_script_knows_the_commands():
    script = completion_script("bash")
    assert "complete -o default -F _aicost_complete aicost" in script
    assert '"catalog list"' in script and "--accelerator" in script
    res = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert res.returncode == 0, res.stderr
    assert completion_script("zsh").startswith("autoload -U +X bashcompinit")


def _complete(script: str, line: str) -> list[str]:
    """What bash offers for the last word of ``line`` with the completion ``script`` loaded."""
    words = line.split(" ")
    prog = (script + "\nCOMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + ")\n"
            f"COMP_CWORD={len(words) - 1}\n_aicost_complete\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    res = subprocess.run(["bash", "-c", prog], text=True, capture_output=True, check=True)
    return sorted(w for w in res.stdout.splitlines() if w)


def test_completion_completes_option_values():
    from aicost import catalog
    from aicost.model import list_models

    script = completion_script("bash")
    assert _complete(script, "aicost plan train --model llama-3.1-") == sorted(
        m for m in list_models() if m.startswith("llama-3.1-"))
    assert _complete(script, "aicost catalog list instances --format j") == ["json"]
    assert "H100-SXM" in _complete(script, "aicost plan train --accelerators H1")
    providers = sorted(set(catalog.load(refreshed=False).instances["provider"].astype(str)))
    assert _complete(script, "aicost plan train --providers aws,g") == [
        f"aws,{p}" for p in providers if p.startswith("g")]
    assert _complete(script, "aicost plan train --pricing sp") == ["spot"]
    # options and commands are still completed where no value is expected
    assert _complete(script, "aicost plan tr") == ["train"]


def test_bench_tables_show_noise_and_never_a_flagged_number_alone():
    """A 256^3 GEMM measured 163, 2.2, 175 and 166 GFLOP/s in four quick runs: the noisy one
    carries its flag wherever it is shown, and the summary prefers a clean measurement."""
    from aicost.report.blocks import bench_summary_html, bench_table

    df = pd.DataFrame([
        {"name": "gemm", "dtype": "fp32", "shape": "256x256x256", "median_s": 2e-4,
         "stdev_s": 2e-6, "iqr_s": 3e-6, "value": 1.66e11, "unit": "FLOP/s", "flags": ""},
        {"name": "gemm", "dtype": "fp32", "shape": "512x512x512", "median_s": 1.2e-1,
         "stdev_s": 6e-2, "iqr_s": 5e-2, "value": 2.2e12, "unit": "FLOP/s",
         "flags": "noisy: rse 9.1% > target 0.5%"},
    ])
    table = bench_table(df)
    assert list(table["rel. stdev"]) == ["1.0%", "50.0%"]
    assert table["flags"][1].startswith("noisy") and table["flags"][0] == ""
    summary = bench_summary_html(df, {"device": "cpu", "backend": "numpy"})
    assert "0.166 TFLOP/s" in summary and "2.2 TFLOP/s" not in summary
    assert "1 of 2 measurements were flagged" in summary
    only_noisy = bench_summary_html(df.iloc[[1]], {"device": "cpu"})
    assert "flagged: noisy" in only_noisy


def test_plan_json_is_strict_json(capsys):
    """No bare NaN/Infinity in --format json (a strict parser, e.g. jq or JavaScript, rejects them)."""
    import json

    from aicost import cli

    assert cli.main(["plan", "serve", "--model", "llama-3.1-8b", "--qps", "1", "--providers", "nebius",
                     "--format", "json"]) == 0

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    doc = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert doc["top"] and doc["kind"] == "inference"
