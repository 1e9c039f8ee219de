"""Satu: one portal, one identity, one data exchange for Indonesian public services."""

__version__ = "0.1.0"
