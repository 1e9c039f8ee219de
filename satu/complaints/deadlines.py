"""Deadlines in working days (verify 3, follow up 5, settle 60 days, auto-close 10)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from satu.complaints.calendar import WorkingCalendar, calendar_from, local_date
from satu.complaints.config import ComplaintSettings, get_complaint_settings


def working_calendar(settings: ComplaintSettings | None = None) -> WorkingCalendar:
    """The configured working calendar."""
    settings = settings or get_complaint_settings()
    return calendar_from(settings.holidays_file)


def verify_due(filed_at: datetime) -> date:
    """Last day to verify a report filed at `filed_at`."""
    settings = get_complaint_settings()
    return working_calendar(settings).add_working_days(
        local_date(filed_at), settings.verify_within_days
    )


def followup_due(dispositioned_at: datetime) -> date:
    """Last day for the agency to start following up."""
    settings = get_complaint_settings()
    return working_calendar(settings).add_working_days(
        local_date(dispositioned_at), settings.follow_up_within_days
    )


def settle_due(complete_at: datetime) -> date:
    """Last day to settle a report whose file was complete at `complete_at`."""
    settings = get_complaint_settings()
    return local_date(complete_at) + timedelta(days=settings.settle_within_days)


def autoclose_due(answered_at: datetime) -> date:
    """The day an unanswered reply closes the report by itself."""
    settings = get_complaint_settings()
    return working_calendar(settings).add_working_days(
        local_date(answered_at), settings.autoclose_after_days
    )
