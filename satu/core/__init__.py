"""Shared kernel: configuration, database, errors, i18n, events. Imports no domain."""
