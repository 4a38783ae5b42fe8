"""QR posters over HTTP against a real server, the staff page that offers them, and the
operator's `tracking posters` / `tracking serve` commands."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pypdf
import pytest

from domain.staff import Role
from tests.e2e.client import Api
from tests.e2e.conftest import Live
from tests.e2e.server import ROOT, LiveServer
from tests.pgcluster import free_port
from tests.unit.test_posters import decoded_qr_codes
from tracking.cli import registration_form_lines
from tracking.printing.posters import TITLE_ZH
from tracking.settings import load_settings

NAME = "荔湾区集中接待点 Liwan Reception Point"


@dataclass
class Poster:
    live: Live
    code: str
    admin: Api

    @property
    def svg(self) -> str:
        return f"/api/entry-points/{self.code}/poster.svg"

    @property
    def pdf(self) -> str:
        return f"/api/entry-points/{self.code}/poster.pdf"


@pytest.fixture(scope="module")
def poster(live: Live) -> Poster:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    code = f"EP-{uuid4().hex[:6].upper()}"
    admin.post("/api/entry-points", {"code": code, "name": NAME}, expect=201)
    return Poster(live, code, admin)


def test_posters_need_a_signed_in_staff_member(poster: Poster) -> None:
    for path in (poster.svg, poster.pdf, "/api/posters"):
        anonymous = httpx.get(poster.live.url + path)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
        forged = httpx.get(poster.live.url + path, headers={"Authorization": "Bearer forged"})
        assert forged.status_code == 401, path


@pytest.mark.parametrize("role", [Role.ESCORT, Role.RECEIVER, Role.SURVEYOR])
def test_roles_that_put_up_no_posters_are_refused(poster: Poster, role: Role) -> None:
    staff = Api.signed_in(poster.live.url, poster.live.settings, role)
    for path in (poster.svg, poster.pdf, "/api/posters"):
        assert staff.http.get(path).status_code == 403, (role, path)


@pytest.mark.parametrize("role", [Role.SCREENER, Role.DISPATCHER, Role.COMMANDER])
def test_desk_and_command_roles_may_print_posters(poster: Poster, role: Role) -> None:
    staff = Api.signed_in(poster.live.url, poster.live.settings, role)
    answer = staff.http.get(poster.svg)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml"


def test_admin_downloads_a_pdf_whose_code_opens_the_form(poster: Poster, tmp_path: Path) -> None:
    answer = poster.admin.http.get(poster.pdf)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert f'filename="poster-{poster.code}.pdf"' in answer.headers["content-disposition"]
    assert answer.content.startswith(b"%PDF-")
    form = f"{poster.live.url}/r/{poster.code}"
    assert decoded_qr_codes(answer.content, tmp_path) == [form]
    text = pypdf.PdfReader(io.BytesIO(answer.content)).pages[0].extract_text()
    assert TITLE_ZH in text
    assert poster.code in text
    assert form in text
    again = poster.admin.http.get(poster.pdf)
    assert again.status_code == 200
    assert again.content == answer.content


def test_admin_gets_the_svg_poster_of_the_form(poster: Poster) -> None:
    answer = poster.admin.http.get(poster.svg)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml"
    assert f'filename="poster-{poster.code}.svg"' in answer.headers["content-disposition"]
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert f"{poster.live.url}/r/{poster.code}" in answer.text
    assert "<svg" in answer.text
    assert TITLE_ZH in answer.text


def test_unknown_entry_point_has_no_poster(poster: Poster) -> None:
    for suffix in ("poster.svg", "poster.pdf"):
        answer = poster.admin.http.get(f"/api/entry-points/NOPE-{uuid4().hex[:6]}/{suffix}")
        assert answer.status_code == 404, answer.text
        assert "no such entry point" in answer.json()["detail"]


def test_poster_list_names_each_entry_point_with_its_form(poster: Poster) -> None:
    poster.admin.wait_for_views()
    listed = poster.admin.get("/api/posters")["entry_points"]
    mine = next(e for e in listed if e["code"] == poster.code)
    assert mine == {
        "code": poster.code,
        "name": NAME,
        "registration_url": f"{poster.live.url}/r/{poster.code}",
        "svg": poster.svg,
        "pdf": poster.pdf,
    }


def test_staff_page_is_served_with_its_own_assets(poster: Poster) -> None:
    page = httpx.get(f"{poster.live.url}/admin/posters")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for needed in (
        '<label for="username">',
        '<label for="password">',
        'src="/static/staff/session.js"',
        'src="/static/admin/posters.js"',
        'href="/static/admin/posters.css"',
        "二维码海报",
        "QR posters",
    ):
        assert needed in page.text
    for asset, kind in (("posters.js", "javascript"), ("posters.css", "text/css")):
        served = httpx.get(f"{poster.live.url}/static/admin/{asset}")
        assert served.status_code == 200, asset
        assert kind in served.headers["content-type"]
    script = httpx.get(f"{poster.live.url}/static/admin/posters.js").text
    # Signing in is shared by the staff pages; the page's own script fetches with the token.
    session = httpx.get(f"{poster.live.url}/static/staff/session.js").text
    for call in ("/api/auth/token", "sessionStorage"):
        assert call in session
    for call in ("StaffSession", "/api/posters", "Authorization"):
        assert call in script


def test_a_configured_public_address_is_what_the_poster_holds(tmp_path: Path) -> None:
    public = "https://rk.liwan.example"
    server = LiveServer({"TRACKING_DATA_DIR": str(tmp_path), "TRACKING_PUBLIC_URL": public})
    try:
        settings = load_settings({"TRACKING_DATA_DIR": str(tmp_path)})
        admin = Api.signed_in(server.url, settings, Role.ADMIN)
        admin.post("/api/entry-points", {"code": "CAN-T2", "name": "白云机场 T2"}, expect=201)
        answer = admin.http.get("/api/entry-points/CAN-T2/poster.svg")
        assert answer.status_code == 200, answer.text
        assert f"{public}/r/CAN-T2" in answer.text
        assert server.url not in answer.text
    finally:
        server.stop()



# -- the operator's commands ------------------------------------------------------------------


def tracking(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracking.cli", *args],
        env={**os.environ, "TRACKING_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


DEMO = {"CAN-T2": "白云机场 T2 国际到达 Baiyun Airport T2", "LW-RC": "荔湾区集中接待点"}


def test_cli_writes_an_svg_and_a_pdf_per_entry_point(tmp_path: Path) -> None:
    data = tmp_path / "data"
    empty = tracking(data, "posters")
    assert empty.returncode == 1
    assert "no entry points" in empty.stderr
    assert tracking(data, "seed-demo").returncode == 0
    out = tmp_path / "posters"
    done = tracking(data, "posters", "--out", str(out), "--base-url", "http://10.0.0.5:8000/")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "CAN-T2.pdf", "CAN-T2.svg", "LW-RC.pdf", "LW-RC.svg",
    ]
    for code, name in DEMO.items():
        form = f"http://10.0.0.5:8000/r/{code}"
        assert f"{code} ({name}" in done.stdout
        assert form in done.stdout
        assert str(out / f"{code}.pdf") in done.stdout
        assert str(out / f"{code}.svg") in done.stdout
        assert form in (out / f"{code}.svg").read_text(encoding="utf-8")
        scratch = tmp_path / code
        scratch.mkdir()
        assert decoded_qr_codes((out / f"{code}.pdf").read_bytes(), scratch) == [form]


def test_cli_posters_default_to_the_public_address_in_the_data_folder(tmp_path: Path) -> None:
    assert tracking(tmp_path, "migrate").returncode == 0
    assert tracking(tmp_path, "seed-demo").returncode == 0
    done = tracking(tmp_path, "posters", TRACKING_PUBLIC_URL="https://rk.liwan.example")
    assert done.returncode == 0, done.stderr
    svg = (tmp_path / "posters" / "LW-RC.svg").read_text(encoding="utf-8")
    assert "https://rk.liwan.example/r/LW-RC" in svg
    assert (tmp_path / "posters" / "CAN-T2.pdf").read_bytes().startswith(b"%PDF-")


def test_serve_prints_the_registration_form_of_each_entry_point(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tracking.cli", "serve", "--port", str(port)],
        env={**os.environ, "TRACKING_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Serving on"):
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    for code, name in DEMO.items():
        assert any(
            line.startswith(f"Registration form for {code} ({name}")
            and line.endswith(f"): http://127.0.0.1:{port}/r/{code}")
            for line in lines
        ), lines


def test_serve_lines_use_the_public_address_when_set(tmp_path: Path) -> None:
    assert tracking(tmp_path, "migrate").returncode == 0
    assert tracking(tmp_path, "seed-demo").returncode == 0
    settings = load_settings(
        {"TRACKING_DATA_DIR": str(tmp_path), "TRACKING_PUBLIC_URL": "https://rk.example/"}
    )
    assert registration_form_lines(settings, "0.0.0.0", 8000) == [  # noqa: S104
        f"Registration form for CAN-T2 ({DEMO['CAN-T2']}): https://rk.example/r/CAN-T2",
        "Registration form for LW-RC (荔湾区集中接待点 Liwan Reception Point): "
        "https://rk.example/r/LW-RC",
    ]
