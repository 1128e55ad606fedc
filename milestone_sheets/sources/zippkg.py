"""Rewrite a zip package part by part: untouched parts are copied as their raw bytes.

The standard library's zipfile can only add parts by compressing them again, which is
slow for large sheets and changes bytes we promised to keep. This module reads the central
directory itself, copies each untouched entry's local record verbatim (header, compressed
data and any data descriptor), and deflates only the parts it is asked to replace.
"""

from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

try:  # zlib-ng deflates and inflates two to three times faster, with the same format.
    from zlib_ng import zlib_ng as zlib
except ImportError:  # pragma: no cover - a platform without its wheels
    import zlib  # type: ignore[no-redef]

isal_zlib: Any = None
try:  # ISA-L, for the FAST level (see _compressor)
    from isal import isal_zlib
except ImportError:  # pragma: no cover - a platform without its wheels
    pass

# A level for rewrite() beside zlib's 1-9: the fastest deflate that still compresses
# well. That is ISA-L's level 2 where python-isal is installed: on an 87 MB worksheet
# (100,000 rows) it takes 0.08 s for a 12.9 MB part, where zlib-ng's level 2 takes 0.19 s
# for 13.5 MB (and level 1, 0.19 s for 17.3 MB). Without it, zlib's level 2.
FAST = 10

_EOCD = struct.Struct("<4sHHHHIIH")
_CDH = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LFH = struct.Struct("<4sHHHHHIIIHH")
_EOCD_SIG = b"PK\x05\x06"
_CDH_SIG = b"PK\x01\x02"
_LFH_SIG = b"PK\x03\x04"
_DATA_DESCRIPTOR_FLAG = 0x08
_CHUNK = 1 << 20  # raw copies
# Compressed bytes per inflate step: worksheet XML inflates about tenfold, so this keeps
# each piece near five megabytes and the sync's memory flat.
_INFLATE_CHUNK = 1 << 19


class PackageError(ValueError):
    """The file is not a zip package this module can rewrite."""


@dataclass(frozen=True)
class Entry:
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
        name = name_bytes.decode("utf-8" if flags & 0x800 else "cp437")
        raw.append((name, record, offset, flags, method, dos_time, dos_date, csize, usize))
        pos = end
    offsets = sorted(item[2] for item in raw) + [cd_offset]
    next_offset = {offsets[i]: offsets[i + 1] for i in range(len(offsets) - 1)}
    entries = [
        Entry(name, record, offset, next_offset[offset], *rest)
        for name, record, offset, *rest in raw
    ]
    return entries, comment


Transform = Callable[[Iterator[bytes]], Iterator["bytes | Deflated"]]


@dataclass(frozen=True)
class Inline:
    """A transform whose part is inflated, transformed and deflated on the calling thread
    alone: one with a child process at work on the other core (see split_write), beside
    which the inflate and deflate threads would only contend for the cores and the GIL.
    (100,000-row weekly write: 0.33-0.38 s inline, against 0.38-0.49 s with the threads.)"""

    transform: Transform


def _inflate(stream: BinaryIO, entry: Entry) -> Iterator[bytes]:
    """The uncompressed content of an entry, in chunks."""
    stream.seek(entry.offset)
    header = _LFH.unpack(stream.read(_LFH.size))
    stream.seek(entry.offset + _LFH.size + header[9] + header[10])
    remaining = entry.compressed_size
    inflater = zlib.decompressobj(-15) if entry.method == 8 else None
    if entry.method not in (0, 8):
        raise PackageError(f"{entry.name}: compression method {entry.method} is not supported")
    while remaining:
        chunk = stream.read(min(_INFLATE_CHUNK, remaining))
        if not chunk:
            raise PackageError(f"{entry.name}: truncated")
        remaining -= len(chunk)
        yield inflater.decompress(chunk) if inflater else chunk
    if inflater:
        yield inflater.flush()


def read_part(stream: BinaryIO, entry: Entry) -> bytes:
    """A whole (small) part's content."""
    return b"".join(_inflate(stream, entry))


def iter_part(stream: BinaryIO, entry: Entry) -> Iterator[bytes]:
    """A part's content in chunks, for large parts."""
    return _inflate(stream, entry)


_END = object()


