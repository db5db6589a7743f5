"""The complaint domain: services, model, calendar, SLA policy and escalation (builds on engine/)."""
