//! `ChunkWorker`: an actor owning one horizontal strip of an image (rows `[row0, row0 + rows)`, full width) for
//! every plane it is asked about. Strips are the chunk shape because a FITS data unit stores full rows one after
//! another: a strip of one plane is a single contiguous read, and tiles (256-row aligned) never straddle two
//! strips at full resolution. Planes are loaded lazily through the process-wide [`store::BlockStore`] and the
//! few most recently used stay referenced. Answers partial computations; the file actor merges them.

pub mod store;

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};

use crate::analysis::histogram::Histogram;
use crate::analysis::region::Shape;
use crate::analysis::stats::BasicStats;
use crate::image::pixels::PixelSource;
use crate::image::ImageError;
use crate::tiles::downsample::BlockSums;
use crate::tiles::TileBounds;
use store::{Block, BlockKey, BlockStore, FileIdentity, Loaded};

/// Strips after its own that a worker loading a plane asks the kernel to read ahead.
const READ_AHEAD_STRIPS: usize = 2;

/// How many planes a worker keeps referenced (the current one and a few recent ones).
const RECENT_PLANES: usize = 2;

/// A plane of the image: (channel, Stokes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plane {
    pub channel: usize,
    pub stokes: usize,
}

/// Plane reads done by multi-channel region work (spectral profiles, cube histograms) in this process: what
/// steering saves is visible here (reported by /health).
pub static CHANNEL_READS: AtomicU64 = AtomicU64::new(0);

/// The generation a piece of work belongs to: stale once the owner's counter has moved on (a newer request
/// superseded it), and then skipped without touching pixels.
#[derive(Debug, Clone)]
pub struct Generation {
    pub counter: Arc<AtomicU64>,
    pub value: u64,
}

impl Generation {
    pub fn current(counter: &Arc<AtomicU64>) -> Generation {
        Generation {
            counter: counter.clone(),
            value: counter.load(Ordering::SeqCst),
        }
    }

    pub fn is_stale(&self) -> bool {
        self.counter.load(Ordering::SeqCst) != self.value
    }
}

/// Calls `f` with each covered run of pixels of `block` (rows `row0..row0+rows` of a `width`-wide plane):
/// everything, or the spans of `region`.
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

/// Owns one strip of an image.
pub struct ChunkWorker {
    source: Arc<PixelSource>,
    identity: FileIdentity,
    row0: usize,
    rows: usize,
    recent: VecDeque<(Plane, Block)>,
}

impl ChunkWorker {
    pub fn new(
        source: Arc<PixelSource>,
        identity: FileIdentity,
        row0: usize,
        rows: usize,
    ) -> ChunkWorker {
        ChunkWorker {
            source,
            identity,
            row0,
            rows,
            recent: VecDeque::new(),
        }
    }

    fn block(&mut self, plane: Plane) -> Result<Block, ImageError> {
        if let Some(pos) = self.recent.iter().position(|(p, _)| *p == plane) {
            if let Some(entry) = self.recent.remove(pos) {
                let block = entry.1.clone();
                self.recent.push_front(entry);
                return Ok(block);
            }
        }
        let key = BlockKey {
            file: self.identity.clone(),
            channel: plane.channel,
            stokes: plane.stokes,
            row0: self.row0,
            rows: self.rows,
        };
        let (source, row0, rows) = (&self.source, self.row0, self.rows);
        let block = BlockStore::global().get(key, || {
            // The strips after this one are likely next (a whole-plane pass): ask the disk for them now,
            // so reading continues while this strip is converted and computed on.
            source.will_read(
                plane.channel,
                plane.stokes,
                row0 + rows,
                row0 + (1 + READ_AHEAD_STRIPS) * rows,
            );
            // The strip's statistics are taken piece by piece as it is read, while each piece is in cache.
            let mut stats = BasicStats::default();
            let pixels = source.read_rows_visiting(
                plane.channel,
                plane.stokes,
                row0,
                row0 + rows,
                &mut |piece| stats = stats.merge(BasicStats::of(piece)),
            )?;
            Ok(Loaded { pixels, stats })
        })?;
        self.recent.push_front((plane, block.clone()));
        self.recent.truncate(RECENT_PLANES);
        Ok(block)
    }
}

impl Actor for ChunkWorker {
    type Context = Context<Self>;
}

/// Adds this strip's pixels into a tile's block sums.
#[derive(Message)]
#[rtype(result = "Result<BlockSums, ImageError>")]
pub struct ComputeTile {
    pub plane: Plane,
    pub bounds: TileBounds,
}

/// Basic statistics of this strip's pixels.
#[derive(Message)]
#[rtype(result = "Result<BasicStats, ImageError>")]
pub struct ComputeStats {
    pub plane: Plane,
}

