//! Criterion micro-benchmarks of the pure kernels: fused statistics and histogram counting (the dispatched
//! build, AVX2 where the CPU has it, against the portable build), NaN-aware block averaging for a tile, NaN run
//! lengths, ZFP compression of a tile and region row spans. `cargo bench --bench kernels`.

use std::hint::black_box;

use cartaflow::analysis::histogram::{count_bins_portable, Histogram};
use cartaflow::analysis::region::Shape;
use cartaflow::analysis::stats::{basic_stats_portable, BasicStats};
use cartaflow::tiles::downsample::BlockSums;
use cartaflow::tiles::{nan, zfp, TileBounds, TileId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Deterministic pseudo-Gaussian values (sum of uniforms), with a NaN every 997 values.
fn data(n: usize) -> Vec<f32> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..n)
        .map(|i| {
            if i % 997 == 0 {
                f32::NAN
            } else {
                next() + next() + next() + next() - 2.0
            }
        })
        .collect()
}

fn stats(c: &mut Criterion) {
    let mut g = c.benchmark_group("stats");
    for n in [1 << 16, 1 << 22] {
        let d = data(n);
        g.throughput(Throughput::Bytes((n * 4) as u64));
        g.bench_with_input(BenchmarkId::new("dispatched", n), &d, |b, d| {
            b.iter(|| BasicStats::of(black_box(d)))
        });
        g.bench_with_input(BenchmarkId::new("portable", n), &d, |b, d| {
            b.iter(|| basic_stats_portable(black_box(d)))
        });
    }
    g.finish();
}

fn histogram(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram");
    let n = 1 << 22;
    let d = data(n);
    g.throughput(Throughput::Bytes((n * 4) as u64));
    for bins in [64, 2048, 20000] {
        g.bench_with_input(BenchmarkId::new("dispatched", bins), &bins, |b, &bins| {
            b.iter(|| {
                let mut h = Histogram::new(-2.0, 2.0, bins);
                h.add(black_box(&d));
                h
            })
        });
        g.bench_with_input(BenchmarkId::new("portable", bins), &bins, |b, &bins| {
            b.iter(|| {
                let mut h = Histogram::new(-2.0, 2.0, bins);
                count_bins_portable(&mut h, black_box(&d));
                h
            })
        });
    }
    g.finish();
}

fn tiles(c: &mut Criterion) {
    let mut g = c.benchmark_group("tiles");
    let (w, h) = (4096, 1024);
    let d = data(w * h);
    g.throughput(Throughput::Bytes((w * h * 4) as u64));
    // Layer 0 of a 4096-wide image: one tile at mip 16 over these rows.
    let bounds = TileBounds::of(
        TileId {
            x: 0,
            y: 0,
            layer: 0,
        },
        w,
        h,
    )
    .expect("tile");
    g.bench_function("block_sums_mip16", |b| {
        b.iter(|| {
            let mut s = BlockSums::new(bounds);
            s.add_rows(black_box(&d), w, 0);
            s
        })
    });
    g.bench_function("block_sums_mip16_portable", |b| {
        b.iter(|| {
            let mut s = BlockSums::new(bounds);
            s.add_rows_portable(black_box(&d), w, 0);
            s
        })
    });
    // A 32768-wide image's layer 0 (mip 128, as for the 20000² benchmark image) over a 1024-row strip.
    let (w2, h2) = (32768, 1024);
    let d2 = data(w2 * h2);
    let bounds2 = TileBounds::of(
        TileId {
            x: 0,
            y: 0,
            layer: 0,
        },
        w2,
        h2,
    )
    .expect("tile");
    g.throughput(Throughput::Bytes((w2 * h2 * 4) as u64));
    g.bench_function("block_sums_mip128", |b| {
        b.iter(|| {
            let mut s = BlockSums::new(bounds2);
            s.add_rows(black_box(&d2), w2, 0);
            s
        })
    });
    let tile = data(256 * 256);
    g.throughput(Throughput::Bytes((256 * 256 * 4) as u64));
    g.bench_function("nan_runs_256", |b| {
        b.iter(|| nan::run_lengths(black_box(&tile)))
    });
    let mut filled = tile.clone();
    nan::fill_for_compression(&mut filled, 256, 256);
    g.bench_function("zfp_256_p11", |b| {
        b.iter(|| zfp::compress(black_box(&filled), 256, 256, 11))
    });
    g.finish();
}

fn regions(c: &mut Criterion) {
    let mut g = c.benchmark_group("regions");
    let ellipse = Shape::Ellipse {
        cx: 2000.0,
        cy: 2000.0,
        semi_x: 1500.0,
        semi_y: 900.0,
        rotation_deg: 30.0,
    };
    g.bench_function("ellipse_row_spans_4000", |b| {
        b.iter(|| {
            (0..4000)
                .map(|y| ellipse.row_spans(y, 4000).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, stats, histogram, tiles, regions);
criterion_main!(benches);
