#!/usr/bin/env python3
"""Generate the sample images a newcomer browses in the CARTA frontend served by cartaflow.

Usage:  .venv/bin/python scripts/gen_samples.py OUTDIR [--force]

Writes into OUTDIR (made if missing); existing files are kept unless --force:

  gaussian_sources.fits   2D 1200x1000, Gaussian sources of many sizes on noise (SIN, FK5)
  nan_regions.fits        2D 800x600, with a blanked disk, blanked borders, random NaN pixels (TAN)
  spectral_cube.fits      3D 256x256x64 RA/DEC/FREQ, HI line of a rotating disk galaxy (SIN)
  stokes_cube.fits        4D 128x128x16x4 RA/DEC/FREQ/STOKES (I,Q,U,V), Faraday-rotated sources
  idia_image.hdf5         3D 600x500x10 cube in the IDIA HDF5 schema (as fits2idia writes it)
  more/small.fits         2D 64x64
  more/multi_hdu.fits     empty primary + IMAGE 'SCI' + IMAGE 'ERR' + BINTABLE
  more/compressed.fits.gz gzip-compressed 2D 256x256
  more/README.txt         a text file (not an image)

Everything is deterministic (fixed seeds). Needs numpy, astropy and h5py (scripts/setup.sh
installs them into .venv). Total size is about 60 MB; runtime a few seconds.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.dont_write_bytecode = True  # no scripts/__pycache__ from importing common_fits
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_fits import celestial_cards, gzip_file, make_fits_header, write_fits, write_idia  # noqa: E402

C_KMS = 299792.458
HI_REST = 1.420405752e9


def gaussian2d(shape, x0, y0, sx, sy, theta, amp):
    """An elliptical Gaussian evaluated only near its centre (returns slices and the patch)."""
    h, w = shape
    r = int(np.ceil(5 * max(sx, sy)))
    x_lo, x_hi = max(0, int(x0) - r), min(w, int(x0) + r + 1)
    y_lo, y_hi = max(0, int(y0) - r), min(h, int(y0) + r + 1)
    if x_lo >= x_hi or y_lo >= y_hi:
        return None
    y, x = np.mgrid[y_lo:y_hi, x_lo:x_hi]
    c, s = np.cos(theta), np.sin(theta)
    xr = (x - x0) * c + (y - y0) * s
    yr = -(x - x0) * s + (y - y0) * c
    patch = amp * np.exp(-0.5 * ((xr / sx) ** 2 + (yr / sy) ** 2))
    return (slice(y_lo, y_hi), slice(x_lo, x_hi)), patch


def add_sources(img, rng, n, amp_range, size_range):
    h, w = img.shape
    for _ in range(n):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        sx = rng.uniform(*size_range)
        sy = sx * rng.uniform(0.4, 1.0)
        amp = np.exp(rng.uniform(np.log(amp_range[0]), np.log(amp_range[1])))
        g = gaussian2d(img.shape, x0, y0, sx, sy, rng.uniform(0, np.pi), amp)
        if g is not None:
            img[g[0]] += g[1]


def smooth_noise(rng, shape, sigma, beam_px):
    """Noise correlated on the scale of the beam (FFT convolution with a Gaussian)."""
    noise = rng.normal(0.0, 1.0, shape)
    ky = np.fft.fftfreq(shape[-2])[:, None]
    kx = np.fft.rfftfreq(shape[-1])[None, :]
    kernel = np.exp(-2 * (np.pi * beam_px) ** 2 * (kx ** 2 + ky ** 2))
    out = np.fft.irfft2(np.fft.rfft2(noise) * kernel, s=shape[-2:])
    return out * (sigma / out.std())


# ---------------------------------------------------------------------------------------------


def gaussian_sources(path):
    rng = np.random.default_rng(1001)
    h, w = 1000, 1200
    img = smooth_noise(rng, (h, w), 2e-4, 1.5)
    add_sources(img, rng, 120, (1e-3, 5e-2), (1.2, 4.0))      # compact sources
    add_sources(img, rng, 12, (5e-4, 5e-3), (8.0, 40.0))       # extended emission
    # a bright double-lobed radio galaxy
    for dx, amp in ((-30, 0.4), (30, 0.3)):
        g = gaussian2d(img.shape, 600 + dx, 500 + 0.5 * dx, 6, 3, 0.45, amp)
        img[g[0]] += g[1]
    cards = celestial_cards(204.253958, -29.865417, 1.5, (601, 501), proj="SIN", radesys="FK5",
                            beam_arcsec=(4.5, 3.2, 35.0), telescope="ATCA", obj="M83 field",
                            date_obs="2019-05-04T11:22:33.0",
                            extra_cards=[("RESTFRQ", 2.1e9, "Rest frequency (Hz)")])
    cards.append(("HISTORY", "Synthetic field of Gaussian sources made by cartaflow gen_samples.py"))
    write_fits(path, img.astype(np.float32), cards)


def nan_regions(path):
    rng = np.random.default_rng(2002)
    h, w = 600, 800
    y, x = np.mgrid[0:h, 0:w]
    img = 2e-3 * np.exp(-(((x - 400) / 250.0) ** 2 + ((y - 300) / 180.0) ** 2))
    img += smooth_noise(rng, (h, w), 1e-4, 2.0)
    add_sources(img, rng, 40, (5e-4, 2e-2), (1.5, 6.0))
    img = img.astype(np.float32)
    img[(x - 520) ** 2 + (y - 340) ** 2 < 70 ** 2] = np.nan   # blanked disk
    img[:12, :] = np.nan                                        # blanked border rows
    img[-7:, :] = np.nan
    img[:, :20] = np.nan                                        # blanked border columns
    img[:, -5:] = np.nan
    img[rng.random((h, w)) < 0.01] = np.nan                     # random NaN pixels
    cards = celestial_cards(83.822083, -5.391111, 2.0, (401, 301), proj="TAN", radesys="ICRS",
                            beam_arcsec=(6.0, 5.0, -12.0), telescope="MeerKAT",
                            obj="Orion (blanked)", date_obs="2020-11-02T20:00:00.0")
    write_fits(path, img, cards)


def spectral_cube(path):
    rng = np.random.default_rng(3003)
    nx = ny = 256
    nz = 64
    vsys, vmax, r_turn, incl, pa = 133.0, 110.0, 25.0, np.radians(60), np.radians(30)
    dnu = 2.0e4                                   # 20 kHz channels, ~4.2 km/s
    nu_sys = HI_REST * (1 - vsys / C_KMS)
    crpix3 = nz / 2 + 0.5
    nu = nu_sys + (np.arange(nz) + 1 - crpix3) * dnu
    v_chan = C_KMS * (1 - nu / HI_REST)          # radio velocity of each channel

    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    dx, dy = x - 127.5, y - 127.5
    # disk coordinates: major axis at position angle pa
    xm = dx * np.cos(pa) + dy * np.sin(pa)
    ym = (-dx * np.sin(pa) + dy * np.cos(pa)) / np.cos(incl)
    r = np.hypot(xm, ym)
    cos_t = np.where(r > 0, xm / np.maximum(r, 1e-9), 0.0)
    vrot = vmax * (1 - np.exp(-r / r_turn))
    vlos = vsys + vrot * np.sin(incl) * cos_t      # velocity shifts with position
    surf = 0.02 * np.exp(-r / 35.0) * (r < 110)    # exponential disk, truncated
    sigma_v = 9.0
    cube = surf[None] * np.exp(-0.5 * ((v_chan[:, None, None] - vlos[None]) / sigma_v) ** 2)
    cube += rng.normal(0, 1.5e-3, cube.shape)
    extra_axes = [("FREQ", nu_sys, dnu, crpix3, "Hz")]
    cards = celestial_cards(114.214167, 65.602556, 4.0, (128.5, 128.5), proj="SIN",
                            radesys="FK5", beam_arcsec=(12.0, 10.0, 15.0), telescope="VLA",
                            obj="NGC 2403", date_obs="2004-06-20T08:30:00.0",
                            extra_axes=extra_axes,
                            extra_cards=[("RESTFRQ", HI_REST, "Rest Frequency (Hz)"),
                                         ("SPECSYS", "LSRK", "Spectral reference frame"),
                                         ("VELREF", 257, "1 LSR, 2 HEL, 3 OBS, +256 Radio")])
    write_fits(path, cube.astype(np.float32), cards)


def stokes_cube(path):
    rng = np.random.default_rng(4004)
    n, nz = 128, 16
    nu0, dnu = 1.332e9, 4.0e7                     # 1.332 - 1.932 GHz
    nu = nu0 + np.arange(nz) * dnu
    lam2 = (C_KMS * 1e3 / nu) ** 2
    cube = rng.normal(0, 5e-5, (4, nz, n, n))
    sources = [  # x, y, size px, flux at nu0, spectral index, pol fraction, RM rad/m^2, chi0
        (40, 50, 2.0, 0.05, -0.7, 0.08, 45.0, 0.3),
        (90, 80, 3.5, 0.02, -0.9, 0.25, -120.0, 1.2),
        (70, 30, 1.5, 0.008, 0.2, 0.02, 10.0, -0.5),
        (25, 105, 5.0, 0.012, -0.5, 0.40, 300.0, 0.0),
    ]
    for (x0, y0, sz, s0, alpha, p, rm, chi0) in sources:
        g = gaussian2d((n, n), x0, y0, sz, sz * 0.8, 0.3, 1.0)
        for k in range(nz):
            i_k = s0 * (nu[k] / nu0) ** alpha
            chi = chi0 + rm * lam2[k]
            cube[0, k][g[0]] += i_k * g[1]
            cube[1, k][g[0]] += p * i_k * np.cos(2 * chi) * g[1]
            cube[2, k][g[0]] += p * i_k * np.sin(2 * chi) * g[1]
            cube[3, k][g[0]] += 0.002 * i_k * g[1]
    extra_axes = [("FREQ", nu0, dnu, 1.0, "Hz"), ("STOKES", 1.0, 1.0, 1.0, "")]
    cards = celestial_cards(187.705930, 12.391123, 3.0, (65, 65), proj="SIN", radesys="FK5",
                            beam_arcsec=(9.0, 7.5, 80.0), telescope="ASKAP",
                            obj="Virgo A field", date_obs="2022-01-15T14:00:00.0",
                            extra_axes=extra_axes,
                            extra_cards=[("RESTFRQ", nu0, "Rest Frequency (Hz)"),
                                         ("SPECSYS", "TOPOCENT", "Spectral reference frame")])
    write_fits(path, cube.astype(np.float32), cards)


def idia_image(path):
    rng = np.random.default_rng(5005)
    nz, h, w = 10, 500, 600
    base = smooth_noise(rng, (h, w), 3e-4, 1.5)
    cube = np.empty((nz, h, w), dtype=np.float32)
    srcs = np.zeros((h, w))
    add_sources(srcs, rng, 80, (1e-3, 3e-2), (1.2, 5.0))
    for k in range(nz):
        scale = (1 + 0.05 * k) ** -0.7
        cube[k] = (srcs * scale + base + rng.normal(0, 1e-4, (h, w))).astype(np.float32)
    cube[:, 200:230, 300:340] = np.nan                         # a blanked patch
    extra_axes = [("FREQ", 8.8e8, 2.0e6, 1.0, "Hz")]
    cards = celestial_cards(201.365063, -43.019112, 2.5, (301, 251), proj="SIN", radesys="FK5",
                            beam_arcsec=(8.0, 6.0, 45.0), telescope="MeerKAT",
                            obj="Centaurus A field", date_obs="2021-08-09T18:40:00.0",
                            extra_axes=extra_axes,
                            extra_cards=[("RESTFRQ", 8.8e8, "Rest Frequency (Hz)"),
                                         ("SPECSYS", "TOPOCENT", None)])
    # The header as fits2idia would see it: the primary HDU's full header (with EXTEND).
    from astropy.io import fits
    header = fits.PrimaryHDU(data=cube, header=make_fits_header(cards)).header
    # Statistics/Z (per-pixel along z) is left out: the backend never reads it, and it would
    # add 7 MB to the sample folder. The test fixture idia.hdf5 does include it.
    write_idia(path, cube, header, z_stats=False)


def small(path):
    rng = np.random.default_rng(6006)
    img = rng.normal(0, 1e-3, (64, 64))
    g = gaussian2d(img.shape, 31.5, 31.5, 5, 3, 0.5, 0.05)
    img[g[0]] += g[1]
    cards = celestial_cards(10.684708, 41.268750, 10.0, (32.5, 32.5), proj="TAN",
                            beam_arcsec=(30.0, 30.0, 0.0), telescope="GBT", obj="M31 core",
                            date_obs="2015-10-10T01:02:03.0")
    write_fits(path, img.astype(np.float32), cards)


def multi_hdu(path):
    from astropy.io import fits

    rng = np.random.default_rng(7007)
    h, w = 120, 160
    sci = rng.normal(0, 1e-3, (h, w))
    add_sources(sci, rng, 15, (5e-3, 5e-2), (1.5, 4.0))
    err = np.abs(rng.normal(1e-3, 1e-4, (h, w)))
    cards = celestial_cards(266.416817, -29.007825, 1.0, (80.5, 60.5), proj="TAN",
                            beam_arcsec=(3.0, 2.5, 10.0), telescope="MeerKAT",
                            obj="Galactic Centre", date_obs="2018-07-01T00:00:00.0")
    primary = fits.PrimaryHDU(header=make_fits_header([
        ("OBJECT", "Galactic Centre", None), ("TELESCOP", "MeerKAT", None),
        ("COMMENT", "Primary HDU has no data; images are in extensions SCI and ERR.")]))
    sci_hdu = fits.ImageHDU(sci.astype(np.float32), header=make_fits_header(cards), name="SCI")
    err_hdu = fits.ImageHDU(err.astype(np.float32), header=make_fits_header(cards), name="ERR")
    cat = fits.BinTableHDU.from_columns([
        fits.Column(name="ID", format="J", array=np.arange(5)),
        fits.Column(name="RA", format="D", unit="deg",
                    array=266.4168 + rng.normal(0, 0.01, 5)),
        fits.Column(name="DEC", format="D", unit="deg",
                    array=-29.0078 + rng.normal(0, 0.01, 5)),
        fits.Column(name="FLUX", format="E", unit="Jy", array=rng.uniform(0.01, 0.1, 5)),
    ], name="CATALOG")
    fits.HDUList([primary, sci_hdu, err_hdu, cat]).writeto(path, overwrite=True)


def compressed(path):
    rng = np.random.default_rng(8008)
    img = smooth_noise(rng, (256, 256), 2e-4, 1.2)
    add_sources(img, rng, 25, (1e-3, 3e-2), (1.2, 4.0))
    cards = celestial_cards(148.968458, 69.679703, 2.0, (128.5, 128.5), proj="SIN",
                            beam_arcsec=(5.0, 4.0, 60.0), telescope="LOFAR", obj="M82",
                            date_obs="2016-02-29T12:00:00.0")
    tmp = path[:-3] + ".tmp"
    write_fits(tmp, img.astype(np.float32), cards)
    gzip_file(tmp, path, remove_src=True)


def readme(path):
    with open(path, "w") as f:
        f.write("cartaflow sample folder\n"
                "=======================\n\n"
                "This is a plain text file, not an image: the file browser should not list it\n"
                "in its default (content) mode. The FITS files beside it show a small image, a\n"
                "multi-extension file (pick the SCI or ERR HDU) and a gzip-compressed image.\n")


SAMPLES = [
    ("gaussian_sources.fits", gaussian_sources),
    ("nan_regions.fits", nan_regions),
    ("spectral_cube.fits", spectral_cube),
    ("stokes_cube.fits", stokes_cube),
    ("idia_image.hdf5", idia_image),
    ("more/small.fits", small),
    ("more/multi_hdu.fits", multi_hdu),
    ("more/compressed.fits.gz", compressed),
    ("more/README.txt", readme),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = ap.parse_args()

    t0 = time.time()
    total = 0
    for rel, fn in SAMPLES:
        path = os.path.join(args.outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path) and not args.force:
            print("gen_samples: kept    %-26s %10d bytes" % (rel, os.path.getsize(path)))
        else:
            t = time.time()
            tmp = path + ".part" + os.path.splitext(path)[1]
            fn(tmp)
            os.replace(tmp, path)
            print("gen_samples: wrote   %-26s %10d bytes  (%.1fs)"
                  % (rel, os.path.getsize(path), time.time() - t))
        total += os.path.getsize(path)
    print("gen_samples: %s: %.1f MB in %d files, %.1fs"
          % (args.outdir, total / 1e6, len(SAMPLES), time.time() - t0))


if __name__ == "__main__":
    main()
