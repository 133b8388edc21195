"""The daemon's scheduled jobs: one short module each, declaring its trigger (`trigger`) and
composing library functions (`run`). `forecaster.daemon.scheduler` builds the scheduler from them."""
