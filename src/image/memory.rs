//! An image held in memory as a [`PixelSource`]: what the server makes itself (moment maps, PV images, fitting
//! models and residuals, expression results). Pixels are stored in FITS order (x fastest); the header is the
//! generator's, so the WCS and file info work as for a file. It has no path: its identity is a process-unique
//! number.

use std::ops::Range;

use super::header::Header;
use super::source::{ImageShape, PixelSource, Plane, SourceIdentity, SourceKind};
use super::ImageError;

/// A generated image.
pub struct MemoryImage {
    name: String,
    header: Header,
    shape: ImageShape,
    identity: SourceIdentity,
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
            header,
            shape,
            identity: SourceIdentity::generated(),
            pixels,
        })
    }

    /// The name it is shown under (what a file name is for a file).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn plane_pixels(&self, plane: Plane) -> &[f32] {
        let start = self.shape.plane_index(plane) * self.shape.plane_len();
        &self.pixels[start..start + self.shape.plane_len()]
    }
}

impl PixelSource for MemoryImage {
    fn shape(&self) -> &ImageShape {
        &self.shape
    }

    fn header(&self) -> &Header {
        &self.header
    }

    fn identity(&self) -> &SourceIdentity {
        &self.identity
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Generated
    }

    fn hdu(&self) -> &str {
        ""
    }

    fn read_rows(
        &self,
        plane: Plane,
        rows: Range<usize>,
        visit: &mut dyn FnMut(&[f32]),
    ) -> Result<Vec<f32>, ImageError> {
        self.shape.check(plane, &rows)?;
        let w = self.shape.width;
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
        if x >= self.shape.width || channels.end > self.shape.depth {
            return Err(ImageError::OutOfRange(format!("pixel ({x}, {y})")));
        }
        channels
            .map(|channel| {
                let plane = Plane { channel, stokes };
                self.shape.check(plane, &(y..y + 1))?;
                Ok(self.plane_pixels(plane)[y * self.shape.width + x])
            })
            .collect()
    }
}
