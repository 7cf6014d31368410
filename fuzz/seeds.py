#!/usr/bin/env python3
"""Writes the fuzzers' small seed corpus (committed): fuzz/seeds/frame/ holds ICD frames of the requests the
`frame` target converts, fuzz/seeds/sniff/ small FITS files. Plain protobuf encoding by hand, no deps."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def key(field, wire):
    return varint(field << 3 | wire)


def sfixed32(field, v):
    return key(field, 5) + struct.pack("<i", v)


def fixed32(field, v):
    return key(field, 5) + struct.pack("<I", v)


def f32(field, v):
    return key(field, 5) + struct.pack("<f", v)


def f64(field, v):
    return key(field, 1) + struct.pack("<d", v)


def enum(field, v):
    return key(field, 0) + varint(v)


def msg(field, body):
    return key(field, 2) + varint(len(body)) + body


def string(field, s):
    return msg(field, s.encode())


def frame(event, request_id, body):
    return struct.pack("<HHI", event, 30, request_id) + body


def point(field, x, y):
    return msg(field, f32(1, x) + f32(2, y))


FRAMES = {
    "register_viewer": frame(1, 1, fixed32(1, 0) + fixed32(3, 5)),
    "set_region_polygon": frame(11, 2, sfixed32(1, 0) + sfixed32(2, -1) + msg(
        3, enum(1, 6) + point(2, 1, 1) + point(2, 1, 4) + point(2, 4, 4) + point(2, 4, 1))),
    "set_region_ellipse": frame(11, 3, sfixed32(1, 0) + sfixed32(2, -1) + msg(
        3, enum(1, 4) + point(2, 10, 10) + point(2, 5, 3) + f32(3, 30.0))),
    "set_region_annulus": frame(11, 4, sfixed32(1, 0) + sfixed32(2, 7) + msg(
        3, enum(1, 5) + point(2, 10, 10) + point(2, 2, 6))),
    "histogram": frame(9, 5, sfixed32(1, 0) + sfixed32(2, -1) + msg(
        3, string(1, "z") + sfixed32(2, -1) + enum(3, 1) + sfixed32(4, 100) + enum(5, 1)
        + msg(6, f64(1, -1.0) + f64(2, 1.0)))),
    "stats": frame(10, 6, sfixed32(1, 0) + sfixed32(2, -1) + msg(
        3, string(1, "Qz") + msg(2, b"".join(varint(t) for t in (0, 2, 4, 8, 9, 10))))),
    "spectral": frame(14, 7, sfixed32(1, 0) + sfixed32(2, 1) + msg(
        3, string(1, "Ptotalz") + msg(2, varint(2)))),
    "spatial": frame(8, 8, sfixed32(1, 0) + sfixed32(2, 0) + msg(
        3, string(1, "x") + sfixed32(2, 0) + sfixed32(3, 0) + sfixed32(4, 2))
        + msg(3, string(1, "y") + sfixed32(4, 1))),
    "tiles": frame(30, 9, sfixed32(1, 0) + msg(2, b"".join(
        struct.pack("<i", t) for t in (0, 1 << 24, (2 << 24) | (1 << 12) | 1)))
        + enum(3, 1) + f32(4, 11.0)),
    "cursor": frame(7, 10, sfixed32(1, 0) + point(2, 12.4, 7.6)),
}


def fits_card(key, value):
    return ("%-8s= %20s" % (key, value)).ljust(80).encode()


def fits_file(cards, data=b""):
    header = b"".join(fits_card(k, v) for k, v in cards) + b"END".ljust(80)
    header += b" " * (-len(header) % 2880)
    return header + data + b"\0" * (-len(data) % 2880)


SNIFF = {
    "tiny.fits": fits_file([("SIMPLE", "T"), ("BITPIX", "-32"), ("NAXIS", "2"), ("NAXIS1", "4"),
                            ("NAXIS2", "3"), ("CTYPE1", "'RA---SIN'"), ("CTYPE2", "'DEC--SIN'"),
                            ("CRVAL1", "10.0"), ("CRVAL2", "-30.0"), ("CDELT1", "-0.001"),
                            ("CDELT2", "0.001"), ("CRPIX1", "2.0"), ("CRPIX2", "2.0"),
                            ("BMAJ", "0.001"), ("BMIN", "0.0005"), ("BPA", "45.0")],
                           struct.pack(">12f", *range(12))),
    "cube.fits": fits_file([("SIMPLE", "T"), ("BITPIX", "16"), ("NAXIS", "3"), ("NAXIS1", "2"),
                            ("NAXIS2", "2"), ("NAXIS3", "2"), ("CTYPE3", "'FREQ'"),
                            ("CRVAL3", "1.4E9"), ("CDELT3", "1.0E6"), ("BSCALE", "0.5"),
                            ("BLANK", "-32768")], struct.pack(">8h", *range(8))),
}


def main():
    for sub, items in (("frame", FRAMES), ("sniff", SNIFF)):
        d = os.path.join(HERE, "seeds", sub)
        os.makedirs(d, exist_ok=True)
        for name, data in items.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
