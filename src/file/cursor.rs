//! The cursor: SET_CURSOR and SET_SPATIAL_REQUIREMENTS → SPATIAL_PROFILE_DATA (the value under the cursor and
//! the x/y profiles of the current plane). Latest wins: while one position is being computed only the newest
//! waiting position is kept, so a burst of moves costs at most two computations and the last is always answered.

use actix::{ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture};

use super::{fan_out, FileActor};
use crate::analysis::profile::{pixel_index, profile};
use crate::chunk::{Plane, ReadColumn, ReadRow};
use crate::image::ImageError;
use crate::protocol::{pb, EventType};

/// One requested profile: `coordinate` "x" or "y", `[start, end)` (end 0 = whole), `mip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpatialConfig {
    pub coordinate: String,
    pub start: usize,
    pub end: usize,
    pub mip: usize,
}

#[derive(Debug, Default)]
pub struct CursorState {
    /// The newest position not computed yet.
    pending: Option<(f32, f32)>,
    /// The last position asked for (re-sent on channel changes).
    last: Option<(f32, f32)>,
    busy: bool,
    configs: Vec<SpatialConfig>,
    /// Computations started (for tests and logs).
    pub computed: u64,
}

/// The cursor moved.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetCursor {
    pub x: f32,
    pub y: f32,
}

/// The profiles wanted at the cursor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSpatialRequirements {
    pub configs: Vec<SpatialConfig>,
}

impl FileActor {
    /// Re-answers the last cursor position (after a channel change or new requirements).
    pub(super) fn refresh_cursor(&mut self, ctx: &mut Context<Self>) {
        if self.cursor.pending.is_none() {
            self.cursor.pending = self.cursor.last;
        }
        self.run_cursor(ctx);
    }

    /// The pixel under the last cursor position, if inside the image.
    pub(super) fn cursor_pixel(&self) -> Option<(usize, usize)> {
        let (fx, fy) = self.cursor.last?;
        Some((
            pixel_index(fx, self.source.shape.width)?,
            pixel_index(fy, self.source.shape.height)?,
        ))
    }

    fn run_cursor(&mut self, ctx: &mut Context<Self>) {
        if self.cursor.busy {
            return;
        }
        let Some((fx, fy)) = self.cursor.pending.take() else {
            return;
        };
        let shape = &self.source.shape;
        let (Some(x), Some(y)) = (pixel_index(fx, shape.width), pixel_index(fy, shape.height))
        else {
            return; // Outside the image: nothing is sent.
        };
        self.cursor.busy = true;
        self.cursor.computed += 1;
        let plane = self.plane;
        let row_worker = self.workers_for_rows(y, y + 1);
        let all = self.workers.clone();
        let configs = self.cursor.configs.clone();
        let wants_column = configs.iter().any(|c| c.coordinate == "y");
        let work = async move {
            let row = fan_out(&row_worker, || ReadRow { plane, y })
                .await?
                .into_iter()
                .next()
                .unwrap_or_default();
            let column = if wants_column {
                fan_out(&all, || ReadColumn { plane, x }).await?.concat()
            } else {
                Vec::new()
            };
            Ok::<_, ImageError>((row, column))
        };
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            act.cursor.busy = false;
            match result {
                Ok((row, column)) => act.send_profiles(plane, x, y, &row, &column, &configs),
                Err(e) => act.send_error(format!("Cannot read the cursor profile: {e}")),
            }
            act.run_cursor(ctx);
        }));
    }

    fn send_profiles(
        &self,
        plane: Plane,
        x: usize,
        y: usize,
        row: &[f32],
        column: &[f32],
        configs: &[SpatialConfig],
    ) {
        let profiles = configs
            .iter()
            .filter_map(|c| {
                let line = match c.coordinate.as_str() {
                    "x" => row,
                    "y" => column,
                    _ => return None,
                };
                let p = profile(line, c.start, c.end, c.mip);
                // A whole-line request (end 0) is answered with its real end, as the reference does.
                let end = if c.end == 0 || c.end > line.len() {
                    line.len()
                } else {
                    c.end
                };
                Some(pb::SpatialProfile {
                    start: c.start as i32,
                    end: end as i32,
                    raw_values_fp32: p.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    coordinate: c.coordinate.clone(),
                    mip: p.mip as i32,
                    line_axis: None,
                })
            })
            .collect();
        let data = pb::SpatialProfileData {
            file_id: self.file_id,
            region_id: 0,
            x: x as i32,
            y: y as i32,
            channel: plane.channel as i32,
            stokes: plane.stokes as i32,
            value: row.get(x).copied().unwrap_or(f32::NAN),
            profiles,
        };
        self.send(EventType::SpatialProfileData, &data);
    }
}

impl Handler<SetCursor> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetCursor, ctx: &mut Context<Self>) {
        self.cursor.pending = Some((msg.x, msg.y));
        self.cursor.last = Some((msg.x, msg.y));
        self.run_cursor(ctx);
        self.run_spectral(super::analysis::CURSOR_REGION, ctx);
    }
}

impl Handler<SetSpatialRequirements> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetSpatialRequirements, ctx: &mut Context<Self>) {
        self.cursor.configs = msg.configs;
        self.refresh_cursor(ctx);
    }
}
