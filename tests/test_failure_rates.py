"""Fleet-class interruption rates with a per-job term (data/failure_rates.csv)."""

from __future__ import annotations

import pytest

from aicost import UnknownNameError
from aicost.model import (
    DEFAULT_FLEET_CLASS,
    failure_rates,
    interruption_rate_per_hour,
    load_failure_rates,
)


def test_two_published_sources_and_the_llama3_total():
    rates = load_failure_rates()
    assert len(rates) >= 2 and DEFAULT_FLEET_CLASS in rates
    assert len({r.source for r in rates.values()}) >= 2
    h = failure_rates("hyperscale-h100")
    # the hardware part plus the job part give back Meta's 419 interruptions in 54 days on 16,384 GPUs
    assert h.rate_per_hour(16384) * 54 * 24 == pytest.approx(419, rel=0.01)


def test_job_term_does_not_scale_with_gpus():
    h = failure_rates()
    small, large = h.mtbf_s(8), h.mtbf_s(16384)
    assert large < small
    # a pure 1/N law would give an 8-GPU job 2048x the MTBF of the 16,384-GPU one; the job term caps it
    assert small / large < 100
    assert interruption_rate_per_hour(0, 1e-5, 0.07) == pytest.approx(0.07)


def test_unknown_class_suggests():
    with pytest.raises(UnknownNameError, match="did you mean"):
        failure_rates("hyperscale-h10")
