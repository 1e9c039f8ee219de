"""Pages of Satu Data: region lookup and NIK check."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["satudata-pages"])
