"""Add every message the pages can show to each catalogue (keeping translations), drop the
ones no longer used, and list what is still untranslated.

    .venv/bin/python scripts/update_catalogues.py
"""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from api.catalogue import all_messages
from dashboard import LOCALES_DIR


def main() -> None:
    wanted = all_messages()
    for po in sorted(LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as f:
            old = read_po(f)
        new = Catalog(locale=old.locale, project="door-to-door-tracking", charset="utf-8")
        for message in wanted:
            kept = old.get(message)
            flags = ("python-format",) if "%(" in message else ()
            new.add(message, kept.string if kept else "", flags=flags)
        with po.open("wb") as f:
            write_po(f, new, width=100, omit_header=False, sort_output=True)
        missing = [m.id for m in new if m.id and not m.string]
        print(f"{po.parent.parent.name}: {len(wanted)} messages, {len(missing)} untranslated")
        for message in missing:
            print(f"  {message}")


if __name__ == "__main__":
    main()
