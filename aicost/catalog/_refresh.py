"""Fresh prices: refresh the catalog from maintained public sources, keep the history, say
how old every number is.

Sources
-------
- ``skypilot``: the catalogs the SkyPilot project republishes every few hours for 20+ clouds
  (github.com/skypilot-org/skypilot-catalog, ``catalogs/<v6|v7|v8>/<provider>/vms.csv``),
  fetched over HTTPS with the standard library (no new dependency).
- ``gpuhunt``: dstack's ``gpuhunt`` package, where installed (``pip install gpuhunt``); it
  queries the providers' own APIs.

Each fetched file is checked before use (size limit, complete transfer, a SkyPilot header,
at least one importable offer) and replaces the cached copy atomically (write to a temporary
file in the same directory, fsync, ``os.replace``): a failed or interrupted refresh never
leaves a half-written cache. Conditional requests (``If-None-Match``/``If-Modified-Since``)
make an unchanged file cost one 304 response. Every successful refresh appends its offers to
the results store's price history (:meth:`aicost.store.Store.save_offer_prices`).

Cache layout: ``$AICOST_HOME/catalog/<source>/<version>/<provider>/vms.csv`` with ``meta.json``
beside it (url, etag, last_modified, fetched_at, checked_at, sha256, bytes).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._errors import CatalogError
from ._cache import SOURCES, cache_dir, cached_files, import_cached, parse_time, read_meta
from ._load import Catalog, load
from ._skypilot import SKYPILOT_REQUIRED_COLUMNS, ImportSummary, import_skypilot

__all__ = [
    "DEFAULT_PROVIDERS",
    "MAX_AGE_DAYS",
    "MAX_BYTES",
    "SKYPILOT_BASE_URL",
    "SOURCES",
    "RefreshReport",
    "RefreshResult",
    "catalog_status",
    "load_refreshed",
    "oldest_as_of",
    "price_age_note",
    "price_history",
    "prices_as_of",
    "refresh",
]

#: where SkyPilot publishes its catalogs (raw files of the public repository's main branch)
SKYPILOT_BASE_URL = "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs"
#: providers refreshed when none are named (SkyPilot catalog directories with GPU offers)
DEFAULT_PROVIDERS = ("aws", "gcp", "azure", "lambda", "oci", "runpod", "nebius", "vast",
                     "cudo", "fluidstack", "paperspace", "hyperbolic", "do", "primeintellect",
                     "shadeform", "seeweb")
#: largest file accepted [bytes]; SkyPilot's biggest (aws v7) is ~30 MB
MAX_BYTES = 64 * 2**20
#: network timeout per request [s]
TIMEOUT_S = 20.0
#: prices older than this are flagged [days]
MAX_AGE_DAYS = 180
_USER_AGENT = "aicost-catalog-refresh (+https://github.com/skypilot-org/skypilot-catalog)"


# ============================================================================ results
@dataclass(frozen=True)
class RefreshResult:
    """What refreshing one provider did.

    Attributes
    ----------
    source, provider, url : str
    status : str
        ``updated`` (new file cached), ``unchanged`` (304, cache kept), ``failed`` (cache
        or shipped data used instead), ``skipped`` (source not available).
    cache_path : str or None
        The cached ``vms.csv`` now in use, if any.
    fetched_at : datetime or None
        When the prices in use were fetched (UTC).
    offers : int
        Offers imported from the file in use.
    message : str
        One line saying what happened (for a failure: what failed and what is used instead).
    summary : ImportSummary or None
        Kept/dropped counts of the import.
    """

    source: str
    provider: str
    url: str
    status: str
    cache_path: str | None
    fetched_at: _dt.datetime | None
    offers: int
    message: str
    summary: ImportSummary | None = None


@dataclass(frozen=True)
class RefreshReport:
    """The results of one :func:`refresh`, one :class:`RefreshResult` per provider."""

    results: tuple = field(default_factory=tuple)
    history_rows: int = 0

    @property
    def ok(self) -> bool:
        """True when no provider failed."""
        return all(r.status != "failed" for r in self.results)

    def frame(self) -> pd.DataFrame:
        """One row per provider: source, provider, status, offers, fetched_at, cache_path, message."""
        return pd.DataFrame([{k: getattr(r, k) for k in ("source", "provider", "status", "offers",
                                                         "fetched_at", "cache_path", "message")}
                             for r in self.results])

    def __str__(self) -> str:
        lines = [r.message for r in self.results]
        if self.history_rows:
            lines.append(f"price history: {self.history_rows} offer prices appended to the "
                         "results store")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(str(self)) + "</pre>"


# ============================================================================ cache
def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ============================================================================ fetching
class _FetchError(Exception):
    """One line saying what failed."""


def _fetch(url: str, meta: dict | None, timeout_s: float, max_bytes: int):
    """GET ``url``; return (status, body, headers). 304 gives (304, None, headers)."""
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if meta:
        if meta.get("etag"):
            req.add_header("If-None-Match", meta["etag"])
        if meta.get("last_modified"):
            req.add_header("If-Modified-Since", meta["last_modified"])
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (https/http only)
            length = resp.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise _FetchError(f"file is {int(length)} bytes, over the {max_bytes}-byte limit")
            body = resp.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise _FetchError(f"file is over the {max_bytes}-byte limit")
            if length is not None and length.isdigit() and len(body) != int(length):
                raise _FetchError(f"truncated transfer: got {len(body)} of {length} bytes")
            return resp.status, body, resp.headers
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return 304, None, exc.headers
        raise _FetchError(f"HTTP {exc.code} {exc.reason}") from None
    except http.client.IncompleteRead as exc:
        raise _FetchError(f"truncated transfer: got {len(exc.partial)} bytes, "
                          f"{exc.expected} more expected") from None
    except TimeoutError:
        raise _FetchError(f"no answer within {timeout_s:g} s (timeout)") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _FetchError(f"no answer within {timeout_s:g} s (timeout)") from None
        raise _FetchError(f"cannot connect ({reason}); offline?") from None
    except (http.client.HTTPException, ConnectionError, OSError) as exc:
        raise _FetchError(f"connection failed ({type(exc).__name__}: {exc})") from None


def _validate(body: bytes, url: str, provider: str, fetched_at: _dt.datetime,
              version: str) -> tuple[str, pd.DataFrame]:
    """Decode and import the file; raise _FetchError when it is not a usable SkyPilot catalog."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _FetchError(f"not UTF-8 text (byte {exc.start})") from None
    if not text.endswith("\n"):
        raise _FetchError("the file does not end with a newline: truncated")
    first = text.split("\n", 1)[0]
    missing = [c for c in SKYPILOT_REQUIRED_COLUMNS if c not in first.split(",")]
    if missing:
        raise _FetchError(f"not a SkyPilot vms.csv: header lacks {', '.join(missing)}")
    try:
        df = import_skypilot(Path(version) / provider / "vms.csv", provider, as_of=fetched_at,
                             text=text, source_url=url)
    except CatalogError as exc:
        raise _FetchError(f"not a usable catalog: {exc}") from None
    summary = df.attrs["summary"]
    malformed = summary.dropped_by_reason.get("malformed-row", 0)
    if summary.rows_read and malformed > summary.rows_read / 2:
        raise _FetchError(f"{malformed} of {summary.rows_read} rows are malformed")
    if df.empty:
        raise _FetchError("no usable GPU offer in the file (" + summary.line() + ")")
    return text, df


