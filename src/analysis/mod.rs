//! Pure computation over pixel slices, with partial results that merge: basic statistics (one fused pass,
//! f64 accumulators, mergeable variance) and histograms with the bin rule the frontend expects.

pub mod contour;
pub mod histogram;
pub mod line_boxes;
pub mod per_channel;
pub mod polarization;
pub mod profile;
pub mod region;
pub mod smoothing;
pub mod stats;
pub mod vectors;
