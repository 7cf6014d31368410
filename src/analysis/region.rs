//! Region geometry: which image pixels a closed CARTA region covers, as half-open row spans.
//!
//! This module owns the conversion from an ICD `RegionInfo` (type, control points, rotation) to a [`Shape`],
//! and the analytic per-row scanline rasterisation used by region statistics, histograms and spectral profiles.
//!
//! Conventions (as in CARTA): pixel `(i, j)` has its centre at `(i, j)`, x to the right, y up the rows. A pixel
//! is covered iff its centre lies inside the shape or on its boundary, with a tolerance of `1e-9` times the
//! shape's coordinate scale (at least `1e-9` pixel), so that integer-aligned regions include their edge pixels.
//! Each row is solved analytically, so cost is O(rows), never O(bounding-box area); callers scanning a region
//! should loop over [`Shape::candidate_rows`] and call [`Shape::row_spans`]. A `Shape` that fails
//! [`Shape::validate`] (e.g. NaN fields set directly) covers no pixels; nothing here panics on hostile input.

use std::fmt;
use std::ops::Range;

/// A closed region in image pixel coordinates. Angles are counter-clockwise in degrees.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Shape {
    /// Covers the single pixel nearest to the point (rounding half away from zero).
    Point { x: f64, y: f64 },
    /// `width` lies along `(cos r, sin r)` and `height` along `(-sin r, cos r)`, about the centre.
    Rectangle {
        cx: f64,
        cy: f64,
        width: f64,
        height: f64,
        rotation_deg: f64,
    },
    /// `semi_x` is the semi-axis along the ellipse's own x axis `(cos r, sin r)` (like a rectangle's width),
    /// `semi_y` the one along `(-sin r, cos r)`. CARTA's control point `(a, b)` means `semi_y = a`,
    /// `semi_x = b`: the reference backend measures the rotation of `a` from the y axis.
    Ellipse {
        cx: f64,
        cy: f64,
        semi_x: f64,
        semi_y: f64,
        rotation_deg: f64,
    },
    /// Vertices in order (either orientation, may be concave); self-intersections use the even-odd rule.
    /// Every edge belongs to the region.
    Polygon { points: Vec<(f64, f64)> },
    /// Circular ring: centres at distance `d` with `inner < d <= outer` (inner edge excluded, outer included,
    /// so nested annuli tile without overlap); `inner == 0` means a full disk, centre included.
    Annulus {
        cx: f64,
        cy: f64,
        inner: f64,
        outer: f64,
    },
}

/// Why a region cannot be rasterised.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionError {
    /// Wrong number of control points for the shape.
    ControlPoints {
        shape: &'static str,
        expected: &'static str,
        got: usize,
    },
    /// A control point, size or rotation is NaN or infinite.
    NonFinite,
    /// Rectangle width or height is not positive.
    RectangleSize,
    /// Ellipse semi-axis is not positive.
    EllipseRadii,
    /// Annulus radii do not satisfy `0 <= inner < outer`.
    AnnulusRadii,
    /// LINE or POLYLINE: no area, so no pixels.
    NoArea(&'static str),
    /// Annotation types (7..=16) have no statistics.
    Annotation(i32),
    /// Not a CARTA RegionType value.
    UnknownType(i32),
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::ControlPoints {
                shape,
                expected,
                got,
            } => {
                write!(f, "{shape} needs {expected}, got {got}")
            }
            RegionError::NonFinite => {
                f.write_str("region control points and rotation must be finite numbers")
            }
            RegionError::RectangleSize => {
                f.write_str("rectangle width and height must be positive")
            }
            RegionError::EllipseRadii => f.write_str("ellipse radii must be positive"),
            RegionError::AnnulusRadii => {
                f.write_str("annulus radii must satisfy 0 <= inner < outer")
            }
            RegionError::NoArea(name) => write!(f, "{name} regions have no area"),
            RegionError::Annotation(t) => {
                write!(f, "annotation regions (type {t}) have no statistics")
            }
            RegionError::UnknownType(t) => write!(f, "unknown region type {t}"),
        }
    }
}

impl std::error::Error for RegionError {}

const EPS_REL: f64 = 1e-9;

fn count_error(shape: &'static str, expected: &'static str, got: usize) -> RegionError {
    RegionError::ControlPoints {
        shape,
        expected,
        got,
    }
}

/// `(sin, cos)` of an angle in degrees, exact for multiples of 90°.
fn sin_cos_deg(deg: f64) -> (f64, f64) {
    let r = deg.rem_euclid(360.0);
    match r {
        0.0 => (0.0, 1.0),
        90.0 => (1.0, 0.0),
        180.0 => (0.0, -1.0),
        270.0 => (-1.0, 0.0),
        _ => r.to_radians().sin_cos(),
    }
}

