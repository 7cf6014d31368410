//! Statistics of a region (or the whole image) in the current channel: SET_STATS_REQUIREMENTS →
//! REGION_STATS_DATA, from the result cache or one pass over the chunks the region touches.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};

use super::events::{Area, Event, StatisticsData};
use super::generations::{Ticket, Work};
use super::plan::merge_stats;
use super::requirements::SetStatsRequirements;
use super::FileActor;
use crate::analysis::region::Shape;
use crate::analysis::stats::{stat_value, BasicStats};
use crate::chunk::intent::Statistics;
use crate::chunk::ChunkError;
use crate::image::Plane;

impl FileActor {
    /// Statistics of a plane inside a region, from the cache or by one pass.
    pub(super) fn plane_stats(
        &self,
        region_id: i32,
        region: Option<Arc<Shape>>,
        plane: Plane,
        ticket: Ticket,
    ) -> impl Future<Output = Result<BasicStats, ChunkError>> + use<> {
        let key = self.analysis.stats_key(region_id, plane);
        let cache = self.analysis.stats_cache.clone();
        let chunks = self.chunks.clone();
        let passes = self.analysis.passes.clone();
        async move {
            if let Some(s) = cache.as_ref().and_then(|c| c.get(&key)) {
                return Ok(s);
            }
            passes.fetch_add(1, Ordering::Relaxed);
            let intent = Statistics {
                plane,
                region,
                reuse_load_stats: cache.is_some(),
            };
            let stats = merge_stats(chunks.ask(ticket.lane, ticket.generation, intent).await?);
            if let Some(c) = &cache {
                c.insert(key, stats);
            }
            Ok(stats)
        }
    }

    pub(super) fn run_stats(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        let answering = self.answering;
        let Some(configs) = self.analysis.stats.get(&region_id).cloned() else {
            return;
        };
        let Some(region) = self.analysis.region(region_id) else {
            return;
        };
        let ticket = self.generations.bump(&self.chunks, region_id, Work::Stats);
        for config in configs {
            let stokes = match self.stokes_index(config.coordinate.stokes, &config.coordinate.text)
            {
                Ok(s) => s,
                Err(e) => {
                    self.fail(
                        Area::Stats,
                        format!("Statistics of region {region_id}: {e}"),
                    );
                    continue;
                }
            };
            let plane = Plane {
                channel: self.plane.channel,
                stokes,
            };
            let beam = self.beam_area(plane);
            let work = self.plane_stats(region_id, region.clone(), plane, ticket);
            ctx.spawn(work.into_actor(self).map(move |result, act, _| {
                if !act.generations.is_current(ticket) {
                    return;
                }
                match result {
                    Ok(stats) => act.emit(Event::Statistics(StatisticsData {
                        region_id,
                        channel: plane.channel as i32,
                        stokes: plane.stokes as i32,
                        values: config
                            .kinds
                            .iter()
                            .map(|k| (*k, stat_value(*k, &stats, beam)))
                            .collect(),
                    })),
                    Err(ChunkError::Stale) => {}
                    Err(e) => act.fail_for(
                        answering,
                        Area::Stats,
                        format!("Statistics of region {region_id} failed: {e}"),
                    ),
                }
            }));
        }
    }
}

impl Handler<SetStatsRequirements> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetStatsRequirements, ctx: &mut Context<Self>) {
        self.answering = msg.request_id;
        self.set_stats_requirement(msg, ctx);
        self.answering = 0;
    }
}

impl FileActor {
    fn set_stats_requirement(&mut self, msg: SetStatsRequirements, ctx: &mut Context<Self>) {
        if msg.configs.is_empty() {
            self.analysis.stats.remove(&msg.region_id);
            self.generations
                .bump(&self.chunks, msg.region_id, Work::Stats);
            return;
        }
        self.analysis.stats.insert(msg.region_id, msg.configs);
        self.run_stats(msg.region_id, ctx);
    }
}
