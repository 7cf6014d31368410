//! Sampling along a line or polyline region: the boxes whose mean pixel values make a line's spatial profile
//! and the position axis of a PV image, placed as carta_backend's `LineBoxRegions` places them in its
//! fixed-pixel mode (one box per pixel step; a LINE from its centre out, so its profile runs from the end
//! point to the start point; a POLYLINE from its first vertex, a vertex not repeated), and the length unit of
//! the profile's axis. Pure geometry: the world increment is measured by the caller through the image's WCS.
//!
//! One deliberate difference: carta_backend lays the box's `width` along the line (a casacore rectangle's
//! width is along its rotation), so its "averaging width" averages along the cut rather than across it. Here
//! `width` is across the line, as the frontend's "averaging width" and the reference's description ("boxes of
//! width w spaced one pixel apart") mean; along the line a box is 1 pixel for a horizontal or vertical line
//! and 3 pixels for a slanted one, as the reference's boxes are across it.

use super::region::Shape;

/// Widest averaging box accepted (the frontend's spinbox and carta_backend allow 1..=20).
pub const MAX_WIDTH: usize = 20;

/// A line (2 points) or polyline (≥ 3 points), in image pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePath {
    pub kind: LineKind,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Line,
    Polyline,
}

/// The boxes along a path: their centres (pixel coordinates) and shapes, in profile order, with the segment
/// each belongs to (so separations are measured within segments only).
#[derive(Debug, Clone, PartialEq)]
pub struct Boxes {
    pub centres: Vec<(f64, f64)>,
    pub segments: Vec<usize>,
    pub shapes: Vec<Shape>,
    /// Unit step along the last non-empty segment, in pixels (for a single box's increment).
    pub step: (f64, f64),
    /// The world increment between boxes in arcseconds, when the placement fixed it (angular placement).
    pub increment: Option<f64>,
}

impl Boxes {
    pub fn len(&self) -> usize {
        self.centres.len()
    }

    pub fn is_empty(&self) -> bool {
        self.centres.is_empty()
    }

    /// Pairs of consecutive centres on the same segment.
    pub fn neighbours(&self) -> impl Iterator<Item = ((f64, f64), (f64, f64))> + '_ {
        (1..self.centres.len())
            .filter(|&i| self.segments[i] == self.segments[i - 1])
            .map(|i| (self.centres[i - 1], self.centres[i]))
    }
}

/// Why a path gives no boxes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    #[error("averaging width {0} is outside 1..={MAX_WIDTH}")]
    Width(usize),
    #[error("a {0} needs {1} control points, not {2}")]
    Points(&'static str, &'static str, usize),
    #[error("the line's control points are not finite")]
    NotFinite,
    #[error("Line endpoints do not have valid world coordinates.")]
    NoWorld,
    #[error("Line is shorter than target increment.")]
    TooShort,
}

/// Rotation in degrees of the direction from `end` to `start`, as the reference computes it (in f32).
fn rotation(start: (f64, f64), end: (f64, f64)) -> f32 {
    ((start.1 - end.1).atan2(start.0 - end.0) * 180.0 / std::f64::consts::PI) as f32
}

/// Unit vector of a rotation (f32 trigonometry, as the reference).
fn direction(rotation: f32) -> (f64, f64) {
    let r = rotation * std::f32::consts::PI / 180.0;
    (f64::from(r.cos()), f64::from(r.sin()))
}

/// A box at `centre`: `width` across the line, 1 pixel along it when the line is horizontal or vertical, 3
/// when it is slanted (so every box holds pixels).
fn sample_box(centre: (f64, f64), rotation: f32, width: usize) -> Shape {
    let along = if rotation % 90.0 == 0.0 { 1.0 } else { 3.0 };
    Shape::Rectangle {
        cx: centre.0,
        cy: centre.1,
        width: along,
        height: width as f64,
        rotation_deg: f64::from(rotation),
    }
}

/// Rounds half away from zero (C's `lround`).
fn lround(v: f64) -> i64 {
    v.round() as i64
}