/// Pixel indices `i` with `lo <= i <= hi`, clipped to `0..n`; `None` if empty or NaN.
fn pixel_range(lo: f64, hi: f64, n: usize) -> Option<(usize, usize)> {
    if lo.is_nan() || hi.is_nan() {
        return None;
    }
    let a = lo.ceil().max(0.0);
    let b = (hi.floor() + 1.0).min(n as f64);
    // Both are integral and within [0, n] here, so the casts are exact.
    (a < b).then_some((a as usize, b as usize))
}

fn lerp(p0: (f64, f64), p1: (f64, f64), t: f64) -> f64 {
    p0.0 * (1.0 - t) + p1.0 * t
}

/// Grows a positive length by the tolerance without overflowing to infinity.
fn inflate(v: f64, eps: f64) -> f64 {
    (v + eps).min(f64::MAX)
}

fn finite(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite())
}

/// Half-height of an ellipse with semi-axes `semi` along `(c, s)` and `(-s, c)`.
fn ellipse_half_height(semi: (f64, f64), (s, c): (f64, f64)) -> f64 {
    (semi.0 * s).hypot(semi.1 * c)
}

/// Chord of an ellipse at row offset `dy` from its centre, as `(centre_offset, half_width)`.
fn ellipse_chord(semi: (f64, f64), (s, c): (f64, f64), dy: f64) -> Option<(f64, f64)> {
    let (a, b) = semi;
    // With shape matrix S (a² along (c, s), b² along (-s, c)): the chord is centred at S_xy/S_yy·dy and
    // has half-width sqrt(det S / S_yy)·sqrt(1 - dy²/S_yy); everything is scaled by h to avoid overflow.
    let h = ellipse_half_height(semi, (s, c));
    let q = dy / h;
    if q.is_nan() || q.abs() > 1.0 {
        return None;
    }
    let half = (a / h) * b * (1.0 - q * q).max(0.0).sqrt();
    let slope = if s == 0.0 || c == 0.0 {
        0.0
    } else {
        s * c * ((a - b) / h) * (a / h + b / h)
    };
    Some((slope * dy, half))
}

/// A validated shape with the boundary tolerance applied and trigonometry done, ready to scan rows.
enum Prepared<'a> {
    Point(f64, f64),
    /// Centre, half-sizes (grown by eps), `(sin, cos)` of the rotation.
    Rect {
        c: (f64, f64),
        half: (f64, f64),
        sc: (f64, f64),
    },
    /// Centre, semi-axes (grown by eps), `(sin, cos)` of the rotation.
    Ellipse {
        c: (f64, f64),
        semi: (f64, f64),
        sc: (f64, f64),
    },
    /// Centre, outer radius (grown by eps), radius of the excluded closed hole (grown by eps).
    Annulus {
        c: (f64, f64),
        outer: f64,
        hole: Option<f64>,
    },
    Polygon {
        points: &'a [(f64, f64)],
        eps: f64,
    },
}

