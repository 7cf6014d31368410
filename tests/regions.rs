//! Regions, statistics, histograms and spectral profiles over a real WebSocket, against numpy computed by
//! scripts/gen_fixtures.py with its own pixel-membership code (expected.json: "regions", "image_stats").

mod common;

use std::time::Duration;

use cartaflow::protocol::{pb, EventType};
use common::{expected, Server};
use serde_json::Value;

const STATS: [(pb::StatsType, &str); 11] = [
    (pb::StatsType::NumPixels, "NumPixels"),
    (pb::StatsType::NanCount, "NanCount"),
    (pb::StatsType::Sum, "Sum"),
    (pb::StatsType::FluxDensity, "FluxDensity"),
    (pb::StatsType::Mean, "Mean"),
    (pb::StatsType::Rms, "RMS"),
    (pb::StatsType::Sigma, "Sigma"),
    (pb::StatsType::SumSq, "SumSq"),
    (pb::StatsType::Min, "Min"),
    (pb::StatsType::Max, "Max"),
    (pb::StatsType::Extrema, "Extrema"),
];

/// Within 1e-9 relative (NaN expected as null; a one-pixel Sigma may be NaN or 0).
fn close(got: f64, want: &Value, what: &str) {
    match want.as_f64() {
        None => assert!(got.is_nan(), "{what}: {got} should be NaN"),
        Some(w) => assert!(
            (got - w).abs() <= 1e-9 * w.abs().max(1e-12),
            "{what}: {got} vs {w}"
        ),
    }
}

/// A histogram's mean or σ: within 1e-9, except for IDIA HDF5 files, whose per-channel and per-cube
/// histograms come from the statistics the file stores (as carta_backend answers them, without a pass over the
/// pixels), where SUM and SUM_SQ are float32 by the schema.
fn close_summary(got: f64, want: &Value, what: &str) {
    if !what.contains(".hdf5") {
        return close(got, want, what);
    }
    if let Some(w) = want.as_f64() {
        assert!(
            (got - w).abs() <= 1e-5 * w.abs().max(1e-12),
            "{what}: {got} vs {w}"
        );
    }
}

fn split(rel: &str) -> (&str, &str) {
    rel.trim_start_matches("images/")
        .rsplit_once('/')
        .unwrap_or(("", rel.trim_start_matches("images/")))
}

fn stats_request(file_id: i32, region_id: i32, coordinate: &str) -> pb::SetStatsRequirements {
    pb::SetStatsRequirements {
        file_id,
        region_id,
        stats_configs: vec![pb::set_stats_requirements::StatsConfig {
            coordinate: coordinate.into(),
            stats_types: STATS.iter().map(|(t, _)| *t as i32).collect(),
        }],
    }
}

async fn stats_of(
    c: &mut common::Client,
    file_id: i32,
    region_id: i32,
    channel: i32,
    stokes: i32,
) -> pb::RegionStatsData {
    loop {
        let (_, d) = c
            .expect::<pb::RegionStatsData>(EventType::RegionStatsData)
            .await;
        if (d.file_id, d.region_id, d.channel, d.stokes) == (file_id, region_id, channel, stokes) {
            return d;
        }
    }
}

/// Waits for both the statistics and the histogram of one plane of a region, in whichever order they come.
async fn stats_and_histogram(
    c: &mut common::Client,
    file_id: i32,
    region_id: i32,
    channel: i32,
    stokes: i32,
) -> (pb::RegionStatsData, pb::Histogram) {
    use prost::Message as _;
    let (mut stats, mut histogram) = (None, None);
    while stats.is_none() || histogram.is_none() {
        let (h, payload) = c.next().await;
        if h.event_type == EventType::RegionStatsData as u16 {
            let d = pb::RegionStatsData::decode(payload.as_slice()).expect("stats");
            if (d.file_id, d.region_id, d.channel, d.stokes)
                == (file_id, region_id, channel, stokes)
            {
                stats = Some(d);
            }
        } else if h.event_type == EventType::RegionHistogramData as u16 {
            let d = pb::RegionHistogramData::decode(payload.as_slice()).expect("histogram");
            if (d.file_id, d.region_id, d.channel, d.stokes)
                == (file_id, region_id, channel, stokes)
            {
                histogram = d.histograms;
            }
        }
    }
    (stats.expect("stats"), histogram.expect("histogram"))
}

fn check_stats(name: &str, got: &pb::RegionStatsData, want: &Value) {
    assert_eq!(got.statistics.len(), STATS.len());
    for (value, (t, key)) in got.statistics.iter().zip(STATS) {
        assert_eq!(value.stats_type, t as i32);
        if key == "Sigma" && want["NumPixels"].as_i64() == Some(1) {
            continue;
        }
        close(value.value, &want[key], &format!("{name} {key}"));
    }
}

