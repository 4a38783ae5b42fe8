"""One arrival day, planned in advance and deterministic for a seed (pure: no I/O, no clock).

Times are simulated seconds from the start of the day (the first pre-registration comes
after 0). The plan fixes what travellers and the desk decide (when each flight lands, who
pre-registers from their phone, who registers twice, families, risk, destinations, exits,
surveys); what depends on the fleet (which run takes a party, when it leaves) is decided
while the day is played (drill/run.py).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

MINUTE = 60.0
HOUR = 3600.0
ENTRY_POINTS = 2  # slot 0: the airport's international arrivals; slot 1: a reception point
STREETS = 22  # Liwan's streets receive home-quarantine travellers
# The line after the desk, in simulated seconds (the runner uses them too).
VEHICLE_WAIT = 20 * MINUTE  # the longest a loading vehicle waits after its first boarding
TRANSIT = (25 * MINUTE, 55 * MINUTE)
RETURN_TRIP = 30 * MINUTE  # a vehicle back at the entry point after its run closed
_LINE_TAIL = 15 * MINUTE + VEHICLE_WAIT + 12 * MINUTE + TRANSIT[1] + 15 * MINUTE

Exit = Literal["no_show", "cancelled", "hospital"]
Risk = Literal["low", "medium", "high"]
Destination = Literal["hotel", "home"]

# (native, latin) name parts; Chinese citizens and a few foreign travellers in their scripts.
SURNAMES = (
    ("王", "WANG"), ("李", "LI"), ("张", "ZHANG"), ("刘", "LIU"), ("陈", "CHEN"),
    ("杨", "YANG"), ("黄", "HUANG"), ("赵", "ZHAO"), ("吴", "WU"), ("周", "ZHOU"),
    ("徐", "XU"), ("孙", "SUN"), ("马", "MA"), ("朱", "ZHU"), ("胡", "HU"), ("郭", "GUO"),
    ("何", "HE"), ("林", "LIN"), ("罗", "LUO"), ("梁", "LIANG"), ("欧阳", "OUYANG"),
)
GIVEN = (
    ("伟", "WEI"), ("芳", "FANG"), ("娜", "NA"), ("敏", "MIN"), ("静", "JING"),
    ("丽", "LI"), ("强", "QIANG"), ("磊", "LEI"), ("军", "JUN"), ("洋", "YANG"),
    ("勇", "YONG"), ("艳", "YAN"), ("杰", "JIE"), ("娟", "JUAN"), ("涛", "TAO"),
    ("明", "MING"), ("超", "CHAO"), ("秀英", "XIUYING"), ("嘉怡", "JIAYI"), ("子轩", "ZIXUAN"),
)
FOREIGN = (
    ("Emma Wilson", "EMMA WILSON", "GBR"), ("أحمد حسن", "AHMED HASSAN", "EGY"),
    ("Анна Иванова", "ANNA IVANOVA", "RUS"), ("Nguyễn Văn An", "NGUYEN VAN AN", "VNM"),
    ("Lucas Müller", "LUCAS MULLER", "DEU"), ("佐藤 花子", "SATO HANAKO", "JPN"),
    ("김민준", "KIM MINJUN", "KOR"), ("Chloé Dubois", "CHLOE DUBOIS", "FRA"),
    ("Olumide Adeyemi", "OLUMIDE ADEYEMI", "NGA"), ("María García", "MARIA GARCIA", "ESP"),
)
CARRIERS = ("CZ", "MU", "CA", "HU", "3U", "EK", "QR", "SQ", "TK", "KL", "LH", "AF", "BA")
ORIGINS = (
    "London, GBR", "Paris, FRA", "Frankfurt, DEU", "Dubai, ARE", "Doha, QAT", "Singapore, SGP",
    "Istanbul, TUR", "Amsterdam, NLD", "Bangkok, THA", "Moscow, RUS", "Los Angeles, USA",
    "Sydney, AUS", "Tokyo, JPN", "Seoul, KOR", "Addis Ababa, ETH", "Kuala Lumpur, MYS",
)
FAMILY_SIZES = (2, 3, 4, 5)
FAMILY_WEIGHTS = (45, 30, 17, 8)


@dataclass(frozen=True)
class Traveller:
    index: int  # 0 .. arrivals-1, unique in the plan
    number: str  # the document number's own part (the runner prefixes a run tag)
    name_native: str
    name_latin: str
    doc_country: str
    birth_date: date
    phone: str
    local: bool  # has a local address (a home in one of the streets)
    risk: Risk  # what the desk will find
    temperature: float
    symptomatic: bool
    survey_after: float | None  # after the room door; None: still in the backlog at day end


@dataclass(frozen=True)
class Flight:
    number: str
    entry: int  # entry point slot, 0 .. ENTRY_POINTS-1
    lands_at: float
    came_from: str
    passengers: int


@dataclass(frozen=True)
class Party:
    """A traveller alone, or a family registered together (2-5) and moved as one."""

    index: int
    flight: Flight
    members: tuple[Traveller, ...]
    pre_registered: bool  # from the phone before landing; else in the hall after landing
    register_at: float
    address: str  # the client address the registration comes from (X-Forwarded-For)
    again_at: float | None  # registers a second time (same document: an amendment)
    again_address: str
    again_phone: str  # the phone given the second time (what the amendment changes)
    screen_at: float  # at the entry point's desk (pre-registered: after landing)
    dispatch_after: float  # from screening to the dispatcher's destination decision
    walk: float  # from the seat assigned to the car door
    door: float  # from the vehicle's arrival to the room or home door
    destination: Destination
    street: int  # home: street slot, 0 .. STREETS-1
    exit: Exit | None
    exit_at: float | None

    @property
    def is_family(self) -> bool:
        return len(self.members) > 1

    @property
    def high_risk(self) -> bool:
        return any(m.risk == "high" for m in self.members)


@dataclass(frozen=True)
class DayPlan:
    seed: int
    arrivals: int
    flights: tuple[Flight, ...]
    parties: tuple[Party, ...]
    span: float  # simulated seconds from 0 to the last planned step (about)

    @property
    def travellers(self) -> tuple[Traveller, ...]:
        return tuple(m for p in self.parties for m in p.members)

    @property
    def families(self) -> tuple[Party, ...]:
        return tuple(p for p in self.parties if p.is_family)

    @property
    def doubles(self) -> tuple[Party, ...]:
        return tuple(p for p in self.parties if p.again_at is not None)

    def exits(self, kind: Exit) -> tuple[Party, ...]:
        return tuple(p for p in self.parties if p.exit == kind)

    def hotel_parties(self) -> int:
        """Rooms the day needs (a party holds one room; exits leave before a destination)."""
        return sum(1 for p in self.parties if p.exit is None and p.destination == "hotel")

    def home_parties(self) -> dict[int, int]:
        """Home places the day needs, per street slot."""
        needs: dict[int, int] = {}
        for p in self.parties:
            if p.exit is None and p.destination == "home":
                needs[p.street] = needs.get(p.street, 0) + 1
        return needs


def plan_day(
    arrivals: int,
    seed: int = 0,
    *,
    hours: float | None = None,
    pre_registered: float = 0.8,
    family_share: float = 0.12,
    double_share: float = 0.03,
    exit_share: float = 0.006,
    survey_share: float = 0.75,
) -> DayPlan:
    """A day of `arrivals` travellers on flights landing over `hours` (default: 2 h for a
    small day, growing to 14 h at 5,000 arrivals). About `pre_registered` of the parties
    register from their phones before landing, `family_share` of the parties are families,
    `double_share` of the travellers register twice, `exit_share` of them take each exit
    (no-show, cancellation, hospital referral from the desk; at least one of each in a day of
    20 or more), `survey_share` are surveyed before the day ends."""
    if arrivals < 1:
        raise ValueError("a day needs at least one arrival")
    rng = random.Random(seed)  # noqa: S311 - a plan must replay from its seed
    window = hours if hours is not None else min(14.0, max(2.0, arrivals / 360))
    flights = _flights(rng, arrivals, window * HOUR)
    parties: list[Party] = []
    index = 0
    for flight in flights:
        left = flight.passengers
        while left:
            size = 1
            if left > 1 and rng.random() < family_share:
                size = min(left, rng.choices(FAMILY_SIZES, FAMILY_WEIGHTS)[0])
            members = tuple(_traveller(rng, index + i, survey_share) for i in range(size))
            if size > 1:  # a family shares a surname, a country and a home
                members = _family(members)
            parties.append(_party(rng, len(parties), flight, members, pre_registered))
            index += size
            left -= size
    parties = _assign_exits_and_doubles(rng, parties, arrivals, double_share, exit_share)
    span = max(_last_step(p) for p in parties)
    return DayPlan(seed, arrivals, tuple(flights), tuple(parties), span)


def _flights(rng: random.Random, arrivals: int, window: float) -> list[Flight]:
    count = max(1, min(120, math.ceil(arrivals / 150), arrivals))
    weights = [rng.uniform(0.5, 1.5) for _ in range(count)]
    total = sum(weights)
    passengers = [1 + int((arrivals - count) * w / total) for w in weights]
    for i in range(arrivals - sum(passengers)):  # what rounding left over
        passengers[i % count] += 1
    first = 3 * HOUR  # room before the first landing for the phones' pre-registrations
    times = sorted(first + (rng.uniform(0, window) if count > 1 else 0.0) for _ in range(count))
    numbers: set[str] = set()
    flights = []
    for n, lands_at in enumerate(times):
        number = ""
        while not number or number in numbers:
            number = f"{rng.choice(CARRIERS)}{rng.randint(100, 8999)}"
        numbers.add(number)
        entry = 0 if n % 5 != 4 or ENTRY_POINTS == 1 else 1  # one flight in five: reception
        flights.append(
            Flight(number, entry, round(lands_at, 1), rng.choice(ORIGINS), passengers[n])
        )
    return flights


def _traveller(rng: random.Random, index: int, survey_share: float) -> Traveller:
    if rng.random() < 0.8:
        surname, given = rng.choice(SURNAMES), rng.choice(GIVEN)
        native, latin, country = surname[0] + given[0], f"{surname[1]} {given[1]}", "CHN"
        local = rng.random() < 0.85
    else:
        native, latin, country = rng.choice(FOREIGN)
        local = rng.random() < 0.2
    roll = rng.random()
    risk: Risk = "high" if roll < 0.03 else "medium" if roll < 0.13 else "low"
    symptomatic = risk != "low" and rng.random() < 0.3
    temperature = round(rng.uniform(37.6, 38.9) if symptomatic else rng.uniform(36.0, 37.2), 1)
    born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
    return Traveller(
        index=index,
        number=f"{index:07d}",
        name_native=native,
        name_latin=latin,
        doc_country=country,
        birth_date=born,
        phone=f"+86138{rng.randint(0, 99_999_999):08d}",
        local=local,
        risk=risk,
        temperature=temperature,
        symptomatic=symptomatic,
        survey_after=rng.uniform(20 * MINUTE, 3 * HOUR) if rng.random() < survey_share else None,
    )


def _family(members: tuple[Traveller, ...]) -> tuple[Traveller, ...]:
    lead = members[0]
    family = [lead]
    for m in members[1:]:
        if lead.doc_country == "CHN":  # the lead's surname, the member's own given name
            surname = _split_chinese(lead)
            given = _split_chinese(m)[1::2] if m.doc_country == "CHN" else GIVEN[m.index % 20]
            native, latin = surname[0] + given[0], f"{surname[2]} {given[1]}"
        elif m.doc_country != "CHN":
            native, latin = m.name_native, m.name_latin
        else:
            native, latin = FOREIGN[m.index % len(FOREIGN)][:2]
        family.append(
            Traveller(
                m.index, m.number, native, latin, lead.doc_country, m.birth_date, m.phone,
                lead.local, m.risk, m.temperature, m.symptomatic, m.survey_after,
            )
        )
    return tuple(family)


_SURNAME_OF = {latin: native for native, latin in SURNAMES}


def _split_chinese(t: Traveller) -> tuple[str, str, str, str]:
    """(surname, given name) of a generated Chinese name, in characters then in Latin."""
    latin_surname, latin_given = t.name_latin.split(" ", 1)
    surname = _SURNAME_OF[latin_surname]
    return surname, t.name_native[len(surname):], latin_surname, latin_given


def _party(
    rng: random.Random, index: int, flight: Flight, members: tuple[Traveller, ...],
    pre_share: float,
) -> Party:
    lands = flight.lands_at
    pre = rng.random() < pre_share
    if pre:
        register_at = lands - rng.uniform(15 * MINUTE, 3 * HOUR)
        address = _phone_address(members[0].index)
        screen_at = lands + rng.uniform(25 * MINUTE, 60 * MINUTE)
    else:
        register_at = lands + rng.uniform(10 * MINUTE, 35 * MINUTE)
        address = _hall_address(flight.entry, rng.randrange(32))
        screen_at = register_at + rng.uniform(10 * MINUTE, 25 * MINUTE)
    lead = members[0]
    home = lead.local and all(m.risk == "low" for m in members) and (
        len(members) == 1 or rng.random() < 0.5
    )
    return Party(
        index=index,
        flight=flight,
        members=members,
        pre_registered=pre,
        register_at=round(register_at, 1),
        address=address,
        again_at=None,
        again_address="",
        again_phone="",
        screen_at=round(screen_at, 1),
        dispatch_after=round(rng.uniform(3 * MINUTE, 15 * MINUTE), 1),
        walk=round(rng.uniform(3 * MINUTE, 12 * MINUTE), 1),
        door=round(rng.uniform(3 * MINUTE, 15 * MINUTE), 1),
        destination="home" if home else "hotel",
        street=rng.randrange(STREETS),
        exit=None,
        exit_at=None,
    )


def _phone_address(traveller: int) -> str:
    """Each phone its own address (mobile networks), from 10.0.0.0/8."""
    n = traveller + 1
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _hall_address(entry: int, n: int) -> str:
    """The arrival hall's Wi-Fi: a few addresses shared by everyone registering there."""
    return f"100.64.{entry}.{n + 1}"