/// Histogram of this strip's pixels over a fixed range.
#[derive(Message)]
#[rtype(result = "Result<Histogram, ImageError>")]
pub struct ComputeHistogram {
    pub plane: Plane,
    pub min: f64,
    pub max: f64,
    pub bins: usize,
}

/// One full row (the row must lie in this strip).
#[derive(Message)]
#[rtype(result = "Result<Vec<f32>, ImageError>")]
pub struct ReadRow {
    pub plane: Plane,
    pub y: usize,
}

/// This strip's part of column `x`.
#[derive(Message)]
#[rtype(result = "Result<Vec<f32>, ImageError>")]
pub struct ReadColumn {
    pub plane: Plane,
    pub x: usize,
}

impl Handler<ComputeTile> for ChunkWorker {
    type Result = Result<BlockSums, ImageError>;

    fn handle(&mut self, msg: ComputeTile, _: &mut Context<Self>) -> Self::Result {
        let block = self.block(msg.plane)?;
        let mut sums = BlockSums::new(msg.bounds);
        sums.add_rows(block.pixels(), self.source.shape.width, self.row0);
        Ok(sums)
    }
}

impl Handler<ComputeStats> for ChunkWorker {
    type Result = Result<BasicStats, ImageError>;

    fn handle(&mut self, msg: ComputeStats, _: &mut Context<Self>) -> Self::Result {
        Ok(self.block(msg.plane)?.stats())
    }
}

impl Handler<ComputeHistogram> for ChunkWorker {
    type Result = Result<Histogram, ImageError>;

    fn handle(&mut self, msg: ComputeHistogram, _: &mut Context<Self>) -> Self::Result {
        let mut h = Histogram::new(msg.min, msg.max, msg.bins);
        h.add(self.block(msg.plane)?.pixels());
        Ok(h)
    }
}

impl Handler<ReadRow> for ChunkWorker {
    type Result = Result<Vec<f32>, ImageError>;

    fn handle(&mut self, msg: ReadRow, _: &mut Context<Self>) -> Self::Result {
        let w = self.source.shape.width;
        let local = msg
            .y
            .checked_sub(self.row0)
            .filter(|r| *r < self.rows)
            .ok_or_else(|| ImageError::OutOfRange(format!("row {} is not in this chunk", msg.y)))?;
        Ok(self.block(msg.plane)?.pixels()[local * w..(local + 1) * w].to_vec())
    }
}

impl Handler<ReadColumn> for ChunkWorker {
    type Result = Result<Vec<f32>, ImageError>;

    fn handle(&mut self, msg: ReadColumn, _: &mut Context<Self>) -> Self::Result {
        let w = self.source.shape.width;
        if msg.x >= w {
            return Err(ImageError::OutOfRange(format!("column {}", msg.x)));
        }
        let block = self.block(msg.plane)?;
        Ok(block
            .pixels()
            .iter()
            .skip(msg.x)
            .step_by(w)
            .copied()
            .collect())
    }
}

/// Statistics of this strip's pixels inside a region (all pixels when `region` is None).
#[derive(Message)]
#[rtype(result = "Result<BasicStats, ImageError>")]
pub struct RegionStats {
    pub plane: Plane,
    pub region: Option<Arc<Shape>>,
    pub generation: Generation,
    /// Whether the whole strip's statistics taken while loading may answer (a result kept like any cached
    /// one, so not when result caching is configured off and every pass must be real).
    pub reuse_load_stats: bool,
}

/// Histogram of this strip's pixels inside a region over a fixed range.
#[derive(Message)]
#[rtype(result = "Result<Histogram, ImageError>")]
pub struct RegionHistogram {
    pub plane: Plane,
    pub region: Option<Arc<Shape>>,
    pub min: f64,
    pub max: f64,
    pub bins: usize,
    pub generation: Generation,
}

/// Per-channel statistics of this strip's pixels inside a region, for channels `channels` of one Stokes
/// (a spectral profile, or a pass of a cube histogram). Reads the rows it needs without keeping them.
#[derive(Message)]
#[rtype(result = "Result<Vec<BasicStats>, ImageError>")]
pub struct RegionSpectrum {
    pub stokes: usize,
    pub channels: Range<usize>,
    pub region: Option<Arc<Shape>>,
    pub generation: Generation,
}

/// Histogram over channels `channels` of one Stokes (a pass of the per-cube histogram).
#[derive(Message)]
#[rtype(result = "Result<Histogram, ImageError>")]
pub struct CubeHistogram {
    pub stokes: usize,
    pub channels: Range<usize>,
    pub min: f64,
    pub max: f64,
    pub bins: usize,
    pub generation: Generation,
}

