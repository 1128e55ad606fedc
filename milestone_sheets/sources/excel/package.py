"""Rewrite a zip package part by part: untouched parts are copied as their raw bytes.

The standard library's zipfile can only add parts by compressing them again, which
changes bytes we promise to keep. This module reads the central directory itself, copies
each untouched entry's local record verbatim (header, compressed data and any data
descriptor), and deflates only the parts it is asked to replace.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

_EOCD = struct.Struct("<4sHHHHIIH")
_CDH = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LFH = struct.Struct("<4sHHHHHIIIHH")
_EOCD_SIG = b"PK\x05\x06"
_CDH_SIG = b"PK\x01\x02"
_DATA_DESCRIPTOR_FLAG = 0x08
_UTF8_FLAG = 0x800
_CHUNK = 1 << 20  # raw copies
# Compressed bytes per inflate step: worksheet XML inflates about tenfold, so this keeps
# each piece near a megabyte or two, and the copies a rewrite makes of a piece small (at
# 512 KB a 100,000-row first sync peaked some 30 MB higher, for no measurable speed).
_INFLATE_CHUNK = 1 << 17
# zlib's level for new parts: level 1 deflates a large worksheet about three times as
# fast as the default 6, for a part some 30% larger (see docs/design.md, Speed).
DEFLATE_LEVEL = 1
# A part that inflates past these is refused before any reader sees it (a zip bomb): no
# worksheet of a real plan comes near a gigabyte, and XML deflates 10 to 50 times, not
# hundreds (the ratio is checked only for parts above a few megabytes).
MAX_PART_SIZE = 1 << 30
MAX_RATIO = 200
_RATIO_FROM = 8 << 20
_INFLATE_PIECE = 16 << 20  # most a single inflate step may produce


class PackageError(ValueError):
    """The file is not a zip package this module can rewrite."""


@dataclass(frozen=True)
class Entry:
    """One part of the package, as its central directory describes it."""

    name: str
    central: bytes  # the raw central directory record
    offset: int  # of the local header
    span_end: int  # end of the local record (next record or central directory)
    flags: int
    method: int
    dos_time: int
    dos_date: int
    compressed_size: int
    size: int  # uncompressed


def read_entries(stream: BinaryIO) -> tuple[list[Entry], bytes]:
    """The entries of a zip file in central-directory order, and the archive comment."""
    stream.seek(0, 2)
    size = stream.tell()
    tail_len = min(size, 65536 + _EOCD.size)
    stream.seek(size - tail_len)
    tail = stream.read(tail_len)
    at = tail.rfind(_EOCD_SIG)
    if at < 0:
        raise PackageError("no zip end record")
    (_, disk, cd_disk, _, count, cd_size, cd_offset, comment_len) = _EOCD.unpack_from(tail, at)
    if disk or cd_disk or cd_offset == 0xFFFFFFFF or count == 0xFFFF:
        raise PackageError("multi-disk and ZIP64 packages are not supported")
    comment = tail[at + _EOCD.size : at + _EOCD.size + comment_len]
    stream.seek(cd_offset)
    directory = stream.read(cd_size)
    raw = []
    pos = 0
    for _ in range(count):
        fields = _CDH.unpack_from(directory, pos)
        if fields[0] != _CDH_SIG:
            raise PackageError("damaged central directory")
        (_, _, _, flags, method, dos_time, dos_date, _, csize, usize,
         name_len, extra_len, comment_len2, _, _, _, offset) = fields  # fmt: skip
        if 0xFFFFFFFF in (csize, usize, offset):
            raise PackageError("ZIP64 entries are not supported")
        end = pos + _CDH.size + name_len + extra_len + comment_len2
        record = directory[pos:end]
        name_bytes = directory[pos + _CDH.size : pos + _CDH.size + name_len]
        name = name_bytes.decode("utf-8" if flags & _UTF8_FLAG else "cp437")
        _check_size(name, usize, csize)
        raw.append((name, record, offset, flags, method, dos_time, dos_date, csize, usize))
        pos = end
    names = [item[0] for item in raw]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})[0]
        raise PackageError(f"the package holds two parts named {twice} (Excel refuses it too)")
    offsets = sorted(item[2] for item in raw) + [cd_offset]
    next_offset = {offsets[i]: offsets[i + 1] for i in range(len(offsets) - 1)}
    entries = [
        Entry(name, record, offset, next_offset[offset], *rest)
        for name, record, offset, *rest in raw
    ]
    return entries, comment


def iter_part(stream: BinaryIO, entry: Entry) -> Iterator[bytes]:
    """A part's uncompressed content, in chunks."""
    if entry.method not in (0, 8):
        raise PackageError(f"{entry.name}: compression method {entry.method} is not supported")
    stream.seek(entry.offset)
    header = _LFH.unpack(stream.read(_LFH.size))
    stream.seek(entry.offset + _LFH.size + header[9] + header[10])
    remaining = entry.compressed_size
    inflater = zlib.decompressobj(-15) if entry.method == 8 else None
    produced = 0
    while remaining:
        chunk = stream.read(min(_INFLATE_CHUNK, remaining))
        if not chunk:
            raise PackageError(f"{entry.name}: truncated")
        remaining -= len(chunk)
        if inflater is None:
            yield chunk
            continue
        while chunk:  # in bounded pieces: one small chunk may inflate to gigabytes
            try:
                piece = inflater.decompress(chunk, _INFLATE_PIECE)
            except zlib.error as err:
                raise PackageError(f"{entry.name}: damaged compressed data ({err})") from None
            produced += len(piece)
            if produced > entry.size:
                raise PackageError(
                    f"{entry.name} inflates past the {entry.size:,} bytes its directory says; "
                    "the package is damaged or built to exhaust memory"
                )
            yield piece
            chunk = inflater.unconsumed_tail
    if inflater:
        yield inflater.flush()


