//! The animator: START_ANIMATION → START_ANIMATION_ACK (with the animation id), then one frame at a time over
//! channels or Stokes at the requested rate, for the active image and its spectrally matched images. A frame is
//! a SetChannels with the frame's tiles (tagged with the animation id) to each image's actor; the next frame
//! starts when the active image's tile stream of this one has ended, the frame interval has passed, and the
//! frontend's last ANIMATION_FLOW_CONTROL is no more than a window of frames behind. The frames after the one
//! shown are prepared ahead on the chunks (colour-scale histograms and tiles), so an image held in memory plays
//! at the requested rate. STOP_ANIMATION stops at once and cancels what was prepared; during an animation
//! ADD_REQUIRED_TILES only updates the view the next frames use.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::{AsyncContext, SpawnHandle};
use actix_web_actors::ws;
use tracing::debug;

use super::{SessionActor, Tag};
use crate::file::{self, Area, PrepareFrames, StopPreparing, TileBatch};
use crate::image::Plane;
use crate::protocol::{pb, EventType};

/// Frames per second the animator accepts (the frontend offers 1 to 15).
const MAX_FRAME_RATE: i32 = 120;

/// A frame: a channel and an index into the animation's Stokes list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub channel: i32,
    pub stokes: i32,
}

impl Frame {
    fn of(f: Option<&pb::AnimationFrame>) -> Frame {
        f.map(|f| Frame {
            channel: f.channel,
            stokes: f.stokes,
        })
        .unwrap_or(Frame {
            channel: 0,
            stokes: 0,
        })
    }
}

/// Where the animation goes next: carta_backend's stepping rules (delta forward; past the last frame the
/// animation bounces, loops to the first, or ends; the same backwards).
#[derive(Debug, Clone)]
pub struct Stepper {
    pub first: Frame,
    pub last: Frame,
    pub delta: Frame,
    pub next: Frame,
    pub forward: bool,
    pub looping: bool,
    pub bounce: bool,
}

impl Stepper {
    /// The frame to show now, and advances to the one after it (None when a non-looping animation ended).
    pub fn step(&mut self) -> Option<Frame> {
        let shown = self.next;
        let sign = if self.forward { 1 } else { -1 };
        let candidate = Frame {
            channel: shown.channel.saturating_add(sign * self.delta.channel),
            stokes: shown.stokes.saturating_add(sign * self.delta.stokes),
        };
        let beyond = if self.forward {
            candidate.channel > self.last.channel || candidate.stokes > self.last.stokes
        } else {
            candidate.channel < self.first.channel || candidate.stokes < self.first.stokes
        };
        if !beyond {
            self.next = candidate;
        } else if self.bounce {
            self.forward = !self.forward;
        } else if self.looping {
            self.next = if self.forward { self.first } else { self.last };
        } else {
            self.next = Frame {
                channel: i32::MIN,
                stokes: i32::MIN,
            };
        }
        (shown.channel != i32::MIN).then_some(shown)
    }

    /// The next `n` frames after the one just stepped to (for preparing them), without advancing.
    pub fn peek(&self, n: usize) -> Vec<Frame> {
        let mut copy = self.clone();
        (0..n).map_while(|_| copy.step()).collect()
    }
}

/// The animation in progress.
pub(super) struct Animation {
    pub id: i32,
    pub file_id: i32,
    stepper: Stepper,
    stokes_indices: Vec<i32>,
    /// Matched images: file id → the channel (as a float, rounded) for each frame offset from the first.
    matched: HashMap<i32, Vec<f32>>,
    interval: Duration,
    /// How many frames the animator may run ahead of the frontend's flow control.
    window: i32,
    current: Option<Frame>,
    last_flow: Frame,
    /// The active image's tile stream of the current frame has not ended yet.
    in_flight: bool,
    last_start: Option<Instant>,
    timer: Option<SpawnHandle>,
}

