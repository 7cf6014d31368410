"""Shared helpers for scripts/gen_samples.py and scripts/gen_fixtures.py.

* celestial_cards(): FITS header cards for a realistic 2-axis celestial WCS (plus beam,
  telescope, object, date), to which callers append spectral/Stokes axes.
* make_fits_header(): turn a list of (keyword, value[, comment]) tuples into an astropy Header.
* write_fits() / gzip_file(): deterministic FITS and .fits.gz writing.
* write_idia(): an HDF5 image in the IDIA schema, the layout CARTA's fits2idia converter
  writes (see shared/reference/carta-backend.md section 3.3):

      /0                                   group; FITS header cards as attributes, in FITS order
      /0/DATA                              float32 [S][D][H][W], trimmed to the image rank
      /0/Statistics/XY/{MIN,MAX,SUM,SUM_SQ,NAN_COUNT,HISTOGRAM}   per channel (per stokes)
      /0/Statistics/XYZ/...                per cube (only when depth > 1)
      /0/Statistics/Z/{MIN,MAX,SUM,SUM_SQ,NAN_COUNT}              per pixel along z (depth > 1)
      /0/SwizzledData/ZYX | ZYXW           the cube transposed so z is fastest (depth > 1)
      /0/PermutedData                      hard link to SwizzledData
      /0/MipMaps/DATA/DATA_XY_<m>          block means (finite pixels), m = 2, 4, ...

  Attribute types follow the converter: strings are fixed-length 256-byte null-terminated,
  booleans 1-byte unsigned, floats float64, integers int64 (never int32, which the C++
  reader would take for a boolean). The file uses the earliest file-format version and does
  not track attribute creation order, like fits2idia output, so attributes iterate in the
  order they were written (FITS order).
* read_idia_attrs(): the /0 attributes in stored order, decoded to Python values.

This module is written from the published description of the format; it contains no code
from the CARTA projects.
"""

import gzip
import math
import os

import numpy as np

# ---------------------------------------------------------------------------------------------
# FITS helpers
# ---------------------------------------------------------------------------------------------

FITS_STRUCTURAL = ("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT")


def axis_cards(i, ctype, crval, cdelt, crpix, cunit):
    """The five WCS cards of FITS axis i (1-based)."""
    return [("CTYPE%d" % i, ctype, None), ("CRVAL%d" % i, float(crval), None),
            ("CDELT%d" % i, float(cdelt), None), ("CRPIX%d" % i, float(crpix), None),
            ("CUNIT%d" % i, cunit, None)]


def celestial_cards(ra_deg, dec_deg, cdelt_arcsec, crpix, proj="SIN", radesys="FK5",
                    beam_arcsec=(10.0, 8.0, 30.0), telescope="ATCA", obj="FIELD",
                    date_obs="2021-03-14T03:14:15.9", extra_axes=(), extra_cards=()):
    """Header cards (keyword, value, comment) for an image whose axes 1 and 2 are RA/DEC.

    crpix is (crpix1, crpix2); cdelt_arcsec is the pixel size (the RA increment is negative).
    extra_axes: (ctype, crval, cdelt, crpix, cunit) tuples for axes 3, 4, ...
    extra_cards: more (keyword, value[, comment]) cards, placed after the axis cards
    (e.g. RESTFRQ, SPECSYS).
    """
    bmaj, bmin, bpa = beam_arcsec
    cd = cdelt_arcsec / 3600.0
    cards = [
        ("BSCALE", 1.0, "PHYSICAL = PIXEL*BSCALE + BZERO"),
        ("BZERO", 0.0, None),
        ("BMAJ", bmaj / 3600.0, "Beam major axis (deg)"),
        ("BMIN", bmin / 3600.0, "Beam minor axis (deg)"),
        ("BPA", float(bpa), "Beam position angle (deg)"),
        ("BTYPE", "Intensity", None),
        ("OBJECT", obj, None),
        ("BUNIT", "Jy/beam", "Brightness (pixel) unit"),
        ("EQUINOX", 2000.0, None),
        ("RADESYS", radesys, None),
        ("LONPOLE", 180.0, None),
        ("LATPOLE", float(dec_deg), None),
    ]
    cards += axis_cards(1, "RA---" + proj, ra_deg, -cd, crpix[0], "deg")
    cards += axis_cards(2, "DEC--" + proj, dec_deg, cd, crpix[1], "deg")
    for i, ax in enumerate(extra_axes):
        cards += axis_cards(3 + i, *ax)
    cards += list(extra_cards)
    cards += [
        ("TELESCOP", telescope, None),
        ("OBSERVER", "cartaflow", None),
        ("DATE-OBS", date_obs, None),
        ("TIMESYS", "UTC", None),
        ("ORIGIN", "cartaflow test data generator", None),
    ]
    return cards


