"""The daily routine: policy, per-(ticker, model) tasks, executors, the model registry, backfill, the run lock."""
