"""Number formats for computed cells, added to a workbook's styles without changing any.

A computed cell keeps everything of its style (font, fill, borders) and gets the number
format its column calls for: a new cell format (`xf`) is appended to `cellXfs`, and a new
custom number format to `numFmts` when the workbook has none like it. An existing one is
never changed, and an identical one is reused, so syncing again adds nothing.
"""

from __future__ import annotations

import re

# The built-in number formats a computed column may want (ECMA-376, 18.8.30).
BUILT_IN = {"General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9, "0.00%": 10}
FIRST_CUSTOM = 164

_CELL_XFS = re.compile(rb"<((?:\w+:)?)cellXfs\b([^>]*)>(.*?)</(?:\w+:)?cellXfs>", re.S)
_XF = re.compile(rb"<(?:\w+:)?xf\b[^>]*?(?:/>|>.*?</(?:\w+:)?xf>)", re.S)
_NUM_FMTS = re.compile(rb"<((?:\w+:)?)numFmts\b[^>]*>(.*?)</(?:\w+:)?numFmts>", re.S)
_NUM_FMTS_EMPTY = re.compile(rb"<((?:\w+:)?)numFmts\b[^>]*/>")
_NUM_FMT = re.compile(rb"<(?:\w+:)?numFmt\b[^>]*/>")
_STYLESHEET_OPEN = re.compile(rb"<((?:\w+:)?)styleSheet\b[^>]*>")
_ATTR = r'\b{}="([^"]*)"'
_COUNT = re.compile(rb'\bcount="\d*"')


def _attr(xml: bytes, name: str) -> bytes | None:
    found = re.search(_ATTR.format(name).encode(), xml)
    return found.group(1) if found else None


def _with_attr(xf: bytes, name: str, value: str) -> bytes:
    """The xf start tag with `name` set to `value` (replaced, or added after `<xf`)."""
    pattern = re.compile(_ATTR.format(name).encode())
    if pattern.search(xf):
        return pattern.sub(f'{name}="{value}"'.encode(), xf, count=1)
    at = xf.index(b"xf") + 2
    return xf[:at] + f' {name}="{value}"'.encode() + xf[at:]


def _unescape(text: bytes) -> str:
    return (text.decode("utf-8").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))  # fmt: skip


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))  # fmt: skip


class Styler:
    """The cell formats of one workbook's styles part, and those a sync adds."""

    def __init__(self, styles_xml: bytes):
        self.original = styles_xml
        found = _CELL_XFS.search(styles_xml)
        self.xfs: list[bytes] = [m.group(0) for m in _XF.finditer(found.group(3))] if found else []
        self.usable = found is not None and bool(self.xfs)
        self.prefix = found.group(1).decode() if found else ""
        self.formats: dict[str, int] = {}  # custom format code -> id
        fmts = _NUM_FMTS.search(styles_xml)
        for fmt in _NUM_FMT.finditer(fmts.group(2) if fmts else b""):
            fmt_id, code = _attr(fmt.group(0), "numFmtId"), _attr(fmt.group(0), "formatCode")
            if fmt_id is not None and fmt_id.isdigit() and code is not None:
                self.formats.setdefault(_unescape(code), int(fmt_id))
        self.added_xfs: list[bytes] = []
        self.added_formats: dict[str, int] = {}
        # A sheet's many cells share a few styles: each is looked up once.
        self._restyled: dict[tuple[bytes | None, int], bytes | None] = {}
        self._format_ids: dict[bytes | None, int] = {}

    def _xf(self, index: int) -> bytes | None:
        if 0 <= index < len(self.xfs):
            return self.xfs[index]
        added = index - len(self.xfs)
        return self.added_xfs[added] if 0 <= added < len(self.added_xfs) else None

    def format_of(self, style: bytes | None) -> int | None:
        """The number format id of a cell's style (None: the style is unknown)."""
        known = self._format_ids.get(style)
        if known is not None:
            return known
        xf = self._xf(int(style)) if style is not None and style.isdigit() else self._xf(0)
        if xf is None:
            return None
        fmt_id = _attr(xf, "numFmtId")
        known = int(fmt_id) if fmt_id is not None and fmt_id.isdigit() else 0
        self._format_ids[style] = known
        return known

    def format_id(self, code: str) -> int:
        """The id of a number format code: built in, the workbook's own, or a new one."""
        if code in BUILT_IN:
            return BUILT_IN[code]
        if code in self.formats:
            return self.formats[code]
        new = max([FIRST_CUSTOM - 1, *self.formats.values()]) + 1
        self.formats[code] = self.added_formats[code] = new
        return new

    def restyle(self, style: bytes | None, fmt_id: int | None) -> bytes | None:
        """The style index for a cell of style `style` showing number format `fmt_id`:
        the same one when it already does, else an equal format (reused or added)."""
        if not self.usable or fmt_id is None:
            return style
        key = (style, fmt_id)
        if key not in self._restyled:
            self._restyled[key] = self._restyle(style, fmt_id)
        return self._restyled[key]

    def _restyle(self, style: bytes | None, fmt_id: int) -> bytes | None:
        index = int(style) if style is not None and style.isdigit() else 0
        base = self._xf(index)
        if base is None or self.format_of(str(index).encode()) == fmt_id:
            return style
        tag_end = base.index(b">") + 1
        start_tag = base[:tag_end]
        start_tag = _with_attr(_with_attr(start_tag, "numFmtId", str(fmt_id)),
                               "applyNumberFormat", "1")  # fmt: skip
        wanted = start_tag + base[tag_end:]
        every = self.xfs + self.added_xfs
        if wanted in every:
            return str(every.index(wanted)).encode()
        self.added_xfs.append(wanted)
        return str(len(every)).encode()

    def render(self) -> bytes | None:
        """The styles part with what was added; None when nothing was."""
        if not self.added_xfs and not self.added_formats:
            return None
        xml = self.original
        p = self.prefix
        found = _CELL_XFS.search(xml)
        assert found is not None
        count = len(self.xfs) + len(self.added_xfs)
        opening = _COUNT.sub(f'count="{count}"'.encode(), found.group(2))
        if b"count=" not in opening:
            opening += f' count="{count}"'.encode()
        cell_xfs = (f"<{p}cellXfs".encode() + opening + b">" + found.group(3)
                    + b"".join(self.added_xfs) + f"</{p}cellXfs>".encode())  # fmt: skip
        xml = xml[: found.start()] + cell_xfs + xml[found.end() :]
        if self.added_formats:
            new = b"".join(
                f'<{p}numFmt numFmtId="{fmt_id}" formatCode="{_escape(code)}"/>'.encode()
                for code, fmt_id in self.added_formats.items()
            )
            fmts = _NUM_FMTS.search(xml)
            empty = _NUM_FMTS_EMPTY.search(xml)
            if fmts:
                total = len(_NUM_FMT.findall(fmts.group(2))) + len(self.added_formats)
                block = (f'<{p}numFmts count="{total}">'.encode() + fmts.group(2) + new
                         + f"</{p}numFmts>".encode())  # fmt: skip
                xml = xml[: fmts.start()] + block + xml[fmts.end() :]
            else:
                block = (f'<{p}numFmts count="{len(self.added_formats)}">'.encode() + new
                         + f"</{p}numFmts>".encode())  # fmt: skip
                if empty:
                    xml = xml[: empty.start()] + block + xml[empty.end() :]
                else:  # numFmts is the stylesheet's first child
                    sheet = _STYLESHEET_OPEN.search(xml)
                    assert sheet is not None
                    xml = xml[: sheet.end()] + block + xml[sheet.end() :]
        return xml
