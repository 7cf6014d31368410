//! Spectra in spectral order: IDIA HDF5 `SwizzledData` and the spectral-order index cartaflow builds for FITS
//! cubes (in memory and, past the memory budget, on disk) answer exactly what the plain reads answer: every
//! pixel's spectrum, a block visited in spectral order, each plane's statistics and histogram, and each cube's
//! statistics and histogram against a direct computation over the planes. Then through the server: cursor and
//! region spectra of a FITS cube once its index is ready against numpy.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cartaflow::analysis::histogram::{auto_bins, Histogram};
use cartaflow::analysis::stats::BasicStats;
use cartaflow::image::spectral::{self, IndexSettings, IndexState, SpectralOrder};
use cartaflow::image::{self, PixelSource, Plane};
use common::{fixtures, write_fits_cube};

fn plain_spectrum(source: &dyn PixelSource, x: usize, y: usize, stokes: usize) -> Vec<f32> {
    source
        .read_spectrum(x, y, stokes, 0..source.shape().depth)
        .expect("plain spectrum")
}

/// Every pixel's spectrum and one visited block of `order` against the plain reads of `source`.
fn check_order(what: &str, source: &dyn PixelSource, order: &dyn SpectralOrder) {
    let shape = source.shape().clone();
    for stokes in 0..shape.stokes {
        for y in 0..shape.height {
            for x in 0..shape.width {
                let want = plain_spectrum(source, x, y, stokes);
                let got = order
                    .spectrum(x, y, stokes, 0..shape.depth)
                    .expect("ordered spectrum");
                assert_eq!(
                    got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{what}: spectrum at ({x}, {y}) Stokes {stokes}"
                );
            }
        }
        // A block with a channel range that starts and ends inside blocks of the index.
        let (xs, ys) = (1..shape.width - 1, 2..shape.height - 1);
        let channels = 1..shape.depth - 1;
        let mut seen = 0;
        order
            .visit(
                stokes,
                xs.clone(),
                ys.clone(),
                channels.clone(),
                &mut |run| {
                    for p in 0..run.len() {
                        let (x, y) = run.at(p);
                        for (i, v) in run.pixel(p).iter().enumerate() {
                            let c = run.c0 + i;
                            let plane = Plane { channel: c, stokes };
                            let want = source
                                .read_hyperslab(plane, x..x + 1, y..y + 1)
                                .expect("pixel");
                            assert_eq!(v.to_bits(), want[0].to_bits(), "{what}: ({x},{y},{c})");
                            seen += 1;
                        }
                    }
                },
            )
            .expect("visit");
        assert_eq!(
            seen,
            xs.len() * ys.len() * channels.len(),
            "{what}: values visited"
        );
    }
}

#[test]
fn swizzled_data_equals_the_plain_read() {
    for rel in ["hdf5/idia_4d.hdf5", "images/idia.hdf5"] {
        let source = image::open(&fixtures().join(rel), "").expect("opens");
        if source.shape().depth < 2 {
            assert!(
                source.stored_spectral_order().is_none(),
                "{rel}: no copy for a 2D image"
            );
            continue;
        }
        let order = source
            .stored_spectral_order()
            .unwrap_or_else(|| panic!("{rel} has SwizzledData"));
        check_order(rel, &*source, &*order);
        // The cube statistics are the file's Statistics/XYZ (float32 sums by the schema).
        let cube = source.known_cube_statistics(0).expect("Statistics/XYZ");
        let planes = (0..source.shape().depth).fold(BasicStats::default(), |a, channel| {
            a.merge(BasicStats::of(
                &source
                    .rows(Plane { channel, stokes: 0 }, 0..source.shape().height)
                    .expect("plane"),
            ))
        });
        assert_eq!(cube.stats.count, planes.count, "{rel}");
        assert_eq!(cube.stats.min, planes.min, "{rel}");
        assert_eq!(cube.stats.max, planes.max, "{rel}");
        assert!(
            (cube.stats.sum - planes.sum).abs() <= 1e-6 * planes.sum.abs(),
            "{rel}"
        );
    }
}

/// Waits for the index of `slot` to be ready.
fn wait_ready(slot: &spectral::IndexSlot) -> Arc<spectral::SpectralIndex> {
    let start = Instant::now();
    loop {
        match slot.state() {
            IndexState::Ready(index) => return index,
            IndexState::Failed(e) => panic!("index failed: {e}"),
            IndexState::Building { .. } => {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "index not ready in 60 s"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

#[test]
fn the_spectral_index_equals_the_plain_read_in_memory_and_on_disk() {
    let dir = std::env::temp_dir().join(format!("cartaflow-index-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // 37 channels: two full blocks of 16 and a short one; NaNs and infinities in some planes.
    let path = dir.join("cube.fits");
    write_fits_cube(&path, 9, 7, 37, |x, y, z| match (x + 3 * y + 5 * z) % 23 {
        0 => f32::NAN,
        1 if z == 4 => f32::INFINITY,
        _ => (x as f32 * 0.5 - y as f32 * 1.25) + z as f32 * 3.0 + 1000.0,
    });
    for (what, budget) in [("in memory", 1u64 << 30), ("on disk", 0)] {
        // A copy per case: the index is shared per file, and each case must build its own.
        let copy = dir.join(format!("cube-{}.fits", budget));
        std::fs::copy(&path, &copy).expect("copy");
        let source = image::open(&copy, "").expect("opens");
        let settings = IndexSettings {
            enabled: true,
            memory_budget: budget,
            folder: dir.join("cache"),
        };
        let slot = spectral::ensure(source.clone(), &settings).expect("a cube gets an index");
        let index = wait_ready(&slot);
        let order = source
            .spectral_order()
            .expect("the ready index serves the source");
        check_order(what, &*source, &*order);
        let shape = source.shape().clone();
        let bins = auto_bins(shape.width, shape.height);
        let mut cube = BasicStats::default();
        let mut planes = Vec::new();
        for channel in 0..shape.depth {
            let plane = Plane { channel, stokes: 0 };
            let pixels = source.rows(plane, 0..shape.height).expect("plane");
            let want = BasicStats::of(&pixels);
            let got = index.plane(plane).expect("plane statistics");
            assert_eq!(got.stats, want, "{what}: channel {channel} statistics");
            let (min, max) = want.range().expect("finite");
            let mut h = Histogram::new(min, max, bins);
            h.add(&pixels);
            assert_eq!(
                got.histogram.as_ref(),
                Some(&h.bins),
                "{what}: channel {channel} histogram"
            );
            cube = cube.merge(want);
            planes.push(pixels);
        }
        let got = index.cube(0).expect("cube statistics");
        assert_eq!(got.stats.count, cube.count, "{what}");
        assert!(
            (got.stats.sum - cube.sum).abs() <= 1e-12 * cube.sum.abs(),
            "{what}"
        );
        let (min, max) = cube.range().expect("finite");
        let mut h = Histogram::new(min, max, bins);
        for p in &planes {
            h.add(p);
        }
        assert_eq!(
            got.histogram.as_ref(),
            Some(&h.bins),
            "{what}: cube histogram"
        );
        let on_disk = std::fs::read_dir(dir.join("cache"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(
            on_disk > 0,
            budget == 0,
            "{what}: index file present only past the budget"
        );
        drop((order, index, slot, source));
        let left = std::fs::read_dir(dir.join("cache"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "{what}: the index file goes when the image closes");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
