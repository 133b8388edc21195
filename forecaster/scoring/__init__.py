"""Scores: pure metrics, stored forecasts evaluated, intervals scored."""
