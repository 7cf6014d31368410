//! The vector overlay through the protocol: SET_VECTOR_OVERLAY_PARAMETERS → VECTOR_OVERLAY_TILE_DATA, placed
//! on the block grid as the 6.0.0 frontend places it (tile x, y, mip, width, height), against numpy's
//! polarised intensity and angle of the block-averaged Stokes planes (scripts/gen_overlays.py) for computed,
//! fractional, debiased, thresholded and current-plane overlays; re-sent for a new channel; cleared and
//! refused as carta_backend does.

mod common;

use cartaflow::protocol::{pb, EventType};
use common::{expected, tile_pixels, Client, Server};
use serde_json::Value;

const FILE_ID: i32 = 0;

fn vectors() -> &'static Value {
    &expected()["vectors"]
}

fn case(name: &str) -> &'static Value {
    vectors()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == name)
        .expect("case")
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

async fn open(c: &mut Client) {
    c.register().await;
    let file = vectors()["file"].as_str().expect("file");
    let ack = c.open_file("overlays", file, "", FILE_ID).await;
    assert!(ack.success, "{}", ack.message);
}

fn params(case: &Value) -> pb::SetVectorOverlayParameters {
    let mut p = pb::SetVectorOverlayParameters {
        file_id: FILE_ID as u32,
        image_bounds: Some(pb::ImageBounds {
            x_min: 0,
            x_max: vectors()["width"].as_i64().expect("w") as i32,
            y_min: 0,
            y_max: vectors()["height"].as_i64().expect("h") as i32,
        }),
        smoothing_factor: case["mip"].as_u64().expect("mip") as u32,
        fractional: case["fractional"].as_bool().expect("fractional"),
        threshold: case["threshold"].as_f64().unwrap_or(f64::NAN),
        debiasing: case["q_error"].as_f64() != Some(0.0) || case["u_error"].as_f64() != Some(0.0),
        q_error: case["q_error"].as_f64().expect("q"),
        u_error: case["u_error"].as_f64().expect("u"),
        stokes_intensity: case["stokes_intensity"].as_i64().expect("si") as i32,
        stokes_angle: case["stokes_angle"].as_i64().expect("sa") as i32,
        compression_quality: 8.0,
        ..Default::default()
    };
    p.threshold_option = case["threshold_option"].as_i64().expect("opt") as i32;
    p.set_compression_type(pb::CompressionType::None);
    p
}

/// Every tile of one batch (until progress 1), its values put back on the block grid.
struct Batch {
    channel: i32,
    intensity: Vec<f32>,
    angle: Vec<f32>,
    tiles: usize,
    angle_tiles_empty: bool,
}

async fn batch(c: &mut Client, case: &Value) -> Batch {
    let (gw, gh) = (
        case["grid_width"].as_u64().expect("gw") as usize,
        case["grid_height"].as_u64().expect("gh") as usize,
    );
    let mip = case["mip"].as_u64().expect("mip") as i32;
    let mut out = Batch {
        channel: -1,
        intensity: vec![f32::NAN; gw * gh],
        angle: vec![f32::NAN; gw * gh],
        tiles: 0,
        angle_tiles_empty: true,
    };
    let mut last = 0.0;
    loop {
        let (_, data) = c
            .expect::<pb::VectorOverlayTileData>(EventType::VectorOverlayTileData)
            .await;
        assert_eq!(data.file_id, FILE_ID);
        assert_eq!(
            (data.stokes_intensity, data.stokes_angle),
            (
                case["stokes_intensity"].as_i64().expect("si") as i32,
                case["stokes_angle"].as_i64().expect("sa") as i32
            ),
            "the sources are echoed"
        );
        assert_eq!((data.intensity_tiles.len(), data.angle_tiles.len()), (1, 1));
        assert!(
            data.progress > last && data.progress <= 1.0,
            "progress rises to 1"
        );
        last = data.progress;
        out.channel = data.channel;
        out.tiles += 1;
        for (tile, grid, is_angle) in [
            (&data.intensity_tiles[0], &mut out.intensity, false),
            (&data.angle_tiles[0], &mut out.angle, true),
        ] {
            if tile.image_data.is_empty() {
                continue;
            }
            if is_angle {
                out.angle_tiles_empty = false;
            }
            assert_eq!(tile.mip, mip);
            // The frontend's placement: sample (i, j) of tile (x, y) is block (x·256 + i, y·256 + j).
            let values = if data.compression_type == pb::CompressionType::Zfp as i32 {
                let message = pb::RasterTileData {
                    compression_type: data.compression_type,
                    compression_quality: data.compression_quality,
                    ..Default::default()
                };
                tile_pixels(&message, tile)
            } else {
                f32s(&tile.image_data)
            };
            let (w, h) = (tile.width as usize, tile.height as usize);
            assert_eq!(values.len(), w * h);
            for j in 0..h {
                for i in 0..w {
                    let (bx, by) = (tile.x as usize * 256 + i, tile.y as usize * 256 + j);
                    assert!(bx < gw && by < gh, "block ({bx}, {by}) outside the grid");
                    grid[by * gw + bx] = values[j * w + i];
                }
            }
        }
        if data.progress >= 1.0 {
            return out;
        }
    }
}

