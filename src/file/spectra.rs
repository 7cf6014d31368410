//! Spectral profiles: SET_SPECTRAL_REQUIREMENTS → SPECTRAL_PROFILE_DATA for the cursor (the pixel's values,
//! fp32) and for regions (a statistic per channel, fp64, with partial results and progress). A newer cursor
//! position, region edit or requirement supersedes the profile in flight.

use std::sync::atomic::Ordering;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};

use super::events::{Area, Event, SpectralProfile, SpectralProfiles, SpectralValues};
use super::generations::{Ticket, Work};
use super::plan::{channel_batches, merge_columns, Progress};
use super::requirements::{SetSpectralRequirements, SpectralConfig};
use super::{FileActor, CURSOR_REGION};
use crate::analysis::stats::{stat_value, BasicStats, StatKind};
use crate::chunk::intent::{PixelSpectrum, RegionSpectrum};
use crate::chunk::ChunkError;
use crate::image::Plane;

impl FileActor {
    /// Spectral profiles of a region (≥ 1) or of the cursor (0), for every requested coordinate and statistic.
    pub(super) fn run_spectral(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        let Some(configs) = self.analysis.spectral.get(&region_id).cloned() else {
            return;
        };
        let ticket = self
            .generations
            .bump(&self.chunks, region_id, Work::Spectral);
        for config in configs {
            let stokes = match self.stokes_index(config.coordinate.stokes, &config.coordinate.text)
            {
                Ok(s) => s,
                Err(e) => {
                    self.fail(
                        Area::Spectral,
                        format!("Spectral profile of region {region_id}: {e}"),
                    );
                    continue;
                }
            };
            if region_id == CURSOR_REGION {
                self.cursor_spectrum(config, stokes, ticket, ctx);
            } else {
                self.region_spectrum(region_id, config, stokes, ticket, ctx);
            }
        }
    }

    fn cursor_spectrum(
        &mut self,
        config: SpectralConfig,
        stokes: usize,
        ticket: Ticket,
        ctx: &mut Context<Self>,
    ) {
        let answering = self.answering;
        let Some((x, y)) = self.cursor_pixel() else {
            return;
        };
        let intent = PixelSpectrum {
            x,
            y,
            stokes,
            channels: 0..self.source.shape().depth,
        };
        // Sent now: a newer cursor position cancels it before it reads if it is still queued.
        let work = self.chunks.ask(ticket.lane, ticket.generation, intent);
        ctx.spawn(work.into_actor(self).map(move |result, act, _| {
            if !act.generations.is_current(ticket) {
                return;
            }
            match result {
                Ok(parts) => {
                    let values = parts.into_iter().next().unwrap_or_default();
                    let profiles = config
                        .kinds
                        .iter()
                        .map(|k| SpectralProfile {
                            coordinate: config.coordinate.text.clone(),
                            stat: *k,
                            values: SpectralValues::F32(values.clone()),
                        })
                        .collect();
                    act.emit(Event::SpectralProfiles(SpectralProfiles {
                        region_id: CURSOR_REGION,
                        stokes: stokes as i32,
                        progress: 1.0,
                        profiles,
                    }));
                }
                Err(ChunkError::Stale) => {}
                Err(e) => act.fail_for(
                    answering,
                    Area::Spectral,
                    format!("Cursor spectral profile failed: {e}"),
                ),
            }
        }));
    }

