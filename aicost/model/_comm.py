"""Collective and point-to-point times for the models' array kernels (arrays broadcast).

Built on ``aicost.network.collective_time`` (the alpha-beta models, ring algorithm); the
efficiency factors that scale the bandwidths come from ``aicost.hardware`` /
``aicost.calibrate`` and are applied by the caller.
"""

from __future__ import annotations

import numpy as np

from ..network import collective_time as _net

__all__ = [
    "EP_DISPATCHERS",
    "allreduce_time",
    "collective_time",
    "ep_dispatch_copies",
    "hierarchical_allreduce_time",
    "p2p_time",
]

#: Expert-parallel token dispatchers the models know (``ep_dispatch_copies``): ``"alltoall"`` sends one
#: copy of a token per routed expert (Megatron-Core's MoEAlltoAllTokenDispatcher, NCCL all-to-all);
#: ``"deepep"`` sends one copy per destination scale-up domain over the scale-out fabric and forwards it
#: over the scale-up fabric inside that domain (DeepEP's normal kernels, Megatron-Core's flex dispatcher,
#: DeepSeek-V3's own dispatch, arXiv:2412.19437 Sec. 3.2.2).
EP_DISPATCHERS = ("alltoall", "deepep")


def collective_time(op: str, nbytes, n, bandwidth_bytes_per_s, latency_s):
    """Time of a ring collective ``op`` of ``nbytes`` [B] among ``n`` ranks [s] (arrays broadcast).

    Uses ``aicost.network.collective_time`` (the project's alpha-beta models; ``nbytes`` as
    nccl-tests counts it). Its model is ``a(p) * alpha + b(p) * nbytes / bandwidth``; for large
    arrays the coefficients are taken from it once per distinct rank count (a table over
    ``1..max(n)``) and applied here, which gives the same numbers at a fraction of the cost.
    Ranks of 1 cost 0.
    """
    n_arr = np.asarray(n, dtype=float)
    if n_arr.size < 4096:
        return _net(op, nbytes, n_arr, bandwidth_bytes_per_s=bandwidth_bytes_per_s, latency_s=latency_s,
                    algorithm="ring")
    if np.any(n_arr < 1) or np.any(n_arr != np.floor(n_arr)):
        raise ValueError(f"the number of ranks must be a whole number >= 1, got {n!r}")
    ranks = np.arange(1, int(n_arr.max()) + 1, dtype=float)
    a = np.asarray(_net(op, 0.0, ranks, bandwidth_bytes_per_s=1.0, latency_s=1.0, algorithm="ring"))
    b = np.asarray(_net(op, 1.0, ranks, bandwidth_bytes_per_s=1.0, latency_s=0.0, algorithm="ring"))
    idx = n_arr.astype(np.int64) - 1
    return (a[idx] * np.asarray(latency_s, dtype=float)
            + b[idx] * np.asarray(nbytes, dtype=float) / np.asarray(bandwidth_bytes_per_s, dtype=float))


def allreduce_time(nbytes, n, bandwidth_bytes_per_s, latency_s):
    """Ring all-reduce time [s]: ``2(n-1)(alpha + nbytes/(n*beta))``."""
    return collective_time("allreduce", nbytes, n, bandwidth_bytes_per_s, latency_s)


def hierarchical_allreduce_time(nbytes, n_local, n_nodes, local_bw, local_lat, remote_bw, remote_lat):
    """Two-level all-reduce [s]: reduce-scatter inside the node, all-reduce of the
    ``1/n_local`` shard across nodes (each GPU on its own NIC share), all-gather inside the node.

    ``remote_bw`` is per GPU [B/s].
    """
    nbytes = np.asarray(nbytes, dtype=float)
    n_local = np.asarray(n_local, dtype=float)
    t_local = (collective_time("reduce_scatter", nbytes, n_local, local_bw, local_lat)
               + collective_time("allgather", nbytes, n_local, local_bw, local_lat))
    t_remote = collective_time("allreduce", nbytes / np.maximum(n_local, 1.0), n_nodes,
                               remote_bw, remote_lat)
    return t_local + t_remote


def p2p_time(nbytes, bandwidth_bytes_per_s, latency_s):
    """Point-to-point send time [s]: ``alpha + nbytes/beta``."""
    return np.asarray(latency_s, dtype=float) + np.asarray(nbytes, dtype=float) / bandwidth_bytes_per_s


