"""Overlay fixtures for scripts/gen_fixtures.py: images under images/overlays/ and their oracle values.

contours.fits      300x600 float32: a few Gaussian hills and a ramp (three chunks of rows, so contour lines
                   cross chunk seams); contour vertices of each smoothing mode by scikit-image's
                   find_contours on the same plane (none), on its Gaussian smoothing (carta_backend's kernel:
                   size 2(f-1)+1, sigma (f-1)/2, normalised, valid part only) and on its f x f block means.
contours_nan.fits  the same with a NaN disk and a NaN row (tracing must survive them).
lines.fits         200x300x3 float32 cube with a SIN WCS of 1" pixels and NaN patches; the spatial profiles
                   of lines and polylines (numpy means of the pixels whose centres lie in each box, boxes
                   placed as carta_backend places them; increments from astropy's WCS and SkyCoord
                   separations) and a point region's row and column.
wide.fits          400x300 TAN image of 3' pixels whose values are angular distances from a line's end: the
                   wide-field (fixed angular increment) placement of line boxes.
vectors.fits       280x600x2x4 IQUV cube (NaN patches in Q and I); the vector overlay of each case on the
                   whole block grid by numpy (NaN-aware block means, then the PI/PA formulas in float32).
pv.fits            150x120x40 cube (FREQ, SIN 0.5" pixels) with a drifting source; the PV images of a line
                   (and reversed) and a polyline by numpy box means per channel, their offset axis from
                   astropy's separations and their frequency axis from astropy's spectral WCS.

Vertices are given in the frontend's contour coordinates: pixel (i, j)'s centre is at (i + 0.5, j + 0.5);
Gaussian vertices are offset by f-1 (the valid part starts there) and block vertices scaled by f.
"""
import os

import numpy as np

CONTOUR_LEVELS = [-5.0, 10.0, 25.0, 60.0]
GAUSS_FACTOR = 3
BLOCK_FACTOR = 4


def hills(w, h):
    y, x = np.indices((h, w), dtype=np.float64)
    v = 0.03 * x + 0.02 * y - 8.0
    for cx, cy, s, a in [(80, 100, 30, 90), (220, 250, 45, 70), (150, 420, 60, 50), (60, 560, 20, 40),
                         (270, 40, 15, 30)]:
        v += a * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2.0 * s * s))
    v += 3.0 * np.sin(x / 7.0) * np.cos(y / 11.0)
    return v.astype(np.float32)


def gaussian_kernel(f):
    k = f - 1
    sigma = k / 2.0
    x = np.arange(-k, k + 1, dtype=np.float64)
    g = np.exp(-x * x / (2.0 * sigma * sigma))
    return g / g.sum()


def gaussian_valid(plane, f):
    g = gaussian_kernel(f)
    k = f - 1
    p = plane.astype(np.float64)
    h, w = p.shape
    rows = sum(g[i] * p[:, i:w - 2 * k + i] for i in range(2 * k + 1))
    out = sum(g[i] * rows[i:h - 2 * k + i, :] for i in range(2 * k + 1))
    return out.astype(np.float32)