impl Prepared<'_> {
    /// Continuous y extent, tolerance included.
    fn y_extent(&self) -> (f64, f64) {
        match self {
            Prepared::Point(_, y) => (*y, *y),
            Prepared::Rect {
                c,
                half,
                sc: (s, cs),
            } => {
                let ext = (half.0 * s).abs() + (half.1 * cs).abs();
                (c.1 - ext, c.1 + ext)
            }
            Prepared::Ellipse { c, semi, sc } => {
                let ext = ellipse_half_height(*semi, *sc);
                (c.1 - ext, c.1 + ext)
            }
            Prepared::Annulus { c, outer, .. } => (c.1 - outer, c.1 + outer),
            Prepared::Polygon { points, eps } => {
                let lo = points.iter().fold(f64::INFINITY, |m, p| m.min(p.1));
                let hi = points.iter().fold(f64::NEG_INFINITY, |m, p| m.max(p.1));
                (lo - eps, hi + eps)
            }
        }
    }

    fn rows(&self, height: usize) -> Range<usize> {
        let (lo, hi) = self.y_extent();
        pixel_range(lo, hi, height).map_or(0..0, |(a, b)| a..b)
    }

    fn row(&self, y: usize, width: usize) -> Vec<(usize, usize)> {
        let yf = y as f64;
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        match self {
            Prepared::Point(px, py) => {
                if *py == yf {
                    ranges.extend(pixel_range(*px, *px, width));
                }
            }
            Prepared::Rect {
                c,
                half,
                sc: (s, cs),
            } => {
                let dy = yf - c.1;
                // Local coordinates u = cos·dx + sin·dy (|u| <= half.0), v = -sin·dx + cos·dy (|v| <= half.1).
                let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
                for (k, off, h) in [(*cs, s * dy, half.0), (-s, cs * dy, half.1)] {
                    if k == 0.0 {
                        if off.abs() > h {
                            return Vec::new();
                        }
                    } else {
                        let (a, b) = ((-h - off) / k, (h - off) / k);
                        lo = lo.max(a.min(b));
                        hi = hi.min(a.max(b));
                    }
                }
                ranges.extend(pixel_range(c.0 + lo, c.0 + hi, width));
            }
            Prepared::Ellipse { c, semi, sc } => {
                if let Some((mid, half)) = ellipse_chord(*semi, *sc, yf - c.1) {
                    ranges.extend(pixel_range(c.0 + mid - half, c.0 + mid + half, width));
                }
            }
            Prepared::Annulus { c, outer, hole } => {
                let chord = |r: f64| {
                    let (_, half) = ellipse_chord((r, r), (0.0, 1.0), yf - c.1)?;
                    pixel_range(c.0 - half, c.0 + half, width)
                };
                let Some((a, b)) = chord(*outer) else {
                    return Vec::new();
                };
                match hole.and_then(chord) {
                    Some((ha, hb)) => {
                        let parts = [(a, b.min(ha)), (a.max(hb), b)];
                        ranges.extend(parts.into_iter().filter(|r| r.0 < r.1));
                    }
                    None => ranges.push((a, b)),
                }
            }
            Prepared::Polygon { points, eps } => polygon_row(points, yf, *eps, width, &mut ranges),
        }
        merge(ranges)
    }
}

impl Shape {
    /// From the ICD's SET_REGION RegionInfo: `region_type` is the CARTA RegionType enum value (POINT=0,
    /// LINE=1, POLYLINE=2, RECTANGLE=3, ELLIPSE=4, ANNULUS=5, POLYGON=6, ANN*=7..16), control points in image
    /// pixel coordinates, rotation in degrees (used by RECTANGLE and ELLIPSE only).
    pub fn from_control_points(
        region_type: i32,
        points: &[(f64, f64)],
        rotation_deg: f64,
    ) -> Result<Shape, RegionError> {
        let n = points.len();
        let two = |shape, expected| match points {
            [p, q] => Ok((*p, *q)),
            _ => Err(count_error(shape, expected, n)),
        };
        let shape = match region_type {
            0 => match points {
                [p] => Shape::Point { x: p.0, y: p.1 },
                _ => return Err(count_error("a point", "1 control point", n)),
            },
            1 => return Err(RegionError::NoArea("LINE")),
            2 => return Err(RegionError::NoArea("POLYLINE")),
            3 => {
                let ((cx, cy), (width, height)) =
                    two("a rectangle", "2 control points (centre, size)")?;
                Shape::Rectangle {
                    cx,
                    cy,
                    width,
                    height,
                    rotation_deg,
                }
            }
            4 => {
                let ((cx, cy), (a, b)) = two("an ellipse", "2 control points (centre, radii)")?;
                // Reference backend (Region.cc): "carta rotation is from y-axis", so `a` lies along
                // rotation + 90°, i.e. along the ellipse's own y axis.
                Shape::Ellipse {
                    cx,
                    cy,
                    semi_x: b,
                    semi_y: a,
                    rotation_deg,
                }
            }
            5 => {
                let what = "2 control points (centre, (inner, outer) radii)";
                let ((cx, cy), (inner, outer)) = two("an annulus", what)?;
                Shape::Annulus {
                    cx,
                    cy,
                    inner,
                    outer,
                }
            }
            6 => Shape::Polygon {
                points: points.to_vec(),
            },
            7..=16 => return Err(RegionError::Annotation(region_type)),
            t => return Err(RegionError::UnknownType(t)),
        };
        shape.validate()?;
        Ok(shape)
    }

    /// Checks counts, finiteness and sizes; a shape failing this covers no pixels.
    pub fn validate(&self) -> Result<(), RegionError> {
        self.prepare().map(|_| ())
    }

