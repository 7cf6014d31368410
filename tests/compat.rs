//! Behaviour a new CARTA user meets, against carta_backend's own expectations: the beam table in OPEN_FILE_ACK,
//! NaN in uncompressed tiles, the mip a full-resolution profile reports, the tag of an error for an unknown
//! file, the REGISTER_VIEWER_ACK message on reconnect, and a clear error (never silently the current Stokes)
//! for computed Stokes coordinates.

mod common;

use cartaflow::protocol::{pb, EventType};
use cartaflow::tiles::TileId;
use common::{expected, Server};
use serde_json::Value;

fn image_hdu(file: &str) -> &'static Value {
    &expected()["files"][file]["image_hdus"][0]
}

fn close(got: f32, want: f64) -> bool {
    (f64::from(got) - want).abs() <= 1e-6 * want.abs().max(1.0)
}

#[tokio::test]
async fn open_file_ack_carries_the_beam_table() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    for (dir, name, file_id) in [("", "wcs2d.fits", 0), ("pixels", "beams.fits", 1)] {
        let rel = if dir.is_empty() {
            format!("images/{name}")
        } else {
            format!("images/{dir}/{name}")
        };
        let want = image_hdu(&rel)["beams"].as_array().expect("beams");
        assert!(!want.is_empty(), "{rel} has a beam");
        let ack = c.open_file(dir, name, "", file_id).await;
        assert!(ack.success, "{rel}: {}", ack.message);
        assert_eq!(ack.beam_table.len(), want.len(), "{rel}");
        for (got, want) in ack.beam_table.iter().zip(want) {
            assert_eq!(got.channel as i64, want["channel"].as_i64().unwrap_or(0));
            assert_eq!(got.stokes as i64, want["stokes"].as_i64().unwrap_or(0));
            let f = |k: &str| want[k].as_f64().unwrap_or(f64::NAN);
            assert!(
                close(got.major_axis, f("major_arcsec")),
                "{rel} major {}",
                got.major_axis
            );
            assert!(
                close(got.minor_axis, f("minor_arcsec")),
                "{rel} minor {}",
                got.minor_axis
            );
            assert!(close(got.pa, f("pa_deg")), "{rel} pa {}", got.pa);
        }
    }
    let ack = c.open_file("", "nowcs.fits", "", 2).await;
    assert!(ack.success && ack.beam_table.is_empty());
}

#[tokio::test]
async fn uncompressed_tiles_carry_nan_as_nan() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("pixels", "tiles_nan.fits", "", 0).await.success);
    let whole = TileId {
        x: 0,
        y: 0,
        layer: 0,
    };
    c.add_tiles(0, &[whole.encode()], pb::CompressionType::None, 11.0)
        .await;
    let stream = c.tile_stream().await;
    let raw: Vec<f32> = stream.tiles[0].tiles[0]
        .image_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let nans = raw.iter().filter(|v| v.is_nan()).count();
    assert!(nans > 0, "the NaN rectangle shows in the whole-image tile");
    assert!(
        raw.iter().all(|v| *v != -f32::MAX),
        "no -FLT_MAX sentinel in an uncompressed tile"
    );
}

#[tokio::test]
async fn full_resolution_profiles_echo_the_mip_asked_for() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "", 0).await.success);
    for (i, mip) in [0, 1, 2].into_iter().enumerate() {
        let req = pb::SetSpatialRequirements {
            file_id: 0,
            region_id: 0,
            spatial_profiles: vec![pb::set_spatial_requirements::SpatialConfig {
                coordinate: "x".into(),
                mip,
                ..Default::default()
            }],
        };
        c.send(EventType::SetSpatialRequirements, &req).await;
        let y = 5.0 + i as f32;
        c.send(
            EventType::SetCursor,
            &pb::SetCursor {
                file_id: 0,
                point: Some(pb::Point { x: 3.0, y }),
                spatial_requirements: None,
            },
        )
        .await;
        let data = loop {
            let (_, d) = c
                .expect::<pb::SpatialProfileData>(EventType::SpatialProfileData)
                .await;
            if d.y == y as i32 && d.profiles.first().is_some_and(|p| p.mip == mip) {
                break d;
            }
        };
        let values = data.profiles[0].raw_values_fp32.len() / 4;
        if mip < 2 {
            assert_eq!(values, 64, "mip {mip}: the whole row");
        } else {
            assert_eq!(values, 32, "mip 2: min/max decimated (ceil(64/4)·2)");
        }
    }
}

