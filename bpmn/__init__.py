"""Diagrams shipped with Aduan (data, not code): the complaint lifecycle and its decision tables."""
