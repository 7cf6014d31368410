//! The channel-map view (ICD 30): one synchronised tile stream per channel of the requested range, the visible
//! channels first, at most a window of streams ahead of the frontend's CHANNEL_MAP_FLOW_CONTROL. A request whose
//! visible range no longer holds a channel cancels that channel's stream (queued or under way); channels that
//! stay visible go on.

use std::collections::{BTreeSet, VecDeque};
use std::ops::RangeInclusive;

use actix::{Context, Handler, Message};

use super::generations::Work;
use super::requirements::TileBatch;
use super::FileActor;
use crate::image::Plane;

/// Channel streams under way before the frontend acknowledges one.
const WINDOW: usize = 4;

/// Tile streams of the channel-map view: `streams` are (channel, batch) in the order asked for; `visible` is
/// the range of channels the view shows. The current plane changes to `active` (its histogram and profiles).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChannelMapTiles {
    pub request_id: u32,
    pub active: Plane,
    pub visible: RangeInclusive<usize>,
    pub streams: Vec<(usize, TileBatch)>,
}

/// CHANNEL_MAP_FLOW_CONTROL: the frontend has received the stream of `channel`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChannelMapReceived {
    pub channel: usize,
}

/// The view's streams waiting and under way.
#[derive(Debug, Default)]
pub struct ChannelMapState {
    queue: VecDeque<(Plane, TileBatch)>,
    in_flight: BTreeSet<usize>,
}

impl FileActor {
    /// Starts queued channel streams while fewer than the window are under way.
    fn pump_channel_map(&mut self, ctx: &mut Context<Self>) {
        while self.channel_map.in_flight.len() < WINDOW {
            let Some((plane, batch)) = self.channel_map.queue.pop_front() else {
                return;
            };
            let ticket = self
                .generations
                .current(plane.channel as i32, Work::ChannelMap);
            self.channel_map.in_flight.insert(plane.channel);
            self.stream(plane, batch, ticket, ctx);
        }
    }
}

impl Handler<ChannelMapTiles> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: ChannelMapTiles, ctx: &mut Context<Self>) {
        self.answering = msg.request_id;
        if msg.active != self.plane && !self.set_plane(msg.active, ctx) {
            self.answering = 0;
            return;
        }
        self.answering = 0;
        // Channels that left the visible range are cancelled, queued or under way.
        let visible = msg.visible.clone();
        let hidden: Vec<usize> = self
            .channel_map
            .queue
            .iter()
            .map(|(p, _)| p.channel)
            .chain(self.channel_map.in_flight.iter().copied())
            .filter(|c| !visible.contains(c))
            .collect();
        for channel in hidden {
            self.generations
                .bump(&self.chunks, channel as i32, Work::ChannelMap);
            self.channel_map.in_flight.remove(&channel);
        }
        self.channel_map
            .queue
            .retain(|(p, _)| visible.contains(&p.channel));
        let depth = self.source.shape().depth;
        let stokes = self.plane.stokes;
        // Visible channels first, in order; then the rest.
        let (mut shown, rest): (Vec<_>, Vec<_>) = msg
            .streams
            .into_iter()
            .filter(|(c, _)| *c < depth)
            .partition(|(c, _)| visible.contains(c));
        shown.extend(rest);
        for (channel, batch) in shown {
            let plane = Plane { channel, stokes };
            // A channel asked for again replaces its stream.
            self.channel_map.queue.retain(|(p, _)| p.channel != channel);
            if self.channel_map.in_flight.remove(&channel) {
                self.generations
                    .bump(&self.chunks, channel as i32, Work::ChannelMap);
            }
            self.channel_map.queue.push_back((plane, batch));
        }
        self.pump_channel_map(ctx);
    }
}

impl Handler<ChannelMapReceived> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: ChannelMapReceived, ctx: &mut Context<Self>) {
        if self.channel_map.in_flight.remove(&msg.channel) {
            self.pump_channel_map(ctx);
        }
    }
}
