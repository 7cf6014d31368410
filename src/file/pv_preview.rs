//! PV previews: a PV_REQUEST with preview settings builds a preview cube once (the preview region's bounding
//! box, or the image, over the channel range of the Stokes shown, block-averaged by `rebin_xy` on the chunk
//! workers and averaged over `rebin_z` channels; progress per slice), then every placement of the line
//! (SET_REGION while it is dragged, with `preview_region`, and after) is sampled from it in memory on the I/O
//! pool: the same boxes as a PV image, in the preview cube's pixels. A newer placement supersedes the one
//! being sampled (its own lane per preview), so a dragged line streams only placements that are still
//! current. The result is encoded (ZFP with NaN runs, or raw) with its histogram and the header-only image
//! the frontend builds its frame from.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use actix::{
    ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseActFuture, WrapFuture,
};

use super::events::{Event, HistogramResult};
use super::generations::Work;
use super::pv::{pv_header, pv_pixels, PvLayout};
use super::region_profiles::sample_line;
use super::FileActor;
use crate::analysis::histogram::{auto_bins, Histogram};
use crate::analysis::line_boxes::{self, LinePath};
use crate::chunk::boxes::{BlockCube, CubeBand};
use crate::chunk::ChunkError;
use crate::image::header::{Header, Value};
use crate::image::memory::MemoryImage;
use crate::image::wcs::Wcs;
use crate::image::{self, Description};
use crate::tiles::encode::{self, Compression};
use crate::tiles::{TileBounds, TileId};

/// Largest preview cube held (bytes); beyond it the request asks for more rebinning.
const MAX_PREVIEW_BYTES: usize = 1 << 30;
/// Channels per request to the chunk workers while the cube is built (rounded to whole `rebin_z` groups).
const SLICE_CHANNELS: usize = 16;

/// Start a PV preview (the first sample is the answer).
#[derive(Message)]
#[rtype(result = "PreviewOutcome")]
pub struct StartPvPreview {
    pub request_id: u32,
    pub preview_id: i32,
    pub region_id: i32,
    pub path: LinePath,
    pub width: usize,
    pub channels: Option<(usize, usize)>,
    pub reverse: bool,
    /// The closed region whose bounding box the cube covers; −1 for the whole image.
    pub preview_region: i32,
    pub rebin_xy: usize,
    pub rebin_z: usize,
    pub compression: Compression,
    pub image_quality: f32,
    pub animation_quality: f32,
}

/// The line of previews moved: sample them again (`quick` while it is being dragged: the animation quality
/// and no full histogram).
#[derive(Message)]
#[rtype(result = "()")]
pub struct UpdatePvPreview {
    pub region_id: i32,
    pub path: LinePath,
    pub quick: bool,
}

/// Stop building a preview's cube.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopPvPreview {
    pub preview_id: i32,
}

/// Drop a preview and its cube.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClosePvPreview {
    pub preview_id: i32,
}

/// One sample of a preview, encoded.
#[derive(Debug, Clone)]
pub struct PvPreview {
    pub preview_id: i32,
    /// The header-only PV image (width, height, header entries) the frontend builds its frame from; `None`
    /// for an empty sample.
    pub description: Option<Description>,
    pub width: usize,
    pub height: usize,
    pub image_data: Vec<u8>,
    pub nan_encodings: Vec<u8>,
    pub compression: Compression,
    pub quality: f32,
    /// Finite minimum and maximum (NaN when none).
    pub bounds: (f32, f32),
    /// Only for a full-quality sample.
    pub histogram: Option<HistogramResult>,
}

/// How a preview request ended.
#[derive(Debug)]
pub enum PreviewOutcome {
    Data(Box<PvPreview>),
    Cancelled,
    Failed(String),
}

/// What a preview cube is made of; previews with the same key share one cube.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CubeKey {
    xs: Range<usize>,
    ys: Range<usize>,
    channels: Range<usize>,
    stokes: usize,
    rebin_xy: usize,
    rebin_z: usize,
}

/// A preview cube: `planes` planes of `width × height`, with the header of its own pixel grid.
struct PreviewCube {
    key: CubeKey,
    values: Vec<f32>,
    width: usize,
    height: usize,
    planes: usize,
    header: Header,
    /// FITS Stokes code of its plane, when the source has a Stokes axis.
    stokes_code: Option<i32>,
}

