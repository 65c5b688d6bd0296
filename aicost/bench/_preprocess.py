"""CPU preprocessing throughput: how many vCPUs keep one accelerator fed.

Two named pipelines, each on one CPU thread (the rate is per vCPU; data loaders scale it with
worker processes):

* ``"text"``: byte-level BPE tokenization with Hugging Face ``tokenizers`` (the Rust library
  behind most LLM data pipelines). The tokenizer is trained in-process on generated text (an
  8,000-token byte-level BPE), so nothing is downloaded; then generated documents are encoded one
  at a time. Reports tokens/s and input bytes/s per vCPU.
* ``"jpeg"``: decode a JPEG (1024 x 768, quality 90, generated in-process: smooth gradients plus
  noise, so it compresses like a photograph rather than like noise) and resize it to 224 x 224
  with Pillow, as ImageNet-style training loaders do. Reports images/s per vCPU.

Both need the ``preprocess`` extra (``pip install aicost[preprocess]``: Pillow, tokenizers).
Default figures measured on the development machine are shipped in
``data/preprocess_rates.csv`` (:func:`default_preprocess_rates`); the planner divides an
accelerator's consumption rate by them to get the vCPUs a GPU needs.
"""

from __future__ import annotations

import csv
import os
import platform
import time

import numpy as np

__all__ = ["PREPROCESS_PIPELINES", "default_preprocess_rates", "preprocess_throughput"]

PREPROCESS_PIPELINES = ("text", "jpeg")
_SYLLABLES = ("ka", "to", "ri", "en", "the", "and", "ion", "ing", "er", "st", "pa", "lo", "mi", "qu",
              "ex", "al", "or", "un", "re", "de", "co", "ly", "at", "is")


def _require(module: str, extra: str = "preprocess"):
    import importlib

    from .._errors import BackendUnavailableError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendUnavailableError(
            f"the {module!r} package is needed for this CPU pipeline: pip install 'aicost[{extra}]'") from None


def _generated_text(n_docs: int, words_per_doc: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = ["".join(rng.choice(_SYLLABLES, size=rng.integers(1, 4))) for _ in range(5000)]
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    p = zipf / zipf.sum()
    docs = []
    for _ in range(n_docs):
        words = rng.choice(vocab, size=words_per_doc, p=p)
        docs.append(" ".join(words) + ". " + str(int(rng.integers(0, 10**6))))
    return docs


def _text_rate(seconds: float, seed: int) -> dict:
    tokenizers = _require("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8000, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_generated_text(400, 400, seed), trainer=trainer)
    docs = _generated_text(200, 600, seed + 1)
    for d in docs[:5]:  # warm-up
        tok.encode(d)
    n_tok = n_bytes = 0
    t0 = time.perf_counter()
    i = 0
    while True:
        d = docs[i % len(docs)]
        n_tok += len(tok.encode(d).ids)
        n_bytes += len(d.encode())
        i += 1
        el = time.perf_counter() - t0
        if el >= seconds and i >= len(docs):
            break
    return {"pipeline": "text", "rate_per_vcpu": n_tok / el, "unit": "tokens/s",
            "bytes_per_s_per_vcpu": n_bytes / el, "items": i, "elapsed_s": el,
            "library": f"tokenizers {tokenizers.__version__} (byte-level BPE, 8000 tokens, trained in-process)"}


def _jpeg_bytes(width: int, height: int, seed: int) -> bytes:
    import io

    Image = _require("PIL.Image")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 / width), (y * 255 / height), ((x + y) * 127 / (width + height))], axis=-1)
    img = np.clip(base + rng.normal(0, 18, size=base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _jpeg_rate(seconds: float, seed: int, size=(1024, 768), out=(224, 224)) -> dict:
    import io

    PIL = _require("PIL")
    Image = _require("PIL.Image")
    data = _jpeg_bytes(size[0], size[1], seed)
    resample = Image.Resampling.BILINEAR

    def one():
        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB").resize(out, resample))
        return arr

    for _ in range(3):
        one()
    n = 0
    t0 = time.perf_counter()
    while True:
        one()
        n += 1
        el = time.perf_counter() - t0
        if el >= seconds and n >= 10:
            break
    return {"pipeline": "jpeg", "rate_per_vcpu": n / el, "unit": "images/s",
            "bytes_per_s_per_vcpu": n * len(data) / el, "items": n, "elapsed_s": el,
            "library": f"Pillow {PIL.__version__} (decode {size[0]}x{size[1]} q90, bilinear resize to "
                       f"{out[0]}x{out[1]})"}


def preprocess_throughput(pipeline: str = "text", *, seconds: float = 2.0, seed: int = 0) -> dict:
    """Measure one CPU preprocessing pipeline on one thread of this machine.

    Parameters
    ----------
    pipeline : {"text", "jpeg"}
        Tokenization of generated text, or JPEG decode + resize (module docstring).
    seconds : float [s]
        Minimum measuring time (after warm-up).
    seed : int
        Seed of the generated inputs (deterministic inputs, measured rates vary by machine).

    Returns
    -------
    dict
        ``pipeline, rate_per_vcpu, unit`` (tokens/s or images/s), ``bytes_per_s_per_vcpu``,
        ``items, elapsed_s, library, cpu_model, python``.

    Raises
    ------
    ValueError
        For an unknown pipeline or a non-positive duration.
    aicost.BackendUnavailableError
        When Pillow or tokenizers is missing (says which extra installs it).
    """
    if pipeline not in PREPROCESS_PIPELINES:
        import difflib

        close = difflib.get_close_matches(str(pipeline), PREPROCESS_PIPELINES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown pipeline {pipeline!r}: choose one of {', '.join(PREPROCESS_PIPELINES)}{hint}")
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    res = _text_rate(seconds, seed) if pipeline == "text" else _jpeg_rate(seconds, seed)
    res["cpu_model"] = _cpu_model()
    res["python"] = platform.python_version()
    return res


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_preprocess_rates() -> dict:
    """Shipped per-vCPU rates (``data/preprocess_rates.csv``): ``{pipeline: rate_per_vcpu}``
    with the unit, machine and date in the file."""
    from .._paths import data_dir

    path = data_dir() / "preprocess_rates.csv"
    with open(path, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(ln for ln in f if not ln.startswith("#"))]
    return {r["pipeline"]: float(r["rate_per_vcpu"]) for r in rows}


# rayon would otherwise use every core for tokenizers' batch calls; we time single encodes anyway
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
