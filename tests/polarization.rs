//! Computed Stokes parameters (Ptotal, Plinear, PFtotal, PFlinear, Pangle) wherever a Stokes index can appear,
//! against numpy with carta_backend's formulas, on an image whose Stokes axis is the third: the image view
//! (tiles, colour-scale histogram), the cursor value and profiles, image statistics, cursor spectra and region
//! spectra (components combined statistic by statistic, as carta_backend does).

mod common;

use cartaflow::protocol::{pb, EventType};
use common::{expected, tile_pixels, Server};
use serde_json::Value;

const NAMES: [(&str, i32); 5] = [
    ("Ptotal", 13),
    ("Plinear", 14),
    ("PFtotal", 15),
    ("PFlinear", 16),
    ("Pangle", 17),
];

fn want() -> &'static Value {
    &expected()["computed_stokes"]
}

fn same(got: f64, want: &Value, rel: f64) -> bool {
    match want.as_f64() {
        None => got.is_nan(),
        Some(w) => (got - w).abs() <= rel * w.abs().max(1.0),
    }
}

async fn open(c: &mut common::Client) {
    let ack = c.open_file("pixels", "iquv.fits", "", 0).await;
    assert!(ack.success, "{}", ack.message);
    let info = ack.file_info_extended.expect("extended");
    assert_eq!(
        (info.depth, info.stokes),
        (3, 4),
        "STOKES on axis 3, FREQ on axis 4"
    );
}

#[tokio::test]
async fn computed_planes_show_in_tiles_histograms_and_the_cursor() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    open(&mut c).await;
    let channel = want()["channel"].as_i64().expect("channel") as i32;
    let (px, py) = (
        want()["pixel"][0].as_i64().expect("x") as i32,
        want()["pixel"][1].as_i64().expect("y") as i32,
    );
    let spatial = pb::SetSpatialRequirements {
        file_id: 0,
        region_id: 0,
        spatial_profiles: vec![pb::set_spatial_requirements::SpatialConfig {
            coordinate: "x".into(),
            ..Default::default()
        }],
    };
    c.send(EventType::SetSpatialRequirements, &spatial).await;
    for (name, index) in NAMES {
        let expected_plane = want()["planes"][name].as_array().expect("plane");
        c.send(
            EventType::SetImageChannels,
            &pb::SetImageChannels {
                file_id: 0,
                channel,
                stokes: index,
                required_tiles: Some(pb::AddRequiredTiles {
                    file_id: 0,
                    tiles: vec![0],
                    compression_type: pb::CompressionType::None as i32,
                    compression_quality: 0.0,
                    current_tiles: Vec::new(),
                }),
                ..Default::default()
            },
        )
        .await;
        let histogram = loop {
            let (_, h) = c
                .expect::<pb::RegionHistogramData>(EventType::RegionHistogramData)
                .await;
            if h.stokes == index && h.region_id == -1 {
                break h;
            }
        };
        let finite = expected_plane.iter().filter(|v| v.is_number()).count() as i64;
        let counted: i64 = histogram
            .histograms
            .expect("histogram")
            .bins
            .iter()
            .map(|b| i64::from(*b))
            .sum();
        assert_eq!(
            counted, finite,
            "{name}: the colour-scale histogram counts every finite pixel"
        );
        let stream = c.tile_stream().await;
        assert_eq!(
            stream.start.stokes, index,
            "{name}: tiles carry the computed Stokes index"
        );
        let t = &stream.tiles[0];
        let pixels = tile_pixels(t, &t.tiles[0]);
        assert_eq!(pixels.len(), expected_plane.len(), "{name}");
        for (k, (got, w)) in pixels.iter().zip(expected_plane).enumerate() {
            assert!(
                same(f64::from(*got), w, 1e-6),
                "{name} pixel {k}: {got} vs {w}"
            );
        }
        c.send(
            EventType::SetCursor,
            &pb::SetCursor {
                file_id: 0,
                point: Some(pb::Point {
                    x: px as f32,
                    y: py as f32,
                }),
                spatial_requirements: None,
            },
        )
        .await;
        let profile = loop {
            let (_, d) = c
                .expect::<pb::SpatialProfileData>(EventType::SpatialProfileData)
                .await;
            if d.stokes == index && (d.x, d.y) == (px, py) {
                break d;
            }
        };
        let at = &expected_plane[(py * 24 + px) as usize];
        assert!(
            same(f64::from(profile.value), at, 1e-6),
            "{name}: cursor value {}",
            profile.value
        );
    }
}

