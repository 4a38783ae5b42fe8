"""The daily report (projections/report.py) as files a commander opens in a spreadsheet: CSV
(UTF-8 with a BOM, so that Excel on Chinese Windows reads it right) with one row per figure,
and XLSX with a summary, a table per entry point and per site, and the board's totals at the
report's position. Headers are in Chinese and English; cells hold counts and codes only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from projections.report import ARRIVALS, EXITS, HOSPITAL_TRANSFERS, QUARANTINE, Report

# (section, figure, dimension, key, name, value): one figure of the report.
Figure = tuple[str, str, str, str, str, Any]
CSV_HEADER = (
    "部分 / section", "指标 / figure", "说明 / label", "维度 / dimension", "键 / key",
    "名称 / name", "数值 / value",
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEETS = ("汇总 Summary", "入境点 By entry point", "隔离点 By site", "看板 Board totals")

LABELS = {
    "day": "日期 day", "position": "看板位置 board position", "at": "看板时间 board time",
    "views_position": "视图位置 views position", "generated_at": "生成时间 generated at",
    "rebuilding": "视图重建中(1=是,数字不全) views rebuilding (1 = yes, figures incomplete)",
    "sla_hours": "流调时限(小时) survey SLA (hours)",
    "registered": "登记 registered", "screened": "接收筛查 screened at the desk",
    "checked_in": "转运完成(入住) transfers completed (checked in)",
    "surveyed": "完成流调 surveyed", "backlog": "待流调(现在) survey backlog (now)",
    "late": "超时流调 surveys past the SLA",
    "overdue_alerts_raised": "流调超时预警(当日) survey-overdue alerts raised",
    "overdue_alerts_open": "流调超时预警(未关闭) survey-overdue alerts open",
    "released": "解除隔离 released", "referred_to_hospital": "转医院 referred to hospital",
    "no_show": "未到 no-show", "cancelled": "取消 cancelled",
    "quarantine_started": "开始隔离 quarantine started",
    "quarantine_extended": "延长隔离 quarantine extended",
    "quarantine_shortened": "缩短隔离 quarantine shortened",
    "tests_recorded": "检测结果 tests recorded",
    "transfers_requested": "送医申请 hospital transfers requested",
    "transfers_delivered": "送医完成 hospital transfers delivered",
    "transfers_cancelled": "送医取消 hospital transfers cancelled",
    "sites": "点位数 sites", "capacity": "容量 capacity", "held": "预留 held",
    "occupied": "在住 occupied", "free": "空余 free",
    "journeys": "人数(按阶段) journeys by stage", "survey_due": "待流调 survey backlog",
    "open_alerts": "未关闭预警 open alerts",
}
LEG_LABELS = {
    "door_to_door": "车门到房门 door to door", "overall": "全程(筛查到入住) whole line",
    "to_survey": "入住到流调 room door to survey",
}
STAT_LABELS = {"n": "人次 n", "p50": "中位分钟 p50 min", "p95": "95%分钟 p95 min"}


def label(figure: str) -> str:
    if figure in LABELS:
        return LABELS[figure]
    leg, _, stat = figure.rpartition("_")
    return f"{LEG_LABELS.get(leg, leg)} {STAT_LABELS.get(stat, stat)}"


# -- one row per figure -------------------------------------------------------------------------

def figure_rows(report: Report) -> Iterator[Figure]:
    eps: dict[str, str] = report["entry_points"]
    sites = {s["code"]: s["name"] for s in report["occupancy"]["sites"]}

    def count(section: str, figure: str, c: dict[str, Any]) -> Iterator[Figure]:
        yield section, figure, "all", "", "", c["total"]
        for ep, n in c["by_entry_point"].items():
            yield section, figure, "entry_point", ep, eps.get(ep, ""), n
        for code, n in c.get("by_site", {}).items():
            yield section, figure, "site", code, sites.get(code, ""), n

    def timing(section: str, leg: str, t: dict[str, Any]) -> Iterator[Figure]:
        parts = [("all", "", "", t["all"])]
        parts += [("entry_point", ep, eps.get(ep, ""), c) for ep, c in t["by_entry_point"].items()]
        parts += [("hotel", code, sites.get(code, ""), c) for code, c in t["by_hotel"].items()]
        for dimension, key, name, cell in parts:
            for stat in ("n", "p50", "p95"):
                yield section, f"{leg}_{stat}", dimension, key, name, cell[stat]

    for figure in ("day", "position", "at", "views_position", "generated_at"):
        yield "report", figure, "all", "", "", report[figure]
    yield "report", "rebuilding", "all", "", "", int(report["rebuilding"])
    for figure in ARRIVALS:
        yield from count("arrivals", figure, report["arrivals"][figure])
    transfers = report["transfers"]
    yield from count("transfers", "checked_in", transfers["checked_in"])
    for leg, t in transfers["times"].items():
        yield from timing("transfers", leg, t)
    survey = report["survey"]
    yield from count("survey", "surveyed", survey["surveyed"])
    for figure in ("backlog", "sla_hours"):
        yield "survey", figure, "all", "", "", survey[figure]
    yield from count("survey", "late", survey["late"])
    yield from count("survey", "overdue_alerts_raised", survey["overdue_alerts_raised"])
    yield "survey", "overdue_alerts_open", "all", "", "", survey["overdue_alerts_open"]
    yield from timing("survey", "to_survey", survey["times"]["to_survey"])
    yield from _occupancy_rows("occupancy", report["occupancy"])
    for section, figures in (("exits", EXITS), ("quarantine", QUARANTINE),
                             ("hospital_transfers", HOSPITAL_TRANSFERS)):
        for figure in figures:
            yield from count(section, figure, report[section][figure])
    yield from board_rows(report)


def _occupancy_rows(section: str, occupancy: dict[str, Any]) -> Iterator[Figure]:
    for figure in ("sites", "capacity", "held", "occupied", "free"):
        yield section, figure, "all", "", "", occupancy["total"][figure]
        for kind, totals in occupancy["by_kind"].items():
            yield section, figure, "site_kind", kind, "", totals[figure]
        if figure != "sites":
            for site in occupancy.get("sites", ()):
                yield section, figure, "site", site["code"], site["name"], site[figure]


def board_rows(report: Report) -> Iterator[Figure]:
    """The board's own numbers at the report's position."""
    board = report["board"]
    yield "board", "position", "all", "", "", board["position"]
    yield "board", "at", "all", "", "", board["at"]
    for stage, n in board["stages"].items():
        yield "board", "journeys", "stage", stage, "", n
    yield "board", "survey_due", "all", "", "", board["survey_due"]
    for kind, n in board["alert_counts"].items():
        yield "board", "open_alerts", "alert_kind", kind, "", n
    yield from _occupancy_rows("board", board["occupancy"])


# -- CSV ----------------------------------------------------------------------------------------

def daily_report_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for section, figure, dimension, key, name, value in figure_rows(report):
        writer.writerow([section, figure, label(figure), dimension, _text(key), _text(name),
                         "" if value is None else value])
    return ("\ufeff" + out.getvalue()).encode()


def _text(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: typed names must stay text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


# -- XLSX ---------------------------------------------------------------------------------------

Column = tuple[str, Callable[[Report, str], Any]]


def _count(*path: str, by: str) -> Callable[[Report, str], Any]:
    def get(report: Report, key: str) -> Any:
        found: Any = report
        for part in path:
            found = found[part]
        return found[by].get(key, 0)

    return get


def _time(section: str, leg: str, stat: str, by: str) -> Callable[[Report, str], Any]:
    def get(report: Report, key: str) -> Any:
        return report[section]["times"][leg][by].get(key, {}).get(stat)

    return get


def _columns(by: str, timed_by: str, with_site_only: bool) -> list[Column]:
    cols: list[Column] = []
    if not with_site_only:
        cols += [(LABELS[m], _count("arrivals", m, by=by)) for m in ARRIVALS]
    cols.append((LABELS["checked_in"], _count("transfers", "checked_in", by=by)))
    for leg in ("door_to_door", "overall"):
        cols += [(label(f"{leg}_{s}"), _time("transfers", leg, s, timed_by))
                 for s in ("n", "p50", "p95")]
    cols.append((LABELS["surveyed"], _count("survey", "surveyed", by=by)))
    if not with_site_only:
        cols.append((LABELS["late"], _count("survey", "late", by=by)))
        cols.append((LABELS["overdue_alerts_raised"],
                     _count("survey", "overdue_alerts_raised", by=by)))
    cols += [(label(f"to_survey_{s}"), _time("survey", "to_survey", s, timed_by))
             for s in ("n", "p50", "p95")]
    cols += [(LABELS[m], _count("exits", m, by=by)) for m in EXITS]
    cols += [(LABELS[m], _count("quarantine", m, by=by)) for m in QUARANTINE]
    if not with_site_only:
        cols += [(LABELS[m], _count("hospital_transfers", m, by=by)) for m in HOSPITAL_TRANSFERS]
    return cols


def daily_report_xlsx(report: Report) -> bytes:
    book = Workbook(write_only=True)
    summary, by_entry, by_site, board = (book.create_sheet(title) for title in SHEETS)
    for sheet, widths in ((summary, (14, 26, 44, 34)), (by_entry, (14, 24)),
                          (by_site, (14, 24, 8)), (board, (16, 30, 14, 24, 34))):
        sheet.freeze_panes = "A2"  # the header row stays in view
        for column, width in zip("ABCDE", widths, strict=False):
            sheet.column_dimensions[column].width = width

    _append(summary, ["部分 section", "指标 figure", "说明 label", "数值 value"])
    for section, figure, dimension, _, _, value in figure_rows(report):
        if dimension == "all" and section != "board":
            _append(summary, [section, figure, label(figure), value])

    ep_cols = _columns("by_entry_point", "by_entry_point", with_site_only=False)
    _append(by_entry, ["代码 code", "名称 name", *(h for h, _ in ep_cols)])
    for code, name in report["entry_points"].items():
        _append(by_entry, [code, name, *(get(report, code) for _, get in ep_cols)])

    site_cols = _columns("by_site", "by_hotel", with_site_only=True)
    _append(by_site, ["代码 code", "名称 name", "类型 kind", *(LABELS[k] for k in
                      ("capacity", "held", "occupied", "free")), *(h for h, _ in site_cols)])
    for site in report["occupancy"]["sites"]:
        code = site["code"]
        _append(by_site, [code, site["name"], site["kind"],
                          *(site[k] for k in ("capacity", "held", "occupied", "free")),
                          *(get(report, code) for _, get in site_cols)])

    _append(board, ["指标 figure", "说明 label", "维度 dimension", "键 key", "数值 value"])
    for _, figure, dimension, key, _, value in board_rows(report):
        _append(board, [figure, label(figure), dimension, key, value])

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _append(sheet: WriteOnlyWorksheet, values: list[Any]) -> None:
    # Text stays text: a name typed as "=..." must not become a formula. XML cannot hold most
    # control characters, and a site's name may carry one (staff typed it; the fuzz test does):
    # they are dropped here rather than failing the whole report.
    row: list[Any] = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"
            row.append(cell)
        else:
            row.append(value)
    sheet.append(row)
