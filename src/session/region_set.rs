//! `RegionSet`: the regions a session holds, kept as the client gave them (type, control points and rotation
//! in the pixel coordinates of the image they were drawn on, plus the style import and export carry), with new
//! ids handed out by the server with checked arithmetic and counts bounded by `[limits]`. The rasterisable
//! shape an image's analysis needs is derived from it, and control points convert to world coordinates and back
//! through an image's WCS (for region files and spatially matched images).

use std::collections::BTreeMap;

use crate::analysis::line_boxes::{LineKind, LinePath};
use crate::analysis::region::{RegionError, Shape};
use crate::image::wcs::Wcs;

/// The ICD's region types (RegionType): 0–6 analytic, 7–16 annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionType(pub i32);

impl RegionType {
    pub const POINT: RegionType = RegionType(0);
    pub const LINE: RegionType = RegionType(1);
    pub const POLYLINE: RegionType = RegionType(2);

    pub fn is_valid(self) -> bool {
        (0..=16).contains(&self.0)
    }

    pub fn is_annotation(self) -> bool {
        (7..=16).contains(&self.0)
    }

    /// Whether the region covers an area whose pixels can be analysed (not lines, polylines or annotations).
    pub fn has_area(self) -> bool {
        !(self == RegionType::LINE || self == RegionType::POLYLINE || self.is_annotation())
    }
}

/// How a region is drawn (what CRTF/DS9 files and the export dialog carry); empty until the client says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionStyle {
    pub name: String,
    pub color: String,
    pub line_width: i32,
    pub dash_list: Vec<i32>,
}

/// One region as the client gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The image whose pixel coordinates the control points are in.
    pub file_id: i32,
    pub kind: RegionType,
    /// 0-based image pixel coordinates (pixel centres at integers), as the ICD sends them.
    pub points: Vec<(f64, f64)>,
    pub rotation_deg: f64,
    pub style: RegionStyle,
}

impl Region {
    /// The shape whose pixels an analysis covers; `None` for regions without an area.
    pub fn shape(&self) -> Result<Option<Shape>, RegionError> {
        if !self.kind.has_area() {
            return Ok(None);
        }
        Shape::from_control_points(self.kind.0, &self.points, self.rotation_deg).map(Some)
    }

    /// The path of a line or polyline region (profiles and PV cuts are sampled along it).
    pub fn line_path(&self) -> Option<LinePath> {
        let kind = match self.kind {
            RegionType::LINE => LineKind::Line,
            RegionType::POLYLINE => LineKind::Polyline,
            _ => return None,
        };
        Some(LinePath {
            kind,
            points: self.points.clone(),
        })
    }
}

/// Why a region was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegionSetError {
    #[error("region id {0} is not valid (0 is the cursor; new regions use -1)")]
    BadId(i32),
    #[error("unknown region type {0}")]
    BadType(i32),
    #[error("{got} control points; the limit is {limit}")]
    TooManyPoints { got: usize, limit: usize },
    #[error("a session may hold {0} regions; remove some first")]
    TooManyRegions(usize),
    #[error("no region ids are left in this session")]
    IdsExhausted,
    #[error("Invalid region: control points must be finite numbers")]
    NotFinite,
    #[error("Invalid region: {0}")]
    Geometry(#[from] RegionError),
}

/// The session's regions.
#[derive(Debug)]
pub struct RegionSet {
    regions: BTreeMap<i32, Region>,
    last_id: i32,
    max_regions: usize,
    max_points: usize,
}

impl RegionSet {
    pub fn new(max_regions: usize, max_points: usize) -> RegionSet {
        RegionSet {
            regions: BTreeMap::new(),
            last_id: 0,
            max_regions,
            max_points,
        }
    }

    /// Checks a region's control points against the limit before they are copied anywhere.
    pub fn check_points(&self, count: usize) -> Result<(), RegionSetError> {
        if count > self.max_points {
            return Err(RegionSetError::TooManyPoints {
                got: count,
                limit: self.max_points,
            });
        }
        Ok(())
    }

