"""The seed's experiment, side by side: region statistics and region histograms of whole 2D float32 Gaussian
images, "from disk" (open + read + compute, the file evicted from the page cache) and "in memory" (data
already loaded, result caches off), for cartaflow through its WebSocket protocol and for peers measured in the
same run: the seed's Dask method, a numpy baseline and the machine's limits (reading the bytes once from memory
and from a cold file). Also first-tile time, cursor round trips and peak memory. Writes results.json,
results.md and figure.png (time against image size, like the seed's Figure 9) into --out.

Usage: python bench/harness.py [--sizes 1000,2000,...] [--runs 5] [--out DIR] [--data DIR]
(bench/run.sh sets it up and runs it; --smoke runs tiny sizes to keep the harness working in CI.)
"""

import argparse
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED_20000 = {  # The founding study's 20000² figures on a 4-core VM (seconds).
    "stats_memory": {"CARTA (C++)": 6.23, "Dask prototype": 1.35},
    "stats_disk": {"CARTA (C++)": 51.8, "Dask prototype": 3.1},
    "histogram_memory": {"CARTA (C++)": 3.43, "Dask prototype": 9.1},
    "histogram_disk": {"CARTA (C++)": 43.0, "Dask prototype": 12.0},
}
EXPERIMENTS = ["stats_memory", "stats_disk", "histogram_memory", "histogram_disk"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# Images and the page cache
# ---------------------------------------------------------------------------------------------------------

def image_path(data_dir, n):
    return os.path.join(data_dir, f"gauss_{n}.fits")


def make_image(path, n):
    """A seeded n×n float32 image of Gaussian noise (mean 0, σ 1), written in row blocks (never whole in
    memory). Kept if already there with the right size."""
    import numpy as np
    from astropy.io import fits
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 2
    header["NAXIS1"] = n
    header["NAXIS2"] = n
    header["BUNIT"] = "Jy/beam"
    header["OBJECT"] = f"gaussian noise {n}x{n}, seed {n}"
    head = header.tostring().encode("ascii")
    data_bytes = n * n * 4
    size = len(head) + data_bytes + (-data_bytes % 2880)
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    log(f"generating {path} ({data_bytes / 1e9:.2f} GB)")
    rng = np.random.default_rng(n)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(head)
        rows = max(1, (64 << 20) // (4 * n))
        for y in range(0, n, rows):
            r = min(rows, n - y)
            f.write(rng.standard_normal((r, n), dtype=np.float32).astype(">f4").tobytes())
        f.write(b"\0" * (-data_bytes % 2880))
    os.replace(tmp, path)


EVICTION = None


def evict(path):
    """Drops the file from the page cache: drop_caches when permitted, else posix_fadvise(DONTNEED)."""
    global EVICTION
    os.sync()
    if EVICTION in (None, "drop_caches"):
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("1\n")
            EVICTION = "drop_caches"
            return
        except OSError:
            EVICTION = "posix_fadvise(DONTNEED)"
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------------------
# cartaflow through its protocol
# ---------------------------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data_dir, result_cache=True):
        self.port = free_port()
        env = dict(os.environ)
        if not result_cache:
            env["CARTAFLOW_ANALYSIS_CACHE_MB"] = "0"
        self.proc = subprocess.Popen(
            [binary, "--config", "/dev/null", "--no-auth", "--no-http", "--host", "127.0.0.1",
             "--port", str(self.port), "--top-level-folder", data_dir, "--starting-folder", data_dir,
             "--log-level", "warn"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("cartaflow did not start")
                time.sleep(0.05)
        self.url = f"ws://127.0.0.1:{self.port}/"

    def peak_rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def client(args, *cmd):
    out = subprocess.run([args.client, *map(str, cmd)], capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"bench_client {' '.join(map(str, cmd))}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def cartaflow_disk(args, path, what, runs):
    """Seconds from OPEN_FILE to the answer, a fresh server and session each run, the file evicted; with the
    server's peak RSS of each run."""
    times, rss = [], []
    for _ in range(runs):
        server = Server(args.binary, args.data)
        try:
            evict(path)
            times.append(client(args, "open", server.url, ".", os.path.basename(path), what)["seconds"])
            rss.append(server.peak_rss())
        finally:
            server.stop()
    return times, rss


def cartaflow_memory(args, path, runs):
    server = Server(args.binary, args.data, result_cache=False)
    try:
        r = client(args, "memory", server.url, ".", os.path.basename(path), runs)
    finally:
        server.stop()
    return r["stats"], r["histogram"]


def cartaflow_cursor(args, path, n):
    server = Server(args.binary, args.data)
    try:
        return client(args, "cursor", server.url, ".", os.path.basename(path), n)
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------------------
# Peers (each in its own process, so one's memory does not disturb the next)
# ---------------------------------------------------------------------------------------------------------

def peer_main(method, kind, mode, path, runs):
    """Runs one peer measurement in this process and prints {"times": [...]}."""
    import numpy as np
    from astropy.io import fits
    threads = os.cpu_count() or 2
    if method == "dask":
        import dask
        import dask.array as da
        dask.config.set(scheduler="threads", num_workers=threads)

    def load():
        return fits.getdata(path, memmap=False).astype(np.float32)

    def compute(x):
        if method == "dask":
            if kind == "stats":
                return da.compute(x.mean(), x.std(), x.min(), x.max(), x.sum())
            lo, hi = da.compute(x.min(), x.max())
            counts, _ = da.histogram(x, bins=nbins, range=(float(lo), float(hi)))
            return counts.compute()
        if kind == "stats":
            return (x.mean(dtype=np.float64), x.std(dtype=np.float64), x.min(), x.max(),
                    x.sum(dtype=np.float64))
        lo, hi = x.min(), x.max()
        return np.histogram(x, bins=nbins, range=(float(lo), float(hi)))[0]

    with fits.open(path, memmap=True) as hdul:
        shape = hdul[0].shape
    nbins = max(2, int(math.sqrt(shape[0] * shape[1])))
    times = []
    if mode == "memory":
        arr = load()
        x = da.from_array(arr, chunks="auto") if method == "dask" else arr
        for _ in range(runs):
            t = time.perf_counter()
            compute(x)
            times.append(time.perf_counter() - t)
    else:
        for _ in range(runs):
            evict(path)
            t = time.perf_counter()
            if method == "dask":
                with fits.open(path, memmap=True) as hdul:
                    compute(da.from_array(hdul[0].data, chunks="auto"))
            else:
                compute(load())
            times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "eviction": EVICTION}))


def peer(args, method, kind, mode, path, runs):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--peer", method, kind, mode, path,
                          str(runs)], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"peer {method} {kind} {mode}: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["times"]


def limit_memory(args, n, runs):
    return client(args, "limit-memory", n * n * 4, os.cpu_count() or 2, runs)["runs"]


def limit_disk(args, path, runs):
    times = []
    for _ in range(runs):
        evict(path)
        times.append(client(args, "read", path)["seconds"])
    return times


# ---------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------

def summary(times):
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": times}


def fmt(t):
    if t is None:
        return "–"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "eviction": EVICTION}