def _ratio_comb(a, b, k: int):
    """``C(a, k) / C(b, k)`` for arrays ``a <= b`` (0 where ``a < k``)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = np.ones(np.broadcast(a, b).shape)
    for i in range(k):
        out = out * np.clip(a - i, 0.0, None) / np.maximum(b - i, 1.0)
    return out


def _p_block_unhit(spec, block_experts):
    """Probability that none of a token's routed experts lies in a block of ``block_experts`` experts.

    Routing is uniform (balanced): the token picks ``M`` of ``G`` expert groups uniformly (``M = G = 1``
    without group-limited routing), then ``k`` distinct experts uniformly among the ``M q`` experts of
    those groups (``q = E / G``). A block of ``s >= q`` experts holds ``t = s / q`` whole groups (rounded
    up when it does not divide: an approximation), a smaller one lies in one group; the number ``x`` of
    chosen groups among the block's is hypergeometric and the block is missed with probability
    ``C(M q - x o, k) / C(M q, k)`` (``o`` = the block's experts per group it touches).
    """
    import math

    e, k = spec.n_experts, spec.experts_per_token
    g_all = spec.n_expert_groups or 1
    m = spec.expert_groups_per_token or 1
    q = e / g_all
    s = np.asarray(block_experts, dtype=float)
    t = np.clip(np.ceil(s / q - 1e-9), 1.0, g_all)
    o = np.minimum(s, q) if g_all > 1 else s
    o = np.where(s >= q, s / t, o)
    ti = t.astype(np.int64)
    hyp = np.zeros((g_all + 1, m + 1))  # hyp[t, x] = C(t, x) C(G - t, M - x) / C(G, M)
    for tt in range(g_all + 1):
        for x in range(min(tt, m) + 1):
            hyp[tt, x] = math.comb(tt, x) * math.comb(g_all - tt, m - x) / math.comb(g_all, m)
    pool = m * q
    out = np.zeros(np.shape(s))
    for x in range(m + 1):
        out = out + hyp[ti, x] * _ratio_comb(pool - x * o, pool, k)
    return out


def ep_dispatch_copies(spec, ep, ranks_per_domain, dispatcher: str = "alltoall"):
    """Copies of one token's hidden vector one expert-parallel dispatch sends, per fabric (arrays broadcast).

    The ``ep`` ranks of an expert-parallel group sit ``ranks_per_domain`` to a scale-up domain (a node,
    an NVL72 rack), ``ceil(ep / ranks_per_domain)`` domains; each rank holds ``n_experts / ep`` routed
    experts, contiguous (rank ``r`` holds experts ``r E/ep ...``, as Megatron-Core places them), so a
    domain holds ``n_experts / domains``. Routing is balanced (what ``moe_router_force_load_balancing``
    benchmarks run, and the expectation of a well-balanced router); group-limited routing
    (``spec.n_expert_groups`` / ``expert_groups_per_token``) restricts each token to the experts of its
    chosen groups (`_p_block_unhit`).

    * ``"alltoall"``: one copy per (token, routed expert) pair: ``k (g - 1) / ep`` copies to the other
      ranks of this domain, ``k (ep - g) / ep`` to other domains (``g = ranks_per_domain``);
    * ``"deepep"``: one copy per distinct destination domain over the scale-out fabric,
      ``(N - 1) (1 - P_domain)`` with ``N`` domains and ``P_domain`` the probability that a token routes
      nothing to a given domain (so at most ``expert_groups_per_token`` domains when groups align with
      domains: DeepSeek-V3's node-limited routing), then one copy per distinct destination rank over the
      scale-up fabric (local ranks directly, remote ones forwarded by the receiving GPU of their domain):
      ``(ep - 1) (1 - P_rank)`` (an upper bound: the forwarding GPU's own share is counted too).

    Uniform experts inside the chosen groups is the model's assumption: a router that picks groups by
    their best experts' scores (DeepSeek-V3: the sum of each group's top-2) spreads a token over
    nearly all of its groups (3.97 of 4 distinct groups with random logits, against 3.62 here), so
    for such routers the deduplicated copies run up to ~10% higher than this expectation.

    Parameters
    ----------
    spec : ModelSpec
        A mixture-of-experts model.
    ep : int or array
        Expert-parallel ranks.
    ranks_per_domain : int or array
        Ranks of the group inside one scale-up domain (clipped to ``1..ep``).
    dispatcher : {"alltoall", "deepep"}
        :data:`EP_DISPATCHERS`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Expected copies per token [-] over the scale-up and over the scale-out fabric; multiply by
        ``d_model * bytes`` for the bytes of one dispatch (the combine sends the same back).
    """
    if dispatcher not in EP_DISPATCHERS:
        raise ValueError(f"unknown expert-parallel dispatcher {dispatcher!r}; known: {', '.join(EP_DISPATCHERS)}")
    ep = np.maximum(np.asarray(ep, dtype=float), 1.0)
    g = np.clip(np.asarray(ranks_per_domain, dtype=float), 1.0, ep)
    k = float(spec.experts_per_token)
    if dispatcher == "alltoall":
        return k * (g - 1.0) / ep, k * (ep - g) / ep
    domains = np.ceil(ep / g - 1e-9)
    e = float(spec.n_experts)
    p_domain = _p_block_unhit(spec, e / domains)
    p_rank = _p_block_unhit(spec, e / ep)
    return (ep - 1.0) * (1.0 - p_rank), (domains - 1.0) * (1.0 - p_domain)