def _assign_exits_and_doubles(
    rng: random.Random, parties: list[Party], arrivals: int, double_share: float,
    exit_share: float,
) -> list[Party]:
    singles = [p.index for p in parties if not p.is_family]
    rng.shuffle(singles)
    each = max(1 if arrivals >= 20 else 0, round(arrivals * exit_share))
    chosen: dict[int, Party] = {}
    for kind in ("hospital", "no_show", "cancelled"):
        for i in [s for s in singles if s not in chosen][:each]:
            chosen[i] = _with_exit(rng, parties[i], kind)
    doubles = max(1 if arrivals >= 10 else 0, round(arrivals * double_share))
    for i in [s for s in singles if s not in chosen][:doubles]:
        chosen[i] = _registering_twice(rng, parties[i])
    return [chosen.get(p.index, p) for p in parties]


def _with_exit(rng: random.Random, party: Party, kind: Exit) -> Party:
    lands = party.flight.lands_at
    if kind == "hospital":  # found at the desk with fever: referred from there
        lead = party.members[0]
        ill = Traveller(
            lead.index, lead.number, lead.name_native, lead.name_latin, lead.doc_country,
            lead.birth_date, lead.phone, lead.local, "high", 38.7, True, None,
        )
        exit_at = party.screen_at + rng.uniform(3 * MINUTE, 10 * MINUTE)
        return _replace(party, members=(ill,), exit=kind, exit_at=exit_at, destination="hotel")
    # No-shows and cancellations are of travellers who pre-registered from their phones.
    register_at = lands - rng.uniform(30 * MINUTE, 3 * HOUR)
    if kind == "cancelled":  # plans changed: the desk cancels before the flight lands
        exit_at = rng.uniform(register_at + 5 * MINUTE, lands - MINUTE)
    else:  # never came to the desk: marked no-show two hours after landing
        exit_at = lands + 2 * HOUR
    return _replace(
        party, pre_registered=True, register_at=register_at,
        address=_phone_address(party.members[0].index), exit=kind, exit_at=exit_at,
    )


def _registering_twice(rng: random.Random, party: Party) -> Party:
    """Scans the poster again and changes the phone: the same journey, amended."""
    if party.pre_registered:
        again_at = rng.uniform(party.register_at + 5 * MINUTE, party.flight.lands_at)
        again_address = _phone_address(party.members[0].index)
    else:
        again_at = party.register_at + rng.uniform(2 * MINUTE, 8 * MINUTE)
        again_address = _hall_address(party.flight.entry, rng.randrange(32))
    return _replace(
        party, again_at=again_at, again_address=again_address,
        again_phone=f"+86139{rng.randint(0, 99_999_999):08d}",
    )


def _replace(party: Party, **changes: Any) -> Party:
    for name in ("register_at", "exit_at", "again_at"):
        value = changes.get(name)
        if isinstance(value, float):
            changes[name] = round(value, 1)
    return replace(party, **changes)


def _last_step(party: Party) -> float:
    if party.exit is not None:
        assert party.exit_at is not None
        return party.exit_at
    surveys = [m.survey_after or 0.0 for m in party.members]
    return party.screen_at + party.dispatch_after + _LINE_TAIL + max(surveys)