    fn prepare(&self) -> Result<Prepared<'_>, RegionError> {
        // Tolerance: EPS_REL times the coordinate/size scale (not the rotation), at least EPS_REL.
        let ok = |values: &[f64], rotation: f64, size_ok: bool, err: RegionError| {
            let scale = values.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
            match (finite(values) && rotation.is_finite(), size_ok) {
                (false, _) => Err(RegionError::NonFinite),
                (true, false) => Err(err),
                (true, true) => Ok(EPS_REL * scale),
            }
        };
        Ok(match self {
            Shape::Point { x, y } => {
                ok(&[*x, *y], 0.0, true, RegionError::NonFinite)?;
                Prepared::Point(x.round(), y.round())
            }
            Shape::Rectangle {
                cx,
                cy,
                width: w,
                height: h,
                rotation_deg: r,
            } => {
                let eps = ok(
                    &[*cx, *cy, *w, *h],
                    *r,
                    *w > 0.0 && *h > 0.0,
                    RegionError::RectangleSize,
                )?;
                let half = (w / 2.0 + eps, h / 2.0 + eps);
                Prepared::Rect {
                    c: (*cx, *cy),
                    half,
                    sc: sin_cos_deg(*r),
                }
            }
            Shape::Ellipse {
                cx,
                cy,
                semi_x: a,
                semi_y: b,
                rotation_deg: r,
            } => {
                let eps = ok(
                    &[*cx, *cy, *a, *b],
                    *r,
                    *a > 0.0 && *b > 0.0,
                    RegionError::EllipseRadii,
                )?;
                let semi = (inflate(*a, eps), inflate(*b, eps));
                Prepared::Ellipse {
                    c: (*cx, *cy),
                    semi,
                    sc: sin_cos_deg(*r),
                }
            }
            Shape::Annulus {
                cx,
                cy,
                inner,
                outer,
            } => {
                let sizes_ok = *inner >= 0.0 && inner < outer;
                let eps = ok(
                    &[*cx, *cy, *inner, *outer],
                    0.0,
                    sizes_ok,
                    RegionError::AnnulusRadii,
                )?;
                // The hole is the closed disk of radius `inner` (grown by eps): the inner edge is excluded.
                let hole = (*inner > 0.0).then_some(inner + eps);
                Prepared::Annulus {
                    c: (*cx, *cy),
                    outer: inflate(*outer, eps),
                    hole,
                }
            }
            Shape::Polygon { points } => {
                if points.len() < 3 {
                    return Err(count_error(
                        "a polygon",
                        "at least 3 control points",
                        points.len(),
                    ));
                }
                let flat: Vec<f64> = points.iter().flat_map(|p| [p.0, p.1]).collect();
                let eps = ok(&flat, 0.0, true, RegionError::NonFinite)?;
                Prepared::Polygon { points, eps }
            }
        })
    }

    /// Image rows (clipped to `0..height`) that may hold covered pixels; every covered row is among them.
    pub fn candidate_rows(&self, height: usize) -> Range<usize> {
        self.prepare().map_or(0..0, |p| p.rows(height))
    }

    /// Pixel bounding box of covered pixels, clipped to a width×height image: (x0, x1, y0, y1) half-open;
    /// None if no pixel is covered.
    pub fn bounding_box(
        &self,
        width: usize,
        height: usize,
    ) -> Option<(usize, usize, usize, usize)> {
        let p = self.prepare().ok()?;
        let mut bbox: Option<(usize, usize, usize, usize)> = None;
        for y in p.rows(height) {
            let spans = p.row(y, width);
            if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
                let b = bbox.get_or_insert((first.0, last.1, y, y + 1));
                *b = (b.0.min(first.0), b.1.max(last.1), b.2, y + 1);
            }
        }
        bbox
    }

    /// For image row `y`, the half-open x ranges [a, b) (clipped to 0..width, sorted, non-overlapping, merged)
    /// of pixels whose CENTRES lie inside the shape, boundary included.
    pub fn row_spans(&self, y: usize, width: usize) -> Vec<(usize, usize)> {
        self.prepare()
            .map_or_else(|_| Vec::new(), |p| p.row(y, width))
    }

    /// Number of covered pixels in a width×height image (sum of span lengths).
    pub fn pixel_count(&self, width: usize, height: usize) -> usize {
        let Ok(p) = self.prepare() else {
            return 0;
        };
        let row_len = |y| p.row(y, width).iter().map(|(a, b)| b - a).sum::<usize>();
        p.rows(height).map(row_len).sum()
    }
}

