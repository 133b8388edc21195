"""The lean search: its candidates are the product's defaults with one change each."""

from dataclasses import replace

from bench.studies.search.lean import PENALTIES, lean_stages
from forecaster.model.spec import ModelSpec


def test_lean_candidates_are_todays_defaults_but_for_the_head_and_penalty():
    reference, lean = lean_stages()
    assert len(reference.variants) == 1  # stays the incumbent of its stage
    base = ModelSpec(kind="gru")
    specs = [replace(base, **v.model) for v in reference.variants + lean.variants]
    assert [(s.head, s.bias_penalty) for s in specs] == [("point", 0.0)] + [("quantile", p) for p in PENALTIES]
    assert {(s.scaling, s.dropout) for s in specs} == {(base.scaling, base.dropout)}
    assert lean.variants[0].model["bias_penalty"] == 0.0  # the unpenalised median is the incumbent
