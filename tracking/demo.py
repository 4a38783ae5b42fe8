"""Demo reference data for `make run`: Liwan district's streets, hotels, vehicles, staff."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from domain.reference import entry_point_id
from domain.staff import Role
from domain.stages import DestinationKind
from tracking.services import Services

ENTRY_POINTS = [
    ("CAN-T2", "白云机场 T2 国际到达 Baiyun Airport T2"),
    ("LW-RC", "荔湾区集中接待点 Liwan Reception Point"),
]
HOTELS = [
    ("H-LW01", "荔湾酒店 Liwan Hotel", 40),
    ("H-LW02", "花地湾酒店 Huadiwan Hotel", 30),
    ("H-LW03", "白鹅潭酒店 Baietan Hotel", 24),
]
STREETS = [
    ("ST-SHAMIAN", "沙面"),
    ("ST-LINGNAN", "岭南"),
    ("ST-HUALIN", "华林"),
    ("ST-DUOBAO", "多宝"),
    ("ST-CHANGHUA", "昌华"),
    ("ST-FENGYUAN", "逢源"),
    ("ST-LONGJIN", "龙津"),
    ("ST-JINHUA", "金花"),
    ("ST-CAIHONG", "彩虹"),
    ("ST-NANYUAN", "南源"),
    ("ST-XICUN", "西村"),
    ("ST-ZHANQIAN", "站前"),
    ("ST-QIAOZHONG", "桥中"),
    ("ST-BAIHEDONG", "白鹤洞"),
    ("ST-CHONGKOU", "冲口"),
    ("ST-HUADI", "花地"),
    ("ST-SHIWEITANG", "石围塘"),
    ("ST-CHAJIAO", "茶滘"),
    ("ST-DONGJIAO", "东漖"),
    ("ST-HAILONG", "海龙"),
    ("ST-DONGSHA", "东沙"),
    ("ST-ZHONGNAN", "中南"),
]
VEHICLES = [(f"粤A·D{n:04d}", 30 if n <= 6 else 12) for n in range(1, 11)]


def seed_demo(services: Services) -> bool:
    """Seed once; returns False when the store already holds the demo data."""
    app = services.app
    if entry_point_id(ENTRY_POINTS[0][0]) in app.repository:
        return False
    for code, name in ENTRY_POINTS:
        app.register_entry_point(code, name)
    for code, name, rooms in HOTELS:
        floors = [f"{floor}{n:02d}" for floor in range(1, 5) for n in range(1, 11)]
        app.register_site(code, name, DestinationKind.HOTEL, rooms=floors[:rooms])
    for code, name in STREETS:
        app.register_site(code, f"{name}街道", DestinationKind.HOME, capacity=200)
    for plate, seats in VEHICLES:
        app.register_vehicle(plate, seats)
    lines = []
    for role in Role:
        password = secrets.token_urlsafe(12)
        username = f"demo-{role.value}"
        services.accounts.add(username, role, f"Demo {role.value}", password)
        lines.append(f"{username}\t{role.value}\t{password}")
    _write_private(services.settings.data_dir / "demo-accounts.txt", "\n".join(lines) + "\n")
    return True


def demo_accounts(services: Services) -> list[str]:
    path = services.settings.data_dir / "demo-accounts.txt"
    return path.read_text().splitlines() if path.exists() else []


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