/// Pixel ranges of polygon row `y`: even-odd interior chords plus every edge's points within `eps` of the row.
fn polygon_row(
    points: &[(f64, f64)],
    y: f64,
    eps: f64,
    width: usize,
    out: &mut Vec<(usize, usize)>,
) {
    let mut crossings: Vec<f64> = Vec::new();
    for (i, &p0) in points.iter().enumerate() {
        let p1 = points[(i + 1) % points.len()];
        let dy = p1.1 - p0.1;
        if (p0.1 > y) != (p1.1 > y) {
            crossings.push(lerp(p0, p1, (y - p0.1) / dy));
        }
        // Boundary: the part of the edge inside the band |Y - y| <= eps.
        let band = if dy == 0.0 {
            ((p0.1 - y).abs() <= eps).then_some((0.0, 1.0))
        } else {
            let (ta, tb) = ((y - eps - p0.1) / dy, (y + eps - p0.1) / dy);
            let (lo, hi) = (ta.min(tb).max(0.0), ta.max(tb).min(1.0));
            (lo <= hi).then_some((lo, hi))
        };
        if let Some((t0, t1)) = band {
            let (xa, xb) = (lerp(p0, p1, t0), lerp(p0, p1, t1));
            out.extend(pixel_range(xa.min(xb) - eps, xa.max(xb) + eps, width));
        }
    }
    crossings.sort_by(f64::total_cmp);
    for pair in crossings.chunks_exact(2) {
        out.extend(pixel_range(pair[0], pair[1], width));
    }
}

