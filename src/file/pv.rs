//! Position-velocity images: PV_REQUEST over a line or polyline → the mean of each sampling box
//! (`analysis::line_boxes`, as for the line's spatial profile) in every channel of the range, for the
//! Stokes shown, as a new image: position × spectral (or the reverse), a Stokes axis of one when the source
//! has one. Channels go to the chunk workers in slices (`chunk::boxes::BoxSpectra`), so progress is reported
//! after each slice and STOP_PV_CALC (a bump of the lane) stops the rest at once. The header describes the
//! position axis as carta_backend writes it (OFFSET from the line's centre, or DISTANCE from a polyline's
//! first vertex, in the unit its length calls for) and the spectral axis as FREQ in Hz from the source's WCS
//! (the source's own spectral keywords when it cannot be converted to frequency).

use std::ops::Range;
use std::sync::Arc;

use actix::{ActorFutureExt, Handler, Message, ResponseActFuture, WrapFuture};

use super::events::{Event, LineAxis};
use super::generations::Work;
use super::region_profiles::sample_line;
use super::{FileActor, IMAGE_REGION};
use crate::analysis::line_boxes::{self, LinePath};
use crate::chunk::boxes::{add, BoxSpectra};
use crate::chunk::ChunkError;
use crate::image::header::{Card, Header, Value};
use crate::image::wcs::Wcs;

/// Channels per request to the chunk workers (progress is reported after each slice).
const SLICE_CHANNELS: usize = 16;

/// Generate the PV image of `path`.
#[derive(Message)]
#[rtype(result = "PvOutcome")]
pub struct GeneratePv {
    pub request_id: u32,
    pub region_id: i32,
    pub path: LinePath,
    pub width: usize,
    /// First and last channel (inclusive); `None` for all.
    pub channels: Option<(usize, usize)>,
    pub reverse: bool,
}

/// Stop the PV image being generated, if any.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopPv;

/// A generated PV image: axis lengths (FITS order), header and pixels (FITS order).
#[derive(Debug, Clone)]
pub struct PvImage {
    pub dims: Vec<usize>,
    pub header: Header,
    pub pixels: Vec<f32>,
}

/// How a PV request ended.
#[derive(Debug)]
pub enum PvOutcome {
    Done(PvImage),
    Cancelled,
    Failed(String),
}

/// What the header of a PV image is made from.
pub(super) struct PvLayout<'a> {
    pub source: &'a Header,
    pub wcs: &'a Wcs,
    pub axis: LineAxis,
    pub positions: usize,
    pub channels: Range<usize>,
    /// FITS Stokes code of the plane, when the source has a Stokes axis.
    pub stokes_code: Option<i32>,
    pub reverse: bool,
}

fn card(keyword: &str, value: Value) -> Card {
    Card {
        keyword: keyword.to_string(),
        value: Some(value),
        comment: String::new(),
        text: String::new(),
    }
}

/// Keywords copied from the source: units, beam, observation and spectral reference.
const COPIED: &[&str] = &[
    "BUNIT", "BMAJ", "BMIN", "BPA", "BTYPE", "OBJECT", "TELESCOP", "INSTRUME", "OBSERVER",
    "DATE-OBS", "MJD-OBS", "OBSRA", "OBSDEC", "RESTFRQ", "RESTFREQ", "RESTWAV", "SPECSYS",
    "SSYSOBS", "VELREF", "EQUINOX", "RADESYS",
];

