"""The outer layer: Flask app, JSON API, CLI and the scheduler entry point (knows HTTP, not Spiff)."""
