#!/usr/bin/env python3
"""Generate the fixtures of cartaflow's Rust integration tests, and OUTDIR/expected.json.

Usage:  .venv/bin/python scripts/gen_fixtures.py OUTDIR

Rewrites OUTDIR/images, OUTDIR/outside, OUTDIR/hdf5, OUTDIR/big, OUTDIR/expected_tiles and
OUTDIR/expected.json on every run (other things in OUTDIR are left alone); deterministic, about
9 MB, about a second.
A lock file (OUTDIR/.lock) serialises concurrent runs.

OUTDIR/
  images/                    the top folder the tests serve
    wcs2d.fits               2D 64x48, TAN WCS, rich header (quotes, bool/int/exp-float cards,
                             comments, HISTORY/COMMENT, a CONTINUE long string, beam)
    cube3d.fits              32x24x10 RA/DEC/FREQ (channel 7 all NaN, one NaN pixel in channel 0)
    cube4d.fits              16x16x5x2 RA/DEC/FREQ/STOKES (I, Q)
    nowcs.fits               20x10, minimal header, no WCS
    multi.fits               empty primary, IMAGE 'SCI', BINTABLE, IMAGE 'ERR'
    gz.fits.gz               gzip of a 24x16 FITS
    idia.hdf5                IDIA-schema HDF5, 40x30x6 (scripts/common_fits.py write_idia)
    not_an_image.txt         text: not listed in content mode
    fake.fits                "hello, not FITS": a .fits name without FITS content
    empty.fits               0 bytes
    truncated.fits           the first 1000 bytes of wcs2d.fits (header cut mid-way)
    .hidden.fits             a real FITS file, but hidden
    sub/inner.fits, sub/deeper/deep.fits, emptydir/
    pixels/                  pixel, tile and histogram fixtures (files[...]["value_rule"] each):
      bitpix_{8,16,32,64}.fits   37x23 stored integers with BSCALE/BZERO/BLANK (8: 1/0/255;
                             16: 0.5/-3/-32768; 32: 1/2147483648/-2147483648, unsigned style;
                             64: 2.0/-1e6/-99), BLANK at (1,0) (36,3) (5,7) (18,11)
      bitpix_m32.fits, bitpix_m64.fits   37x23 floats, NaN at those four pixels
      tiles_nan.fits         700x520 float32, smooth values, NaN rectangle/row/column/scatter
      degenerate.fits        30x20x1x1 RA/DEC/FREQ/STOKES
      cube_stokes.fits       24x18x5x2 RA/DEC/FREQ/STOKES
      flat.fits              6x5x2: channel 0 constant 2.5, channel 1 all NaN (histogram edges)
      beams.fits             20x16x3 RA/DEC/FREQ with a CASA per-channel BEAMS table
      iquv.fits              24x20x4x3 RA/DEC/STOKES/FREQ: I, Q, U, V with STOKES as the third axis
      chunked_mips.hdf5      IDIA 2D 603x521, chunked DATA, mips 2/4/8 with clipped edge blocks
    overlays/                contour (and later overlay) fixtures: scripts/gen_overlays.py
    escape_link -> OUTDIR/outside        (absolute symlink leaving the top folder)
    link_to_file.fits -> ../outside/secret.fits   (relative symlink leaving it)
    inside_link -> sub                   (symlink that stays inside)
  outside/secret.fits        must never be listed or opened through images/
  hdf5/idia_2d_chunked.hdf5  IDIA 2D 520x512: chunked DATA [512,512], mips 2/4/8, scalar stats
  hdf5/idia_4d.hdf5          IDIA 4D 24x20x5x2: SwizzledData/ZYXW, XY stats [2,5], XYZ [2]
                             (reader tests; outside the top folder, so "outside_top": true)
  big/f0000.fits..f2999.fits 3000 hard links of one tiny FITS (file-list progress/cancel)
  expected_tiles/*.f32       expected raster tiles, little-endian float32, row-major
  expected.json              what the tests check; see "schema" inside it and below

Pixel values encode their position so that readers can check axis order:
    value = x + 100*y + 10000*z + 100000*stokes      (0-based pixel indices)
(multi.fits ERR adds 10000; exceptions, e.g. NaNs, are listed in expected.json "pixels").

expected.json:
  {"schema": 1, "top": "images",
   "files": {"<path relative to OUTDIR>": {
       "type": "FITS" | "HDF5" | null,      listing type by content sniffing (null: not an image)
       "size": bytes, "listed": bool,       listed in a content-mode listing of its folder
       "readable": bool, "hidden": bool, "symlink": null | "<link target>",
       "outside_top": bool (true: a symlink leaving the top folder, or outside/ itself),
       "hdus": [{"hdu": 0, "kind": "PRIMARY"|"IMAGE"|"BINTABLE"|..., "extname": str|null}]  (FITS)
       "image_hdus": [{
           "hdu": "1",  "extname": "SCI" | null,     the Rust side formats "1: SCI" / "0"
           "shape": [NAXIS1, NAXIS2, ...],
           "header": [{"keyword", "value", "type": "str"|"int"|"float"|"bool", "comment",
                       "records": number of 80-column records (FITS only; >1 with CONTINUE)}],
           "plane0_stats": {num_pixels, nan_count, min, max, sum, sum_sq, mean, std, rms},
           "pixels": [{"x", "y", "z", "stokes", "value" (null = NaN)}],
           "datasets": {"0/DATA": [6, 30, 40], ...}   (HDF5 only; shapes in HDF5 order)
           "chunks": {"0/DATA": [512, 512]}          (HDF5 only; chunked datasets)
           "storage": {"bitpix", "bscale", "bzero", "blank"}   (FITS only; cards as stored)
           "beams": [{"channel", "stokes", "major_arcsec", "minor_arcsec", "pa_deg"}]  (FITS only:
               the BEAMS table's rows, else BMAJ/BMIN/BPA with channel = stokes = -1, else [])
           "histograms": [{"channel", "stokes", "num_bins", "min", "max", "bins", "mean",
                           "std_dev", "count"}]  for (0,0), (1,0) if depth > 1, (0,1) if
               stokes > 1: finite values; num_bins = max(2, int(sqrt(W*H))), bin =
               floor((v - min) / ((max - min) / num_bins)) clamped; constant plane: 1 bin;
               empty plane: 0 bins; std_dev with ddof=1
           "rows": [{"channel": 0, "stokes": 0, "y", "values"}]   y in {0, H//2, H-1}
           "columns": [{"channel": 0, "stokes": 0, "x", "values"}]  x in {0, W//2, W-1}
               (values as float32, null = NaN; only when W*H <= 1e6)
       }]}},
   "listings": {"<dir>": {"files": [{"name", "type", "size"}],
                          "subdirectories": [{"name", "item_count"}],
                          "must_not_contain": [names]}},
   "big": {"dir": "big", "count": 3000, "size_each": bytes, "first": "f0000.fits", "last": ...},
   "tiles": [{"file", "channel": 0, "stokes": 0, "layer", "x", "y", "mip", "width", "height",
              "data": "expected_tiles/<name>.f32"}]   for images/pixels/tiles_nan.fits and
       chunked_mips.hdf5: every tile of layers 0 and 1, and two full-resolution ones. CARTA
       geometry: 256-pixel tiles, total_layers = ceil(log2(max tiles per axis)), mip =
       2^(total_layers - layer); values are NaN-aware means of mip x mip blocks (clipped at
       the edges) in float64, cast to float32.
   "regions": [{                 region statistics, histograms and spectral profiles
       "name", "file": "images/...", "hdu": "", "region_type": 0 POINT | 3 RECTANGLE |
       4 ELLIPSE | 6 POLYGON, "control_points": [[x, y], ...], "rotation": degrees CCW,
       "pixel_count": pixels of the region inside the image (NaN or not),
       "bbox": [x0, x1, y0, y1] half-open box of those pixels (null if none),
       "near_boundary": pixel centres within 1e-6 of the boundary (0: robust to rounding;
                        rect_unrotated and polygon_square16 put edges on centres on purpose),
       "planes": [{"channel", "stokes",
           "stats": {"NumPixels" (finite), "NanCount", "Sum", "FluxDensity", "Mean", "RMS",
                     "Sigma" (ddof=1; null for one pixel), "SumSq", "Min", "Max", "Extrema"},
           "histogram": {"num_bins": max(2, int(sqrt(bbox_w*bbox_h))), "min", "max", "bins",
                         "mean", "std_dev"}}]   (0,0); (1,0) for cubes; (0,1) with Stokes
       "spectral": {"stokes": 0, "channels": D, <each stat above>: [per channel]}  cubes only
     }]
     Membership (CARTA): pixel (i, j) has its centre at (i, j); it is in the region iff the
     centre is inside or on the boundary (eps 1e-9). RECTANGLE [[cx, cy], [w, h]]: |d.u| <=
     w/2, |d.v| <= h/2 with d = p - c, u = (cos r, sin r), v = (-sin r, cos r). ELLIPSE
     [[cx, cy], [a, b]]: (d.v/a)^2 + (d.u/b)^2 <= 1. POLYGON: vertices, even-odd, edges
     inside. POINT [[x, y]]: pixel (round(x), round(y)), halves away from zero.
     Values: physical float32 as astropy/h5py read them, accumulated in float64; null = NaN /
     undefined. No finite pixel: stats null except NumPixels 0 and NanCount; histogram
     num_bins 0, bins []. Constant values: num_bins 1, bins [count]. Histogram bins as in
     "histograms" above. FluxDensity = Sum / (pi/(4 ln 2) BMAJ BMIN / |CDELT1 CDELT2|) for
     BUNIT Jy/beam with a beam, else null.
   "image_stats": {"<file>": {"hdu": "", "channel": 0, "stokes": 0,
       "stats": {as above, whole plane (region -1)},
       "cube_histogram": {"stokes": 0, histogram over every channel of Stokes 0 with
                          num_bins = max(2, int(sqrt(W*H))), "count"}  (cubes only)}}
     for the files of the region cases.
   "wcs_cases": [{"name", "cards": [[keyword, value]], "points": [{"pixel": [x, y] (FITS, 1-based),
       "world": [lon, lat] (degrees, astropy all_pix2world)}]}]   celestial WCSs of several projections,
       rotations and units: the oracle for pixel <-> world conversions.
   "computed_stokes": {"file", "channel": 1, "pixel": [x, y], "planes": {<Ptotal|Plinear|PFtotal|PFlinear|
       Pangle>: plane values, row-major, null = NaN}, "spectra": {<name>: values at pixel per channel},
       "stats": {<name>: {NumPixels, Sum, Mean, Min, Max} of the plane's finite values},
       "region": {"control_points" (a RECTANGLE), "spectral_mean": {<name>: per channel, the formula applied
       to the components' region means, as carta_backend combines profiles}}}
   "beam_flux": {"file", "width", "height", "flux_density": per channel, the whole image's sum over that
       channel's beam area in pixels (images/pixels/beams.fits, a per-channel BEAMS table)}
   carta_backend's formulas for computed Stokes:
       Ptotal = sqrt(Q²+U²+V²), Plinear = sqrt(Q²+U²), PF* = 100·P*/I, Pangle = ½·atan2(U, Q) in degrees.}
"""

