"""Small, fast plans for ``aicost demo`` and the README."""

from __future__ import annotations

__all__ = ["demo_plans"]


def demo_plans(catalog=None) -> dict:
    """A training plan and a serving plan on the shipped catalog, small enough to run in a second.

    Returns
    -------
    dict
        ``{"training": Plan, "inference": Plan}``: Llama 3.1 8B on 1T tokens within 30 days, and
        Llama 3.1 8B served at 20 requests/s (512 prompt + 256 output tokens, TTFT <= 1 s,
        TPOT <= 50 ms).
    """
    from ._inference import plan_inference
    from ._training import plan_training

    train = plan_training("llama-3.1-8b", 1e12, deadline="30d", catalog=catalog, max_gpus=1024)
    serve = plan_inference("llama-3.1-8b", requests_per_s=20, prompt_tokens=512, output_tokens=256,
                           ttft_s=1.0, tpot_s=0.05, catalog=catalog)
    return {"training": train, "inference": serve}
