//! Contour lines of an image plane: NaN-aware marching squares traced per band of rows, so that bands can be traced
//! by different workers, and [`stitch`], which joins the bands' pieces into whole polylines.
//!
//! # Rules
//! - A corner value `v` is *high* when `v >= level` and *low* when `v < level` or NaN. For the crossing position a
//!   NaN counts as `-f32::MAX` (as carta_backend does, so the crossing lands essentially on the valid pixel) and
//!   ±∞ as ±`f32::MAX`; the fraction `(level - v0) / (v1 - v0)` is computed in f64 and clamped to [0, 1].
//! - Output vertices are pixel-index coordinates shifted by +0.5 (pixel (0, 0)'s centre is at (0.5, 0.5)), stored
//!   as f32 x, y pairs.
//! - Orientation: walking along a line, high values are on the right when the image is drawn with y (the row
//!   index) increasing upwards, as CARTA displays it; a line goes counter-clockwise around a low hollow and
//!   clockwise around a high peak (positive and negative shoelace area in pixel coordinates respectively).
//! - Saddle cells (diagonal corners high, the other two low) are decided by the mean of the four corner values
//!   (NaN as `-f32::MAX`): when the mean is `>= level` the two high corners are joined through the cell centre (the
//!   lines cut off the two low corners), otherwise the lines cut off the two high corners.
//! - Every crossed cell edge carries exactly one vertex, and each vertex belongs to exactly one line. Closed lines
//!   repeat their first vertex at the end.
//!
//! # Bands and seams
//! A band is a run of whole rows whose last row is a halo (the first row of the next band) unless it is the last
//! band. Cells are the squares between consecutive rows of the band, so every cell belongs to exactly one band and
//! the horizontal edges of a boundary row belong to both bands. A piece that leaves its band through such a row ends
//! (or starts) at [`End::Seam`]; the neighbouring band has the matching piece starting (or ending) at the same key,
//! with the bit-identical vertex, and [`stitch`] joins them dropping the duplicate.
//!
//! # Speed
//! Rows are visited once for all levels. Per row and level the high/low flags and the 4-bit cell codes are computed
//! in branch-free passes the compiler vectorises; cells whose corners agree are skipped eight at a time; vertices
//! are linked through per-row arrays of vertex ids indexed by edge column, so memory is O(width + vertices).

use std::collections::HashMap;

/// One band's contours: per level (in the order of the `levels` given to [`trace_band`]), the pieces.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct BandContours {
    pub levels: Vec<Vec<Piece>>,
}

/// A polyline traced inside one band.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Piece {
    /// x, y pairs; a closed piece repeats its first vertex at the end.
    pub coords: Vec<f32>,
    pub start: End,
    pub end: End,
}

/// How a piece starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum End {
    /// The piece is a closed loop inside its band (both ends are `Closed`).
    Closed,
    /// The line stops at the image border.
    Open,
    /// A crossing on the horizontal edge between pixels (`x`, `row`) and (`x` + 1, `row`) of an interior band
    /// boundary row; the neighbouring band has a piece with the opposite end at the same key.
    Seam { row: u32, x: u32 },
}

/// No vertex.
const NONE: u32 = u32::MAX;

/// Cell edges. Corners in cyclic order are a = (x, y), b = (x+1, y), c = (x+1, y+1), d = (x, y+1) (code bits 0..3);
/// edge k joins corner k to corner k+1.
const TOP: usize = 0;
const RIGHT: usize = 1;
const BOTTOM: usize = 2;
const LEFT: usize = 3;

/// For a non-saddle cell code: the (entry, exit) edge of its one segment. Walking the corners cyclically, the
/// entry is the edge going low → high and the exit the edge going high → low, which orients every segment the same
/// way and makes a shared edge the exit of one cell and the entry of its neighbour.
const SEGMENT: [[u8; 2]; 16] = {
    let mut table = [[0u8; 2]; 16];
    let mut code = 0;
    while code < 16 {
        let mut k = 0;
        while k < 4 {
            let here = (code >> k) & 1;
            let next = (code >> ((k + 1) % 4)) & 1;
            if here == 0 && next == 1 {
                table[code][0] = k as u8;
            }
            if here == 1 && next == 0 {
                table[code][1] = k as u8;
            }
            k += 1;
        }
        code += 1;
    }
    table
};

/// Saddle segments as (entry, exit) pairs: `[code 5 (a, c high), code 10 (b, d high)][joined high]`.
const SADDLE: [[[[usize; 2]; 2]; 2]; 2] = [
    // code 5: entries R, L; exits T, B.
    [
        [[LEFT, TOP], [RIGHT, BOTTOM]], // separated: cut off a and c
        [[RIGHT, TOP], [LEFT, BOTTOM]], // joined: cut off b and d
    ],
    // code 10: entries T, B; exits R, L.
    [
        [[TOP, RIGHT], [BOTTOM, LEFT]], // separated: cut off b and d
        [[TOP, LEFT], [BOTTOM, RIGHT]], // joined: cut off a and c
    ],
];

/// A pixel value as used for crossing positions and saddle means.
#[inline]
fn interp_value(v: f32) -> f64 {
    if v.is_nan() {
        -f64::from(f32::MAX)
    } else {
        f64::from(v.clamp(-f32::MAX, f32::MAX))
    }
}