/// The boxes along `path` for an averaging `width` (pixels across the line).
pub fn boxes(path: &LinePath, width: usize) -> Result<Boxes, LineError> {
    if !(1..=MAX_WIDTH).contains(&width) {
        return Err(LineError::Width(width));
    }
    let n = path.points.len();
    match path.kind {
        LineKind::Line if n != 2 => return Err(LineError::Points("line", "2", n)),
        LineKind::Polyline if n < 2 => return Err(LineError::Points("polyline", "at least 2", n)),
        _ => {}
    }
    if path
        .points
        .iter()
        .any(|p| !(p.0.is_finite() && p.1.is_finite()))
    {
        return Err(LineError::NotFinite);
    }
    let mut out = Boxes {
        centres: Vec::new(),
        segments: Vec::new(),
        shapes: Vec::new(),
        step: (1.0, 0.0),
        increment: None,
    };
    let push = |out: &mut Boxes, centre, segment, rot| {
        out.centres.push(centre);
        out.segments.push(segment);
        out.shapes.push(sample_box(centre, rot, width));
    };
    match path.kind {
        LineKind::Line => {
            let (start, end) = (path.points[0], path.points[1]);
            let length = (end.0 - start.0).hypot(end.1 - start.1);
            let half = lround((length - 1.0) / 2.0).max(0);
            let centre = ((start.0 + end.0) / 2.0, (start.1 + end.1) / 2.0);
            let rot = rotation(start, end);
            let d = direction(rot);
            out.step = d;
            // Index 0 at the end point's side, the last at the start point's.
            for k in -half..=half {
                let k = k as f64;
                push(&mut out, (centre.0 + k * d.0, centre.1 + k * d.1), 0, rot);
            }
        }
        LineKind::Polyline => {
            let mut trim = false;
            for (segment, pair) in path.points.windows(2).enumerate() {
                let (start, end) = (pair[0], pair[1]);
                let length = (end.0 - start.0).hypot(end.1 - start.1);
                let count = lround(length) + 1;
                let rot = rotation(start, end);
                let d = direction(rot);
                let first = i64::from(trim);
                if first >= count {
                    continue;
                }
                out.step = d;
                let mut last = start;
                for j in first..count {
                    let j = j as f64;
                    last = (start.0 - j * d.0, start.1 - j * d.1);
                    push(&mut out, last, segment, rot);
                }
                // The next segment starts at this one's end: skip its first box when it would repeat it.
                trim = (last.0 - end.0).hypot(last.1 - end.1) < 0.5;
            }
        }
    }
    Ok(out)
}

/// Angular separation in arcseconds between two pixel points (`None` where the projection does not reach).
pub type Separation<'a> = &'a dyn Fn((f64, f64), (f64, f64)) -> Option<f64>;

