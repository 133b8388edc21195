"""The defaults search (walkforward: the staged walk-forward; space: what it tries) and its lean
variant (lean: the point forecast's head and bias penalty). Run: `python -m bench.studies.search`."""