    fn region_spectrum(
        &mut self,
        region_id: i32,
        config: SpectralConfig,
        stokes: usize,
        ticket: Ticket,
        ctx: &mut Context<Self>,
    ) {
        let answering = self.answering;
        let Some(region) = self.analysis.region(region_id) else {
            return;
        };
        let shape = self.source.shape();
        // Read in spectral order (a stored copy or the index), a batch costs the region's box, not whole rows.
        let read_len = match (&self.source.spectral_order(), &region) {
            (Some(_), Some(r)) => r
                .bounding_box(shape.width, shape.height)
                .map(|(x0, x1, y0, y1)| (x1 - x0) * (y1 - y0))
                .unwrap_or(1),
            _ => shape.plane_len(),
        };
        let (depth, plane_len) = (shape.depth, read_len);
        // Flux densities use each channel's own beam where the image has one per channel.
        let beams: Vec<Option<f64>> = (0..depth)
            .map(|channel| self.beam_area(Plane { channel, stokes }))
            .collect();
        let chunks = self.chunks.clone();
        let emitter = self.emitter();
        let passes = self.analysis.passes.clone();
        // A computed Stokes parameter's profile combines its components' profiles statistic by statistic (a
        // vector average), as carta_backend computes it; a stored one has a single component.
        let probe = Plane { channel: 0, stokes };
        let computed = shape.computed(probe);
        let components: Vec<usize> = shape.sources_of(probe).iter().map(|p| p.stokes).collect();
        let message = move |per_component: &[Vec<BasicStats>], progress: f32| {
            let value = |k: StatKind, c: usize| {
                let mut parts = per_component.iter().map(|per_channel| {
                    let beam = beams.get(c).copied().flatten();
                    per_channel.get(c).map(|s| stat_value(k, s, beam))
                });
                match computed {
                    None => parts.next().flatten().unwrap_or(f64::NAN),
                    Some(kind) => parts
                        .collect::<Option<Vec<f64>>>()
                        .map(|values| kind.combine(&values))
                        .unwrap_or(f64::NAN),
                }
            };
            let profiles = config
                .kinds
                .iter()
                .map(|k| SpectralProfile {
                    coordinate: config.coordinate.text.clone(),
                    stat: *k,
                    values: SpectralValues::F64((0..depth).map(|c| value(*k, c)).collect()),
                })
                .collect();
            Event::SpectralProfiles(SpectralProfiles {
                region_id,
                stokes: stokes as i32,
                progress,
                profiles,
            })
        };
        let work = async move {
            passes.fetch_add(1, Ordering::Relaxed);
            let (lane, generation) = (ticket.lane, ticket.generation);
            let mut per_component: Vec<Vec<BasicStats>> =
                vec![Vec::with_capacity(depth); components.len()];
            let mut progress = Progress::start();
            for channels in channel_batches(depth, plane_len) {
                let (len, end) = (channels.len(), channels.end);
                for (component, per_channel) in components.iter().zip(per_component.iter_mut()) {
                    let intent = RegionSpectrum {
                        stokes: *component,
                        channels: channels.clone(),
                        region: region.clone(),
                    };
                    let parts = chunks.ask(lane, generation, intent).await?;
                    per_channel.extend(merge_columns(parts, len));
                }
                if progress.due(end, depth) && !chunks.is_stale(lane, generation) {
                    emitter.emit(message(&per_component, end as f32 / depth as f32));
                }
            }
            Ok::<_, ChunkError>(message(&per_component, 1.0))
        };
        ctx.spawn(
            work.into_actor(self)
                .map(move |result, act, _| match result {
                    Ok(_) if !act.generations.is_current(ticket) => {}
                    Ok(event) => act.emit(event),
                    Err(ChunkError::Stale) => {}
                    Err(e) => act.fail_for(
                        answering,
                        Area::Spectral,
                        format!("Spectral profile of region {region_id} failed: {e}"),
                    ),
                }),
        );
    }
}

impl Handler<SetSpectralRequirements> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetSpectralRequirements, ctx: &mut Context<Self>) {
        self.answering = msg.request_id;
        self.set_spectral_requirement(msg, ctx);
        self.answering = 0;
    }
}

impl FileActor {
    fn set_spectral_requirement(&mut self, msg: SetSpectralRequirements, ctx: &mut Context<Self>) {
        if msg.configs.is_empty() {
            self.analysis.spectral.remove(&msg.region_id);
            self.generations
                .bump(&self.chunks, msg.region_id, Work::Spectral);
            return;
        }
        self.analysis.spectral.insert(msg.region_id, msg.configs);
        self.run_spectral(msg.region_id, ctx);
    }
}
