//! The cursor: SET_CURSOR and SET_SPATIAL_REQUIREMENTS → SPATIAL_PROFILE_DATA (the value under the cursor and
//! the x/y profiles of the current channel, of the shown Stokes or the one a coordinate names: `Qx`, `Ptotaly`).
//! Point regions use the same cuts (`ask_cuts`, `send_profiles`). Latest wins: while one position is being computed only the newest
//! waiting position is kept, so a burst of moves costs at most two computations and the last is always answered.

use std::collections::HashMap;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};

use super::events::{Area, Event, SpatialProfile, SpatialProfiles};
use super::generations::{Ticket, Work};
use super::requirements::{ProfileAxis, SetCursor, SetSpatialRequirements, SpatialConfig};
use super::{FileActor, CURSOR_REGION};
use crate::analysis::profile::{pixel_index, profile};
use crate::chunk::intent::{Cut, Line};
use crate::chunk::ChunkError;
use crate::image::Plane;

#[derive(Debug, Default)]
pub struct CursorState {
    /// The newest position not computed yet.
    pending: Option<(f32, f32)>,
    /// The last position asked for (re-sent on channel changes).
    last: Option<(f32, f32)>,
    busy: bool,
    configs: Vec<SpatialConfig>,
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
        let shape = self.source.shape();
        Some((
            pixel_index(fx, shape.width)?,
            pixel_index(fy, shape.height)?,
        ))
    }

    fn run_cursor(&mut self, ctx: &mut Context<Self>) {
        let answering = self.answering;
        if self.cursor.busy {
            return;
        }
        let Some((fx, fy)) = self.cursor.pending.take() else {
            return;
        };
        let shape = self.source.shape();
        let (Some(x), Some(y)) = (pixel_index(fx, shape.width), pixel_index(fy, shape.height))
        else {
            return; // Outside the image: nothing is sent.
        };
        self.cursor.busy = true;
        let plane = self.plane;
        let configs = self.resolved(&self.cursor.configs);
        let ticket = self.generations.current(CURSOR_REGION, Work::Cursor);
        let work = self.ask_cuts(ticket, x, y, &configs);
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            act.cursor.busy = false;
            match result {
                Ok(cuts) => act.send_profiles(CURSOR_REGION, plane, x, y, &cuts, &configs),
                Err(e) => act.fail_for(
                    answering,
                    Area::Cursor,
                    format!("Cannot read the cursor profile: {e}"),
                ),
            }
            act.run_cursor(ctx);
        }));
    }

    /// The configurations with the Stokes each names; those this image cannot serve are left out (their
    /// failure was reported when they were set).
    pub(super) fn resolved(&self, configs: &[SpatialConfig]) -> Vec<(usize, SpatialConfig)> {
        configs
            .iter()
            .filter_map(|c| {
                let s = self
                    .stokes_index(c.coordinate.stokes, &c.coordinate.text)
                    .ok()?;
                Some((s, c.clone()))
            })
            .collect()
    }

    /// The row (and column, when a y profile asks for one) through pixel (x, y) of every Stokes `configs`
    /// name, in the current channel, plus the shown Stokes's row (the value at the pixel).
    pub(super) fn ask_cuts(
        &self,
        ticket: Ticket,
        x: usize,
        y: usize,
        configs: &[(usize, SpatialConfig)],
    ) -> impl std::future::Future<Output = Result<Cuts, ChunkError>> + use<> {
        let channel = self.plane.channel;
        let mut wanted: Vec<(usize, bool)> = vec![(self.plane.stokes, false)];
        for (s, c) in configs {
            let column = c.axis == ProfileAxis::Y;
            match wanted.iter_mut().find(|(w, _)| w == s) {
                Some(w) => w.1 |= column,
                None => wanted.push((*s, column)),
            }
        }
        let asks: Vec<_> = wanted
            .into_iter()
            .map(|(stokes, column)| {
                let plane = Plane { channel, stokes };
                let cut = |line| {
                    self.chunks
                        .ask(ticket.lane, ticket.generation, Cut { plane, line })
                };
                (
                    stokes,
                    cut(Line::Row(y)),
                    column.then(|| cut(Line::Column(x))),
                )
            })
            .collect();
        async move {
            let mut cuts = Cuts::default();
            for (stokes, row, column) in asks {
                let row = row.await?.into_iter().next().unwrap_or_default();
                let column = match column {
                    Some(c) => c.await?.concat(),
                    None => Vec::new(),
                };
                cuts.0.insert(stokes, (row, column));
            }
            Ok(cuts)
        }
    }

    /// SPATIAL_PROFILE_DATA for pixel (x, y) of `region_id` (the cursor, or a point region).
    pub(super) fn send_profiles(
        &self,
        region_id: i32,
        plane: Plane,
        x: usize,
        y: usize,
        cuts: &Cuts,
        configs: &[(usize, SpatialConfig)],
    ) {
        let empty = (Vec::new(), Vec::new());
        let profiles = configs
            .iter()
            .map(|(stokes, c)| {
                let (row, column) = cuts.0.get(stokes).unwrap_or(&empty);
                let line = match c.axis {
                    ProfileAxis::X => row,
                    ProfileAxis::Y => column,
                };
                let p = profile(line, c.start, c.end, c.mip);
                // A whole-line request (end 0) is answered with its real end, as the reference does.
                let end = if c.end == 0 || c.end > line.len() {
                    line.len()
                } else {
                    c.end
                };
                SpatialProfile {
                    coordinate: c.coordinate.text.clone(),
                    start: i32::try_from(c.start).unwrap_or(i32::MAX),
                    end: i32::try_from(end).unwrap_or(i32::MAX),
                    // Full resolution echoes the mip asked for (0 or 1), as carta_backend does.
                    mip: i32::try_from(if p.mip < 2 { c.mip } else { p.mip }).unwrap_or(i32::MAX),
                    values: p.values,
                    line_axis: None,
                }
            })
            .collect();
        let value = cuts
            .0
            .get(&plane.stokes)
            .and_then(|(row, _)| row.get(x).copied())
            .unwrap_or(f32::NAN);
        self.emit(Event::SpatialProfiles(SpatialProfiles {
            region_id,
            x: x as i32,
            y: y as i32,
            channel: plane.channel as i32,
            stokes: plane.stokes as i32,
            value,
            profiles,
        }));
    }
}

/// Rows and columns through one pixel, per Stokes index.
#[derive(Debug, Default)]
pub struct Cuts(HashMap<usize, (Vec<f32>, Vec<f32>)>);

impl Handler<SetCursor> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetCursor, ctx: &mut Context<Self>) {
        self.cursor.pending = Some((msg.x, msg.y));
        self.cursor.last = Some((msg.x, msg.y));
        self.run_cursor(ctx);
        self.run_spectral(CURSOR_REGION, ctx);
    }
}

impl Handler<SetSpatialRequirements> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetSpatialRequirements, ctx: &mut Context<Self>) {
        for c in &msg.configs {
            // A Stokes not shown yet is kept: the frontend may name the Stokes it is about to show.
            if let Err(e) = self.stokes_index(c.coordinate.stokes, &c.coordinate.text) {
                self.fail(Area::Cursor, format!("Spatial profile: {e}"));
            }
        }
        self.cursor.configs = msg.configs;
        self.refresh_cursor(ctx);
    }
}
