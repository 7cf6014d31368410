//! A generated (in-memory) image goes through the same file-actor path as a FITS file: opened with
//! `file::open_source`, it streams its colour-scale histogram and tiles, answers statistics and the cursor.
//! Expected values are computed here from the generated pixels with plain f64 loops, not with cartaflow's
//! kernels.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler};
use cartaflow::analysis::stats::StatKind;
use cartaflow::file::{
    self, Coordinate, Event, FileContext, FileEvent, FileSettings, ProfileAxis, SpatialConfig,
    StatsConfig, StokesChoice, TileBatch,
};
use cartaflow::image::header::{Card, Header, Value};
use cartaflow::image::memory::MemoryImage;
use cartaflow::runtime::Runtime;
use cartaflow::tiles::encode::Compression;

const W: usize = 600;
const H: usize = 520;

/// Collects what the file actor reports.
struct Collector(Arc<Mutex<Vec<Event>>>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<FileEvent> for Collector {
    type Result = ();

    fn handle(&mut self, msg: FileEvent, _: &mut Context<Self>) {
        assert_eq!(msg.file_id, 7);
        self.0.lock().expect("lock").push(msg.event);
    }
}

fn pixel(x: usize, y: usize) -> f32 {
    if (x + 3 * y).is_multiple_of(97) {
        f32::NAN
    } else {
        ((x as f32) * 0.25 - (y as f32) * 0.125).sin() * 10.0 + (x * y) as f32 * 1e-3
    }
}

fn header() -> Header {
    let card = |k: &str, v: Value| Card {
        keyword: k.to_string(),
        value: Some(v),
        comment: String::new(),
        text: String::new(),
    };
    Header::from_cards([
        card("SIMPLE", Value::Logical(true)),
        card("BITPIX", Value::Int(-32)),
        card("NAXIS", Value::Int(2)),
        card("NAXIS1", Value::Int(W as i64)),
        card("NAXIS2", Value::Int(H as i64)),
        card("BUNIT", Value::Text("Jy".into())),
    ])
}

async fn wait_for(events: &Arc<Mutex<Vec<Event>>>, what: &str, done: impl Fn(&[Event]) -> bool) {
    let start = Instant::now();
    loop {
        if done(&events.lock().expect("lock")) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        actix::clock::sleep(Duration::from_millis(10)).await;
    }
}

fn current() -> Coordinate {
    Coordinate {
        text: "z".into(),
        stokes: StokesChoice::Current,
    }
}

#[actix::test]
async fn a_generated_image_streams_tiles_statistics_and_cursor_like_a_file() {
    let pixels: Vec<f32> = (0..H)
        .flat_map(|y| (0..W).map(move |x| pixel(x, y)))
        .collect();
    let image = MemoryImage::new("generated", header(), vec![W, H], pixels).expect("image");
    let runtime = Runtime::new(2).expect("runtime");
    let events = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector(events.clone()).start();
    let context = FileContext {
        runtime,
        settings: FileSettings {
            tile_cache_bytes: 1 << 20,
            analysis_cache_bytes: 0,
            spectral_index: cartaflow::image::spectral::IndexSettings {
                enabled: false,
                memory_budget: 0,
                folder: std::env::temp_dir(),
            },
        },
        events: collector.recipient(),
        span: tracing::Span::none(),
    };
    let opened = file::open_source(context, 7, cartaflow::image::generated(image), "generated");
    assert_eq!(opened.description.file_info.name, "generated");
    assert_eq!(opened.description.extended.width, W as i32);
    opened.start();

    // Full-resolution tile (layer 2 of a 600×520 image: 256 px tiles, mip 1), uncompressed: exact pixels.
    let tile_id = (2 << 24) | (1 << 12) | 1;
    opened.actor.do_send(TileBatch {
        sync_id: 1,
        animation_id: 0,
        tiles: vec![tile_id],
        compression: Compression::None,
        quality: 0.0,
    });
    // The whole image at layer 0 (mip 4): NaN-aware 4×4 block means.
    opened.actor.do_send(TileBatch {
        sync_id: 2,
        animation_id: 0,
        tiles: vec![0],
        compression: Compression::None,
        quality: 0.0,
    });
    wait_for(&events, "two tile streams", |e| {
        e.iter()
            .filter(|e| matches!(e, Event::TileSync(s) if s.end))
            .count()
            == 2
    })
    .await;
    {
        let events = events.lock().expect("lock");
        let first_histogram = events.iter().position(|e| matches!(e, Event::Histogram(_)));
        let first_tile = events.iter().position(|e| matches!(e, Event::Tile(_)));
        assert!(
            first_histogram < first_tile,
            "the colour-scale histogram goes first"
        );
        let Some(Event::Histogram(h)) = events.iter().find(|e| matches!(e, Event::Histogram(_)))
        else {
            unreachable!()
        };
        let finite: Vec<f64> = (0..H)
            .flat_map(|y| (0..W).map(move |x| pixel(x, y)))
            .filter(|v| v.is_finite())
            .map(f64::from)
            .collect();
        let total: i64 = h.histogram.bins.iter().sum();
        assert_eq!(total as usize, finite.len());
        assert_eq!(h.histogram.bins.len(), ((W * H) as f64).sqrt() as usize);
        for e in events.iter() {
            let Event::Tile(t) = e else { continue };
            let b = t.tile.bounds;
            let got: Vec<f32> = t
                .tile
                .image_data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            assert_eq!(got.len(), b.width * b.height);
            for oy in 0..b.height {
                for ox in 0..b.width {
                    let (mut sum, mut n) = (0f64, 0);
                    for y in b.y0 + oy * b.mip..(b.y0 + (oy + 1) * b.mip).min(b.y1) {
                        for x in b.x0 + ox * b.mip..(b.x0 + (ox + 1) * b.mip).min(b.x1) {
                            let v = pixel(x, y);
                            if v.is_finite() {
                                sum += f64::from(v);
                                n += 1;
                            }
                        }
                    }
                    let want = if n == 0 {
                        f32::NAN
                    } else {
                        (sum / n as f64) as f32
                    };
                    let g = got[oy * b.width + ox];
                    assert!(
                        (g.is_nan() && want.is_nan())
                            || (g - want).abs() <= 1e-5 * want.abs().max(1.0),
                        "tile mip {} at ({ox}, {oy}): {g} vs {want}",
                        b.mip
                    );
                }
            }
        }
    }

    // Statistics of the whole image.
    opened.actor.do_send(file::SetStatsRequirements {
        request_id: 3,
        region_id: -1,
        configs: vec![StatsConfig {
            coordinate: current(),
            kinds: vec![
                StatKind::NumPixels,
                StatKind::Sum,
                StatKind::Mean,
                StatKind::Min,
                StatKind::Max,
            ],
        }],
    });
    // The cursor at (123.4, 200.6) → pixel (123, 201), with both profiles.
    opened.actor.do_send(file::SetSpatialRequirements {
        configs: ["x", "y"]
            .iter()
            .map(|c| SpatialConfig {
                coordinate: Coordinate {
                    text: c.to_string(),
                    stokes: StokesChoice::Current,
                },
                axis: if *c == "x" {
                    ProfileAxis::X
                } else {
                    ProfileAxis::Y
                },
                start: 0,
                end: 0,
                mip: 0,
            })
            .collect(),
    });
    opened.actor.do_send(file::SetCursor { x: 123.4, y: 200.6 });
    wait_for(&events, "statistics and the cursor", |e| {
        e.iter().any(|e| matches!(e, Event::Statistics(_)))
            && e.iter()
                .any(|e| matches!(e, Event::SpatialProfiles(p) if p.x == 123))
    })
    .await;
    let events = events.lock().expect("lock");
    let Some(Event::Statistics(s)) = events.iter().find(|e| matches!(e, Event::Statistics(_)))
    else {
        unreachable!()
    };
    let finite: Vec<f64> = (0..H)
        .flat_map(|y| (0..W).map(move |x| pixel(x, y)))
        .filter(|v| v.is_finite())
        .map(f64::from)
        .collect();
    let sum: f64 = finite.iter().sum();
    let want = [
        (StatKind::NumPixels, finite.len() as f64),
        (StatKind::Sum, sum),
        (StatKind::Mean, sum / finite.len() as f64),
        (
            StatKind::Min,
            finite.iter().cloned().fold(f64::INFINITY, f64::min),
        ),
        (
            StatKind::Max,
            finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        ),
    ];
    for ((kind, got), (want_kind, want)) in s.values.iter().zip(want) {
        assert_eq!(*kind, want_kind);
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{kind:?}: {got} vs {want}"
        );
    }
    let Some(Event::SpatialProfiles(p)) = events
        .iter()
        .find(|e| matches!(e, Event::SpatialProfiles(p) if p.x == 123))
    else {
        unreachable!()
    };
    assert_eq!((p.x, p.y), (123, 201));
    assert_eq!(p.value.to_bits(), pixel(123, 201).to_bits());
    let row: Vec<f32> = (0..W).map(|x| pixel(x, 201)).collect();
    let column: Vec<f32> = (0..H).map(|y| pixel(123, y)).collect();
    for profile in &p.profiles {
        let want = if profile.coordinate == "x" {
            &row
        } else {
            &column
        };
        assert_eq!(profile.mip, 0, "full resolution echoes the mip asked for");
        assert_eq!(profile.end as usize, want.len());
        let same = profile
            .values
            .iter()
            .zip(want)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same && profile.values.len() == want.len(),
            "{} profile",
            profile.coordinate
        );
    }
}
