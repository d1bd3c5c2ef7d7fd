"""Filing lists (the CAC's algorithm registry) read from bytes: XLSX, CSV or an HTML table.

Pure: bytes and a file name in, a `FilingTable` out, or a `FilingListError` that names the
file and says what was wrong. What the real attachments do, and how each is met:

    a title row, notes, blank rows   the header row is found by its column names (序号, 算法名称,
                                     主体名称 …, variants and English), not by its position;
                                     rows without a filer are skipped and counted
    merged cells                     XLSX merge ranges and HTML rowspan/colspan are filled with
                                     the merged value (a filer merged over its algorithms)
    full-width characters, spaces    every cell is NFKC-folded and its spaces collapsed
    GBK / GB18030 CSV                UTF-8 (with or without BOM), else GB18030 (a GBK superset)
    a hostile body                   at most MAX_BYTES; an XLSX whose zip declares more than
                                     MAX_UNZIPPED bytes, or a member packed over MAX_RATIO times,
                                     is refused before openpyxl opens it; at most MAX_ROWS rows
                                     of MAX_COLUMNS columns (a sheet's declared dimension, an
                                     HTML colspan and rowspan never size what is built)
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser

from bot.errors import FilingListError
from bot.models import Filing

MAX_BYTES = 10 * 1024 * 1024  # the fetcher's body cap (FetchLimits.max_bytes)
MAX_UNZIPPED = 64 * 1024 * 1024  # all members of an XLSX, as its zip directory declares them
MAX_RATIO = 200  # one member's declared size over its packed size (spreadsheet XML: ~10-30)
MAX_MEMBERS = 2_000
MAX_ROWS = 50_000  # the largest real batch lists a few hundred
MAX_COLUMNS = 64  # real lists have about ten; a sheet may declare 16,384
MAX_CELLS = MAX_ROWS * 16  # an HTML page's cells, rowspans and colspans included
HEADER_ROWS = 30  # the header must be among the first rows of a sheet
FORMATS = ("xlsx", "csv", "html")

# Column names, folded (see _key). The first field a header cell names wins; a cell names a
# field when it equals one of its names, or contains one of its longer (3+ character) names.
COLUMNS: dict[str, tuple[str, ...]] = {
    "filer": ("主体名称", "服务提供者名称", "技术支持者名称", "企业名称", "单位名称", "公司名称",
              "备案主体", "备案单位", "备案主体名称", "主体", "filer", "filer name", "company",
              "company name", "entity", "entity name", "provider", "service provider",
              "organization", "organisation"),
    "algorithm": ("算法名称", "算法", "模型名称", "服务名称", "algorithm", "algorithm name",
                  "model name", "service name"),
    "role": ("角色", "备案角色", "主体角色", "role", "filer role"),
    "product": ("应用产品", "产品名称", "应用名称", "product", "application", "app",
                "product name"),
    "purpose": ("主要用途", "用途", "purpose", "main purpose", "main use", "use"),
    "number": ("备案编号", "备案号", "编号", "filing number", "filing no", "registration number",
               "record number", "number"),
    "note": ("备注", "说明", "note", "notes", "remark", "remarks"),
    "seq": ("序号", "no", "no.", "#", "index", "serial", "serial number"),
}
_BATCH = re.compile(r"第\s*([0-9]+|[零一二三四五六七八九十百]+)\s*批")
_DATE = re.compile(r"(20\d\d)\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FilingTable:
    """A filing list as read: its filings, the header found, and hints from its title rows."""

    filings: tuple[Filing, ...]
    columns: tuple[str, ...]  # the header row's cells, as written
    title: str | None = None  # the text above the header (e.g. 境内深度合成服务算法备案清单…)
    batch: str | None = None  # "第15批", when the title says
    date: str | None = None  # ISO "2025-11" or "2025-11-06", when the title says
    skipped: int = 0  # rows below the header without a filer (notes, blank, subtotals)


def clean_cell(value: object) -> str:
    """A cell as text: NFKC (full-width → half-width), whitespace collapsed, trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    return _SPACES.sub(" ", text).strip()


def _key(cell: str) -> str:
    """A header cell folded for comparison: no spaces, no stars or colons, lower case."""
    return re.sub(r"[\s*:：()（）]", "", cell).casefold()


_NAMES = {field: tuple(_key(n) for n in names) for field, names in COLUMNS.items()}