/// Where `level` crosses between `v0` (at 0) and `v1` (at 1).
#[inline]
fn fraction(level: f64, v0: f32, v1: f32) -> f64 {
    let a = interp_value(v0);
    let t = (level - a) / (interp_value(v1) - a);
    if t.is_nan() {
        0.5
    } else {
        t.clamp(0.0, 1.0)
    }
}

/// The smallest f32 `t` with `f64::from(t) >= level`, so that `v >= t` ⇔ `f64::from(v) >= level` for every f32 `v`.
fn f32_threshold(level: f64) -> f32 {
    let t = level as f32;
    if f64::from(t) < level {
        t.next_up()
    } else {
        t
    }
}

/// High/low flags of one row (NaN is low). Branch-free, so it vectorises.
#[inline]
fn row_flags(row: &[f32], threshold: f32, out: &mut [u8]) {
    for (o, v) in out.iter_mut().zip(row) {
        *o = u8::from(*v >= threshold);
    }
}

/// Cell codes between two flag rows: bit 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left.
#[inline]
fn cell_codes(top: &[u8], bottom: &[u8], codes: &mut [u8]) {
    let n = codes.len();
    let tops = top[..n].iter().zip(&top[1..=n]);
    let bottoms = bottom[..n].iter().zip(&bottom[1..=n]);
    for (code, ((t0, t1), (b0, b1))) in codes.iter_mut().zip(tops.zip(bottoms)) {
        *code = t0 | (t1 << 1) | (b1 << 2) | (b0 << 3);
    }
}

/// The tracing state of one level within one band.
struct LevelTracer {
    level: f64,
    threshold: f32,
    flags_top: Vec<u8>,
    flags_bottom: Vec<u8>,
    /// Vertex ids of the crossed horizontal edges of the current cell row's top and bottom rows, by column.
    top_ids: Vec<u32>,
    bottom_ids: Vec<u32>,
    /// Vertex ids of the current cell row's vertical edges, by column (written by the cell on the left).
    vert_ids: Vec<u32>,
    /// Vertices (x, y pairs, already shifted by 0.5) and their links.
    xy: Vec<f32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Vertices on the band's first row are ids `0..first_xs.len()`, with these columns.
    first_xs: Vec<u32>,
    /// Vertices on the band's last row are ids `last_start..last_start + last_xs.len()`.
    last_start: u32,
    last_xs: Vec<u32>,
}

impl LevelTracer {
    fn new(level: f64, width: usize) -> LevelTracer {
        LevelTracer {
            level,
            threshold: f32_threshold(level),
            flags_top: vec![0; width],
            flags_bottom: vec![0; width],
            top_ids: vec![NONE; width],
            bottom_ids: vec![NONE; width],
            vert_ids: vec![NONE; width],
            xy: Vec::new(),
            next: Vec::new(),
            prev: Vec::new(),
            first_xs: Vec::new(),
            last_start: 0,
            last_xs: Vec::new(),
        }
    }

    #[inline]
    fn vertex(&mut self, cx: f64, cy: f64) -> u32 {
        // The band size check in `trace_band` keeps ids below NONE.
        let id = self.next.len() as u32;
        debug_assert!(id != NONE);
        self.xy.push((cx + 0.5) as f32);
        self.xy.push((cy + 0.5) as f32);
        self.next.push(NONE);
        self.prev.push(NONE);
        id
    }

    #[inline]
    fn link(&mut self, from: u32, to: u32) {
        if from != NONE && to != NONE {
            self.next[from as usize] = to;
            self.prev[to as usize] = from;
        }
    }

    /// Creates the vertices of every crossed horizontal edge of the band's first row (`top`, flags in `flags_top`,
    /// ids into `top_ids`) or last row (flags in `flags_bottom`, ids into `bottom_ids`); returns their columns in
    /// order, the ids being consecutive from the current vertex count.
    fn horizontal_row(&mut self, row: &[f32], y: f64, top: bool) -> Vec<u32> {
        let mut ids = std::mem::take(if top {
            &mut self.top_ids
        } else {
            &mut self.bottom_ids
        });
        let flags = std::mem::take(if top {
            &mut self.flags_top
        } else {
            &mut self.flags_bottom
        });
        let mut xs = Vec::new();
        for (x, pair) in flags.windows(2).enumerate() {
            if pair[0] != pair[1] {
                let t = fraction(self.level, row[x], row[x + 1]);
                ids[x] = self.vertex(x as f64 + t, y);
                xs.push(x as u32);
            }
        }
        if top {
            self.top_ids = ids;
            self.flags_top = flags;
        } else {
            self.bottom_ids = ids;
            self.flags_bottom = flags;
        }
        xs
    }