#[tokio::test]
async fn computed_statistics_and_spectra_match_numpy() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    open(&mut c).await;
    let channel = want()["channel"].as_i64().expect("channel") as i32;
    c.send(
        EventType::SetImageChannels,
        &pb::SetImageChannels {
            file_id: 0,
            channel,
            stokes: 0,
            ..Default::default()
        },
    )
    .await;
    // Image statistics of each computed parameter in the current channel.
    for (name, _) in NAMES {
        let id = c
            .send(
                EventType::SetStatsRequirements,
                &pb::SetStatsRequirements {
                    file_id: 0,
                    region_id: -1,
                    stats_configs: vec![pb::set_stats_requirements::StatsConfig {
                        coordinate: format!("{name}z"),
                        stats_types: [
                            pb::StatsType::NumPixels,
                            pb::StatsType::Sum,
                            pb::StatsType::Mean,
                            pb::StatsType::Min,
                            pb::StatsType::Max,
                        ]
                        .iter()
                        .map(|t| *t as i32)
                        .collect(),
                    }],
                },
            )
            .await;
        let data = loop {
            let (h, body) = c.next().await;
            if h.event_type == EventType::ErrorData as u16 {
                let err: pb::ErrorData = prost::Message::decode(body.as_slice()).expect("decodes");
                panic!("{name} statistics (request {id}) failed: {}", err.message);
            }
            if h.event_type == EventType::RegionStatsData as u16 {
                let d: pb::RegionStatsData =
                    prost::Message::decode(body.as_slice()).expect("decodes");
                if d.channel == channel {
                    break d;
                }
            }
        };
        let w = &want()["stats"][name];
        for (value, key) in data
            .statistics
            .iter()
            .zip(["NumPixels", "Sum", "Mean", "Min", "Max"])
        {
            assert!(
                same(value.value, &w[key], 1e-9),
                "{name} {key}: {} vs {}",
                value.value,
                w[key]
            );
        }
    }
    // The cursor's spectra and a rectangle's mean spectra.
    let (px, py) = (
        want()["pixel"][0].as_f64().expect("x"),
        want()["pixel"][1].as_f64().expect("y"),
    );
    c.send(
        EventType::SetCursor,
        &pb::SetCursor {
            file_id: 0,
            point: Some(pb::Point {
                x: px as f32,
                y: py as f32,
            }),
            spatial_requirements: None,
        },
    )
    .await;
    let points = &want()["region"]["control_points"];
    let point = |k: usize| pb::Point {
        x: points[k][0].as_f64().expect("x") as f32,
        y: points[k][1].as_f64().expect("y") as f32,
    };
    c.send(
        EventType::SetRegion,
        &pb::SetRegion {
            file_id: 0,
            region_id: -1,
            region_info: Some(pb::RegionInfo {
                region_type: pb::RegionType::Rectangle as i32,
                control_points: vec![point(0), point(1)],
                rotation: 0.0,
            }),
            preview_region: false,
        },
    )
    .await;
    let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    assert!(ack.success, "{}", ack.message);
    for (name, index) in NAMES {
        for region_id in [0, ack.region_id] {
            let coordinate = format!("{name}z");
            let stat = if region_id == 0 {
                pb::StatsType::Sum
            } else {
                pb::StatsType::Mean
            };
            c.send(
                EventType::SetSpectralRequirements,
                &pb::SetSpectralRequirements {
                    file_id: 0,
                    region_id,
                    spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
                        coordinate: coordinate.clone(),
                        stats_types: vec![stat as i32],
                    }],
                },
            )
            .await;
            let data = loop {
                let (_, d) = c
                    .expect::<pb::SpectralProfileData>(EventType::SpectralProfileData)
                    .await;
                if d.region_id == region_id
                    && d.progress >= 1.0
                    && d.profiles
                        .first()
                        .is_some_and(|p| p.coordinate == coordinate)
                {
                    break d;
                }
            };
            assert_eq!(data.stokes, index, "{name}");
            let profile = &data.profiles[0];
            if region_id == 0 {
                let got: Vec<f32> = profile
                    .raw_values_fp32
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                let w = want()["spectra"][name].as_array().expect("spectrum");
                assert_eq!(got.len(), w.len());
                for (g, w) in got.iter().zip(w) {
                    assert!(
                        same(f64::from(*g), w, 1e-6),
                        "{name} cursor spectrum: {g} vs {w}"
                    );
                }
            } else {
                let got: Vec<f64> = profile
                    .raw_values_fp64
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect();
                let w = want()["region"]["spectral_mean"][name]
                    .as_array()
                    .expect("mean");
                assert_eq!(got.len(), w.len());
                for (g, w) in got.iter().zip(w) {
                    assert!(same(*g, w, 1e-9), "{name} region mean spectrum: {g} vs {w}");
                }
            }
        }
    }
}

