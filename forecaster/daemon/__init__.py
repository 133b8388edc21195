"""The cron-style daemon: the APScheduler scheduler, one job's run, cron triggers."""
