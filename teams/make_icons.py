"""Draw the Teams app icons: `color.png` and `outline.png`, next to this script.

    python teams/make_icons.py [DIR]

color.png is 192x192, a red disc with a white exclamation mark; outline.png is 32x32, the
same glyph as a white ring and mark on transparent. Every pixel is computed with integers
(4x4 samples a pixel for the edges) and the image data is stored without compression, so
the bytes depend on this script alone and not on the zlib build: tests/test_teams_manifest.py
checks that the committed PNGs are what this script writes.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

RED = (0xD1, 0x34, 0x38)  # the manifest's accentColor
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # per axis: 16 samples a pixel
SUB = 2 * SAMPLES  # coordinates are in eighths of a pixel; samples sit at odd eighths

# A shape answers whether a sample point (in eighths of a pixel) is inside it.
Shape = Callable[[int, int], bool]


def disc(cx: int, cy: int, r: int) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def ring(cx: int, cy: int, outer: int, inner: int) -> Shape:
    return lambda x, y: inner * inner < (x - cx) ** 2 + (y - cy) ** 2 <= outer * outer


def bar(cx: int, top: int, bottom: int, r: int) -> Shape:
    """A vertical stroke with round ends: the points within r of the segment top..bottom."""
    return lambda x, y: (x - cx) ** 2 + (y - min(max(y, top), bottom)) ** 2 <= r * r


def coverage(width: int, shapes: list[Shape]) -> list[list[tuple[int, ...]]]:
    """For each pixel, how many of its samples fall in each shape (the first that holds)."""
    rows = []
    for py in range(width):
        row = []
        for px in range(width):
            counts = [0] * len(shapes)
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x, y = px * SUB + 2 * sx + 1, py * SUB + 2 * sy + 1
                    for i, inside in enumerate(shapes):
                        if inside(x, y):
                            counts[i] += 1
                            break
            row.append(tuple(counts))
        rows.append(row)
    return rows


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def stored_zlib(data: bytes) -> bytes:
    """A zlib stream of uncompressed deflate blocks (at most 65535 bytes each)."""
    out = bytearray(b"\x78\x01")
    for start in range(0, len(data), 0xFFFF):
        block = data[start : start + 0xFFFF]
        final = 1 if start + 0xFFFF >= len(data) else 0
        out += struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF) + block
    out += struct.pack(">I", zlib.adler32(data))
    return bytes(out)


def png(width: int, color_type: int, rows: list[bytes], extra: bytes = b"") -> bytes:
    """A square 8-bit PNG; each row is filtered with type 0 (none)."""
    header = struct.pack(">IIBBBBB", width, width, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", stored_zlib(raw))
        + chunk(b"IEND", b"")
    )


def share(n: int, whole: int = SAMPLES * SAMPLES) -> int:
    """n samples out of `whole` as a 0..255 value, rounded."""
    return (n * 255 + whole // 2) // whole


def color_png() -> bytes:
    """192x192, palette colour: a red disc, a white exclamation mark, transparent corners."""
    mark = [bar(96 * SUB, 46 * SUB, 110 * SUB, 12 * SUB), disc(96 * SUB, 142 * SUB, 14 * SUB)]
    body = disc(96 * SUB, 96 * SUB, 88 * SUB)
    palette: dict[tuple[int, int, int, int], int] = {}
    rows = []
    for row in coverage(192, [*mark, body]):
        indices = bytearray()
        for bar_n, dot_n, red_n in row:
            white_n = bar_n + dot_n
            painted = white_n + red_n
            if painted == 0:
                rgba = (0, 0, 0, 0)
            else:
                r, g, b = (
                    (white_n * w + red_n * c + painted // 2) // painted
                    for w, c in zip(WHITE, RED, strict=True)
                )
                rgba = (r, g, b, share(painted))
            indices.append(palette.setdefault(rgba, len(palette)))
        rows.append(bytes(indices))
    assert len(palette) <= 256, len(palette)
    plte = b"".join(bytes(rgba[:3]) for rgba in palette)
    trns = bytes(rgba[3] for rgba in palette)
    return png(192, 3, rows, chunk(b"PLTE", plte) + chunk(b"tRNS", trns))


def outline_png() -> bytes:
    """32x32 RGBA: a white ring and exclamation mark; every pixel is white, only alpha varies."""
    shapes = [
        ring(16 * SUB, 16 * SUB, 15 * SUB, 13 * SUB),
        bar(16 * SUB, 9 * SUB, 18 * SUB, 12),  # 1.5 px: a 3 px stroke
        disc(16 * SUB, 23 * SUB, 14),
    ]
    rows = []
    for row in coverage(32, shapes):
        pixels = bytearray()
        for counts in row:
            pixels += bytes((*WHITE, share(sum(counts))))
        rows.append(bytes(pixels))
    return png(32, 6, rows)


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for name, data in (("color.png", color_png()), ("outline.png", outline_png())):
        (target / name).write_bytes(data)
        print(f"{target / name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
