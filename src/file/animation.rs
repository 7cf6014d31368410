//! Animation frames prepared ahead: the animator (in the session) shows one frame at a time with
//! SET_IMAGE_CHANNELS-like `SetChannels` carrying its animation id, and asks this file to prepare the next
//! frames — their colour-scale histograms and the animation view's tiles — on the chunks in parallel, into
//! the caches the shown frame then reads. Stopping the animation cancels what was prepared and not shown.

use actix::{Context, Handler, Message};

use super::generations::Work;
use super::requirements::TileBatch;
use super::{FileActor, IMAGE_REGION};
use crate::image::Plane;

/// Prepares the frames after the one shown: `planes` in the order they will be shown, with `tiles`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PrepareFrames {
    pub planes: Vec<Plane>,
    pub tiles: TileBatch,
}

/// The animation stopped: frames prepared and not shown are no longer wanted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopPreparing;

impl Handler<PrepareFrames> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: PrepareFrames, ctx: &mut Context<Self>) {
        let ticket = self.generations.current(IMAGE_REGION, Work::Prepare);
        for plane in msg.planes {
            if !self.source.shape().contains(plane) {
                continue;
            }
            self.start_colour_scale(plane, ticket, ctx);
            self.compute_ahead(plane, &msg.tiles, ticket, ctx);
        }
    }
}

impl Handler<StopPreparing> for FileActor {
    type Result = ();

    fn handle(&mut self, _: StopPreparing, _: &mut Context<Self>) {
        self.generations
            .bump(&self.chunks, IMAGE_REGION, Work::Prepare);
    }
}
