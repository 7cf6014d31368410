"""Overlay fixtures for scripts/gen_fixtures.py: images under images/overlays/ and their oracle values.

contours.fits      300x600 float32: a few Gaussian hills and a ramp (three chunks of rows, so contour lines
                   cross chunk seams); contour vertices of each smoothing mode by scikit-image's
                   find_contours on the same plane (none), on its Gaussian smoothing (carta_backend's kernel:
                   size 2(f-1)+1, sigma (f-1)/2, normalised, valid part only) and on its f x f block means.
contours_nan.fits  the same with a NaN disk and a NaN row (tracing must survive them).

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
    return {
        "file": "contours.fits",
        "nan_file": "contours_nan.fits",
        "levels": CONTOUR_LEVELS,
        "none": skimage_vertices(plane, CONTOUR_LEVELS, 1.0, 0.0),
        "gaussian": {"factor": f,
                     "vertices": skimage_vertices(gaussian_valid(plane, f), CONTOUR_LEVELS, 1.0, f - 1.0)},
        "block": {"factor": b,
                  "vertices": skimage_vertices(block_means(plane, b), CONTOUR_LEVELS, float(b), 0.0)},
    }