    /// Traces the active cell `x` (code neither 0 nor 15) of the cell row between `rt` (image row `y`) and `rb`.
    #[inline]
    fn cell(&mut self, x: usize, code: u8, rt: &[f32], rb: &[f32], y: f64, create_bottom: bool) {
        let bit = |k: u8| (code >> k) & 1;
        let mut id = [NONE; 4];
        if bit(0) != bit(1) {
            id[TOP] = self.top_ids[x];
        }
        if bit(1) != bit(2) {
            let t = fraction(self.level, rt[x + 1], rb[x + 1]);
            let v = self.vertex((x + 1) as f64, y + t);
            self.vert_ids[x + 1] = v;
            id[RIGHT] = v;
        }
        if bit(2) != bit(3) {
            id[BOTTOM] = if create_bottom {
                let t = fraction(self.level, rb[x], rb[x + 1]);
                let v = self.vertex(x as f64 + t, y + 1.0);
                self.bottom_ids[x] = v;
                v
            } else {
                self.bottom_ids[x]
            };
        }
        if bit(3) != bit(0) {
            id[LEFT] = if x == 0 {
                let t = fraction(self.level, rt[0], rb[0]);
                self.vertex(0.0, y + t)
            } else {
                self.vert_ids[x]
            };
        }
        if code == 5 || code == 10 {
            let mean = (interp_value(rt[x])
                + interp_value(rt[x + 1])
                + interp_value(rb[x])
                + interp_value(rb[x + 1]))
                / 4.0;
            let pairs = SADDLE[usize::from(code == 10)][usize::from(mean >= self.level)];
            for [entry, exit] in pairs {
                self.link(id[entry], id[exit]);
            }
        } else {
            let [entry, exit] = SEGMENT[usize::from(code)];
            self.link(id[usize::from(entry)], id[usize::from(exit)]);
        }
    }

    /// Traces the cells of one cell row whose codes are `codes`.
    fn cell_row(&mut self, codes: &[u8], rt: &[f32], rb: &[f32], y: f64, create_bottom: bool) {
        const ALL_HIGH: u64 = 0x0F0F_0F0F_0F0F_0F0F;
        let mut chunks = codes.chunks_exact(8);
        let mut x0 = 0;
        for chunk in &mut chunks {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            let word = u64::from_ne_bytes(bytes);
            // Neighbouring cells share corners, so a run of inactive cells is all 0 or all 15.
            if word != 0 && word != ALL_HIGH {
                for (i, &code) in chunk.iter().enumerate() {
                    if code != 0 && code != 15 {
                        self.cell(x0 + i, code, rt, rb, y, create_bottom);
                    }
                }
            }
            x0 += 8;
        }
        for (i, &code) in chunks.remainder().iter().enumerate() {
            if code != 0 && code != 15 {
                self.cell(x0 + i, code, rt, rb, y, create_bottom);
            }
        }
    }

    fn end_of(
        &self,
        v: u32,
        first_row: u32,
        last_row: u32,
        first_seam: bool,
        last_seam: bool,
    ) -> End {
        let first = v as usize;
        if first_seam && first < self.first_xs.len() {
            return End::Seam {
                row: first_row,
                x: self.first_xs[first],
            };
        }
        if last_seam && v >= self.last_start {
            if let Some(&x) = self.last_xs.get((v - self.last_start) as usize) {
                return End::Seam { row: last_row, x };
            }
        }
        End::Open
    }

    #[inline]
    fn push_xy(&self, coords: &mut Vec<f32>, v: u32) {
        let i = 2 * v as usize;
        coords.extend_from_slice(&self.xy[i..i + 2]);
    }

    /// Walks the linked vertices into pieces: first the open chains, then the loops.
    fn pieces(
        mut self,
        first_row: u32,
        last_row: u32,
        first_seam: bool,
        last_seam: bool,
    ) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let n = self.next.len() as u32;
        for s in 0..n {
            if self.prev[s as usize] != NONE || self.next[s as usize] == NONE {
                continue;
            }
            let mut coords = Vec::new();
            let mut v = s;
            loop {
                self.push_xy(&mut coords, v);
                let n = std::mem::replace(&mut self.next[v as usize], NONE);
                if n == NONE {
                    break;
                }
                v = n;
            }
            pieces.push(Piece {
                coords,
                start: self.end_of(s, first_row, last_row, first_seam, last_seam),
                end: self.end_of(v, first_row, last_row, first_seam, last_seam),
            });
        }
        for s in 0..n {
            if self.next[s as usize] == NONE {
                continue;
            }
            let mut coords = Vec::new();
            let mut v = s;
            loop {
                self.push_xy(&mut coords, v);
                let n = std::mem::replace(&mut self.next[v as usize], NONE);
                if n == NONE || n == s {
                    break;
                }
                v = n;
            }
            self.push_xy(&mut coords, s);
            pieces.push(Piece {
                coords,
                start: End::Closed,
                end: End::Closed,
            });
        }
        pieces
    }
}