/// Sorts and merges overlapping or adjacent half-open ranges.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Calls `f` with each run of pixels of `block` (rows `row0..row0 + rows` of a `width`-wide plane) that
/// `region` covers: the whole block without a region.
pub fn for_each_run(
    block: &[f32],
    width: usize,
    row0: usize,
    region: Option<&Shape>,
    mut f: impl FnMut(&[f32]),
) {
    let rows = block.len() / width.max(1);
    match region {
        None => f(block),
        Some(shape) => {
            let height = row0 + rows;
            let Some((_, _, y0, y1)) = shape.bounding_box(width, height) else {
                return;
            };
            for y in y0.max(row0)..y1.min(height) {
                let row = &block[(y - row0) * width..(y - row0 + 1) * width];
                for (a, b) in shape.row_spans(y, width) {
                    f(&row[a..b]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(cx: f64, cy: f64, width: f64, height: f64, rotation_deg: f64) -> Shape {
        Shape::Rectangle {
            cx,
            cy,
            width,
            height,
            rotation_deg,
        }
    }
    fn ell(cx: f64, cy: f64, semi_x: f64, semi_y: f64, rotation_deg: f64) -> Shape {
        Shape::Ellipse {
            cx,
            cy,
            semi_x,
            semi_y,
            rotation_deg,
        }
    }
    fn ann(cx: f64, cy: f64, inner: f64, outer: f64) -> Shape {
        Shape::Annulus {
            cx,
            cy,
            inner,
            outer,
        }
    }
    fn poly(points: &[(f64, f64)]) -> Shape {
        Shape::Polygon {
            points: points.to_vec(),
        }
    }
    fn count_all(s: &Shape, w: usize, h: usize) -> usize {
        let row = |y| s.row_spans(y, w).iter().map(|(a, b)| b - a).sum::<usize>();
        (0..h).map(row).sum()
    }

    #[test]
    fn reference_polygon_and_rectangle() {
        let square = [(1.0, 1.0), (1.0, 4.0), (4.0, 4.0), (4.0, 1.0)];
        let poly = Shape::from_control_points(6, &square, 0.0).unwrap();
        assert_eq!(poly.pixel_count(10, 10), 16);
        assert_eq!(poly.bounding_box(10, 10), Some((1, 5, 1, 5)));
        assert_eq!(poly.row_spans(4, 10), vec![(1, 5)]);
        let r = Shape::from_control_points(3, &[(5.0, 5.0), (4.0, 4.0)], 0.0).unwrap();
        assert_eq!(r, rect(5.0, 5.0, 4.0, 4.0, 0.0));
        assert_eq!(r.pixel_count(20, 20), 25);
        assert_eq!(r.bounding_box(20, 20), Some((3, 8, 3, 8)));
        // A 90° rotation of a 4×2 rectangle swaps its extents.
        assert_eq!(
            rect(5.0, 5.0, 4.0, 2.0, 90.0).bounding_box(20, 20),
            Some((4, 7, 3, 8))
        );
    }

    #[test]
    fn rotated_square_is_a_diamond() {
        let side = 4.0 * 2f64.sqrt();
        let s = rect(10.0, 10.0, side, side, 45.0);
        for y in 0..20usize {
            let k = 4 - (y as i64 - 10).abs();
            let want = (k >= 0).then_some(((10 - k) as usize, (11 + k) as usize));
            assert_eq!(s.row_spans(y, 20), Vec::from_iter(want), "row {y}");
        }
        assert_eq!(s.pixel_count(20, 20), 41);
    }

    #[test]
    fn concave_polygons() {
        let l = [
            (0.0, 0.0),
            (6.0, 0.0),
            (6.0, 2.0),
            (2.0, 2.0),
            (2.0, 6.0),
            (0.0, 6.0),
        ];
        let s = Shape::from_control_points(6, &l, 0.0).unwrap();
        assert_eq!(s.pixel_count(10, 10), 7 * 3 + 3 * 4);
        assert_eq!(s.row_spans(2, 10), vec![(0, 7)]);
        assert_eq!(s.row_spans(4, 10), vec![(0, 3)]);
        // A U shape gives two spans on its upper rows; reversed orientation is the same region.
        let mut u = vec![(0.0, 0.0), (8.0, 0.0), (8.0, 5.0), (6.0, 5.0), (6.0, 2.0)];
        u.extend([(2.0, 2.0), (2.0, 5.0), (0.0, 5.0)]);
        assert_eq!(poly(&u).row_spans(4, 20), vec![(0, 3), (6, 9)]);
        u.reverse();
        assert_eq!(poly(&u).row_spans(4, 20), vec![(0, 3), (6, 9)]);
    }

    #[test]
    fn points() {
        let p = Shape::from_control_points(0, &[(2.5, 3.49)], 0.0).unwrap();
        assert_eq!(p.bounding_box(10, 10), Some((3, 4, 3, 4)));
        assert_eq!(p.pixel_count(10, 10), 1);
        assert_eq!(Shape::Point { x: -0.4, y: 0.0 }.pixel_count(5, 5), 1);
        for (x, y) in [(-0.6, 2.0), (2.0, 4.5), (5.0, 1.0), (1e300, 1.0)] {
            let p = Shape::Point { x, y };
            assert_eq!((p.pixel_count(5, 5), p.bounding_box(5, 5)), (0, None));
        }
    }

    #[test]
    fn clipping_at_edges() {
        let r = rect(0.0, 0.0, 10.0, 10.0, 0.0);
        assert_eq!(r.pixel_count(4, 4), 16);
        assert_eq!(r.bounding_box(4, 4), Some((0, 4, 0, 4)));
        let r = rect(9.0, 9.0, 4.0, 2.0, 0.0);
        assert_eq!(r.bounding_box(10, 10), Some((7, 10, 8, 10)));
        assert_eq!(
            ell(-3.0, 5.0, 5.0, 5.0, 0.0).bounding_box(10, 10),
            Some((0, 3, 1, 10))
        );
        let off = poly(&[(-9.0, -9.0), (-1.0, -9.0), (-5.0, -2.0)]);
        assert_eq!(
            (off.pixel_count(10, 10), off.bounding_box(10, 10)),
            (0, None)
        );
        assert_eq!((r.row_spans(9, 0), r.pixel_count(0, 0)), (vec![], 0));
    }

    #[test]
    fn ellipse_semantics_follow_reference_backend() {
        // Control point (a, b) = (10, 3): a lies along rotation + 90°, i.e. along y when unrotated.
        let e = Shape::from_control_points(4, &[(50.0, 50.0), (10.0, 3.0)], 0.0).unwrap();
        assert_eq!(e, ell(50.0, 50.0, 3.0, 10.0, 0.0));
        assert_eq!(e.bounding_box(100, 100), Some((47, 54, 40, 61)));
        let e = Shape::from_control_points(4, &[(50.0, 50.0), (10.0, 3.0)], 90.0).unwrap();
        assert_eq!(e.bounding_box(100, 100), Some((40, 61, 47, 54)));
        let circle = ell(5.0, 5.0, 2.0, 2.0, 0.0);
        assert_eq!(circle.row_spans(7, 20), vec![(5, 6)]);
        assert_eq!(circle.pixel_count(20, 20), 13);
    }

    #[test]
    fn annulus_boundaries() {
        let a = Shape::from_control_points(5, &[(10.0, 10.0), (3.0, 5.0)], 0.0).unwrap();
        assert_eq!(a, ann(10.0, 10.0, 3.0, 5.0));
        assert_eq!(a.row_spans(10, 30), vec![(5, 7), (14, 16)]);
        let disk = |r: f64| ann(10.0, 10.0, 0.0, r);
        assert_eq!(disk(5.0).row_spans(10, 30), vec![(5, 16)]);
        let (inner, outer) = (disk(3.0).pixel_count(30, 30), disk(5.0).pixel_count(30, 30));
        assert_eq!(inner + a.pixel_count(30, 30), outer);
    }

    #[test]
    fn errors() {
        let (c, nan) = ((1.0, 1.0), f64::NAN);
        let non_finite = RegionError::NonFinite.to_string();
        type Case<'a> = (i32, &'a [(f64, f64)], f64, &'a str);
        let cases: [Case; 12] = [
            (
                3,
                &[c],
                0.0,
                "a rectangle needs 2 control points (centre, size), got 1",
            ),
            (4, &[c, (0.0, 2.0)], 0.0, "ellipse radii must be positive"),
            (1, &[c, c], 0.0, "LINE regions have no area"),
            (2, &[c, c, c], 0.0, "POLYLINE regions have no area"),
            (
                12,
                &[c, c, c],
                0.0,
                "annotation regions (type 12) have no statistics",
            ),
            (
                6,
                &[c, c],
                0.0,
                "a polygon needs at least 3 control points, got 2",
            ),
            (
                5,
                &[c, (5.0, 5.0)],
                0.0,
                "annulus radii must satisfy 0 <= inner < outer",
            ),
            (
                3,
                &[c, (0.0, 1.0)],
                0.0,
                "rectangle width and height must be positive",
            ),
            (17, &[c], 0.0, "unknown region type 17"),
            (0, &[(nan, 1.0)], 0.0, &non_finite),
            (3, &[c, c], f64::INFINITY, &non_finite),
            (6, &[c, (nan, 0.0), c], 0.0, &non_finite),
        ];
        for (t, points, rot, want) in cases {
            let got = Shape::from_control_points(t, points, rot).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()));
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let (max, nan, inf) = (f64::MAX, f64::NAN, f64::INFINITY);
        let shapes = [
            rect(5.0, 5.0, max, max, 33.0),
            rect(-1e308, 1e308, 1e-300, 1e300, 1e300),
            ell(5.0, 5.0, max, max, 10.0),
            ell(5.0, 5.0, 1e-300, max, 0.0),
            poly(&[(-max, -max), (max, 0.0), (0.0, max)]),
            poly(&[(nan, 0.0), (1.0, 1.0), (2.0, 0.0)]),
            ann(0.0, 0.0, 1.0, max),
            ann(inf, 0.0, 1.0, 2.0),
            ell(1.0, 1.0, -1.0, 1.0, 0.0),
        ];
        let counts: Vec<usize> = shapes.iter().map(|s| s.pixel_count(64, 48)).collect();
        for (s, &n) in shapes.iter().zip(&counts) {
            assert!(n <= 64 * 48);
            assert_eq!(s.bounding_box(64, 48).is_some(), n > 0);
        }
        // Shapes covering the whole image report it fully; invalid shapes cover nothing.
        assert_eq!((counts[0], counts[2]), (64 * 48, 64 * 48));
        assert_eq!((counts[5], counts[7], counts[8]), (0, 0, 0));
        // A 10000² rectangle is O(rows).
        let big = rect(4999.5, 4999.5, 10000.0, 10000.0, 0.0);
        assert_eq!(big.pixel_count(10000, 10000), 100_000_000);
    }

    #[test]
    fn large_shapes_match_analytic_areas() {
        use std::f64::consts::PI;
        let (w, h) = (1200, 1000);
        let at = |t: f64| (600.0 + 250.0 * t.cos(), 500.0 + 250.0 * t.sin());
        let ngon: Vec<(f64, f64)> = (0..7)
            .map(|k| at(2.0 * PI * k as f64 / 7.0 + 0.1))
            .collect();
        let ngon_area = 3.5 * 250.0 * 250.0 * (2.0 * PI / 7.0).sin();
        let cases = [
            (rect(600.3, 499.7, 400.0, 250.0, 30.0), 1e5, 1300.0),
            (
                ell(600.2, 500.1, 300.0, 120.0, 20.0),
                PI * 300.0 * 120.0,
                2.0 * PI * 300.0,
            ),
            (ann(600.4, 500.6, 0.0, 200.0), PI * 4e4, 2.0 * PI * 200.0),
            (ann(600.0, 500.0, 100.0, 200.0), PI * 3e4, 2.0 * PI * 300.0),
            (poly(&ngon), ngon_area, 14.0 * 250.0 * (PI / 7.0).sin()),
        ];
        for (s, area, perimeter) in &cases {
            let n = s.pixel_count(w, h) as f64;
            assert!((n - area).abs() < perimeter * 0.5, "{s:?}: {n} vs {area}");
            assert_eq!(n as usize, count_all(s, w, h));
        }
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Value in [lo, hi): half the time a multiple of 0.5, to land centres exactly on boundaries.
        fn coord(&mut self, lo: f64, hi: f64) -> f64 {
            let v = lo + (hi - lo) * self.next();
            if self.next() < 0.5 {
                (v * 2.0).round() / 2.0
            } else {
                v
            }
        }
    }

    fn random_shape(g: &mut Lcg) -> Shape {
        let (cx, cy) = (g.coord(-6.0, 38.0), g.coord(-6.0, 30.0));
        let rot = if g.next() < 0.3 {
            (g.next() * 8.0).floor() * 45.0
        } else {
            g.next() * 720.0 - 360.0
        };
        match (g.next() * 5.0) as u32 {
            0 => Shape::Point { x: cx, y: cy },
            1 => rect(cx, cy, g.coord(0.5, 20.0), g.coord(0.5, 14.0), rot),
            2 => ell(cx, cy, g.coord(0.5, 12.0), g.coord(0.5, 9.0), rot),
            3 => {
                let inner = if g.next() < 0.2 {
                    0.0
                } else {
                    g.coord(0.0, 6.0)
                };
                ann(cx, cy, inner, inner + g.coord(0.5, 8.0))
            }
            _ => {
                let n = 3 + (g.next() * 7.0) as usize;
                let pts: Vec<_> = (0..n)
                    .map(|_| (g.coord(-6.0, 38.0), g.coord(-6.0, 30.0)))
                    .collect();
                poly(&pts)
            }
        }
    }

    /// Independent point-in-shape test (boundary included within a small tolerance).
    fn contains(s: &Shape, x: f64, y: f64) -> bool {
        const TOL: f64 = 1e-9;
        let local = |cx: f64, cy: f64, rot: f64| {
            let ((sn, cs), dx, dy) = (rot.to_radians().sin_cos(), x - cx, y - cy);
            (cs * dx + sn * dy, -sn * dx + cs * dy)
        };
        match s {
            Shape::Point { x: px, y: py } => px.round() == x && py.round() == y,
            Shape::Rectangle {
                cx,
                cy,
                width,
                height,
                rotation_deg,
            } => {
                let (u, v) = local(*cx, *cy, *rotation_deg);
                u.abs() <= width / 2.0 + TOL && v.abs() <= height / 2.0 + TOL
            }
            Shape::Ellipse {
                cx,
                cy,
                semi_x,
                semi_y,
                rotation_deg,
            } => {
                let (u, v) = local(*cx, *cy, *rotation_deg);
                (u / semi_x).powi(2) + (v / semi_y).powi(2) <= 1.0 + TOL
            }
            Shape::Annulus {
                cx,
                cy,
                inner,
                outer,
            } => {
                let d = (x - cx).hypot(y - cy);
                d <= outer + TOL && (*inner == 0.0 || d > inner + TOL)
            }
            Shape::Polygon { points } => {
                let mut inside = false;
                for (i, &(x0, y0)) in points.iter().enumerate() {
                    let (x1, y1) = points[(i + 1) % points.len()];
                    let (ex, ey) = (x1 - x0, y1 - y0);
                    let t = (((x - x0) * ex + (y - y0) * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0);
                    if (x0 + t * ex - x).hypot(y0 + t * ey - y) <= TOL {
                        return true;
                    }
                    if (y0 > y) != (y1 > y) && x < x0 + (y - y0) / ey * ex {
                        inside = !inside;
                    }
                }
                inside
            }
        }
    }

    #[test]
    fn brute_force_random_shapes_and_bounding_boxes() {
        let (w, h) = (32usize, 24usize);
        for seed in 0..1500u64 {
            let mut g = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF);
            let s = random_shape(&mut g);
            let mut bbox: Option<(usize, usize, usize, usize)> = None;
            let rows = s.candidate_rows(h);
            for y in 0..h {
                let spans = s.row_spans(y, w);
                let mut mask = vec![false; w];
                for (k, &(a, b)) in spans.iter().enumerate() {
                    assert!(a < b && b <= w, "{s:?} row {y}: {spans:?}");
                    assert!(k == 0 || spans[k - 1].1 < a, "unsorted/unmerged {spans:?}");
                    mask[a..b].iter_mut().for_each(|m| *m = true);
                }
                for (x, &m) in mask.iter().enumerate() {
                    let want = contains(&s, x as f64, y as f64);
                    assert_eq!(m, want, "seed {seed} {s:?} pixel ({x}, {y})");
                }
                if let (Some(f), Some(l)) = (spans.first(), spans.last()) {
                    assert!(
                        rows.contains(&y),
                        "{s:?} row {y} outside candidates {rows:?}"
                    );
                    let b = bbox.get_or_insert((f.0, l.1, y, y + 1));
                    *b = (b.0.min(f.0), b.1.max(l.1), b.2, y + 1);
                }
            }
            assert_eq!(s.bounding_box(w, h), bbox, "{s:?}");
            assert_eq!(s.pixel_count(w, h), count_all(&s, w, h));
        }
    }
}
