//! Spatial profiles of regions: a point region answers like the cursor at its pixel (x/y cuts of the Stokes
//! each coordinate names); a line or polyline answers, per configuration, the mean of each box along it
//! (`analysis::line_boxes`) in the current channel, with its position axis (offset from the centre for a
//! line, distance from the first vertex for a polyline, in the unit its length calls for, measured through
//! the image's WCS). Re-sent when the region is edited and when the channel or Stokes changes.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};

use super::events::{Area, Event, LineAxis, SpatialProfile, SpatialProfiles};
use super::generations::Work;
use super::requirements::{LineConfig, SetLine, SetRegionSpatialRequirements, SpatialConfig};
use super::FileActor;
use crate::analysis::line_boxes::{self, Boxes, LineKind, LinePath};
use crate::analysis::region::Shape;
use crate::chunk::boxes::{add, BoxMeans};
use crate::image::wcs::Wcs;
use crate::image::Plane;

#[derive(Debug, Default)]
pub struct RegionProfiles {
    lines: HashMap<i32, LinePath>,
    points: HashMap<i32, Vec<SpatialConfig>>,
    line_configs: HashMap<i32, Vec<LineConfig>>,
}

impl RegionProfiles {
    pub fn remove(&mut self, region_id: i32) {
        self.lines.remove(&region_id);
        self.points.remove(&region_id);
        self.line_configs.remove(&region_id);
    }

    pub fn forget_line(&mut self, region_id: i32) {
        self.lines.remove(&region_id);
        self.line_configs.remove(&region_id);
    }
}

/// Separations in arcseconds between consecutive box centres of the same segment.
fn separations(wcs: &Wcs, boxes: &Boxes) -> Vec<f64> {
    boxes
        .neighbours()
        .filter_map(|(a, b)| wcs.separation_arcsec(a, b))
        .collect()
}

/// The boxes sampling `path` and their position axis, placed as carta_backend places them: one per pixel
/// step while those steps are equal angles (within 1% of a pixel), else (a wide field) at a fixed angular
/// increment of one latitude pixel (`line_boxes::angular_boxes`).
pub fn sample_line(
    wcs: &Wcs,
    path: &LinePath,
    width: usize,
) -> Result<(Boxes, LineAxis), line_boxes::LineError> {
    let fixed = line_boxes::boxes(path, width)?;
    let boxes = match wcs.lat_pixel_arcsec() {
        Some(pixel)
            if fixed.len() > 1
                && line_boxes::linear_increment(&separations(wcs, &fixed), 0.01 * pixel)
                    .is_none() =>
        {
            let sep = |a, b| wcs.separation_arcsec(a, b);
            line_boxes::angular_boxes(path, width, pixel, &sep)?
        }
        _ => fixed,
    };
    let axis = line_axis(wcs, path.kind, &boxes);
    Ok((boxes, axis))
}

/// The position axis of a profile over `boxes`: the increment the placement fixed, or the one measured
/// between box centres through the WCS.
pub fn line_axis(wcs: &Wcs, kind: LineKind, boxes: &Boxes) -> LineAxis {
    let seps = separations(wcs, boxes);
    let tolerance = wcs.lat_pixel_arcsec().unwrap_or(0.0) * 0.01;
    let measured = match boxes.increment {
        Some(fixed) => Some(fixed),
        None => line_boxes::linear_increment(&seps, tolerance.max(1e-12)),
    };
    let increment = match measured {
        Some(v) if v > 0.0 => v,
        // One box, or separations that vary (a wide field): the mean, or one step of a lone box.
        _ if !seps.is_empty() => seps.iter().sum::<f64>() / seps.len() as f64,
        _ => boxes
            .centres
            .first()
            .and_then(|&c| wcs.separation_arcsec(c, (c.0 + boxes.step.0, c.1 + boxes.step.1)))
            .unwrap_or(0.0),
    };
    let n = boxes.len();
    let (cdelt, unit) = line_boxes::length_unit(increment, n);
    let offset = kind == LineKind::Line;
    let crpix = if offset { (n / 2) as f32 } else { 0.0 };
    LineAxis {
        offset,
        crpix,
        crval: 0.0,
        cdelt: cdelt as f32,
        unit,
    }
}

impl FileActor {
    fn wcs(&self) -> Wcs {
        Wcs::from_keywords(self.source.header(), self.source.shape().dims.len())
    }

    /// Re-sends every region's spatial profiles (after a channel or Stokes change).
    pub(super) fn refresh_region_profiles(&mut self, ctx: &mut Context<Self>) {
        let ids: Vec<i32> = self
            .region_profiles
            .points
            .keys()
            .chain(self.region_profiles.line_configs.keys())
            .copied()
            .collect();
        for id in ids {
            self.run_region_profiles(id, ctx);
        }
    }

