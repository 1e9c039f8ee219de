"""Satu Data's public service API: regions, NIK parsing, reference-data loading, agencies.

Other domains call only what this module exposes. Functions are keyword-only, take a
`Session`, flush and never commit.
"""

from __future__ import annotations

# --- regions, NIK and the region loader (helper A) ---------------------------------------


# --- agencies (re-exported from satu.satudata.agencies) ----------------------------------
