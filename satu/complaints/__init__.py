"""Complaints (SP4N-LAPOR): every channel in, routed, on the clock, in public figures."""