def _fallback_text(meta: dict | None, provider: str) -> str:
    if meta:
        return f"using the cached copy fetched {str(meta.get('fetched_at', '?'))[:16]}"
    return f"using the shipped catalog for {provider}"


def _refresh_skypilot(provider: str, base_url: str, version: str, folder: Path,
                      timeout_s: float, max_bytes: int, now: _dt.datetime):
    url = f"{base_url.rstrip('/')}/{version}/{provider}/vms.csv"
    meta = read_meta(folder)
    try:
        status, body, headers = _fetch(url, meta, timeout_s, max_bytes)
        if status == 304:
            if meta is None:
                raise _FetchError("HTTP 304 Not Modified but no cached copy to reuse")
            meta["checked_at"] = now.isoformat()
            _atomic_write(folder / "meta.json", json.dumps(meta, indent=1).encode())
            df = import_cached(folder, meta)
            return RefreshResult(
                "skypilot", provider, url, "unchanged", str(folder / "vms.csv"),
                parse_time(meta.get("fetched_at")), len(df),
                f"{provider}: unchanged since {str(meta.get('fetched_at'))[:16]} (HTTP 304); "
                f"{len(df)} offers", df.attrs.get("summary")), df
        text, df = _validate(body, url, provider, now, version)
    except _FetchError as exc:
        df = import_cached(folder, meta) if meta else None
        return RefreshResult(
            "skypilot", provider, url, "failed", str(folder / "vms.csv") if meta else None,
            parse_time(meta.get("fetched_at")) if meta else None, 0 if df is None else len(df),
            f"aicost catalog refresh: {provider}: {url}: {exc}; "
            f"{_fallback_text(meta, provider)}"), None
    # the data first, then the meta naming its hash: a crash in between leaves a meta that
    # does not match the file, which reads as "no cache", never as a wrong one
    _atomic_write(folder / "vms.csv", text.encode("utf-8"))
    new_meta = {"url": url, "etag": headers.get("ETag"),
                "last_modified": headers.get("Last-Modified"), "fetched_at": now.isoformat(),
                "checked_at": now.isoformat(), "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "bytes": len(text.encode()), "provider": provider, "version": version}
    _atomic_write(folder / "meta.json", json.dumps(new_meta, indent=1).encode())
    summary = df.attrs["summary"]
    return RefreshResult("skypilot", provider, url, "updated", str(folder / "vms.csv"), now,
                         len(df), f"{provider}: {summary.line()}", summary), df


def _gpuhunt_frame(provider: str, now: _dt.datetime) -> tuple[str, pd.DataFrame]:
    """Query gpuhunt for one provider and write its offers as a SkyPilot-style vms.csv text."""
    import gpuhunt  # optional: the caller checks that it is installed

    items = gpuhunt.query(provider=[provider])
    rows: dict[tuple, dict] = {}
    for it in items:
        name = getattr(it, "gpu_name", None)
        count = getattr(it, "gpu_count", 0) or 0
        key = (it.instance_name, it.location)
        r = rows.setdefault(key, {"InstanceType": it.instance_name,
                                  "AcceleratorName": name or "", "AcceleratorCount": count,
                                  "vCPUs": it.cpu, "MemoryGiB": it.memory, "GpuInfo": "",
                                  "Price": "", "SpotPrice": "", "Region": it.location})
        mem = getattr(it, "gpu_memory", None)
        if name and mem:
            r["GpuInfo"] = json.dumps({"Gpus": [{"Name": name, "MemoryInfo": {
                "SizeInMiB": float(mem) * 1024}}]})
        r["SpotPrice" if getattr(it, "spot", False) else "Price"] = it.price
    frame = pd.DataFrame(list(rows.values()),
                         columns=["InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs",
                                  "MemoryGiB", "GpuInfo", "Price", "SpotPrice", "Region"])
    return frame.to_csv(index=False)


def _refresh_gpuhunt(provider: str, folder: Path, now: _dt.datetime):
    url = f"gpuhunt:{provider}"
    meta = read_meta(folder)
    try:
        import gpuhunt  # noqa: F401
    except ImportError:
        return RefreshResult("gpuhunt", provider, url, "skipped", None, None, 0,
                             f"aicost catalog refresh: {provider}: gpuhunt is not installed "
                             "(pip install gpuhunt); " + _fallback_text(meta, provider)), None
    try:
        text = _gpuhunt_frame(provider, now)
        text, df = _validate(text.encode("utf-8"), url, provider, now, "gpuhunt")
    except _FetchError as exc:
        return RefreshResult("gpuhunt", provider, url, "failed", None, None, 0,
                             f"aicost catalog refresh: {provider}: gpuhunt: {exc}; "
                             + _fallback_text(meta, provider)), None
    except (OSError, ValueError, RuntimeError) as exc:  # gpuhunt's own network/API errors
        return RefreshResult("gpuhunt", provider, url, "failed", None, None, 0,
                             f"aicost catalog refresh: {provider}: gpuhunt failed "
                             f"({type(exc).__name__}: {exc}); " + _fallback_text(meta, provider)
                             ), None
    _atomic_write(folder / "vms.csv", text.encode("utf-8"))
    _atomic_write(folder / "meta.json", json.dumps({
        "url": url, "fetched_at": now.isoformat(), "checked_at": now.isoformat(),
        "sha256": hashlib.sha256(text.encode()).hexdigest(), "provider": provider,
        "version": "gpuhunt"}, indent=1).encode())
    summary = df.attrs["summary"]
    return RefreshResult("gpuhunt", provider, url, "updated", str(folder / "vms.csv"), now,
                         len(df), f"{provider}: {summary.line()}", summary), df


def refresh(source: str = "skypilot", providers=None, *, version: str = "v7",
            base_url: str | None = None, timeout_s: float = TIMEOUT_S,
            max_bytes: int = MAX_BYTES, store=None, home=None, now=None,
            quiet: bool = True) -> RefreshReport:
    """Download fresh catalogs, validate them, cache them atomically, record the prices.

    Parameters
    ----------
    source : str
        ``skypilot`` (default) or ``gpuhunt`` (needs the ``gpuhunt`` package).
    providers : str or list of str, optional
        ``"aws,gcp"`` or ``["aws", "gcp"]``; default :data:`DEFAULT_PROVIDERS`.
    version : str
        SkyPilot catalog schema directory: ``v7`` (default), ``v8`` or ``v6``.
    base_url : str, optional
        Default :data:`SKYPILOT_BASE_URL` (or ``$AICOST_SKYPILOT_CATALOG_URL``); a mirror
        or a local test server.
    timeout_s : float
        Network timeout per request [s].
    max_bytes : int
        Largest file accepted [bytes].
    store : Store, path or False, optional
        Results store for the price history; default the user's store; ``False``: none.
    home : path, optional
        Instead of ``$AICOST_HOME``.
    now : datetime, optional
        Fetch time to record (default: now, UTC).
    quiet : bool
        When False, print each provider's line as it finishes.

    Returns
    -------
    RefreshReport
        Never raises for network or data problems: a failed provider says in one line what
        failed and which cached or shipped data is used instead.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    if version not in ("v6", "v7", "v8"):
        raise ValueError(f"unknown SkyPilot catalog version {version!r}; use v6, v7 or v8")
    if providers is None:
        names = list(DEFAULT_PROVIDERS)
    elif isinstance(providers, str):
        names = [p.strip().lower() for p in providers.split(",") if p.strip()]
    else:
        names = [str(p).strip().lower() for p in providers]
    if not names:
        raise ValueError("no provider named; e.g. providers='aws,gcp'")
    for n in names:
        if not n.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"provider {n!r} is not a catalog directory name")
    base = base_url or os.environ.get("AICOST_SKYPILOT_CATALOG_URL") or SKYPILOT_BASE_URL
    when = now or _dt.datetime.now(_dt.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    root = cache_dir(source, home)
    results, frames = [], []
    for prov in names:
        if source == "skypilot":
            res, df = _refresh_skypilot(prov, base, version, root / version / prov, timeout_s,
                                        max_bytes, when)
        else:
            res, df = _refresh_gpuhunt(prov, root / "gpuhunt" / prov, when)
        results.append(res)
        if not quiet:
            print(res.message)
        if df is not None and res.status in ("updated", "unchanged"):
            frames.append((res, df))
    written = 0
    if store is not False and frames:
        from ..store import Store

        st = store if isinstance(store, Store) else Store(store)
        for res, df in frames:
            written += st.save_offer_prices(df, fetched_at=when, source=source, url=res.url)
    return RefreshReport(tuple(results), written)


# ============================================================================ using the cache
def load_refreshed(source: str | None = None, *, extra=None, home=None) -> Catalog:
    """The shipped catalog plus the refreshed (cached) provider catalogs, plus ``extra``.

    Since :func:`load` includes every valid cached catalog by default, this is ``load()``
    for the default source and home; it narrows to one ``source`` or reads another ``home``.
    Imported offers carry the source URL and fetch date as ``source``/``as_of``; an imported
    offer never replaces a curated row (both are listed).

    Parameters
    ----------
    source : str, optional
        ``skypilot`` or ``gpuhunt``; default both.
    extra : path, DataFrame or list, optional
        User files applied after the refreshed catalogs (negotiated prices).
    home : path, optional
        Instead of ``$AICOST_HOME``.
    """
    if source is None and home is None:
        return load(extra=extra)
    from ._cache import refreshed_frames, refreshed_stamps

    items = [] if extra is None else ([extra] if isinstance(extra, (str, os.PathLike,
                                                                      pd.DataFrame)) else list(extra))
    return load(extra=[*refreshed_frames(refreshed_stamps(source, home)), *items],
                refreshed=False)


def catalog_status(*, home=None, catalog: Catalog | None = None) -> pd.DataFrame:
    """Per source and provider: offers, newest and oldest ``as_of``, cache location.

    Returns
    -------
    pandas.DataFrame
        Columns ``source, provider, offers, oldest_as_of, newest_as_of, age_days, fetched_at,
        location``; the shipped catalog's providers as source ``shipped``.
    """
    today = _dt.date.today()
    rows = []
    cat = catalog if catalog is not None else load(refreshed=False)
    inst = cat.instances
    for prov, grp in inst.groupby("provider", sort=True):
        dates = grp["as_of"].map(_dt.date.fromisoformat)
        rows.append({"source": "shipped", "provider": prov, "offers": len(grp),
                     "oldest_as_of": min(dates), "newest_as_of": max(dates),
                     "age_days": (today - min(dates)).days, "fetched_at": None,
                     "location": str(cat.files[1]) if len(cat.files) > 1 else ""})
    for path, meta in cached_files(None, home):
        try:
            df = import_cached(path.parent, meta)
        except CatalogError as exc:
            rows.append({"source": meta["source"], "provider": path.parent.name, "offers": 0,
                         "oldest_as_of": None, "newest_as_of": None, "age_days": None,
                         "fetched_at": meta.get("fetched_at"), "location": f"{path} ({exc})"})
            continue
        dates = df["as_of"].map(_dt.date.fromisoformat) if len(df) else pd.Series([], dtype=object)
        rows.append({"source": meta["source"], "provider": meta.get("provider") or path.parent.name,
                     "offers": len(df),
                     "oldest_as_of": min(dates) if len(dates) else None,
                     "newest_as_of": max(dates) if len(dates) else None,
                     "age_days": (today - min(dates)).days if len(dates) else None,
                     "fetched_at": str(meta.get("fetched_at"))[:19], "location": str(path)})
    return pd.DataFrame(rows, columns=["source", "provider", "offers", "oldest_as_of",
                                       "newest_as_of", "age_days", "fetched_at", "location"])


# ============================================================================ age of numbers
def oldest_as_of(rows) -> _dt.date | None:
    """The oldest ``as_of`` among catalog rows.

    Parameters
    ----------
    rows : DataFrame, record, iterable of records/dates, or date
        Anything with an ``as_of`` column or attribute (instances, offers, a plan's table).

    Returns
    -------
    datetime.date or None
        None when there is no date.
    """
    if rows is None:
        return None
    if isinstance(rows, _dt.datetime):
        return rows.date()
    if isinstance(rows, _dt.date):
        return rows
    if isinstance(rows, str):
        return _dt.date.fromisoformat(rows[:10])
    if isinstance(rows, pd.DataFrame):
        if "as_of" not in rows.columns or rows.empty:
            return None
        values = rows["as_of"].dropna()
    elif hasattr(rows, "as_of"):
        return oldest_as_of(rows.as_of)
    else:
        values = list(rows)
    dates = [d for d in (oldest_as_of(getattr(v, "as_of", v)) for v in values) if d is not None]
    return min(dates) if dates else None


def price_age_note(rows, today: _dt.date | None = None, *, max_age_days: int = MAX_AGE_DAYS,
                   always: bool = False) -> str:
    """Say how old the prices are; flag them when older than ``max_age_days``.

    Parameters
    ----------
    rows : see :func:`oldest_as_of`
        The rows (or the date) a plan, report or listing used.
    today : date, optional
    max_age_days : int
        Older prices are flagged [days]; default :data:`MAX_AGE_DAYS` (180).
    always : bool
        Also return a note for fresh prices (``"prices as of 2026-11-30"``).

    Returns
    -------
    str
        ``"prices as of 2025-10-01, 14 months old; run `aicost catalog refresh`"`` for stale
        prices; ``""`` for fresh ones unless ``always``.
    """
    oldest = oldest_as_of(rows)
    if oldest is None:
        return ""
    today = today or _dt.date.today()
    days = (today - oldest).days
    if days <= max_age_days:
        return f"prices as of {oldest.isoformat()}" if always else ""
    months = round(days / 30.44)
    age = f"{months} months old" if months >= 2 else f"{days} days old"
    return f"prices as of {oldest.isoformat()}, {age}; run `aicost catalog refresh`"


# ============================================================================ history
def price_history(accelerator: str | None = None, provider: str | None = None, *, store=None,
                  catalog: Catalog | None = None, include_shipped: bool = True) -> pd.DataFrame:
    """How the price per accelerator-hour of offers moved: refresh history plus shipped rows.

    Parameters
    ----------
    accelerator : str, optional
        Any name or alias (``h100`` -> ``H100-SXM``; a name matching several accelerators by
        prefix, such as ``h100``, takes them all).
    provider : str, optional
    store : Store or path, optional
        Results store holding the history; default the user's store.
    catalog : Catalog, optional
        For the shipped points and accelerator names; default ``load(refreshed=False)``.
    include_shipped : bool
        Add the shipped catalog's rows as points at their ``as_of``.

    Returns
    -------
    pandas.DataFrame
        ``time, source, provider, instance_type, region, accelerator, accelerator_count,
        price_usd_per_gpu_hour, price_spot_usd_per_gpu_hour``, oldest first.
    """
    from ..store import Store

    cat = catalog if catalog is not None else load(refreshed=False)
    names = _accelerator_names(cat, accelerator)
    st = store if isinstance(store, Store) else Store(store)
    hist = st.offer_prices(provider=provider)
    cols = ["time", "source", "provider", "instance_type", "region", "accelerator",
            "accelerator_count", "price_usd_per_gpu_hour", "price_spot_usd_per_gpu_hour"]
    parts = []
    if len(hist):
        h = hist if names is None else hist[hist["accelerator"].isin(names)]
        parts.append(pd.DataFrame({
            "time": pd.to_datetime(h["fetched_at"]), "source": h["source"],
            "provider": h["provider"], "instance_type": h["instance_type"], "region": h["region"],
            "accelerator": h["accelerator"], "accelerator_count": h["accelerator_count"],
            "price_usd_per_gpu_hour": h["price_on_demand_usd_per_hour"] / h["accelerator_count"],
            "price_spot_usd_per_gpu_hour": h["price_spot_usd_per_hour"] / h["accelerator_count"],
        }))
    if include_shipped:
        inst = cat.instances
        sel = inst if names is None else inst[inst["accelerator"].isin(names)]
        if provider is not None:
            sel = sel[sel["provider"].str.lower() == str(provider).lower()]
        parts.append(pd.DataFrame({
            "time": pd.to_datetime(sel["as_of"]), "source": "catalog",
            "provider": sel["provider"], "instance_type": sel["instance_type"],
            "region": sel["region"], "accelerator": sel["accelerator"],
            "accelerator_count": sel["accelerator_count"],
            "price_usd_per_gpu_hour": sel["price_usd_per_gpu_hour"],
            "price_spot_usd_per_gpu_hour": sel["price_spot_usd_per_gpu_hour"],
        }))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    return out.sort_values(["time", "provider", "instance_type", "region"],
                           kind="stable").reset_index(drop=True)


def _accelerator_names(cat: Catalog, accelerator: str | None) -> list[str] | None:
    if accelerator is None:
        return None
    from ._schema import normalize_name

    want = normalize_name(accelerator)
    names = [n for n in cat.names("accelerators") if normalize_name(n).startswith(want)]
    if names:
        return names
    return [cat.accelerator(accelerator).name]  # aliases; raises UnknownNameError with hints


def prices_as_of(date, *, store=None, catalog: Catalog | None = None) -> Catalog:
    """The catalog priced as it was on ``date``, from the price history.

    Each offer gets the latest price recorded at or before the end of ``date`` (refresh
    history); offers with no history keep their catalog price if its ``as_of`` is not after
    ``date`` and are left out otherwise (they were not known then).

    Parameters
    ----------
    date : str, date or datetime
    store : Store or path, optional
        Results store holding the history; default the user's store.
    catalog : Catalog, optional
        Default :func:`load` (shipped plus refreshed catalogs).

    Returns
    -------
    Catalog
        Plan with it as with any catalog (``plan_training(..., catalog=...)``) to re-price a
        plan at an earlier date.
    """
    from ..store import Store
    from ._load import _ORIGIN

    day = oldest_as_of(date)
    if day is None:
        raise ValueError(f"date must be a date YYYY-MM-DD, got {date!r}")
    end = _dt.datetime.combine(day, _dt.time.max)
    cat = catalog if catalog is not None else load()
    st = store if isinstance(store, Store) else Store(store)
    hist = st.offer_prices(until=end)
    latest: dict[tuple, dict] = {}
    for rec in hist.to_dict("records"):  # oldest first: later ones win
        key = (str(rec["provider"]).lower(), str(rec["instance_type"]).lower(),
               str(rec["region"]).lower())
        latest[key] = rec
    rows = []
    for r in cat._rows["instances"]:
        key = (r["provider"].lower(), r["instance_type"].lower(), r["region"].lower())
        rec = latest.get(key)
        if rec is not None and str(rec["accelerator"]) == r["accelerator"]:
            spot = rec["price_spot_usd_per_hour"]
            new = dict(r)
            new["price_on_demand_usd_per_hour"] = float(rec["price_on_demand_usd_per_hour"])
            new["price_spot_usd_per_hour"] = None if pd.isna(spot) else float(spot)
            when = pd.Timestamp(rec["fetched_at"])
            new["as_of"] = when.date()
            new["source"] = (f"price history ({rec['source']}, fetched {when:%Y-%m-%d %H:%M}); "
                             f"offer: {r['source']}")
            new[_ORIGIN] = ("price history", 0)
            rows.append(new)
        elif r["as_of"] <= day:
            rows.append(r)
    tables = {k: list(v) for k, v in cat._rows.items()}
    tables["instances"] = rows
    return Catalog(tables, [*cat.files, f"price history as of {day.isoformat()}"])
