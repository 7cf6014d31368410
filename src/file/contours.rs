//! Contours of the current plane: SET_CONTOUR_PARAMETERS → CONTOUR_IMAGE_DATA. Every chunk traces its band
//! of rows at all levels (its smoothing halo read with it); the bands are stitched at their seams, cut into
//! messages of about the requested vertex count and encoded on the I/O pool, and sent level by level with
//! each level's progress. New parameters or a new plane supersede the lane, so stale work stops on every chunk
//! and nothing of it is sent.

use std::sync::Arc;

use actix::{AsyncContext, Context, Handler, WrapFuture};

use super::events::{Area, ContourData, ContourSet, Event};
use super::generations::Work;
use super::requirements::{ContourSettings, SetContours};
use super::{FileActor, IMAGE_REGION};
use crate::analysis::contour::{map_lines, stitch};
use crate::chunk::overlay::Contours;
use crate::chunk::ChunkError;
use crate::tiles::vertices;

/// The contour parameters of an image, once set.
#[derive(Debug, Default)]
pub(super) struct ContourState {
    settings: Option<ContourSettings>,
}

impl Handler<SetContours> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetContours, ctx: &mut Context<Self>) {
        self.answering = msg.request_id;
        self.contours.settings = Some(msg.settings);
        self.send_contours(true, ctx);
        self.answering = 0;
    }
}

impl FileActor {
    /// Traces and sends the contours of the current plane; with no levels, one empty message clears them
    /// (only when asked for, not on a plane change).
    pub(super) fn send_contours(&mut self, asked: bool, ctx: &mut Context<Self>) {
        let ticket = self
            .generations
            .bump(&self.chunks, IMAGE_REGION, Work::Contours);
        let Some(settings) = self.contours.settings.clone() else {
            return;
        };
        let template = ContourData {
            reference_file_id: settings.reference_file_id,
            bounds: settings.bounds,
            channel: self.plane.channel as i32,
            stokes: self.plane.stokes as i32,
            progress: 1.0,
            sets: Vec::new(),
        };
        if settings.levels.is_empty() {
            if asked {
                self.emit(Event::Contours(template));
            }
            return;
        }
        let levels = Arc::new(settings.levels.clone());
        let intent = Contours {
            plane: self.plane,
            levels: levels.clone(),
            smoothing: settings.smoothing,
        };
        let work = self.chunks.ask(ticket.lane, ticket.generation, intent);
        let (runtime, chunks, emitter) =
            (self.runtime.clone(), self.chunks.clone(), self.emitter());
        let answering = self.answering;
        ctx.spawn(
            async move {
                let bands = match work.await {
                    Ok(bands) => bands,
                    Err(ChunkError::Stale) => return,
                    Err(e) => {
                        emitter.emit(Event::Failed(super::events::Failure {
                            request_id: answering,
                            area: Area::Contours,
                            message: format!("Contours failed: {e}"),
                        }));
                        return;
                    }
                };
                let stale = move || chunks.is_stale(ticket.lane, ticket.generation);
                runtime
                    .on_pool(move || {
                        let mut lines = stitch(bands, levels.len());
                        if let Some(wcs) = settings.reproject.clone() {
                            // Into the reference image's pixels (vertices have pixel centres at +0.5).
                            let (from, to) = (&wcs.0, &wcs.1);
                            let map = |x: f64, y: f64| {
                                let (lon, lat) = from.celestial_at(x + 0.5, y + 0.5)?;
                                let (px, py) = to.celestial_to_pixel(lon, lat)?;
                                Some((px - 0.5, py - 0.5))
                            };
                            lines = lines.into_iter().map(|l| map_lines(l, map)).collect();
                        }
                        for (level, lines) in levels.iter().zip(lines) {
                            for (progress, set) in cut(*level, &lines, &settings) {
                                if stale() {
                                    return;
                                }
                                emitter.emit(Event::Contours(ContourData {
                                    progress,
                                    sets: vec![set],
                                    ..template.clone()
                                }));
                            }
                        }
                    })
                    .await;
            }
            .into_actor(self),
        );
    }
}

/// One level's lines cut into contour sets of a little over `chunk_size` vertices each, encoded, with the
/// progress after each (≤ 0.99 until the last, which is 1).
fn cut(level: f64, lines: &[Vec<f32>], settings: &ContourSettings) -> Vec<(f64, ContourSet)> {
    let limit = settings.chunk_size.saturating_mul(2);
    let mut out = Vec::new();
    let (mut coords, mut starts) = (Vec::new(), Vec::new());
    let encode = |coords: &[f32], starts: Vec<i32>| ContourSet {
        level,
        vertices: vertices::encode(coords, settings.decimation, settings.compression_level),
        starts,
    };
    for (i, line) in lines.iter().enumerate() {
        starts.push(i32::try_from(coords.len()).unwrap_or(i32::MAX));
        coords.extend_from_slice(line);
        if limit > 0 && coords.len() > limit && i + 1 < lines.len() {
            let progress = ((i + 1) as f64 / lines.len() as f64).min(0.99);
            out.push((progress, encode(&coords, std::mem::take(&mut starts))));
            coords.clear();
        }
    }
    out.push((1.0, encode(&coords, starts)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::overlay::Smoothing;

    fn settings(chunk_size: usize) -> ContourSettings {
        ContourSettings {
            levels: vec![1.0],
            smoothing: Smoothing::None,
            decimation: 4,
            compression_level: 0,
            chunk_size,
            reference_file_id: 0,
            reproject: None,
            bounds: None,
        }
    }

    #[test]
    fn lines_are_cut_into_sets_with_progress() {
        let lines: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32; 40]).collect();
        let sets = cut(1.0, &lines, &settings(50));
        // 2 lines (80 floats) exceed 2 × 50 floats after the third line.
        assert_eq!(sets.len(), 4);
        assert!(sets[..3].iter().all(|(p, _)| *p < 1.0));
        assert_eq!(sets[3].0, 1.0);
        let total: usize = sets.iter().map(|(_, s)| s.starts.len()).sum();
        assert_eq!(total, 10);
        assert_eq!(sets[0].1.starts, vec![0, 40, 80]);
        let one = cut(1.0, &lines, &settings(0));
        assert_eq!(one.len(), 1);
        let empty = cut(1.0, &[], &settings(10));
        assert_eq!(empty.len(), 1);
        assert!(empty[0].1.starts.is_empty());
    }
}