/// The FITS header of a PV image.
pub(super) fn pv_header(l: &PvLayout<'_>) -> Result<Header, String> {
    let nc = l.channels.len();
    let position = {
        let name = if l.axis.offset { "OFFSET" } else { "DISTANCE" };
        // Offsets are from the centre box (0-based (N−1)/2), distances from the first.
        let crpix = if l.axis.offset {
            ((l.positions - 1) / 2) as f64 + 1.0
        } else {
            1.0
        };
        vec![
            ("CTYPE", Value::Text(name.into())),
            ("CRPIX", Value::Float(crpix)),
            ("CRVAL", Value::Float(0.0)),
            ("CDELT", Value::Float(f64::from(l.axis.cdelt))),
            ("CUNIT", Value::Text(l.axis.unit.into())),
        ]
    };
    let spectral_axis = l
        .wcs
        .spectral
        .as_ref()
        .ok_or("No spectral coordinate for generating PV image.")?;
    let from = l.channels.start as f64 + 1.0;
    let spectral = match (l.wcs.frequency_at(from), l.wcs.frequency_at(from + 1.0)) {
        (Some(f0), Some(f1)) => vec![
            ("CTYPE", Value::Text("FREQ".into())),
            ("CRPIX", Value::Float(1.0)),
            ("CRVAL", Value::Float(f0)),
            ("CDELT", Value::Float(f1 - f0)),
            ("CUNIT", Value::Text("Hz".into())),
        ],
        _ => {
            // Not convertible to frequency (no rest frequency, an unknown unit): the source's own axis.
            let a = &l.wcs.axes[spectral_axis.axis];
            let (v0, v1) = (
                l.wcs
                    .spectral_value(from)
                    .ok_or("the spectral axis has no value")?,
                l.wcs
                    .spectral_value(from + 1.0)
                    .ok_or("the spectral axis has no value")?,
            );
            vec![
                ("CTYPE", Value::Text(a.ctype.clone())),
                ("CRPIX", Value::Float(1.0)),
                ("CRVAL", Value::Float(v0)),
                ("CDELT", Value::Float(v1 - v0)),
                ("CUNIT", Value::Text(a.cunit.clone())),
            ]
        }
    };
    let (first, second, n1, n2) = if l.reverse {
        (spectral, position, nc, l.positions)
    } else {
        (position, spectral, l.positions, nc)
    };
    let naxis = 2 + usize::from(l.stokes_code.is_some());
    let mut cards = vec![
        card("SIMPLE", Value::Logical(true)),
        card("BITPIX", Value::Int(-32)),
        card("NAXIS", Value::Int(naxis as i64)),
        card("NAXIS1", Value::Int(n1 as i64)),
        card("NAXIS2", Value::Int(n2 as i64)),
    ];
    if l.stokes_code.is_some() {
        cards.push(card("NAXIS3", Value::Int(1)));
    }
    for (axis, keys) in [(1, first), (2, second)] {
        for (key, value) in keys {
            cards.push(card(&format!("{key}{axis}"), value));
        }
    }
    if let Some(code) = l.stokes_code {
        cards.extend([
            card("CTYPE3", Value::Text("STOKES".into())),
            card("CRPIX3", Value::Float(1.0)),
            card("CRVAL3", Value::Float(f64::from(code))),
            card("CDELT3", Value::Float(1.0)),
            card("CUNIT3", Value::Text(String::new())),
        ]);
    }
    for key in COPIED {
        if let Some(c) = l
            .source
            .cards
            .iter()
            .find(|c| c.keyword == *key && c.value.is_some())
        {
            cards.push(c.clone());
        }
    }
    Ok(Header::from_cards(cards))
}

/// The PV pixels (FITS order) from box-major means: position along x (or y when reversed).
pub(super) fn pv_pixels(
    means: &[f32],
    positions: usize,
    channels: usize,
    reverse: bool,
) -> Vec<f32> {
    let mut out = vec![f32::NAN; positions * channels];
    for b in 0..positions {
        for c in 0..channels {
            let v = means[b * channels + c];
            let at = if reverse {
                b * channels + c
            } else {
                c * positions + b
            };
            out[at] = v;
        }
    }
    out
}

impl FileActor {
    /// Everything of a PV request that can be checked before any pixel is read.
    fn plan_pv(
        &self,
        msg: &GeneratePv,
    ) -> Result<(line_boxes::Boxes, LineAxis, Range<usize>, Wcs), String> {
        let shape = self.source.shape();
        let wcs = Wcs::from_keywords(self.source.header(), shape.dims.len());
        if wcs.spectral.is_none() || shape.depth_axis == 0 {
            return Err("No spectral coordinate for generating PV image.".into());
        }
        let last = shape.depth - 1;
        let (from, to) = msg.channels.unwrap_or((0, last));
        if from > to || from > last {
            return Err(format!(
                "Spectral range {from}..{to} is outside the image's channels 0..{last}"
            ));
        }
        let (boxes, axis) = sample_line(&wcs, &msg.path, msg.width).map_err(|e| e.to_string())?;
        if boxes.is_empty() {
            return Err("The line is too short for a PV image.".into());
        }
        Ok((boxes, axis, from..to.min(last) + 1, wcs))
    }
}

impl Handler<GeneratePv> for FileActor {
    type Result = ResponseActFuture<Self, PvOutcome>;

