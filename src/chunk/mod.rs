//! `ChunkWorker`: an actor owning one horizontal strip of an image (rows `[row0, row0 + rows)`, full width) for
//! every plane it is asked about. Strips are the chunk shape because a FITS data unit stores full rows one after
//! another: a strip of one plane is a single contiguous read, and tiles (256-row aligned) never straddle two
//! strips at full resolution. Planes are loaded lazily through the process-wide [`store::BlockStore`] and the
//! few most recently used stay referenced. Answers partial computations; the file actor merges them.

pub mod store;

use std::collections::VecDeque;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};

use crate::analysis::histogram::Histogram;
use crate::analysis::stats::BasicStats;
use crate::image::pixels::PixelSource;
use crate::image::ImageError;
use crate::tiles::downsample::BlockSums;
use crate::tiles::TileBounds;
use store::{Block, BlockKey, BlockStore, FileIdentity};

/// How many planes a worker keeps referenced (the current one and a few recent ones).
const RECENT_PLANES: usize = 2;

/// A plane of the image: (channel, Stokes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Plane {
    pub channel: usize,
    pub stokes: usize,
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
            source.read_rows(plane.channel, plane.stokes, row0, row0 + rows)
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
        Ok(BasicStats::of(self.block(msg.plane)?.pixels()))
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