impl PreviewCube {
    /// Image pixel → preview pixel (block k covers image pixels origin + k·r … + r − 1; its centre is k).
    fn to_preview(&self, p: (f64, f64)) -> (f64, f64) {
        let r = self.key.rebin_xy as f64;
        let half = (r - 1.0) / 2.0;
        (
            (p.0 - self.key.xs.start as f64 - half) / r,
            (p.1 - self.key.ys.start as f64 - half) / r,
        )
    }
}

#[derive(Clone)]
struct Preview {
    region_id: i32,
    width: usize,
    reverse: bool,
    compression: Compression,
    image_quality: f32,
    animation_quality: f32,
    cube: Arc<PreviewCube>,
}

/// The previews of an image.
#[derive(Default)]
pub(super) struct PvPreviews {
    previews: HashMap<i32, Preview>,
}

/// The source header rewritten for a sub-cube starting at `origin` (x, y, first channel) and rebinned by
/// `r` spatially and `rz` spectrally: reference pixels moved and increments scaled so that world coordinates
/// stay where they were (a block's centre carries its pixels' mean position).
fn rebinned_header(
    source: &Header,
    origin: (usize, usize, usize),
    r: usize,
    rz: usize,
    spectral_axis: Option<usize>,
) -> Header {
    let mut axes = vec![(1usize, origin.0, r), (2, origin.1, r)];
    if let Some(a) = spectral_axis {
        axes.push((a + 1, origin.2, rz));
    }
    let mut cards = source.cards.clone();
    for card in cards.iter_mut() {
        let Some(Value::Float(_) | Value::Int(_)) = card.value else {
            continue;
        };
        let v = source.number(&card.keyword).unwrap_or(0.0);
        for &(axis, start, factor) in &axes {
            let f = factor as f64;
            let new = if card.keyword == format!("CRPIX{axis}") {
                Some((v - 1.0 - start as f64 - (f - 1.0) / 2.0) / f + 1.0)
            } else if card.keyword == format!("CDELT{axis}")
                || (card.keyword.starts_with("CD") && card.keyword.ends_with(&format!("_{axis}")))
            {
                Some(v * f)
            } else {
                None
            };
            if let Some(n) = new {
                card.value = Some(Value::Float(n));
            }
        }
    }
    Header { cards }
}

/// The finite minimum, maximum, mean and standard deviation of `values`.
fn finite_summary(values: &[f32]) -> Option<(f32, f32, f64, f64)> {
    let (mut lo, mut hi, mut sum, mut sq, mut n) =
        (f32::INFINITY, f32::NEG_INFINITY, 0.0, 0.0, 0u64);
    for v in values.iter().filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
        let d = f64::from(*v);
        sum += d;
        sq += d * d;
        n += 1;
    }
    (n > 0).then(|| {
        let mean = sum / n as f64;
        let var = (sq / n as f64 - mean * mean).max(0.0);
        (lo, hi, mean, var.sqrt())
    })
}

