"""Tables handed to officials and heads as files: CSV that Excel opens right, and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

Cell = str | int | float
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _csv_cell(value: Cell) -> str:
    # Vietnamese Excel reads a decimal comma; a float written with a point becomes text or a date.
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """The table as CSV, UTF-8 with a BOM so Excel shows the diacritics."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[Cell]], sheet: str) -> bytes:
    """The table as one XLSX sheet, numbers kept as numbers, the header row frozen."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet[:31]  # Excel's limit on a sheet name
    ws.append(list(header))
    for row in rows:
        ws.append([round(v, 1) if isinstance(v, float) else v for v in row])
    ws.freeze_panes = "A2"
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(name) + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
