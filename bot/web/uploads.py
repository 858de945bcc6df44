"""A file uploaded through a desk form: streamed to disk, its type and size checked."""

from __future__ import annotations

from pathlib import Path

from aiohttp import BodyPartReader, web

from bot.web.auth import UPLOAD_KEY


async def receive_file(
    request: web.Request,
    folder: Path,
    *,
    kinds: dict[str, str],
    max_bytes: int,
    what: str,
) -> tuple[Path | None, str, str]:
    """The `file` part saved in `folder`: (path, its name, a problem in Vietnamese).

    `kinds` maps each suffix accepted (".csv") to how officials name it ("CSV (.csv)"); `what`
    names the file in the messages ("danh sách hộ"). The body is read in chunks, never whole."""
    accepted = " hoặc ".join(kinds.values())
    reader = request[UPLOAD_KEY]
    while True:
        part = await reader.next()
        if part is None:
            return None, "", f"Xin chọn tệp {what} ({accepted})."
        if isinstance(part, BodyPartReader) and part.name == "file":
            break
    name = Path(part.filename or "").name[:200]
    if not name:  # a browser sends the field with no file in it when none was chosen
        return None, "", f"Xin chọn tệp {what} ({accepted}) rồi bấm “Nhập”."
    suffix = Path(name).suffix.lower()
    if suffix not in kinds:
        return None, name, f"Tệp phải là {accepted}."
    path = folder / f"upload{suffix}"
    size = 0
    with path.open("wb") as out:
        while chunk := await part.read_chunk(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                megabytes = max_bytes // (1024 * 1024)
                return None, name, f"Tệp lớn quá {megabytes} MB: xin chia thành nhiều tệp nhỏ hơn."
            out.write(chunk)
    if size == 0:
        return None, name, "Tệp trống."
    return path, name, ""
