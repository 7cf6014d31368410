//! `ChunkWorker`: the local actor that owns one chunk of an image (rows `[row0, row0 + rows)`, full width) for
//! every plane it is asked about. Planes are loaded lazily through the process-wide [`ChunkStore`] and the few
//! most recently used stay referenced. Each request names its lane and generation; work whose lane has been
//! cancelled past its generation is dropped before it touches pixels, and multi-channel work checks again
//! between channels.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};
use serde::{Deserialize, Serialize};

use super::handle::CancelBoard;
use super::intent::Intent;
use super::store::{ChunkKey, ChunkStore, Loaded, Pixels};
use super::{ChunkError, Lane};
use crate::analysis::polarization::combine_pixels;
use crate::analysis::region::Shape;
use crate::analysis::stats::BasicStats;
use crate::image::spectral::SpectralOrder;
use crate::image::{PixelSource, Plane};
use crate::runtime::Counters;

/// Chunks after its own that a worker loading a plane asks the kernel to read ahead.
const READ_AHEAD_CHUNKS: usize = 2;

/// How many planes a worker keeps referenced (the current one and a few recent ones).
const RECENT_PLANES: usize = 2;

/// One request to one chunk: which chunk, the lane and generation it belongs to, and the intent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkRequest<I> {
    pub chunk: usize,
    pub lane: Lane,
    pub generation: u64,
    pub intent: I,
}

impl<I: Intent> Message for ChunkRequest<I> {
    type Result = Result<I::Partial, ChunkError>;
}

/// Owns one chunk of an image.
pub struct ChunkWorker {
    source: Arc<dyn PixelSource>,
    rows: Range<usize>,
    recent: VecDeque<(Plane, Pixels)>,
    board: Arc<CancelBoard>,
    counters: Arc<Counters>,
}

impl ChunkWorker {
    pub(super) fn new(
        source: Arc<dyn PixelSource>,
        rows: Range<usize>,
        board: Arc<CancelBoard>,
        counters: Arc<Counters>,
    ) -> ChunkWorker {
        ChunkWorker {
            source,
            rows,
            recent: VecDeque::new(),
            board,
            counters,
        }
    }

    fn plane(&mut self, plane: Plane) -> Result<Pixels, ChunkError> {
        if let Some(pos) = self.recent.iter().position(|(p, _)| *p == plane) {
            if let Some(entry) = self.recent.remove(pos) {
                let pixels = entry.1.clone();
                self.recent.push_front(entry);
                return Ok(pixels);
            }
        }
        let key = ChunkKey {
            source: self.source.identity().clone(),
            plane,
            row0: self.rows.start,
            rows: self.rows.len(),
        };
        if let Some(kind) = self.source.shape().computed(plane) {
            // A computed Stokes parameter: made from this chunk's planes of its components, and kept in the
            // store like a stored plane.
            let parts = self
                .source
                .shape()
                .sources_of(plane)
                .into_iter()
                .map(|p| self.plane(p))
                .collect::<Result<Vec<_>, _>>()?;
            let pixels = ChunkStore::global().get(key, || {
                let slices: Vec<&[f32]> = parts.iter().map(Pixels::pixels).collect();
                let pixels = combine_pixels(kind, &slices);
                Ok(Loaded {
                    stats: BasicStats::of(&pixels),
                    pixels,
                })
            })?;
            self.recent.push_front((plane, pixels.clone()));
            self.recent.truncate(RECENT_PLANES);
            return Ok(pixels);
        }
        let (source, rows) = (&self.source, self.rows.clone());
        let pixels = ChunkStore::global().get(key, || {
            // The chunks after this one are likely next (a whole-plane pass): ask the disk for them now, so
            // reading continues while this chunk is converted and computed on.
            let ahead = rows.end..rows.end + READ_AHEAD_CHUNKS * rows.len();
            source.will_read(plane, ahead);
            // The chunk's statistics are taken piece by piece as it is read, while each piece is in cache.
            let mut stats = BasicStats::default();
            let pixels = source.read_rows(plane, rows.clone(), &mut |piece| {
                stats = stats.merge(BasicStats::of(piece))
            })?;
            Ok(Loaded { pixels, stats })
        })?;
        self.recent.push_front((plane, pixels.clone()));
        self.recent.truncate(RECENT_PLANES);
        Ok(pixels)
    }
}

impl Actor for ChunkWorker {
    type Context = Context<Self>;
}

/// What an intent sees of its chunk while computing a partial.
pub struct ChunkAccess<'a> {
    worker: &'a mut ChunkWorker,
    lane: Lane,
    generation: u64,
}