impl Animation {
    /// How many frames the animator is ahead of the frontend, along the animated axis.
    fn gap(&self) -> i32 {
        let Some(current) = self.current else {
            return 0;
        };
        let along_channels = self.stepper.delta.channel != 0;
        let (now, seen) = if along_channels {
            (current.channel, self.last_flow.channel)
        } else {
            (current.stokes, self.last_flow.stokes)
        };
        let steps = if self.stepper.forward {
            now.saturating_sub(seen)
        } else {
            seen.saturating_sub(now)
        };
        let delta = if along_channels {
            self.stepper.delta.channel
        } else {
            self.stepper.delta.stokes
        };
        steps / delta.abs().max(1)
    }

    /// The Stokes value (index, or 13 … 17 for a computed parameter) of a frame.
    fn stokes(&self, frame: Frame) -> Option<usize> {
        let value = *self
            .stokes_indices
            .get(usize::try_from(frame.stokes).ok()?)?;
        usize::try_from(value).ok()
    }
}

/// Why a START_ANIMATION cannot run.
fn validate(msg: &pb::StartAnimation) -> Result<(), String> {
    let (first, last, delta) = (
        Frame::of(msg.first_frame.as_ref()),
        Frame::of(msg.last_frame.as_ref()),
        Frame::of(msg.delta_frame.as_ref()),
    );
    if first.channel < 0
        || first.stokes < 0
        || last.channel < first.channel
        || last.stokes < first.stokes
    {
        return Err(format!(
            "frames {first:?} to {last:?} are not a valid range"
        ));
    }
    if delta.channel == 0 && delta.stokes == 0 {
        return Err("the frame step is zero".into());
    }
    if !(1..=MAX_FRAME_RATE).contains(&msg.frame_rate) {
        return Err(format!(
            "frame rate {} is not within 1..{MAX_FRAME_RATE} frames per second",
            msg.frame_rate
        ));
    }
    Ok(())
}

impl SessionActor {
    pub(super) fn on_start_animation(
        &mut self,
        request_id: u32,
        msg: pb::StartAnimation,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        self.stop_animation(ctx);
        let fail = |act: &Self, ctx: &mut ws::WebsocketContext<Self>, message: String| {
            let ack = pb::StartAnimationAck {
                success: false,
                message,
                animation_id: 0,
            };
            act.send(ctx, EventType::StartAnimationAck, request_id, &ack);
        };
        if !self.files.contains_key(&msg.file_id) {
            return fail(self, ctx, format!("File id {} is not open", msg.file_id));
        }
        if let Err(e) = validate(&msg) {
            return fail(self, ctx, format!("Cannot animate: {e}"));
        }
        let depth = self.files.get(&msg.file_id).map(|f| f.depth).unwrap_or(1);
        let last_channel = Frame::of(msg.last_frame.as_ref()).channel;
        if usize::try_from(last_channel).map_or(true, |c| c >= depth) {
            let text = format!(
                "Cannot animate: channel {last_channel} is past the image's {depth} channels"
            );
            return fail(self, ctx, text);
        }
        if let Some(tiles) = &msg.required_tiles {
            self.views.insert(msg.file_id, tiles.clone());
        }
        self.animation_ids = self.animation_ids.checked_add(1).unwrap_or(1);
        let first = Frame::of(msg.first_frame.as_ref());
        let last = Frame::of(msg.last_frame.as_ref());
        let start = Frame::of(msg.start_frame.as_ref());
        let delta = Frame::of(msg.delta_frame.as_ref());
        let forward = delta.channel >= 0 && delta.stokes >= 0;
        let delta = Frame {
            channel: delta.channel.saturating_abs(),
            stokes: delta.stokes.saturating_abs(),
        };
        let start = if (first.channel..=last.channel).contains(&start.channel)
            && (first.stokes..=last.stokes).contains(&start.stokes)
        {
            start
        } else {
            first
        };
        let animation = Animation {
            id: self.animation_ids,
            file_id: msg.file_id,
            stepper: Stepper {
                first,
                last,
                delta,
                next: start,
                forward,
                looping: msg.looping,
                bounce: msg.reverse,
            },
            stokes_indices: if msg.stokes_indices.is_empty() {
                vec![0]
            } else {
                msg.stokes_indices.clone()
            },
            matched: msg
                .matched_frames
                .iter()
                .filter(|(id, _)| **id != msg.file_id)
                .map(|(id, list)| (*id, list.frame_numbers.clone()))
                .collect(),
            interval: Duration::from_secs_f64(1.0 / f64::from(msg.frame_rate)),
            window: (msg.frame_rate / 3).max(1),
            current: None,
            last_flow: start,
            in_flight: false,
            last_start: None,
            timer: None,
        };
        let ack = pb::StartAnimationAck {
            success: true,
            message: format!("Animation {} started", animation.id),
            animation_id: animation.id,
        };
        self.send(ctx, EventType::StartAnimationAck, request_id, &ack);
        debug!(parent: &self.span, id = animation.id, "animation started");
        self.animation = Some(animation);
        self.drive_animation(ctx);
    }

