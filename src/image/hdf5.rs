//! HDF5 images in the IDIA schema (what CARTA's fits2idia writes): group `0` holds `DATA` ordered
//! [stokes][z][y][x] and the FITS header as attributes, in header order. This module reads the structure and the
//! header; pixel access comes with the file actors.

use std::path::Path;

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Attribute, File, Group, IndexType, IterationOrder, Selection};

use super::header::{Card, Header, Value};
use super::ImageError;

/// The name of the main dataset inside an HDU group.
pub const DATA: &str = "DATA";

/// One HDU group's header and shape.
#[derive(Debug, Clone)]
pub struct Hdf5Image {
    pub hdu: String,
    pub header: Header,
    /// Axis lengths in FITS order (x first).
    pub shape: Vec<usize>,
    pub has_mipmaps: bool,
}

fn h5err(e: hdf5::Error) -> ImageError {
    ImageError::Hdf5(e.to_string())
}

fn open(path: &Path) -> Result<File, ImageError> {
    // HDF5 prints its error stack to stderr by default; errors are reported through our own types instead.
    hdf5::silence_errors(true);
    File::open(path).map_err(h5err)
}

/// The top-level group names: the "HDUs" of an IDIA file.
pub fn hdu_names(path: &Path) -> Result<Vec<String>, ImageError> {
    let file = open(path)?;
    let mut names = file.member_names().map_err(h5err)?;
    names.retain(|n| file.group(n).is_ok());
    Ok(names)
}

fn attribute_value(attr: &Attribute) -> Option<Value> {
    let descriptor = attr.dtype().ok()?.to_descriptor().ok()?;
    if !attr.is_scalar() && attr.size() != 1 {
        return None;
    }
    Some(match descriptor {
        TypeDescriptor::Boolean
        | TypeDescriptor::Enum(_)
        | TypeDescriptor::Unsigned(hdf5::types::IntSize::U1) => {
            Value::Logical(attr.read_raw::<u8>().ok()?.first().copied()? != 0)
        }
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            Value::Int(*attr.read_raw::<i64>().ok()?.first()?)
        }
        TypeDescriptor::Float(_) => Value::Float(*attr.read_raw::<f64>().ok()?.first()?),
        TypeDescriptor::FixedAscii(_) => Value::Text(
            attr.read_raw::<FixedAscii<4096>>()
                .ok()?
                .first()?
                .as_str()
                .to_string(),
        ),
        TypeDescriptor::FixedUnicode(_) => Value::Text(
            attr.read_raw::<FixedUnicode<4096>>()
                .ok()?
                .first()?
                .as_str()
                .to_string(),
        ),
        TypeDescriptor::VarLenAscii => Value::Text(
            attr.read_raw::<VarLenAscii>()
                .ok()?
                .first()?
                .as_str()
                .to_string(),
        ),
        TypeDescriptor::VarLenUnicode => Value::Text(
            attr.read_raw::<VarLenUnicode>()
                .ok()?
                .first()?
                .as_str()
                .to_string(),
        ),
        _ => return None,
    })
}

/// The group's attributes as header cards, in creation order when tracked, else in storage order.
fn header_of(group: &Group) -> Header {
    let names = group
        .attr_names_by(IndexType::CreationOrder, IterationOrder::Increasing)
        .or_else(|_| group.attr_names_by(IndexType::Name, IterationOrder::Native))
        .unwrap_or_default();
    let cards = names.into_iter().filter_map(|name| {
        let attr = group.attr(&name).ok()?;
        let mut value = attribute_value(&attr)?;
        if let Value::Text(t) = &value {
            let trimmed = t.trim_end_matches(['\0', ' ']).to_string();
            value = Value::Text(trimmed);
        }
        Some(Card {
            keyword: name,
            value: Some(value),
            comment: String::new(),
            text: String::new(),
        })
    });
    Header::from_cards(cards)
}

