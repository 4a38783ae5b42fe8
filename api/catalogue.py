"""Every message the traveller's pages can show, so that catalogues can be checked and updated.

Templates are scanned for `_("…")`; messages decided in Python (validation, MRZ, page notices,
status words) are the string constants of the modules listed here.
"""

from __future__ import annotations

import types
from collections.abc import Iterator

from jinja2.ext import babel_extract

from api import status_words, traveller_form
from api.routers import traveller_pages
from dashboard import TEMPLATES_DIR
from tracking import mrz, traveller_details, validation

TRAVELLER_TEMPLATES = ("traveller/*.html",)
# Rules the application states to a traveller submitting the form.
APPLICATION_MESSAGES = (
    "the details do not match the registration made with this document; "
    "check the birth date, or ask the staff at the desk",
    "some of these travellers are already registered and some are not; "
    "register the new ones separately or ask the desk to join them",
)


def template_messages() -> Iterator[str]:
    for pattern in TRAVELLER_TEMPLATES:
        for path in sorted(TEMPLATES_DIR.glob(pattern)):
            with path.open("rb") as f:
                for _line, _func, message, _comments in babel_extract(
                    f, ("_",), [], {"extensions": ""}
                ):
                    if isinstance(message, str):
                        yield message


def python_messages() -> Iterator[str]:
    modules: tuple[types.ModuleType, ...] = (
        validation, traveller_details, mrz, traveller_form, traveller_pages,
    )
    for module in modules:
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and " " in value:
                yield value
    yield from status_words.NOW.values()
    yield from status_words.NEXT.values()
    yield from (status_words.HOME, status_words.ROOM)
    yield from (text for _key, text in traveller_pages.SYMPTOM_CHOICES)
    yield from APPLICATION_MESSAGES


def all_messages() -> list[str]:
    return sorted(set(template_messages()) | set(python_messages()))