#[tokio::test]
async fn stokes_qualified_cursor_cuts_come_from_the_named_parameter() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let ack = c.open_file("pixels", "iquv.fits", "", 0).await;
    let info = ack.file_info_extended.expect("extended");
    let (w, h) = (info.width as usize, info.height as usize);
    let channel = want()["channel"].as_i64().expect("channel") as i32;
    let (px, py) = (
        want()["pixel"][0].as_i64().expect("x") as usize,
        want()["pixel"][1].as_i64().expect("y") as usize,
    );
    // Showing Stokes I; the profiles asked for are of Ptotal (row) and Pangle (column).
    c.send(
        EventType::SetImageChannels,
        &pb::SetImageChannels {
            file_id: 0,
            channel,
            stokes: 0,
            ..Default::default()
        },
    )
    .await;
    let configs = ["Ptotalx", "Pangley", "x"];
    c.send(
        EventType::SetSpatialRequirements,
        &pb::SetSpatialRequirements {
            file_id: 0,
            region_id: 0,
            spatial_profiles: configs
                .iter()
                .map(|s| pb::set_spatial_requirements::SpatialConfig {
                    coordinate: (*s).into(),
                    ..Default::default()
                })
                .collect(),
        },
    )
    .await;
    c.send(
        EventType::SetCursor,
        &pb::SetCursor {
            file_id: 0,
            point: Some(pb::Point {
                x: px as f32,
                y: py as f32,
            }),
            spatial_requirements: None,
        },
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let data = loop {
        assert!(std::time::Instant::now() < deadline, "the cursor's cuts");
        let (_, d) = c
            .expect::<pb::SpatialProfileData>(EventType::SpatialProfileData)
            .await;
        if (d.x, d.y, d.channel) == (px as i32, py as i32, channel) && d.profiles.len() == 3 {
            break d;
        }
    };
    let cut = |coordinate: &str| -> Vec<f32> {
        data.profiles
            .iter()
            .find(|p| p.coordinate == coordinate)
            .expect("profile")
            .raw_values_fp32
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let plane = |name: &str| want()["planes"][name].as_array().expect("plane");
    let row = cut("Ptotalx");
    assert_eq!(row.len(), w);
    for (x, g) in row.iter().enumerate() {
        assert!(
            same(f64::from(*g), &plane("Ptotal")[py * w + x], 1e-6),
            "Ptotal row x={x}: {g}"
        );
    }
    let column = cut("Pangley");
    assert_eq!(column.len(), h);
    for (y, g) in column.iter().enumerate() {
        assert!(
            same(f64::from(*g), &plane("Pangle")[y * w + px], 1e-6),
            "Pangle column y={y}: {g}"
        );
    }
    // The shown Stokes (I) still answers the plain "x".
    assert_eq!(cut("x").len(), w);
}