    pub(super) fn on_stop_animation(
        &mut self,
        msg: pb::StopAnimation,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if self
            .animation
            .as_ref()
            .is_some_and(|a| a.file_id == msg.file_id)
        {
            self.stop_animation(ctx);
        }
    }

    pub(super) fn on_animation_flow_control(
        &mut self,
        msg: pb::AnimationFlowControl,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Some(a) = self.animation.as_mut() {
            if a.file_id == msg.file_id {
                a.last_flow = Frame::of(msg.received_frame.as_ref());
                self.drive_animation(ctx);
            }
        }
    }

    /// Stops the animation (if any) at once: no more frames, and what was prepared is cancelled.
    pub(super) fn stop_animation(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(a) = self.animation.take() else {
            return;
        };
        if let Some(timer) = a.timer {
            ctx.cancel_future(timer);
        }
        for id in std::iter::once(a.file_id).chain(a.matched.keys().copied()) {
            if let Some(f) = self.files.get(&id) {
                f.actor.do_send(StopPreparing);
            }
        }
        debug!(parent: &self.span, id = a.id, "animation stopped");
    }

    /// Whether a tile request for `file_id` belongs to the animation (and only updates its view).
    pub(super) fn animating(&self, file_id: i32) -> bool {
        self.animation
            .as_ref()
            .is_some_and(|a| a.file_id == file_id || a.matched.contains_key(&file_id))
    }

    /// A tile stream ended: if it is the active image's frame, the next frame may start.
    pub(super) fn frame_stream_ended(
        &mut self,
        file_id: i32,
        animation_id: i32,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Some(a) = self.animation.as_mut() {
            if a.file_id == file_id && a.id == animation_id {
                a.in_flight = false;
                self.drive_animation(ctx);
            }
        }
    }

    /// Shows the next frame if it is time, or arranges to be called again when it is.
    fn drive_animation(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(a) = self.animation.as_mut() else {
            return;
        };
        if a.in_flight || a.gap() > a.window {
            return; // The stream's end or the next flow control calls again.
        }
        if let Some(start) = a.last_start {
            let due = start + a.interval;
            let now = Instant::now();
            if now < due {
                if a.timer.is_none() {
                    a.timer = Some(ctx.run_later(due - now, |act, ctx| {
                        if let Some(a) = act.animation.as_mut() {
                            a.timer = None;
                        }
                        act.drive_animation(ctx);
                    }));
                }
                return;
            }
        }
        let Some(frame) = a.stepper.step() else {
            self.stop_animation(ctx);
            return;
        };
        self.show_frame(frame, ctx);
    }

