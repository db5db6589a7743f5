"""The complaint domain: services, model, calendar, SLA policy, escalation (over engine/)."""
