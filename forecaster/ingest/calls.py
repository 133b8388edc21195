"""What an ingest asked of tushare, for its summary: the calls (the service counts each one against
the account's per-minute budget, which every call of one source shares) and the refused APIs."""

from forecaster.ingest.sources.tushare_pro import TushareSource

Count = tuple[int, int]  # (calls, calls by trade date)


def calls_made(source: object) -> Count:
    """The calls a source has made so far ((0, 0) for another than tushare)."""
    return (source.calls, source.calls_by_date) if isinstance(source, TushareSource) else (0, 0)


def calls_line(source: object, since: Count = (0, 0)) -> str | None:
    """The calls a tushare source made after `since` (`calls_made` before the ingest), those by
    trade date, and the APIs the account was refused; None for another source."""
    if not isinstance(source, TushareSource):
        return None
    calls, by_date = source.calls - since[0], source.calls_by_date - since[1]
    refused = f"; refused: {', '.join(sorted(source.refused))}" if source.refused else ""
    return f"{calls} tushare calls ({by_date} by trade date{refused})"