    fn show_frame(&mut self, frame: Frame, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(a) = self.animation.as_ref() else {
            return;
        };
        let (id, file_id) = (a.id, a.file_id);
        let Some(stokes) = a.stokes(frame) else {
            let text = format!("Animation frame {frame:?} names no Stokes parameter");
            self.send_error(
                ctx,
                0,
                Tag::Area(Area::Channels),
                pb::ErrorSeverity::Error,
                text,
            );
            return self.stop_animation(ctx);
        };
        let Ok(channel) = usize::try_from(frame.channel) else {
            return self.stop_animation(ctx);
        };
        let offset = frame.channel - a.stepper.first.channel;
        let ahead: Vec<Plane> = a
            .stepper
            .peek(a.window as usize)
            .into_iter()
            .filter_map(|f| {
                Some(Plane {
                    channel: usize::try_from(f.channel).ok()?,
                    stokes: a.stokes(f)?,
                })
            })
            .collect();
        let matched: Vec<(i32, usize)> = a
            .matched
            .iter()
            .filter_map(|(id, numbers)| {
                let z = *numbers.get(usize::try_from(offset).ok()?)?;
                let depth = self.files.get(id)?.depth;
                z.is_finite().then(|| {
                    (
                        *id,
                        (z.round().max(0.0) as usize).min(depth.saturating_sub(1)),
                    )
                })
            })
            .collect();
        let plane = Plane { channel, stokes };
        let waits = self
            .views
            .get(&file_id)
            .is_some_and(|v| !v.tiles.is_empty());
        if let Some(a) = self.animation.as_mut() {
            a.current = Some(frame);
            a.in_flight = waits;
            a.last_start = Some(Instant::now());
        }
        self.send_frame(file_id, plane, id, ahead);
        for (other, channel) in matched {
            let Some(stokes) = self.files.get(&other).map(|f| f.plane.stokes) else {
                continue;
            };
            self.send_frame(other, Plane { channel, stokes }, id, Vec::new());
        }
        if !waits {
            self.drive_animation(ctx);
        }
    }

    /// One image's part of a frame: the plane with the image's animation view, and the frames to prepare.
    fn send_frame(&mut self, file_id: i32, plane: Plane, animation_id: i32, ahead: Vec<Plane>) {
        let view = self.views.get(&file_id).cloned();
        let tiles = view.map(|v| {
            let mut batch = super::convert::tile_batch(self.next_sync_id(), &v);
            batch.animation_id = animation_id;
            batch
        });
        let Some(image) = self.files.get_mut(&file_id) else {
            return;
        };
        image.plane = plane;
        if let Some(batch) = &tiles {
            if !ahead.is_empty() {
                image.actor.do_send(PrepareFrames {
                    planes: ahead,
                    tiles: TileBatch {
                        sync_id: 0,
                        ..batch.clone()
                    },
                });
            }
        }
        image.actor.do_send(file::SetChannels {
            request_id: 0,
            plane,
            tiles,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stepper(
        first: i32,
        last: i32,
        delta: i32,
        start: i32,
        looping: bool,
        bounce: bool,
    ) -> Stepper {
        let f = |c| Frame {
            channel: c,
            stokes: 0,
        };
        Stepper {
            first: f(first),
            last: f(last),
            delta: f(delta.abs()),
            next: f(start),
            forward: delta > 0,
            looping,
            bounce,
        }
    }

    fn channels(s: &mut Stepper, n: usize) -> Vec<i32> {
        (0..n).map_while(|_| s.step()).map(|f| f.channel).collect()
    }

    #[test]
    fn frames_loop_bounce_and_end_like_carta_backend() {
        assert_eq!(
            channels(&mut stepper(0, 3, 1, 2, true, false), 7),
            [2, 3, 0, 1, 2, 3, 0]
        );
        assert_eq!(
            channels(&mut stepper(0, 4, 2, 0, true, false), 5),
            [0, 2, 4, 0, 2]
        );
        // Bouncing repeats the end frame once while it turns, as carta_backend's stepping does.
        assert_eq!(
            channels(&mut stepper(0, 2, 1, 0, true, true), 8),
            [0, 1, 2, 2, 1, 0, 0, 1]
        );
        assert_eq!(
            channels(&mut stepper(0, 3, -1, 1, true, false), 5),
            [1, 0, 3, 2, 1]
        );
        assert_eq!(
            channels(&mut stepper(0, 2, 1, 0, false, false), 9),
            [0, 1, 2]
        );
        let s = stepper(0, 9, 1, 0, true, false);
        assert_eq!(
            s.peek(3).iter().map(|f| f.channel).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }
}