def prefetched(chunks: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """The same chunks, produced on a second thread up to `depth` ahead of the consumer.

    Inflating releases the GIL, so the editing of one chunk and the inflating of the next
    run side by side. The thread stops when the consumer does, early or not.
    """
    ahead: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_END)
        except BaseException as err:  # raised again in the consumer
            put(err)

    thread = threading.Thread(target=run, name="inflate", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not _END:
            if isinstance(item, bytes):
                yield item
            else:
                assert isinstance(item, BaseException)
                raise item
    finally:
        stop.set()
        thread.join()


def rewrite(
    source: BinaryIO,
    target: BinaryIO,
    transforms: Mapping[str, Transform | Inline],
    level: int = 6,
    contents: Mapping[str, Iterable[bytes]] | None = None,
) -> None:
    """Copy a package to `target`, passing the named parts through their transform, or
    replacing them with the given `contents`. Level 0 stores the new parts uncompressed;
    1-9 are zlib's levels, and FAST the fastest good deflate."""
    entries, comment = read_entries(source)
    directory = []
    for entry in entries:
        offset = target.tell()
        transform = transforms.get(entry.name)
        content = contents.get(entry.name) if contents else None
        if transform is None and content is None:
            source.seek(entry.offset)
            remaining = entry.span_end - entry.offset
            while remaining:
                chunk = source.read(min(_CHUNK, remaining))
                if not chunk:
                    raise PackageError(f"{entry.name}: truncated")
                target.write(chunk)
                remaining -= len(chunk)
            directory.append(entry.central[:42] + struct.pack("<I", offset) + entry.central[46:])
            continue
        chunks: Iterator[bytes | Deflated]
        threads = True
        if content is not None:
            chunks = iter(content)
        elif isinstance(transform, Inline):
            chunks = transform.transform(iter_part(source, entry))
            threads = False
        else:
            assert transform is not None
            chunks = transform(prefetched(iter_part(source, entry)))
        directory.append(_write_part(target, entry, chunks, offset, level, threads))
    cd_offset = target.tell()
    for record in directory:
        target.write(record)
    cd_size = target.tell() - cd_offset
    count = len(directory)
    target.write(_EOCD.pack(_EOCD_SIG, 0, 0, count, count, cd_size, cd_offset, len(comment)))
    target.write(comment)


@dataclass(frozen=True)
class Deflated:
    """The end of a part's content, deflated elsewhere (another process): raw deflate data
    from a stream of its own, ending in the final block; with the CRC-32 and the length
    of the content it holds. A transform may yield it as its last item (at level > 0).

    Deflate blocks may refer back only to earlier data of their own stream, so the data
    joins onto the part's own deflated start once that is flushed to a byte boundary.
    """

    data: BinaryIO  # read from its current position to its end, then closed
    crc: int
    size: int


def _compressor(level: int) -> Any:
    """A raw deflate stream's compressor at a zlib level, or at FAST."""
    if level == FAST:
        if isal_zlib is not None:
            return isal_zlib.compressobj(2, isal_zlib.DEFLATED, -15)
        level = 2
    return zlib.compressobj(level, zlib.DEFLATED, -15)


class _DeflateStream:
    """A part's content on its way into `target`: its CRC-32 and length, deflated (or at
    level 0 stored) as it comes; it may end in a piece deflated elsewhere."""

    def __init__(self, target: BinaryIO, level: int):
        self.target = target
        self.deflater = _compressor(level) if level else None
        self.crc = 0
        self.size = 0
        self.finished = False

    def add(self, chunk: bytes | Deflated) -> None:
        if self.finished:
            raise PackageError("content after a piece deflated elsewhere")
        if isinstance(chunk, Deflated):
            if self.deflater is None:
                raise PackageError("a deflated piece in a stored part")
            self.target.write(self.deflater.flush(zlib.Z_SYNC_FLUSH))
            with chunk.data:
                while piece := chunk.data.read(_CHUNK):
                    self.target.write(piece)
            self.crc = zlib.crc32_combine(self.crc, chunk.crc, chunk.size)
            self.size += chunk.size
            self.finished = True
            return
        self.crc = zlib.crc32(chunk, self.crc)
        self.size += len(chunk)
        self.target.write(self.deflater.compress(chunk) if self.deflater else chunk)

    def add_all(self, chunks: Iterable[bytes | Deflated]) -> None:
        """All the content, and the stream's end."""
        for chunk in chunks:
            self.add(chunk)
        if self.deflater and not self.finished:
            self.target.write(self.deflater.flush())


def deflate_piece(chunks: Iterable[bytes], target: BinaryIO, level: int) -> tuple[int, int]:
    """Deflate content into `target` as a stream of its own, for a Deflated piece; return
    its CRC-32 and length."""
    stream = _DeflateStream(target, level)
    stream.add_all(chunks)
    return stream.crc, stream.size


def can_join_deflated() -> bool:
    """Can this zlib combine CRCs, as joining a Deflated piece needs? (zlib-ng can.)"""
    return hasattr(zlib, "crc32_combine")


class _BackgroundDeflate:
    """A _DeflateStream fed on a second thread while the main thread edits the XML.

    zlib, zlib-ng and ISA-L release the GIL while they work on a buffer, so on two cores
    the compression runs beside the editing; a bounded queue keeps memory flat.
    """

    def __init__(self, target: BinaryIO, level: int):
        self.stream = _DeflateStream(target, level)
        self.queue: queue.Queue[bytes | Deflated | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="deflate", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        chunks: Iterator[bytes | Deflated] = iter(self.queue.get, None)  # to close()'s end
        try:
            self.stream.add_all(chunks)
        except BaseException as err:  # handed to the main thread in close()
            self.error = err
            for _ in chunks:  # drain up to the end mark (if not met yet): no producer blocks
                pass

    def put(self, chunk: bytes | Deflated) -> None:
        if chunk:
            self.queue.put(chunk)

    def close(self) -> _DeflateStream:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.stream


def _write_part(
    target: BinaryIO,
    entry: Entry,
    chunks: Iterator[bytes | Deflated],
    offset: int,
    level: int,
    threads: bool = True,
) -> bytes:
    """Write one new part (deflated, or stored at level 0), deflating on a second thread
    unless told not to; return its central record."""
    name = entry.name.encode("utf-8")
    flags = (entry.flags & ~_DATA_DESCRIPTOR_FLAG & ~0x06) | 0x800
    method = 8 if level else 0
    target.write(
        _LFH.pack(
            _LFH_SIG, 20, flags, method, entry.dos_time, entry.dos_date, 0, 0, 0, len(name), 0
        )
    )
    target.write(name)
    data_start = target.tell()
    if threads:
        deflate = _BackgroundDeflate(target, level)
        try:
            for chunk in chunks:
                deflate.put(chunk)
        finally:
            stream = deflate.close()
    else:
        stream = _DeflateStream(target, level)
        stream.add_all(chunks)
    crc, size = stream.crc, stream.size
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
            method,
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
