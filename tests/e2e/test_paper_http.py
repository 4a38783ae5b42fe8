"""Run manifests and door labels over HTTP against a real server: who may print which paper,
what the response says about itself, and that the printed codes are the travellers' own."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

import httpx
import pypdf
import pytest
import zxingcpp
from PIL import Image

from domain.staff import Role
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live


@dataclass
class Paper:
    live: Live
    run_id: str
    plate: str
    hotel: str
    street: str
    status_urls: list[str]

    @property
    def manifest(self) -> str:
        return f"/api/runs/{self.run_id}/manifest.pdf"

    @property
    def labels(self) -> str:
        return f"/api/sites/{self.hotel}/door-labels.pdf"

    def staff(self, role: Role) -> Api:
        return Api.signed_in(self.live.url, self.live.settings, role)


@pytest.fixture(scope="module")
def paper(live: Live) -> Paper:
    """A family registered by QR, screened, given a hotel room and seated on a run."""
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    entry, hotel, street, plate = f"EP-{tag}", f"H-{tag}", f"ST-{tag}", f"粤A·{tag}"
    admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T2"}, expect=201)
    admin.post(
        "/api/sites",
        {"code": hotel, "name": "荔湾酒店", "kind": "hotel", "rooms": ["801", "802"]},
        expect=201,
    )
    admin.post(
        "/api/sites",
        {"code": street, "name": "沙面街道", "kind": "home", "capacity": 5},
        expect=201,
    )
    admin.post("/api/vehicles", {"plate": plate, "seats": 8}, expect=201)
    family = Api(live.url).post(
        "/api/registrations",
        {
            "entry_point": entry,
            "travellers": [traveller(f"P{tag}01", "王小明"), traveller(f"P{tag}02", "王𠮷")],
        },
        expect=201,
    )
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    for member in family["journey_ids"]:
        screener.post(f"/api/journeys/{member}/screening", {"risk": "low", "temperature": 36.6})
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    lead = family["journey_ids"][0]
    dispatcher.post(f"/api/journeys/{lead}/destination", {"site": hotel, "room": "802"})
    run = dispatcher.post(
        "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": entry}, expect=201
    )
    dispatcher.post(f"/api/journeys/{lead}/seats", {"run_id": run["run_id"]})
    return Paper(live, run["run_id"], plate, hotel, street, family["status_urls"])


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _codes(pdf: bytes, folder: Path) -> list[str]:
    (folder / "paper.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", str(folder / "paper.pdf"), str(folder / "page")],
        check=True,
        timeout=120,
    )
    found: list[str] = []
    for page in sorted(folder.glob("page*.png")):
        with Image.open(page) as image:
            found += [b.text for b in zxingcpp.read_barcodes(image)]
    return found


def _is_private_pdf(response: httpx.Response, filename: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"%PDF-")
    disposition = response.headers["content-disposition"]
    disposition.encode("ascii")  # a header must stay ASCII whatever the plate
    assert f"filename*=UTF-8''{quote(filename, safe='')}" in disposition


def test_paper_needs_a_signed_in_staff_member(paper: Paper) -> None:
    for path in (paper.manifest, paper.labels):
        answer = httpx.get(paper.live.url + path)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.ESCORT, Role.COMMANDER, Role.ADMIN])
def test_dispatch_escort_and_command_print_the_manifest(
    paper: Paper, role: Role, tmp_path: Path
) -> None:
    answer = paper.staff(role).http.get(paper.manifest)
    _is_private_pdf(answer, f"manifest-{paper.plate}.pdf")
    text = _text(answer.content)
    assert paper.plate in text and "王小明" in text and "王𠮷" in text
    # The codes on paper are the ones the family's phones were given at registration.
    assert sorted(_codes(answer.content, tmp_path)) == sorted(paper.status_urls)


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.RECEIVER, Role.COMMANDER, Role.ADMIN])
def test_dispatch_receivers_and_command_print_door_labels(paper: Paper, role: Role) -> None:
    answer = paper.staff(role).http.get(paper.labels)
    _is_private_pdf(answer, f"door-labels-{paper.hotel}.pdf")
    text = _text(answer.content)
    assert "802" in text and "王小明" in text and "王𠮷" in text and "801" not in text


@pytest.mark.parametrize(
    ("role", "refused"),
    [
        (Role.ESCORT, "labels"),
        (Role.RECEIVER, "manifest"),
        (Role.SCREENER, "manifest"),
        (Role.SCREENER, "labels"),
        (Role.SURVEYOR, "manifest"),
        (Role.SURVEYOR, "labels"),
    ],
)
def test_other_roles_are_refused(paper: Paper, role: Role, refused: str) -> None:
    path = paper.manifest if refused == "manifest" else paper.labels
    assert paper.staff(role).http.get(path).status_code == 403


def test_unknown_runs_and_sites_and_streets_without_doors(paper: Paper) -> None:
    commander = paper.staff(Role.COMMANDER)
    assert commander.http.get(f"/api/runs/{uuid4()}/manifest.pdf").status_code == 404
    assert commander.http.get("/api/runs/not-a-run/manifest.pdf").status_code == 422
    assert commander.http.get("/api/sites/NO-SUCH/door-labels.pdf").status_code == 404
    street = commander.http.get(f"/api/sites/{paper.street}/door-labels.pdf")
    assert street.status_code == 409
    assert "no room doors" in street.json()["detail"]
