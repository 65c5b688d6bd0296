"""Bad catalog CSVs give exact errors (file, line, column, what was expected); user overrides."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aicost
from aicost import CatalogError
from aicost._paths import data_dir
from aicost.catalog import load, read_table

FIXTURES = Path(__file__).parent / "data" / "catalog"


@pytest.fixture
def base(tmp_path):
    """A writable copy of the shipped catalog directory."""
    dst = tmp_path / "catalog"
    shutil.copytree(data_dir() / "catalog", dst)
    return dst


def _set_cell(path: Path, line: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    fields = next(csv.reader([lines[line - 1]]))
    fields[header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    lines[line - 1] = buf.getvalue()
    path.write_text("".join(lines))


def _error(**kwargs) -> CatalogError:
    with pytest.raises(CatalogError) as err:
        load(**kwargs)
    return err.value


# ----------------------------------------------------------------------------- shipped-file errors
def test_negative_price(base):
    path = base / "instances.csv"
    _set_cell(path, 14, "price_on_demand_usd_per_hour", "-3.2")
    err = _error(base=base)
    assert str(err) == (f"{path}, line 14, column 'price_on_demand_usd_per_hour': "
                        "expected a non-negative number, got '-3.2'")
    assert (err.path, err.row, err.column) == (str(path), 14, "price_on_demand_usd_per_hour")
    assert isinstance(err, ValueError)


def test_wrong_type(base):
    path = base / "instances.csv"
    _set_cell(path, 5, "vcpus", "lots")
    assert str(_error(base=base)) == (
        f"{path}, line 5, column 'vcpus': expected a non-negative number, got 'lots'")


def test_zero_count_and_fractional_count(base):
    path = base / "instances.csv"
    _set_cell(path, 7, "accelerator_count", "0")
    assert str(_error(base=base)).endswith(
        "line 7, column 'accelerator_count': expected a positive integer, got '0'")
    _set_cell(path, 7, "accelerator_count", "1.5")
    assert str(_error(base=base)).endswith("expected a positive integer, got '1.5'")


def test_missing_column(base):
    path = base / "accelerators.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["tdp_watts"])
    df.to_csv(path, index=False)
    err = _error(base=base)
    assert (err.row, err.column) == (1, "tdp_watts")
    assert str(err).startswith(f"{path}, line 1, column 'tdp_watts': missing column")


def test_unknown_column_suggests(base):
    path = base / "fabrics.csv"
    text = path.read_text().replace("latency_us", "latency_usec", 1)
    path.write_text(text)
    err = _error(base=base)
    assert (err.row, err.column) == (1, "latency_usec")
    assert "did you mean 'latency_us'" in str(err)


def test_duplicate_key(base):
    path = base / "instances.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines.append(lines[1])  # line 2 again, as the last line
    path.write_text("".join(lines))
    err = _error(base=base)
    assert err.row == len(lines) and err.column == "region"
    assert "duplicate key (provider='aws', instance_type='p5.48xlarge', region='us-east-1'), " \
           "first defined on line 2" in str(err)


def test_duplicate_key_is_case_insensitive(base):
    path = base / "storage_tiers.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines.append(lines[1].replace("local-nvme", "LOCAL-NVME", 1))
    path.write_text("".join(lines))
    err = _error(base=base)
    assert err.column == "name" and "first defined on line 2" in str(err)


def test_unknown_accelerator_in_an_instance_row(base):
    path = base / "instances.csv"
    _set_cell(path, 9, "accelerator", "H1000")
    err = _error(base=base)
    assert (err.path, err.row, err.column) == (str(path), 9, "accelerator")
    assert str(err).startswith(f"{path}, line 9, column 'accelerator': unknown accelerator 'H1000'; "
                               "did you mean ")
    assert "'H100-SXM'" in str(err).split("?")[0]


def test_unknown_fabric(base):
    path = base / "instances.csv"
    _set_cell(path, 2, "scale_out_fabric", "efa-v9")
    err = _error(base=base)
    assert (err.row, err.column) == (2, "scale_out_fabric")
    assert "unknown fabric 'efa-v9'; did you mean 'efa" in str(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2025-13-01", "expected a valid date YYYY-MM-DD, got '2025-13-01'"),
     ("01/06/2025", "expected a date YYYY-MM-DD, got '01/06/2025'"),
     ("", "expected a value: this column is required")],
)
def test_bad_as_of(base, value, expected):
    path = base / "fabrics.csv"
    _set_cell(path, 3, "as_of", value)
    assert str(_error(base=base)) == f"{path}, line 3, column 'as_of': {expected}"


def test_missing_source(base):
    path = base / "storage_tiers.csv"
    _set_cell(path, 4, "source", "  ")
    err = _error(base=base)
    assert (err.row, err.column) == (4, "source")


def test_bad_choice(base):
    path = base / "storage_tiers.csv"
    _set_cell(path, 3, "kind", "tape")
    assert str(_error(base=base)) == (
        f"{path}, line 3, column 'kind': expected one of local, block, file, object, got 'tape'")


def test_ragged_row(base):
    path = base / "fabrics.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = lines[4].rstrip("\n") + ",extra\n"
    path.write_text("".join(lines))
    err = _error(base=base)
    assert err.row == 5 and "expected 9 fields as in the header, got 10" in str(err)


def test_duplicate_alias_across_rows(base):
    path = base / "accelerators.csv"
    _set_cell(path, 3, "aliases", "H100")  # line 3 is H200-SXM; "H100" names H100-SXM
    err = _error(base=base)
    assert err.column == "aliases"
    assert "'H100' already names" in str(err) or "'H100' already names 'H200-SXM'" in str(err)


def test_blank_lines_keep_line_numbers(base):
    path = base / "instances.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, "\n")  # blank line 4; old line 4 becomes line 5
    path.write_text("".join(lines))
    _set_cell(path, 5, "price_spot_usd_per_hour", "cheap")
    err = _error(base=base)
    assert (err.row, err.column) == (5, "price_spot_usd_per_hour")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the file is empty"), (b"\xff\xfe\x00bad", "not UTF-8"),
     (b"name,kind\nx\x00,y\n", "NUL byte"), (b'name,kind\n"unterminated,x\n', "malformed CSV")],
)
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "fabrics_bad.csv"
    path.write_bytes(content)
    with pytest.raises(CatalogError, match=message):
        load(extra=path)


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="file not found"):
        load(extra=tmp_path / "nope.csv")


def test_read_table_validates_one_file(tmp_path):
    df = read_table(data_dir() / "catalog" / "fabrics.csv")
    assert "nvlink4" in set(df["name"])
    bad = tmp_path / "fabrics.csv"
    bad.write_text("name,kind\nx,scale_up\n")
    with pytest.raises(CatalogError, match="missing column"):
        read_table(bad)


# ----------------------------------------------------------------------------- user overrides
def test_extra_overrides_a_price():
    cat = load(extra=FIXTURES / "negotiated_prices.csv")
    for region in ("us-east-1", "us-west-2"):  # empty region: every region
        p5 = cat.instance("p5.48xlarge", provider="aws", region=region)
        assert p5.price_on_demand_usd_per_hour == 40.00
        assert p5.source.startswith("negotiated: ACME")
        assert str(p5.as_of) == "2026-01-15"
        assert p5.price_spot_usd_per_hour is not None  # untouched cells keep their values
    cw = cat.instance("gd-8xh100ib-i128")
    assert cw.price_on_demand_usd_per_hour == 36.00
    assert cw.source.startswith("user override (") and "line 3); was: coreweave.com" in cw.source
    row = cat.instances[cat.instances.instance_type == "gd-8xh100ib-i128"].iloc[0]
    assert row["price_usd_per_gpu_hour"] == pytest.approx(36.00 / 8)  # derived columns follow
    # the shipped catalog is unchanged
    assert load().instance("p5.48xlarge").price_on_demand_usd_per_hour == 55.04
    assert load(extra=[FIXTURES / "negotiated_prices.csv"]).files[-1].endswith("negotiated_prices.csv")


def test_extra_adds_an_accelerator_and_an_instance(tmp_path):
    acc = tmp_path / "my_accelerators.csv"
    acc.write_text(
        "name,vendor,aliases,bf16_tflops,memory_gib,mem_bw_gb_s,source,as_of\n"
        "X1000,Acme,Acme X1000,1500,120,6000,vendor briefing,2026-10-01\n")
    inst = tmp_path / "my_instances.csv"
    inst.write_text(
        "provider,instance_type,region,accelerator,accelerator_count,price_on_demand_usd_per_hour,"
        "source,as_of\nacme-cloud,x1000.8,eu-1,acme x1000,8,40,quote 2026-10,2026-10-02\n")
    cat = load(extra=[acc, inst])
    assert cat.accelerator("ACME X1000").bf16_tflops == 1500
    row = cat.instances_for("X1000").iloc[0]
    assert row["usd_per_bf16_pflop_hour"] == pytest.approx(40 / (8 * 1.5))
    assert math_isnan(row["price_spot_usd_per_hour"])


def math_isnan(x) -> bool:
    return x != x


def test_new_row_needs_every_required_column(tmp_path):
    extra = tmp_path / "instances_new.csv"
    extra.write_text("provider,instance_type,region,price_on_demand_usd_per_hour\n"
                     "newcloud,big.8,r1,10\n")
    with pytest.raises(CatalogError) as err:
        load(extra=extra)
    assert (err.value.row, err.value.column) == (2, "accelerator")
    assert "matches no catalog row, so this is a new row" in str(err.value)


def test_extra_bad_value_names_the_user_file(tmp_path):
    extra = tmp_path / "prices.csv"
    extra.write_text("table,provider,instance_type,region,price_spot_usd_per_hour\n"
                     "instances,aws,p5.48xlarge,us-east-1,12\n"
                     "instances,aws,p5.48xlarge,us-west-2,-1\n")
    assert str(_error(extra=extra)) == (
        f"{extra}, line 3, column 'price_spot_usd_per_hour': expected a non-negative number, got '-1'")


def test_table_column_mixes_tables(tmp_path):
    extra = tmp_path / "overrides.csv"
    extra.write_text("table,name,provider,instance_type,region,price_usd_per_gb_month,"
                     "price_on_demand_usd_per_hour\n"
                     "storage,fsx-lustre,,,,0.15,\n"
                     "instances,,aws,g5.xlarge,us-east-1,,0.90\n")
    cat = load(extra=extra)
    assert cat.storage_tier("fsx-lustre").price_usd_per_gb_month == 0.15
    assert cat.instance("g5.xlarge").price_on_demand_usd_per_hour == 0.90
    extra.write_text("table,name,price_usd_per_gb_month\ndisks,fsx-lustre,0.15\n")
    err = _error(extra=extra)
    assert (err.row, err.column) == (2, "table")


def test_undetectable_extra(tmp_path):
    extra = tmp_path / "mystery.csv"
    extra.write_text("foo,bar\n1,2\n")
    err = _error(extra=extra)
    assert "cannot tell which catalog table" in str(err)


def test_extra_dataframe():
    df = pd.DataFrame({"name": ["H100-SXM"], "mem_bw_gb_s": [3000.0]})
    df.attrs["aicost_table"] = "accelerators"
    cat = load(extra=df)
    assert cat.accelerator("h100").mem_bw_bytes_per_s == pytest.approx(3.0e12)
    detected = load(extra=pd.DataFrame({"name": ["nvlink4"], "bandwidth_gb_s": [400.0]}))
    assert detected.fabric("nvlink4").bandwidth_bytes_per_s == pytest.approx(400e9)


def test_duplicate_key_inside_an_extra(tmp_path):
    extra = tmp_path / "fabrics_mine.csv"
    extra.write_text("name,latency_us\nib-ndr,0.9\nIB_NDR,0.8\n")
    err = _error(extra=extra)
    assert err.row == 3 and "first defined on line 2" in str(err)


def test_extra_is_reread_when_edited(tmp_path):
    extra = tmp_path / "instances_neg.csv"
    extra.write_text("provider,instance_type,region,price_on_demand_usd_per_hour\n"
                     "aws,g5.xlarge,us-east-1,0.5\n")
    assert load(extra=extra).instance("g5.xlarge").price_on_demand_usd_per_hour == 0.5
    extra.write_text("provider,instance_type,region,price_on_demand_usd_per_hour\n"
                     "aws,g5.xlarge,us-east-1,0.75\n")
    assert load(extra=extra).instance("g5.xlarge").price_on_demand_usd_per_hour == 0.75


# ----------------------------------------------------------------------------- fuzzing
_cells = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["", "-1", "1e400", "nan", "inf", "0", "3.5", "2025-02-30", "H100", "|", '"']),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from(
    ["provider", "instance_type", "region", "accelerator", "accelerator_count", "vcpus",
     "price_on_demand_usd_per_hour", "price_spot_usd_per_hour", "source", "as_of", "name",
     "scale_up_fabric", "bogus", "table"]), min_size=1, max_size=8, unique=True),
    rows=st.lists(st.lists(_cells, min_size=0, max_size=9), max_size=4))
def test_fuzzed_instance_csvs_fail_only_with_catalog_error(tmp_path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    path = tmp_path / "instances_fuzz.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", errors="surrogatepass")
    try:
        cat = load(extra=path)
    except CatalogError as exc:
        assert exc.path == str(path) or str(path) in str(exc) or exc.path is None
    else:
        assert len(cat.instances) >= 80


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_fuzzed_bytes_fail_only_with_catalog_error(tmp_path, raw):
    path = tmp_path / "accelerators_fuzz.csv"
    path.write_bytes(b"name,vendor,bf16_tflops,memory_gib,mem_bw_gb_s,source,as_of\n" + raw)
    try:
        load(extra=path)
    except CatalogError:
        pass


def test_errors_are_aicost_errors(tmp_path):
    path = tmp_path / "instances_x.csv"
    path.write_text("provider,instance_type\naws,p5.48xlarge\n")  # an override with nothing to set
    assert load(extra=path).instance("p5.48xlarge").price_on_demand_usd_per_hour == 55.04
    assert issubclass(CatalogError, aicost.AicostError)


# ----------------------------------------------------------------------------- estimates (issue 13)
def test_every_shipped_estimate_is_flagged_in_the_estimated_column():
    """A row whose source says 'estimate' names the estimated columns, and only such rows do."""
    cat = load(refreshed=False)
    for table, key in (("accelerators", "name"), ("instances", "instance_type")):
        df = getattr(cat, table)
        says = df["source"].str.lower().str.contains("estimate")
        flagged = df["estimated"].astype(str) != ""
        assert (says == flagged).all(), list(df.loc[says != flagged, key])
    # the chips whose peaks could not be read from a datasheet say which ones are estimates
    assert set(cat.accelerator("H800").estimated) >= {"bf16_tflops", "fp8_tflops"}
    assert cat.accelerator("Trainium3").estimated == ("scale_up_gb_s",)
    assert cat.instance("trn3.48xlarge").estimated == ("accelerator_count", "price_on_demand_usd_per_hour")
    assert cat.instance("p5.48xlarge", provider="aws").estimated == (
        "price_spot_usd_per_hour", "price_reserved_1y_usd_per_hour")


def test_trainium3_peaks_are_the_neuron_docs_dense_figures():
    """Trainium3's dense BF16 rate is 671 TFLOP/s (Neuron docs), not half its FP8 rate."""
    acc = load(refreshed=False).accelerator("Trainium3")
    assert (acc.bf16_tflops, acc.fp8_tflops, acc.fp32_tflops) == (671, 2517, 183)
    assert "awsdocs-neuron" in acc.source


