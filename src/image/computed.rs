//! TEMPORARY STUB (replaced by the real computed-entries module).
use super::wcs::Keywords;
pub struct ImageShapeInfo {
    pub name: String,
    pub hdu: String,
    pub extname: Option<String>,
    pub shape: Vec<usize>,
    pub has_mipmaps: bool,
}
pub struct ComputedEntry {
    pub name: String,
    pub value: EntryValue,
    pub comment: String,
}
pub enum EntryValue {
    Text(String),
    Float(f64),
    Int(i64),
}
pub struct AxisRoles {
    pub spatial_x: i32,
    pub spatial_y: i32,
    pub spectral: i32,
    pub stokes: i32,
    pub depth: i32,
}
pub fn axis_roles(_kw: &dyn Keywords, shape: &[usize]) -> AxisRoles {
    AxisRoles {
        spatial_x: 1,
        spatial_y: 2,
        spectral: if shape.len() > 2 { 3 } else { 0 },
        stokes: if shape.len() > 3 { 4 } else { 0 },
        depth: if shape.len() > 2 { 3 } else { 0 },
    }
}
pub fn computed_entries(_kw: &dyn Keywords, info: &ImageShapeInfo) -> Vec<ComputedEntry> {
    vec![ComputedEntry {
        name: "Name".into(),
        value: EntryValue::Text(info.name.clone()),
        comment: String::new(),
    }]
}