    fn handle(&mut self, msg: GeneratePv, _: &mut actix::Context<Self>) -> Self::Result {
        let ticket = self.generations.bump(&self.chunks, IMAGE_REGION, Work::Pv);
        let (boxes, axis, channels, wcs) = match self.plan_pv(&msg) {
            Ok(p) => p,
            Err(e) => return Box::pin(actix::fut::ready(PvOutcome::Failed(e))),
        };
        self.pv_region = Some(msg.region_id);
        let stokes = self.plane.stokes;
        let shape = self.source.shape();
        let stokes_code = (shape.stokes_axis != 0)
            .then(|| shape.stokes_codes.get(stokes).copied())
            .flatten();
        let positions = boxes.len();
        let shapes = Arc::new(boxes.shapes);
        let (chunks, emitter, request_id) = (self.chunks.clone(), self.emitter(), msg.request_id);
        let total = channels.len();
        let range = channels.clone();
        let work = async move {
            let channels = range;
            let mut means = vec![f32::NAN; positions * total];
            let mut done = 0;
            for slice_start in channels.clone().step_by(SLICE_CHANNELS) {
                let slice = slice_start..(slice_start + SLICE_CHANNELS).min(channels.end);
                let n = slice.len();
                let intent = BoxSpectra {
                    stokes,
                    channels: slice.clone(),
                    boxes: shapes.clone(),
                };
                let sums = chunks
                    .fold(
                        ticket.lane,
                        ticket.generation,
                        intent,
                        vec![(0.0, 0); positions * n],
                        |mut acc, part| {
                            add(&mut acc, &part);
                            acc
                        },
                    )
                    .await;
                let sums = match sums {
                    Ok(s) => s,
                    Err(ChunkError::Stale) => return Err(None),
                    Err(e) => return Err(Some(format!("PV image failed: {e}"))),
                };
                if chunks.is_stale(ticket.lane, ticket.generation) {
                    return Err(None);
                }
                let offset = slice.start - channels.start;
                for b in 0..positions {
                    for c in 0..n {
                        means[b * total + offset + c] = line_boxes::mean(sums[b * n + c]);
                    }
                }
                done += n;
                emitter.emit(Event::PvProgress {
                    request_id,
                    preview_id: 0,
                    progress: done as f64 / total as f64,
                });
            }
            Ok(means)
        };
        let source_header = self.source.header().clone();
        Box::pin(work.into_actor(self).map(move |result, act, _| {
            if act.pv_region == Some(msg.region_id) {
                act.pv_region = None;
            }
            let means = match result {
                Ok(m) => m,
                Err(None) => return PvOutcome::Cancelled,
                Err(Some(e)) => return PvOutcome::Failed(e),
            };
            let layout = PvLayout {
                source: &source_header,
                wcs: &wcs,
                axis,
                positions,
                channels: channels.clone(),
                stokes_code,
                reverse: msg.reverse,
            };
            match pv_header(&layout) {
                Ok(header) => {
                    let (n1, n2) = if msg.reverse {
                        (total, positions)
                    } else {
                        (positions, total)
                    };
                    let mut dims = vec![n1, n2];
                    if stokes_code.is_some() {
                        dims.push(1);
                    }
                    PvOutcome::Done(PvImage {
                        dims,
                        header,
                        pixels: pv_pixels(&means, positions, total, msg.reverse),
                    })
                }
                Err(e) => PvOutcome::Failed(e),
            }
        }))
    }
}

impl Handler<StopPv> for FileActor {
    type Result = ();

    fn handle(&mut self, _: StopPv, _: &mut actix::Context<Self>) {
        self.stop_pv();
    }
}

impl FileActor {
    /// Supersedes a PV image in the making (its future answers `Cancelled`).
    pub(super) fn stop_pv(&mut self) {
        self.generations.bump(&self.chunks, IMAGE_REGION, Work::Pv);
        self.pv_region = None;
    }

    /// A region edited or removed: the PV image being made of it is stopped, as carta_backend does.
    pub(super) fn region_changed_for_pv(&mut self, region_id: i32) {
        if self.pv_region == Some(region_id) {
            self.stop_pv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_put_positions_along_x_unless_reversed() {
        // 2 positions × 3 channels, box-major.
        let means = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0];
        assert_eq!(
            pv_pixels(&means, 2, 3, false),
            vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]
        );
        assert_eq!(pv_pixels(&means, 2, 3, true), means.to_vec());
    }

    #[test]
    fn the_header_has_offset_and_frequency_axes() {
        let source = Header::from_cards([
            card("NAXIS", Value::Int(3)),
            card("CTYPE3", Value::Text("FREQ".into())),
            card("CRPIX3", Value::Float(1.0)),
            card("CRVAL3", Value::Float(1.0e9)),
            card("CDELT3", Value::Float(1.0e6)),
            card("CUNIT3", Value::Text("Hz".into())),
            card("BUNIT", Value::Text("Jy/beam".into())),
        ]);
        let wcs = Wcs::from_keywords(&source, 3);
        let layout = PvLayout {
            source: &source,
            wcs: &wcs,
            axis: LineAxis {
                offset: true,
                crpix: 4.0,
                crval: 0.0,
                cdelt: 2.0,
                unit: "arcsec",
            },
            positions: 9,
            channels: 2..5,
            stokes_code: Some(1),
            reverse: false,
        };
        let h = pv_header(&layout).unwrap_or_default();
        assert_eq!(h.text("CTYPE1").as_deref(), Some("OFFSET"));
        assert_eq!(h.number("CRPIX1"), Some(5.0));
        assert_eq!(h.number("CRVAL2"), Some(1.002e9));
        assert_eq!(h.number("CDELT2"), Some(1.0e6));
        assert_eq!(h.int("NAXIS"), Some(3));
        assert_eq!((h.int("NAXIS1"), h.int("NAXIS2")), (Some(9), Some(3)));
        assert_eq!(h.text("BUNIT").as_deref(), Some("Jy/beam"));
    }
}
