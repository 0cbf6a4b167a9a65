"""BodyDecoder: identity, gzip and deflate bodies; then bombs, corruption and unknown codings."""

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Iterable, Iterator

import pytest

from gateway.ingest.bodies import BodyDecoder, BodyTooLarge, CorruptBody, UnsupportedEncoding

MiB = 1024 * 1024
LIMIT = 64 * 1024
PAYLOAD = b'{"event": "order sync failed", "level": "error"}\n' * 200
OTHER = b"level=info msg=second\n" * 50


def zlib_deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def decode(encoding: str | None, chunks: Iterable[bytes], max_bytes: int = LIMIT) -> bytes:
    decoder = BodyDecoder(encoding, max_bytes)
    for chunk in chunks:
        decoder.feed(chunk)
    return decoder.finish()


def zero_bomb(wbits: int, total: int = 1024 * MiB, block: int = 64 * 1024) -> Iterator[bytes]:
    """Yield `total` zero bytes compressed, produced lazily so the test never holds them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(block)
    for _ in range(total // block):
        out = compressor.compress(zeros)
        if out:
            yield out
    yield compressor.flush()


GOOD: dict[str, tuple[str | None, bytes, bytes]] = {
    "no header": (None, PAYLOAD, PAYLOAD),
    "identity": ("identity", PAYLOAD, PAYLOAD),
    "empty header": ("", PAYLOAD, PAYLOAD),
    "gzip": ("gzip", gzip.compress(PAYLOAD), PAYLOAD),
    "gzip in capitals with spaces": (" GZIP ", gzip.compress(PAYLOAD), PAYLOAD),
    "x-gzip": ("x-gzip", gzip.compress(PAYLOAD), PAYLOAD),
    "gzip listed with identity": ("identity, gzip", gzip.compress(PAYLOAD), PAYLOAD),
    "multi-member gzip": (
        "gzip",
        gzip.compress(PAYLOAD) + gzip.compress(OTHER) + gzip.compress(b""),
        PAYLOAD + OTHER,
    ),
    "deflate, zlib-wrapped": ("deflate", zlib_deflate(PAYLOAD), PAYLOAD),
    "deflate, raw": ("Deflate", raw_deflate(PAYLOAD), PAYLOAD),
    "deflate, raw, of empty input": ("deflate", raw_deflate(b""), b""),
    "gzip of empty input": ("gzip", gzip.compress(b""), b""),
    "no body at all under gzip": ("gzip", b"", b""),
    "identity of exactly the limit": (None, b"x" * LIMIT, b"x" * LIMIT),
    "gzip inflating to exactly the limit": ("gzip", gzip.compress(b"x" * LIMIT), b"x" * LIMIT),
}

HOSTILE: dict[str, tuple[str | None, bytes, type[Exception], str]] = {
    "identity one byte over": (None, b"x" * (LIMIT + 1), BodyTooLarge, "larger than 65536"),
    "gzip inflating one byte over": (
        "gzip",
        gzip.compress(b"x" * (LIMIT + 1)),
        BodyTooLarge,
        "larger than 65536",
    ),
    "deflate inflating over": (
        "deflate",
        zlib_deflate(b"x" * (2 * LIMIT)),
        BodyTooLarge,
        "larger than 65536",
    ),
    "not gzip at all": ("gzip", b"this is not gzip data", CorruptBody, "incorrect header check"),
    "truncated gzip": ("gzip", gzip.compress(PAYLOAD)[:-12], CorruptBody, "truncated gzip"),
    "gzip with a wrong checksum": (
        "gzip",
        gzip.compress(PAYLOAD)[:-8] + b"\0\0\0\0" + gzip.compress(PAYLOAD)[-4:],
        CorruptBody,
        "incorrect data check",
    ),
    "gzip with trailing garbage": (
        "gzip",
        gzip.compress(PAYLOAD) + b"garbage!",
        CorruptBody,
        "invalid gzip data",
    ),
    "corrupt deflate": ("deflate", b"\x78\x9c" + b"\xff" * 20, CorruptBody, "invalid deflate"),
    "deflate with trailing data": (
        "deflate",
        zlib_deflate(PAYLOAD) + b"more",
        CorruptBody,
        "data after the end of the deflate stream",
    ),
    "truncated deflate": ("deflate", zlib_deflate(PAYLOAD)[:-6], CorruptBody, "truncated"),
    "one byte of deflate": ("deflate", b"\x78", CorruptBody, "truncated deflate"),
}


class TestBodyDecoder:
    @pytest.mark.parametrize("chunk_size", [1, 7, 64 * 1024])
    @pytest.mark.parametrize(("encoding", "wire", "expected"), GOOD.values(), ids=GOOD.keys())
    def test_good_bodies(
        self, encoding: str | None, wire: bytes, expected: bytes, chunk_size: int
    ) -> None:
        """The body decodes to the original bytes however the chunks fall."""
        assert decode(encoding, pieces(wire, chunk_size)) == expected

    @pytest.mark.parametrize("chunk_size", [1, 7, 64 * 1024])
    @pytest.mark.parametrize(
        ("encoding", "wire", "error", "message"), HOSTILE.values(), ids=HOSTILE.keys()
    )
    def test_hostile_bodies(
        self,
        encoding: str | None,
        wire: bytes,
        error: type[Exception],
        message: str,
        chunk_size: int,
    ) -> None:
        """Oversize and corrupt bodies raise their own error, during feed or at finish."""
        with pytest.raises(error, match=message):
            decode(encoding, pieces(wire, chunk_size))

    @pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "gzip, deflate", "gzip;q=1"])
    def test_unsupported_encoding(self, encoding: str) -> None:
        """An encoding we do not decode, or stacked encodings, are refused up front."""
        with pytest.raises(UnsupportedEncoding) as caught:
            BodyDecoder(encoding, MiB)
        assert caught.value.content_encoding == encoding

    def test_errors_are_value_errors(self) -> None:
        """Callers that only know ValueError still catch every body error."""
        assert issubclass(CorruptBody, ValueError)
        assert issubclass(BodyTooLarge, ValueError)
        assert issubclass(UnsupportedEncoding, ValueError)

    def test_compressed_input_over_the_limit_is_refused(self) -> None:
        """Incompressible input is refused once the bytes received pass the limit."""
        decoder = BodyDecoder("gzip", 1000)
        stored = zlib.compressobj(0, zlib.DEFLATED, 31).compress(bytes(range(256)) * 8)
        with pytest.raises(BodyTooLarge):
            decoder.feed(stored + b"\0" * 1000)

    def test_feed_after_finish_is_a_bug(self) -> None:
        """Feeding a finished decoder is a programming error, not a body error."""
        decoder = BodyDecoder(None, MiB)
        decoder.finish()
        with pytest.raises(RuntimeError):
            decoder.feed(b"x")


class TestDecompressionBomb:
    @pytest.mark.parametrize(
        ("encoding", "wbits"),
        [("gzip", 16 + zlib.MAX_WBITS), ("deflate", zlib.MAX_WBITS), ("deflate", -zlib.MAX_WBITS)],
        ids=["gzip", "deflate-zlib", "deflate-raw"],
    )
    def test_one_gib_of_zeros_stops_early_in_bounded_memory(
        self, encoding: str, wbits: int
    ) -> None:
        """1 GiB of zeros stops at the 10 MiB limit, quickly, holding little more than that."""
        limit = 10 * MiB
        consumed = 0
        decoder = BodyDecoder(encoding, limit)
        tracemalloc.start()
        started = time.perf_counter()
        try:
            with pytest.raises(BodyTooLarge):
                for chunk in zero_bomb(wbits):
                    consumed += len(chunk)
                    decoder.feed(chunk)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert elapsed < 5
        assert peak < limit + MiB
        # 1 GiB of zeros compresses to about 1 MiB; stopping at 10 MiB reads about 1% of it.
        assert consumed < 64 * 1024

    def test_bomb_in_a_single_chunk(self) -> None:
        """A whole bomb in one chunk inflates no further than the limit either."""
        wire = b"".join(zero_bomb(16 + zlib.MAX_WBITS, total=32 * MiB))
        decoder = BodyDecoder("gzip", MiB)
        tracemalloc.start()
        try:
            with pytest.raises(BodyTooLarge):
                decoder.feed(wire)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 2 * MiB
