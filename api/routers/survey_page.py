"""The survey desk page `/survey` (to be written). See api/staff_pages.py."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
