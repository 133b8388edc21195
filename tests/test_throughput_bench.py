"""The throughput benchmark's table, from made-up measurements: medians per (variant, kind), the
ratio to the first variant, and the headline naming the product's default variant."""

import pytest

from bench.section import Options
from bench.studies.throughput import BASE, VARIANTS, Measured, _default_variant, knob_section
from forecaster.model.kinds import MODEL_KINDS
from forecaster.model.trainers import DEFAULT_FIT


def _m(variant: str, kind: str, warm_s: float, val: float = 0.2) -> Measured:
    return Measured(variant, kind, 128, cold_s=2 * warm_s, warm_s=warm_s, samples=1000, val_loss=val)


def test_the_default_variant_is_the_one_the_product_trains_with():
    assert _default_variant().options == DEFAULT_FIT


def test_rows_are_medians_and_ratios_against_the_base_variant():
    other = VARIANTS[1].name
    ms = [_m(BASE.name, k, s) for k in MODEL_KINDS for s in (1.0, 3.0, 2.0)]  # median 2 s
    ms += [_m(other, k, s, val=0.25) for k in MODEL_KINDS for s in (0.5, 1.0, 9.0)]  # median 1 s
    section = knob_section(ms, Options(repeats=3), epochs=6)
    rows = {(r[0], r[1]): r for r in section.rows}
    base, fast = rows[(BASE.name, "lstm")], rows[(other, "lstm")]
    assert base[4] == pytest.approx(2.0) and base[6] == pytest.approx(500.0) and base[7] == pytest.approx(1.0)
    assert fast[4] == pytest.approx(1.0) and fast[7] == pytest.approx(2.0) and fast[8] == pytest.approx(0.25)
    # The product trains with Keras' defaults (no XLA, no unrolling): its headline ratio is the base's.
    assert _default_variant() is BASE
    assert dict(section.headline)["gru: product default / Keras defaults, warm samples/s"] == "1.00×"
