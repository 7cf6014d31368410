#!/usr/bin/env python3
"""Overlay benchmark: contours, PV images and polarisation vectors, cartaflow through its WebSocket protocol
against the Python packages an astronomer would otherwise use, in the same run, on the same files.

  bench/overlays.sh [--quick] [--runs 5] [--peer-runs 3] [--opens 3] [--no-cold] [--only contours,pv,vectors]

Data (bench/data/, git-ignored, seeded, kept once written):
  contours_N.fits    N x N float32 (default 8000): white noise (sigma 1) plus 400 compact and 40 extended
                     elliptical Gaussian sources; contour levels 3, 5, 10, 20, 50 (sigma).
  pv_WxHxD.fits      W x H x D float32 cube (default 1024 x 1024 x 256 = 1 GiB), RA---SIN/DEC--SIN and FREQ:
                     noise, three sources with velocity gradients, a few NaN pixels. The PV line runs
                     diagonally across it, about 700 px.
  iquv_N.fits        N x N x 1 channel x 4 Stokes (IQUV) float32 (default 4096): I sources plus noise, Q and U
                     from a smoothly varying polarisation angle and fraction, a few NaN pixels.

Measured (medians of several runs; warm page cache unless said so):
  contours   cartaflow (examples/bench_client `contours`): SET_CONTOUR_PARAMETERS as the 6.0.0 frontend sends it
             (whole image, decimation 4, compression level 8, chunk size 100000) → the last CONTOUR_IMAGE_DATA
             of every level (progress 1), the image open; and from OPEN_FILE on a fresh server (file in the page
             cache, nothing in the server's memory). Smoothing none and Gaussian factor 4 (carta_backend's kernel:
             size 2(f-1)+1 = 7, sigma (f-1)/2 = 1.5). Peers: skimage.measure.find_contours per level; contourpy
             contour_generator(z).lines(level) per level (serial, and threaded on every core); for the smoothed
             case after scipy.ndimage.gaussian_filter(sigma 1.5, truncate 2: the same 7-tap kernel) or
             astropy.convolution.convolve(Gaussian2DKernel(1.5, 7 x 7)), the smoothing timed too. Fresh-open
             peers add the time astropy takes to read the image into memory (fits.getdata).
  pv         cartaflow (`pv`): SET_REGION (LINE), then PV_REQUEST over all channels → PV_RESPONSE, widths 3
             and 1, on a server with the spectral-order index (default; timed once the index is ready) and
             one without (CARTAFLOW_SPECTRAL_INDEX=0: every channel's rows are read from the file); also the first
             request right after OPEN_FILE, timed from OPEN_FILE (cold: the file evicted first, the index being
             built alongside). Peers: pvextractor.extract_pv_slice(SpectralCube.read(file), Path(line,
             width)), timed from SpectralCube.read; a numpy baseline on astropy's memmap (nearest pixels of
             `width` samples across the line at 1 px steps, np.nanmean across), timed from fits.open.
  vectors    cartaflow (`vectors`): SET_VECTOR_OVERLAY_PARAMETERS (pixel averaging 4, computed PI and PA, no
             threshold, uncompressed as the frontend asks) → the VECTOR_OVERLAY_TILE_DATA with progress 1,
             from OPEN_FILE on a fresh server and again with the image open (cleared and set again). Peer:
             numpy on astropy's memmap (4 x 4 block means with reshape + np.nanmean, then sqrt(Q²+U²) and
             degrees(0.5·arctan2(U, Q))), timed from fits.open; and the same with Q and U already in memory.

Results: bench/results/overlays.md and overlays.json (--quick: target/bench-quick/overlays.{md,json}).
"""

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from harness import Server, evict  # noqa: E402

LEVELS = [3.0, 5.0, 10.0, 20.0, 50.0]
GAUSS_FACTOR = 4


def log(msg):
    print("overlays: " + msg, file=sys.stderr, flush=True)


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


# ---------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------

def celestial(hdr, w, h):
    for k, v in [("CTYPE1", "RA---SIN"), ("CRVAL1", 83.63), ("CDELT1", -1e-4), ("CRPIX1", w / 2),
                 ("CUNIT1", "deg"), ("CTYPE2", "DEC--SIN"), ("CRVAL2", 22.01), ("CDELT2", 1e-4),
                 ("CRPIX2", h / 2), ("CUNIT2", "deg")]:
        hdr[k] = v


