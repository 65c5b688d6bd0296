"""Why the planners drop a candidate: one `IntEnum` per planner, in the order of the checks.

The value of a reason is the stage of the check that removed the candidate (a higher value got
further), so the search can keep "the layout that got furthest" with a max. The texts are built
from the constants the checks use (``MIN_GOODPUT``), so the words and the rule cannot drift.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "MIN_GOODPUT",
    "REASON_DETAIL_SEP",
    "ServingDrop",
    "TrainingDrop",
]

#: least expected goodput (failure-free work / expected wall time) of a feasible training plan:
#: below it the job mostly waits for restarts and re-does lost work (aicost's own threshold)
MIN_GOODPUT = 0.5
#: a candidate's reason may carry its numbers after this separator ("vCPUs cannot tokenize fast
#: enough: need 5,260 tokens/s per GPU, have 2,400"); the part before it is the drop's ``text``,
#: which is what reason counts group by
REASON_DETAIL_SEP = ": need "


class TrainingDrop(IntEnum):
    """Why `plan_training` dropped a candidate (value = stage of the check; ``OK`` passed all)."""

    NOT_OFFERED = 1
    TP_EXCEEDS_NODE = 2
    TP_SPLITS_HEADS = 3
    PP_EXCEEDS_LAYERS = 4
    GPUS_NOT_DIVISIBLE = 5
    EP_INVALID = 6
    BATCH_TOO_SMALL = 7
    INTERLEAVE_INVALID = 8
    OUT_OF_MEMORY = 9
    CPU_PREPROCESS_TOO_SLOW = 10
    LOW_GOODPUT = 11
    DEADLINE_MISSED = 12
    OVER_BUDGET = 13
    OK = 14

    @property
    def text(self) -> str:
        """The reason in words, as `Plan.candidates["reason"]` shows it."""
        return _TRAINING_TEXT[self]


_TRAINING_TEXT = {
    TrainingDrop.NOT_OFFERED: "not offered at this pricing",
    # the scale-up domain: the node, or the whole NVLink rack of an NVL72 offer (issue 13)
    TrainingDrop.TP_EXCEEDS_NODE: "tp > GPUs of the scale-up domain",
    TrainingDrop.TP_SPLITS_HEADS: "tp does not divide the attention heads",
    TrainingDrop.PP_EXCEEDS_LAYERS: "pp > layers",
    TrainingDrop.GPUS_NOT_DIVISIBLE: "GPUs not divisible by tp x pp x cp",
    TrainingDrop.EP_INVALID: "ep does not divide tp x dp x cp, or tp x ep exceeds the scale-up domain",
    TrainingDrop.BATCH_TOO_SMALL: "global batch too small for dp x micro-batch",
    TrainingDrop.INTERLEAVE_INVALID: "interleaved schedule needs pp > 1, pp x v dividing the layers and "
                                     "micro-batches a multiple of pp",
    TrainingDrop.OUT_OF_MEMORY: "memory does not fit",
    # Plan.candidates adds the numbers per row ("...: need N tokens/s per GPU, have M")
    TrainingDrop.CPU_PREPROCESS_TOO_SLOW: "vCPUs cannot tokenize fast enough",
    TrainingDrop.LOW_GOODPUT: f"interrupted too often (expected goodput under {MIN_GOODPUT:.0%})",
    TrainingDrop.DEADLINE_MISSED: "deadline missed",
    TrainingDrop.OVER_BUDGET: "over budget",
    TrainingDrop.OK: "",
}


class ServingDrop(IntEnum):
    """Why `plan_inference` dropped a candidate (value = stage of the check; ``OK`` passed all)."""

    NOT_OFFERED = 1
    TP_EXCEEDS_NODE = 2
    TP_SPLITS_HEADS = 3
    WEIGHTS_DO_NOT_FIT = 4
    KV_CACHE_DOES_NOT_FIT = 5
    ENGINE_BATCH_CAP = 6
    TPOT_MISSED = 7
    TTFT_MISSED = 8
    OVER_BUDGET = 9
    OK = 10

    @property
    def text(self) -> str:
        """The reason in words, as `Plan.candidates["reason"]` shows it."""
        return _SERVING_TEXT[self]


_SERVING_TEXT = {
    ServingDrop.NOT_OFFERED: "not offered at this pricing",
    ServingDrop.TP_EXCEEDS_NODE: "tp > GPUs of the scale-up domain",
    ServingDrop.TP_SPLITS_HEADS: "tp does not divide the attention heads",
    ServingDrop.WEIGHTS_DO_NOT_FIT: "weights do not fit",
    ServingDrop.KV_CACHE_DOES_NOT_FIT: "KV cache does not fit at this batch",
    ServingDrop.ENGINE_BATCH_CAP: "batch above the engine's batch cap",
    ServingDrop.TPOT_MISSED: "TPOT target missed",
    ServingDrop.TTFT_MISSED: "TTFT target missed",
    ServingDrop.OVER_BUDGET: "over budget",
    ServingDrop.OK: "",
}
