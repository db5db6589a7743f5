"""The outer layer: Flask app, JSON API, CLI and scheduler entry point (HTTP, not Spiff)."""