impl ChunkAccess<'_> {
    /// The image rows this chunk holds.
    pub fn rows(&self) -> Range<usize> {
        self.worker.rows.clone()
    }

    /// The image width (a chunk holds full rows).
    pub fn width(&self) -> usize {
        self.worker.source.shape().width
    }

    /// The image height.
    pub fn height(&self) -> usize {
        self.worker.source.shape().height
    }

    /// The image in spectral order, for a stored Stokes index, if the source has it (a format's copy, or the
    /// spectral-order index once ready).
    pub fn spectral_order(&self, stokes: usize) -> Option<Arc<dyn SpectralOrder>> {
        let shape = self.worker.source.shape();
        if stokes >= shape.stokes {
            return None;
        }
        self.worker.source.spectral_order()
    }

    pub fn source(&self) -> &dyn PixelSource {
        &*self.worker.source
    }

    /// Err(Stale) once the request's lane has been cancelled past its generation.
    pub fn check(&self) -> Result<(), ChunkError> {
        if self.worker.board.is_stale(self.lane, self.generation) {
            Err(ChunkError::Stale)
        } else {
            Ok(())
        }
    }

    /// This chunk's pixels of `plane`, loaded into (and shared through) the chunk store.
    pub fn plane(&mut self, plane: Plane) -> Result<Pixels, ChunkError> {
        self.worker.plane(plane)
    }

    /// The rows of this chunk that `region` touches (all of them without a region).
    pub fn rows_touched(&self, region: Option<&Shape>) -> Range<usize> {
        let rows = self.rows();
        match region {
            None => rows,
            Some(shape) => {
                let shape_rows = shape
                    .bounding_box(self.width(), self.worker.source.shape().height)
                    .map(|(_, _, y0, y1)| y0..y1)
                    .unwrap_or(0..0);
                let (a, b) = (
                    shape_rows.start.max(rows.start),
                    shape_rows.end.min(rows.end),
                );
                if a < b {
                    a..b
                } else {
                    rows.start..rows.start
                }
            }
        }
    }

    /// Rows `rows` (inside this chunk) of a plane for one step of multi-channel work: from the held pixels if
    /// this chunk has the plane, else read without keeping them. Checks for cancellation first and counts the
    /// read.
    pub fn read(&mut self, plane: Plane, rows: Range<usize>) -> Result<Vec<f32>, ChunkError> {
        self.check()?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.worker.counters.add_channel_reads(1);
        let w = self.width();
        let row0 = self.worker.rows.start;
        if let Some((_, held)) = self.worker.recent.iter().find(|(p, _)| *p == plane) {
            let px = held.pixels();
            return Ok(px[(rows.start - row0) * w..(rows.end - row0) * w].to_vec());
        }
        self.source_rows(plane, rows)
    }
}

impl ChunkAccess<'_> {
    /// Image rows `rows` of a plane, which may reach past this chunk (the halo rows a stencil needs): the
    /// chunk's own rows from its held pixels, the rest read from the source without keeping them.
    pub fn rows_around(
        &mut self,
        plane: Plane,
        rows: Range<usize>,
    ) -> Result<Vec<f32>, ChunkError> {
        self.check()?;
        let (w, own) = (self.width(), self.rows());
        let rows = rows.start..rows.end.min(self.height());
        let mut out = Vec::with_capacity(rows.len() * w);
        let below = rows.start..rows.end.min(own.start);
        let inside = rows.start.max(own.start)..rows.end.min(own.end);
        let above = rows.start.max(own.end)..rows.end;
        if !below.is_empty() {
            out.extend(self.source_rows(plane, below)?);
        }
        if !inside.is_empty() {
            let held = self.plane(plane)?;
            let px = held.pixels();
            out.extend_from_slice(
                &px[(inside.start - own.start) * w..(inside.end - own.start) * w],
            );
        }
        if !above.is_empty() {
            out.extend(self.source_rows(plane, above)?);
        }
        Ok(out)
    }

    /// Rows of a plane straight from the source, not kept (computed Stokes made from their components).
    fn source_rows(&self, plane: Plane, rows: Range<usize>) -> Result<Vec<f32>, ChunkError> {
        let source = &self.worker.source;
        let shape = source.shape();
        match shape.computed(plane) {
            Some(kind) => {
                let parts = shape
                    .sources_of(plane)
                    .into_iter()
                    .map(|p| source.rows(p, rows.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                let slices: Vec<&[f32]> = parts.iter().map(Vec::as_slice).collect();
                Ok(combine_pixels(kind, &slices))
            }
            None => Ok(source.rows(plane, rows)?),
        }
    }
}

impl<I: Intent> Handler<ChunkRequest<I>> for ChunkWorker {
    type Result = Result<I::Partial, ChunkError>;

    fn handle(&mut self, msg: ChunkRequest<I>, _: &mut Context<Self>) -> Self::Result {
        let mut access = ChunkAccess {
            worker: self,
            lane: msg.lane,
            generation: msg.generation,
        };
        access.check()?;
        msg.intent.compute(&mut access)
    }
}