    /// Creates (`requested_id` < 0: the server picks the next id) or replaces a region; returns its id.
    pub fn set(&mut self, requested_id: i32, region: Region) -> Result<i32, RegionSetError> {
        if !region.kind.is_valid() {
            return Err(RegionSetError::BadType(region.kind.0));
        }
        self.check_points(region.points.len())?;
        if region.points.is_empty()
            || region
                .points
                .iter()
                .any(|(x, y)| !x.is_finite() || !y.is_finite())
            || !region.rotation_deg.is_finite()
        {
            return Err(RegionSetError::NotFinite);
        }
        region.shape()?;
        let id = match requested_id {
            0 => return Err(RegionSetError::BadId(0)),
            id if id > 0 => id,
            _ => self
                .last_id
                .checked_add(1)
                .ok_or(RegionSetError::IdsExhausted)?,
        };
        if !self.regions.contains_key(&id) && self.regions.len() >= self.max_regions {
            return Err(RegionSetError::TooManyRegions(self.max_regions));
        }
        self.last_id = self.last_id.max(id);
        self.regions.insert(id, region);
        Ok(id)
    }

    pub fn get(&self, id: i32) -> Option<&Region> {
        self.regions.get(&id)
    }

    pub fn remove(&mut self, id: i32) -> Option<Region> {
        self.regions.remove(&id)
    }

    /// Forgets the regions drawn on a closed image; returns their ids.
    pub fn remove_file(&mut self, file_id: i32) -> Vec<i32> {
        let ids: Vec<i32> = self
            .regions
            .iter()
            .filter(|(_, r)| r.file_id == file_id)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.regions.remove(id);
        }
        ids
    }

    pub fn len(&self) -> usize {
        self.regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// A region's control points in world coordinates (degrees) through `wcs`, the WCS of its image.
    pub fn world_points(&self, id: i32, wcs: &Wcs) -> Option<Vec<(f64, f64)>> {
        self.get(id)?
            .points
            .iter()
            .map(|(x, y)| wcs.celestial_at(x + 1.0, y + 1.0))
            .collect()
    }

    /// Control points in an image's pixel coordinates from world coordinates (degrees) through its WCS.
    pub fn pixel_points(world: &[(f64, f64)], wcs: &Wcs) -> Option<Vec<(f64, f64)>> {
        world
            .iter()
            .map(|(lon, lat)| {
                wcs.celestial_to_pixel(*lon, *lat)
                    .map(|(x, y)| (x - 1.0, y - 1.0))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(file_id: i32) -> Region {
        Region {
            file_id,
            kind: RegionType(3),
            points: vec![(5.0, 5.0), (4.0, 2.0)],
            rotation_deg: 0.0,
            style: RegionStyle::default(),
        }
    }

    #[test]
    fn new_ids_come_from_the_server_without_overflow() {
        let mut set = RegionSet::new(10, 100);
        assert_eq!(set.set(-1, rect(0)), Ok(1));
        assert_eq!(set.set(-1, rect(0)), Ok(2));
        assert_eq!(set.set(2, rect(1)), Ok(2), "an update keeps its id");
        assert_eq!(set.set(i32::MAX, rect(0)), Ok(i32::MAX));
        assert_eq!(set.set(-1, rect(0)), Err(RegionSetError::IdsExhausted));
        assert_eq!(set.set(0, rect(0)), Err(RegionSetError::BadId(0)));
        assert_eq!(set.remove_file(0), vec![1, i32::MAX]);
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn limits_and_bad_geometry_are_refused() {
        let mut set = RegionSet::new(1, 3);
        let mut polygon = rect(0);
        polygon.kind = RegionType(6);
        polygon.points = vec![(0.0, 0.0); 4];
        assert!(matches!(
            set.set(-1, polygon),
            Err(RegionSetError::TooManyPoints { got: 4, limit: 3 })
        ));
        let mut bad = rect(0);
        bad.points[0].0 = f64::NAN;
        assert_eq!(set.set(-1, bad), Err(RegionSetError::NotFinite));
        assert_eq!(set.set(-1, rect(0)), Ok(1));
        assert_eq!(set.set(-1, rect(0)), Err(RegionSetError::TooManyRegions(1)));
        let mut line = rect(0);
        line.kind = RegionType::LINE;
        assert_eq!(line.shape(), Ok(None));
    }
}