/// The point on the segment `a → b` at angular distance `target` (arcsec) from `a`, found by bisection to
/// within `tolerance`; `None` if the segment is shorter than `target` or leaves the projection. (The
/// separation from `a` grows along a segment of a projection, so bisection finds it.)
fn point_at(
    a: (f64, f64),
    b: (f64, f64),
    target: f64,
    tolerance: f64,
    sep: Separation<'_>,
) -> Option<(f64, f64)> {
    if sep(a, b)? < target {
        return None;
    }
    let at = |t: f64| (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        let d = sep(a, at(mid))?;
        if (d - target).abs() <= tolerance {
            return Some(at(mid));
        }
        if d > target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    None
}

/// The polygon of the box from `start` to `end` on a line of `rotation`: its four corners at angular
/// half-width `half` (arcsec) either side, found along the perpendicular within `2·width` pixels; a shape
/// covering nothing when a corner is outside the projection.
fn angular_box(
    start: (f64, f64),
    end: (f64, f64),
    rotation: f32,
    width: usize,
    half: f64,
    tolerance: f64,
    sep: Separation<'_>,
) -> Shape {
    let (c, s) = direction(rotation + 90.0);
    let reach = 2.0 * width as f64;
    let corner = |p: (f64, f64), sign: f64| {
        point_at(
            p,
            (p.0 - sign * reach * c, p.1 - sign * reach * s),
            half,
            tolerance,
            sep,
        )
    };
    match (
        corner(start, 1.0),
        corner(end, 1.0),
        corner(end, -1.0),
        corner(start, -1.0),
    ) {
        (Some(a), Some(b), Some(c), Some(d)) => Shape::Polygon {
            points: vec![a, b, c, d],
        },
        _ => Shape::Polygon { points: Vec::new() },
    }
}

/// The boxes along `path` at a fixed angular `increment` (arcsec; carta_backend takes |CDELT2|) instead of
/// one per pixel: for wide fields, where pixel steps are not equal angles. Boxes are polygons `width`
/// increments across and three increments along (one and a half at the two ends), overlapping, so every
/// box holds pixels; a LINE gets an even number of them placed out from its centre (the outermost points
/// stopping at the line's ends, where carta_backend leaves them undefined and its end boxes NaN), a
/// POLYLINE one per increment of each segment from its first vertex. Points are found to within 1e-4 of an increment (tighter
/// than carta_backend's tenth, whose error adds up along a line).
pub fn angular_boxes(
    path: &LinePath,
    width: usize,
    increment: f64,
    sep: Separation<'_>,
) -> Result<Boxes, LineError> {
    if !(1..=MAX_WIDTH).contains(&width) {
        return Err(LineError::Width(width));
    }
    if !(increment.is_finite() && increment > 0.0) {
        return Err(LineError::NoWorld);
    }
    let tolerance = 1e-4 * increment;
    let half = width as f64 * increment / 2.0;
    let mut out = Boxes {
        centres: Vec::new(),
        segments: Vec::new(),
        shapes: Vec::new(),
        step: (1.0, 0.0),
        increment: Some(increment),
    };
    // Box i of `points` spans points i−1 … i+2 (i … i+1 at the ends).
    let push_boxes =
        |out: &mut Boxes, points: &[Option<(f64, f64)>], segment, rotation, skip_first| {
            let n = points.len().saturating_sub(1);
            for i in usize::from(skip_first)..n {
                let a = if i == 0 { 0 } else { i - 1 };
                let b = if i + 1 == n { i + 1 } else { i + 2 };
                let (shape, centre) = match (points[a], points[b]) {
                    (Some(p), Some(q)) => (
                        angular_box(p, q, rotation, width, half, tolerance, sep),
                        ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0),
                    ),
                    _ => (Shape::Polygon { points: Vec::new() }, (f64::NAN, f64::NAN)),
                };
                out.centres.push(centre);
                out.segments.push(segment);
                out.shapes.push(shape);
            }
        };
    match path.kind {
        LineKind::Line => {
            let (start, end) = (path.points[0], path.points[1]);
            let length = sep(start, end)
                .filter(|l| *l > 0.0)
                .ok_or(LineError::NoWorld)?;
            let offsets = lround(length / increment / 2.0).max(0) as usize;
            if offsets == 0 {
                return Err(LineError::TooShort);
            }
            let centre = ((start.0 + end.0) / 2.0, (start.1 + end.1) / 2.0);
            let mut points = vec![None; 2 * offsets + 1];
            points[offsets] = Some(centre);
            let (mut up, mut down) = (Some(centre), Some(centre));
            // The last step may pass the line's end (the count is rounded); it stops at the end instead, so
            // the end boxes are a little shorter rather than empty.
            let step = |p: (f64, f64), to: (f64, f64)| {
                point_at(p, to, increment, tolerance, sep)
                    .or_else(|| sep(p, to).filter(|d| *d > tolerance).map(|_| to))
            };
            for k in 1..=offsets {
                up = up.and_then(|p| step(p, start));
                down = down.and_then(|p| step(p, end));
                points[offsets + k] = up;
                points[offsets - k] = down;
            }
            let rotation = rotation(start, end);
            out.step = direction(rotation);
            push_boxes(&mut out, &points, 0, rotation, false);
        }
        LineKind::Polyline => {
            let mut trim = false;
            for (segment, pair) in path.points.windows(2).enumerate() {
                let (start, end) = (pair[0], pair[1]);
                let length = sep(start, end)
                    .filter(|l| *l > 0.0)
                    .ok_or(LineError::NoWorld)?;
                let count = lround(length / increment).max(0) as usize;
                if count == 0 {
                    continue;
                }
                let mut points = vec![Some(start)];
                for _ in 0..count {
                    match points
                        .last()
                        .copied()
                        .flatten()
                        .and_then(|p| point_at(p, end, increment, tolerance, sep))
                    {
                        Some(q) => points.push(Some(q)),
                        None => break,
                    }
                }
                let rotation = rotation(start, end);
                out.step = direction(rotation);
                push_boxes(&mut out, &points, segment, rotation, trim);
                trim = points
                    .last()
                    .copied()
                    .flatten()
                    .and_then(|p| sep(p, end))
                    .is_some_and(|d| d < 0.5 * increment);
            }
        }
    }
    if out.is_empty() {
        return Err(LineError::TooShort);
    }
    Ok(out)
}

/// The unit of a profile axis of `boxes` boxes spaced `increment_arcsec` apart, and the increment in it:
/// milliarcseconds below 2 mas of total length, arcminutes from 2′, degrees from 2°, else arcseconds.
pub fn length_unit(increment_arcsec: f64, boxes: usize) -> (f64, &'static str) {
    let length = increment_arcsec * boxes as f64;
    if length * 1e3 < 2.0 {
        (increment_arcsec * 1e3, "marcsec")
    } else if length / 3600.0 >= 2.0 {
        (increment_arcsec / 3600.0, "deg")
    } else if length / 60.0 >= 2.0 {
        (increment_arcsec / 60.0, "arcmin")
    } else {
        (increment_arcsec, "arcsec")
    }
}