fn compare(got: &[f32], want: &Value, what: &str) {
    compare_within(got, want, what, 2e-6, 0.0)
}

/// `got` against numpy's grid: within `rel`·max(|w|, 1) plus `abs`, NaN exactly where numpy has NaN.
fn compare_within(got: &[f32], want: &Value, what: &str, rel: f64, abs: f64) {
    let want = want.as_array().expect("grid");
    assert_eq!(got.len(), want.len(), "{what}");
    let mut finite = 0;
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        match w.as_f64() {
            None => assert!(g.is_nan(), "{what}[{k}]: {g} where numpy has NaN"),
            Some(w) => {
                finite += 1;
                let tol = rel * w.abs().max(1.0) + abs;
                assert!(
                    (f64::from(*g) - w).abs() <= tol,
                    "{what}[{k}]: {g} vs numpy {w}"
                );
            }
        }
    }
    assert!(
        finite > got.len() / 10,
        "{what}: {finite} of {} blocks have vectors",
        got.len()
    );
}

async fn check(c: &mut Client, name: &str) {
    let case = case(name);
    c.send(EventType::SetVectorOverlayParameters, &params(case))
        .await;
    let b = batch(c, case).await;
    assert_eq!(b.channel, case["channel"].as_i64().expect("ch") as i32);
    compare(
        &b.intensity,
        &case["intensity"],
        &format!("{name} intensity"),
    );
    if case["stokes_angle"].as_i64() == Some(-1) {
        assert!(
            b.angle_tiles_empty,
            "{name}: no angle asked, empty angle tiles"
        );
    } else {
        compare(&b.angle, &case["angle"], &format!("{name} angle"));
    }
}

#[tokio::test]
async fn computed_vectors_match_numpy_for_every_option() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    for name in [
        "computed",
        "fractional_debiased",
        "plinear_threshold",
        "current",
    ] {
        check(&mut c, name).await;
    }
}

#[tokio::test]
async fn a_new_channel_resends_the_overlay_and_a_clear_stops_it() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    check(&mut c, "computed").await;
    c.send(
        EventType::SetImageChannels,
        &pb::SetImageChannels {
            file_id: FILE_ID,
            channel: 1,
            stokes: 0,
            ..Default::default()
        },
    )
    .await;
    let case1 = case("computed_channel1");
    let b = batch(&mut c, case1).await;
    assert_eq!(b.channel, 1);
    compare(&b.intensity, &case1["intensity"], "channel 1 intensity");
    compare(&b.angle, &case1["angle"], "channel 1 angle");
    // The frontend's clear: both sources -1, everything else default. Nothing more is sent after it, even for
    // a new channel.
    c.send(
        EventType::SetVectorOverlayParameters,
        &pb::SetVectorOverlayParameters {
            file_id: FILE_ID as u32,
            stokes_intensity: -1,
            stokes_angle: -1,
            ..Default::default()
        },
    )
    .await;
    c.send(
        EventType::SetImageChannels,
        &pb::SetImageChannels {
            file_id: FILE_ID,
            channel: 0,
            stokes: 0,
            ..Default::default()
        },
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while let Some((h, _)) = c
        .next_within(deadline.saturating_duration_since(std::time::Instant::now()))
        .await
    {
        assert_ne!(
            h.event_type,
            EventType::VectorOverlayTileData as u16,
            "no vectors after the clear"
        );
    }
}

#[tokio::test]
async fn bad_parameters_get_error_data_and_the_session_goes_on() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    let good = params(case("computed"));
    let bad = [
        pb::SetVectorOverlayParameters {
            stokes_intensity: 7,
            ..good
        },
        pb::SetVectorOverlayParameters {
            smoothing_factor: 100_000,
            ..good
        },
        pb::SetVectorOverlayParameters {
            threshold: f64::INFINITY,
            ..good
        },
        pb::SetVectorOverlayParameters {
            file_id: 42,
            ..good
        },
    ];
    for p in bad {
        c.send(EventType::SetVectorOverlayParameters, &p).await;
        let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
        assert!(!err.message.is_empty());
    }
    check(&mut c, "computed").await;
}

#[tokio::test]
async fn zfp_tiles_decode_to_the_same_vectors() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    let case = case("computed");
    let mut p = params(case);
    p.set_compression_type(pb::CompressionType::Zfp);
    p.compression_quality = 20.0;
    c.send(EventType::SetVectorOverlayParameters, &p).await;
    let b = batch(&mut c, case).await;
    // ZFP at precision 20 keeps about 1e-4 of each 4x4 block's largest magnitude (angles reach 90 degrees).
    compare_within(
        &b.intensity,
        &case["intensity"],
        "zfp intensity",
        1e-3,
        1e-3,
    );
    compare_within(&b.angle, &case["angle"], "zfp angle", 1e-3, 0.02);
}
