//! An image held in memory as a [`PixelSource`]: what the server makes itself (moment maps, PV images, fitting
//! models and residuals, expression results). Pixels are stored in FITS order (x fastest); the header is the
//! generator's, so the WCS and file info work as for a file. It has no path: its identity is a process-unique
//! number.

use std::ops::Range;

use super::header::Header;
use super::source::{ImageShape, PixelSource, Plane, SourceIdentity, SourceInfo, SourceKind};
use super::ImageError;

/// A generated image.
pub struct MemoryImage {
    name: String,
    info: SourceInfo,
    pixels: Vec<f32>,
}

impl MemoryImage {
    /// An image of axis lengths `dims` (FITS order) described by `header`, with `pixels` in FITS order.
    pub fn new(
        name: impl Into<String>,
        header: Header,
        dims: Vec<usize>,
        pixels: Vec<f32>,
    ) -> Result<MemoryImage, ImageError> {
        let shape = ImageShape::new(dims, &header)?;
        if shape.total_len() != Some(pixels.len()) {
            return Err(ImageError::OutOfRange(format!(
                "{} pixels for an image of shape {:?}",
                pixels.len(),
                shape.dims
            )));
        }
        Ok(MemoryImage {
            name: name.into(),
            info: SourceInfo {
                header,
                shape,
                identity: SourceIdentity::generated(),
                kind: SourceKind::Generated,
                hdu: String::new(),
                extname: None,
            },
            pixels,
        })
    }

    /// The name it is shown under (what a file name is for a file).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn plane_pixels(&self, plane: Plane) -> &[f32] {
        let start = self.info.shape.plane_index(plane) * self.info.shape.plane_len();
        &self.pixels[start..start + self.info.shape.plane_len()]
    }
}

impl PixelSource for MemoryImage {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read_rows(
        &self,
        plane: Plane,
        rows: Range<usize>,
        visit: &mut dyn FnMut(&[f32]),
    ) -> Result<Vec<f32>, ImageError> {
        self.info.shape.check(plane, &rows)?;
        let w = self.info.shape.width;
        let values = self.plane_pixels(plane)[rows.start * w..rows.end * w].to_vec();
        visit(&values);
        Ok(values)
    }

    fn read_spectrum(
        &self,
        x: usize,
        y: usize,
        stokes: usize,
        channels: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        if x >= self.info.shape.width || channels.end > self.info.shape.depth {
            return Err(ImageError::OutOfRange(format!("pixel ({x}, {y})")));
        }
        channels
            .map(|channel| {
                let plane = Plane { channel, stokes };
                self.info.shape.check(plane, &(y..y + 1))?;
                Ok(self.plane_pixels(plane)[y * self.info.shape.width + x])
            })
            .collect()
    }
}
