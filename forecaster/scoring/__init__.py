"""Scores: pure metrics, stored forecasts evaluated, the defaults search."""