def write_fits(path, hdr, shape, fill):
    """Writes a float32 FITS primary HDU of `shape` (numpy order) through a memmap; fill(data) writes the
    pixels. Kept if already there with the right size."""
    from astropy.io import fits
    full = fits.Header()
    full["SIMPLE"] = True
    full["BITPIX"] = -32
    full["NAXIS"] = len(shape)
    for i, n in enumerate(reversed(shape)):
        full["NAXIS%d" % (i + 1)] = n
    for card in hdr.cards:
        full.append(card)
    head = full.tostring().encode("ascii")
    nbytes = 4 * math.prod(shape)
    size = len(head) + nbytes + (-nbytes % 2880)
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    log("writing %s (%s float32, %.2f GiB)" % (path, " x ".join(map(str, reversed(shape))), nbytes / 2 ** 30))
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(head)
        f.truncate(size)
    data = np.memmap(tmp, dtype=">f4", mode="r+", offset=len(head), shape=shape)
    fill(data)
    data.flush()
    del data
    os.replace(tmp, path)


def add_gaussian(img, cx, cy, sx, sy, amp):
    """Adds an axis-aligned elliptical Gaussian within 4 sigma (separable, so cheap)."""
    h, w = img.shape
    x0, x1 = max(int(cx - 4 * sx), 0), min(int(cx + 4 * sx) + 1, w)
    y0, y1 = max(int(cy - 4 * sy), 0), min(int(cy + 4 * sy) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    gx = np.exp(-0.5 * ((np.arange(x0, x1) - cx) / sx) ** 2).astype(np.float32)
    gy = np.exp(-0.5 * ((np.arange(y0, y1) - cy) / sy) ** 2).astype(np.float32)
    img[y0:y1, x0:x1] += np.float32(amp) * gy[:, None] * gx[None, :]


def make_contour_image(path, n):
    def fill(data):
        rng = np.random.default_rng(8000)
        img = rng.standard_normal((n, n), dtype=np.float32)
        scale = n / 8000.0
        for count, (s_lo, s_hi), (a_lo, a_hi) in [(400, (2, 40), (5, 200)), (40, (50, 400), (3, 30))]:
            for _ in range(count):
                s = math.exp(rng.uniform(math.log(s_lo), math.log(s_hi))) * max(scale, 0.25)
                amp = math.exp(rng.uniform(math.log(a_lo), math.log(a_hi)))
                add_gaussian(img, rng.uniform(0, n), rng.uniform(0, n), s * rng.uniform(0.6, 1.4),
                             s * rng.uniform(0.6, 1.4), amp)
        data[:] = img
    from astropy.io import fits
    hdr = fits.Header()
    celestial(hdr, n, n)
    hdr["BUNIT"] = "Jy/beam"
    hdr["OBJECT"] = "contour benchmark, seed 8000"
    write_fits(path, hdr, (n, n), fill)


def pv_line(w, h):
    """The PV line: diagonal, from (0.156 w, 0.176 h) to (0.645 w, 0.654 h): 700 px on a 1024² cube."""
    return (0.15625 * w, 0.17578125 * h, 0.64453125 * w, 0.654296875 * h)


def make_pv_cube(path, w, h, d):
    from astropy.io import fits

    def fill(data):
        rng = np.random.default_rng(256)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        x0, y0, x1, y1 = pv_line(w, h)
        sources = []
        for t, r, amp in [(0.25, 0.06, 4.0), (0.55, 0.1, 2.5), (0.8, 0.04, 6.0)]:
            sx, sy = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            spatial = (amp * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * (r * w) ** 2))).astype(np.float32)
            # Rotation: the velocity centre moves along the line's direction.
            vz = (d * (0.5 + 0.8 * ((x - sx) + (y - sy)) / (w + h))).astype(np.float32)
            sources.append((spatial, vz))
        nan = ((x.astype(np.int64) * 7 + y.astype(np.int64) * 13) % 9973) == 0
        sig = np.float32(2 * (d / 12.0) ** 2)
        for z in range(d):
            plane = rng.normal(0.0, 0.05, (h, w)).astype(np.float32)
            for spatial, vz in sources:
                plane += spatial * np.exp(-((np.float32(z) - vz) ** 2) / sig)
            plane[nan & ((np.arange(h)[:, None] + z) % 3 == 0)] = np.nan
            data[z] = plane
    hdr = fits.Header()
    celestial(hdr, w, h)
    for k, v in [("CTYPE3", "FREQ"), ("CRVAL3", 1.42e9), ("CDELT3", 1e5), ("CRPIX3", 1.0), ("CUNIT3", "Hz"),
                 ("BUNIT", "Jy/beam"), ("BMAJ", 5e-4), ("BMIN", 4e-4), ("BPA", 10.0),
                 ("RESTFRQ", 1.420405752e9), ("SPECSYS", "LSRK")]:
        hdr[k] = v
    write_fits(path, hdr, (d, h, w), fill)