import argparse
import contextlib
import fcntl
import json
import math
import os
import shutil
import sys
import warnings

import numpy as np

sys.dont_write_bytecode = True  # no scripts/__pycache__ from importing common_fits
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_fits import (celestial_cards, gzip_file, make_fits_header,  # noqa: E402
                         read_idia_attrs, write_fits, write_idia)
import gen_overlays  # noqa: E402

BIG_COUNT = 3000


def coded(shape_fits_order, offset=0.0):
    """float32 array (C order, [s][z][y][x]) with value x + 100y + 10000z + 100000s + offset."""
    shape = tuple(reversed(shape_fits_order))
    idx = np.indices(shape)
    weights = [1, 100, 10000, 100000][: len(shape)]
    v = np.zeros(shape, dtype=np.float64) + offset
    for axis, wgt in zip(range(len(shape) - 1, -1, -1), weights):
        v += wgt * idx[axis]
    return v.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------------------

def wcs2d_cards():
    cards = celestial_cards(275.1958, -16.1717, 3.0, (32.5, 24.5), proj="TAN", radesys="FK5",
                            beam_arcsec=(9.0, 6.0, 45.0), telescope="ALMA", obj="M'17 field",
                            date_obs="2017-04-01T10:20:30.5")
    # a full linear transformation, as CASA writes it
    i = next(k for k, c in enumerate(cards) if c[0] == "CTYPE1")
    cards[i:i] = [("PC1_1", 1.0, None), ("PC2_1", 0.0, None),
                  ("PC1_2", 0.0, None), ("PC2_2", 1.0, None)]
    cards += [
        # float in exponent form, kept byte-for-byte by using a raw card
        "RESTFRQ =   1.42040575200E+09 / Rest Frequency (Hz)",
        ("SPECSYS", "LSRK", "Spectral reference frame"),
        ("NITER", 5000, "Integer card: number of clean iterations"),
        ("NEGINT", -42, "Negative integer"),
        ("SMOOTHED", False, "Boolean card (F)"),
        ("CALIBRTD", True, "Boolean card (T)"),
        ("DATAMIN", 0.0, "Minimum pixel value"),
        ("DATAMAX", 4763.0, "Maximum pixel value"),
        ("EMPTYSTR", "", "An empty string value"),
        ("LONGSTR", "This string value is deliberately longer than one 80-column card can hold,"
                    " so astropy writes it with CONTINUE cards.", "long string"),
        ("COMMENT", "This is a COMMENT card: free text, no value indicator."),
        ("COMMENT", "A second COMMENT card with 'quotes' and = signs."),
        ("HISTORY", "Made by cartaflow scripts/gen_fixtures.py"),
        ("HISTORY", "HISTORY cards repeat; both must be kept in order."),
    ]
    return cards


def spectral_cards(obj, ra, dec, crpix, nfreq_cdelt=-1.0e6, stokes=False):
    axes = [("FREQ", 1.4204e9, nfreq_cdelt, 1.0, "Hz")]
    if stokes:
        axes.append(("STOKES", 1.0, 1.0, 1.0, ""))
    return celestial_cards(ra, dec, 5.0, crpix, proj="SIN", radesys="ICRS",
                           beam_arcsec=(20.0, 15.0, -30.0), telescope="MeerKAT", obj=obj,
                           date_obs="2023-09-09T09:09:09.0", extra_axes=axes,
                           extra_cards=[("RESTFRQ", 1.420405752e9, "Rest Frequency (Hz)"),
                                        ("SPECSYS", "LSRK", None)])


def make_images(out, images, outside):
    from astropy.io import fits

    os.makedirs(images)
    os.makedirs(outside)
    j = lambda *p: os.path.join(images, *p)  # noqa: E731

    write_fits(j("wcs2d.fits"), coded((64, 48)), wcs2d_cards())

    cube = coded((32, 24, 10))
    cube[7] = np.nan
    cube[0, 5, 5] = np.nan
    write_fits(j("cube3d.fits"), cube, spectral_cards("cube3d", 83.6331, 22.0145, (16.5, 12.5)))

    write_fits(j("cube4d.fits"), coded((16, 16, 5, 2)),
               spectral_cards("cube4d", 201.365, -43.0191, (8.5, 8.5), stokes=True))

    hdu = fits.PrimaryHDU(coded((20, 10)))
    if "EXTEND" in hdu.header:
        del hdu.header["EXTEND"]
    hdu.writeto(j("nowcs.fits"))

    sci_cards = celestial_cards(10.6847, 41.2688, 1.0, (15.5, 10.5), proj="TAN",
                                telescope="HST", obj="multi")
    primary = fits.PrimaryHDU(header=make_fits_header([("OBJECT", "multi", "empty primary")]))
    sci = fits.ImageHDU(coded((30, 20)), header=make_fits_header(sci_cards), name="SCI")
    table = fits.BinTableHDU.from_columns([
        fits.Column(name="ID", format="J", array=np.arange(3, dtype=np.int32)),
        fits.Column(name="FLUX", format="E", unit="Jy",
                    array=np.array([0.5, 1.5, 2.5], dtype=np.float32))], name="CATALOG")
    err = fits.ImageHDU(coded((30, 20), offset=10000.0), header=make_fits_header(sci_cards),
                        name="ERR")
    fits.HDUList([primary, sci, table, err]).writeto(j("multi.fits"))

    gz_src = j("gz.fits.tmp")
    write_fits(gz_src, coded((24, 16)),
               celestial_cards(150.0, 2.2, 1.0, (12.5, 8.5), proj="SIN", obj="gz", telescope="VLA"))
    gzip_file(gz_src, j("gz.fits.gz"), remove_src=True)

    idia = coded((40, 30, 6))
    idia[4] = np.nan
    idia[1, 2, 3] = np.nan
    idia_header = fits.PrimaryHDU(
        data=idia, header=make_fits_header(spectral_cards("idia", 187.7059, 12.3911, (20.5, 15.5))
                                           )).header
    write_idia(j("idia.hdf5"), idia, idia_header)

    with open(j("not_an_image.txt"), "w") as f:
        f.write("This is a text file. It is not an image.\n")
    with open(j("fake.fits"), "w") as f:
        f.write("hello, not FITS")
    open(j("empty.fits"), "w").close()
    with open(j("wcs2d.fits"), "rb") as f:
        head = f.read(1000)
    with open(j("truncated.fits"), "wb") as f:
        f.write(head)
    fits.PrimaryHDU(coded((8, 8))).writeto(j(".hidden.fits"))

    os.makedirs(j("sub", "deeper"))
    os.makedirs(j("emptydir"))
    fits.PrimaryHDU(coded((8, 8))).writeto(j("sub", "inner.fits"))
    fits.PrimaryHDU(coded((4, 4))).writeto(j("sub", "deeper", "deep.fits"))

    fits.PrimaryHDU(coded((10, 10))).writeto(os.path.join(outside, "secret.fits"))
    os.symlink(os.path.abspath(outside), j("escape_link"))
    os.symlink(os.path.join("..", "outside", "secret.fits"), j("link_to_file.fits"))
    os.symlink("sub", j("inside_link"))