/// Samples a placement of the line from the cube and encodes it.
fn sample(
    preview_id: i32,
    preview: &Preview,
    path: &LinePath,
    quick: bool,
    name: &str,
) -> Result<PvPreview, String> {
    let cube = &preview.cube;
    let moved = LinePath {
        kind: path.kind,
        points: path.points.iter().map(|p| cube.to_preview(*p)).collect(),
    };
    let wcs = Wcs::from_keywords(
        &cube.header,
        cube.header.int("NAXIS").unwrap_or(2).max(2) as usize,
    );
    let (boxes, axis) = sample_line(&wcs, &moved, preview.width).map_err(|e| e.to_string())?;
    if boxes.is_empty() {
        return Err("The line is too short for a PV preview.".into());
    }
    let positions = boxes.len();
    let means = line_boxes::cube_box_means(
        &cube.values,
        cube.width,
        cube.height,
        cube.planes,
        &boxes.shapes,
    );
    let pixels = pv_pixels(&means, positions, cube.planes, preview.reverse);
    let header = pv_header(&PvLayout {
        source: &cube.header,
        wcs: &wcs,
        axis,
        positions,
        channels: 0..cube.planes,
        stokes_code: cube.stokes_code,
        reverse: preview.reverse,
    })?;
    let (width, height) = if preview.reverse {
        (cube.planes, positions)
    } else {
        (positions, cube.planes)
    };
    let mut dims = vec![width, height];
    if cube.stokes_code.is_some() {
        dims.push(1);
    }
    let summary = finite_summary(&pixels);
    let histogram = match (quick, summary) {
        (false, Some((lo, hi, mean, std_dev))) => {
            let mut h = Histogram::new(f64::from(lo), f64::from(hi), auto_bins(width, height));
            h.add(&pixels);
            Some(HistogramResult {
                bin_width: h.bin_width(),
                first_bin_center: h.first_bin_center(),
                bins: h.bins,
                mean,
                std_dev,
            })
        }
        _ => None,
    };
    let quality = if quick {
        preview.animation_quality
    } else {
        preview.image_quality
    };
    let bounds = TileBounds {
        x0: 0,
        x1: width,
        y0: 0,
        y1: height,
        mip: 1,
        width,
        height,
    };
    let tile = TileId {
        x: 0,
        y: 0,
        layer: 0,
    };
    let encoded = encode::encode(
        pixels.clone(),
        tile,
        bounds,
        preview.compression,
        encode::precision(quality),
    )
    .map_err(|e| format!("Preview data compression failed: {e}"))?;
    let image = MemoryImage::new(name.to_string(), header, dims, pixels)
        .map_err(|e| format!("The PV preview could not be made: {e}"))?;
    Ok(PvPreview {
        preview_id,
        description: Some(image::describe(&image, name)),
        width,
        height,
        image_data: encoded.image_data,
        nan_encodings: encoded.nan_encodings,
        compression: preview.compression,
        quality: encode::precision(quality) as f32,
        bounds: summary.map_or((f32::NAN, f32::NAN), |s| (s.0, s.1)),
        histogram,
    })
}

/// An outcome known at once, as an actor future.
fn ready(outcome: PreviewOutcome) -> ResponseActFuture<FileActor, PreviewOutcome> {
    Box::pin(actix::fut::ready(outcome))
}

/// The frontend's name for a preview frame.
fn preview_name(preview_id: i32) -> String {
    if preview_id > 0 {
        format!("_pv_preview{preview_id}")
    } else {
        "_pv_preview".to_string()
    }
}

impl FileActor {
    /// The cube a preview request needs, checked: its key and the Stokes code of its plane.
    fn preview_key(&self, msg: &StartPvPreview) -> Result<(CubeKey, Option<i32>), String> {
        let shape = self.source.shape();
        let wcs = Wcs::from_keywords(self.source.header(), shape.dims.len());
        if wcs.spectral.is_none() || shape.depth_axis == 0 {
            return Err("No spectral coordinate for generating PV image.".into());
        }
        let (xs, ys) = if msg.preview_region < 0 {
            (0..shape.width, 0..shape.height)
        } else {
            match self.analysis.region(msg.preview_region) {
                Some(Some(s)) => match s.bounding_box(shape.width, shape.height) {
                    Some((x0, x1, y0, y1)) => (x0..x1, y0..y1),
                    None => return Err("The preview region lies outside the image.".into()),
                },
                _ => return Err("PV preview cube requested for invalid preview region id.".into()),
            }
        };
        let last = shape.depth - 1;
        let (from, to) = msg.channels.unwrap_or((0, last));
        if from > to || from > last {
            return Err(format!(
                "Spectral range {from}..{to} is outside the image's channels 0..{last}"
            ));
        }
        let (r, rz) = (msg.rebin_xy.max(1), msg.rebin_z.max(1));
        let channels = from..to.min(last) + 1;
        let bytes = xs.len().div_ceil(r) * ys.len().div_ceil(r) * channels.len() * 4;
        if bytes > MAX_PREVIEW_BYTES {
            return Err(format!(
                "The preview cube would hold {} MiB (at most {} MiB): rebin it more",
                bytes >> 20,
                MAX_PREVIEW_BYTES >> 20
            ));
        }
        let stokes = self.plane.stokes;
        let code = (shape.stokes_axis != 0)
            .then(|| shape.stokes_codes.get(stokes).copied())
            .flatten();
        Ok((
            CubeKey {
                xs,
                ys,
                channels,
                stokes,
                rebin_xy: r,
                rebin_z: rz,
            },
            code,
        ))
    }
}

impl Handler<StartPvPreview> for FileActor {
    type Result = ResponseActFuture<Self, PreviewOutcome>;