def targets(res, sizes):
    """The issue's targets, checked on the largest size (and ≥ 4000² for the Dask ratio)."""
    out = []
    big = max(sizes)
    r = res[str(big)]
    med = lambda e, m: r[e][m]["median"] if m in r.get(e, {}) else None  # noqa: E731
    cold = med("stats_disk", "machine limit")

    def check(name, value, limit, unit="s"):
        ok = value is not None and limit is not None and value <= limit
        shown = "–" if value is None else (f"{value * 1e3:.2f} ms" if unit == "ms" else fmt(value))
        lim = "–" if limit is None else (f"{limit * 1e3:.2f} ms" if unit == "ms" else fmt(limit))
        out.append({"target": name, "measured": shown, "limit": lim, "met": bool(ok)})

    check(f"statistics in memory, {big}²", med("stats_memory", "cartaflow"), 0.08)
    check(f"histogram in memory, {big}²", med("histogram_memory", "cartaflow"), 0.25)
    check(f"statistics from disk ≤ 1.2× cold read, {big}²", med("stats_disk", "cartaflow"),
          None if cold is None else 1.2 * cold)
    check(f"histogram from disk ≤ 1.2× cold read, {big}²", med("histogram_disk", "cartaflow"),
          None if cold is None else 1.2 * cold)
    check(f"first tile ≤ 1.5× cold read, {big}²", r.get("first_tile", {}).get("median"),
          None if cold is None else 1.5 * cold)
    if "cursor" in res:
        c = res["cursor"]
        check(f"cursor round trip p99, {c['size']}²", c["p99"], 0.005, "ms")
    pixel_bytes = big * big * 4
    rss = r.get("peak_rss_bytes")
    out.append({"target": f"peak RSS after opening {big}² ≤ 1.2× pixel bytes",
                "measured": "–" if rss is None else f"{rss / 2**20:.0f} MiB ({rss / pixel_bytes:.2f}×)",
                "limit": f"{1.2 * pixel_bytes / 2**20:.0f} MiB", "met": rss is not None and rss <= 1.2 * pixel_bytes})
    worst = None
    for n in sizes:
        if n < 4000:
            continue
        for e in EXPERIMENTS:
            d, c = res[str(n)][e].get("dask"), res[str(n)][e].get("cartaflow")
            if d and c:
                ratio = d["median"] / c["median"]
                worst = ratio if worst is None else min(worst, ratio)
    out.append({"target": "≥ 20× faster than Dask at every size ≥ 4000², every experiment",
                "measured": "–" if worst is None else f"worst {worst:.1f}×", "limit": "20×",
                "met": worst is not None and worst >= 20})
    return out


