"""Web front end: Jinja2 templates, static assets and client code of every page.

Holds no Python logic; `api` serves what is here. Vendored third-party assets live in
`static/vendor/` (see its README.md).
"""

import pathlib

STATIC_DIR = pathlib.Path(__file__).parent / "static"
TEMPLATES_DIR = pathlib.Path(__file__).parent / "templates"
LOCALES_DIR = pathlib.Path(__file__).parent / "locales"
