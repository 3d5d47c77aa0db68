"""The bytes of a CSV source, checked as they stream: gzip unpacked, binary and over-long lines refused.

Whatever the input, memory stays bounded: a NUL byte (a binary file) or a line longer than `MAX_LINE_BYTES` stops
the read at once, with a message naming the source, instead of the CSV parser buffering an endless "line".
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20
"""Longest line accepted (a row of the data set is under 200 bytes): the most the parser ever holds of one row."""

GZIP_MAGIC = b"\x1f\x8b"


class StreamError(ValueError):
    """The source is not a UTF-8 CSV text (or gzip of one); the message names it and what was found."""


class _Prefixed(io.RawIOBase):
    """`head` (bytes already read to sniff the format) followed by the rest of `stream`."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        chunk = self._stream.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _Checked(io.RawIOBase):
    """Reads at most `MAX_LINE_BYTES` at a time, refusing NUL bytes and lines longer than that."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self._line = 0  # bytes since the last newline
        self._line_start = 0  # byte offset where that line began
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            chunk = self._stream.read(min(len(buffer), MAX_LINE_BYTES))
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise StreamError(f"{self._name}: not a readable gzip file ({error})") from None
        if b"\0" in chunk:
            at = self._offset + chunk.index(b"\0")
            raise StreamError(f"{self._name}: a NUL byte at byte {at}: a binary file, not CSV text (expected UTF-8 "
                              "text, or a gzip of it)")
        # A chunk is at most MAX_LINE_BYTES, so a longer line spans chunks: track the bytes since the last newline.
        first = chunk.find(b"\n")
        if first < 0:
            self._line += len(chunk)
        else:
            self._check_line(self._line + first)
            last = chunk.rfind(b"\n")
            self._line, self._line_start = len(chunk) - last - 1, self._offset + last + 1
        self._check_line(self._line)
        buffer[: len(chunk)] = chunk
        self._offset += len(chunk)
        return len(chunk)

    def _check_line(self, length: int) -> None:
        if length > MAX_LINE_BYTES:
            raise StreamError(f"{self._name}: a line longer than {MAX_LINE_BYTES:,} bytes from byte {self._line_start} "
                              "(a row of this data set is under 200 bytes): not a CSV file of transactions")


def checked(stream: BinaryIO, name: str) -> BinaryIO:
    """`stream` as checked bytes; a gzip stream (sniffed by its magic bytes, whatever the name) is unpacked."""
    head = stream.read(len(GZIP_MAGIC))
    source: BinaryIO = io.BufferedReader(_Prefixed(head, stream))
    if head == GZIP_MAGIC:
        source = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[assignment]
    return io.BufferedReader(_Checked(source, name), buffer_size=1 << 16)
