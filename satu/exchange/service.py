"""The exchange domain's public service: what other domains and the composition roots call.

Functions are keyword-only, take a `Session`, flush and never commit. Each block below
re-exports one part of the exchange.
"""

from __future__ import annotations

# --- registry ---

# --- transparency log ---

# --- gateway ---

# --- pub/sub ---

# --- data tracker ---

# --- demo providers ---
