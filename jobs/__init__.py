"""The daemon's scheduled jobs: one short module each, declaring its trigger (`trigger`) and
composing library functions (`run`). The CLI hands `JOBS` to `forecaster.daemon.scheduler`; the
library itself never imports this package."""

from jobs import daily_update, weekly_retrain

JOBS = (daily_update, weekly_retrain)
# The job `forecaster daemon --run-now` also starts once, right after start-up.
RUN_NOW = daily_update.JOB_ID