/// Whether the separations between consecutive centres are equal within `tolerance` (the fixed-pixel boxes
/// then have one world increment), and their mean. Separations of 0 (no world coordinates there) are skipped.
pub fn linear_increment(separations: &[f64], tolerance: f64) -> Option<f64> {
    let seps: Vec<f64> = separations.iter().copied().filter(|s| *s > 0.0).collect();
    if seps.is_empty() {
        return Some(0.0);
    }
    let (lo, hi) = seps
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(*s), hi.max(*s))
        });
    (hi - lo <= tolerance).then(|| seps.iter().sum::<f64>() / seps.len() as f64)
}

/// Sum and count of the finite values of a run of pixels.
pub fn finite_sum(values: &[f32]) -> (f64, u64) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0), |(s, n), v| (s + f64::from(*v), n + 1))
}

/// The mean of a (sum, count) partial; NaN when no pixel was finite.
pub fn mean(partial: (f64, u64)) -> f32 {
    if partial.1 == 0 {
        f32::NAN
    } else {
        (partial.0 / partial.1 as f64) as f32
    }
}

/// Per box (box-major: `out[box * planes + k]`), the mean of the finite values of each of `planes` planes of
/// a `width × height` cube (plane after plane) inside the box; NaN where a box holds no finite value.
pub fn cube_box_means(
    cube: &[f32],
    width: usize,
    height: usize,
    planes: usize,
    boxes: &[Shape],
) -> Vec<f32> {
    let plane_len = width * height;
    let mut out = vec![f32::NAN; boxes.len() * planes];
    for (b, shape) in boxes.iter().enumerate() {
        let Some((_, _, y0, y1)) = shape.bounding_box(width, height) else {
            continue;
        };
        // The box's row spans, found once for every plane.
        let spans: Vec<(usize, usize, usize)> = (y0..y1)
            .flat_map(|y| {
                shape
                    .row_spans(y, width)
                    .into_iter()
                    .map(move |(a, c)| (y, a, c))
            })
            .collect();
        for k in 0..planes {
            let Some(plane) = cube.get(k * plane_len..(k + 1) * plane_len) else {
                break;
            };
            let (mut sum, mut n) = (0.0, 0);
            for &(y, a, c) in &spans {
                let (s, m) = finite_sum(&plane[y * width + a..y * width + c]);
                sum += s;
                n += m;
            }
            out[b * planes + k] = mean((sum, n));
        }
    }
    out
}

