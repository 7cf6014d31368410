//! Steering: every (region, kind of work) is a lane with a generation counter. A newer request, a region edit
//! or a plane change bumps the lane, which cancels the lane's older work on every chunk; results carry their
//! ticket and are sent only if it is still the lane's current one.

use std::collections::HashMap;

use crate::chunk::{Chunks, Lane};

/// The kinds of work that supersede their own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// Tiles and colour-scale work of the current plane (region -1).
    Plane = 1,
    Cursor = 2,
    Stats = 3,
    Histogram = 4,
    Spectral = 5,
    /// Animation frames prepared ahead of being shown (region -1).
    Prepare = 6,
    /// One channel's stream of the channel-map view (the "region" is the channel).
    ChannelMap = 7,
    /// The contours of the current plane (region -1).
    Contours = 8,
    /// The spatial profiles of a point, line or polyline region.
    Line = 9,
    /// The vector overlay of the current plane (region -1).
    Vectors = 10,
    /// The PV image being generated (region -1).
    Pv = 11,
    /// The cube of a PV preview being built (the "region" is the preview id).
    PvPreviewCube = 12,
    /// The placement of a PV preview's line being sampled (the "region" is the preview id).
    PvPreviewCut = 13,
}

/// One piece of work's claim: which lane, which generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub lane: Lane,
    pub generation: u64,
}

fn lane(region: i32, work: Work) -> Lane {
    Lane((u64::from(region as u32) << 8) | work as u64)
}

/// The current generation of every lane of one file.
#[derive(Debug, Default)]
pub struct Generations {
    current: HashMap<Lane, u64>,
}

impl Generations {
    /// Supersedes the lane's in-flight work (cancelling it on the chunks) and returns the new ticket.
    pub fn bump(&mut self, chunks: &Chunks, region: i32, work: Work) -> Ticket {
        let lane = lane(region, work);
        let generation = self.current.entry(lane).or_insert(0);
        *generation += 1;
        chunks.cancel(lane, *generation);
        Ticket {
            lane,
            generation: *generation,
        }
    }

    /// The lane's current ticket, without superseding anything.
    pub fn current(&self, region: i32, work: Work) -> Ticket {
        let lane = lane(region, work);
        Ticket {
            lane,
            generation: self.current.get(&lane).copied().unwrap_or(0),
        }
    }

    /// Whether no newer work has superseded `ticket`.
    pub fn is_current(&self, ticket: Ticket) -> bool {
        self.current.get(&ticket.lane).copied().unwrap_or(0) == ticket.generation
    }
}