def make_iquv(path, n):
    from astropy.io import fits

    def fill(data):
        rng = np.random.default_rng(4096)
        i = np.zeros((n, n), dtype=np.float32)
        scale = n / 4096.0
        for _ in range(300):
            s = math.exp(rng.uniform(math.log(2), math.log(120))) * max(scale, 0.25)
            add_gaussian(i, rng.uniform(0, n), rng.uniform(0, n), s, s * rng.uniform(0.5, 1.5),
                         math.exp(rng.uniform(0, math.log(100))))
        y, x = np.mgrid[0:n, 0:n].astype(np.float32) / np.float32(n)
        chi = (np.pi * (np.sin(3 * x) + np.cos(2 * y + x))).astype(np.float32)
        frac = (0.05 + 0.1 * (1 + np.sin(5 * x * y))).astype(np.float32)
        q = frac * i * np.cos(2 * chi)
        u = frac * i * np.sin(2 * chi)
        del x, y, chi, frac
        nan = (np.arange(n * n).reshape(n, n) % 7919) == 0
        for k, plane in enumerate([i, q, u, np.zeros_like(i)]):
            plane = plane + rng.normal(0.0, 0.01, (n, n)).astype(np.float32)
            plane[nan] = np.nan
            data[k, 0] = plane
    hdr = fits.Header()
    celestial(hdr, n, n)
    for k, v in [("CTYPE3", "FREQ"), ("CRVAL3", 1.4e9), ("CDELT3", 1e6), ("CRPIX3", 1.0), ("CUNIT3", "Hz"),
                 ("CTYPE4", "STOKES"), ("CRVAL4", 1.0), ("CDELT4", 1.0), ("CRPIX4", 1.0),
                 ("BUNIT", "Jy/beam")]:
        hdr[k] = v
    write_fits(path, hdr, (4, 1, n, n), fill)


# ---------------------------------------------------------------------------------------------------------
# cartaflow through its protocol
# ---------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def server(args, **env):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        s = Server(args.binary, args.data, result_cache=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield s
    finally:
        s.stop()