def block_means(plane, f):
    h, w = plane.shape
    hb, wb = -(-h // f), -(-w // f)
    pad = np.full((hb * f, wb * f), np.nan, dtype=np.float64)
    pad[:h, :w] = plane
    blocks = pad.reshape(hb, f, wb, f)
    with np.errstate(invalid="ignore"):
        return np.nanmean(blocks, axis=(1, 3)).astype(np.float32)


def skimage_vertices(grid, levels, scale, offset):
    from skimage.measure import find_contours
    out = []
    for level in levels:
        pts = []
        for c in find_contours(grid.astype(np.float64), level):
            # (row, col) -> the frontend's (x, y), pixel centres at +0.5
            for r, col in c:
                pts.append([round(scale * (col + 0.5) + offset, 5), round(scale * (r + 0.5) + offset, 5)])
        out.append(pts)
    return out


def contours_on_reference(d, plane):
    """contours_wcs.fits (the contour plane with a TAN WCS of 1" pixels) and contours_ref.fits (another
    image of the field: 1.5" pixels, another reference pixel); the contour vertices of the first moved into
    the second's pixels by astropy (pixel -> world -> pixel), in the frontend's edge-based coordinates."""
    from astropy.io import fits
    from astropy.wcs import WCS

    def header(crpix, cdelt, shape):
        hd = fits.Header()
        for k, v in [("CTYPE1", "RA---TAN"), ("CRPIX1", crpix[0]), ("CRVAL1", 30.0), ("CDELT1", -cdelt / 3600),
                     ("CUNIT1", "deg"), ("CTYPE2", "DEC--TAN"), ("CRPIX2", crpix[1]), ("CRVAL2", -20.0),
                     ("CDELT2", cdelt / 3600), ("CUNIT2", "deg"), ("RADESYS", "ICRS")]:
            hd[k] = v
        return hd
    own = header((150.5, 300.5), 1.0, plane.shape)
    ref = header((120.0, 180.0), 1.5, (420, 260))
    fits.PrimaryHDU(plane, header=own).writeto(os.path.join(d, "contours_wcs.fits"), overwrite=True)
    fits.PrimaryHDU(np.zeros((420, 260), dtype=np.float32), header=ref).writeto(
        os.path.join(d, "contours_ref.fits"), overwrite=True)
    w_own, w_ref = WCS(own), WCS(ref)
    out = []
    for pts in skimage_vertices(plane, CONTOUR_LEVELS, 1.0, 0.0):
        if not pts:
            out.append([])
            continue
        a = np.array(pts, dtype=np.float64) - 0.5  # edge-based -> 0-based pixel centres
        world = w_own.pixel_to_world(a[:, 0], a[:, 1])
        bx, by = w_ref.world_to_pixel(world)
        out.append([[round(float(x) + 0.5, 5), round(float(y) + 0.5, 5)] for x, y in zip(bx, by)])
    return {"file": "contours_wcs.fits", "reference_file": "contours_ref.fits", "vertices": out}


def make_overlays(d):
    from astropy.io import fits
    os.makedirs(d, exist_ok=True)
    plane = hills(300, 600)
    fits.PrimaryHDU(plane).writeto(os.path.join(d, "contours.fits"))
    holed = plane.copy()
    y, x = np.indices(holed.shape)
    holed[(x - 220) ** 2 + (y - 250) ** 2 < 20 ** 2] = np.nan
    holed[300, :] = np.nan
    fits.PrimaryHDU(holed).writeto(os.path.join(d, "contours_nan.fits"))
    f, b = GAUSS_FACTOR, BLOCK_FACTOR
    reference = contours_on_reference(d, plane)
    return {
        "reference": reference,
        "file": "contours.fits",
        "nan_file": "contours_nan.fits",
        "levels": CONTOUR_LEVELS,
        "none": skimage_vertices(plane, CONTOUR_LEVELS, 1.0, 0.0),
        "gaussian": {"factor": f,
                     "vertices": skimage_vertices(gaussian_valid(plane, f), CONTOUR_LEVELS, 1.0, f - 1.0)},
        "block": {"factor": b,
                  "vertices": skimage_vertices(block_means(plane, b), CONTOUR_LEVELS, float(b), 0.0)},
    }


# --- line and polyline spatial profiles -------------------------------------------------------------------

LINE_SHAPE = (3, 300, 200)  # channels, rows, columns
# (name, kind, control points, averaging width); points chosen so no pixel centre lies on a box edge.
LINE_CASES = [
    ("slanted", "line", [(20.3, 30.7), (150.2, 170.4)], 3),
    ("horizontal", "line", [(10.2, 50.0), (120.2, 50.0)], 5),
    ("vertical", "line", [(77.0, 240.3), (77.0, 180.1)], 1),
    ("polyline", "polyline", [(30.4, 200.3), (150.6, 210.2), (160.1, 280.8)], 1),
    ("wide_polyline", "polyline", [(180.3, 20.2), (120.7, 90.1), (60.2, 60.9)], 7),
]
POINT = (101.4, 149.6)


def line_cube():
    c, h, w = LINE_SHAPE
    rng = np.random.default_rng(1515)
    y, x = np.indices((h, w), dtype=np.float64)
    planes = []
    for k in range(c):
        v = 10.0 + 0.1 * x - 0.05 * y + 20.0 * np.sin((x + 7 * k) / 13.0) * np.cos(y / 17.0)
        v += rng.normal(0.0, 1.0, (h, w))
        planes.append(v)
    cube = np.array(planes, dtype=np.float32)
    cube[0, 45:55, 60:70] = np.nan  # a NaN patch the horizontal line crosses
    cube[1, 100:300, 98] = np.nan   # a NaN column the slanted line crosses
    return cube


def line_header():
    from astropy.io import fits
    hd = fits.Header()
    for k, v in [("CTYPE1", "RA---SIN"), ("CRPIX1", 100.5), ("CRVAL1", 150.0), ("CDELT1", -1.0 / 3600),
                 ("CUNIT1", "deg"), ("CTYPE2", "DEC--SIN"), ("CRPIX2", 150.5), ("CRVAL2", 2.0),
                 ("CDELT2", 1.0 / 3600), ("CUNIT2", "deg"), ("CTYPE3", "FREQ"), ("CRPIX3", 1.0),
                 ("CRVAL3", 1.4e9), ("CDELT3", 1e6), ("CUNIT3", "Hz"), ("BUNIT", "Jy/beam"),
                 ("RADESYS", "ICRS"), ("EQUINOX", 2000.0)]:
        hd[k] = v
    return hd


def line_boxes(kind, pts, width):
    """Box centres, rotations (f32 degrees) and along-extents, as carta_backend places them (fixed pixels)."""
    f32 = np.float32

    def rot(start, end):
        return f32(np.degrees(np.arctan2(start[1] - end[1], start[0] - end[0])))

    def direction(r):
        a = f32(r) * f32(np.pi) / f32(180.0)
        return float(np.cos(a, dtype=np.float32)), float(np.sin(a, dtype=np.float32))

    # Control points travel as float32 in the protocol.
    pts = [(float(np.float32(x)), float(np.float32(y))) for x, y in pts]
    out = []
    if kind == "line":
        start, end = pts
        length = np.hypot(end[0] - start[0], end[1] - start[1])
        half = max(int(np.floor((length - 1.0) / 2.0 + 0.5)), 0)
        ctr = ((start[0] + end[0]) / 2.0, (start[1] + end[1]) / 2.0)
        r = rot(start, end)
        d = direction(r)
        for k in range(-half, half + 1):
            out.append(((ctr[0] + k * d[0], ctr[1] + k * d[1]), r, 0))
    else:
        trim = False
        for seg, (start, end) in enumerate(zip(pts[:-1], pts[1:])):
            length = np.hypot(end[0] - start[0], end[1] - start[1])
            count = int(np.floor(length + 0.5)) + 1
            r = rot(start, end)
            d = direction(r)
            last = start
            for j in range(1 if trim else 0, count):
                last = (start[0] - j * d[0], start[1] - j * d[1])
                out.append((last, r, seg))
            trim = np.hypot(last[0] - end[0], last[1] - end[1]) < 0.5
    return out


def box_mean(plane, centre, r, width):
    """Mean (float64 over the float32 finite pixels) of pixels whose centre lies in the box: `width` across
    the line, 1 pixel along it for an axis-aligned line, 3 for a slanted one."""
    along = 1.0 if float(r) % 90.0 == 0.0 else 3.0
    h, w = plane.shape
    y, x = np.indices((h, w), dtype=np.float64)
    t = np.radians(float(r))
    dx, dy = x - centre[0], y - centre[1]
    u = dx * np.cos(t) + dy * np.sin(t)
    v = -dx * np.sin(t) + dy * np.cos(t)
    eps = 1e-9
    inside = (np.abs(u) <= along / 2 + eps) & (np.abs(v) <= width / 2.0 + eps)
    vals = plane[inside].astype(np.float64)
    vals = vals[np.isfinite(vals)]
    return float(np.float32(vals.mean())) if vals.size else None


def line_profile(cube, header, kind, pts, width, channel):
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS
    boxes = line_boxes(kind, pts, width)
    values = [box_mean(cube[channel], c, r, width) for c, r, _ in boxes]
    wcs = WCS(header).celestial
    xs = np.array([c[0] for c, _, _ in boxes])
    ys = np.array([c[1] for c, _, _ in boxes])
    sky = wcs.pixel_to_world(xs, ys)
    seps = [sky[i - 1].separation(sky[i]).arcsec for i in range(1, len(boxes)) if boxes[i][2] == boxes[i - 1][2]]
    inc = float(np.mean(seps))
    n = len(boxes)
    length = inc * n
    if length * 1e3 < 2:
        cdelt, unit = inc * 1e3, "marcsec"
    elif length / 3600 >= 2:
        cdelt, unit = inc / 3600, "deg"
    elif length / 60 >= 2:
        cdelt, unit = inc / 60, "arcmin"
    else:
        cdelt, unit = inc, "arcsec"
    return {"values": values, "cdelt": cdelt, "unit": unit, "crpix": (n // 2) if kind == "line" else 0,
            "separation_spread": float(np.ptp(seps))}


def make_lines(d):
    from astropy.io import fits
    os.makedirs(d, exist_ok=True)
    cube = line_cube()
    header = line_header()
    fits.PrimaryHDU(cube, header=header).writeto(os.path.join(d, "lines.fits"), overwrite=True)
    cases = []
    for name, kind, pts, width in LINE_CASES:
        cases.append({"name": name, "kind": kind, "points": [list(p) for p in pts], "width": width,
                      "channels": [line_profile(cube, header, kind, pts, width, ch) for ch in (0, 1)]})
    px, py = (int(np.floor(POINT[0] + 0.5)), int(np.floor(POINT[1] + 0.5)))
    point = {"point": list(POINT), "pixel": [px, py],
             "x": [[float(v) if np.isfinite(v) else None for v in cube[ch, py, :]] for ch in (0, 1)],
             "y": [[float(v) if np.isfinite(v) else None for v in cube[ch, :, px]] for ch in (0, 1)]}
    return {"file": "lines.fits", "cases": cases, "point": point, "wide": make_wide(d)}


# --- vector overlays ----------------------------------------------------------------------------------------

VECTOR_SHAPE = (4, 2, 600, 280)  # Stokes, channels, rows, columns
# (name, channel, stokes_intensity, stokes_angle, mip, fractional, threshold, threshold_option, q_err, u_err)
VECTOR_CASES = [
    ("computed", 0, 1, 1, 3, False, None, 0, 0.0, 0.0),
    ("fractional_debiased", 0, 1, 1, 4, True, 2.0, 1, 0.03, 0.04),
    ("plinear_threshold", 0, 1, -1, 5, False, 0.4, 14, 0.0, 0.0),
    ("current", 0, 0, 0, 2, False, 3.0, 1, 0.0, 0.0),
    ("computed_channel1", 1, 1, 1, 3, False, None, 0, 0.0, 0.0),
]


def vector_cube():
    s, c, h, w = VECTOR_SHAPE
    rng = np.random.default_rng(1616)
    y, x = np.indices((h, w), dtype=np.float64)
    cube = np.empty(VECTOR_SHAPE, dtype=np.float32)
    for k in range(c):
        i = 4.0 + 6.0 * np.exp(-((x - 140) ** 2 + (y - 300 - 40 * k) ** 2) / (2 * 90.0 ** 2)) \
            + rng.normal(0, 0.5, (h, w))
        theta = 0.01 * x + 0.004 * y + k
        frac = 0.05 + 0.2 * np.exp(-((x - 60) ** 2 + (y - 150) ** 2) / (2 * 70.0 ** 2))
        q = i * frac * np.cos(2 * theta) + rng.normal(0, 0.1, (h, w))
        u = i * frac * np.sin(2 * theta) + rng.normal(0, 0.1, (h, w))
        v = rng.normal(0, 0.05, (h, w))
        cube[:, k] = np.array([i, q, u, v], dtype=np.float32)
    cube[1, :, 400:420, 100:130] = np.nan  # Q missing in a patch
    cube[0, :, 500:505, :] = np.nan         # I missing in a band
    return cube


def vector_header():
    from astropy.io import fits
    hd = fits.Header()
    for k, v in [("CTYPE1", "RA---SIN"), ("CRPIX1", 140.0), ("CRVAL1", 83.6), ("CDELT1", -2.0 / 3600),
                 ("CUNIT1", "deg"), ("CTYPE2", "DEC--SIN"), ("CRPIX2", 300.0), ("CRVAL2", 22.0),
                 ("CDELT2", 2.0 / 3600), ("CUNIT2", "deg"), ("CTYPE3", "FREQ"), ("CRPIX3", 1.0),
                 ("CRVAL3", 1.4e9), ("CDELT3", 1e6), ("CUNIT3", "Hz"), ("CTYPE4", "STOKES"),
                 ("CRPIX4", 1.0), ("CRVAL4", 1.0), ("CDELT4", 1.0), ("BUNIT", "Jy/beam")]:
        hd[k] = v
    return hd


def vector_grid(case, cube):
    """The vectors of one case on the whole grid, by numpy: NaN-aware block means (float64 sums of the
    float32 pixels, then float32), then carta_backend's formulas in float32."""
    name, ch, si, sa, mip, frac, thr, opt, qe, ue = case
    f32 = np.float32
    means = [block_means(cube[k, ch], mip) for k in range(4)]
    i, q, u, _ = means
    with np.errstate(invalid="ignore", divide="ignore"):
        r = q * q + u * u - f32((f32(qe) * f32(qe) + f32(ue) * f32(ue)) / f32(2.0))
        pi = np.where(r >= 0, np.sqrt(np.maximum(r, f32(0))), f32(np.nan)).astype(np.float32)
        pa = (np.degrees(np.arctan2(u, q)).astype(np.float32) / f32(2.0)).astype(np.float32)
        if si == 0 or sa == 0:
            cur = i  # Stokes I is the plane shown
            keep = np.ones(cur.shape, bool) if thr is None else (~np.isnan(cur) & (cur >= f32(thr)))
            out_i = np.where(keep, cur, np.nan).astype(np.float32)
            return {"intensity": out_i, "angle": out_i}
        if thr is None:
            keep = np.ones(i.shape, bool)
        elif opt == 14:
            keep = ~np.isnan(pi) & (pi >= f32(thr))
        else:
            keep = ~np.isnan(i) & (i >= f32(thr))
        inten = (f32(100.0) * pi / i).astype(np.float32) if frac else pi
        ang = np.where(np.isnan(q) | np.isnan(u) | (np.isnan(i) if frac else False), np.nan, pa)
        out = {"intensity": np.where(keep, inten, np.nan).astype(np.float32)}
        if sa == 1:
            out["angle"] = np.where(keep, ang, np.nan).astype(np.float32)
        return out


def make_vectors(d):
    from astropy.io import fits
    os.makedirs(d, exist_ok=True)
    cube = vector_cube()
    # FITS axis order: NAXIS1 = x, ..., NAXIS4 = Stokes; numpy [Stokes][channel][y][x].
    fits.PrimaryHDU(cube, header=vector_header()).writeto(os.path.join(d, "vectors.fits"), overwrite=True)
    cases = []
    for case in VECTOR_CASES:
        name, ch, si, sa, mip, frac, thr, opt, qe, ue = case
        grid = vector_grid(case, cube)
        enc = {k: [None if not np.isfinite(v) else float(v) for v in a.ravel()] for k, a in grid.items()}
        cases.append({"name": name, "channel": ch, "stokes_intensity": si, "stokes_angle": sa, "mip": mip,
                      "fractional": frac, "threshold": thr, "threshold_option": opt, "q_error": qe,
                      "u_error": ue, "grid_width": int(grid["intensity"].shape[1]),
                      "grid_height": int(grid["intensity"].shape[0]), **enc})
    return {"file": "vectors.fits", "width": VECTOR_SHAPE[3], "height": VECTOR_SHAPE[2], "cases": cases}


# --- PV images ------------------------------------------------------------------------------------------------

PV_SHAPE = (40, 120, 150)  # channels, rows, columns
# (name, kind, points, width, spectral range or None, reverse)
PV_CASES = [
    ("line", "line", [(20.3, 30.7), (130.2, 90.4)], 3, (5, 30), False),
    ("line_reversed", "line", [(20.3, 30.7), (130.2, 90.4)], 3, (5, 30), True),
    ("polyline_all", "polyline", [(10.4, 100.3), (70.6, 105.2), (80.1, 20.8)], 1, None, False),
]


def pv_cube():
    c, h, w = PV_SHAPE
    rng = np.random.default_rng(1717)
    y, x = np.indices((h, w), dtype=np.float64)
    cube = np.empty(PV_SHAPE, dtype=np.float32)
    for k in range(c):
        centre = 20 + 1.5 * k  # a source drifting across channels, like a rotating disk's emission
        cube[k] = 5.0 * np.exp(-((x - centre) ** 2 + (y - 60) ** 2) / (2 * 15.0 ** 2)) \
            + 0.01 * k + rng.normal(0, 0.2, (h, w))
    cube[10, 40:60, 50:80] = np.nan
    return cube


def pv_header():
    from astropy.io import fits
    hd = fits.Header()
    for k, v in [("CTYPE1", "RA---SIN"), ("CRPIX1", 75.0), ("CRVAL1", 201.0), ("CDELT1", -0.5 / 3600),
                 ("CUNIT1", "deg"), ("CTYPE2", "DEC--SIN"), ("CRPIX2", 60.0), ("CRVAL2", -43.0),
                 ("CDELT2", 0.5 / 3600), ("CUNIT2", "deg"), ("CTYPE3", "FREQ"), ("CRPIX3", 3.0),
                 ("CRVAL3", 2.3e11), ("CDELT3", -2.5e5), ("CUNIT3", "Hz"), ("RESTFRQ", 2.305e11),
                 ("SPECSYS", "LSRK"), ("BUNIT", "Jy/beam"), ("BMAJ", 0.001), ("BMIN", 0.0008),
                 ("BPA", 30.0)]:
        hd[k] = v
    return hd


def make_pv(d):
    from astropy.io import fits
    from astropy.wcs import WCS
    os.makedirs(d, exist_ok=True)
    cube = pv_cube()
    header = pv_header()
    fits.PrimaryHDU(cube, header=header).writeto(os.path.join(d, "pv.fits"), overwrite=True)
    spectral = WCS(header).spectral
    cases = []
    for name, kind, pts, width, rng_, reverse in PV_CASES:
        lo, hi = rng_ if rng_ else (0, PV_SHAPE[0] - 1)
        boxes = line_boxes(kind, pts, width)
        axis = line_profile(cube, header, kind, pts, width, 0)
        h, w = PV_SHAPE[1:]
        yy, xx = np.indices((h, w), dtype=np.float64)
        means = np.full((len(boxes), hi - lo + 1), np.nan, dtype=np.float32)
        for b, (centre, r, _) in enumerate(boxes):
            along = 1.0 if float(r) % 90.0 == 0.0 else 3.0
            t = np.radians(float(r))
            dx, dy = xx - centre[0], yy - centre[1]
            u = dx * np.cos(t) + dy * np.sin(t)
            v = -dx * np.sin(t) + dy * np.cos(t)
            inside = (np.abs(u) <= along / 2 + 1e-9) & (np.abs(v) <= width / 2.0 + 1e-9)
            vals = cube[lo:hi + 1][:, inside].astype(np.float64)
            with np.errstate(invalid="ignore"):
                means[b] = np.nanmean(vals, axis=1).astype(np.float32)
        image = means.T if not reverse else means  # numpy [y][x]: rows are channels unless reversed
        freq0 = float(spectral.pixel_to_world_values(lo))
        freq1 = float(spectral.pixel_to_world_values(lo + 1))
        cases.append({"name": name, "kind": kind, "points": [list(p) for p in pts], "width": width,
                      "range": [lo, hi] if rng_ else None, "reverse": reverse,
                      "width_px": int(image.shape[1]), "height_px": int(image.shape[0]),
                      "pixels": [None if not np.isfinite(a) else float(a) for a in image.ravel()],
                      "cdelt": axis["cdelt"], "unit": axis["unit"],
                      "crpix": (len(boxes) - 1) // 2 + 1 if kind == "line" else 1,
                      "freq0": freq0, "dfreq": freq1 - freq0})
    return {"file": "pv.fits", "cases": cases}


# --- a wide field: line boxes at a fixed angular increment ----------------------------------------------------

WIDE_SHAPE = (300, 400)
WIDE_LINE = [(20.2, 150.3), (380.4, 160.1)]


def make_wide(d):
    """wide.fits: a 400x300 TAN image of 3' pixels (20 x 15 degrees), each pixel's value its angular distance
    (arcsec, astropy) from the line's end point. Along a line across it pixel steps are not equal angles, so
    the boxes go at one CDELT2 each; each box's mean is then about the distance of its centre from the end."""
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.wcs import WCS
    os.makedirs(d, exist_ok=True)
    h, w = WIDE_SHAPE
    hd = fits.Header()
    for k, v in [("CTYPE1", "RA---TAN"), ("CRPIX1", 200.5), ("CRVAL1", 150.0), ("CDELT1", -0.05),
                 ("CUNIT1", "deg"), ("CTYPE2", "DEC--TAN"), ("CRPIX2", 150.5), ("CRVAL2", 30.0),
                 ("CDELT2", 0.05), ("CUNIT2", "deg"), ("RADESYS", "ICRS")]:
        hd[k] = v
    wcs = WCS(hd)
    pts = [(float(np.float32(x)), float(np.float32(y))) for x, y in WIDE_LINE]
    end = wcs.pixel_to_world(*pts[1])
    start = wcs.pixel_to_world(*pts[0])
    y, x = np.indices((h, w), dtype=np.float64)
    dist = wcs.pixel_to_world(x.ravel(), y.ravel()).separation(end).arcsec.reshape(h, w)
    fits.PrimaryHDU(dist.astype(np.float32), header=hd).writeto(os.path.join(d, "wide.fits"), overwrite=True)
    inc = 0.05 * 3600.0
    length = float(start.separation(end).arcsec)
    n = int(np.floor(length / inc / 2.0 + 0.5))
    # Pixel steps along the line: their angular sizes differ by more than 1% (so carta_backend's fixed-pixel
    # placement does not apply).
    t = np.linspace(0, 1, 50)
    px = pts[0][0] + t * (pts[1][0] - pts[0][0])
    py = pts[0][1] + t * (pts[1][1] - pts[0][1])
    step = np.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1]) / 49
    sky = wcs.pixel_to_world(px, py)
    per_pixel = np.array([sky[i].separation(sky[i + 1]).arcsec for i in range(49)]) / step
    return {"file": "wide.fits", "points": [list(p) for p in pts], "width": 1, "increment": inc,
            "length": length, "boxes": 2 * n, "offsets": n, "pixel_spread": float(np.ptp(per_pixel))}