def make_fits_header(cards):
    """astropy Header from (keyword, value[, comment]) tuples, or raw 80-column card strings."""
    from astropy.io import fits

    hdr = fits.Header()
    for c in cards:
        if isinstance(c, str):
            hdr.append(fits.Card.fromstring(c))
        elif isinstance(c, fits.Card):
            hdr.append(c)
        else:
            key, value = c[0], c[1]
            comment = c[2] if len(c) > 2 else None
            if key in ("COMMENT", "HISTORY"):
                hdr.append((key, value))
            else:
                hdr.append((key, value, comment) if comment else (key, value))
    return hdr


def write_fits(path, data, cards, overwrite=True):
    """Write a single-HDU FITS file (primary array) and return the astropy HDU."""
    from astropy.io import fits

    hdu = fits.PrimaryHDU(data=data, header=make_fits_header(cards))
    hdu.writeto(path, overwrite=overwrite, output_verify="exception")
    return hdu


def gzip_file(src, dst, remove_src=False):
    """gzip src into dst deterministically (no name, mtime 0)."""
    with open(src, "rb") as fin, open(dst, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            gz.write(fin.read())
    if remove_src:
        os.remove(src)


def fits_header_to_cards(header):
    """(keyword, value) pairs from an astropy Header (or a list of tuples), comments dropped."""
    if hasattr(header, "cards"):
        return [(c.keyword, c.value) for c in header.cards]
    return [(c[0], c[1]) for c in header]


# ---------------------------------------------------------------------------------------------
# IDIA HDF5 writer
# ---------------------------------------------------------------------------------------------

SCHEMA_VERSION = "0.3"
HDF5_CONVERTER = "fits2idia"
HDF5_CONVERTER_VERSION = "0.1.15"
TILE = 512          # chunk edge of DATA / mipmaps, when both image dims are >= TILE
MIN_MIPMAP = 128    # make mip levels until both dims of the last one are <= this


def _trim(v, k):
    """Keep the last k entries of v (k may be 0)."""
    return list(v[len(v) - k:]) if k > 0 else []


def _write_attr(group, name, value):
    """One scalar attribute with the converter's type rules."""
    import h5py

    if isinstance(value, (bool, np.bool_)):
        group.attrs.create(name, np.uint8(1 if value else 0), dtype=np.uint8)
    elif isinstance(value, (int, np.integer)):
        group.attrs.create(name, np.int64(value), dtype="<i8")
    elif isinstance(value, (float, np.floating)):
        group.attrs.create(name, np.float64(value), dtype="<f8")
    else:
        raw = str(value).encode("ascii", "replace")[:255]  # room for the terminating NUL
        tid = h5py.h5t.C_S1.copy()
        tid.set_size(256)
        tid.set_strpad(h5py.h5t.STR_NULLTERM)
        space = h5py.h5s.create(h5py.h5s.SCALAR)
        aid = h5py.h5a.create(group.id, name.encode("ascii"), tid, space)
        buf = np.array(raw.ljust(256, b"\0"), dtype="S256")
        aid.write(buf, mtype=tid)
        aid.close()


def _finite_stats(a, axes, nbins=None):
    """min, max, sum, sum_sq, nan_count (and histogram) of a over axes, finite values only.

    min/max are NaN where nothing is finite; sums accumulate in float64 and are returned as
    float32 like the converter stores them; nan_count counts every non-finite value.
    """
    a = np.asarray(a, dtype=np.float32)
    finite = np.isfinite(a)
    nan_count = np.sum(~finite, axis=axes).astype(np.int64)
    a64 = np.where(finite, a.astype(np.float64), 0.0)
    s = np.sum(a64, axis=axes)
    s2 = np.sum(a64 * a64, axis=axes)
    with np.errstate(invalid="ignore"):
        mn = np.min(np.where(finite, a, np.inf), axis=axes)
        mx = np.max(np.where(finite, a, -np.inf), axis=axes)
    has = np.any(finite, axis=axes)
    mn = np.where(has, mn, np.nan).astype(np.float32)
    mx = np.where(has, mx, np.nan).astype(np.float32)
    out = {
        "MIN": mn,
        "MAX": mx,
        "SUM": s.astype(np.float32),
        "SUM_SQ": s2.astype(np.float32),
        "NAN_COUNT": nan_count,
    }
    if nbins is not None:
        # Move the reduced axes to the end and flatten them: one histogram per remaining index.
        keep = [i for i in range(a.ndim) if i not in axes]
        moved = np.transpose(a, keep + list(axes)).reshape(
            [a.shape[i] for i in keep] + [-1])
        lead = moved.shape[:-1]
        flat = moved.reshape(-1, moved.shape[-1])
        mnf, mxf = np.ravel(mn), np.ravel(mx)
        hist = np.zeros((flat.shape[0], nbins), dtype=np.int64)
        for i in range(flat.shape[0]):
            lo, hi = float(mnf[i]), float(mxf[i])
            if not (math.isfinite(lo) and math.isfinite(hi)) or hi == lo:
                continue
            v = flat[i][np.isfinite(flat[i])].astype(np.float64)
            idx = np.floor(nbins * (v - lo) / (hi - lo)).astype(np.int64)
            idx = np.clip(idx, 0, nbins - 1)
            hist[i] = np.bincount(idx, minlength=nbins)
        out["HISTOGRAM"] = hist.reshape(list(lead) + [nbins])
    return out


def _write_stats(group, stats):
    for name in ("MIN", "MAX", "SUM", "SUM_SQ", "NAN_COUNT", "HISTOGRAM"):
        if name in stats:
            v = stats[name]
            dtype = "<i8" if name in ("NAN_COUNT", "HISTOGRAM") else "<f4"
            group.create_dataset(name, data=np.asarray(v, dtype=dtype))


def _mip_level(data, m):
    """Mean of the finite pixels in each m x m block of the last two axes (NaN if none)."""
    h, w = data.shape[-2:]
    hm, wm = -(-h // m), -(-w // m)
    pad = [(0, 0)] * (data.ndim - 2) + [(0, hm * m - h), (0, wm * m - w)]
    p = np.pad(data.astype(np.float64), pad, constant_values=np.nan)
    p = p.reshape(data.shape[:-2] + (hm, m, wm, m))
    fin = np.isfinite(p)
    s = np.sum(np.where(fin, p, 0.0), axis=(-3, -1))
    n = np.sum(fin, axis=(-3, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    return mean.astype(np.float32)


def write_idia(path, data, header_cards, converter_version=HDF5_CONVERTER_VERSION,
               z_stats=True):
    """Write `data` (numpy array in FITS/C order: [stokes][z][y][x] trimmed, 2 to 4 dims) and
    the FITS header `header_cards` (astropy Header, or (keyword, value[, comment]) tuples) to
    `path` as an IDIA-schema HDF5 file. Returns the list of (name, value) attributes written.

    SIMPLE/BITPIX/NAXIS/NAXISn are taken from `data` (BITPIX is always -32) and written first;
    COMMENT, HISTORY, blank keywords and duplicates are skipped, as fits2idia does.
    """
    import h5py

    data = np.ascontiguousarray(data, dtype="<f4")
    n = data.ndim
    if not 2 <= n <= 4:
        raise ValueError("IDIA images have 2 to 4 dimensions, got %d" % n)
    full = (1,) * (4 - n) + data.shape          # [S, D, H, W]
    s_, d_, h_, w_ = full
    nbins = int(max(math.sqrt(w_ * h_), 2.0))

    # ---- attributes, in FITS order -------------------------------------------------------
    attrs = [("SCHEMA_VERSION", SCHEMA_VERSION), ("HDF5_CONVERTER", HDF5_CONVERTER),
             ("HDF5_CONVERTER_VERSION", converter_version),
             ("SIMPLE", True), ("BITPIX", -32), ("NAXIS", n)]
    attrs += [("NAXIS%d" % (i + 1), int(data.shape[n - 1 - i])) for i in range(n)]
    seen = {k for k, _ in attrs}
    for key, value in fits_header_to_cards(header_cards):
        if not key or key in ("COMMENT", "HISTORY", "END") or key in seen:
            continue
        if key.startswith("NAXIS") and key[5:].isdigit():
            continue
        seen.add(key)
        attrs.append((key, value))

    chunked = w_ >= TILE and h_ >= TILE
    tmp = str(path) + ".tmp"
    # libver 'earliest': version-1 object headers, so the attributes stay in one compact list
    # in write order (newer format versions switch to name-indexed dense storage past 8).
    with h5py.File(tmp, "w", libver="earliest", track_order=False) as f:
        g = f.create_group("0")
        for key, value in attrs:
            _write_attr(g, key, value)

        # ---- main dataset ----------------------------------------------------------------
        g.create_dataset("DATA", data=data, dtype="<f4",
                         chunks=tuple(_trim([1, 1, TILE, TILE], n)) if chunked else None)

        # ---- statistics ------------------------------------------------------------------
        d4 = data.reshape(full)
        xy = _finite_stats(d4, axes=(2, 3), nbins=nbins)            # shape [S, D]
        k = n - 2
        xy = {name: v.reshape(_trim([s_, d_], k) + list(v.shape[2:])) for name, v in xy.items()}
        _write_stats(g.create_group("Statistics/XY"), xy)
        if d_ > 1:
            xyz = _finite_stats(d4, axes=(1, 2, 3), nbins=nbins)    # shape [S]
            k = n - 3
            xyz = {name: v.reshape(_trim([s_], k) + list(v.shape[1:])) for name, v in xyz.items()}
            _write_stats(g.create_group("Statistics/XYZ"), xyz)
            if z_stats:
                z = _finite_stats(d4, axes=(1,))                    # shape [S, H, W]
                z = {name: v.reshape(_trim([s_, h_, w_], n - 1)) for name, v in z.items()}
                _write_stats(g.create_group("Statistics/Z"), z)

            # ---- swizzled (z fastest): swz[s][x][y][z] = data[s][z][y][x] ----------------
            sw = g.create_group("SwizzledData")
            if n == 3:
                sw.create_dataset("ZYX", data=np.ascontiguousarray(data.transpose(2, 1, 0)))
            else:
                sw.create_dataset("ZYXW", data=np.ascontiguousarray(data.transpose(0, 3, 2, 1)))
            g["PermutedData"] = sw                                  # hard link

        # ---- mipmaps -------------------------------------------------------------------------
        dims_h, dims_w, m = h_, w_, 1
        mg = None
        while dims_w > MIN_MIPMAP or dims_h > MIN_MIPMAP:
            m *= 2
            dims_h, dims_w = -(-h_ // m), -(-w_ // m)
            level = _mip_level(data, m)
            if mg is None:
                mg = g.create_group("MipMaps/DATA")
            big = dims_w >= TILE and dims_h >= TILE
            mg.create_dataset("DATA_XY_%d" % m, data=level, dtype="<f4",
                              chunks=tuple(_trim([1, 1, TILE, TILE], n)) if big else None)
    os.replace(tmp, path)
    return attrs


def read_idia_attrs(path, group="0"):
    """The attributes of /<group> in stored order, as [(name, value, kind)], where value is a
    Python str/int/float/bool and kind names the HDF5 type: 'str' (fixed string), 'bool'
    (1-byte unsigned), 'int' (int64) or 'float' (float64)."""
    import h5py

    out = []
    with h5py.File(path, "r") as f:
        g = f[group]
        names = []
        # Native order = the order the attribute messages are stored in.
        h5py.h5a.iterate(g.id, lambda name, *a: names.append(name.decode()),
                         index_type=h5py.h5.INDEX_NAME, order=h5py.h5.ITER_NATIVE)
        for name in names:
            v = g.attrs[name]
            dt = g.attrs.get_id(name).dtype
            if dt.kind == "S" or isinstance(v, (bytes, np.bytes_, str)):
                out.append((name, v.decode() if isinstance(v, bytes) else str(v), "str"))
            elif dt == np.uint8 or dt == np.bool_:
                out.append((name, bool(v), "bool"))
            elif dt.kind in "iu":
                out.append((name, int(v), "int"))
            else:
                out.append((name, float(v), "float"))
    return out