/// Traces one band: rows `first_row .. first_row + rows.len() / width` of a row-major plane `width` columns wide,
/// whose last row is a halo (the first row of the next band) unless `last_band` is true (then the band ends at
/// the image's last row). Cells are the squares between rows y and y+1 for y in `first_row .. first_row + nrows
/// - 1`. Returns one list of pieces per level, in `levels` order; non-finite levels, fewer than 2 rows or columns,
/// a length that is not a multiple of `width`, or a band of 2^31 pixels or more give empty lists.
pub fn trace_band(
    rows: &[f32],
    width: usize,
    first_row: usize,
    last_band: bool,
    levels: &[f64],
) -> BandContours {
    let empty = || BandContours {
        levels: vec![Vec::new(); levels.len()],
    };
    if width < 2 || !rows.len().is_multiple_of(width) || rows.len() >= (u32::MAX / 2) as usize {
        return empty();
    }
    let nrows = rows.len() / width;
    if nrows < 2 {
        return empty();
    }
    let Some(last_row) = first_row
        .checked_add(nrows - 1)
        .and_then(|r| u32::try_from(r).ok())
    else {
        return empty();
    };
    // first_row <= last_row fits in u32 too.
    let first_row_u32 = first_row as u32;
    let (first_seam, last_seam) = (first_row > 0, !last_band);

    let mut tracers: Vec<Option<LevelTracer>> = levels
        .iter()
        .map(|&level| level.is_finite().then(|| LevelTracer::new(level, width)))
        .collect();
    let mut codes = vec![0u8; width - 1];

    let row0 = &rows[..width];
    for t in tracers.iter_mut().flatten() {
        row_flags(row0, t.threshold, &mut t.flags_top);
        t.first_xs = t.horizontal_row(row0, first_row as f64, true);
    }
    for (r, pair) in rows.windows(2 * width).step_by(width).enumerate() {
        let (rt, rb) = pair.split_at(width);
        let y = (first_row + r) as f64;
        let last_cell_row = r + 2 == nrows;
        for t in tracers.iter_mut().flatten() {
            row_flags(rb, t.threshold, &mut t.flags_bottom);
            if last_cell_row {
                t.last_start = t.next.len() as u32;
                t.last_xs = t.horizontal_row(rb, y + 1.0, false);
            }
            cell_codes(&t.flags_top, &t.flags_bottom, &mut codes);
            t.cell_row(&codes, rt, rb, y, !last_cell_row);
            std::mem::swap(&mut t.flags_top, &mut t.flags_bottom);
            std::mem::swap(&mut t.top_ids, &mut t.bottom_ids);
        }
    }

    BandContours {
        levels: tracers
            .into_iter()
            .map(|t| match t {
                Some(t) => t.pieces(first_row_u32, last_row, first_seam, last_seam),
                None => Vec::new(),
            })
            .collect(),
    }
}

/// Lines (flat x, y vertex pairs) moved through `map`; a line is split where a vertex has no image (the
/// map gives `None`), and pieces of fewer than two vertices are dropped.
pub fn map_lines(
    lines: Vec<Vec<f32>>,
    map: impl Fn(f64, f64) -> Option<(f64, f64)>,
) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let mut piece = Vec::with_capacity(line.len());
        for v in line.chunks_exact(2) {
            match map(f64::from(v[0]), f64::from(v[1])) {
                Some((x, y)) => piece.extend_from_slice(&[x as f32, y as f32]),
                None => {
                    if piece.len() >= 4 {
                        out.push(std::mem::take(&mut piece));
                    }
                    piece.clear();
                }
            }
        }
        if piece.len() >= 4 {
            out.push(piece);
        }
    }
    out
}

/// Joins the bands' pieces (bands in row order) into whole polylines: per level (`nlevels` of them), the lines as
/// x, y pairs. A piece ending at a seam key continues with the piece starting at the same key (its first vertex,
/// the shared crossing, dropped), across any number of bands; a chain that comes back to its first piece is a
/// closed line and repeats its first vertex at the end. Unmatched seams (bands missing) end their line.
pub fn stitch(bands: Vec<BandContours>, nlevels: usize) -> Vec<Vec<Vec<f32>>> {
    let mut per_level: Vec<Vec<Piece>> = vec![Vec::new(); nlevels];
    for band in bands {
        for (l, pieces) in band.levels.into_iter().enumerate().take(nlevels) {
            per_level[l].extend(pieces);
        }
    }
    per_level.into_iter().map(stitch_level).collect()
}

fn stitch_level(mut pieces: Vec<Piece>) -> Vec<Vec<f32>> {
    let mut starts: HashMap<End, usize> = HashMap::new();
    for (i, p) in pieces.iter().enumerate() {
        if let End::Seam { .. } = p.start {
            starts.insert(p.start, i);
        }
    }
    let mut used = vec![false; pieces.len()];
    let mut lines = Vec::new();
    let follow = |i: usize, pieces: &mut [Piece], used: &mut [bool]| {
        used[i] = true;
        let mut line = std::mem::take(&mut pieces[i].coords);
        let mut end = pieces[i].end;
        while let End::Seam { .. } = end {
            match starts.get(&end) {
                Some(&j) if !used[j] => {
                    used[j] = true;
                    line.extend_from_slice(pieces[j].coords.get(2..).unwrap_or(&[]));
                    end = pieces[j].end;
                }
                // Back at the first piece (a closed line: the shared crossing already ends it), or unmatched.
                _ => break,
            }
        }
        line
    };
    // Open starts first so no line is entered in its middle; closed pieces pass through.
    let open: Vec<usize> = pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| !matches!(p.start, End::Seam { .. }))
        .map(|(i, _)| i)
        .collect();
    for i in open {
        lines.push(follow(i, &mut pieces, &mut used));
    }
    // The rest are chains of seam-to-seam pieces that come back to where they started.
    let mut i = 0;
    while i < pieces.len() {
        if !used[i] {
            lines.push(follow(i, &mut pieces, &mut used));
        }
        i += 1;
    }
    lines.retain(|l| !l.is_empty());
    lines
}