/// Reads the header and shape of one HDU group (`""` means `"0"`).
pub fn read_image(path: &Path, hdu: &str) -> Result<Hdf5Image, ImageError> {
    let file = open(path)?;
    let name = match hdu.split(':').next().unwrap_or("").trim() {
        "" => "0",
        n => n,
    };
    let group = file
        .group(name)
        .map_err(|_| ImageError::NoSuchHdu(name.to_string()))?;
    let data = group
        .dataset(DATA)
        .map_err(|_| ImageError::NotAnImage(format!("group '{name}' has no {DATA} dataset")))?;
    let mut shape = data.shape();
    if !(2..=4).contains(&shape.len()) {
        return Err(ImageError::NotAnImage(format!(
            "{DATA} has {} dimensions; 2 to 4 are supported",
            shape.len()
        )));
    }
    shape.reverse();
    let has_mipmaps = group.dataset("MipMaps/DATA/DATA_XY_2").is_ok();
    Ok(Hdf5Image {
        hdu: name.to_string(),
        header: header_of(&group),
        shape,
        has_mipmaps,
    })
}

/// The mip levels `m` of `MipMaps/DATA/DATA_XY_<m>` in an HDU group, ascending.
pub fn mip_levels(path: &Path, hdu: &str) -> Result<Vec<usize>, ImageError> {
    let file = open(path)?;
    let Ok(group) = file.group(&format!("{hdu}/MipMaps/DATA")) else {
        return Ok(Vec::new());
    };
    let mut levels: Vec<usize> = group
        .member_names()
        .map_err(h5err)?
        .iter()
        .filter_map(|n| n.strip_prefix("DATA_XY_")?.parse().ok())
        .filter(|m| *m >= 2)
        .collect();
    levels.sort_unstable();
    Ok(levels)
}

/// Reads a selection of dataset `name` in group `hdu` as f32 (NaN stays NaN).
pub fn read_selection(
    path: &Path,
    hdu: &str,
    name: &str,
    selection: Selection,
) -> Result<Vec<f32>, ImageError> {
    let file = open(path)?;
    let dataset = file.dataset(&format!("{hdu}/{name}")).map_err(h5err)?;
    let array = dataset
        .read_slice::<f32, _, ndarray::IxDyn>(selection)
        .map_err(h5err)?;
    let (values, _) = array.into_raw_vec_and_offset();
    Ok(values)
}

/// The chunk shape of dataset `name` in group `hdu` (slowest axis first), or None when it is contiguous.
pub fn chunk_shape(path: &Path, hdu: &str, name: &str) -> Result<Option<Vec<usize>>, ImageError> {
    let file = open(path)?;
    let dataset = file.dataset(&format!("{hdu}/{name}")).map_err(h5err)?;
    Ok(dataset.chunk())
}

/// Every value of numeric dataset `name` in group `hdu` as f64, flattened (a scalar gives one value).
pub fn read_numbers(path: &Path, hdu: &str, name: &str) -> Result<Vec<f64>, ImageError> {
    let file = open(path)?;
    let dataset = file.dataset(&format!("{hdu}/{name}")).map_err(h5err)?;
    dataset.read_raw::<f64>().map_err(h5err)
}

/// Integer dataset `name` in group `hdu`, flattened, with the length of its last axis.
pub fn read_counts(path: &Path, hdu: &str, name: &str) -> Result<(Vec<i64>, usize), ImageError> {
    let file = open(path)?;
    let dataset = file.dataset(&format!("{hdu}/{name}")).map_err(h5err)?;
    let bins = dataset.shape().last().copied().unwrap_or(1);
    Ok((dataset.read_raw::<i64>().map_err(h5err)?, bins))
}

/// The shape of dataset `name` in group `hdu` (slowest axis first), or None when there is no such dataset.
pub fn dataset_shape(path: &Path, hdu: &str, name: &str) -> Result<Option<Vec<usize>>, ImageError> {
    let file = open(path)?;
    Ok(file
        .dataset(&format!("{hdu}/{name}"))
        .ok()
        .map(|d| d.shape()))
}

/// Where a contiguous, unfiltered, little-endian float32 dataset's values start in the file, if it is one:
/// such a dataset can be read with plain positioned reads, in parallel and without the HDF5 library.
pub fn contiguous_f32_offset(path: &Path, hdu: &str, name: &str) -> Option<u64> {
    let file = open(path).ok()?;
    let dataset = file.dataset(&format!("{hdu}/{name}")).ok()?;
    let dtype = dataset.dtype().ok()?;
    let float32 = matches!(
        dtype.to_descriptor().ok()?,
        hdf5::types::TypeDescriptor::Float(hdf5::types::FloatSize::U4)
    );
    let little = matches!(dtype.byte_order(), hdf5::datatype::ByteOrder::LittleEndian);
    (float32 && little && !dataset.is_chunked() && dataset.filters().is_empty())
        .then(|| dataset.offset())
        .flatten()
}
