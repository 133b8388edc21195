"""The daily routine: policy, one task per network kind, executors, the model registry, backfill, the run lock."""