def make_hdf5_extra(d):
    """Two more IDIA files for reader tests (outside the top folder of the listing tests):
    a 2D image big enough for chunked DATA and three mip levels, and a 4D cube (ZYXW)."""
    from astropy.io import fits

    os.makedirs(d)
    img = coded((520, 512))
    img[100:110, 200:230] = np.nan
    cards = celestial_cards(83.6331, 22.0145, 1.0, (260.5, 256.5), proj="SIN", obj="chunked")
    hdr = fits.PrimaryHDU(data=img, header=make_fits_header(cards)).header
    write_idia(os.path.join(d, "idia_2d_chunked.hdf5"), img, hdr)

    cube = coded((24, 20, 5, 2))
    cube[1, 3] = np.nan
    hdr = fits.PrimaryHDU(data=cube, header=make_fits_header(
        spectral_cards("idia4d", 201.365, -43.0191, (12.5, 10.5), stokes=True))).header
    write_idia(os.path.join(d, "idia_4d.hdf5"), cube, hdr)


# The integer images of make_pixels: BITPIX -> (raw dtype, BSCALE, BZERO, BLANK, raw values).
# Physical = raw * BSCALE + BZERO in float64 (astropy's scaled read), BLANK -> NaN; every
# product and sum is exact in float64, only the float32 a reader returns may round.
PIX_W, PIX_H = 37, 23
PIX_BAD = [(1, 0), (36, 3), (5, 7), (18, 11)]   # (x, y) of the BLANK / NaN pixels


def _pix_xy():
    y, x = np.indices((PIX_H, PIX_W), dtype=np.int64)
    return x, y


def bitpix_specs():
    x, y = _pix_xy()
    return {
        # unsigned bytes, no scaling
        8: (np.uint8, 1, 0, 255, (x + 10 * y) % 250),
        # physical = raw/2 - 3, negative and positive
        16: (np.int16, 0.5, -3, -32768, x + 100 * y - 1000),
        # unsigned 32-bit style: physical 3e9 + ... exceeds INT32_MAX; not float32-exact
        32: (np.int32, 1, 2147483648, -2147483648,
             3000000000 + 1000 * x + 100000 * y - 2147483648),
        # 64-bit raw beyond 2^32; physical about 1e10, not float32-exact
        64: (np.int64, 2.0, -1.0e6, -99, 5000000000 + 1000 * x + 100000 * y),
    }


def write_scaled_int_fits(path, raw, bscale, bzero, blank, cards):
    """A primary HDU holding the stored integers `raw` as they are, with exactly these
    BSCALE/BZERO/BLANK cards, where celestial_cards puts BSCALE/BZERO. astropy drops
    BSCALE/BZERO given at construction and Header.extend strips them, so they are inserted
    one by one afterwards."""
    from astropy.io import fits

    hdu = fits.PrimaryHDU(data=raw, do_not_scale_image_data=True)
    out = []
    for c in cards:
        if c[0] == "BZERO":
            out.append(("BLANK", blank, "stored value of undefined pixels"))
        elif c[0] != "BSCALE":
            out.append(c)
    hdu.header.extend(make_fits_header(out))
    hdu.header.insert("BLANK", ("BSCALE", bscale, "PHYSICAL = PIXEL*BSCALE + BZERO"))
    hdu.header.insert("BLANK", ("BZERO", bzero))
    hdu.writeto(path, output_verify="exception")


def smooth_field(w, h):
    """Smooth-ish float32 values (not the coded rule), so block means are not trivial."""
    y, x = np.indices((h, w), dtype=np.float64)
    return (50.0 * np.sin(x / 40.0) * np.cos(y / 30.0) + 0.02 * x + 0.05 * y).astype(np.float32)


