"""JSON API of Satu Data: regions, NIK parsing, agencies."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["satudata"])
