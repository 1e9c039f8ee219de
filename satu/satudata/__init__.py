"""Satu Data: shared reference data (regions, agencies) and, later, the dataset catalogue."""