    fn handle(&mut self, msg: StartPvPreview, _: &mut Context<Self>) -> Self::Result {
        let ticket = self
            .generations
            .bump(&self.chunks, msg.preview_id, Work::PvPreviewCube);
        let (key, stokes_code) = match self.preview_key(&msg) {
            Ok(k) => k,
            Err(e) => return Box::pin(actix::fut::ready(PreviewOutcome::Failed(e))),
        };
        let shared = self
            .pv_previews
            .previews
            .values()
            .find(|p| p.cube.key == key)
            .map(|p| p.cube.clone());
        let build = match shared {
            Some(cube) => Box::pin(actix::fut::ready(Ok(cube))) as ResponseActFuture<Self, _>,
            None => {
                let (chunks, emitter, request_id) =
                    (self.chunks.clone(), self.emitter(), msg.request_id);
                let preview_id = msg.preview_id;
                let spectral =
                    Wcs::from_keywords(self.source.header(), self.source.shape().dims.len())
                        .spectral
                        .map(|s| s.axis);
                let header = rebinned_header(
                    self.source.header(),
                    (key.xs.start, key.ys.start, key.channels.start),
                    key.rebin_xy,
                    key.rebin_z,
                    spectral,
                );
                let key2 = key.clone();
                let work = async move {
                    let key = key2;
                    let probe = BlockCube {
                        stokes: key.stokes,
                        channels: key.channels.clone(),
                        xs: key.xs.clone(),
                        ys: key.ys.clone(),
                        rebin: key.rebin_xy,
                    };
                    let (gw, gh) = probe.grid();
                    let plane_len = gw * gh;
                    let total = key.channels.len();
                    let mut values = vec![f32::NAN; plane_len * total];
                    let step = SLICE_CHANNELS.div_ceil(key.rebin_z) * key.rebin_z;
                    for start in key.channels.clone().step_by(step) {
                        let slice = start..(start + step).min(key.channels.end);
                        let intent = BlockCube {
                            channels: slice.clone(),
                            ..probe.clone()
                        };
                        let bands: Vec<CubeBand> =
                            match chunks.ask(ticket.lane, ticket.generation, intent).await {
                                Ok(b) => b,
                                Err(ChunkError::Stale) => return Err(None),
                                Err(e) => return Err(Some(format!("PV preview failed: {e}"))),
                            };
                        if chunks.is_stale(ticket.lane, ticket.generation) {
                            return Err(None);
                        }
                        let n = slice.len();
                        for band in bands {
                            let rows = band.rows.len();
                            for c in 0..n {
                                let src = &band.values[c * rows * gw..(c + 1) * rows * gw];
                                let k = slice.start - key.channels.start + c;
                                let dst = k * plane_len + band.rows.start * gw;
                                values[dst..dst + rows * gw].copy_from_slice(src);
                            }
                        }
                        emitter.emit(Event::PvProgress {
                            request_id,
                            preview_id,
                            progress: (slice.end - key.channels.start) as f64 / total as f64,
                        });
                    }
                    let values = line_boxes::rebin_planes(&values, plane_len, key.rebin_z);
                    let planes = values.len() / plane_len.max(1);
                    Ok(Arc::new(PreviewCube {
                        key,
                        values,
                        width: gw,
                        height: gh,
                        planes,
                        header,
                        stokes_code,
                    }))
                };
                Box::pin(work.into_actor(self))
            }
        };
        let runtime = self.runtime.clone();
        Box::pin(build.then(move |cube, act, _| {
            let cube = match cube {
                Ok(c) => c,
                Err(None) => return ready(PreviewOutcome::Cancelled),
                Err(Some(e)) => return ready(PreviewOutcome::Failed(e)),
            };
            let preview = Preview {
                region_id: msg.region_id,
                width: msg.width,
                reverse: msg.reverse,
                compression: msg.compression,
                image_quality: msg.image_quality,
                animation_quality: msg.animation_quality,
                cube,
            };
            let (path, preview_id) = (msg.path.clone(), msg.preview_id);
            let job = preview.clone();
            act.pv_previews.previews.insert(preview_id, preview);
            let work = async move {
                let name = preview_name(preview_id);
                runtime
                    .on_pool(move || sample(preview_id, &job, &path, false, &name))
                    .await
            };
            Box::pin(work.into_actor(act).map(|result, _, _| match result {
                Some(Ok(p)) => PreviewOutcome::Data(Box::new(p)),
                Some(Err(e)) => PreviewOutcome::Failed(e),
                None => PreviewOutcome::Failed("the I/O pool stopped".into()),
            })) as ResponseActFuture<Self, PreviewOutcome>
        }))
    }
}

