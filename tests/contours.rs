//! Contours through the protocol: SET_CONTOUR_PARAMETERS → CONTOUR_IMAGE_DATA, decoded as the 6.0.0 frontend
//! decodes it (raw floats at compression 0; otherwise zstd, byte un-shuffling, rounding and delta decoding),
//! against scikit-image's `find_contours` on the same plane, its Gaussian smoothing and its block means
//! (scripts/gen_overlays.py): every vertex within half a pixel of one of the oracle's, and back.

mod common;

use std::collections::HashMap;

use cartaflow::protocol::{pb, EventType};
use common::{expected, Server};
use prost::Message;
use serde_json::Value;

/// The frontend's decoding of one contour set (carta-frontend `ProcessContourSet` and `decodeArray`).
fn decode(set: &pb::ContourSet) -> Vec<f32> {
    if set.decimation_factor < 1 {
        return set
            .raw_coordinates
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
    }
    let size = set.uncompressed_coordinates_size as usize;
    let raw = zstd::bulk::decompress(&set.raw_coordinates, size).expect("zstd");
    assert_eq!(raw.len(), size);
    let n = size / 4;
    let mut ints = vec![0i32; n];
    let blocked = 4 * (n / 4);
    for v in (0..blocked).step_by(4) {
        let i = 4 * v;
        for k in 0..4 {
            ints[v + k] =
                i32::from_le_bytes([raw[i + k], raw[i + 4 + k], raw[i + 8 + k], raw[i + 12 + k]]);
        }
    }
    for (v, int) in ints.iter_mut().enumerate().skip(blocked) {
        *int = i32::from_le_bytes([raw[4 * v], raw[4 * v + 1], raw[4 * v + 2], raw[4 * v + 3]]);
    }
    let scale = 1.0 / set.decimation_factor as f32;
    let mut out: Vec<f32> = ints.iter().map(|v| *v as f32 * scale).collect();
    let (mut x, mut y) = (0f32, 0f32);
    for pair in out.chunks_exact_mut(2) {
        x += pair[0];
        y += pair[1];
        pair[0] = x;
        pair[1] = y;
    }
    out
}

/// Everything of one contour computation: per level, its lines (from the start indices) until every level's
/// progress reached 1.
struct Traced {
    lines: HashMap<u64, Vec<Vec<f32>>>,
    messages: usize,
    channel: i32,
}

async fn collect(c: &mut common::Client, levels: &[f64]) -> Traced {
    let mut lines: HashMap<u64, Vec<Vec<f32>>> = HashMap::new();
    let mut done: HashMap<u64, bool> = levels.iter().map(|l| (l.to_bits(), false)).collect();
    let mut messages = 0;
    let mut channel = -1;
    while done.values().any(|d| !d) {
        let (_, data) = c
            .expect::<pb::ContourImageData>(EventType::ContourImageData)
            .await;
        messages += 1;
        channel = data.channel;
        for set in &data.contour_sets {
            let coords = decode(set);
            let starts: Vec<usize> = set
                .raw_start_indices
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .collect();
            let entry = lines.entry(set.level.to_bits()).or_default();
            for (i, s) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(coords.len());
                entry.push(coords[*s..end].to_vec());
            }
            if data.progress >= 1.0 {
                done.insert(set.level.to_bits(), true);
            }
        }
    }
    Traced {
        lines,
        messages,
        channel,
    }
}

fn params(
    file_id: u32,
    levels: &[f64],
    mode: pb::SmoothingMode,
    factor: i32,
) -> pb::SetContourParameters {
    pb::SetContourParameters {
        file_id,
        reference_file_id: file_id,
        image_bounds: Some(pb::ImageBounds {
            x_min: 0,
            x_max: 300,
            y_min: 0,
            y_max: 600,
        }),
        levels: levels.to_vec(),
        smoothing_mode: mode as i32,
        smoothing_factor: factor,
        decimation_factor: 32,
        compression_level: 8,
        contour_chunk_size: 500,
        channel_range: None,
    }
}

fn points(v: &Value) -> Vec<(f32, f32)> {
    v.as_array()
        .expect("vertices")
        .iter()
        .map(|p| {
            (
                p[0].as_f64().expect("x") as f32,
                p[1].as_f64().expect("y") as f32,
            )
        })
        .collect()
}

