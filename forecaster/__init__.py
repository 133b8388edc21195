"""forecaster: a scheduled batch job that keeps A-share daily bars and forecasts them."""

__version__ = "0.1.0"