/// (event, payload, tag of the error for an unknown file id)
fn unknown_file_requests() -> Vec<(EventType, Vec<u8>, &'static str)> {
    use prost::Message;
    let id = 99;
    vec![
        (
            EventType::SetCursor,
            pb::SetCursor {
                file_id: id,
                point: Some(pb::Point { x: 1.0, y: 1.0 }),
                spatial_requirements: None,
            }
            .encode_to_vec(),
            "cursor",
        ),
        (
            EventType::SetImageChannels,
            pb::SetImageChannels {
                file_id: id,
                channel: 1,
                ..Default::default()
            }
            .encode_to_vec(),
            "channels",
        ),
        (
            EventType::SetSpatialRequirements,
            pb::SetSpatialRequirements {
                file_id: id,
                ..Default::default()
            }
            .encode_to_vec(),
            "spatial",
        ),
        (
            EventType::SetStatsRequirements,
            pb::SetStatsRequirements {
                file_id: id,
                ..Default::default()
            }
            .encode_to_vec(),
            "stats",
        ),
        (
            EventType::SetHistogramRequirements,
            pb::SetHistogramRequirements {
                file_id: id,
                ..Default::default()
            }
            .encode_to_vec(),
            "histogram",
        ),
        (
            EventType::SetSpectralRequirements,
            pb::SetSpectralRequirements {
                file_id: id,
                ..Default::default()
            }
            .encode_to_vec(),
            "spectral",
        ),
        (
            EventType::AddRequiredTiles,
            pb::AddRequiredTiles {
                file_id: id,
                tiles: vec![0],
                ..Default::default()
            }
            .encode_to_vec(),
            "tiles",
        ),
    ]
}

#[tokio::test]
async fn errors_for_unknown_files_carry_the_requests_area_and_id() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    for (i, (event, payload, tag)) in unknown_file_requests().into_iter().enumerate() {
        let request_id = 500 + i as u32;
        c.send_raw(common::frame(event, 30, request_id, &payload))
            .await;
        let (h, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
        assert_eq!(err.tags, vec![tag.to_string()], "{event:?}");
        assert_eq!(h.request_id, request_id, "{event:?}");
        assert!(err.message.contains("99"), "{event:?}: {}", err.message);
    }
}

#[tokio::test]
async fn register_viewer_ack_explains_a_resumed_session() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    let id = c
        .send(
            EventType::RegisterViewer,
            &pb::RegisterViewer {
                session_id: 4242,
                api_key: String::new(),
                client_feature_flags: 5,
            },
        )
        .await;
    let (h, ack) = c
        .expect::<pb::RegisterViewerAck>(EventType::RegisterViewerAck)
        .await;
    assert_eq!(h.request_id, id);
    assert!(ack.success);
    assert_eq!(ack.session_id, 4242);
    assert_eq!(ack.session_type, pb::SessionType::Resumed as i32);
    assert!(ack.message.contains("4242"), "{}", ack.message);
}

#[tokio::test]
async fn computed_stokes_an_image_cannot_make_are_refused_by_name() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube4d.fits", "", 0).await.success);
    let spectral = pb::SetSpectralRequirements {
        file_id: 0,
        region_id: 0,
        spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
            coordinate: "Ptotalz".into(),
            stats_types: vec![pb::StatsType::Sum as i32],
        }],
    };
    let histogram = pb::SetHistogramRequirements {
        file_id: 0,
        region_id: -1,
        histograms: vec![pb::HistogramConfig {
            coordinate: "Plinearz".into(),
            channel: -1,
            num_bins: -1,
            ..Default::default()
        }],
    };
    let stats = pb::SetStatsRequirements {
        file_id: 0,
        region_id: -1,
        stats_configs: vec![pb::set_stats_requirements::StatsConfig {
            coordinate: "Panglez".into(),
            stats_types: vec![pb::StatsType::Mean as i32],
        }],
    };
    let channels = pb::SetImageChannels {
        file_id: 0,
        channel: 0,
        stokes: 13,
        ..Default::default()
    };
    use prost::Message;
    for (event, payload, needle) in [
        (
            EventType::SetSpectralRequirements,
            spectral.encode_to_vec(),
            "Ptotalz",
        ),
        (
            EventType::SetHistogramRequirements,
            histogram.encode_to_vec(),
            "Plinearz",
        ),
        (
            EventType::SetStatsRequirements,
            stats.encode_to_vec(),
            "Panglez",
        ),
        (
            EventType::SetImageChannels,
            channels.encode_to_vec(),
            "Ptotal",
        ),
    ] {
        let request_id = c.send_raw_with_id(event, &payload).await;
        loop {
            let (h, body) = c.next().await;
            if h.event_type == EventType::ErrorData as u16 {
                let err = pb::ErrorData::decode(body.as_slice()).expect("decodes");
                if err.message.contains(needle) {
                    assert_eq!(h.request_id, request_id, "{event:?}");
                    break;
                }
            }
            // Whatever else arrives must not answer the computed coordinate with another Stokes.
            if h.event_type == EventType::SpectralProfileData as u16 {
                let d = pb::SpectralProfileData::decode(body.as_slice()).expect("decodes");
                assert!(d.profiles.iter().all(|p| p.coordinate != "Ptotalz"));
            }
            if h.event_type == EventType::RegionStatsData as u16 {
                panic!("statistics answered for a computed Stokes coordinate");
            }
        }
    }
}

