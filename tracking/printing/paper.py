"""Paper for the line: a manifest per vehicle run and door labels per hotel, as A4 PDF.

Paper keeps working when phones and the network do not: the escort ticks the manifest at the
car door and both sides sign it at the handover; the receiver sticks a label on each door.
Each traveller's personal QR on it opens their status page, so a scanner reads paper as it
reads a phone. Identity is shown only as far as a handoff needs it (names, document type and
the last four characters of the number) and nothing about health is printed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import jinja2

from domain.errors import RuleBroken
from domain.journey import Journey
from domain.party import TravelParty
from domain.site import FREE, OCCUPIED, Site
from domain.stages import DestinationKind
from domain.transport import TransportRun
from tracking.application import TrackingApp
from tracking.codes import PersonalCodes

# WeasyPrint shares fontconfig/Pango state between documents, so paper and posters must take
# the same lock; posters.py owns it.
from tracking.printing.posters import RENDER_LOCK
from tracking.qr import qr_png

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("tracking.printing", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# The district works in China Standard Time, which has no daylight saving.
CST = timezone(timedelta(hours=8), "CST")
DOCUMENT_WORDS = {
    "passport": "护照 Passport",
    "prc_id": "身份证 ID card",
    "hk_macao_permit": "港澳通行证 HK/Macao permit",
    "taiwan_permit": "台湾通行证 Taiwan permit",
    "other": "其他 Other",
}
RUN_STATUS_WORDS = {
    "planned": "待发车 Planned",
    "boarding": "登车中 Boarding",
    "departed": "已出发 Departed",
    "arrived": "已到达 Arrived",
    "closed": "已交接 Closed",
}
SHOWN_DIGITS = 4


@dataclass(frozen=True)
class Traveller:
    """One traveller as paper shows them, with their personal code."""

    name_native: str
    name_latin: str
    document: str
    destination: str
    where: str
    planned_end: date | None
    status_url: str
    qr_png: str  # a data: URI


@dataclass(frozen=True)
class Passenger:
    seat: int
    boarded: bool
    traveller: Traveller


@dataclass(frozen=True)
class PartyRows:
    number: int
    passengers: list[Passenger]


@dataclass(frozen=True)
class Manifest:
    plate: str
    escort: str
    entry_point: str
    status: str
    planned_at: str
    departed_at: str
    destinations: list[str]
    parties: list[PartyRows]

    @property
    def passenger_count(self) -> int:
        return sum(len(p.passengers) for p in self.parties)


@dataclass(frozen=True)
class DoorLabel:
    room: str
    occupied: bool
    travellers: list[Traveller]


@dataclass(frozen=True)
class DoorLabels:
    site_code: str
    site_name: str
    labels: list[DoorLabel]


def masked_document(doc_type: str, number: str) -> str:
    """Document type and the last four characters: enough to match the document in hand,
    not enough to be a copy of it (a shorter number shows nothing)."""
    words = DOCUMENT_WORDS.get(doc_type, doc_type)
    tail = number[-SHOWN_DIGITS:] if len(number) > SHOWN_DIGITS else ""
    return f"{words} ····{tail}"


def _local(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(CST).strftime("%Y-%m-%d %H:%M")


class _Reader:
    """Looks up what paper needs, each site once, issuing personal codes as it goes."""

    def __init__(self, app: TrackingApp, codes: PersonalCodes, base_url: str) -> None:
        self.app = app
        self.codes = codes
        self.base_url = base_url.rstrip("/")
        self._sites: dict[UUID, Site] = {}

    def site_by_id(self, site_id: UUID) -> Site:
        if site_id not in self._sites:
            site: object = self.app.repository.get(site_id)
            assert isinstance(site, Site)
            self._sites[site_id] = site
        return self._sites[site_id]

    def traveller(self, journey: Journey) -> Traveller:
        details = self.app.personal_details(journey)
        destination, where = "", ""
        if journey.site_id is not None:
            site = self.site_by_id(journey.site_id)
            destination = site.name
            if site.kind is DestinationKind.HOTEL:
                where = f"房间 Room {journey.room}" if journey.room else ""
            else:
                where = str(details.get("destination_address", ""))
        # An erased traveller has no code any more (and none can be sealed for them).
        url = "" if journey.erased else f"{self.base_url}/t/{self.codes.code_for(journey.id)}"
        return Traveller(
            name_native=str(details.get("name_native", "")),
            name_latin=str(details.get("name_latin", "")),
            document=masked_document(
                str(details.get("doc_type", "")), str(details.get("number", ""))
            ),
            destination=destination,
            where=where,
            planned_end=journey.planned_end,
            status_url=url,
            qr_png=_qr_data_uri(url) if url else "",
        )

    def party_members(self, party_id: UUID) -> list[Journey]:
        """A party of one has no party aggregate: its id is the journey's own."""
        found: object = self.app.repository.get(party_id)
        if isinstance(found, Journey):
            return [found]
        assert isinstance(found, TravelParty)
        return [self.app.journey(m) for m in found.members]