def _check_size(name: str, size: int, compressed: int) -> None:
    """Refuse a part whose inflated size is past any real workbook's."""
    if size > MAX_PART_SIZE or (size > _RATIO_FROM and size > MAX_RATIO * max(compressed, 1)):
        raise PackageError(
            f"{name} would inflate to {size / 1e6:,.0f} MB from {compressed / 1e6:,.1f} MB "
            "compressed; refused: no workbook of a plan is that large (a zip bomb?)"
        )


def check_parts(stream: BinaryIO, entries: Iterable[Entry]) -> None:
    """Inflate these parts once, keeping nothing, so that none inflates past what its
    directory says before another reader (calamine) opens the package."""
    for entry in entries:
        for _ in iter_part(stream, entry):
            pass


def read_part(stream: BinaryIO, entry: Entry) -> bytes:
    """A whole (small) part's content."""
    return b"".join(iter_part(stream, entry))


Transform = Callable[[Iterator[bytes]], Iterable[bytes]]


def rewrite(
    source: BinaryIO,
    target: BinaryIO,
    transforms: Mapping[str, Transform],
    contents: Mapping[str, bytes] | None = None,
    late: Mapping[str, Callable[[], bytes | None]] | None = None,
) -> None:
    """Copy a package to `target`, passing the named parts through their transform, or
    replacing them with the given `contents`; every other part is copied as it was.

    A `late` part is written after all the others, with the contents its function gives
    then (None: as it was): for a part that depends on what the transforms found."""
    entries, comment = read_entries(source)
    contents = dict(contents or {})
    late = late or {}
    directory = []
    ordered = [e for e in entries if e.name not in late] + [e for e in entries if e.name in late]
    for entry in ordered:
        offset = target.tell()
        transform = transforms.get(entry.name)
        if entry.name in late:
            made = late[entry.name]()
            if made is not None:
                contents[entry.name] = made
        if entry.name in contents:
            chunks: Iterable[bytes] = [contents[entry.name]]
        elif transform is not None:
            chunks = transform(iter_part(source, entry))
        else:
            _copy(source, target, entry)
            directory.append(entry.central[:42] + struct.pack("<I", offset) + entry.central[46:])
            continue
        directory.append(_write_part(target, entry, chunks, offset))
    cd_offset = target.tell()
    for record in directory:
        target.write(record)
    cd_size = target.tell() - cd_offset
    count = len(directory)
    target.write(_EOCD.pack(_EOCD_SIG, 0, 0, count, count, cd_size, cd_offset, len(comment)))
    target.write(comment)


def _copy(source: BinaryIO, target: BinaryIO, entry: Entry) -> None:
    """An entry's local record, byte for byte."""
    source.seek(entry.offset)
    remaining = entry.span_end - entry.offset
    while remaining:
        chunk = source.read(min(_CHUNK, remaining))
        if not chunk:
            raise PackageError(f"{entry.name}: truncated")
        target.write(chunk)
        remaining -= len(chunk)


def _write_part(target: BinaryIO, entry: Entry, chunks: Iterable[bytes], offset: int) -> bytes:
    """Write one new part, deflated, under the entry's name and time; its central record."""
    name = entry.name.encode("utf-8")
    flags = (entry.flags & ~_DATA_DESCRIPTOR_FLAG & ~0x06) | _UTF8_FLAG
    header = _LFH.pack(b"PK\x03\x04", 20, flags, 8, entry.dos_time, entry.dos_date, 0, 0, 0,
                       len(name), 0)  # fmt: skip
    target.write(header + name)
    data_start = target.tell()
    deflater = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    crc = size = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        target.write(deflater.compress(chunk))
    target.write(deflater.flush())
    end = target.tell()
    compressed = end - data_start
    if max(size, compressed, offset) >= 0xFFFFFFFF:
        raise PackageError(f"{entry.name}: too large for a zip without ZIP64")
    target.seek(offset + 14)
    target.write(struct.pack("<III", crc, compressed, size))
    target.seek(end)
    central = _CDH.unpack_from(entry.central, 0)
    extra_comment = entry.central[_CDH.size + central[10] :]  # extra field and comment
    return (
        _CDH.pack(
            _CDH_SIG,
            central[1],
            20,
            flags,
            8,
            entry.dos_time,
            entry.dos_date,
            crc,
            compressed,
            size,
            len(name),
            central[11],
            central[12],
            0,
            central[14],
            central[15],
            offset,
        )  # fmt: skip
        + name
        + extra_comment
    )
