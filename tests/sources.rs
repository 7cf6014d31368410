//! Pixel sources opened directly through `image::open`: stored statistics of IDIA HDF5 files against the
//! plane statistics numpy computed from the same pixels, and none for FITS.

mod common;

use cartaflow::image::{self, Plane};
use common::{expected, fixtures};

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1.0)
}

#[test]
fn hdf5_stored_statistics_match_the_pixels() {
    for rel in ["images/idia.hdf5", "hdf5/idia_4d.hdf5"] {
        let want = &expected()["files"][rel]["image_hdus"][0]["plane0_stats"];
        let source = image::open(&fixtures().join(rel), "").expect("opens");
        let stored = source
            .stored_statistics(Plane::FIRST)
            .unwrap_or_else(|| panic!("{rel} stores Statistics/XY"));
        let f = |k: &str| want[k].as_f64().unwrap_or(f64::NAN);
        // SUM and SUM_SQ are stored as float32 by the IDIA schema.
        assert!(
            close(stored.stats.min, f("min"), 1e-6),
            "{rel} min {}",
            stored.stats.min
        );
        assert!(
            close(stored.stats.max, f("max"), 1e-6),
            "{rel} max {}",
            stored.stats.max
        );
        assert!(
            close(stored.stats.sum, f("sum"), 1e-6),
            "{rel} sum {}",
            stored.stats.sum
        );
        assert!(
            close(stored.stats.sum_sq, f("sum_sq"), 1e-6),
            "{rel} sum_sq {}",
            stored.stats.sum_sq
        );
        assert_eq!(stored.stats.nan_count as f64, f("nan_count"), "{rel}");
        let bins = stored.histogram.expect("stored histogram");
        let counted: i64 = bins.iter().sum();
        assert_eq!(
            counted as f64,
            f("num_pixels"),
            "{rel}: every finite pixel is in a bin"
        );
        let shape = source.shape();
        let past = Plane {
            channel: shape.depth,
            stokes: 0,
        };
        assert!(
            source.stored_statistics(past).is_none(),
            "{rel}: no plane past the last"
        );
    }
    let fits = image::open(&fixtures().join("images/cube3d.fits"), "").expect("opens");
    assert!(fits.stored_statistics(Plane::FIRST).is_none());
}
