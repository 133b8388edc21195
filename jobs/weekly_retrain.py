"""Weekly full retrain (FORECASTER_RETRAIN_SCHEDULE, default Saturday 09:00): every model is
trained from scratch on all bars stored, whatever the fine-tune policy would say."""

from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

from forecaster.config import Settings
from forecaster.daemon.jobrun import JobContext, JobRecord, run_job, run_routine_for
from forecaster.daemon.triggers import cron_trigger

JOB_ID = "weekly_retrain"


def trigger(settings: Settings, timezone: str) -> BaseTrigger:
    return cron_trigger(settings.retrain_schedule, timezone, "FORECASTER_RETRAIN_SCHEDULE")


def run(ctx: JobContext, scheduled_for: datetime | None = None, attempt: int = 0) -> JobRecord:
    def body(record: JobRecord) -> None:
        run_routine_for(ctx, record, force="retrain", ingest=True)

    return run_job(ctx, JOB_ID, scheduled_for, body)
