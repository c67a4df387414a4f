"""The end of an incident: the postmortem document, its exports, action items, the
follow-through reminders and the response statistics."""