async fn histogram_of(
    c: &mut common::Client,
    file_id: i32,
    region_id: i32,
    channel: i32,
) -> pb::Histogram {
    loop {
        let (_, d) = c
            .expect::<pb::RegionHistogramData>(EventType::RegionHistogramData)
            .await;
        if (d.file_id, d.region_id, d.channel) == (file_id, region_id, channel) && d.progress >= 1.0
        {
            return d.histograms.expect("histogram");
        }
    }
}

fn check_histogram(name: &str, got: &pb::Histogram, want: &Value) {
    let bins: Vec<i64> = want["bins"]
        .as_array()
        .expect("bins")
        .iter()
        .map(|b| b.as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(
        got.num_bins as i64,
        want["num_bins"].as_i64().unwrap_or(-1),
        "{name} num_bins"
    );
    assert_eq!(
        got.bins.iter().map(|b| i64::from(*b)).collect::<Vec<_>>(),
        bins,
        "{name} bins"
    );
    if let (Some(min), Some(max)) = (want["min"].as_f64(), want["max"].as_f64()) {
        if bins.len() > 1 {
            let w = (max - min) / bins.len() as f64;
            assert!(
                (got.first_bin_center - (min + w / 2.0)).abs() <= 1e-9 * min.abs().max(1.0),
                "{name} first bin"
            );
        }
        close_summary(got.mean, &want["mean"], &format!("{name} mean"));
    }
}

fn histogram_request(file_id: i32, region_id: i32, channel: i32) -> pb::SetHistogramRequirements {
    pb::SetHistogramRequirements {
        file_id,
        region_id,
        histograms: vec![pb::HistogramConfig {
            coordinate: "z".into(),
            channel,
            num_bins: -1,
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn region_statistics_and_histograms_match_numpy() {
    // FITS cubes get their spectral-order index in the background; the fixtures are small, so it is ready
    // well within the pause before the spectral requests, which then read in spectral order.
    region_checks(Server::start(&[]), Some(Duration::from_secs(1))).await;
}

/// The same answers with the spectral-order index turned off: spectra read plane by plane.
#[tokio::test]
async fn region_spectra_without_the_spectral_index_match_numpy() {
    let server = Server::start_in(
        &common::fixtures().join("images"),
        &[],
        &[("CARTAFLOW_SPECTRAL_INDEX", "false")],
    );
    region_checks(server, None).await;
}

async fn region_checks(server: Server, pause: Option<Duration>) {
    let mut c = server.connect().await;
    c.register().await;
    for (n, case) in expected()["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .enumerate()
    {
        let name = case["name"].as_str().unwrap_or("?");
        let file_id = n as i32;
        let (dir, file) = split(case["file"].as_str().expect("file"));
        assert!(c.open_file(dir, file, "", file_id).await.success, "{name}");
        let points = case["control_points"]
            .as_array()
            .expect("points")
            .iter()
            .map(|p| pb::Point {
                x: p[0].as_f64().unwrap_or(0.0) as f32,
                y: p[1].as_f64().unwrap_or(0.0) as f32,
            })
            .collect();
        let set = pb::SetRegion {
            file_id,
            region_id: -1,
            region_info: Some(pb::RegionInfo {
                region_type: case["region_type"].as_i64().unwrap_or(0) as i32,
                control_points: points,
                rotation: case["rotation"].as_f64().unwrap_or(0.0) as f32,
            }),
            preview_region: false,
        };
        let id = c.send(EventType::SetRegion, &set).await;
        let (h, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
        assert_eq!(h.request_id, id);
        assert!(ack.success, "{name}: {}", ack.message);
        assert!(ack.region_id >= 1);
        let region = ack.region_id;
        c.send(
            EventType::SetStatsRequirements,
            &stats_request(file_id, region, "z"),
        )
        .await;
        c.send(
            EventType::SetHistogramRequirements,
            &histogram_request(file_id, region, -1),
        )
        .await;
        for plane in case["planes"].as_array().expect("planes") {
            let (channel, stokes) = (
                plane["channel"].as_i64().unwrap_or(0) as i32,
                plane["stokes"].as_i64().unwrap_or(0) as i32,
            );
            if (channel, stokes) != (0, 0) {
                c.send(
                    EventType::SetImageChannels,
                    &pb::SetImageChannels {
                        file_id,
                        channel,
                        stokes,
                        ..Default::default()
                    },
                )
                .await;
            }
            let what = format!("{name} ({channel},{stokes})");
            let (stats, histogram) =
                stats_and_histogram(&mut c, file_id, region, channel, stokes).await;
            check_stats(&what, &stats, &plane["stats"]);
            check_histogram(&what, &histogram, &plane["histogram"]);
        }
        if let Some(spectral) = case.get("spectral").filter(|s| s.is_object()) {
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
            let req = pb::SetSpectralRequirements {
                file_id,
                region_id: region,
                spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
                    coordinate: "Iz".into(),
                    stats_types: vec![
                        pb::StatsType::Sum as i32,
                        pb::StatsType::Mean as i32,
                        pb::StatsType::NumPixels as i32,
                        pb::StatsType::Max as i32,
                    ],
                }],
            };
            c.send(EventType::SetSpectralRequirements, &req).await;
            let data = loop {
                let (_, d) = c
                    .expect::<pb::SpectralProfileData>(EventType::SpectralProfileData)
                    .await;
                if d.region_id == region && d.progress >= 1.0 {
                    break d;
                }
            };
            for (p, key) in data
                .profiles
                .iter()
                .zip(["Sum", "Mean", "NumPixels", "Max"])
            {
                let values: Vec<f64> = p
                    .raw_values_fp64
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .collect();
                let want = spectral[key].as_array().expect("spectral values");
                assert_eq!(values.len(), want.len(), "{name} spectral {key}");
                for (ch, (g, w)) in values.iter().zip(want).enumerate() {
                    close(*g, w, &format!("{name} spectral {key} channel {ch}"));
                }
            }
        }
        c.send(
            EventType::RemoveRegion,
            &pb::RemoveRegion { region_id: region },
        )
        .await;
        c.send(EventType::CloseFile, &pb::CloseFile { file_id })
            .await;
    }
}

#[tokio::test]
async fn image_statistics_and_cube_histograms_match_numpy() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    for (n, (file, want)) in expected()["image_stats"]
        .as_object()
        .expect("image stats")
        .iter()
        .enumerate()
    {
        let file_id = 100 + n as i32;
        let (dir, name) = split(file);
        assert!(c.open_file(dir, name, "", file_id).await.success, "{file}");
        c.send(
            EventType::SetStatsRequirements,
            &stats_request(file_id, -1, "z"),
        )
        .await;
        check_stats(
            file,
            &stats_of(&mut c, file_id, -1, 0, 0).await,
            &want["stats"],
        );
        if let Some(cube) = want.get("cube_histogram").filter(|v| v.is_object()) {
            c.send(
                EventType::SetHistogramRequirements,
                &histogram_request(file_id, -2, -2),
            )
            .await;
            let got = histogram_of(&mut c, file_id, -2, -2).await;
            check_histogram(&format!("{file} cube"), &got, cube);
            close_summary(
                got.std_dev,
                &cube["std_dev"],
                &format!("{file} cube std_dev"),
            );
        }
    }
}

#[tokio::test]
async fn invalid_regions_are_refused_with_a_reason() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "", 0).await.success);
    for (region_type, points, needle) in [
        (
            pb::RegionType::Rectangle,
            vec![pb::Point { x: 1.0, y: 1.0 }],
            "control points",
        ),
        (
            pb::RegionType::Line,
            vec![
                pb::Point {
                    x: f32::NAN,
                    y: 1.0,
                },
                pb::Point { x: 5.0, y: 5.0 },
            ],
            "finite",
        ),
        (
            pb::RegionType::Ellipse,
            vec![pb::Point { x: 1.0, y: 1.0 }, pb::Point { x: -2.0, y: 1.0 }],
            "radii",
        ),
    ] {
        let set = pb::SetRegion {
            file_id: 0,
            region_id: -1,
            region_info: Some(pb::RegionInfo {
                region_type: region_type as i32,
                control_points: points,
                rotation: 0.0,
            }),
            preview_region: false,
        };
        c.send(EventType::SetRegion, &set).await;
        let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
        assert!(!ack.success);
        assert!(ack.message.contains(needle), "{}", ack.message);
    }
    // Lines and annotations are accepted (no statistics), with ids from the same counter.
    for region_type in [pb::RegionType::Line, pb::RegionType::Anntext] {
        let info = pb::RegionInfo {
            region_type: region_type as i32,
            control_points: vec![pb::Point { x: 1.0, y: 1.0 }, pb::Point { x: 5.0, y: 5.0 }],
            rotation: 0.0,
        };
        let set = pb::SetRegion {
            file_id: 0,
            region_id: -1,
            region_info: Some(info),
            preview_region: false,
        };
        c.send(EventType::SetRegion, &set).await;
        let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
        assert!(
            ack.success && ack.region_id >= 1,
            "{region_type:?}: {}",
            ack.message
        );
    }
    let set = pb::SetRegion {
        file_id: 9,
        region_id: -1,
        region_info: None,
        preview_region: false,
    };
    c.send(EventType::SetRegion, &set).await;
    let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    assert!(!ack.success && ack.message.contains('9'));
}

/// Steering: a burst of spectral requirements for one region is answered for the newest one, and the
/// superseded ones stop before reading their planes (at most a few passes over the cube, not one per request).
#[tokio::test]
async fn superseded_spectral_profiles_stop_reading() {
    let dir = std::env::temp_dir().join(format!("cartaflow-steering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (w, h, d) = (512usize, 512usize, 48usize);
    common::write_fits_cube(&dir.join("cube.fits"), w, h, d, |x, y, z| {
        (x + y + z) as f32
    });
    let server = Server::start_in(&dir, &[], &[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube.fits", "", 0).await.success);
    let rect = pb::RegionInfo {
        region_type: pb::RegionType::Rectangle as i32,
        control_points: vec![
            pb::Point { x: 255.5, y: 255.5 },
            pb::Point { x: 500.0, y: 500.0 },
        ],
        rotation: 0.0,
    };
    c.send(
        EventType::SetRegion,
        &pb::SetRegion {
            file_id: 0,
            region_id: -1,
            region_info: Some(rect),
            preview_region: false,
        },
    )
    .await;
    let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    let before = common::health(&server).await["region_channel_reads"]
        .as_u64()
        .unwrap_or(0);
    let requests = 50;
    let types = [
        pb::StatsType::Sum,
        pb::StatsType::Mean,
        pb::StatsType::Max,
        pb::StatsType::Min,
    ];
    for i in 0..requests {
        let req = pb::SetSpectralRequirements {
            file_id: 0,
            region_id: ack.region_id,
            spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
                coordinate: "z".into(),
                stats_types: vec![types[i % types.len()] as i32],
            }],
        };
        c.send(EventType::SetSpectralRequirements, &req).await;
    }
    let last = types[(requests - 1) % types.len()] as i32;
    let data = loop {
        let (_, p) = c
            .expect::<pb::SpectralProfileData>(EventType::SpectralProfileData)
            .await;
        if p.progress >= 1.0 && p.profiles.first().map(|q| q.stats_type) == Some(last) {
            break p;
        }
    };
    assert_eq!(data.profiles[0].raw_values_fp64.len(), d * 8);
    let reads = common::health(&server).await["region_channel_reads"]
        .as_u64()
        .unwrap_or(0)
        - before;
    eprintln!("steering: {reads} plane reads for {requests} requests over {d} channels");
    // The 512-row cube is one strip, so a full profile reads 48 planes; unsteered, 50 requests would read 2400.
    assert!(
        reads <= 3 * d as u64,
        "{reads} plane reads: superseded work was not skipped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The spectral profiler's cursor profile (region 0): the pixel's value in every channel, following the cursor.
#[tokio::test]
async fn cursor_spectral_profile_follows_the_cursor() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube3d.fits", "", 0).await.success);
    let req = pb::SetSpectralRequirements {
        file_id: 0,
        region_id: 0,
        spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
            coordinate: "z".into(),
            stats_types: vec![pb::StatsType::Sum as i32],
        }],
    };
    c.send(EventType::SetSpectralRequirements, &req).await;
    for (x, y) in [(3usize, 4usize), (20, 7)] {
        let point = pb::Point {
            x: x as f32,
            y: y as f32,
        };
        c.send(
            EventType::SetCursor,
            &pb::SetCursor {
                file_id: 0,
                point: Some(point),
                spatial_requirements: None,
            },
        )
        .await;
        let data = c
            .expect::<pb::SpectralProfileData>(EventType::SpectralProfileData)
            .await
            .1;
        assert_eq!((data.region_id, data.progress), (0, 1.0));
        let values: Vec<f32> = data.profiles[0]
            .raw_values_fp32
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(values.len(), 10);
        // cube3d: value = x + 100 y + 10000 z (the fixture's pixel rule).
        for (z, v) in values.iter().enumerate() {
            if !v.is_nan() {
                assert_eq!(
                    *v,
                    (x + 100 * y + 10000 * z) as f32,
                    "({x},{y}) channel {z}"
                );
            }
        }
        assert!(values.iter().filter(|v| v.is_finite()).count() >= 8);
    }
}