    /// Computes and sends the spatial profiles of one region, superseding its earlier ones.
    pub(super) fn run_region_profiles(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        let ticket = self.generations.bump(&self.chunks, region_id, Work::Line);
        let plane = self.plane;
        let answering = self.answering;
        if let Some(configs) = self.region_profiles.points.get(&region_id) {
            let Some(Some(shape)) = self.analysis.region(region_id) else {
                return;
            };
            let Shape::Point { x, y } = *shape else {
                return;
            };
            let shape_info = self.source.shape();
            // The pixel a point covers: rounding half away from zero, as the point region's own pixel.
            let (px, py) = (x.round(), y.round());
            if px < 0.0
                || py < 0.0
                || px >= shape_info.width as f64
                || py >= shape_info.height as f64
            {
                return; // Outside the image: nothing is sent, as for the cursor.
            }
            let (px, py) = (px as usize, py as usize);
            let configs = self.resolved(configs);
            let work = self.ask_cuts(ticket, px, py, &configs);
            ctx.spawn(work.into_actor(self).map(move |result, act, _| {
                if !act.generations.is_current(ticket) {
                    return;
                }
                match result {
                    Ok(cuts) => act.send_profiles(region_id, plane, px, py, &cuts, &configs),
                    Err(e) => act.fail_for(
                        answering,
                        Area::Spatial,
                        format!("Cannot read the profiles of region {region_id}: {e}"),
                    ),
                }
            }));
            return;
        }
        let (Some(path), Some(configs)) = (
            self.region_profiles.lines.get(&region_id).cloned(),
            self.region_profiles.line_configs.get(&region_id).cloned(),
        ) else {
            return;
        };
        let wcs = self.wcs();
        for config in configs {
            let stokes = match self.stokes_index(config.coordinate.stokes, &config.coordinate.text)
            {
                Ok(s) => s,
                Err(e) => {
                    self.fail(
                        Area::Spatial,
                        format!("Spatial profile of region {region_id}: {e}"),
                    );
                    continue;
                }
            };
            let (boxes, axis) = match sample_line(&wcs, &path, config.width) {
                Ok(b) => b,
                Err(e) => {
                    self.fail(
                        Area::Spatial,
                        format!("Spatial profile of region {region_id}: {e}"),
                    );
                    continue;
                }
            };
            let n = boxes.len();
            let intent = BoxMeans {
                plane: Plane {
                    channel: plane.channel,
                    stokes,
                },
                boxes: Arc::new(boxes.shapes),
            };
            let work = self.chunks.fold(
                ticket.lane,
                ticket.generation,
                intent,
                vec![(0.0, 0); n],
                |mut acc, part| {
                    add(&mut acc, &part);
                    acc
                },
            );
            ctx.spawn(work.into_actor(self).map(move |result, act, _| {
                if !act.generations.is_current(ticket) {
                    return;
                }
                match result {
                    Ok(sums) => act.emit(Event::SpatialProfiles(SpatialProfiles {
                        region_id,
                        x: 0,
                        y: 0,
                        channel: plane.channel as i32,
                        stokes: stokes as i32,
                        value: 0.0,
                        profiles: vec![SpatialProfile {
                            coordinate: config.coordinate.text.clone(),
                            start: 0,
                            end: i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX),
                            mip: 0,
                            values: sums.into_iter().map(line_boxes::mean).collect(),
                            line_axis: Some(axis),
                        }],
                    })),
                    Err(e) => act.fail_for(
                        answering,
                        Area::Spatial,
                        format!("Cannot compute the profile of region {region_id}: {e}"),
                    ),
                }
            }));
        }
    }
}

impl Handler<SetRegionSpatialRequirements> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetRegionSpatialRequirements, ctx: &mut Context<Self>) {
        let id = msg.region_id;
        for c in &msg.points {
            if let Err(e) = self.stokes_index(c.coordinate.stokes, &c.coordinate.text) {
                self.fail(
                    Area::Spatial,
                    format!("Spatial profile of region {id}: {e}"),
                );
            }
        }
        if msg.points.is_empty() {
            self.region_profiles.points.remove(&id);
        } else {
            self.region_profiles.points.insert(id, msg.points);
        }
        if msg.lines.is_empty() {
            self.region_profiles.line_configs.remove(&id);
        } else {
            self.region_profiles.line_configs.insert(id, msg.lines);
        }
        self.run_region_profiles(id, ctx);
    }
}

impl Handler<SetLine> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetLine, ctx: &mut Context<Self>) {
        self.analysis.remove_shape(msg.region_id);
        self.region_changed_for_pv(msg.region_id);
        self.region_profiles.points.remove(&msg.region_id);
        self.region_profiles.lines.insert(msg.region_id, msg.path);
        self.run_region_profiles(msg.region_id, ctx);
    }
}
