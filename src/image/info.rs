//! Builds the `FileInfoExtended` message from a parsed header and shape (dimensions, header entries, computed
//! entries and axis numbers), and the whole description of an opened image for its OPEN_FILE_ACK.

use super::computed::{axis_roles, computed_entries, EntryValue, ImageShapeInfo};
use super::header::Header;
use super::source::{PixelSource, SourceKind};
use super::wcs::{Keywords, Wcs};
use crate::protocol::pb::{self, EntryType, FileType};

/// What OPEN_FILE_ACK tells the frontend about an opened image.
#[derive(Debug, Clone)]
pub struct Description {
    pub file_info: pb::FileInfo,
    pub extended: pb::FileInfoExtended,
    /// The beam table: one beam for the whole image, or one per channel and Stokes; empty without a beam.
    pub beams: Vec<pb::Beam>,
    /// The image's world coordinate system (regions convert through it).
    pub wcs: Wcs,
}

/// The description of an opened image shown as `name`.
pub fn describe(source: &dyn PixelSource, name: &str) -> Description {
    let file_type = match source.kind() {
        SourceKind::Fits => FileType::Fits,
        SourceKind::Hdf5 => FileType::Hdf5,
        // carta_backend opens generated images as CASA images.
        SourceKind::Generated => FileType::Casa,
    };
    let meta = source
        .identity()
        .path()
        .and_then(|p| std::fs::metadata(p).ok());
    let mut file_info = pb::FileInfo {
        name: name.to_string(),
        size: meta.as_ref().map(|m| m.len() as i64).unwrap_or(0),
        date: meta.as_ref().map(super::modified_seconds).unwrap_or(0),
        hdu_list: vec![source.hdu().to_string()],
        ..Default::default()
    };
    file_info.set_type(file_type);
    let extended = extended_info(&ExtendedInfoInput {
        name,
        hdu: source.hdu(),
        extname: source.extname().map(str::to_string),
        header: source.header(),
        shape: &source.shape().dims,
        has_mipmaps: !source.mip_levels().is_empty(),
    });
    let beams = source
        .beams()
        .iter()
        .map(|b| pb::Beam {
            channel: b.channel,
            stokes: b.stokes,
            major_axis: b.major_arcsec as f32,
            minor_axis: b.minor_arcsec as f32,
            pa: b.pa_deg as f32,
        })
        .collect();
    Description {
        file_info,
        extended,
        beams,
        wcs: Wcs::from_keywords(source.header(), source.shape().dims.len()),
    }
}

impl Keywords for Header {
    fn number(&self, key: &str) -> Option<f64> {
        Header::number(self, key)
    }

    fn text(&self, key: &str) -> Option<String> {
        Header::text(self, key)
    }
}

/// What the description of one image HDU is made from.
pub struct ExtendedInfoInput<'a> {
    pub name: &'a str,
    pub hdu: &'a str,
    pub extname: Option<String>,
    pub header: &'a Header,
    /// FITS order: NAXIS1 first.
    pub shape: &'a [usize],
    pub has_mipmaps: bool,
}

fn axis_len(shape: &[usize], axis: i32) -> i32 {
    usize::try_from(axis - 1)
        .ok()
        .and_then(|i| shape.get(i))
        .map(|n| i32::try_from(*n).unwrap_or(i32::MAX))
        .unwrap_or(1)
}

/// The `FileInfoExtended` for one image.
pub fn extended_info(input: &ExtendedInfoInput) -> pb::FileInfoExtended {
    let shape = input.shape;
    let roles = axis_roles(input.header, shape);
    let computed = computed_entries(
        input.header,
        &ImageShapeInfo {
            name: input.name.to_string(),
            hdu: input.hdu.to_string(),
            extname: input.extname.clone(),
            shape: shape.to_vec(),
            has_mipmaps: input.has_mipmaps,
        },
    );
    let computed_entries = computed
        .into_iter()
        .map(|c| {
            let mut e = pb::HeaderEntry {
                name: c.name,
                comment: c.comment,
                ..Default::default()
            };
            match c.value {
                EntryValue::Text(t) => {
                    e.value = t;
                    e.set_entry_type(EntryType::String);
                }
                EntryValue::Float(f) => {
                    e.value = f.to_string();
                    e.numeric_value = f;
                    e.set_entry_type(EntryType::Float);
                }
                EntryValue::Int(i) => {
                    e.value = i.to_string();
                    e.numeric_value = i as f64;
                    e.set_entry_type(EntryType::Int);
                }
            }
            e
        })
        .collect();
    let depth_axis = roles.depth;
    pb::FileInfoExtended {
        dimensions: i32::try_from(shape.len()).unwrap_or(0),
        width: axis_len(shape, roles.render_x),
        height: axis_len(shape, roles.render_y),
        depth: if depth_axis > 0 {
            axis_len(shape, depth_axis)
        } else {
            1
        },
        stokes: if roles.stokes > 0 {
            axis_len(shape, roles.stokes)
        } else {
            1
        },
        stokes_vals: Vec::new(),
        header_entries: input.header.entries(),
        computed_entries,
        axes_numbers: Some(pb::AxesNumbers {
            spatial_x: roles.spatial_x,
            spatial_y: roles.spatial_y,
            spectral: roles.spectral,
            stokes: roles.stokes,
            depth: roles.depth,
        }),
    }
}