/// Largest distance from a point of `a` to its nearest point of `b` (a grid of 1-pixel cells).
fn farthest(a: &[(f32, f32)], b: &[(f32, f32)]) -> f32 {
    let mut grid: HashMap<(i32, i32), Vec<(f32, f32)>> = HashMap::new();
    for p in b {
        grid.entry((p.0.floor() as i32, p.1.floor() as i32))
            .or_default()
            .push(*p);
    }
    let mut worst = 0f32;
    for p in a {
        let (cx, cy) = (p.0.floor() as i32, p.1.floor() as i32);
        let mut best = f32::INFINITY;
        for dx in -1..=1 {
            for dy in -1..=1 {
                for q in grid.get(&(cx + dx, cy + dy)).into_iter().flatten() {
                    best = best.min(((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt());
                }
            }
        }
        worst = worst.max(best);
    }
    worst
}

fn check_level(traced: &Traced, level: f64, oracle: &Value, tolerance: f32, what: &str) {
    let want = points(oracle);
    let got: Vec<(f32, f32)> = traced
        .lines
        .get(&level.to_bits())
        .into_iter()
        .flatten()
        .flat_map(|l| l.chunks_exact(2).map(|p| (p[0], p[1])))
        .collect();
    assert!(
        !want.is_empty(),
        "{what} level {level}: the oracle has lines"
    );
    let there = farthest(&got, &want);
    let back = farthest(&want, &got);
    assert!(
        there <= tolerance && back <= tolerance,
        "{what} level {level}: {} vertices vs scikit-image's {}; farthest {there} / {back} px",
        got.len(),
        want.len()
    );
    let (a, b) = (got.len() as f64, want.len() as f64);
    assert!(
        (a - b).abs() <= 0.02 * b + 4.0,
        "{what} level {level}: {a} vertices vs scikit-image's {b}"
    );
}

fn contours() -> &'static Value {
    &expected()["contours"]
}

fn levels() -> Vec<f64> {
    contours()["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|v| v.as_f64().expect("level"))
        .collect()
}

async fn open(c: &mut common::Client, file: &str, file_id: i32) {
    let ack = c.open_file("overlays", file, "", file_id).await;
    assert!(ack.success, "{}", ack.message);
}

#[tokio::test]
async fn contour_vertices_match_scikit_image_for_every_smoothing_mode() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    open(&mut c, contours()["file"].as_str().expect("file"), 0).await;
    let levels = levels();
    let modes = [
        (pb::SmoothingMode::NoSmoothing, 1, &contours()["none"], 0),
        (
            pb::SmoothingMode::GaussianBlur,
            contours()["gaussian"]["factor"].as_i64().expect("f") as i32,
            &contours()["gaussian"]["vertices"],
            8,
        ),
        (
            pb::SmoothingMode::BlockAverage,
            contours()["block"]["factor"].as_i64().expect("f") as i32,
            &contours()["block"]["vertices"],
            3,
        ),
    ];
    for (mode, factor, oracle, compression) in modes {
        let mut p = params(0, &levels, mode, factor);
        p.compression_level = compression;
        c.send(EventType::SetContourParameters, &p).await;
        let traced = collect(&mut c, &levels).await;
        assert_eq!(traced.channel, 0);
        assert!(
            traced.messages > levels.len(),
            "{mode:?}: lines come in several chunks"
        );
        for (i, level) in levels.iter().enumerate() {
            // Rounding to 1/32 px when compressed; scikit-image's vertices are the same edge crossings.
            check_level(&traced, *level, &oracle[i], 0.5, &format!("{mode:?}"));
        }
    }
}

#[tokio::test]
async fn nan_pixels_empty_levels_and_bad_parameters() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    open(&mut c, contours()["nan_file"].as_str().expect("file"), 3).await;
    let levels = levels();
    for mode in [
        pb::SmoothingMode::NoSmoothing,
        pb::SmoothingMode::GaussianBlur,
        pb::SmoothingMode::BlockAverage,
    ] {
        c.send(
            EventType::SetContourParameters,
            &params(3, &levels, mode, 4),
        )
        .await;
        let traced = collect(&mut c, &levels).await;
        let all: Vec<f32> = traced.lines.values().flatten().flatten().copied().collect();
        assert!(!all.is_empty(), "{mode:?}: lines around the NaNs");
        assert!(
            all.iter()
                .all(|v| v.is_finite() && (-1.0..=601.0).contains(v)),
            "{mode:?}: finite vertices in the image"
        );
        // No vertex inside the NaN disk (radius 20 around (220, 250); vertices at pixel centres + 0.5).
        let inside = all
            .chunks_exact(2)
            .filter(|p| ((p[0] - 220.5).powi(2) + (p[1] - 250.5).powi(2)).sqrt() < 17.0)
            .count();
        assert_eq!(inside, 0, "{mode:?}: no vertices in the NaN hole");
    }
    // No levels: one empty message clears the contours.
    c.send(
        EventType::SetContourParameters,
        &params(3, &[], pb::SmoothingMode::NoSmoothing, 1),
    )
    .await;
    let (_, data) = c
        .expect::<pb::ContourImageData>(EventType::ContourImageData)
        .await;
    assert_eq!((data.progress, data.contour_sets.len()), (1.0, 0));
    // Bad parameters and unknown files get an ERROR_DATA naming the problem; the session goes on.
    let mut bad = params(3, &[1.0, f64::NAN], pb::SmoothingMode::NoSmoothing, 1);
    let id = c.send(EventType::SetContourParameters, &bad).await;
    let (h, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert_eq!(h.request_id, id);
    assert!(err.message.contains("finite"), "{}", err.message);
    bad.levels = vec![1.0];
    bad.smoothing_factor = 1000;
    c.send(EventType::SetContourParameters, &bad).await;
    let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert!(err.message.contains("smoothing factor"), "{}", err.message);
    c.send(
        EventType::SetContourParameters,
        &params(77, &[1.0], pb::SmoothingMode::NoSmoothing, 1),
    )
    .await;
    let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert!(err.message.contains("77"), "{}", err.message);
    let ok = params(3, &[10.0], pb::SmoothingMode::NoSmoothing, 1);
    c.send(EventType::SetContourParameters, &ok).await;
    let traced = collect(&mut c, &[10.0]).await;
    assert!(!traced.lines.is_empty());
}

#[tokio::test]
async fn contours_follow_the_channel_and_newer_parameters_win() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let ack = c.open_file("", "cube3d.fits", "", 0).await;
    assert!(ack.success, "{}", ack.message);
    // cube3d: value = x + 100 y + 10000 z, so the level 10000 z + 1250 crosses every channel at y ≈ 12.5.
    let level = [11250.0];
    let mut p = params(0, &[1250.0], pb::SmoothingMode::NoSmoothing, 1);
    p.image_bounds = None;
    c.send(EventType::SetContourParameters, &p).await;
    // Superseded at once by the level of channel 1.
    p.levels = level.to_vec();
    c.send(EventType::SetContourParameters, &p).await;
    c.send(
        EventType::SetImageChannels,
        &pb::SetImageChannels {
            file_id: 0,
            channel: 1,
            stokes: 0,
            ..Default::default()
        },
    )
    .await;
    // Whatever came for channel 0 before the change, channel 1's contours come complete.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        assert!(std::time::Instant::now() < deadline, "channel 1's contours");
        let (h, body) = c.next().await;
        if h.event_type != EventType::ContourImageData as u16 {
            continue;
        }
        let data = pb::ContourImageData::decode(body.as_slice()).expect("decodes");
        if data.channel != 1 || data.progress < 1.0 {
            continue;
        }
        assert_eq!(data.contour_sets.len(), 1);
        assert_eq!(data.contour_sets[0].level, level[0]);
        let v = decode(&data.contour_sets[0]);
        assert!(!v.is_empty());
        // Pixel centres at +0.5: the crossing at y = 12.5 - x/100 is drawn at y + 0.5.
        for p in v.chunks_exact(2) {
            let want = 12.5 - (p[0] - 0.5) / 100.0 + 0.5;
            assert!((p[1] - want).abs() < 0.05, "vertex {p:?}");
        }
        break;
    }
}

#[tokio::test]
async fn contours_drawn_over_another_image_are_in_its_pixels() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let reference = &contours()["reference"];
    open(
        &mut c,
        reference["reference_file"].as_str().expect("ref"),
        0,
    )
    .await;
    open(&mut c, reference["file"].as_str().expect("file"), 1).await;
    let levels = levels();
    let mut p = params(1, &levels, pb::SmoothingMode::NoSmoothing, 1);
    p.reference_file_id = 0;
    c.send(EventType::SetContourParameters, &p).await;
    let traced = collect(&mut c, &levels).await;
    for (i, level) in levels.iter().enumerate() {
        // astropy's pixel -> world -> pixel of scikit-image's vertices; decimation rounds to 1/32 px.
        check_level(
            &traced,
            *level,
            &reference["vertices"][i],
            0.5,
            "over the reference",
        );
    }
    // A reference that is not open is refused.
    p.reference_file_id = 9;
    c.send(EventType::SetContourParameters, &p).await;
    let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert!(err.message.contains("reference image 9"), "{}", err.message);
}