impl Handler<UpdatePvPreview> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: UpdatePvPreview, ctx: &mut Context<Self>) {
        let ids: Vec<i32> = self
            .pv_previews
            .previews
            .iter()
            .filter(|(_, p)| p.region_id == msg.region_id)
            .map(|(id, _)| *id)
            .collect();
        for preview_id in ids {
            let Some(p) = self.pv_previews.previews.get(&preview_id) else {
                continue;
            };
            let job = p.clone();
            let ticket = self
                .generations
                .bump(&self.chunks, preview_id, Work::PvPreviewCut);
            let (runtime, emitter, path, quick) = (
                self.runtime.clone(),
                self.emitter(),
                msg.path.clone(),
                msg.quick,
            );
            let chunks = self.chunks.clone();
            ctx.spawn(
                async move {
                    let name = preview_name(preview_id);
                    let stale = chunks.clone();
                    let result = runtime
                        .on_pool(move || {
                            // A newer placement arrived while this one waited for the pool: skip it.
                            if stale.is_stale(ticket.lane, ticket.generation) {
                                return None;
                            }
                            Some(sample(preview_id, &job, &path, quick, &name))
                        })
                        .await
                        .flatten();
                    if chunks.is_stale(ticket.lane, ticket.generation) {
                        return;
                    }
                    match result {
                        Some(Ok(p)) => emitter.emit(Event::PvPreview(Box::new(p))),
                        // As carta_backend, a failed sample is sent empty (the frontend ignores it).
                        Some(Err(_)) => {
                            emitter.emit(Event::PvPreview(Box::new(PvPreview::empty(preview_id))))
                        }
                        None => {}
                    }
                }
                .into_actor(self),
            );
        }
    }
}

impl PvPreview {
    /// A sample with no data (width and height 0, which the frontend skips).
    fn empty(preview_id: i32) -> PvPreview {
        PvPreview {
            preview_id,
            description: None,
            width: 0,
            height: 0,
            image_data: Vec::new(),
            nan_encodings: Vec::new(),
            compression: Compression::None,
            quality: 0.0,
            bounds: (f32::NAN, f32::NAN),
            histogram: None,
        }
    }
}

impl Handler<StopPvPreview> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: StopPvPreview, _: &mut Context<Self>) {
        self.generations
            .bump(&self.chunks, msg.preview_id, Work::PvPreviewCube);
    }
}

impl Handler<ClosePvPreview> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: ClosePvPreview, _: &mut Context<Self>) {
        for work in [Work::PvPreviewCube, Work::PvPreviewCut] {
            self.generations.bump(&self.chunks, msg.preview_id, work);
        }
        self.pv_previews.previews.remove(&msg.preview_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::header::Card;

    fn card(k: &str, v: f64) -> Card {
        Card {
            keyword: k.into(),
            value: Some(Value::Float(v)),
            comment: String::new(),
            text: String::new(),
        }
    }

    #[test]
    fn a_rebinned_header_keeps_world_positions() {
        let h = Header::from_cards([
            card("CRPIX1", 11.0),
            card("CDELT1", -2.0),
            card("CRPIX2", 5.0),
            card("CDELT2", 3.0),
            card("CRPIX3", 1.0),
            card("CDELT3", 10.0),
        ]);
        let r = rebinned_header(&h, (4, 0, 2), 2, 3, Some(2));
        // Image pixel 10 (0-based, the reference) is at preview pixel (10 − 4 − 0.5)/2 = 2.75.
        assert_eq!(r.number("CRPIX1"), Some(2.75 + 1.0));
        assert_eq!(r.number("CDELT1"), Some(-4.0));
        assert_eq!(r.number("CRPIX2"), Some((4.0 - 0.5) / 2.0 + 1.0));
        // Channel 0 is the reference; the preview starts at channel 2 in groups of 3 (centre 3).
        assert_eq!(r.number("CRPIX3"), Some((0.0 - 2.0 - 1.0) / 3.0 + 1.0));
        assert_eq!(r.number("CDELT3"), Some(30.0));
    }
}
