"""`tracking import arrivals`, run as an operator runs it, on the embedded store."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import ROOT
from tests.integration.test_arrivals_import import manifest_rows, write_csv


def tracking(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKING_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("TRACKING_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "tracking.cli", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("data")
    assert tracking(data_dir, "migrate").returncode == 0
    assert tracking(data_dir, "seed-demo").stdout.strip() == "seeded"
    return data_dir


def test_a_5000_row_manifest_with_bad_rows(store: Path, tmp_path: Path) -> None:
    rows, parties = manifest_rows(5000, seed=23)
    solos = [i for i, r in enumerate(rows) if not r["Booking Ref"]]
    bad = {solos[10]: {"Date of Birth": "31/02/1980"}, solos[20]: {"Phone": "12345"},
           solos[30]: {"Passport No": ""}}
    for i, change in bad.items():
        rows[i] |= change
    path = write_csv(tmp_path / "CZ312 manifest.csv", rows)
    report = tmp_path / "CZ312 manifest.rejected.csv"

    done = tracking(store, "import", "arrivals", str(path), "--entry-point", "CAN-T2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"5000 rows: 4997 travellers registered in {parties - 3} parties, "
        f"0 already registered, 3 rows rejected (see {report})"
    ]
    # What the operator saw of the bars (a log gets their final state).
    assert "Checking" in done.stderr and "5000/5000 rows" in done.stderr
    assert "Registering" in done.stderr and "4997/4997 rows" in done.stderr
    assert "━" in done.stderr

    with report.open(encoding="utf-8-sig", newline="") as f:
        rejected = list(csv.DictReader(f))
    assert [(r["row"], r["column"], r["field"]) for r in rejected] == [
        (str(solos[10] + 2), "Date of Birth", "birth_date"),
        (str(solos[20] + 2), "Phone", "phone"),
        (str(solos[30] + 2), "Passport No", "doc_number"),
    ]
    assert all(r["reason"] for r in rejected)

    again = tracking(store, "import", "arrivals", str(path), "--entry-point", "CAN-T2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(
        "5000 rows: 0 travellers registered in 0 parties, 4997 already registered, 3 rows"
    )


def test_named_columns_a_chinese_export_and_a_chosen_report(store: Path, tmp_path: Path) -> None:
    rows = [{
        "护照号#": "E55500001", "姓名": "𠮷田 太郎", "出生日期": "01JAN80",
        "手机号码": "13900005555",
        "国籍": "日本", "航班号": "CZ 312",
    }]
    path = write_csv(tmp_path / "海关.csv", rows, encoding="gb18030")
    report = tmp_path / "out" / "拒收.csv"
    report.parent.mkdir()
    done = tracking(
        store, "import", "arrivals", str(path), "--entry-point", "LW-RC",
        "--column", "doc_number=护照号#", "--rejected", str(report),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "1 rows: 1 travellers registered in 1 parties, 0 already registered, 0 rows rejected"
    )
    assert report.read_text(encoding="utf-8-sig").splitlines() == ["row,column,field,reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--entry-point", "NO-SUCH"], "no such entry point 'NO-SUCH'"),
        (["--entry-point", "CAN-T2", "--column", "fax=Fax"], "unknown field 'fax'"),
        (["--entry-point", "CAN-T2", "--column", "doc_number"], "FIELD=HEADER"),
    ],
)
def test_what_stops_an_import(
    store: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "m.csv", manifest_rows(2)[0])
    failed = tracking(store, "import", "arrivals", str(path), *args)
    assert failed.returncode == 1
    assert message in failed.stderr
    assert failed.stdout == ""


def test_an_unreadable_file_stops_the_import(store: Path, tmp_path: Path) -> None:
    failed = tracking(store, "import", "arrivals", str(tmp_path / "nope.csv"),
                      "--entry-point", "CAN-T2")
    assert failed.returncode == 1
    assert "cannot read" in failed.stderr