def make_pixels(d):
    """images/pixels/: pixel-reading, tile and histogram fixtures (see the module docstring)."""
    from astropy.io import fits

    os.makedirs(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    x, y = _pix_xy()
    cards = celestial_cards(30.0, -30.0, 2.0, (19.0, 12.0), proj="SIN", obj="bitpix",
                            telescope="VLA")

    for bitpix, (dtype, bscale, bzero, blank, raw) in bitpix_specs().items():
        raw = raw.astype(dtype)
        for (px, py) in PIX_BAD:
            raw[py, px] = blank
        write_scaled_int_fits(j("bitpix_%d.fits" % bitpix), raw, bscale, bzero, blank, cards)

    m32 = ((x + 100 * y) * 0.25 - 7.5).astype(np.float32)
    m64 = (x + 100 * y + 0.1).astype(np.float64)       # not float32-exact
    for arr in (m32, m64):
        for (px, py) in PIX_BAD:
            arr[py, px] = np.nan
    write_fits(j("bitpix_m32.fits"), m32, cards)
    write_fits(j("bitpix_m64.fits"), m64, cards)

    img = smooth_field(700, 520)
    img[201:263, 301:419] = np.nan        # a blanked rectangle, not aligned to mip blocks
    img[77, :] = np.nan                   # a NaN row
    img[:, 350] = np.nan                  # a NaN column (W//2)
    rng = np.random.default_rng(20240601)
    img[rng.integers(0, 520, 300), rng.integers(0, 700, 300)] = np.nan   # scattered
    write_fits(j("tiles_nan.fits"), img,
               celestial_cards(266.4168, -29.0078, 0.5, (350.5, 260.5), proj="SIN",
                               obj="tiles_nan", telescope="MeerKAT"))

    write_fits(j("degenerate.fits"), coded((30, 20, 1, 1)),
               spectral_cards("degenerate", 201.365, -43.0191, (15.5, 10.5), stokes=True))
    write_fits(j("cube_stokes.fits"), coded((24, 18, 5, 2)),
               spectral_cards("cube_stokes", 201.365, -43.0191, (12.5, 9.5), stokes=True))

    # A cube with a per-channel beam table, as CASA writes it (CASAMBM = T, BINTABLE 'BEAMS').
    beam_cube = fits.PrimaryHDU(data=coded((20, 16, 3)), header=make_fits_header(
        spectral_cards("beams", 201.365, -43.0191, (10.5, 8.5)) + [("CASAMBM", True, "")]))
    beam_table = fits.BinTableHDU.from_columns([
        fits.Column(name="BMAJ", format="1E", unit="arcsec", array=[1.5, 1.6, 1.75]),
        fits.Column(name="BMIN", format="1E", unit="arcsec", array=[1.0, 1.1, 1.25]),
        fits.Column(name="BPA", format="1E", unit="deg", array=[10.0, 20.0, 30.5]),
        fits.Column(name="CHAN", format="1J", array=[0, 1, 2]),
        fits.Column(name="POL", format="1J", array=[0, 0, 0]),
    ], name="BEAMS")
    beam_table.header["NCHAN"] = 3
    beam_table.header["NPOL"] = 1
    fits.HDUList([beam_cube, beam_table]).writeto(j("beams.fits"))

    # Full Stokes with STOKES as the third axis and FREQ as the fourth (computed Stokes, any axis order).
    write_fits(j("iquv.fits"), iquv_cube(), celestial_cards(
        83.6331, 22.0145, 2.0, (12.5, 10.5), proj="SIN", obj="iquv",
        extra_axes=[("STOKES", 1.0, 1.0, 1.0, ""), ("FREQ", 1.4e9, 1.0e6, 1.0, "Hz")]))

    flat = np.full((2, 5, 6), 2.5, dtype=np.float32)
    flat[1] = np.nan
    write_fits(j("flat.fits"), flat, spectral_cards("flat", 10.0, 10.0, (3.5, 3.0)))

    mips = coded((603, 521))              # odd sizes: clipped mip blocks at the right/bottom
    mips[100:111, 201:233] = np.nan
    mips[16:24, 16:24] = np.nan           # one whole 8x8 block
    mips[520, 602] = np.nan               # the last pixel: a 1-pixel edge block with no value
    hdr = fits.PrimaryHDU(data=mips, header=make_fits_header(
        celestial_cards(83.6331, 22.0145, 1.0, (302.0, 261.0), proj="SIN", obj="chunked_mips")
    )).header
    write_idia(j("chunked_mips.hdf5"), mips, hdr)


def iquv_cube():
    """24x20, 4 Stokes (I, Q, U, V) on axis 3, 3 channels on axis 4: numpy shape [freq][stokes][y][x]."""
    y, x = np.mgrid[0:20, 0:24].astype(np.float64)
    planes = []
    for c in range(3):
        i = 10.0 + 0.1 * x + 0.05 * y + c
        q = 3.0 * np.sin(x / 5.0 + c) + 0.2
        u = 2.0 * np.cos(y / 4.0 - c) - 0.1
        v = 0.3 * np.sin((x + y) / 7.0) - 0.05 * c
        q[3, 4] = np.nan                   # one blank Q pixel
        i[5, :2] = 0.0                     # I = 0: fractional polarization has no value there
        planes.append(np.stack([i, q, u, v]))
    return np.stack(planes).astype(np.float32)


def beam_flux_expected(path):
    """Per channel of images/pixels/beams.fits: the whole image's sum in Jy/beam over that channel's beam
    area in pixels (its row of the BEAMS table, read with astropy): pi/(4 ln 2) bmaj bmin / |cdelt1 cdelt2|."""
    from astropy.io import fits

    with fits.open(path) as hl:
        beams = fits_beams(hl)
        head, data = hl[0].header, np.asarray(hl[0].data, dtype=np.float32).astype(np.float64)
    pixel = abs(head["CDELT1"] * head["CDELT2"])
    flux = []
    for c in range(data.shape[0]):
        b = next(b for b in beams if b["channel"] == c)
        area = math.pi / (4 * math.log(2)) * (b["major_arcsec"] / 3600) * (b["minor_arcsec"] / 3600) / pixel
        flux.append(float(np.nansum(data[c]) / area))
    return {"file": "images/pixels/beams.fits", "width": int(head["NAXIS1"]),
            "height": int(head["NAXIS2"]), "flux_density": flux}


def computed_stokes_expected():
    """The computed Stokes parameters of images/pixels/iquv.fits by numpy, with carta_backend's formulas
    (per pixel in float64 from the float32 components, then float32; non-finite -> null)."""
    cube = iquv_cube().astype(np.float64)      # [freq][stokes][y][x]
    i, q, u, v = (cube[:, k] for k in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        formulas = {
            "Ptotal": np.sqrt(q * q + u * u + v * v),
            "Plinear": np.sqrt(q * q + u * u),
            "PFtotal": 100.0 * (np.sqrt(q * q + u * u + v * v) / i),
            "PFlinear": 100.0 * (np.sqrt(q * q + u * u) / i),
            "Pangle": np.degrees(np.arctan2(u, q)) / 2.0,
        }
    out = {"file": "images/pixels/iquv.fits", "channel": 1, "pixel": [7, 3], "planes": {},
           "spectra": {}, "stats": {}, "region": {"control_points": [[10.0, 8.0], [6.0, 4.0]],
                                                   "spectral_mean": {}}}
    # The region: a 6x4 rectangle centred on (10, 8): pixels x 7..13, y 6..10 (centres on the edges count).
    ry, rx = slice(6, 11), slice(7, 14)
    comp_mean = {}
    for name, k in (("I", 0), ("Q", 1), ("U", 2), ("V", 3)):
        vals = cube[:, k, ry, rx].reshape(3, -1).astype(np.float32).astype(np.float64)
        comp_mean[name] = [float(np.nanmean(c)) for c in vals]
    combine = {
        "Ptotal": lambda m, ch: np.sqrt(m["Q"][ch] ** 2 + m["U"][ch] ** 2 + m["V"][ch] ** 2),
        "Plinear": lambda m, ch: np.sqrt(m["Q"][ch] ** 2 + m["U"][ch] ** 2),
        "PFtotal": lambda m, ch: 100.0 * np.sqrt(m["Q"][ch] ** 2 + m["U"][ch] ** 2 + m["V"][ch] ** 2)
                                 / m["I"][ch],
        "PFlinear": lambda m, ch: 100.0 * np.sqrt(m["Q"][ch] ** 2 + m["U"][ch] ** 2) / m["I"][ch],
        "Pangle": lambda m, ch: np.degrees(np.arctan2(m["U"][ch], m["Q"][ch])) / 2.0,
    }
    for name, values in formulas.items():
        f32 = values.astype(np.float32)
        f32[~np.isfinite(f32)] = np.nan
        plane = f32[1]
        out["planes"][name] = [None if not np.isfinite(a) else float(a) for a in plane.ravel()]
        px, py = out["pixel"]
        out["spectra"][name] = [None if not np.isfinite(a) else float(a) for a in f32[:, py, px]]
        fin = plane[np.isfinite(plane)].astype(np.float64)
        out["stats"][name] = {"NumPixels": int(fin.size), "Sum": float(fin.sum()),
                              "Mean": float(fin.mean()), "Min": float(fin.min()), "Max": float(fin.max())}
        out["region"]["spectral_mean"][name] = [float(combine[name](comp_mean, ch)) for ch in range(3)]
    return out


VALUE_RULES = {
    "images/pixels/bitpix_8.fits": "raw (x + 10*y) % 250, BSCALE 1, BZERO 0",
    "images/pixels/bitpix_16.fits": "raw x + 100*y - 1000; physical raw*0.5 - 3",
    "images/pixels/bitpix_32.fits": "raw 3e9 + 1000*x + 100000*y - 2^31; physical raw + 2^31"
                                    " (unsigned style)",
    "images/pixels/bitpix_64.fits": "raw 5e9 + 1000*x + 100000*y; physical raw*2 - 1e6",
    "images/pixels/bitpix_m32.fits": "(x + 100*y)*0.25 - 7.5",
    "images/pixels/bitpix_m64.fits": "x + 100*y + 0.1 (float64)",
    "images/pixels/tiles_nan.fits": "50 sin(x/40) cos(y/30) + 0.02x + 0.05y; NaN rectangle"
                                    " x 301..418 y 201..262, row y=77, column x=350, 300"
                                    " scattered pixels",
    "images/pixels/flat.fits": "channel 0 constant 2.5, channel 1 all NaN",
    "images/pixels/chunked_mips.hdf5": "pixel_value_rule; NaN at x 201..232 y 100..110,"
                                       " x 16..23 y 16..23, and (602, 520)",
}


def make_big(big):
    """BIG_COUNT hard links of one tiny valid FITS file."""
    from astropy.io import fits

    os.makedirs(big)
    first = os.path.join(big, "f0000.fits")
    fits.PrimaryHDU(np.zeros((2, 2), dtype=np.float32)).writeto(first)
    for i in range(1, BIG_COUNT):
        os.link(first, os.path.join(big, "f%04d.fits" % i))
    return os.path.getsize(first)


# ---------------------------------------------------------------------------------------------
# Describing them
# ---------------------------------------------------------------------------------------------

def jnum(v):
    """A JSON-safe number (None for NaN)."""
    v = float(v)
    return None if not math.isfinite(v) else v


def value_type(v):
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    return "str"


def plane0_stats(data):
    """Statistics of the first plane (z=0, stokes=0), over finite pixels."""
    plane = data.reshape((-1,) + data.shape[-2:])[0].astype(np.float64)
    fin = plane[np.isfinite(plane)]
    n = int(fin.size)
    s, s2 = float(fin.sum()), float((fin * fin).sum())
    return {
        "num_pixels": n,
        "nan_count": int(plane.size - n),
        "min": jnum(fin.min()) if n else None,
        "max": jnum(fin.max()) if n else None,
        "sum": s,
        "sum_sq": s2,
        "mean": s / n if n else None,
        "std": float(np.std(fin, ddof=1)) if n > 1 else None,
        "rms": math.sqrt(s2 / n) if n else None,
    }


def pixel_samples(data, header=None):
    """A few pixels: corners, inner pixels, and the NaNs (one per all-NaN plane, else each)."""
    d4 = as4d(data, header)
    s_, z_, h, w = d4.shape
    pts = {(0, 0, 0, 0), (w - 1, 0, 0, 0), (0, h - 1, 0, 0), (w - 1, h - 1, z_ - 1, s_ - 1),
           (min(3, w - 1), min(2, h - 1), min(1, z_ - 1), 0), (w // 2, h // 2, z_ // 2, s_ - 1)}
    for s in range(s_):
        for z in range(z_):
            bad = ~np.isfinite(d4[s, z])
            if bad.all():
                pts.add((1, 1, z, s))
            else:
                for (y, x) in list(zip(*np.nonzero(bad)))[:4]:
                    pts.add((int(x), int(y), z, s))
    out = []
    for (x, y, z, s) in sorted(pts, key=lambda p: (p[3], p[2], p[1], p[0])):
        out.append({"x": x, "y": y, "z": z, "stokes": s, "value": jnum(d4[s, z, y, x])})
    return out


def as4d(data, header=None):
    """data as [stokes][z][y][x] (a FITS header whose third axis is STOKES has numpy order
    [z][stokes][y][x], swapped here)."""
    d4 = data.reshape((1,) * (4 - data.ndim) + data.shape)
    if header is not None and data.ndim == 4 and str(header.get("CTYPE3", "")).strip() == "STOKES":
        d4 = d4.transpose(1, 0, 2, 3)
    return d4


def histogram(plane):
    """The colour-scale histogram of one plane (finite pixels, values as float64 of float32):
    num_bins = max(2, int(sqrt(W*H))), bin of v = floor((v - min) / ((max - min) / num_bins))
    clamped to num_bins - 1; one bin for a constant plane, none for an empty one."""
    h, w = plane.shape
    v = plane[np.isfinite(plane)].astype(np.float64)
    n = int(v.size)
    out = {"num_bins": 0, "min": None, "max": None, "bins": [], "mean": None,
           "std_dev": None, "count": n}
    if n == 0:
        return out
    lo, hi = float(v.min()), float(v.max())
    out.update(min=lo, max=hi, mean=float(v.sum()) / n,
               std_dev=float(np.std(v, ddof=1)) if n > 1 else None)
    if lo == hi:
        out.update(num_bins=1, bins=[n])
        return out
    nb = max(2, int(math.sqrt(w * h)))
    width = (hi - lo) / nb
    idx = np.minimum(np.floor((v - lo) / width).astype(np.int64), nb - 1)
    out.update(num_bins=nb, bins=[int(b) for b in np.bincount(idx, minlength=nb)])
    return out


def plane_analysis(data, header=None):
    """histograms (channel 0 / 1, Stokes 0 / 1), and rows/columns of channel 0, Stokes 0."""
    d4 = as4d(data, header)
    s_, z_, h, w = d4.shape
    planes = [(0, 0)] + ([(1, 0)] if z_ > 1 else []) + ([(0, 1)] if s_ > 1 else [])
    out = {"histograms": [dict({"channel": c, "stokes": s}, **histogram(d4[s, c]))
                          for (c, s) in planes]}
    if w * h <= 1_000_000:
        p = d4[0, 0].astype(np.float32)
        vals = lambda a: [jnum(np.float32(v)) for v in a]  # noqa: E731
        out["rows"] = [{"channel": 0, "stokes": 0, "y": y, "values": vals(p[y, :])}
                       for y in sorted({0, h // 2, h - 1})]
        out["columns"] = [{"channel": 0, "stokes": 0, "x": x, "values": vals(p[:, x])}
                          for x in sorted({0, w // 2, w - 1})]
    return out


def storage(header):
    """How a FITS image HDU stores its pixels (cards as written; BLANK null when absent)."""
    return {"bitpix": header["BITPIX"], "bscale": header.get("BSCALE", 1),
            "bzero": header.get("BZERO", 0), "blank": header.get("BLANK")}


def fits_beams(hl):
    """The restoring beams of an open FITS file, in the ICD's units (arcsec, deg), read with astropy:
    the BEAMS table's rows if there is one, else the primary header's BMAJ/BMIN/BPA (degrees), else none."""
    import astropy.units as u

    for h in hl[1:]:
        if h.header.get("XTENSION", "").strip() == "BINTABLE" and h.header.get("EXTNAME") == "BEAMS":
            cols = {c.name: c for c in h.columns}
            conv = lambda name, to: (np.asarray(h.data[name], dtype=np.float64)  # noqa: E731
                                     * u.Unit(cols[name].unit or "deg")).to_value(to)
            maj, mnr, pa = conv("BMAJ", u.arcsec), conv("BMIN", u.arcsec), conv("BPA", u.deg)
            return [{"channel": int(c), "stokes": int(p), "major_arcsec": float(a),
                     "minor_arcsec": float(b), "pa_deg": float(t)}
                    for a, b, t, c, p in zip(maj, mnr, pa, h.data["CHAN"], h.data["POL"])]
    head = hl[0].header
    if "BMAJ" in head and "BMIN" in head:
        return [{"channel": -1, "stokes": -1,
                 "major_arcsec": (head["BMAJ"] * u.deg).to_value(u.arcsec),
                 "minor_arcsec": (head["BMIN"] * u.deg).to_value(u.arcsec),
                 "pa_deg": float(head.get("BPA", 0.0))}]
    return []


def describe_fits(path):
    from astropy.io import fits

    hdus, image_hdus = [], []
    # uint=False: astropy's default (uint=True) returns BZERO=2^(n-1) images as unsigned
    # integers and then ignores BLANK; this way every scaled image reads as float, BLANK -> NaN
    with fits.open(path, memmap=False, uint=False) as hl:
        for i, h in enumerate(hl):
            kind = "PRIMARY" if i == 0 else h.header.get("XTENSION", "?").strip()
            extname = h.header.get("EXTNAME") if i > 0 else None
            hdus.append({"hdu": i, "kind": kind, "extname": extname})
            naxis = h.header.get("NAXIS", 0)
            if kind not in ("PRIMARY", "IMAGE") or naxis < 2:
                continue
            header = []
            for c in h.header.cards:
                header.append({"keyword": c.keyword, "value": c.value,
                               "type": value_type(c.value), "comment": c.comment,
                               "records": len(c.image) // 80})
            stored = storage(h.header)     # before h.data: astropy drops the scaling cards
            data = np.asarray(h.data, dtype=np.float32)
            image_hdus.append(dict({
                "hdu": str(i),
                "extname": extname,
                "shape": [h.header["NAXIS%d" % k] for k in range(1, naxis + 1)],
                "header": header,
                "plane0_stats": plane0_stats(data),
                "pixels": pixel_samples(data, h.header),
                "storage": stored,
                "beams": fits_beams(hl),
            }, **plane_analysis(data, h.header)))
    return hdus, image_hdus


def describe_hdf5(path):
    import h5py

    datasets, chunks = {}, {}

    with h5py.File(path, "r") as f:
        groups = list(f.keys())

        # every path, so both SwizzledData/* and its hard link PermutedData/* appear
        # (h5py's visititems reaches a hard-linked group only once)
        def walk(group, prefix):
            for key in group:
                obj, name = group[key], prefix + key
                if isinstance(obj, h5py.Group):
                    walk(obj, name + "/")
                else:
                    datasets[name] = list(obj.shape)
                    if obj.chunks:
                        chunks[name] = list(obj.chunks)

        walk(f, "")
        data = f["0/DATA"][()]
    header = [{"keyword": k, "value": v, "type": t, "comment": ""}
              for (k, v, t) in read_idia_attrs(path)]
    shape = list(reversed(data.shape))
    return groups, [dict({
        "hdu": "0",
        "extname": None,
        "shape": shape,
        "header": header,
        "plane0_stats": plane0_stats(data),
        "pixels": pixel_samples(data),
        "datasets": dict(sorted(datasets.items())),
        "chunks": dict(sorted(chunks.items())),
    }, **plane_analysis(data))]


def sniff(path):
    """The content-mode listing type: by the first 4 bytes (and .fits.gz for gzip)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    if head == b"SIMP":
        return "FITS"
    if head == b"\x89HDF":
        return "HDF5"
    if head[:2] == b"\x1f\x8b" and path.endswith(".fits.gz"):
        return "FITS"
    return None


def describe_tree(out, top):
    """files{} for every file under top (and outside/), plus content-mode listings."""
    files, listings = {}, {}
    top_real = os.path.realpath(os.path.join(out, top))

    def inside(p):
        r = os.path.realpath(p)
        return r == top_real or r.startswith(top_real + os.sep)

    def visible_entries(d):
        return sorted(e for e in os.listdir(d) if not e.startswith("."))

    for dirpath, dirnames, filenames in os.walk(os.path.join(out, top)):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, out)
        listing = {"files": [], "subdirectories": [], "must_not_contain": []}
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            hidden = name.startswith(".")
            link = os.readlink(p) if os.path.islink(p) else None
            ok_link = link is None or inside(p)
            if os.path.isdir(p):
                if hidden or not ok_link:
                    listing["must_not_contain"].append(name)
                else:
                    listing["subdirectories"].append(
                        {"name": name, "item_count": len(visible_entries(p))})
                continue
            rel = os.path.relpath(p, out)
            typ = sniff(p) if ok_link else None
            size = os.path.getsize(p)
            listed = typ is not None and size > 0 and not hidden and ok_link
            entry = {"type": typ, "size": size, "listed": listed, "readable": False,
                     "hidden": hidden, "symlink": link, "outside_top": not ok_link,
                     "image_hdus": []}
            if ok_link and typ == "FITS":
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        entry["hdus"], entry["image_hdus"] = describe_fits(p)
                    entry["readable"] = True
                except Exception as e:  # truncated.fits
                    entry["error"] = type(e).__name__
            elif ok_link and typ == "HDF5":
                entry["hdf5_groups"], entry["image_hdus"] = describe_hdf5(p)
                entry["readable"] = True
            files[rel] = entry
            if listed:
                listing["files"].append({"name": name, "type": typ, "size": size})
            else:
                listing["must_not_contain"].append(name)
        listings[rel_dir] = listing

    secret = os.path.join("outside", "secret.fits")
    hdus, image_hdus = describe_fits(os.path.join(out, secret))
    files[secret] = {"type": "FITS", "size": os.path.getsize(os.path.join(out, secret)),
                     "listed": False, "readable": True, "hidden": False, "symlink": None,
                     "outside_top": True, "hdus": hdus, "image_hdus": image_hdus}
    return files, listings


TILE_SIZE = 256
TILE_FILES = ["images/pixels/tiles_nan.fits", "images/pixels/chunked_mips.hdf5"]


def total_layers(w, h):
    """ceil(log2(max(ceil(W/256), ceil(H/256)))), 0 when the image fits one tile."""
    n = max(-(-w // TILE_SIZE), -(-h // TILE_SIZE))
    return (n - 1).bit_length()


def block_mean(src, mip):
    """Mean of the finite pixels of each mip x mip block (blocks clipped at the right/bottom
    edge average the pixels present), in float64, as float32; NaN where nothing is finite."""
    h, w = src.shape
    oh, ow = -(-h // mip), -(-w // mip)
    p = np.full((oh * mip, ow * mip), np.nan)
    p[:h, :w] = src
    p = p.reshape(oh, mip, ow, mip)
    fin = np.isfinite(p)
    total = np.where(fin, p, 0.0).sum(axis=(1, 3))
    count = fin.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def load_plane0(path):
    """Channel 0, Stokes 0 of an image file, float32 [y][x]."""
    if path.endswith(".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            return as4d(f["0/DATA"][()])[0, 0].astype(np.float32)
    from astropy.io import fits

    with fits.open(path, memmap=False, uint=False) as hl:
        return as4d(np.asarray(hl[0].data, dtype=np.float32))[0, 0]


def make_tiles(out):
    """expected_tiles/*.f32 and the "tiles" list: every tile of layers 0 and 1 and two of
    full resolution (one at the right/bottom edge) of each TILE_FILES image."""
    tdir = os.path.join(out, "expected_tiles")
    os.makedirs(tdir)
    tiles = []
    for rel in TILE_FILES:
        plane = load_plane0(os.path.join(out, rel)).astype(np.float64)
        h, w = plane.shape
        top = total_layers(w, h)
        n_full = (-(-w // TILE_SIZE), -(-h // TILE_SIZE))
        wanted = []
        for layer in range(min(2, top + 1)):
            span = TILE_SIZE << (top - layer)
            wanted += [(layer, tx, ty) for ty in range(-(-h // span))
                       for tx in range(-(-w // span))]
        wanted += [(top, 1, 1), (top, n_full[0] - 1, n_full[1] - 1)]
        stem = os.path.basename(rel).replace(".", "_")
        for (layer, tx, ty) in wanted:
            mip = 1 << (top - layer)
            span = TILE_SIZE * mip
            x0, y0 = tx * span, ty * span
            block = block_mean(plane[y0:min(h, y0 + span), x0:min(w, x0 + span)], mip)
            name = "%s_L%d_x%d_y%d.f32" % (stem, layer, tx, ty)
            with open(os.path.join(tdir, name), "wb") as f:
                f.write(np.ascontiguousarray(block, dtype="<f4").tobytes())
            tiles.append({"file": rel, "channel": 0, "stokes": 0, "layer": layer,
                          "x": tx, "y": ty, "mip": mip, "width": int(block.shape[1]),
                          "height": int(block.shape[0]),
                          "data": "expected_tiles/" + name})
    return tiles


# ---------------------------------------------------------------------------------------------
# Regions: stats, histograms and spectral profiles of analytic regions, and whole-image stats
# ---------------------------------------------------------------------------------------------
#
# Written independently of the server: membership is tested for every pixel centre of the image
# at once (numpy broadcasting), never by scanlines or by rasterising edges.

REGION_EPS = 1e-9
REGION_POINT, REGION_RECTANGLE, REGION_ELLIPSE, REGION_POLYGON = 0, 3, 4, 6
REGION_FILES = ["images/pixels/tiles_nan.fits", "images/pixels/cube_stokes.fits",
                "images/cube3d.fits", "images/pixels/bitpix_16.fits", "images/idia.hdf5"]

# (name, file, region_type, control_points, rotation)
REGION_CASES = [
    # edges x = 100 and x = 141 pass through pixel centres (inclusive); y 70.5..89.5 between
    # rows; crosses the NaN row y = 77 and some scattered NaNs
    ("rect_unrotated", "images/pixels/tiles_nan.fits", REGION_RECTANGLE,
     [[120.5, 80.0], [41.0, 19.0]], 0.0),
    ("rect_rot30", "images/pixels/cube_stokes.fits", REGION_RECTANGLE,
     [[11.3, 8.7], [12.0, 7.0]], 30.0),
    ("ellipse_rot20", "images/idia.hdf5", REGION_ELLIPSE,
     [[19.6, 14.2], [9.0, 5.0]], 20.0),
    # unrotated: a = 3 is the semi-axis along y, b = 7 along x; covers the BLANK (18, 11)
    ("ellipse_axes_bitpix16", "images/pixels/bitpix_16.fits", REGION_ELLIPSE,
     [[18.4, 11.3], [3.0, 7.0]], 0.0),
    # concave five-pointed star around the BLANK (18, 11)
    ("polygon_star_bitpix16", "images/pixels/bitpix_16.fits", REGION_POLYGON,
     [[round(16.2 + r * math.sin(math.radians(36 * k)), 4),
       round(10.7 + r * math.cos(math.radians(36 * k)), 4)]
      for k, r in zip(range(10), [10.0, 4.3] * 5)], 0.0),
    # concave L shape across the NaN row y = 77 and the NaN column x = 350
    ("polygon_L", "images/pixels/tiles_nan.fits", REGION_POLYGON,
     [[330.5, 60.2], [372.3, 60.2], [372.3, 70.8], [345.7, 70.8], [345.7, 95.4],
      [330.5, 95.4]], 0.0),
    # edges through pixel centres: x 1..4, y 1..4, 16 pixels
    ("polygon_square16", "images/cube3d.fits", REGION_POLYGON,
     [[1.0, 1.0], [1.0, 4.0], [4.0, 4.0], [4.0, 1.0]], 0.0),
    # over the top-right corner (x > 31, y > 23 are outside the 32x24 image)
    ("rect_partly_outside", "images/cube3d.fits", REGION_RECTANGLE,
     [[29.6, 21.8], [9.0, 7.0]], 15.0),
    # x 7.5 -> 8 and y 3.5 -> 4 (half away from zero)
    ("point", "images/pixels/cube_stokes.fits", REGION_POINT, [[7.5, 3.5]], 0.0),
    # inside the NaN rectangle x 301..418, y 201..262 of tiles_nan.fits: x 341..380, y 216..245
    ("rect_all_nan", "images/pixels/tiles_nan.fits", REGION_RECTANGLE,
     [[360.5, 230.5], [40.0, 30.0]], 0.0),
]


def round_half_away(v):
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def region_mask(rtype, pts, rotation, w, h):
    """Boolean [h][w]: pixel centres (x = column, y = row) inside or on the region."""
    y, x = np.indices((h, w), dtype=np.float64)
    if rtype == REGION_POINT:
        mask = np.zeros((h, w), dtype=bool)
        px, py = round_half_away(pts[0][0]), round_half_away(pts[0][1])
        if 0 <= px < w and 0 <= py < h:
            mask[py, px] = True
        return mask
    if rtype in (REGION_RECTANGLE, REGION_ELLIPSE):
        (cx, cy), (p, q) = pts
        r = math.radians(rotation)
        dx, dy = x - cx, y - cy
        du = dx * math.cos(r) + dy * math.sin(r)      # along u = (cos r, sin r)
        dv = -dx * math.sin(r) + dy * math.cos(r)     # along v = (-sin r, cos r)
        if rtype == REGION_RECTANGLE:                 # p = width (along u), q = height (along v)
            return (np.abs(du) <= p / 2 + REGION_EPS) & (np.abs(dv) <= q / 2 + REGION_EPS)
        return (dv / p) ** 2 + (du / q) ** 2 <= 1 + REGION_EPS   # p = a along v, q = b along u
    if rtype == REGION_POLYGON:
        odd = np.zeros((h, w), dtype=bool)
        on_edge = np.zeros((h, w), dtype=bool)
        n = len(pts)
        for k in range(n):
            (ax, ay), (bx, by) = pts[k], pts[(k + 1) % n]
            # even-odd: a ray towards +x crosses this edge
            straddle = (ay > y) != (by > y)
            if ay != by:
                xc = ax + (y - ay) * (bx - ax) / (by - ay)
                odd ^= straddle & (x < xc)
            # on the closed segment, within REGION_EPS
            ex, ey = bx - ax, by - ay
            length = math.hypot(ex, ey)
            cross = ex * (y - ay) - ey * (x - ax)
            dot = ex * (x - ax) + ey * (y - ay)
            slack = REGION_EPS * length
            on_edge |= ((np.abs(cross) <= slack)
                        & (dot >= -slack) & (dot <= length * length + slack))
        return odd | on_edge
    raise ValueError("region type %d" % rtype)


def region_boundary_margin(rtype, pts, rotation, w, h):
    """How far each pixel centre is from the boundary (pixels; for ellipses in units of the
    normalised radius): pixels with a tiny margin are the ones an implementation's rounding
    could flip."""
    y, x = np.indices((h, w), dtype=np.float64)
    if rtype in (REGION_RECTANGLE, REGION_ELLIPSE):
        (cx, cy), (p, q) = pts
        r = math.radians(rotation)
        du = (x - cx) * math.cos(r) + (y - cy) * math.sin(r)
        dv = -(x - cx) * math.sin(r) + (y - cy) * math.cos(r)
        if rtype == REGION_RECTANGLE:
            ou, ov = np.abs(du) - p / 2, np.abs(dv) - q / 2       # > 0: outside that slab
            outside = np.hypot(np.maximum(ou, 0), np.maximum(ov, 0))
            return np.where((ou > 0) | (ov > 0), outside, np.minimum(-ou, -ov))
        return np.abs(np.sqrt((dv / p) ** 2 + (du / q) ** 2) - 1)
    if rtype == REGION_POLYGON:
        m = np.full((h, w), np.inf)
        n = len(pts)
        for k in range(n):
            (ax, ay), (bx, by) = pts[k], pts[(k + 1) % n]
            ex, ey = bx - ax, by - ay
            t = np.clip(((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey), 0, 1)
            m = np.minimum(m, np.hypot(x - ax - t * ex, y - ay - t * ey))
        return m
    return np.full((h, w), np.inf)


def load_image4d(path):
    """([stokes][z][y][x] float32 physical values, {keyword: value} header) of an image file."""
    if path.endswith(".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            data = np.asarray(f["0/DATA"][()], dtype=np.float32)
        return as4d(data), {k: v for (k, v, _t) in read_idia_attrs(path)}
    from astropy.io import fits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path, memmap=False, uint=False) as hl:
            return as4d(np.asarray(hl[0].data, dtype=np.float32)), dict(hl[0].header)


def beam_area_pixels(header):
    """pi/(4 ln 2) * BMAJ * BMIN / |CDELT1 * CDELT2| for Jy/beam images with a beam, else None."""
    unit = str(header.get("BUNIT", "")).strip().lower()
    keys = ("BMAJ", "BMIN", "CDELT1", "CDELT2")
    if unit != "jy/beam" or any(header.get(k) in (None, 0) for k in keys):
        return None
    return (math.pi / (4 * math.log(2)) * header["BMAJ"] * header["BMIN"]
            / abs(header["CDELT1"] * header["CDELT2"]))


def region_stats(values, beam_area):
    """CARTA's region stats of float32 values (non-finite excluded), accumulated in float64."""
    v = np.asarray(values, dtype=np.float32).astype(np.float64).ravel()
    fin = v[np.isfinite(v)]
    n = int(fin.size)
    out = {"NumPixels": n, "NanCount": int(v.size - n)}
    if n == 0:
        out.update({k: None for k in ("Sum", "FluxDensity", "Mean", "RMS", "Sigma", "SumSq",
                                      "Min", "Max", "Extrema")})
        return out
    s, s2 = float(fin.sum()), float((fin * fin).sum())
    lo, hi = float(fin.min()), float(fin.max())
    out.update({
        "Sum": s,
        "FluxDensity": s / beam_area if beam_area else None,
        "Mean": s / n,
        "RMS": math.sqrt(s2 / n),
        "Sigma": float(np.std(fin, ddof=1)) if n > 1 else None,
        "SumSq": s2,
        "Min": lo,
        "Max": hi,
        "Extrema": lo if abs(lo) > abs(hi) else hi,
    })
    return out


def values_histogram(values, num_bins):
    """Histogram of the finite values with num_bins bins (float64 arithmetic): bin =
    floor((v - min) / ((max - min) / num_bins)) clamped to num_bins - 1; one bin for
    constant values, none when nothing is finite."""
    v = np.asarray(values, dtype=np.float32).astype(np.float64).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    out = {"num_bins": 0, "min": None, "max": None, "bins": [], "mean": None,
           "std_dev": None, "count": n}
    if n == 0:
        return out
    lo, hi = float(v.min()), float(v.max())
    out.update(min=lo, max=hi, mean=float(v.sum()) / n,
               std_dev=float(np.std(v, ddof=1)) if n > 1 else None)
    if lo == hi:
        out.update(num_bins=1, bins=[n])
        return out
    idx = np.minimum(np.floor((v - lo) / ((hi - lo) / num_bins)).astype(np.int64), num_bins - 1)
    out.update(num_bins=num_bins, bins=[int(b) for b in np.bincount(idx, minlength=num_bins)])
    return out


def region_planes(d4):
    s_, z_ = d4.shape[:2]
    return [(0, 0)] + ([(1, 0)] if z_ > 1 else []) + ([(0, 1)] if s_ > 1 else [])


def make_regions(out):
    """The "regions" and "image_stats" lists of expected.json (see the module docstring)."""
    images = {rel: load_image4d(os.path.join(out, rel)) for rel in REGION_FILES}
    cases = []
    for (name, rel, rtype, pts, rot) in REGION_CASES:
        d4, header = images[rel]
        s_, z_, h, w = d4.shape
        beam = beam_area_pixels(header)
        mask = region_mask(rtype, pts, rot, w, h)
        n = int(mask.sum())
        if n:
            ys, xs = np.nonzero(mask)
            bbox = [int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1]
            nb = max(2, int(math.sqrt((bbox[1] - bbox[0]) * (bbox[3] - bbox[2]))))
        else:
            bbox, nb = None, 0
        margin = region_boundary_margin(rtype, pts, rot, w, h)
        planes = [{"channel": c, "stokes": s, "stats": region_stats(d4[s, c][mask], beam),
                   "histogram": values_histogram(d4[s, c][mask], nb)}
                  for (c, s) in region_planes(d4)]
        for p in planes:
            p["histogram"].pop("count")
        case = {"name": name, "file": rel, "hdu": "", "region_type": rtype,
                "control_points": pts, "rotation": rot, "pixel_count": n, "bbox": bbox,
                "near_boundary": int((margin < 1e-6).sum()), "planes": planes}
        if z_ > 1:
            per = [region_stats(d4[0, c][mask], beam) for c in range(z_)]
            case["spectral"] = dict({"stokes": 0, "channels": z_}, **{
                k: [p[k] for p in per]
                for k in ("Sum", "FluxDensity", "Mean", "NumPixels", "NanCount", "Min", "Max",
                          "RMS", "Sigma", "SumSq", "Extrema")})
        cases.append(case)

    image_stats = {}
    for rel in REGION_FILES:
        d4, header = images[rel]
        s_, z_, h, w = d4.shape
        entry = {"hdu": "", "channel": 0, "stokes": 0,
                 "stats": region_stats(d4[0, 0], beam_area_pixels(header))}
        if z_ > 1:
            entry["cube_histogram"] = dict({"stokes": 0},
                                           **values_histogram(d4[0], max(2, int(math.sqrt(w * h)))))
        image_stats[rel] = entry
    return cases, image_stats


def check_regions(cases, out):
    """Cheap guards, run on every generation: the 16-pixel square; the rotated shapes against a
    plain-Python brute force by another method (corner polygon with a winding number for the
    rectangle, the implicit conic for the ellipse); region sums against a float64 astropy/h5py
    read."""
    by_name = {c["name"]: c for c in cases}
    assert by_name["polygon_square16"]["pixel_count"] == 16
    assert by_name["polygon_square16"]["bbox"] == [1, 5, 1, 5]
    assert by_name["point"]["pixel_count"] == 1 and by_name["point"]["bbox"] == [8, 9, 4, 5]

    def brute(case, w, h):
        (cx, cy), (p, q) = case["control_points"]
        r = math.radians(case["rotation"])
        c, s = math.cos(r), math.sin(r)
        got = set()
        if case["region_type"] == REGION_RECTANGLE:
            corners = [(cx + c * a * p / 2 - s * b * q / 2, cy + s * a * p / 2 + c * b * q / 2)
                       for (a, b) in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            for j in range(h):
                for i in range(w):
                    wind, edge = 0, False
                    for k in range(4):
                        (x0, y0), (x1, y1) = corners[k], corners[(k + 1) % 4]
                        cr = (x1 - x0) * (j - y0) - (i - x0) * (y1 - y0)
                        seg = math.hypot(x1 - x0, y1 - y0)
                        t = ((i - x0) * (x1 - x0) + (j - y0) * (y1 - y0)) / seg ** 2
                        if abs(cr) <= 1e-9 * seg and -1e-9 <= t <= 1 + 1e-9:
                            edge = True
                        if y0 <= j < y1 and cr > 0:
                            wind += 1
                        elif y1 <= j < y0 and cr < 0:
                            wind -= 1
                    if edge or wind != 0:
                        got.add((i, j))
        else:
            # a along (-sin r, cos r), b along (cos r, sin r):
            # (x, y) M (x, y)^T <= 1 with M = v v^T / a^2 + u u^T / b^2
            m11 = s * s / p ** 2 + c * c / q ** 2
            m22 = c * c / p ** 2 + s * s / q ** 2
            m12 = -s * c / p ** 2 + c * s / q ** 2
            for j in range(h):
                for i in range(w):
                    x, y = i - cx, j - cy
                    if m11 * x * x + 2 * m12 * x * y + m22 * y * y <= 1 + 1e-9:
                        got.add((i, j))
        return got

    for name in ("rect_rot30", "ellipse_rot20", "rect_partly_outside", "ellipse_axes_bitpix16"):
        case = by_name[name]
        d4, _ = load_image4d(os.path.join(out, case["file"]))
        h, w = d4.shape[2:]
        got = brute(case, w, h)
        mask = region_mask(case["region_type"], case["control_points"], case["rotation"], w, h)
        assert got == {(int(i), int(j)) for (j, i) in zip(*np.nonzero(mask))}, name

    import h5py
    from astropy.io import fits

    for case in cases:
        path = os.path.join(out, case["file"])
        if path.endswith(".hdf5"):
            with h5py.File(path, "r") as f:
                raw = as4d(f["0/DATA"][()].astype(np.float64))
        else:
            raw = as4d(fits.getdata(path, uint=False).astype(np.float64))
        h, w = raw.shape[2:]
        mask = region_mask(case["region_type"], case["control_points"], case["rotation"], w, h)
        for p in case["planes"]:
            v = raw[p["stokes"], p["channel"]][mask]
            v = v[np.isfinite(v)]
            if v.size == 0:
                assert p["stats"]["Sum"] is None
            else:
                assert abs(float(v.sum()) - p["stats"]["Sum"]) <= 1e-6 * float(np.abs(v).sum())
            # no value sits so close to a bin edge that float32 arithmetic (CARTA's) would
            # put it in another bin than the float64 rule used here
            hist = p["histogram"]
            if hist["num_bins"] > 1:
                v32 = v.astype(np.float32)
                lo, hi = np.float32(hist["min"]), np.float32(hist["max"])
                width = np.float32((hi - lo) / np.float32(hist["num_bins"]))
                idx = np.minimum(((v32 - lo) / width).astype(np.int64), hist["num_bins"] - 1)
                assert np.bincount(idx, minlength=hist["num_bins"]).tolist() == hist["bins"], \
                    case["name"]


WCS_CASES = [
    ("tan_rotated", [("CTYPE1", "RA---TAN"), ("CTYPE2", "DEC--TAN"), ("CRVAL1", 150.1), ("CRVAL2", 2.2),
                     ("CRPIX1", 50.5), ("CRPIX2", 40.5), ("CDELT1", -2.0e-4), ("CDELT2", 2.0e-4),
                     ("PC1_1", 0.9659258), ("PC1_2", -0.2588190), ("PC2_1", 0.2588190),
                     ("PC2_2", 0.9659258), ("CUNIT1", "deg"), ("CUNIT2", "deg")], (100, 80)),
    ("sin_near_pole", [("CTYPE1", "RA---SIN"), ("CTYPE2", "DEC--SIN"), ("CRVAL1", 20.0),
                       ("CRVAL2", -85.0), ("CRPIX1", 64.0), ("CRPIX2", 64.0), ("CDELT1", -0.02),
                       ("CDELT2", 0.02)], (128, 128)),
    ("ait_galactic", [("CTYPE1", "GLON-AIT"), ("CTYPE2", "GLAT-AIT"), ("CRVAL1", 0.0),
                      ("CRVAL2", 0.0), ("CRPIX1", 90.5), ("CRPIX2", 45.5), ("CDELT1", -1.0),
                      ("CDELT2", 1.0)], (180, 90)),
    ("zea_cd_matrix", [("CTYPE1", "RA---ZEA"), ("CTYPE2", "DEC--ZEA"), ("CRVAL1", 266.4),
                       ("CRVAL2", -29.0), ("CRPIX1", 30.0), ("CRPIX2", 20.0), ("CD1_1", -0.01),
                       ("CD1_2", 0.002), ("CD2_1", 0.003), ("CD2_2", 0.01)], (60, 40)),
    ("car_arcsec", [("CTYPE1", "RA---CAR"), ("CTYPE2", "DEC--CAR"), ("CRVAL1", 83.6),
                    ("CRVAL2", 22.0), ("CRPIX1", 10.0), ("CRPIX2", 12.0), ("CDELT1", -36.0),
                    ("CDELT2", 36.0), ("CUNIT1", "arcsec"), ("CUNIT2", "arcsec")], (20, 24)),
]


def make_wcs_cases():
    """World coordinates of a grid of pixels of several celestial WCSs, by astropy (the pixel <-> world oracle
    for the region set's conversions). Pixels are FITS 1-based; world in degrees."""
    from astropy.io import fits
    from astropy.wcs import WCS

    cases = []
    for name, cards, (w, h) in WCS_CASES:
        header = fits.Header()
        header["NAXIS"] = 2
        header["NAXIS1"], header["NAXIS2"] = w, h
        for k, v in cards:
            header[k] = v
        wcs = WCS(header)
        xs = np.linspace(1, w, 6)
        ys = np.linspace(1, h, 5)
        points = []
        for x in xs:
            for y in ys:
                lon, lat = wcs.all_pix2world([[x, y]], 1)[0]
                if np.isfinite(lon) and np.isfinite(lat):
                    points.append({"pixel": [float(x), float(y)], "world": [float(lon), float(lat)]})
        cases.append({"name": name, "cards": [[k, v] for k, v in cards], "points": points})
    return cases


@contextlib.contextmanager
def locked(out):
    with open(os.path.join(out, ".lock"), "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lf, fcntl.LOCK_UN)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    args = ap.parse_args()
    out = os.path.abspath(args.outdir)
    os.makedirs(out, exist_ok=True)

    import astropy
    import h5py

    with locked(out):
        for name in ("images", "outside", "hdf5", "big", "expected_tiles", "expected.json"):
            p = os.path.join(out, name)
            if os.path.islink(p) or os.path.isfile(p):
                os.remove(p)
            elif os.path.isdir(p):
                shutil.rmtree(p)

        make_images(out, os.path.join(out, "images"), os.path.join(out, "outside"))
        make_pixels(os.path.join(out, "images", "pixels"))
        contours = gen_overlays.make_overlays(os.path.join(out, "images", "overlays"))
        lines = gen_overlays.make_lines(os.path.join(out, "images", "overlays"))
        vectors = gen_overlays.make_vectors(os.path.join(out, "images", "overlays"))
        pv = gen_overlays.make_pv(os.path.join(out, "images", "overlays"))
        make_hdf5_extra(os.path.join(out, "hdf5"))
        size_each = make_big(os.path.join(out, "big"))
        files, listings = describe_tree(out, "images")
        for name in sorted(os.listdir(os.path.join(out, "hdf5"))):
            rel = os.path.join("hdf5", name)
            groups, image_hdus = describe_hdf5(os.path.join(out, rel))
            files[rel] = {"type": "HDF5", "size": os.path.getsize(os.path.join(out, rel)),
                          "listed": True, "readable": True, "hidden": False, "symlink": None,
                          "outside_top": True, "hdf5_groups": groups,
                          "image_hdus": image_hdus}
        for rel, rule in VALUE_RULES.items():
            files[rel]["value_rule"] = rule
        tiles = make_tiles(out)
        regions, image_stats = make_regions(out)
        check_regions(regions, out)
        expected = {
            "schema": 1,
            "generator": "scripts/gen_fixtures.py",
            "versions": {"numpy": np.__version__, "astropy": astropy.__version__,
                         "h5py": h5py.__version__},
            "top": "images",
            "pixel_value_rule": "x + 100*y + 10000*z + 100000*stokes (+ offset: multi.fits ERR"
                                " adds 10000); NaNs listed in pixels",
            "files": files,
            "listings": listings,
            "big": {"dir": "big", "count": BIG_COUNT, "size_each": size_each,
                    "first": "f0000.fits", "last": "f%04d.fits" % (BIG_COUNT - 1),
                    "type": "FITS"},
            "tiles": tiles,
            "regions": regions,
            "image_stats": image_stats,
            "wcs_cases": make_wcs_cases(),
            "computed_stokes": computed_stokes_expected(),
            "contours": contours,
            "lines": lines,
            "vectors": vectors,
            "pv": pv,
            "beam_flux": beam_flux_expected(os.path.join(out, "images", "pixels", "beams.fits")),
        }
        tmp = os.path.join(out, "expected.json.tmp")
        with open(tmp, "w") as f:
            json.dump(expected, f, indent=1, allow_nan=False)
            f.write("\n")
        os.replace(tmp, os.path.join(out, "expected.json"))

    n_img = sum(1 for e in files.values() if e["readable"])
    print("gen_fixtures: %s: %d files described (%d readable images), %d listings, big/ x%d"
          % (out, len(files), n_img, len(listings), BIG_COUNT))


if __name__ == "__main__":
    main()
