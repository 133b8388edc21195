"""Bars in: sources (tushare Pro, CSV), validation, and the fetch -> validate -> write step."""
