"""Model architectures: :class:`ModelSpec` and the shipped presets (``data/models.csv``).

Parameter counts are computed from the architecture, not copied: a decoder-only
transformer with ``L`` layers, width ``d``, ``a`` query heads and ``k`` key/value
heads of size ``hd``, a feed-forward width ``f`` and vocabulary ``V`` has per layer

* attention: ``d*a*hd`` (Q) + ``2*d*k*hd`` (K, V) + ``a*hd*d`` (output)
  (+ ``(a + 2k)*hd`` when the QKV projections carry a bias, as in Qwen2.5,
  and ``4*d`` more biases in GPT-style models with ``bias=True``);
* feed-forward: ``3*d*f`` for gated units (SwiGLU, GeGLU), ``2*d*f`` for GELU MLPs,
  per expert, plus a ``d*E`` router for mixture-of-experts layers;
* norms: ``norms_per_layer*d`` (RMSNorm; LayerNorm with bias doubles it);

plus ``V*d`` input embeddings, ``V*d`` output projection unless tied, and a
learned position table ``seq_len*d`` where the model has one (GPT-3, OPT).
``n_active_params`` counts ``experts_per_token`` experts instead of all of them.

Mixture-of-experts models as released in 2024-25 are heterogeneous: DeepSeek-V3 keeps its
first three layers dense (``n_dense_layers``), Llama 4 Maverick alternates dense and MoE
layers (``moe_layer_step=2``), DeepSeek-V3 and Llama 4 add always-active shared experts
(``n_shared_experts``), and expert FFNs are narrower than the dense FFN (``moe_d_ff`` beside
``d_ff``). Multi-head latent attention (MLA, DeepSeek-V2/V3) replaces the K/V projections by a
low-rank path: ``d*q_lora`` + ``q_lora*a*(hd+rope)`` (queries), ``d*(kv_lora+rope)`` +
``kv_lora*a*(hd+v_hd)`` (keys/values), ``a*v_hd*d`` (output), and caches only
``kv_lora + rope`` values per token and layer. ``layer_params`` and ``active_layer_params``
are then the mean over the layers, so ``n_layers * layer_params`` stays the block total.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .._errors import CatalogError, UnknownNameError
from .._paths import data_dir

__all__ = ["FFN_TYPES", "ModelSpec", "get_model", "list_models", "load_models", "resolve_model"]

#: feed-forward kinds: gated units have three d x f matrices, plain MLPs two
FFN_TYPES = {"swiglu": 3, "geglu": 3, "gelu": 2, "relu": 2}


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer's architecture.

    Parameters
    ----------
    name : str
        Display name.
    n_layers : int
        Transformer blocks.
    d_model : int
        Hidden size.
    n_heads : int
        Query heads.
    n_kv_heads : int, optional
        Key/value heads (grouped-query attention); defaults to ``n_heads`` (multi-head).
    d_ff : int
        Feed-forward inner size (per expert for mixture-of-experts models).
    vocab_size : int
        Vocabulary.
    seq_len : int
        Context length the model supports [tokens].
    ffn : {"swiglu", "geglu", "gelu", "relu"}
        Feed-forward kind.
    head_dim : int, optional
        Per-head size when it is not ``d_model // n_heads`` (Gemma 2).
    n_experts, experts_per_token : int
        Mixture-of-experts: routed experts per MoE layer and experts each token is routed to.
    n_shared_experts : int
        Experts every token passes through in each MoE layer (DeepSeek-V3, Llama 4); 0 by default.
    moe_d_ff : int, optional
        Inner size of one expert's FFN when it differs from ``d_ff`` (which then is the dense
        layers' FFN size); defaults to ``d_ff``.
    n_dense_layers : int
        Leading layers of a mixture-of-experts model that have a dense FFN (DeepSeek-V3: 3).
    moe_layer_step : int
        Every ``moe_layer_step``-th layer after the dense ones is a MoE layer (Llama 4 Maverick: 2).
    q_lora_rank, kv_lora_rank, qk_rope_head_dim, v_head_dim : int, optional
        Multi-head latent attention (DeepSeek-V3): query and key/value compression ranks, the
        decoupled RoPE key size and the value head size. ``kv_lora_rank`` set means MLA.
    tied_embeddings : bool
        Whether the output projection reuses the input embedding matrix.
    qkv_bias : bool
        Biases on the Q, K, V projections (Qwen2.5).
    bias : bool
        Biases on every linear layer and LayerNorm (GPT-3, OPT).
    learned_pos_emb : bool
        A learned position table of ``seq_len x d_model`` (GPT-3, OPT).
    norms_per_layer : int
        Normalisation layers per block (2 for pre-norm; Gemma 2 has 4).
    train_seq_len : int, optional
        Sequence length of pre-training [tokens]; defaults to ``seq_len``.
    published_params : float, optional
        Parameter count stated by the source (for validation only).
    published_active_params : float, optional
        Active parameters per token stated by the source (validation only; sources differ on
        whether the input embedding counts, see ``data/models.csv``).
    dropout : bool
        Trained with dropout (GPT-3-era Megatron-LM models): activation memory keeps the two
        1-byte dropout masks per layer of Korthikanti et al.'s ``34``; False (Llama, Mistral,
        Qwen, DeepSeek and most models since 2023 train without dropout, and PyTorch's
        ``dropout(p=0)`` returns its input without a mask).
    n_expert_groups, expert_groups_per_token : int, optional
        Group-limited (node-limited) routing: the routed experts form ``n_expert_groups``
        equal groups and each token picks its ``experts_per_token`` experts inside
        ``expert_groups_per_token`` of them (DeepSeek-V3: 8 groups, 4 per token, config.json
        ``n_group`` / ``topk_group``, arXiv:2412.19437 Sec. 2.1.2: "each token will be sent to at
        most M = 4 nodes"). None: unrestricted top-k. Bounds the nodes a token's dispatch reaches
        (``aicost.model.ep_dispatch_copies``).
    aliases : tuple of str
        Other names ``get_model`` accepts.
    source, as_of : str
        Where the configuration comes from and when it was checked.
    """

    name: str
    n_layers: int
    d_model: int
    n_heads: int
    d_ff: int
    vocab_size: int
    seq_len: int
    n_kv_heads: int | None = None
    ffn: str = "swiglu"
    head_dim: int | None = None
    n_experts: int = 1
    experts_per_token: int = 1
    tied_embeddings: bool = False
    qkv_bias: bool = False
    bias: bool = False
    learned_pos_emb: bool = False
    norms_per_layer: int = 2
    train_seq_len: int | None = None
    published_params: float | None = None
    n_shared_experts: int = 0
    moe_d_ff: int | None = None
    n_dense_layers: int = 0
    moe_layer_step: int = 1
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    published_active_params: float | None = None
    dropout: bool = False
    n_expert_groups: int | None = None
    expert_groups_per_token: int | None = None
    aliases: tuple[str, ...] = field(default=(), compare=False)
    source: str = field(default="user", compare=False)
    as_of: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_ff", "vocab_size", "seq_len",
                     "n_experts", "experts_per_token", "norms_per_layer"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int,)) or v <= 0:
                if isinstance(v, float) and v.is_integer() and v > 0:
                    object.__setattr__(self, name, int(v))
                    continue
                raise ValueError(f"ModelSpec {self.name!r}: {name} must be a positive integer, got {v!r}")
        if self.n_kv_heads is None:
            object.__setattr__(self, "n_kv_heads", self.n_heads)
        for name in ("n_shared_experts", "n_dense_layers"):
            v = getattr(self, name)
            if isinstance(v, float) and v.is_integer():
                v = int(v)
                object.__setattr__(self, name, v)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"ModelSpec {self.name!r}: {name} must be a non-negative integer, got {v!r}")
        for name in ("n_kv_heads", "head_dim", "train_seq_len", "moe_d_ff", "q_lora_rank", "kv_lora_rank",
                     "qk_rope_head_dim", "v_head_dim", "moe_layer_step", "n_expert_groups",
                     "expert_groups_per_token"):
            v = getattr(self, name)
            if v is not None:
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                    object.__setattr__(self, name, v)
                if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                    raise ValueError(
                        f"ModelSpec {self.name!r}: {name} must be a positive integer or None, got {v!r}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"ModelSpec {self.name!r}: n_heads ({self.n_heads}) must be a multiple of "
                f"n_kv_heads ({self.n_kv_heads}) for grouped-query attention")
        if self.head_dim is None and self.d_model % self.n_heads:
            raise ValueError(
                f"ModelSpec {self.name!r}: d_model ({self.d_model}) is not divisible by n_heads "
                f"({self.n_heads}); give head_dim explicitly")
        ffn = str(self.ffn).lower()
        if ffn not in FFN_TYPES:
            raise ValueError(
                f"ModelSpec {self.name!r}: ffn must be one of {', '.join(FFN_TYPES)}, got {self.ffn!r}")
        object.__setattr__(self, "ffn", ffn)
        if self.experts_per_token > self.n_experts:
            raise ValueError(
                f"ModelSpec {self.name!r}: experts_per_token ({self.experts_per_token}) exceeds "
                f"n_experts ({self.n_experts})")
        if self.moe_layer_step is None:
            object.__setattr__(self, "moe_layer_step", 1)
        if self.n_dense_layers >= self.n_layers:
            raise ValueError(
                f"ModelSpec {self.name!r}: n_dense_layers ({self.n_dense_layers}) must be under n_layers "
                f"({self.n_layers})")
        if self.kv_lora_rank is not None and self.qk_rope_head_dim is None:
            raise ValueError(f"ModelSpec {self.name!r}: multi-head latent attention (kv_lora_rank set) "
                             "needs qk_rope_head_dim too")
        groups, per_token = self.n_expert_groups, self.expert_groups_per_token
        if (groups is None) != (per_token is None):
            raise ValueError(f"ModelSpec {self.name!r}: group-limited routing needs both n_expert_groups and "
                             "expert_groups_per_token (or neither)")
        if groups is not None:
            if self.n_experts % groups or per_token > groups:
                raise ValueError(
                    f"ModelSpec {self.name!r}: n_expert_groups ({groups}) must divide n_experts ({self.n_experts}) "
                    f"and expert_groups_per_token ({per_token}) must not exceed it")
            if self.experts_per_token > per_token * (self.n_experts // groups):
                raise ValueError(
                    f"ModelSpec {self.name!r}: experts_per_token ({self.experts_per_token}) exceeds the experts of "
                    f"{per_token} groups of {self.n_experts // groups}")
        object.__setattr__(self, "aliases", tuple(self.aliases))

    # ---- derived sizes -------------------------------------------------------------
    @property
    def d_head(self) -> int:
        """Per-head size [elements]."""
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads

    @property
    def d_attn(self) -> int:
        """Width of the query/attention output (``n_heads * head_dim``)."""
        return self.n_heads * self.d_head

    @property
    def attn_flops_width(self) -> float:
        """Mean width of attention's two products over the sequence [elements]:
        ``n_heads * (qk_head + v_head) / 2``, so a token's attention core costs ``4 * width * s``
        FLOPs per layer forward (``QK^T`` over the query/key head size, ``(softmax) V`` over the value
        head size). ``d_attn`` for standard attention; MLA's queries and keys carry the decoupled
        RoPE part too (DeepSeek-V3: ``128 * (192 + 128) / 2``)."""
        if not self.is_mla:
            return float(self.d_attn)
        return self.n_heads * (self.d_head + self.qk_rope_head_dim + self.d_v_head) / 2.0

    @property
    def d_kv(self) -> int:
        """Width of the key (or value) projection (``n_kv_heads * head_dim``)."""
        return self.n_kv_heads * self.d_head

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model."""
        return self.n_experts > 1

    @property
    def pretrain_seq_len(self) -> int:
        """Sequence length used for training estimates by default [tokens]."""
        return self.train_seq_len or self.seq_len

    @property
    def is_mla(self) -> bool:
        """True for multi-head latent attention (DeepSeek-V2/V3)."""
        return self.kv_lora_rank is not None

    @property
    def d_v_head(self) -> int:
        """Value head size [elements] (MLA may differ from the query/key head size)."""
        return self.v_head_dim if self.v_head_dim is not None else self.d_head

    @property
    def expert_d_ff(self) -> int:
        """Inner FFN size of one expert [elements] (``moe_d_ff``, else ``d_ff``)."""
        return self.moe_d_ff if self.moe_d_ff is not None else self.d_ff

    @property
    def n_moe_layers(self) -> int:
        """Layers with a mixture-of-experts FFN (0 for a dense model)."""
        if not self.is_moe:
            return 0
        return (self.n_layers - self.n_dense_layers) // self.moe_layer_step

    @property
    def attn_params_per_layer(self) -> int:
        """Attention parameters in one block (projections and their biases)."""
        d = self.d_model
        if self.is_mla:
            a, hd, rope, vd = self.n_heads, self.d_head, self.qk_rope_head_dim, self.d_v_head
            if self.q_lora_rank:
                q = d * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * a * (hd + rope)
            else:
                q = d * a * (hd + rope)
            kv = d * (self.kv_lora_rank + rope) + self.kv_lora_rank + self.kv_lora_rank * a * (hd + vd)
            return q + kv + a * vd * d
        p = d * self.d_attn * 2 + d * self.d_kv * 2
        if self.qkv_bias or self.bias:
            p += self.d_attn + 2 * self.d_kv
        if self.bias:
            p += d
        return p

    @property
    def ffn_params_per_expert(self) -> int:
        """Feed-forward parameters of one expert (the whole MLP for a dense model)."""
        p = FFN_TYPES[self.ffn] * self.d_model * self.expert_d_ff
        if self.bias:
            p += self.expert_d_ff + self.d_model
        return p

    @property
    def dense_ffn_params(self) -> int:
        """Feed-forward parameters of a dense layer (``d_ff`` wide)."""
        p = FFN_TYPES[self.ffn] * self.d_model * self.d_ff
        if self.bias:
            p += self.d_ff + self.d_model
        return p

    @property
    def norm_params_per_layer(self) -> int:
        """Normalisation parameters in one block."""
        return self.norms_per_layer * self.d_model * (2 if self.bias else 1)

    @property
    def router_params_per_layer(self) -> float:
        """Router (gate) parameters per block (mean over blocks: only MoE blocks have one)."""
        return self.d_model * self.n_experts * self.n_moe_layers / self.n_layers if self.is_moe else 0

    def _blocks_params(self, experts_in_moe_layer: int) -> int:
        """Sum over all blocks with ``experts_in_moe_layer`` expert FFNs per MoE layer."""
        n_moe = self.n_moe_layers
        common = self.attn_params_per_layer + self.norm_params_per_layer
        moe = common + (experts_in_moe_layer + self.n_shared_experts) * self.ffn_params_per_expert \
            + self.d_model * self.n_experts
        dense = common + self.dense_ffn_params
        return n_moe * moe + (self.n_layers - n_moe) * dense

    @staticmethod
    def _mean(total: int, n: int):
        return total // n if total % n == 0 else total / n

    @property
    def layer_params(self) -> int | float:
        """Parameters of one block, all experts (mean over blocks when they differ)."""
        return self._mean(self._blocks_params(self.n_experts), self.n_layers)

    @property
    def active_layer_params(self) -> int | float:
        """Parameters of one block a token passes through (``experts_per_token`` routed plus the
        shared experts; mean over blocks when they differ)."""
        return self._mean(self._blocks_params(self.experts_per_token), self.n_layers)

    @property
    def active_ffn_width(self) -> float:
        """Mean FFN inner width one token passes through per block [elements]
        (``(k + shared) * moe_d_ff`` in MoE blocks, ``d_ff`` in dense ones)."""
        n_moe = self.n_moe_layers
        moe = (self.experts_per_token + self.n_shared_experts) * self.expert_d_ff
        return (n_moe * moe + (self.n_layers - n_moe) * self.d_ff) / self.n_layers

    @property
    def embedding_params(self) -> int:
        """Input embedding (+ learned positions) parameters."""
        p = self.vocab_size * self.d_model
        if self.learned_pos_emb:
            p += self.seq_len * self.d_model
        return p

    @property
    def head_params(self) -> int:
        """Output projection parameters counted separately (0 when tied)."""
        return 0 if self.tied_embeddings else self.vocab_size * self.d_model

    @property
    def final_norm_params(self) -> int:
        return self.d_model * (2 if self.bias else 1)

    @property
    def n_params(self) -> int:
        """Total parameters (all experts) computed from the architecture."""
        return (self._blocks_params(self.n_experts) + self.embedding_params + self.head_params
                + self.final_norm_params)

    @property
    def n_active_params(self) -> int:
        """Parameters used per token (mixture-of-experts: routed experts only)."""
        return (self._blocks_params(self.experts_per_token) + self.embedding_params
                + self.head_params + self.final_norm_params)

    @property
    def n_matmul_params(self) -> int:
        """Active parameters that take part in matrix multiplies per token [FLOP/2 per token].

        The input embedding is a lookup (no FLOPs); the output projection is a
        matmul with ``V*d`` weights whether tied or not; normalisation weights do no matmul.
        This is the ``N`` of
        ``6ND`` (Kaplan et al. 2020 count non-embedding parameters; PaLM counts all).
        """
        return (self._blocks_params(self.experts_per_token) - self.n_layers * self.norm_params_per_layer
                + self.vocab_size * self.d_model)

    def kv_bytes_per_token(self, dtype: str = "bf16") -> int:
        """KV-cache bytes one token occupies across all layers (``2*L*kv_heads*head_dim*bytes``;
        MLA caches the compressed ``L*(kv_lora_rank + qk_rope_head_dim)`` instead)."""
        from .._units import DTYPE_BYTES, normalize_dtype

        if self.is_mla:
            return self.n_layers * (self.kv_lora_rank + self.qk_rope_head_dim) * DTYPE_BYTES[normalize_dtype(dtype)]
        return 2 * self.n_layers * self.d_kv * DTYPE_BYTES[normalize_dtype(dtype)]

    def with_(self, **changes) -> ModelSpec:
        """A copy with some fields changed (``spec.with_(seq_len=8192)``)."""
        return replace(self, **changes)

    def __str__(self) -> str:
        shared = f" + {self.n_shared_experts} shared" if self.n_shared_experts else ""
        moe = f", {self.n_experts} experts (top-{self.experts_per_token}{shared})" if self.is_moe else ""
        return (f"{self.name}: {self.n_params / 1e9:.2f}B params ({self.n_active_params / 1e9:.2f}B active), "
                f"{self.n_layers} layers, d_model {self.d_model}, {self.n_heads} heads / "
                f"{self.n_kv_heads} KV heads{moe}, {self.ffn} d_ff {self.d_ff}, vocab {self.vocab_size}, "
                f"context {self.seq_len}")

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in [("parameters", f"{self.n_params / 1e9:.2f} B"),
                         ("active parameters", f"{self.n_active_params / 1e9:.2f} B"),
                         ("layers", self.n_layers), ("d_model", self.d_model),
                         ("heads / KV heads", f"{self.n_heads} / {self.n_kv_heads} (head dim {self.d_head})"),
                         ("FFN", f"{self.ffn}, d_ff {self.d_ff}"),
                         ("experts", f"{self.n_experts} (top-{self.experts_per_token})"),
                         ("vocab", self.vocab_size), ("context", self.seq_len),
                         ("KV cache per token (bf16)", f"{self.kv_bytes_per_token() / 1024:.0f} KiB"),
                         ("source", self.source)])
        return f"<table><caption><b>{html.escape(self.name)}</b></caption>{rows}</table>"


# ---- presets --------------------------------------------------------------------------
_INT_COLS = ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_ff", "vocab_size", "seq_len",
             "n_experts", "experts_per_token")
_OPT_INT_COLS = ("head_dim", "train_seq_len", "norms_per_layer", "moe_d_ff", "moe_layer_step", "q_lora_rank",
                 "kv_lora_rank", "qk_rope_head_dim", "v_head_dim", "n_expert_groups", "expert_groups_per_token")
_NONNEG_INT_COLS = ("n_shared_experts", "n_dense_layers")
_BOOL_COLS = ("tied_embeddings", "qkv_bias", "bias", "learned_pos_emb", "dropout")
_REQUIRED = ("name", *_INT_COLS, "ffn", "tied_embeddings", "source", "as_of")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _models_path() -> Path:
    return data_dir() / "models.csv"


def load_models(path: str | Path | None = None) -> dict[str, ModelSpec]:
    """Read a model-preset CSV (default: the shipped ``data/models.csv``).

    Lines starting with ``#`` are comments. Every row is validated; a bad value
    raises :class:`aicost.CatalogError` naming the file, line and column.

    Returns
    -------
    dict
        ``{name: ModelSpec}`` in file order.
    """
    path = Path(path) if path is not None else _models_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read model presets: {exc}", path=str(path)) from None
    lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbered:
        raise CatalogError("no header row", path=str(path))
    reader = csv.reader([ln for _, ln in numbered])
    header = [h.strip() for h in next(reader)]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise CatalogError(f"missing column(s) {', '.join(missing)}", path=str(path), row=numbered[0][0])
    known = {f.name for f in fields(ModelSpec)}
    out: dict[str, ModelSpec] = {}
    seen: dict[str, str] = {}
    for (lineno, _), row in zip(numbered[1:], reader):
        if len(row) != len(header):
            raise CatalogError(f"expected {len(header)} fields, found {len(row)}", path=str(path), row=lineno)
        rec = dict(zip(header, (c.strip() for c in row)))
        kw: dict[str, object] = {}
        for col, val in rec.items():
            if col not in known:
                continue
            if col in _INT_COLS or col in _OPT_INT_COLS:
                if val == "":
                    if col in _INT_COLS and col not in ("n_kv_heads",):
                        raise CatalogError("value is required", path=str(path), row=lineno, column=col)
                    continue
                try:
                    f = float(val)
                except ValueError:
                    raise CatalogError(f"expected a positive integer, got {val!r}",
                                       path=str(path), row=lineno, column=col) from None
                if not f.is_integer() or f <= 0:
                    raise CatalogError(f"expected a positive integer, got {val!r}",
                                       path=str(path), row=lineno, column=col)
                kw[col] = int(f)
            elif col in _NONNEG_INT_COLS:
                if val == "":
                    continue
                try:
                    f = float(val)
                except ValueError:
                    f = -1.0
                if not f.is_integer() or f < 0:
                    raise CatalogError(f"expected a non-negative integer, got {val!r}",
                                       path=str(path), row=lineno, column=col)
                kw[col] = int(f)
            elif col in _BOOL_COLS:
                low = val.lower()
                if low not in _TRUE | _FALSE:
                    raise CatalogError(f"expected true/false, got {val!r}", path=str(path), row=lineno, column=col)
                kw[col] = low in _TRUE
            elif col in ("published_params", "published_active_params"):
                if val:
                    try:
                        kw[col] = float(val)
                    except ValueError:
                        raise CatalogError(f"expected a number, got {val!r}",
                                           path=str(path), row=lineno, column=col) from None
            elif col == "aliases":
                kw[col] = tuple(a.strip() for a in val.split(";") if a.strip())
            else:
                if col in ("name", "source", "as_of", "ffn") and not val:
                    raise CatalogError("value is required", path=str(path), row=lineno, column=col)
                kw[col] = val
        try:
            spec = ModelSpec(**kw)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            col = next((c for c in header if f" {c} " in f" {msg} " or msg.startswith(f"{c}")), None)
            raise CatalogError(msg, path=str(path), row=lineno, column=col) from None
        for key in (spec.name, *spec.aliases):
            k = _key(key)
            if k in seen and seen[k] != spec.name:
                raise CatalogError(f"name {key!r} already used by {seen[k]!r}", path=str(path), row=lineno,
                                   column="name" if key == spec.name else "aliases")
            seen[k] = spec.name
        out[spec.name] = spec
    return out


def _key(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum() or ch == ".")


@functools.lru_cache(maxsize=4)
def _presets(path: str | None = None) -> tuple[dict[str, ModelSpec], dict[str, str]]:
    models = load_models(path)
    index = {}
    for spec in models.values():
        for key in (spec.name, *spec.aliases):
            index[_key(key)] = spec.name
    return models, index


def list_models() -> list[str]:
    """Names of the shipped model presets, in file order."""
    return list(_presets()[0])


def get_model(name: str | ModelSpec) -> ModelSpec:
    """Return a preset by name (case-insensitive; aliases; ``-``/``_``/space ignored).

    A :class:`ModelSpec` is returned unchanged.

    Raises
    ------
    aicost.UnknownNameError
        For an unknown name, with the closest known names.
    """
    if isinstance(name, ModelSpec):
        return name
    models, index = _presets()
    hit = index.get(_key(name))
    if hit is None:
        choices = list(models) + [a for s in models.values() for a in s.aliases]
        raise UnknownNameError("model", str(name), choices,
                               hint="(aicost.model.list_models() lists them; define others with ModelSpec)")
    return models[hit]


def resolve_model(model) -> ModelSpec:
    """A `ModelSpec` from a preset name or a spec (the planners' ``model`` argument).

    Raises
    ------
    aicost.UnknownNameError
        For an unknown preset name (closest names suggested).
    TypeError
        For anything that is neither a name nor a model spec.
    """
    if isinstance(model, str):
        return get_model(model)
    if not hasattr(model, "n_layers"):
        raise TypeError(f"model must be a model name or an aicost.model.ModelSpec, got {type(model).__name__}")
    return model


def _spec_check(spec: object) -> ModelSpec:
    if isinstance(spec, str):
        return get_model(spec)
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"expected a ModelSpec or a preset name, got {type(spec).__name__}")
    return spec


