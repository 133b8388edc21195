"""The throughput study's table, from made-up measurements: medians per (variant, kind), the
ratio to the first variant, and the headline reading the variant the product trains with."""

import pytest

import bench.studies.throughput as study
from bench.section import Options
from bench.studies.throughput import BASE, VARIANTS, Measured, knob_section
from forecaster.model.spec import MODEL_KINDS
from forecaster.model.trainers import FitOptions


def _m(variant: str, kind: str, warm_s: float, val: float = 0.2) -> Measured:
    return Measured(variant, kind, 128, cold_s=2 * warm_s, warm_s=warm_s, samples=1000, val_loss=val)


@pytest.mark.parametrize(("product", "ratio"), [(FitOptions(), "1.00×"), (FitOptions(jit_compile=True), "2.00×")])
def test_rows_are_medians_and_ratios_and_the_headline_is_the_products_variant(monkeypatch, product, ratio):
    jit = VARIANTS[1]
    assert jit.options == FitOptions(jit_compile=True)
    # The headline follows whatever the product trains with, not the first row.
    monkeypatch.setattr(study, "DEFAULT_FIT", product)
    ms = [_m(BASE.name, k, s) for k in MODEL_KINDS for s in (1.0, 3.0, 2.0)]  # median 2 s
    ms += [_m(jit.name, k, s, val=0.25) for k in MODEL_KINDS for s in (0.5, 1.0, 9.0)]  # median 1 s
    section = knob_section(ms, Options(repeats=3), epochs=6)
    rows = {(r[0], r[1]): r for r in section.rows}
    base, fast = rows[(BASE.name, "lstm")], rows[(jit.name, "lstm")]
    assert base[4] == pytest.approx(2.0) and base[6] == pytest.approx(500.0) and base[7] == pytest.approx(1.0)
    assert fast[4] == pytest.approx(1.0) and fast[7] == pytest.approx(2.0) and fast[8] == pytest.approx(0.25)
    assert dict(section.headline)["gru: product default / Keras defaults, warm samples/s"] == ratio
