"""Decode a request body by its Content-Encoding without ever exceeding a byte budget.

Compressed input is inflated as it arrives, in steps of at most 256 KiB, each capped (zlib's
`max_length`) at one byte more than the budget still has room for, so a decompression bomb is
stopped while it inflates: the decoder never holds more than the budget plus one step.
"""

import zlib
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from zlib import _Decompress

Coding = Literal["identity", "gzip", "deflate"]

_CODINGS: Final[dict[str, Coding]] = {
    "": "identity",
    "identity": "identity",
    "gzip": "gzip",
    "x-gzip": "gzip",
    "deflate": "deflate",
}
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_ZLIB_WBITS: Final = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS: Final = -zlib.MAX_WBITS
_INFLATE_STEP: Final = 256 * 1024


class BodyError(ValueError):
    """A request body that cannot be accepted."""


class BodyTooLarge(BodyError):
    """The body, or what it inflates to, is larger than the budget."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body is larger than {limit} bytes")
        self.limit = limit


class UnsupportedEncoding(BodyError):
    """The Content-Encoding names a coding this gateway does not decode."""

    def __init__(self, content_encoding: str) -> None:
        super().__init__(repr(content_encoding))
        self.content_encoding = content_encoding


class CorruptBody(BodyError):
    """The body does not decode as the coding its Content-Encoding declares."""


def parse_content_encoding(content_encoding: str | None) -> Coding:
    """Return the one coding a Content-Encoding header applies; `identity` entries are no-ops.

    Stacked codings ("gzip, deflate") are refused: no log shipper sends them, and each layer
    would need its own budget.
    """
    if content_encoding is None:
        return "identity"
    applied = [
        token
        for token in (part.strip().lower() for part in content_encoding.split(","))
        if token not in ("", "identity")
    ]
    if not applied:
        return "identity"
    if len(applied) > 1 or applied[0] not in _CODINGS:
        raise UnsupportedEncoding(content_encoding)
    return _CODINGS[applied[0]]


class BodyDecoder:
    """Collect a body chunk by chunk, decompressing it within `max_bytes`.

    `max_bytes` bounds the decoded body; it also bounds the bytes received, since compressed
    input larger than the decoded limit has no honest use. Gzip bodies may hold several
    members (as `cat a.gz b.gz` makes). HTTP's "deflate" is meant to be zlib-wrapped, but
    some senders send raw deflate; the first two bytes tell which.
    """

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        self.coding: Coding = parse_content_encoding(content_encoding)
        self.max_bytes = max_bytes
        self._chunks: list[bytes] = []
        self._size = 0
        self._received = 0
        self._finished = False
        self._inflater: _Decompress | None = None
        self._pending = b""  # deflate only: input held until the header can be sniffed

    def feed(self, chunk: bytes) -> None:
        """Add the next chunk of the body as received."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if not chunk:
            return
        self._received += len(chunk)
        if self._received > self.max_bytes:
            raise BodyTooLarge(self.max_bytes)
        if self.coding == "identity":
            self._keep(chunk)
        elif self.coding == "gzip":
            self._inflate_gzip(chunk)
        else:
            self._inflate_deflate(chunk)

    def finish(self) -> bytes:
        """Return the decoded body; raise `CorruptBody` if the compressed stream is cut short."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        if self.coding == "deflate" and self._pending:
            # Fewer than two bytes in all: too short to be any deflate stream.
            raise CorruptBody("truncated deflate data")
        inflater = self._inflater
        if inflater is not None and not inflater.eof:
            raise CorruptBody(f"truncated {self.coding} data")
        body = b"".join(self._chunks)
        self._chunks.clear()
        return body

    def _keep(self, data: bytes) -> None:
        if self._size + len(data) > self.max_bytes:
            raise BodyTooLarge(self.max_bytes)
        self._size += len(data)
        self._chunks.append(data)

    def _inflate_gzip(self, data: bytes) -> None:
        while data:
            if self._inflater is None or self._inflater.eof:
                # The first member, or the next one of a multi-member body.
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
            data = self._inflate(self._inflater, data)

    def _inflate_deflate(self, data: bytes) -> None:
        if self._inflater is None:
            data = self._pending + data
            if len(data) < 2:
                self._pending = data
                return
            self._pending = b""
            self._inflater = zlib.decompressobj(
                _ZLIB_WBITS if _is_zlib_header(data) else _RAW_DEFLATE_WBITS
            )
        elif self._inflater.eof:
            raise CorruptBody("data after the end of the deflate stream")
        rest = self._inflate(self._inflater, data)
        if rest:
            raise CorruptBody("data after the end of the deflate stream")

    def _inflate(self, inflater: "_Decompress", data: bytes) -> bytes:
        """Inflate `data` within the budget; return input left over after the stream's end."""
        while True:
            # One byte over the room left is proof enough; asking for no more than that (nor
            # more than a step at a time, as zlib briefly holds each result twice) bounds memory.
            want = min(self.max_bytes - self._size + 1, _INFLATE_STEP)
            try:
                out = inflater.decompress(data, want)
            except zlib.error as exc:
                raise CorruptBody(f"invalid {self.coding} data: {_zlib_reason(exc)}") from None
            if out:
                self._keep(out)
            if inflater.eof:
                return inflater.unused_data
            data = inflater.unconsumed_tail
            if not data and len(out) < want:
                # All input consumed and the output not cut short: nothing is pending.
                return b""


def _is_zlib_header(data: bytes) -> bool:
    """Return whether two bytes form a zlib header (RFC 1950: deflate method, checksum)."""
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


def _zlib_reason(exc: zlib.error) -> str:
    # "Error -3 while decompressing data: incorrect header check" -> "incorrect header check"
    return str(exc).rpartition(": ")[2] or "undecodable"