/// Averages groups of `factor` consecutive planes of `plane_len` values (the sum in f32, so a NaN in any
/// plane of a group makes that value NaN, as carta_backend's preview rebinning does); a trailing partial
/// group is NaN.
pub fn rebin_planes(planes: &[f32], plane_len: usize, factor: usize) -> Vec<f32> {
    let factor = factor.max(1);
    if factor == 1 || plane_len == 0 {
        return planes.to_vec();
    }
    let n = planes.len() / plane_len;
    let groups = n.div_ceil(factor);
    let mut out = vec![f32::NAN; groups * plane_len];
    for g in 0..n / factor {
        let dst = &mut out[g * plane_len..(g + 1) * plane_len];
        dst.fill(0.0);
        for k in g * factor..(g + 1) * factor {
            for (d, v) in dst
                .iter_mut()
                .zip(&planes[k * plane_len..(k + 1) * plane_len])
            {
                *d += *v;
            }
        }
        for d in dst.iter_mut() {
            *d /= factor as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[(f64, f64)]) -> LinePath {
        LinePath {
            kind: if points.len() == 2 {
                LineKind::Line
            } else {
                LineKind::Polyline
            },
            points: points.to_vec(),
        }
    }

    fn rounded(b: &Boxes) -> Vec<(i64, i64)> {
        b.centres
            .iter()
            .map(|c| (c.0.round() as i64, c.1.round() as i64))
            .collect()
    }

    #[test]
    fn a_line_runs_from_its_end_to_its_start() {
        // The reference's tests: (9,5)→(1,5) gives row 5, x = 1..9 ascending; (5,9)→(5,1) gives y = 1..9.
        let b = boxes(&line(&[(9.0, 5.0), (1.0, 5.0)]), 1).expect("boxes");
        assert_eq!(rounded(&b), (1..=9).map(|x| (x, 5)).collect::<Vec<_>>());
        let b = boxes(&line(&[(5.0, 9.0), (5.0, 1.0)]), 1).expect("boxes");
        assert_eq!(rounded(&b), (1..=9).map(|y| (5, y)).collect::<Vec<_>>());
        assert!(matches!(
            b.shapes[0],
            Shape::Rectangle { width, height, .. } if width == 1.0 && height == 1.0
        ));
    }

    #[test]
    fn a_polyline_does_not_repeat_its_vertices() {
        let b = boxes(&line(&[(1.0, 1.0), (9.0, 1.0), (9.0, 5.0)]), 3).expect("boxes");
        let mut expected: Vec<(i64, i64)> = (1..=9).map(|x| (x, 1)).collect();
        expected.extend((2..=5).map(|y| (9, y)));
        assert_eq!(rounded(&b), expected);
        assert_eq!(b.neighbours().count(), 11);
    }

    #[test]
    fn slanted_boxes_are_three_pixels_along() {
        let b = boxes(&line(&[(0.0, 0.0), (10.0, 10.0)]), 5).expect("boxes");
        assert_eq!(
            b.len(),
            2 * lround((200f64.sqrt() - 1.0) / 2.0) as usize + 1
        );
        assert!(matches!(
            b.shapes[0],
            Shape::Rectangle { width, height, .. } if width == 3.0 && height == 5.0
        ));
    }

    #[test]
    fn bad_paths_are_refused() {
        assert_eq!(
            boxes(&line(&[(0.0, 0.0), (1.0, 1.0)]), 0),
            Err(LineError::Width(0))
        );
        assert_eq!(
            boxes(&line(&[(0.0, 0.0), (1.0, 1.0)]), 21),
            Err(LineError::Width(21))
        );
        assert_eq!(
            boxes(&line(&[(0.0, f64::NAN), (1.0, 1.0)]), 1),
            Err(LineError::NotFinite)
        );
        let short = LinePath {
            kind: LineKind::Line,
            points: vec![(0.0, 0.0)],
        };
        assert!(boxes(&short, 1).is_err());
        // A zero-length line is one box.
        assert_eq!(
            boxes(&line(&[(3.0, 3.0), (3.0, 3.0)]), 1).map(|b| b.len()),
            Ok(1)
        );
    }

    #[test]
    fn units_follow_the_total_length() {
        assert_eq!(length_unit(0.5, 3).1, "arcsec");
        assert_eq!(length_unit(1e-4, 3).1, "marcsec");
        let (v, u) = length_unit(1.0, 200);
        assert_eq!(u, "arcmin");
        assert!((v - 1.0 / 60.0).abs() < 1e-15);
        assert_eq!(length_unit(100.0, 100).1, "deg");
    }

    #[test]
    fn cube_means_and_plane_rebinning() {
        // A 4x3 cube of 2 planes; a 2x1 box over pixels (1,1) and (2,1).
        let mut cube: Vec<f32> = (0..24).map(|v| v as f32).collect();
        cube[12 + 4 + 2] = f32::NAN;
        let b = Shape::Rectangle {
            cx: 1.5,
            cy: 1.0,
            width: 2.0,
            height: 1.0,
            rotation_deg: 0.0,
        };
        let outside = Shape::Rectangle {
            cx: 40.0,
            cy: 40.0,
            width: 1.0,
            height: 1.0,
            rotation_deg: 0.0,
        };
        let m = cube_box_means(&cube, 4, 3, 2, &[b, outside]);
        assert_eq!(&m[..2], &[5.5, 17.0]);
        assert!(m[2].is_nan() && m[3].is_nan());
        let planes = [1.0, 2.0, 3.0, 4.0, f32::NAN, 6.0, 7.0, 8.0];
        let r = rebin_planes(&planes, 2, 3);
        assert!(r[0].is_nan());
        assert_eq!(r[1], 4.0);
        assert!(r[2].is_nan() && r[3].is_nan(), "a partial group is NaN");
    }

    #[test]
    fn linearity_allows_the_tolerance() {
        let mean_step = linear_increment(&[1.0, 1.0005, 0.0], 0.01).unwrap_or(f64::NAN);
        assert!((mean_step - 1.00025).abs() < 1e-12, "{mean_step}");
        assert_eq!(linear_increment(&[1.0, 1.2], 0.01), None);
        assert_eq!(linear_increment(&[], 0.01), Some(0.0));
        assert!(mean((0.0, 0)).is_nan());
        assert_eq!(finite_sum(&[1.0, f32::NAN, 2.0]), (3.0, 2));
    }
}