fn stale() -> ImageError {
    ImageError::Stale
}

impl ChunkWorker {
    /// Rows of this strip that `region` touches (all rows when None).
    fn rows_for(&self, region: Option<&Shape>) -> Option<(usize, usize)> {
        let (end, width) = (self.row0 + self.rows, self.source.shape.width);
        match region {
            None => Some((self.row0, end)),
            Some(shape) => {
                let (_, _, y0, y1) = shape.bounding_box(width, self.source.shape.height)?;
                let (a, b) = (y0.max(self.row0), y1.min(end));
                (a < b).then_some((a, b))
            }
        }
    }

    /// The pixels of rows `rows` of a plane: from the held block if there is one, else read directly.
    fn rows_of(&mut self, plane: Plane, rows: (usize, usize)) -> Result<Vec<f32>, ImageError> {
        let w = self.source.shape.width;
        if let Some((_, block)) = self.recent.iter().find(|(p, _)| *p == plane) {
            let px = block.pixels();
            return Ok(px[(rows.0 - self.row0) * w..(rows.1 - self.row0) * w].to_vec());
        }
        self.source
            .read_rows(plane.channel, plane.stokes, rows.0, rows.1)
    }
}

impl Handler<RegionStats> for ChunkWorker {
    type Result = Result<BasicStats, ImageError>;

    fn handle(&mut self, msg: RegionStats, _: &mut Context<Self>) -> Self::Result {
        if msg.generation.is_stale() {
            return Err(stale());
        }
        if self.rows_for(msg.region.as_deref()).is_none() {
            return Ok(BasicStats::default());
        }
        let block = self.block(msg.plane)?;
        if msg.region.is_none() && msg.reuse_load_stats {
            return Ok(block.stats());
        }
        let mut stats = BasicStats::default();
        for_each_run(
            block.pixels(),
            self.source.shape.width,
            self.row0,
            msg.region.as_deref(),
            |run| {
                stats = stats.merge(BasicStats::of(run));
            },
        );
        Ok(stats)
    }
}

impl Handler<RegionHistogram> for ChunkWorker {
    type Result = Result<Histogram, ImageError>;

    fn handle(&mut self, msg: RegionHistogram, _: &mut Context<Self>) -> Self::Result {
        if msg.generation.is_stale() {
            return Err(stale());
        }
        let mut h = Histogram::new(msg.min, msg.max, msg.bins);
        if self.rows_for(msg.region.as_deref()).is_none() {
            return Ok(h);
        }
        let block = self.block(msg.plane)?;
        for_each_run(
            block.pixels(),
            self.source.shape.width,
            self.row0,
            msg.region.as_deref(),
            |run| h.add(run),
        );
        Ok(h)
    }
}

impl Handler<RegionSpectrum> for ChunkWorker {
    type Result = Result<Vec<BasicStats>, ImageError>;

    fn handle(&mut self, msg: RegionSpectrum, _: &mut Context<Self>) -> Self::Result {
        let mut out = Vec::with_capacity(msg.channels.len());
        let Some(rows) = self.rows_for(msg.region.as_deref()) else {
            return Ok(vec![BasicStats::default(); msg.channels.len()]);
        };
        let w = self.source.shape.width;
        for channel in msg.channels {
            // Checked between channels: a superseded profile stops reading at once.
            if msg.generation.is_stale() {
                return Err(stale());
            }
            CHANNEL_READS.fetch_add(1, Ordering::Relaxed);
            let pixels = self.rows_of(
                Plane {
                    channel,
                    stokes: msg.stokes,
                },
                rows,
            )?;
            let mut stats = BasicStats::default();
            for_each_run(&pixels, w, rows.0, msg.region.as_deref(), |run| {
                stats = stats.merge(BasicStats::of(run))
            });
            out.push(stats);
        }
        Ok(out)
    }
}

impl Handler<CubeHistogram> for ChunkWorker {
    type Result = Result<Histogram, ImageError>;

    fn handle(&mut self, msg: CubeHistogram, _: &mut Context<Self>) -> Self::Result {
        let mut h = Histogram::new(msg.min, msg.max, msg.bins);
        for channel in msg.channels {
            if msg.generation.is_stale() {
                return Err(stale());
            }
            CHANNEL_READS.fetch_add(1, Ordering::Relaxed);
            let pixels = self.rows_of(
                Plane {
                    channel,
                    stokes: msg.stokes,
                },
                (self.row0, self.row0 + self.rows),
            )?;
            h.add(&pixels);
        }
        Ok(h)
    }
}
