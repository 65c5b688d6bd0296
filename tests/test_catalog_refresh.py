"""`aicost catalog refresh`: real SkyPilot files served by a local threaded HTTP server.

The files in tests/data/skypilot/ are copies of the published catalogs (commits named in its
README). The server adds what the tests need: ETags and 304s, a 404, a slow answer, a
truncated body, malformed rows, a file that is not a catalog.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from aicost.catalog import (
    catalog_status,
    load,
    load_refreshed,
    oldest_as_of,
    price_age_note,
    price_history,
    prices_as_of,
    refresh,
)
from aicost.store import Store

DATA = Path(__file__).parent / "data" / "skypilot"
LAMBDA = (DATA / "catalogs/v7/lambda/vms.csv").read_bytes()
NEBIUS = (DATA / "catalogs/v7/nebius/vms.csv").read_bytes()
HYPERBOLIC = (DATA / "catalogs/v7/hyperbolic/vms.csv").read_bytes()
T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
T1 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


class _Server:
    """Serves ``files`` (URL path -> bytes, or a callable behaviour) and logs the requests."""

    def __init__(self):
        self.files: dict[str, object] = {
            "/catalogs/v7/lambda/vms.csv": LAMBDA,
            "/catalogs/v7/nebius/vms.csv": NEBIUS,
            "/catalogs/v7/hyperbolic/vms.csv": HYPERBOLIC,
        }
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append((self.path, dict(self.headers)))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                if callable(body):
                    body(self)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Mon, 30 Nov 2026 10:00:00 GMT")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/catalogs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "results.duckdb")


def _refresh(server, home, store, providers="lambda,nebius,hyperbolic", **kw):
    kw.setdefault("now", T1)
    return refresh("skypilot", providers, base_url=server.url, home=home, store=store, **kw)


def test_refresh_caches_validated_files_and_records_history(server, aicost_home, store):
    report = _refresh(server, aicost_home, store)
    assert report.ok and [r.status for r in report.results] == ["updated"] * 3
    lam = report.results[0]
    assert lam.offers == 42 and lam.summary.dropped_by_reason == {"cpu-only": 3}
    assert "lambda: 45 rows -> 42 offers" in str(report)
    cached = aicost_home / "catalog" / "skypilot" / "v7" / "lambda" / "vms.csv"
    assert cached.read_bytes() == LAMBDA and lam.cache_path == str(cached)
    assert not list(cached.parent.glob("*.part"))  # no temporary file left behind
    # every refresh is also price history
    assert report.history_rows == 42 + 21 + 37
    hist = store.offer_prices("H200-SXM", "nebius")
    assert len(hist) == 6 and set(hist["price_on_demand_usd_per_hour"]) == {3.5, 28.0}


def test_refreshed_catalog_keeps_curated_rows_and_says_where_prices_come_from(
        server, aicost_home, store):
    _refresh(server, aicost_home, store)
    cat = load_refreshed()
    inst = cat.instances
    url = f"{server.url}/v7/lambda/vms.csv"
    pcie = inst[(inst.provider == "lambda") & (inst.instance_type == "gpu_1x_h100_pcie")]
    # the PCIe card stays a PCIe card (SkyPilot calls it "H100")
    assert set(pcie["accelerator"]) == {"H100-PCIe"}
    imported = pcie[pcie.source.str.contains(url, regex=False)]
    assert len(imported) == 3 and set(imported["as_of"]) == {"2026-11-30"}
    # the curated us-east-1 A6000 row is identical to the import: listed once, curated source kept
    a6000 = inst[(inst.provider == "lambda") & (inst.instance_type == "gpu_1x_a6000")
                 & (inst.region == "us-east-1")]
    assert len(a6000) == 1 and "catalogs/v7/lambda/vms.csv at commit" in a6000.iloc[0]["source"]
    # a curated row that differs from the import is kept, the import listed beside it (the
    # shipped prices were read in 2026-09, the SkyPilot test file is an older snapshot)
    for itype, prices in (("gpu_1x_h100_sxm5", [3.29, 4.29]), ("gpu_1x_h100_pcie", [2.49, 3.29])):
        rows = inst[(inst.provider == "lambda") & (inst.instance_type == itype)
                    & (inst.region == "us-east-1")]
        assert sorted(rows["price_on_demand_usd_per_hour"]) == prices
    # workstation GPUs and GH200 are imported, not dropped
    assert {"A6000", "RTX6000", "V100", "GH200", "RTX4090"} <= set(inst["accelerator"])
    # known 8-GPU families get aicost's scale-up fabric; SkyPilot says nothing about networks
    row = inst[(inst.instance_type == "gpu_8x_h100_sxm5") & (inst.region == "europe-central-1")]
    assert row.iloc[0]["scale_up_fabric"] == "nvlink4"
    assert load_refreshed() is not cat  # a fresh copy per call (built once)


def test_unchanged_file_is_a_304_and_keeps_the_cache(server, aicost_home, store):
    _refresh(server, aicost_home, store, providers="nebius", now=T0)
    report = _refresh(server, aicost_home, store, providers="nebius", now=T1)
    res = report.results[0]
    assert res.status == "unchanged" and "HTTP 304" in res.message
    assert res.fetched_at == T0  # the prices are the ones fetched at T0, checked again at T1
    path, headers = server.requests[-1]
    assert headers.get("If-None-Match") and headers.get("If-Modified-Since")
    assert report.history_rows == 21  # seen again: a point in the history at T1


def test_404_says_what_failed_and_uses_the_shipped_catalog(server, aicost_home, store):
    report = _refresh(server, aicost_home, store, providers="nosuchcloud")
    res = report.results[0]
    assert res.status == "failed" and not report.ok
    assert res.message.startswith("aicost catalog refresh: nosuchcloud: ")
    assert "HTTP 404" in res.message and "using the shipped catalog" in res.message
    assert "\n" not in res.message
    assert not (aicost_home / "catalog" / "skypilot" / "v7" / "nosuchcloud" / "vms.csv").exists()
    assert report.history_rows == 0


def _cached(home, provider="lambda"):
    return (home / "catalog" / "skypilot" / "v7" / provider / "vms.csv").read_bytes()


def test_timeout_keeps_the_cached_copy(server, aicost_home, store):
    _refresh(server, aicost_home, store, providers="lambda", now=T0)

    def slow(handler):
        time.sleep(1.5)
        handler.send_response(200)
        handler.end_headers()

    server.files["/catalogs/v7/lambda/vms.csv"] = slow
    res = _refresh(server, aicost_home, store, providers="lambda", timeout_s=0.3).results[0]
    assert res.status == "failed" and "timeout" in res.message
    assert "using the cached copy fetched 2026-06-01T12:00" in res.message
    assert _cached(aicost_home) == LAMBDA and res.offers == 42


def test_truncated_transfer_never_replaces_the_cache(server, aicost_home, store):
    _refresh(server, aicost_home, store, providers="lambda", now=T0)

    def truncated(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(LAMBDA)))
        handler.end_headers()
        handler.wfile.write(LAMBDA[: len(LAMBDA) // 2])
        handler.wfile.flush()
        handler.close_connection = True

    server.files["/catalogs/v7/lambda/vms.csv"] = truncated
    res = _refresh(server, aicost_home, store, providers="lambda").results[0]
    assert res.status == "failed" and "truncated" in res.message
    assert _cached(aicost_home) == LAMBDA


def test_file_cut_mid_line_without_length_is_rejected(server, aicost_home, store):
    def cut(handler):  # no Content-Length: the server closes the connection early
        handler.send_response(200)
        handler.end_headers()
        handler.wfile.write(NEBIUS[:-40])
        handler.close_connection = True

    server.files["/catalogs/v7/nebius/vms.csv"] = cut
    res = _refresh(server, aicost_home, store, providers="nebius").results[0]
    assert res.status == "failed" and "truncated" in res.message
    assert "using the shipped catalog for nebius" in res.message


def test_malformed_rows_are_dropped_and_counted(server, aicost_home, store):
    lines = NEBIUS.decode().splitlines(keepends=True)
    lines[45] = "gpu-h200-sxm_1gpu,H200,1,16\n"  # 4 fields instead of 9
    lines[46] = "not,a,row\n"
    server.files["/catalogs/v7/nebius/vms.csv"] = "".join(lines).encode()
    res = _refresh(server, aicost_home, store, providers="nebius").results[0]
    assert res.status == "updated"
    assert res.summary.dropped_by_reason["malformed-row"] == 2 and res.offers == 19
    assert "2 malformed-row" in res.message


def test_a_file_of_garbage_is_rejected(server, aicost_home, store):
    server.files["/catalogs/v7/lambda/vms.csv"] = b"<html><body>rate limited</body></html>\n"
    res = _refresh(server, aicost_home, store, providers="lambda").results[0]
    assert res.status == "failed" and "not a SkyPilot vms.csv" in res.message
    rows = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,SpotPrice\n"
    rows += "x,H100\n" * 10 + "gpu_1x_h100_pcie,H100,1,26,200,2.49,us-east-1,\n"
    server.files["/catalogs/v7/lambda/vms.csv"] = rows.encode()
    res = _refresh(server, aicost_home, store, providers="lambda").results[0]
    assert res.status == "failed" and "10 of 11 rows are malformed" in res.message


def test_size_limit(server, aicost_home, store):
    res = _refresh(server, aicost_home, store, providers="lambda", max_bytes=1000).results[0]
    assert res.status == "failed" and "1000-byte limit" in res.message


def test_offline(aicost_home, store):
    res = refresh("skypilot", "lambda", base_url="http://127.0.0.1:9/catalogs",
                  home=aicost_home, store=store, timeout_s=2).results[0]
    assert res.status == "failed" and "cannot connect" in res.message


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown source"):
        refresh("aws")
    with pytest.raises(ValueError, match="v6, v7 or v8"):
        refresh(version="v9")
    with pytest.raises(ValueError, match="not a catalog directory"):
        refresh(providers="../etc")


def test_history_and_repricing_at_an_earlier_date(server, aicost_home, store):
    _refresh(server, aicost_home, store, providers="nebius", now=T0)
    server.files["/catalogs/v7/nebius/vms.csv"] = NEBIUS.replace(b",28.00,", b",24.00,")
    _refresh(server, aicost_home, store, providers="nebius", now=T1)
    hist = price_history("h200", provider="nebius", store=store)
    eight = hist[(hist.instance_type == "gpu-h200-sxm_8gpu-128vcpu-1600gb")
                 & (hist.region == "eu-north1") & (hist.source == "skypilot")]
    assert list(eight["price_usd_per_gpu_hour"]) == [3.5, 3.0]
    assert list(eight["time"].dt.date) == [T0.date(), T1.date()]
    # the shipped row of the same offer is a point at its as_of
    assert (hist.source == "catalog").any()
    then = prices_as_of("2026-07-01", store=store)
    now = prices_as_of("2026-11-30", store=store)
    for cat, price in ((then, 28.0), (now, 24.0)):
        rows = cat.instances[(cat.instances.instance_type == "gpu-h200-sxm_8gpu-128vcpu-1600gb")
                             & (cat.instances.region == "eu-north1")]
        assert set(rows["price_on_demand_usd_per_hour"]) == {price}
    # offers first listed after the date are left out of the older catalog
    assert "B300" not in set(then.instances["accelerator"])
    assert "B300" in set(now.instances["accelerator"])


def test_status_lists_sources_providers_and_ages(server, aicost_home, store):
    _refresh(server, aicost_home, store, providers="lambda,hyperbolic")
    st = catalog_status()
    sky = st[st.source == "skypilot"].set_index("provider")
    assert sky.loc["lambda", "offers"] == 42 and sky.loc["hyperbolic", "offers"] == 37
    assert str(sky.loc["lambda", "newest_as_of"]) == "2026-11-30"
    assert sky.loc["lambda", "location"].endswith("skypilot/v7/lambda/vms.csv")
    shipped = st[st.source == "shipped"].set_index("provider")
    assert str(shipped.loc["aws", "oldest_as_of"]) == "2025-10-01"


def test_price_age_note():
    today = dt.date(2026, 11, 30)
    assert price_age_note("2025-10-01", today) == (
        "prices as of 2025-10-01, 14 months old; run `aicost catalog refresh`")
    assert price_age_note("2026-10-01", today) == ""
    assert price_age_note("2026-10-01", today, always=True) == "prices as of 2026-10-01"
    assert price_age_note(None) == ""
    cat = load()
    assert oldest_as_of(cat.instances) == dt.date(2025, 10, 1)
    assert oldest_as_of([cat.instance("p5.48xlarge"), dt.date(2024, 1, 2)]) == dt.date(2024, 1, 2)


def test_gpuhunt_is_optional(aicost_home, store, monkeypatch):
    monkeypatch.setitem(sys.modules, "gpuhunt", None)  # import gpuhunt -> ImportError
    res = refresh("gpuhunt", "nebius", home=aicost_home, store=store).results[0]
    assert res.status == "skipped" and "gpuhunt is not installed" in res.message


def test_gpuhunt_offers_are_imported(aicost_home, store, monkeypatch):
    item = types.SimpleNamespace
    fake = types.ModuleType("gpuhunt")
    fake.query = lambda provider: [
        item(instance_name="gpu-h100-sxm_8gpu", location="eu-north1", price=23.6, spot=False,
             cpu=128, memory=1600, gpu_count=8, gpu_name="H100", gpu_memory=80),
        item(instance_name="gpu-h100-sxm_8gpu", location="eu-north1", price=10.0, spot=True,
             cpu=128, memory=1600, gpu_count=8, gpu_name="H100", gpu_memory=80),
        item(instance_name="cpu-only", location="eu-north1", price=0.1, spot=False,
             cpu=4, memory=16, gpu_count=0, gpu_name=None, gpu_memory=None),
    ]
    monkeypatch.setitem(sys.modules, "gpuhunt", fake)
    report = refresh("gpuhunt", "nebius", home=aicost_home, store=store, now=T1)
    res = report.results[0]
    assert res.status == "updated" and res.offers == 1
    cat = load_refreshed("gpuhunt")
    row = cat.instances[cat.instances.instance_type == "gpu-h100-sxm_8gpu"].iloc[0]
    assert (row["price_on_demand_usd_per_hour"], row["price_spot_usd_per_hour"]) == (23.6, 10.0)
    assert row["source"].startswith("gpuhunt (gpuhunt:nebius, line ")
    assert row["as_of"] == "2026-11-30"


def test_scale_up_domain():
    cat = load()
    assert cat.scale_up_domain_gpus("gb200-4x") == 72
    assert cat.scale_up_domain_gpus("p5.48xlarge") == 8
    inst = cat.instances.set_index("instance_type")
    assert inst.loc["gb200-4x", "scale_up_domain_gpus"] == 72
    assert inst.loc["gb200-4x", "accelerator_count"] == 4
    assert cat.accelerator("GB300").fp4_tflops == 15000


# ----------------------------------------------------------------------------- CLI
def test_cli_refresh_status_history(server, aicost_home, capsys, tmp_path):
    from aicost.cli import main

    assert main(["catalog", "refresh", "--providers", "lambda,nebius", "--base-url", server.url]) == 0
    out = capsys.readouterr().out
    assert "lambda: 45 rows -> 42 offers (42 rows kept); dropped 3: 3 cpu-only" in out
    assert "price history: 63 offer prices appended" in out
    assert main(["catalog", "refresh", "--providers", "nosuchcloud", "--base-url",
                 server.url]) == 1
    assert "HTTP 404" in capsys.readouterr().out
    assert main(["catalog", "status", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "skypilot,lambda,42," in out and "shipped,aws," in out
    plot = tmp_path / "h100.html"
    assert main(["catalog", "history", "h100", "--provider", "lambda", "--plot", str(plot),
                 "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "skypilot,lambda,gpu_1x_h100_pcie" in out and "catalog,lambda,gpu_1x_h100_pcie" in out
    assert plot.stat().st_size > 100_000  # plotly.js embedded: opens offline


def test_cli_list_says_how_old_the_prices_are(capsys):
    from aicost.cli import main

    assert main(["catalog", "list", "instances", "--provider", "aws"]) == 0
    out = capsys.readouterr().out
    assert "prices as of 2025-10-01" in out.splitlines()[-1]
    assert main(["catalog", "list", "instances", "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "prices as of" not in captured.out and "prices as of 2025-10-01" in captured.err


def test_price_history_figure(server, aicost_home, store):
    from aicost import viz

    _refresh(server, aicost_home, store, providers="nebius", now=T0)
    server.files["/catalogs/v7/nebius/vms.csv"] = NEBIUS.replace(b",28.00,", b",24.00,")
    _refresh(server, aicost_home, store, providers="nebius", now=T1)
    fig = viz.price_history_figure(price_history("H200-SXM", provider="nebius", store=store))
    (trace,) = fig.data  # one line: nebius H200-SXM, the cheapest offer at each time
    assert trace.name == "nebius H200-SXM"
    # refresh at T0 ($3.50), the shipped row (as_of 2026-11-30, $28/8), refresh at T1 ($24/8)
    assert list(trace.y) == [3.5, 3.5, 3.0]
    empty = viz.price_history_figure(price_history("H200-SXM", provider="nebius",
                                                   store=Store(":memory:"),
                                                   include_shipped=False))
    assert not empty.data and "aicost catalog refresh" in empty.layout.annotations[0].text


def test_load_includes_the_refreshed_catalogs_quietly(server, aicost_home, store, tmp_path):
    import warnings

    before = len(load().instances)
    _refresh(server, aicost_home, store, providers="hyperbolic")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refresh() already said what it dropped
        cat = load()
    assert len(cat.instances) == before + 37 - 3  # 3 hyperbolic offers are shipped rows already
    assert len(load(refreshed=False).instances) == before
    # a negotiated price (user file) applies after the refreshed catalogs
    mine = tmp_path / "negotiated.csv"
    mine.write_text("provider,instance_type,region,price_on_demand_usd_per_hour\n"
                    "hyperbolic,2x-RTX4090-21-90,default,0.44\n")
    row = load(extra=mine).instance("2x-RTX4090-21-90", provider="hyperbolic")
    assert row.price_on_demand_usd_per_hour == 0.44


def test_plan_cli_prices_at_an_earlier_date(server, aicost_home, capsys):
    """`aicost plan serve --as-of DATE` re-prices the plan from the history in the user's store."""
    import json

    from aicost import cli

    home_store = Store(aicost_home / "results.duckdb")
    _refresh(server, aicost_home, home_store, providers="nebius", now=T0)
    server.files["/catalogs/v7/nebius/vms.csv"] = NEBIUS.replace(b",28.00,", b",24.00,")
    _refresh(server, aicost_home, home_store, providers="nebius", now=T1)

    def best_price(*extra):
        args = ["plan", "serve", "--model", "llama-3.1-8b", "--qps", "1", "--providers", "nebius",
                "--accelerators", "h200", "--pricing", "on_demand", "--format", "json", *extra]
        assert cli.main(args) == 0
        out = json.loads(capsys.readouterr().out)
        return {round(r["price_usd_per_hour"], 6) for r in out["top"]
                if r.get("instance_type") == "gpu-h200-sxm_8gpu-128vcpu-1600gb"}

    assert best_price("--as-of", "2026-07-01") == {28.0}
    assert best_price() == {24.0}
    assert cli.main(["plan", "serve", "--model", "llama-3.1-8b", "--qps", "1",
                     "--as-of", "July"]) != 0