/// The whole plane (`width` × `height`, row-major) traced as one band: per level, the polylines.
pub fn trace_plane(
    plane: &[f32],
    width: usize,
    height: usize,
    levels: &[f64],
) -> Vec<Vec<Vec<f32>>> {
    match width.checked_mul(height) {
        Some(n) if n == plane.len() => stitch(
            vec![trace_band(plane, width, 0, true, levels)],
            levels.len(),
        ),
        _ => vec![Vec::new(); levels.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_lines_split_where_a_vertex_has_no_image() {
        let line = vec![0.0, 0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0, 5.0, 0.0];
        let out = map_lines(vec![line], |x, y| (x != 2.0).then_some((x + 10.0, y)));
        assert_eq!(
            out,
            vec![
                vec![10.0, 0.0, 11.0, 0.0],
                vec![13.0, 0.0, 14.0, 0.0, 15.0, 0.0]
            ]
        );
    }

    /// Deterministic pseudo-random values in [0, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn field(width: usize, height: usize, mut f: impl FnMut(f64, f64) -> f64) -> Vec<f32> {
        let mut v = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                v.push(f(x as f64, y as f64) as f32);
            }
        }
        v
    }

    /// A smooth-ish plane with noise: many small features and saddles.
    fn random_plane(width: usize, height: usize, seed: u64) -> Vec<f32> {
        let mut rng = Lcg(seed);
        field(width, height, |x, y| {
            (x * 0.31).sin() + (y * 0.23).cos() + 0.5 * ((x + y) * 0.17).sin() + 0.4 * rng.next()
        })
    }

    fn is_closed(line: &[f32]) -> bool {
        line.len() >= 6 && line[..2] == line[line.len() - 2..]
    }

    /// Canonical form: open lines as they are, closed lines without the repeat and rotated to their least vertex;
    /// sorted.
    fn canon(lines: &[Vec<f32>]) -> Vec<(bool, Vec<(u32, u32)>)> {
        let mut out: Vec<(bool, Vec<(u32, u32)>)> = lines
            .iter()
            .map(|l| {
                let closed = is_closed(l);
                let mut v: Vec<(u32, u32)> = l
                    .chunks(2)
                    .map(|p| (p[0].to_bits(), p[1].to_bits()))
                    .collect();
                if closed {
                    v.pop();
                    let m = (0..v.len()).min_by_key(|&i| v[i]).unwrap_or(0);
                    v.rotate_left(m);
                }
                (closed, v)
            })
            .collect();
        out.sort();
        out
    }

    /// Bands starting at rows 0 and `cuts`, each with its halo row.
    fn trace_bands(
        plane: &[f32],
        width: usize,
        height: usize,
        cuts: &[usize],
        levels: &[f64],
    ) -> Vec<BandContours> {
        let mut starts = vec![0];
        starts.extend_from_slice(cuts);
        let mut bands = Vec::new();
        for (i, &s) in starts.iter().enumerate() {
            let last = i + 1 == starts.len();
            let end = if last { height - 1 } else { starts[i + 1] };
            bands.push(trace_band(
                &plane[s * width..(end + 1) * width],
                width,
                s,
                last,
                levels,
            ));
        }
        bands
    }

    /// Independent count of crossed edges (horizontal and vertical) at `level`.
    fn crossings(plane: &[f32], width: usize, height: usize, level: f64) -> usize {
        let high = |x: usize, y: usize| f64::from(plane[y * width + x]) >= level;
        let mut n = 0;
        for y in 0..height {
            for x in 0..width {
                if x + 1 < width && high(x, y) != high(x + 1, y) {
                    n += 1;
                }
                if y + 1 < height && high(x, y) != high(x, y + 1) {
                    n += 1;
                }
            }
        }
        n
    }

    fn vertex_count(lines: &[Vec<f32>]) -> usize {
        lines
            .iter()
            .map(|l| l.len() / 2 - usize::from(is_closed(l)))
            .sum()
    }

    fn shoelace(line: &[f32]) -> f64 {
        let p: Vec<(f64, f64)> = line
            .chunks(2)
            .map(|c| (f64::from(c[0]), f64::from(c[1])))
            .collect();
        p.windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum::<f64>()
            / 2.0
    }

    #[test]
    fn circle_gives_one_closed_line_per_level_on_the_radius() {
        let (w, h) = (100, 100);
        let (cx, cy) = (50.3, 49.7);
        let plane = field(w, h, |x, y| ((x - cx).powi(2) + (y - cy).powi(2)).sqrt());
        let levels = [15.0, 25.0, 40.0];
        let lines = trace_plane(&plane, w, h, &levels);
        assert_eq!(lines.len(), 3);
        for (l, &r) in levels.iter().enumerate() {
            assert_eq!(lines[l].len(), 1, "level {r}");
            let line = &lines[l][0];
            assert!(is_closed(line));
            for p in line.chunks(2) {
                let d = ((f64::from(p[0]) - 0.5 - cx).powi(2)
                    + (f64::from(p[1]) - 0.5 - cy).powi(2))
                .sqrt();
                assert!((d - r).abs() < 0.01, "level {r}: vertex at radius {d}");
            }
            // Low inside: counter-clockwise (positive area), area close to πr².
            let area = shoelace(line);
            assert!(area > 0.0);
            assert!((area / (std::f64::consts::PI * r * r) - 1.0).abs() < 0.01);
            assert_eq!(vertex_count(&lines[l]), crossings(&plane, w, h, r));
        }
        // A peak (high inside) goes the other way.
        let peak: Vec<f32> = plane.iter().map(|v| -v).collect();
        let lines = trace_plane(&peak, w, h, &[-25.0]);
        assert_eq!(lines[0].len(), 1);
        assert!(shoelace(&lines[0][0]) < 0.0);
    }

    #[test]
    fn ramp_gives_open_lines_from_border_to_border() {
        let (w, h) = (50, 40);
        let plane = field(w, h, |x, y| x + 0.3 * y);
        let levels = [10.5, 20.25, 30.0];
        let lines = trace_plane(&plane, w, h, &levels);
        let on_border =
            |x: f32, y: f32| x == 0.5 || y == 0.5 || x == w as f32 - 0.5 || y == h as f32 - 0.5;
        for (l, &level) in levels.iter().enumerate() {
            assert_eq!(lines[l].len(), 1);
            let line = &lines[l][0];
            assert!(!is_closed(line));
            let n = line.len();
            assert!(on_border(line[0], line[1]) && on_border(line[n - 2], line[n - 1]));
            // Each line starts on the first row; it ends on the last row or the left edge.
            assert_eq!(line[1], 0.5);
            assert!(line[n - 1] == h as f32 - 0.5 || line[n - 2] == 0.5);
            for p in line.chunks(2) {
                let v = f64::from(p[0]) - 0.5 + 0.3 * (f64::from(p[1]) - 0.5);
                assert!((v - level).abs() < 1e-4);
            }
            assert_eq!(vertex_count(&lines[l]), crossings(&plane, w, h, level));
        }
    }

    #[test]
    fn two_bands_stitched_equal_one_band() {
        let (w, h) = (64, 48);
        let plane = random_plane(w, h, 7);
        let levels = [-0.5, 0.0, 0.3, 1.1];
        let whole = trace_plane(&plane, w, h, &levels);
        let bands = trace_bands(&plane, w, h, &[20], &levels);
        let stitched = stitch(bands, levels.len());
        for ((w_lines, s_lines), &level) in whole.iter().zip(&stitched).zip(&levels) {
            assert!(!w_lines.is_empty());
            assert_eq!(canon(w_lines), canon(s_lines), "level {level}");
            assert_eq!(vertex_count(w_lines), crossings(&plane, w, h, level));
        }
    }

    #[test]
    fn many_bands_stitched_equal_one_band() {
        let (w, h) = (57, 61);
        let plane = random_plane(w, h, 99);
        let levels = [-0.7, 0.0, 0.45, 0.9];
        let whole = trace_plane(&plane, w, h, &levels);
        let every_row: Vec<usize> = (1..60).collect();
        let cut_sets: [&[usize]; 4] = [
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            &[
                3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45, 48, 51, 54, 57, 59,
            ],
            &[7, 19, 20, 33, 50],
            &every_row,
        ];
        for cuts in cut_sets {
            let bands = trace_bands(&plane, w, h, cuts, &levels);
            // Through serde, as bands travel between workers.
            let json = serde_json::to_string(&bands).unwrap_or_default();
            let bands: Vec<BandContours> = serde_json::from_str(&json).unwrap_or_default();
            let stitched = stitch(bands, levels.len());
            for ((w_lines, s_lines), level) in whole.iter().zip(&stitched).zip(levels) {
                assert_eq!(
                    canon(w_lines),
                    canon(s_lines),
                    "cuts {cuts:?} level {level}"
                );
            }
        }
    }

    #[test]
    fn circle_across_many_seams_is_one_closed_line() {
        let (w, h) = (60, 60);
        let plane = field(w, h, |x, y| {
            ((x - 29.6).powi(2) + (y - 30.2).powi(2)).sqrt()
        });
        let levels = [21.0, 7.5];
        let cuts: Vec<usize> = (4..60).step_by(4).collect();
        let bands = trace_bands(&plane, w, h, &cuts, &levels);
        let seams = bands
            .iter()
            .flat_map(|b| &b.levels[0])
            .filter(|p| matches!(p.end, End::Seam { .. }))
            .count();
        assert!(seams >= 10, "the circle crosses {seams} seams");
        let raw: usize = bands
            .iter()
            .flat_map(|b| &b.levels[0])
            .map(|p| p.coords.len() / 2 - usize::from(p.start == End::Closed))
            .sum();
        let stitched = stitch(bands, levels.len());
        for (l, &r) in levels.iter().enumerate() {
            assert_eq!(stitched[l].len(), 1);
            assert!(is_closed(&stitched[l][0]));
            assert_eq!(vertex_count(&stitched[l]), crossings(&plane, w, h, r));
        }
        // Each seam crossing appears in two pieces and once in the line.
        assert_eq!(raw - seams, vertex_count(&stitched[0]));
        let whole = trace_plane(&plane, w, h, &levels);
        assert_eq!(canon(&whole[0]), canon(&stitched[0]));
    }

    #[test]
    fn every_crossing_is_counted_once() {
        let (w, h) = (45, 38);
        for seed in 1..6 {
            let plane = random_plane(w, h, seed);
            let levels = [-1.0, -0.2, 0.5, 1.3];
            let cuts = [9, 10, 23];
            let bands = trace_bands(&plane, w, h, &cuts, &levels);
            for (l, &level) in levels.iter().enumerate() {
                let pieces: Vec<&Piece> = bands.iter().flat_map(|b| &b.levels[l]).collect();
                let raw: usize = pieces
                    .iter()
                    .map(|p| p.coords.len() / 2 - usize::from(p.start == End::Closed))
                    .sum();
                let seam_ends = pieces
                    .iter()
                    .filter(|p| matches!(p.end, End::Seam { .. }))
                    .count();
                let seam_starts = pieces
                    .iter()
                    .filter(|p| matches!(p.start, End::Seam { .. }))
                    .count();
                assert_eq!(seam_ends, seam_starts);
                let n = crossings(&plane, w, h, level);
                assert_eq!(raw - seam_ends, n);
                let stitched = stitch(bands.clone(), levels.len());
                assert_eq!(vertex_count(&stitched[l]), n);
                // No vertex twice.
                let mut all: Vec<(u32, u32)> = stitched[l]
                    .iter()
                    .flat_map(|line| {
                        let k = line.len() / 2 - usize::from(is_closed(line));
                        line.chunks(2)
                            .take(k)
                            .map(|p| (p[0].to_bits(), p[1].to_bits()))
                    })
                    .collect();
                all.sort_unstable();
                all.dedup();
                assert_eq!(all.len(), n);
            }
        }
    }

    #[test]
    fn saddles_follow_the_centre_mean() {
        // a = 1, b = 0 / d = 0, c = 1: mean 0.5.
        let plane = [1.0f32, 0.0, 0.0, 1.0];
        let sorted = |lines: &Vec<Vec<f32>>| {
            let mut v = lines.clone();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            v
        };
        // Joined high at level 0.5: lines cut off b (top → right) and d (left → bottom).
        let lines = trace_plane(&plane, 2, 2, &[0.5]);
        assert_eq!(
            sorted(&lines[0]),
            vec![vec![0.5, 1.0, 1.0, 1.5], vec![1.5, 1.0, 1.0, 0.5]]
        );
        // Separated at level 0.6: lines cut off a and c.
        let lines = trace_plane(&plane, 2, 2, &[0.6]);
        assert_eq!(lines[0].len(), 2);
        for line in &lines[0] {
            assert_eq!(line.len(), 4);
            let mid = ((line[0] + line[2]) / 2.0, (line[1] + line[3]) / 2.0);
            // Each segment's midpoint is near corner a (0.5, 0.5) or c (1.5, 1.5).
            assert!((mid.0 - mid.1).abs() < 1e-6, "{line:?}");
        }
        // The other diagonal, joined: cut off a and c.
        let plane = [0.0f32, 1.0, 1.0, 0.0];
        let lines = trace_plane(&plane, 2, 2, &[0.5]);
        assert_eq!(lines[0].len(), 2);
        for line in &lines[0] {
            let mid = ((line[0] + line[2]) / 2.0, (line[1] + line[3]) / 2.0);
            assert!((mid.0 - mid.1).abs() < 1e-6, "{line:?}");
        }
        // Separated: cut off b and d.
        let lines = trace_plane(&plane, 2, 2, &[0.75]);
        for line in &lines[0] {
            let mid = ((line[0] + line[2]) / 2.0, (line[1] + line[3]) / 2.0);
            assert!((mid.0 + mid.1 - 2.0).abs() < 1e-6, "{line:?}");
        }
        // A checkerboard of saddles: every crossing once, bands agree.
        let (w, h) = (9, 7);
        let plane = field(w, h, |x, y| {
            if (x as usize + y as usize).is_multiple_of(2) {
                1.0
            } else {
                0.0
            }
        });
        for level in [0.5, 0.6] {
            let whole = trace_plane(&plane, w, h, &[level]);
            assert_eq!(vertex_count(&whole[0]), crossings(&plane, w, h, level));
            let stitched = stitch(trace_bands(&plane, w, h, &[2, 3, 5], &[level]), 1);
            assert_eq!(canon(&whole[0]), canon(&stitched[0]));
        }
    }

    #[test]
    fn nan_holes_are_low_and_vertices_stay_near_valid_pixels() {
        let (w, h) = (40, 36);
        let mut plane = random_plane(w, h, 3);
        let mut rng = Lcg(11);
        for y in 10..18 {
            for x in 5..20 {
                plane[y * w + x] = f32::NAN;
            }
        }
        for v in plane.iter_mut() {
            if rng.next() < 0.05 {
                *v = f32::NAN;
            }
        }
        plane[3] = f32::INFINITY;
        plane[w * 20 + 30] = f32::NEG_INFINITY;
        let levels = [-0.5, 0.2, 0.8];
        let whole = trace_plane(&plane, w, h, &levels);
        let valid = |x: i64, y: i64| {
            x >= 0
                && y >= 0
                && (x as usize) < w
                && (y as usize) < h
                && !plane[y as usize * w + x as usize].is_nan()
        };
        for (l, &level) in levels.iter().enumerate() {
            assert_eq!(vertex_count(&whole[l]), crossings(&plane, w, h, level));
            for p in whole[l].iter().flat_map(|line| line.chunks(2)) {
                assert!(p[0].is_finite() && p[1].is_finite());
                let (cx, cy) = (f64::from(p[0]) - 0.5, f64::from(p[1]) - 0.5);
                let near = (cx.floor() as i64 - 1..=cx.ceil() as i64 + 1).any(|x| {
                    (cy.floor() as i64 - 1..=cy.ceil() as i64 + 1).any(|y| {
                        valid(x, y) && (x as f64 - cx).abs() <= 1.0 && (y as f64 - cy).abs() <= 1.0
                    })
                });
                assert!(near, "vertex {p:?} far from valid pixels");
            }
            let stitched = stitch(
                trace_bands(&plane, w, h, &[11, 12, 17, 30], &levels),
                levels.len(),
            );
            assert_eq!(canon(&whole[l]), canon(&stitched[l]));
        }
        // The crossing next to a NaN lands on the valid pixel.
        let lines = trace_plane(&[f32::NAN, 1.0, f32::NAN, 1.0], 2, 2, &[0.5]);
        assert_eq!(lines[0], vec![vec![1.5, 0.5, 1.5, 1.5]]);
    }

    #[test]
    fn bad_input_is_empty() {
        let levels = [0.5, f64::NAN, f64::INFINITY];
        assert_eq!(trace_band(&[], 0, 0, true, &levels).levels.len(), 3);
        assert!(trace_band(&[1.0; 7], 0, 0, true, &levels)
            .levels
            .iter()
            .all(Vec::is_empty));
        assert!(trace_band(&[1.0, 0.0, 1.0], 3, 0, true, &levels)
            .levels
            .iter()
            .all(Vec::is_empty));
        assert!(trace_band(&[1.0, 0.0, 1.0, 0.0, 1.0], 2, 0, true, &levels)
            .levels
            .iter()
            .all(Vec::is_empty));
        assert!(trace_band(&[1.0, 0.0, 1.0, 0.0], 1, 0, true, &levels)
            .levels
            .iter()
            .all(Vec::is_empty));
        assert!(
            trace_band(&[1.0, 0.0, 1.0, 0.0], 2, usize::MAX, false, &levels)
                .levels
                .iter()
                .all(Vec::is_empty)
        );
        assert!(trace_plane(&[1.0, 0.0, 1.0], 2, 2, &levels)
            .iter()
            .all(Vec::is_empty));
        assert!(trace_plane(&[1.0; 4], usize::MAX, 2, &levels)
            .iter()
            .all(Vec::is_empty));
        let plane = random_plane(10, 10, 1);
        let lines = trace_plane(&plane, 10, 10, &levels);
        assert!(!lines[0].is_empty() && lines[1].is_empty() && lines[2].is_empty());
        let nan = vec![f32::NAN; 100];
        assert!(trace_plane(&nan, 10, 10, &[0.0, -1e300, 1e300])
            .iter()
            .all(Vec::is_empty));
        // Huge finite levels: everything low (or only +inf high).
        let mut inf = vec![0.0f32; 100];
        inf[55] = f32::INFINITY;
        let lines = trace_plane(&inf, 10, 10, &[1e300, -1e300]);
        assert_eq!(lines[0].len(), 1);
        assert!(is_closed(&lines[0][0]));
        assert!(lines[1].is_empty());
        // Stitching tolerates missing bands and extra levels.
        let ramp = field(10, 10, |x, _| x);
        let bands = trace_bands(&ramp, 10, 10, &[4], &[4.5]);
        let half = stitch(bands.into_iter().take(1).collect(), 3);
        assert_eq!(half.len(), 3);
        assert!(!half[0].is_empty());
        assert!(stitch(Vec::new(), 2).iter().all(Vec::is_empty));
    }

    #[test]
    fn thresholds_match_f64_comparison() {
        let mut rng = Lcg(5);
        for _ in 0..10_000 {
            let level = (rng.next() - 0.5) * 10f64.powi((rng.next() * 80.0) as i32 - 40);
            let t = f32_threshold(level);
            for v in [t, t.next_down(), t.next_up(), level as f32] {
                assert_eq!(v >= t, f64::from(v) >= level, "level {level} v {v}");
            }
        }
        assert_eq!(f32_threshold(1e300), f32::INFINITY);
        assert_eq!(f32_threshold(-1e300), -f32::MAX);
    }

    /// Timing: `cargo test --profile ci --lib analysis::contour -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_8000_square_5_levels() {
        let (w, h) = (8000, 8000);
        let plane = field(w, h, |x, y| {
            (x * 0.0021).sin()
                + (y * 0.0033).cos()
                + 0.5 * ((x + 0.7 * y) * 0.0009).sin()
                + 0.25 * (x * 0.011 - y * 0.007).cos()
        });
        let levels = [-1.2, -0.5, 0.0, 0.5, 1.2];
        let _ = trace_plane(&plane[..w * 64], w, 64, &levels);
        let t = std::time::Instant::now();
        let lines = trace_plane(&plane, w, h, &levels);
        let dt = t.elapsed();
        let nlines: usize = lines.iter().map(Vec::len).sum();
        let nvert: usize = lines.iter().map(|l| vertex_count(l.as_slice())).sum();
        println!(
            "trace_plane 8000x8000, 5 levels, one core: {dt:?} ({nlines} lines, {nvert} vertices)"
        );

        // The same in 8 bands on threads, then stitched.
        let t = std::time::Instant::now();
        let band_rows = h / 8;
        let bands: Vec<BandContours> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let first = i * band_rows;
                    let last = i == 7;
                    let end = if last { h } else { first + band_rows + 1 };
                    let rows = &plane[first * w..end * w];
                    s.spawn(move || trace_band(rows, w, first, last, &levels))
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap_or_default())
                .collect()
        });
        let traced = t.elapsed();
        let stitched = stitch(bands, levels.len());
        let dt = t.elapsed();
        println!(
            "8 bands on 8 threads: traced {traced:?}, stitched {:?}",
            dt - traced
        );
        for (a, b) in lines.iter().zip(&stitched) {
            assert_eq!(canon(a), canon(b));
        }
    }
}