def _qr_data_uri(url: str) -> str:
    """The code as a small PNG with one pixel per module, which the PDF scales without
    smoothing (the templates ask for pixelated rendering): WeasyPrint draws a page of QR codes
    as PNG several times faster than as SVG paths (measured 0.15 s against 0.8 s for twelve),
    and the printed modules stay as sharp."""
    return "data:image/png;base64," + base64.b64encode(qr_png(url, box_size=1)).decode()


def _departed_at(app: TrackingApp, run: TransportRun) -> datetime | None:
    for recorded in app.events.get(run.id, desc=True):
        if isinstance(recorded, TransportRun.Departed):
            return recorded.timestamp
    return None


def run_manifest(app: TrackingApp, codes: PersonalCodes, run_id: UUID, base_url: str) -> Manifest:
    """Who sits where on a run, families together in seat order."""
    run = app.run(run_id)
    reader = _Reader(app, codes, base_url)
    journeys = {j: app.journey(j) for j in run.seat_of}
    by_party: dict[UUID, list[Passenger]] = {}
    for journey_id, seat in sorted(run.seat_of.items(), key=lambda item: item[1]):
        journey = journeys[journey_id]
        passenger = Passenger(seat, journey_id in run.boarded, reader.traveller(journey))
        by_party.setdefault(journey.party_id, []).append(passenger)
    parties = [PartyRows(n, rows) for n, rows in enumerate(by_party.values(), start=1)]
    destinations = sorted(
        {p.traveller.destination for rows in parties for p in rows.passengers} - {""}
    )
    entry = app.entry_point(run.entry_point)
    return Manifest(
        plate=run.plate,
        escort=run.escort,
        entry_point=f"{entry.name} ({entry.code})",
        status=RUN_STATUS_WORDS.get(run.status, run.status),
        planned_at=_local(run.created_on),
        departed_at=_local(_departed_at(app, run)),
        destinations=destinations,
        parties=parties,
    )


def door_labels(
    app: TrackingApp, codes: PersonalCodes, site_code: str, base_url: str
) -> DoorLabels:
    """One label per held or occupied room of a hotel, in the hotel's room order."""
    site = app.site(site_code)
    if site.kind is not DestinationKind.HOTEL:
        raise RuleBroken(f"{site.name} receives travellers at home: it has no room doors")
    reader = _Reader(app, codes, base_url)
    labels = []
    for room, status in site.rooms.items():
        if status == FREE:
            continue
        inside = [
            j
            for j in reader.party_members(site.holder[room])
            if j.site_id == site.id and j.room == room and not j.is_closed
        ]
        labels.append(DoorLabel(room, status == OCCUPIED, [reader.traveller(j) for j in inside]))
    return DoorLabels(site.code, site.name, labels)


def _pdf(template: str, context: dict[str, Any]) -> bytes:
    import weasyprint  # type: ignore[import-untyped]  # slow to import; only PDFs need it

    html = _templates.get_template(template).render(context)
    with RENDER_LOCK:
        pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf


def render_manifest(manifest: Manifest, printed_at: datetime | None = None) -> bytes:
    return _pdf("manifest.html", {"m": manifest, "printed_at": _printed(printed_at)})


def render_door_labels(labels: DoorLabels, printed_at: datetime | None = None) -> bytes:
    return _pdf("door_labels.html", {"d": labels, "printed_at": _printed(printed_at)})


def _printed(moment: datetime | None) -> str:
    return _local(moment or datetime.now(CST))


def run_manifest_pdf(app: TrackingApp, codes: PersonalCodes, run_id: UUID, base_url: str) -> bytes:
    return render_manifest(run_manifest(app, codes, run_id, base_url))


def door_labels_pdf(app: TrackingApp, codes: PersonalCodes, site_code: str, base_url: str) -> bytes:
    return render_door_labels(door_labels(app, codes, site_code, base_url))
