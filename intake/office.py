"""Office files and other attachments that carry no readable letter: what they are, and the reason
a person is given. Nothing is inflated: of a zip archive only the central directory is read, and the
``mimetype`` entry of an OpenDocument file only when its declared sizes are tiny, a few hundred bytes
at most (a zip bomb's entry is never decompressed)."""

from __future__ import annotations

import io
import zipfile

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_ZIP_ENTRIES = 2000  # names looked at in the central directory
MIMETYPE_BYTES = 200  # an OpenDocument mimetype entry is ~50 bytes, stored uncompressed
_OFFICE_EXTENSIONS = {
    ".doc": "a Word document", ".docx": "a Word document", ".docm": "a Word document", ".rtf": "an RTF document",
    ".xls": "an Excel spreadsheet", ".xlsx": "an Excel spreadsheet", ".xlsm": "an Excel spreadsheet",
    ".ppt": "a PowerPoint presentation", ".pptx": "a PowerPoint presentation",
    ".odt": "an OpenDocument text", ".ods": "an OpenDocument spreadsheet", ".odp": "an OpenDocument presentation",
}
_MSG_STREAM = "__substg1.0_".encode("utf-16-le")


def office_kind(payload: bytes, name: str = "") -> str | None:
    """'a Word document' etc. when the attachment is an office file (by content, then by name)."""
    if payload.startswith(b"PK\x03\x04"):
        names, mimetype = _zip_look(payload)
        if any(n.startswith("word/") for n in names):
            return "a Word document"
        if any(n.startswith("xl/") for n in names):
            return "an Excel spreadsheet"
        if any(n.startswith("ppt/") for n in names):
            return "a PowerPoint presentation"
        if mimetype.startswith("application/vnd.oasis.opendocument"):
            return "an OpenDocument file"
    if payload.startswith(b"{\\rtf"):
        return "an RTF document"
    if payload.startswith(OLE2) and _MSG_STREAM not in payload:
        return "an old Microsoft Office file (Word/Excel 97)"
    lower = name.lower()
    for ext, kind in _OFFICE_EXTENSIONS.items():
        if lower.endswith(ext):
            return kind
    return None


def _zip_look(payload: bytes) -> tuple[list[str], str]:
    """Entry names (central directory only) and the ``mimetype`` entry's first bytes, read only when its
    declared sizes are tiny; a damaged or hostile archive gives ([], '')."""
    if not 0 < _zip_entry_count(payload) <= MAX_ZIP_ENTRIES:  # zipfile would build every entry's record
        return [], ""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            infos = zf.infolist()[:MAX_ZIP_ENTRIES]
            names = [i.filename for i in infos]
            mimetype = ""
            info = next((i for i in infos if i.filename == "mimetype"), None)
            if info is not None and info.file_size <= MIMETYPE_BYTES and info.compress_size <= MIMETYPE_BYTES:
                with zf.open(info) as entry:  # a lying header still yields at most MIMETYPE_BYTES
                    mimetype = entry.read(MIMETYPE_BYTES).decode("ascii", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError, EOFError,
            NotImplementedError, RuntimeError, UnicodeError):
        return [], ""
    return names, mimetype


def _zip_entry_count(payload: bytes) -> int:
    """Entries the end-of-central-directory record declares (0: none found, or a ZIP64 archive)."""
    at = payload.rfind(b"PK\x05\x06", max(0, len(payload) - 65_557))
    if at < 0 or at + 22 > len(payload):
        return 0
    count = int.from_bytes(payload[at + 10:at + 12], "little")
    return 0 if count == 0xFFFF else count


def rejection(payload: bytes, name: str) -> str:
    """Why an attachment is kept with the e-mail but not read, in words for the person who handles it."""
    label = label_of(name)
    kind = office_kind(payload, name)
    if kind:
        return (f"{label} is {kind}; office files are not read. Ask the sender to send it as PDF "
                "(or print it and scan it).")
    if payload.startswith(b"PK\x03\x04"):
        return f"{label} is a zip archive; archives are not opened. Ask the sender for the letter as PDF."
    return f"{label} is not a PDF, image, TIFF fax or text; it was kept with the e-mail but not read."


def label_of(name: str) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in name)[:80] or "An attachment"
    return f"Attachment “{clean}”" if name else clean
