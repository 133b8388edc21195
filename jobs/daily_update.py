"""Daily update, Monday to Friday after the close (FORECASTER_SCHEDULE, default 17:30 Beijing):
ingest → on a day without a new bar, record `no-data` (and try again later if the bar is merely
late) → otherwise the routine: retrain or fine-tune per policy, forecast, fill actuals, plot."""

from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

from forecaster.config import Settings
from forecaster.daemon.jobrun import (
    JobContext,
    JobRecord,
    ingest_all,
    new_bar_pending,
    record_no_data,
    run_job,
    run_routine_for,
    schedule_late_retry,
)
from forecaster.daemon.triggers import cron_trigger

JOB_ID = "daily_update"


def trigger(settings: Settings, timezone: str) -> BaseTrigger:
    return cron_trigger(settings.schedule, timezone, "FORECASTER_SCHEDULE")


def run(ctx: JobContext, scheduled_for: datetime | None = None, attempt: int = 0) -> JobRecord:
    def body(record: JobRecord) -> None:
        ingests = ingest_all(ctx)
        if not new_bar_pending(ctx, JOB_ID, ingests):
            record_no_data(ctx, record)
            schedule_late_retry(ctx, record, run, attempt)
            return
        run_routine_for(ctx, record, force=None, ingest=False)

    return run_job(ctx, JOB_ID, scheduled_for, body)