def client(args, *cmd):
    out = subprocess.run([args.client, *map(str, cmd)], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError("bench_client %s: %s" % (" ".join(map(str, cmd)), out.stderr.strip()))
    return json.loads(out.stdout)


def warm(args, path):
    """Reads the file once (so its pages are in the page cache); returns the seconds."""
    return client(args, "read", path)["seconds"]


def cartaflow_contours(args, name, mode, factor):
    """`opens` fresh servers: each times OPEN_FILE → contours; the first also `runs` repeats with the image open."""
    opens, runs, levels = [], [], None
    for k in range(args.opens):
        with server(args) as s:
            r = client(args, "contours", s.url, ".", name, args.runs if k == 0 else 0, mode, factor,
                        ",".join("%g" % v for v in LEVELS))
        opens.append(r["open_seconds"])
        if k == 0:
            runs, levels = r["seconds"], r["levels"]
    return {"open": opens, "runs": runs, "levels": levels}


def cartaflow_pv(args, name, line, widths, index, cold):
    path = os.path.join(args.data, name)
    if cold:
        evict(path)
    env = {} if index else {"CARTAFLOW_SPECTRAL_INDEX": "0"}
    with server(args, **env) as s:
        r = client(args, "pv", s.url, "127.0.0.1:%d" % s.port, ".", name, args.runs, ",".join(map(str, widths)),
                   *("%.3f" % v for v in line))
    r["cold"] = cold
    return r


def cartaflow_vectors(args, name, mip):
    opens, runs, tiles = [], [], None
    for k in range(args.opens):
        with server(args) as s:
            r = client(args, "vectors", s.url, ".", name, args.runs if k == 0 else 0, mip)
        opens.append(r["open_seconds"])
        if k == 0:
            runs, tiles = r["seconds"], r["tiles"]
    return {"open": opens, "runs": runs, "tiles": tiles}


# ---------------------------------------------------------------------------------------------------------
# Peers: each group in its own Python process (`overlays.py peer TASK JSON`), so one's memory does not
# disturb the next; each prints one JSON object.
# ---------------------------------------------------------------------------------------------------------

def run_peer(args, task, **params):
    params["runs"] = args.peer_runs
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "peer", task, json.dumps(params)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError("peer %s: %s" % (task, out.stderr.strip()[-3000:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn, runs):
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def read_image(path):
    from astropy.io import fits
    return np.asarray(fits.getdata(path, memmap=False), dtype=np.float32)


def peer_contours(p):
    import contourpy
    from skimage import measure
    path, runs, smoothing = p["path"], p["runs"], p["smoothing"]
    threads = os.cpu_count() or 2
    read_image(path)  # untimed: the first call imports and warms astropy's reader
    load, data = timed(lambda: read_image(path), runs)
    out = {"load": load}

    def skimage_levels(z):
        return [measure.find_contours(z, level) for level in LEVELS]

    def contourpy_levels(z, **kw):
        gen = contourpy.contour_generator(z=z, **kw)
        return [gen.lines(level) for level in LEVELS]

    def counts(per_level):
        return [{"vertices": int(sum(len(c) for c in lines)), "lines": len(lines)} for lines in per_level]

    threaded = {"name": "threaded", "thread_count": threads, "total_chunk_count": 4 * threads}
    if smoothing:
        import scipy.ndimage as ndi
        from astropy.convolution import Gaussian2DKernel, convolve
        k = GAUSS_FACTOR - 1
        sigma = k / 2.0
        # scipy's radius is int(truncate * sigma + 0.5) = k: the 2(f-1)+1 = 7-tap kernel carta_backend uses.
        out["scipy_smooth"], z = timed(lambda: ndi.gaussian_filter(data, sigma=sigma, truncate=k / sigma), runs)
        kernel = Gaussian2DKernel(sigma, x_size=2 * k + 1, y_size=2 * k + 1)
        out["astropy_smooth"], _ = timed(lambda: convolve(data, kernel, boundary="extend"),
                                         max(1, p["astropy_runs"]))
    else:
        z = data
    out["skimage"], sk = timed(lambda: skimage_levels(z), runs)
    out["contourpy"], cp = timed(lambda: contourpy_levels(z), runs)
    out["contourpy_threaded"], cpt = timed(lambda: contourpy_levels(z, **threaded), runs)
    out["counts"] = {"skimage": counts(sk), "contourpy": counts(cp), "contourpy_threaded": counts(cpt)}
    out["threads"] = threads
    return out


def line_samples(line, width):
    """Nearest pixels of `width` samples across the line at each 1-pixel step along it."""
    x0, y0, x1, y1 = line
    length = math.hypot(x1 - x0, y1 - y0)
    n = int(round(length)) + 1
    t = np.linspace(0.0, 1.0, n)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    off = np.arange(width) - (width - 1) / 2.0
    xs = x0 + t[:, None] * (x1 - x0) - off[None, :] * uy
    ys = y0 + t[:, None] * (y1 - y0) + off[None, :] * ux
    return np.rint(ys).astype(np.intp).ravel(), np.rint(xs).astype(np.intp).ravel(), n


def peer_pv(p):
    import warnings
    from astropy.io import fits
    from pvextractor import Path, extract_pv_slice
    from spectral_cube import SpectralCube
    warnings.simplefilter("ignore")
    path, runs, line = p["path"], p["runs"], p["line"]
    x0, y0, x1, y1 = line
    out = {}

    def pvextractor(width):
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            cube = SpectralCube.read(path)
            pv = extract_pv_slice(cube, Path([(x0, y0), (x1, y1)], width=width))
            return np.asarray(pv.data).shape

    def numpy_pv(width):
        with fits.open(path, memmap=True) as hdul:
            data = hdul[0].data
            iy, ix, n = line_samples(line, width)
            samples = np.asarray(data[:, iy, ix], dtype=np.float32).reshape(data.shape[0], n, width)
            return np.nanmean(samples, axis=2).shape

    tasks = {"pvextractor": pvextractor, "numpy": numpy_pv}
    if p.get("cold"):
        for name, fn in tasks.items():
            evict(path)
            t = time.perf_counter()
            fn(p["widths"][0])
            out[name + "_cold"] = time.perf_counter() - t
        with open(path, "rb") as f:  # the page cache warm again for the runs below
            while f.read(64 << 20):
                pass
    for name, fn in tasks.items():
        for w in p["widths"]:
            out["%s_%d" % (name, w)], shape = timed(lambda: fn(w), runs)
            out["%s_%d_shape" % (name, w)] = list(shape)
    return out


def peer_vectors(p):
    from astropy.io import fits
    path, runs, mip = p["path"], p["runs"], p["mip"]

    def vectors(q, u):
        h, w = q.shape
        qm = np.nanmean(q.reshape(h // mip, mip, w // mip, mip), axis=(1, 3))
        um = np.nanmean(u.reshape(h // mip, mip, w // mip, mip), axis=(1, 3))
        return np.sqrt(qm * qm + um * um), np.degrees(0.5 * np.arctan2(um, qm))

    def from_open():
        with fits.open(path, memmap=True) as hdul:
            data = hdul[0].data
            pi, pa = vectors(data[1, 0], data[2, 0])
            return pi.shape

    out = {}
    out["open"], shape = timed(from_open, runs)
    with fits.open(path, memmap=True) as hdul:
        q = np.asarray(hdul[0].data[1, 0], dtype=np.float32)
        u = np.asarray(hdul[0].data[2, 0], dtype=np.float32)
    out["memory"], _ = timed(lambda: vectors(q, u), runs)
    out["grid"] = list(shape)
    return out


def peer_main(task, params):
    with warnings_off():
        result = {"contours": peer_contours, "pv": peer_pv, "vectors": peer_vectors}[task](params)
    print(json.dumps(result))


@contextlib.contextmanager
def warnings_off():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------

def ms(s):
    if s is None:
        return ""
    return "%.0f ms" % (s * 1e3) if s < 1 else "%.2f s" % s


def rows_of(res):
    """(task, cartaflow seconds, peer, peer seconds) rows, medians."""
    rows = []
    c = res.get("contours")
    if c:
        for key, label in [("none", "no smoothing"), ("gaussian", "Gaussian f=%d" % GAUSS_FACTOR)]:
            cf, pe = c["cartaflow"][key], c["peers"][key]
            smooth = key == "gaussian"
            s_scipy = median(pe["scipy_smooth"]) if smooth else 0.0
            pre = "scipy gaussian_filter + " if smooth else ""
            task = "contours, %s, 5 levels, image open" % label
            rows.append((task, median(cf["runs"]), pre + "skimage find_contours", s_scipy + median(pe["skimage"])))
            rows.append((task, median(cf["runs"]), pre + "contourpy (serial)", s_scipy + median(pe["contourpy"])))
            rows.append((task, median(cf["runs"]), pre + "contourpy (threaded, %d threads, %d chunks)" % (
                pe["threads"], 4 * pe["threads"]),
                         s_scipy + median(pe["contourpy_threaded"])))
            if smooth:
                rows.append((task, median(cf["runs"]), "astropy convolve + skimage find_contours",
                             median(pe["astropy_smooth"]) + median(pe["skimage"])))
                rows.append((task, median(cf["runs"]), "scipy gaussian_filter alone (no contours)", s_scipy))
            task = "contours, %s, from OPEN_FILE (fresh server)" % label
            load = median(pe["load"])
            rows.append((task, median(cf["open"]), "fits.getdata + %sskimage" % pre,
                         load + s_scipy + median(pe["skimage"])))
            rows.append((task, median(cf["open"]), "fits.getdata + %scontourpy (serial)" % pre,
                         load + s_scipy + median(pe["contourpy"])))
    p = res.get("pv")
    if p:
        cfi, cfn, pe = p["cartaflow_index"], p["cartaflow_noindex"], p["peers"]
        for w in p["widths"]:
            for label, cf in [("spectral-order index ready", cfi), ("no index", cfn)]:
                task = "PV, width %d, all channels, image open, %s" % (w, label)
                t = median(cf["seconds"][str(w)])
                rows.append((task, t, "pvextractor (SpectralCube.read + extract_pv_slice)",
                             median(pe["pvextractor_%d" % w])))
                rows.append((task, t, "numpy on astropy memmap (nearest pixels, nanmean)",
                             median(pe["numpy_%d" % w])))
        w0 = p["widths"][0]
        task = "PV, width %d, from OPEN_FILE, no index, warm cache (1 run)" % w0
        rows.append((task, cfn["open_seconds"], "pvextractor", median(pe["pvextractor_%d" % w0])))
        rows.append((task, cfn["open_seconds"], "numpy memmap", median(pe["numpy_%d" % w0])))
        if cfi.get("cold"):
            task = "PV, width %d, from OPEN_FILE, cold cache, index built alongside (1 run)" % w0
            rows.append((task, cfi["open_seconds"], "pvextractor, cold (1 run)", pe.get("pvextractor_cold")))
            rows.append((task, cfi["open_seconds"], "numpy memmap, cold (1 run)", pe.get("numpy_cold")))
    v = res.get("vectors")
    if v:
        cf, pe = v["cartaflow"], v["peers"]
        rows.append(("vectors, PI + PA, averaging %d, from OPEN_FILE (fresh server)" % v["mip"], median(cf["open"]),
                     "numpy on astropy memmap, from fits.open", median(pe["open"])))
        rows.append(("vectors, PI + PA, averaging %d, image open" % v["mip"], median(cf["runs"]),
                     "numpy, Q and U in memory", median(pe["memory"])))
    return rows


def write_report(args, res):
    os.makedirs(args.out, exist_ok=True)
    stem = "overlays"
    with open(os.path.join(args.out, stem + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    lines = [
        "# Overlay benchmark: contours, PV images, vectors",
        "",
        "%s, %d cores, %.0f GiB RAM; `bench/overlays.sh%s`, %s, cartaflow %s. cartaflow through its WebSocket "
        "protocol (examples/bench_client acting as the 6.0.0 frontend), peers in the same run on the same files; "
        "medians of %d runs (cartaflow with the image open), of %d fresh servers (cartaflow from OPEN_FILE) and of "
        "%d runs (peers) unless said otherwise; the files in the page cache unless said otherwise. Ratio = peer ÷ "
        "cartaflow (above 1: cartaflow is faster). Whole run: %.0f s." % (
            platform.processor() or platform.machine(), os.cpu_count(),
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30,
            " --quick" if args.quick else "", time.strftime("%Y-%m-%d"), res.get("revision", "?"),
            args.runs, args.opens, args.peer_runs, res["wall_seconds"]),
        "",
        "Sizes: %s." % "; ".join(res["sizes"]),
        "",
        "| task | cartaflow (median) | peer | peer (median) | ratio |",
        "|---|---|---|---|---|",
    ]
    for task, cf, peer, pt in rows_of(res):
        ratio = "%.2fx" % (pt / cf) if (cf and pt) else ""
        lines.append("| %s | %s | %s | %s | %s |" % (task, ms(cf), peer, ms(pt), ratio))
    lines.append("")
    c = res.get("contours")
    if c:
        lines.append("Contour vertices (lines) per level %s:" % ", ".join("%g" % v for v in LEVELS))
        for key in ["none", "gaussian"]:
            cf = c["cartaflow"][key]["levels"]
            pc = c["peers"][key]["counts"]
            parts = ["cartaflow " + " / ".join("%d (%d)" % (v["vertices"], v["lines"]) for v in cf)]
            for peer in ["skimage", "contourpy", "contourpy_threaded"]:
                parts.append(peer + " " + " / ".join("%d (%d)" % (v["vertices"], v["lines"]) for v in pc[peer]))
            lines.append("- %s: %s." % (key, "; ".join(parts)))
        lines.append("")
    p = res.get("pv")
    if p:
        cfi = p["cartaflow_index"]
        lines.append("PV image: cartaflow %d x %d (positions x channels); pvextractor %s, numpy %s (channels x "
                     "positions). Spectral-order index ready %s after OPEN_FILE%s. Reading the cube once: %s "
                     "from the page cache%s." % (
                         cfi["pv_width"], cfi["pv_height"], p["peers"]["pvextractor_%d_shape" % p["widths"][0]],
                         p["peers"]["numpy_%d_shape" % p["widths"][0]],
                         ms(cfi["index_ready_seconds"]) if cfi["index_ready_seconds"] else "(none)",
                         " (cold start)" if cfi.get("cold") else "", ms(p["read_warm"]),
                         ", %s from disk" % ms(p["read_cold"]) if p.get("read_cold") else ""))
        lines.append("")
    v = res.get("vectors")
    if v:
        lines.append("Vectors: cartaflow sent %d intensity tiles (and as many angle tiles) of the %s block grid."
                     % (v["cartaflow"]["tiles"], " x ".join(map(str, reversed(v["peers"]["grid"])))))
        lines.append("")
    lines += [
        "What the numbers mean. cartaflow times run from the message the frontend sends to the last message of "
        "the answer (progress 1), through the WebSocket, including the server's encoding (contour vertices rounded "
        "to 1/4 px, delta-encoded, shuffled and zstd level 8, as the frontend's defaults ask; vector tiles raw "
        "f32). \"Image open\" means the server already holds the plane's pixels (it loaded them on OPEN_FILE); "
        "\"from OPEN_FILE\" is a fresh server process with the file only in the page cache, timed from OPEN_FILE "
        "with the overlay's request sent as soon as the file is acknowledged (the server loads the plane and "
        "its colour-scale histogram alongside). The peers' arrays stay in Python; their fresh-open rows add the "
        "median time astropy takes to read the image into memory to the median compute time (both measured in "
        "this run). contourpy threaded splits lines at its chunk boundaries (more, shorter lines); skimage and "
        "contourpy work in float64. PV: cartaflow averages boxes of `width` pixels across the line at each 1 px "
        "step (carta_backend's fixed-pixel boxes); pvextractor averages pixel-polygon overlaps along the same "
        "path (its Path width); the numpy baseline averages `width` nearest pixels across the line. cartaflow's "
        "PV with the index reads each box's spectra from the spectral-order copy of the cube it builds in memory "
        "after OPEN_FILE; without it, every channel's rows under the line. pvextractor loads the whole cube "
        "(spectral-cube's filled_data) before slicing. Cold: the file evicted from the page cache (drop_caches) "
        "right before, one run each.",
        "",
        "Rerun: `bench/overlays.sh` (the default sizes above; data generated once into bench/data/), "
        "`bench/overlays.sh --quick` (2000² / 512x512x64 / 1024², into target/bench-quick/), or parts with "
        "`--only contours,pv,vectors`, `--runs N`, `--peer-runs N`, `--opens N`, `--no-cold`.",
    ]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write(text)
    print(text)


# ---------------------------------------------------------------------------------------------------------

def revision():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"], capture_output=True,
                               text=True).stdout.strip()
        return rev + (" (with uncommitted changes under src/)" if dirty else "")
    except OSError:
        return "?"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        return peer_main(sys.argv[2], json.loads(sys.argv[3]))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--data", default=os.path.join(ROOT, "bench", "data"))
    p.add_argument("--out", default=None, help="default bench/results (--quick: target/bench-quick)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes (2000² contours, 512x512x64 PV cube, 1024² IQUV), 3/2 runs, 2 opens")
    p.add_argument("--contour-size", type=int, default=8000)
    p.add_argument("--pv-shape", default="1024x1024x256", help="W x H x D of the PV cube")
    p.add_argument("--iquv-size", type=int, default=4096)
    p.add_argument("--runs", type=int, default=5, help="cartaflow repeats with the image open")
    p.add_argument("--peer-runs", type=int, default=5)
    p.add_argument("--astropy-runs", type=int, default=1, help="runs of astropy's (slow) convolve")
    p.add_argument("--opens", type=int, default=3, help="fresh servers timed from OPEN_FILE")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-cache PV runs")
    p.add_argument("--only", default="contours,pv,vectors")
    args = p.parse_args()
    if args.out is None:
        args.out = os.path.join(ROOT, "target", "bench-quick") if args.quick else os.path.join(ROOT, "bench", "results")
    if args.quick:
        args.contour_size, args.pv_shape, args.iquv_size = 2000, "512x512x64", 1024
        args.runs, args.peer_runs, args.opens = 3, 2, 2
    only = set(args.only.split(","))
    os.makedirs(args.data, exist_ok=True)
    res = {"revision": revision(), "sizes": [], "levels": LEVELS}
    started = time.time()

    if "contours" in only:
        n = args.contour_size
        name = "contours_%d.fits" % n
        path = os.path.join(args.data, name)
        make_contour_image(path, n)
        res["sizes"].append("contours %d x %d float32 (%.0f MiB)" % (n, n, n * n * 4 / 2 ** 20))
        warm(args, path)
        c = {"cartaflow": {}, "peers": {}}
        for key, mode, factor in [("none", 0, 1), ("gaussian", 2, GAUSS_FACTOR)]:
            log("contours (%s): cartaflow" % key)
            c["cartaflow"][key] = cartaflow_contours(args, name, mode, factor)
            log("contours (%s): skimage, contourpy" % key)
            c["peers"][key] = run_peer(args, "contours", path=path, smoothing=key == "gaussian",
                                       astropy_runs=args.astropy_runs)
        res["contours"] = c

    if "pv" in only:
        w, h, d = map(int, args.pv_shape.lower().split("x"))
        name = "pv_%dx%dx%d.fits" % (w, h, d)
        path = os.path.join(args.data, name)
        make_pv_cube(path, w, h, d)
        line = pv_line(w, h)
        res["sizes"].append("PV cube %d x %d x %d float32 (%.2f GiB), line (%.1f, %.1f) → (%.1f, %.1f), %.0f px" % (
            w, h, d, w * h * d * 4 / 2 ** 30, *line, math.hypot(line[2] - line[0], line[3] - line[1])))
        widths = [3, 1]
        pv = {"widths": widths, "line": line}
        cold = not args.no_cold
        log("pv: cartaflow with the spectral-order index%s" % (" (cold open)" if cold else ""))
        pv["cartaflow_index"] = cartaflow_pv(args, name, line, widths, index=True, cold=cold)
        if cold:
            evict(path)
            pv["read_cold"] = warm(args, path)
        pv["read_warm"] = warm(args, path)
        log("pv: cartaflow without the index")
        pv["cartaflow_noindex"] = cartaflow_pv(args, name, line, widths, index=False, cold=False)
        log("pv: pvextractor, numpy")
        pv["peers"] = run_peer(args, "pv", path=path, line=line, widths=widths, cold=cold)
        res["pv"] = pv

    if "vectors" in only:
        n, mip = args.iquv_size, 4
        name = "iquv_%d.fits" % n
        path = os.path.join(args.data, name)
        make_iquv(path, n)
        res["sizes"].append("IQUV %d x %d x 1 x 4 float32 (%.0f MiB), averaging %d" % (
            n, n, n * n * 16 / 2 ** 20, mip))
        warm(args, path)
        log("vectors: cartaflow")
        v = {"mip": mip, "cartaflow": cartaflow_vectors(args, name, mip)}
        log("vectors: numpy")
        v["peers"] = run_peer(args, "vectors", path=path, mip=mip)
        res["vectors"] = v

    res["wall_seconds"] = time.time() - started
    write_report(args, res)
    log("done in %.0f s" % res["wall_seconds"])


if __name__ == "__main__":
    main()