def write_report(out_dir, result):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    sizes, res = result["sizes"], result["results"]
    methods = ["cartaflow", "dask", "numpy", "machine limit"]
    lines = ["# cartaflow benchmark", "",
             f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
             f"{result['machine']['memory_gib']} GiB; page cache evicted with {result['machine']['eviction']}; "
             f"{result['runs']} runs each, medians (min–max).", ""]
    for e in EXPERIMENTS:
        lines += [f"## {e.replace('_', ' ')}", "",
                  "| size | " + " | ".join(methods) + " | Dask / cartaflow |",
                  "|---|" + "---|" * (len(methods) + 1)]
        for n in sizes:
            row = res[str(n)][e]
            cells = []
            for m in methods:
                s = row.get(m)
                cells.append("–" if s is None else f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})")
            ratio = "–"
            if row.get("dask") and row.get("cartaflow"):
                ratio = f"{row['dask']['median'] / row['cartaflow']['median']:.1f}×"
            lines.append(f"| {n}² | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    lines += ["## Other measurements", "", "| size | first tile (OPEN_FILE → RASTER_TILE_DATA, cold) | cold read |"
              " peak RSS after opening | pixel bytes |", "|---|---|---|---|---|"]
    for n in sizes:
        r = res[str(n)]
        rss = r.get("peak_rss_bytes")
        lines.append(f"| {n}² | {fmt(r['first_tile']['median'])} | {fmt(r['stats_disk']['machine limit']['median'])}"
                     f" | {'–' if rss is None else f'{rss / 2**20:.0f} MiB'} | {n * n * 4 / 2**20:.0f} MiB |")
    if "cursor" in res:
        c = res["cursor"]
        lines += ["", f"Cursor (SET_CURSOR → SPATIAL_PROFILE_DATA, {c['n']} moves, {c['size']}²): "
                  f"p50 {c['p50'] * 1e3:.2f} ms, p99 {c['p99'] * 1e3:.2f} ms, max {c['max'] * 1e3:.2f} ms."]
    lines += ["", "## Targets", "", "| target | measured | limit | met |", "|---|---|---|---|"]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {t['limit']} | {'yes' if t['met'] else '**no**'} |")
    lines += ["", "The seed's 20000² figures (4-core VM): " + "; ".join(
        f"{e.replace('_', ' ')}: " + ", ".join(f"{k} {v} s" for k, v in SEED_20000[e].items())
        for e in EXPERIMENTS) + "."]
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no figure")
        return
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    styles = {"cartaflow": "o-", "dask": "s--", "numpy": "^:", "machine limit": "k-"}
    for ax, e in zip(axes.flat, EXPERIMENTS):
        for m in methods:
            xs = [n for n in sizes if m in res[str(n)][e]]
            if xs:
                ax.plot([n * n / 1e6 for n in xs], [res[str(n)][e][m]["median"] for n in xs], styles[m], label=m)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(e.replace("_", " "))
        ax.set_xlabel("image size (megapixels)")
        ax.set_ylabel("time (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"cartaflow vs peers, {result['machine']['cores']} cores ({result['machine']['cpu']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "figure.png"), dpi=110)


# ---------------------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        method, kind, mode, path, runs = sys.argv[2:7]
        peer_main(method, kind, mode, path, int(runs))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,2000,4000,8000,12000,16000,20000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--data", default=os.path.join(ROOT, "bench", "data"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "cartaflow"))
    ap.add_argument("--client", default=os.path.join(ROOT, "target", "release", "examples", "bench_client"))
    ap.add_argument("--cursor-size", type=int, default=4000)
    ap.add_argument("--cursor-moves", type=int, default=1000)
    ap.add_argument("--no-peers", action="store_true", help="cartaflow and the machine limits only")
    args = ap.parse_args()
    args.data = os.path.abspath(args.data)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    os.makedirs(args.data, exist_ok=True)
    free = os.statvfs(args.data)
    need = sum(n * n * 4 for n in sizes if not os.path.exists(image_path(args.data, n)))
    if need > free.f_bavail * free.f_frsize * 0.9:
        sys.exit(f"bench: not enough disk for the images ({need / 1e9:.1f} GB needed); use --sizes")
    for n in sizes:
        make_image(image_path(args.data, n), n)
    res = {}
    for n in sizes:
        path = image_path(args.data, n)
        r = {e: {} for e in EXPERIMENTS}
        log(f"{n}²: cartaflow")
        t, rss = cartaflow_disk(args, path, "stats", args.runs)
        r["stats_disk"]["cartaflow"] = summary(t)
        t, rss2 = cartaflow_disk(args, path, "histogram", args.runs)
        r["histogram_disk"]["cartaflow"] = summary(t)
        t, rss3 = cartaflow_disk(args, path, "tile", args.runs)
        r["first_tile"] = summary(t)
        r["peak_rss_bytes"] = max(x for x in rss + rss2 + rss3 if x is not None)
        s, h = cartaflow_memory(args, path, args.runs)
        r["stats_memory"]["cartaflow"], r["histogram_memory"]["cartaflow"] = summary(s), summary(h)
        log(f"{n}²: machine limits")
        cold = summary(limit_disk(args, path, args.runs))
        r["stats_disk"]["machine limit"] = r["histogram_disk"]["machine limit"] = cold
        mem = summary(limit_memory(args, n, args.runs))
        r["stats_memory"]["machine limit"] = r["histogram_memory"]["machine limit"] = mem
        if not args.no_peers:
            for method in ["dask", "numpy"]:
                log(f"{n}²: {method}")
                for e in EXPERIMENTS:
                    kind, mode = e.split("_")
                    r[e][method] = summary(peer(args, method, kind, mode, path, args.runs))
        res[str(n)] = r
        log(f"{n}²: " + ", ".join(f"{e} {fmt(r[e]['cartaflow']['median'])}" for e in EXPERIMENTS)
            + f", first tile {fmt(r['first_tile']['median'])}, cold read {fmt(cold['median'])}")
    cursor_n = max([n for n in sizes if n <= args.cursor_size] or [min(sizes)])
    log(f"cursor round trips on {cursor_n}²")
    c = cartaflow_cursor(args, image_path(args.data, cursor_n), args.cursor_moves)
    res["cursor"] = dict(c, size=cursor_n)
    result = {"machine": machine(), "sizes": sizes, "runs": args.runs, "results": res,
              "seed_20000": SEED_20000, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    result["targets"] = targets(res, sizes)
    write_report(args.out, result)
    log(f"wrote {args.out}/results.md, results.json, figure.png")
    print(open(os.path.join(args.out, "results.md")).read())


if __name__ == "__main__":
    main()