def test_estimated_must_name_columns_of_its_table(base):
    path = base / "instances.csv"
    _set_cell(path, 2, "estimated", "spot|price_of_gold")
    err = _error(base=base)
    assert (err.path, err.row, err.column) == (str(path), 2, "estimated")
    assert "'price_of_gold'" in str(err)


def test_estimated_accepts_pricing_names(tmp_path):
    """An override may flag its price with the pricing vocabulary (on_demand, spot, ...)."""
    extra = tmp_path / "mine.csv"
    extra.write_text(
        "provider,instance_type,region,price_on_demand_usd_per_hour,estimated,source,as_of\n"
        "aws,p5.48xlarge,us-east-1,40.0,on-demand,a quote we expect next month (estimate),2026-11-30\n")
    inst = load(extra=extra, refreshed=False).instance("p5.48xlarge", provider="aws", region="us-east-1")
    assert inst.price_on_demand_usd_per_hour == 40.0
    assert inst.estimated == ("price_on_demand_usd_per_hour",)


def test_an_override_replaces_the_estimate_it_overrides(tmp_path):
    """A negotiated spot price is no longer the catalog's estimate; the other estimates stay."""
    extra = tmp_path / "mine.csv"
    extra.write_text("provider,instance_type,region,price_spot_usd_per_hour,source,as_of\n"
                     "aws,p5.48xlarge,us-east-1,20.0,our contract,2026-11-30\n")
    inst = load(extra=extra, refreshed=False).instance("p5.48xlarge", provider="aws", region="us-east-1")
    assert inst.estimated == ("price_reserved_1y_usd_per_hour",)