def column_field(cell: str) -> str | None:
    """The field a header cell names (filer, algorithm, role …), or None."""
    key = _key(cell)
    if not key:
        return None
    for field, names in _NAMES.items():
        if key in names:
            return field
    for field, names in _NAMES.items():
        if any(len(n) >= 3 and not n.isascii() and n in key for n in names):
            return field
    return None


def sniff_format(body: bytes, name: str = "", content_type: str | None = None) -> str:
    """xlsx, csv or html, from the bytes first (a zip is XLSX), then the name and type."""
    if body.startswith(b"PK\x03\x04"):
        return "xlsx"
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype", b"<html", b"<table", b"<?xml", b"<meta", b"<head", b"<body")):
        return "html"
    lowered = name.lower()
    if lowered.endswith((".htm", ".html")) or "html" in (content_type or ""):
        return "html"
    if b"<table" in body[:65536].lower():
        return "html"
    return "csv"


def parse_filings(body: bytes, name: str, fmt: str | None = None,
                  content_type: str | None = None) -> FilingTable:
    """Read a filing list; raises FilingListError naming `name` when it cannot."""
    if len(body) > MAX_BYTES:
        raise FilingListError(f"{name}: {len(body):,} bytes, over the {MAX_BYTES:,}-byte cap for "
                              "a filing list")
    if body.startswith(b"\xd0\xcf\x11\xe0"):
        raise FilingListError(f"{name}: an old Excel .xls workbook, which is not read; save it "
                              "as .xlsx or CSV")
    if body.startswith(b"%PDF"):
        raise FilingListError(f"{name}: a PDF, which is not read; ask for the XLSX, CSV or "
                              "HTML list")
    fmt = (fmt or sniff_format(body, name, content_type)).lower()
    if fmt == "xlsx":
        sheets = _xlsx_sheets(body, name)
    elif fmt == "csv":
        sheets = [_csv_rows(body, name)]
    elif fmt == "html":
        text = decode_html(body)
        try:
            tables = _html_tables(text)
        except _TooManyCells:
            raise FilingListError(f"{name}: the page's tables make more than {MAX_CELLS:,} "
                                  "cells; not a filing list") from None
        table = table_from_sheets(tables, name)
        if table.batch is None:  # the announcement names its batch above the table
            page = re.sub(r"<[^>]*>", " ", text[:65536])
            table = replace(table, batch=_hints(page)[0])
        return table
    else:
        raise FilingListError(f"{name}: unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    return table_from_sheets(sheets, name)


def table_from_sheets(sheets: Iterable[Iterable[list[str]]], name: str) -> FilingTable:
    """The filings of every sheet (or HTML table) that has a header row with a filer column."""
    filings: list[Filing] = []
    columns: tuple[str, ...] = ()
    titles: list[str] = []
    skipped = 0
    seen_columns: list[str] = []
    read = 0
    for rows in sheets:
        header: dict[int, str] | None = None
        for number, row in enumerate(rows, 1):
            read += 1
            if read > MAX_ROWS:
                raise FilingListError(f"{name}: more than {MAX_ROWS:,} rows; not a filing list "
                                      "(or split it)")
            cells = [clean_cell(c) for c in row]
            if header is None:
                header = _header(cells)
                if header is None:
                    if number <= HEADER_ROWS and any(cells):
                        if not seen_columns and sum(1 for c in cells if c) > 1:
                            seen_columns = [c for c in cells if c]
                        titles.append(" ".join(c for c in dict.fromkeys(cells) if c))
                        continue
                    if number > HEADER_ROWS:
                        break
                    continue
                columns = columns or tuple(c for c in cells if c)
                continue
            filing = _filing(cells, header, number)
            if filing is None:
                skipped += any(cells)
            else:
                filings.append(filing)
    if not columns:
        found = ", ".join(seen_columns) or "none"
        raise FilingListError(
            f"{name}: no filer column (主体名称, 服务提供者名称, 企业名称, 单位名称 or "
            f"filer/company) in the first {HEADER_ROWS} rows; columns found: {found}")
    title = " ".join(titles) or None
    return FilingTable(tuple(filings), columns, title, *_hints(title), skipped=skipped)


def _header(cells: list[str]) -> dict[int, str] | None:
    """Column index → field, when these cells are a header row (a filer and one more)."""
    fields: dict[int, str] = {}
    for at, cell in enumerate(cells):
        field = column_field(cell) if len(cell) <= 40 else None
        if field is not None and field not in fields.values():
            fields[at] = field
    if "filer" not in fields.values() or len(fields) < 2:
        return None
    return fields


def _filing(cells: list[str], header: dict[int, str], row: int) -> Filing | None:
    values = {field: cells[at] if at < len(cells) else "" for at, field in header.items()}
    filer = values.get("filer", "")
    if not filer or column_field(filer) == "filer":  # a repeated header row
        return None
    if len({c for c in cells if c}) == 1 and sum(1 for c in cells if c) > 1:
        return None  # one merged cell across the row: a note, not a filing
    return Filing(filer=filer, algorithm=values.get("algorithm", ""),
                  role=values.get("role", ""), product=values.get("product", ""),
                  purpose=values.get("purpose", ""),
                  number=values.get("number", "").replace(" ", ""),
                  note=values.get("note", ""), row=row)


_DIGITS = {c: n for n, c in enumerate("零一二三四五六七八九")}


def _chinese_number(text: str) -> int | None:
    """一 … 九十九 (and 百) as a number; None for anything else."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _DIGITS and c not in "十百" for c in text):
        return None
    total = current = 0
    for c in text:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[c]
    return total + current


def batch_label(text: str) -> str:
    """A batch label in one spelling: 第十五批, 第 15 批 and 第15批 are 第15批."""
    text = clean_cell(text)
    found = _BATCH.fullmatch(text)
    number = _chinese_number(found.group(1)) if found else None
    return f"第{number}批" if number is not None else text


def _hints(title: str | None) -> tuple[str | None, str | None]:
    """(batch label, ISO date) from a list's title, e.g. 第十五批 … （2025年11月）."""
    if not title:
        return None, None
    batch = _BATCH.search(title)
    date = _DATE.search(title)
    label = batch_label(batch.group(0)) if batch else None
    iso = None
    if date:
        year, month, day = date.groups()
        iso = f"{year}-{int(month):02d}" + (f"-{int(day):02d}" if day else "")
    return label, iso


# ---------------------------------------------------------------------------- XLSX

def check_zip(body: bytes, name: str) -> zipfile.ZipFile:
    """The XLSX's zip, after its directory was checked against the caps (a zip bomb is
    refused here, before anything is inflated). Python's zipfile never inflates a member
    past its declared size, so the declared sizes are the real bound."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise FilingListError(f"{name}: not an XLSX workbook (bad zip: {exc})") from exc
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise FilingListError(f"{name}: {len(infos):,} files in the workbook's zip; refused")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED:
        raise FilingListError(f"{name}: the workbook unpacks to {total:,} bytes, over the "
                              f"{MAX_UNZIPPED:,}-byte cap; refused (a zip bomb?)")
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(1, info.compress_size):
            ratio = info.file_size // max(1, info.compress_size)
            raise FilingListError(f"{name}: {info.filename} is packed {ratio:,} times over "
                                  f"(cap {MAX_RATIO}); refused (a zip bomb?)")
    return archive


_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3}[0-9]{1,7}):([A-Z]{1,3}[0-9]{1,7})"')


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _xlsx_sheets(body: bytes, name: str) -> list[list[list[str]]]:
    archive = check_zip(body, name)
    with warnings.catch_warnings():
        # openpyxl warns about what real registry files contain (no default style, unknown
        # extensions): noise, not a reason to refuse the file
        warnings.simplefilter("ignore")
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(body), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a broken workbook
            raise FilingListError(f"{name}: not a readable XLSX workbook: "
                                  f"{type(exc).__name__}: {exc}") from exc
        try:
            sheets = []
            for sheet in book.worksheets:
                merges = _merges(archive, getattr(sheet, "_worksheet_path", ""))
                rows = []
                for row in sheet.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLUMNS,
                                           values_only=True):
                    if len(rows) >= MAX_ROWS:
                        raise FilingListError(f"{name}: more than {MAX_ROWS:,} rows; not a "
                                              "filing list (or split it)")
                    rows.append([clean_cell(v) for v in row])
                sheets.append(_fill_merged(rows, merges))
            return sheets
        except FilingListError:
            raise
        except Exception as exc:
            raise FilingListError(f"{name}: not a readable XLSX workbook: "
                                  f"{type(exc).__name__}: {exc}") from exc
        finally:
            book.close()


def _merges(archive: zipfile.ZipFile, path: str) -> list[tuple[int, int, int, int]]:
    """A sheet's merged ranges (row, col, last row, last col; 0-based), which openpyxl's
    read-only mode does not report. The sheet's size was checked with the zip's."""
    path = path.lstrip("/")
    if not path or path not in archive.namelist():
        return []
    data = archive.read(path)
    at = data.rfind(b"<mergeCells")
    if at == -1:
        at = data.find(b"mergeCell")
        if at == -1:
            return []
    out = []
    for first, last in _MERGE.findall(data[at:]):
        a = _CELL_REF.fullmatch(first.decode())
        b = _CELL_REF.fullmatch(last.decode())
        if a and b:
            out.append((int(a.group(2)) - 1, _column_number(a.group(1)) - 1,
                        int(b.group(2)) - 1, _column_number(b.group(1)) - 1))
    return out


def _fill_merged(rows: list[list[str]], merges: list[tuple[int, int, int, int]]) -> list[list[str]]:
    """Copy each merged range's value (its top-left cell) into the range's other cells."""
    for top, left, bottom, right in merges:
        if top >= len(rows) or left >= len(rows[top]):
            continue
        value = rows[top][left]
        for r in range(top, min(bottom, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= right:
                row.extend([""] * (right + 1 - len(row)))
            for c in range(left, right + 1):
                if not row[c]:
                    row[c] = value
    return rows


# ---------------------------------------------------------------------------- CSV

def decode_text(body: bytes, name: str) -> str:
    """A text file's bytes decoded: UTF-8 (BOM or not), UTF-16 with a BOM, else GB18030."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("gb18030")  # GBK and GB2312 are subsets
    except UnicodeDecodeError as exc:
        raise FilingListError(f"{name}: neither UTF-8 nor GBK/GB18030 text ({exc.reason} at "
                              f"byte {exc.start})") from exc


def _csv_rows(body: bytes, name: str) -> Iterator[list[str]]:
    text = decode_text(body, name)
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            yield row[:MAX_COLUMNS]
    except csv.Error as exc:
        raise FilingListError(f"{name}: not a readable CSV file: {exc}") from exc


# ---------------------------------------------------------------------------- HTML

class _Tables(HTMLParser):
    """Every <table>'s rows as cell texts, with rowspan and colspan filled in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._stack: list[tuple[list[list[str]], dict[tuple[int, int], str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._skip = 0  # inside <script>/<style>
        self._cells = 0  # cells made, spans included (MAX_CELLS)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table":
            self._stack.append(([], {}))
        elif tag == "tr" and self._stack:
            self._end_row()
            self._row = []
        elif tag in ("td", "th") and self._stack:
            if self._row is None:
                self._row = []
            self._end_cell()
            a = dict(attrs)
            self._span = (_span(a.get("rowspan")), _span(a.get("colspan")))
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th"):
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table" and self._stack:
            self._end_row()
            rows, _ = self._stack.pop()
            self.tables.append(rows)

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._skip:
            self._cell.append(data)

    def _end_cell(self) -> None:
        if self._cell is None or self._row is None or not self._stack:
            return
        rows, pending = self._stack[-1]
        text = "".join(self._cell)
        r = len(rows)
        down, across = self._span
        self._cells += across * down
        if self._cells > MAX_CELLS:
            raise _TooManyCells
        for _ in range(across):
            while (r, len(self._row)) in pending:
                self._row.append(pending.pop((r, len(self._row))))
            c = len(self._row)
            if c >= MAX_COLUMNS:
                break
            self._row.append(text)
            for extra in range(1, down):
                pending[(r + extra, c)] = text
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is None or not self._stack:
            return
        rows, pending = self._stack[-1]
        r = len(rows)
        while (r, len(self._row)) in pending:
            self._row.append(pending.pop((r, len(self._row))))
        if len(rows) < MAX_ROWS + 1:
            rows.append(self._row)
        self._row = None


class _TooManyCells(Exception):
    """An HTML page builds more than MAX_CELLS cells."""


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), MAX_ROWS))
    except ValueError:
        return 1


def _html_tables(text: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(text)
    parser.close()
    return parser.tables


def decode_html(body: bytes) -> str:
    """An HTML page's bytes decoded: a BOM, the charset its <meta> declares, UTF-8, GB18030."""
    declared = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", body[:4096],
                         re.IGNORECASE)
    if declared and not body.startswith(b"\xef\xbb\xbf"):
        try:
            return body.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("gb18030", errors="replace")