#[tokio::test]
async fn folder_images_are_recognised_and_refused_by_name() {
    let top = std::env::temp_dir().join(format!("cartaflow-folders-{}", std::process::id()));
    let casa = top.join("field.image");
    std::fs::create_dir_all(&casa).expect("folders");
    std::fs::create_dir_all(top.join("plain")).expect("folders");
    std::fs::write(casa.join("table.dat"), b"").expect("write");
    std::fs::write(casa.join("table.info"), b"Type = Image\n").expect("write");
    let server = Server::start_in(&top, &[], &[]);
    let mut c = server.connect().await;
    c.register().await;
    let ack = c.open_file("", "field.image", "", 0).await;
    assert!(
        !ack.success && ack.message.contains("CASA"),
        "{}",
        ack.message
    );
    let ack = c.open_file("", "plain", "", 0).await;
    assert!(
        !ack.success && ack.message.contains("no image"),
        "{}",
        ack.message
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&top);
}

#[tokio::test]
async fn flux_density_uses_each_channels_beam() {
    let want = &expected()["beam_flux"];
    let flux: Vec<f64> = want["flux_density"]
        .as_array()
        .expect("flux")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let (w, h) = (
        want["width"].as_f64().expect("width") as f32,
        want["height"].as_f64().expect("height") as f32,
    );
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("pixels", "beams.fits", "", 0).await.success);
    // A rectangle over the whole image: its spectrum's FluxDensity per channel.
    c.send(
        EventType::SetRegion,
        &pb::SetRegion {
            file_id: 0,
            region_id: -1,
            region_info: Some(pb::RegionInfo {
                region_type: pb::RegionType::Rectangle as i32,
                control_points: vec![
                    pb::Point {
                        x: (w - 1.0) / 2.0,
                        y: (h - 1.0) / 2.0,
                    },
                    pb::Point { x: w, y: h },
                ],
                rotation: 0.0,
            }),
            preview_region: false,
        },
    )
    .await;
    let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    c.send(
        EventType::SetSpectralRequirements,
        &pb::SetSpectralRequirements {
            file_id: 0,
            region_id: ack.region_id,
            spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
                coordinate: "z".into(),
                stats_types: vec![pb::StatsType::FluxDensity as i32],
            }],
        },
    )
    .await;
    let data = loop {
        let (_, d) = c
            .expect::<pb::SpectralProfileData>(EventType::SpectralProfileData)
            .await;
        if d.progress >= 1.0 {
            break d;
        }
    };
    let got: Vec<f64> = data.profiles[0]
        .raw_values_fp64
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    assert_eq!(got.len(), flux.len());
    for (channel, (g, f)) in got.iter().zip(&flux).enumerate() {
        assert!(
            (g - f).abs() <= 1e-9 * f.abs(),
            "channel {channel}: {g} vs {f}"
        );
    }
    // And the Statistics widget's FluxDensity in channel 2 uses channel 2's beam.
    c.send(
        EventType::SetImageChannels,
        &pb::SetImageChannels {
            file_id: 0,
            channel: 2,
            ..Default::default()
        },
    )
    .await;
    c.send(
        EventType::SetStatsRequirements,
        &pb::SetStatsRequirements {
            file_id: 0,
            region_id: -1,
            stats_configs: vec![pb::set_stats_requirements::StatsConfig {
                coordinate: "z".into(),
                stats_types: vec![pb::StatsType::FluxDensity as i32],
            }],
        },
    )
    .await;
    let stats = loop {
        let (_, d) = c
            .expect::<pb::RegionStatsData>(EventType::RegionStatsData)
            .await;
        if d.channel == 2 {
            break d;
        }
    };
    let g = stats.statistics[0].value;
    assert!(
        (g - flux[2]).abs() <= 1e-9 * flux[2].abs(),
        "{g} vs {}",
        flux[2]
    );
}
