//! Opening images and streaming them over a real WebSocket: OPEN_FILE_ACK, the colour-scale histogram before the
//! tiles, the synchronised tile stream, cursor profiles and channel changes, checked against the fixture writer's
//! values (scripts/gen_fixtures.py → expected.json).

mod common;

use cartaflow::protocol::{pb, EventType};
use cartaflow::tiles::TileId;
use common::{expected, tile_pixels, Server};
use prost::Message as _;
use serde_json::Value;

fn image_hdu(file: &str) -> &'static Value {
    &expected()["files"][file]["image_hdus"][0]
}

fn tile(layer: u32, x: u32, y: u32) -> i32 {
    TileId { x, y, layer }.encode()
}

#[tokio::test]
async fn open_sends_ack_then_histogram_then_tiles() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let ack = c.open_file("", "wcs2d.fits", "", 0).await;
    assert!(ack.success, "{}", ack.message);
    let ext = ack.file_info_extended.as_ref().expect("extended info");
    assert_eq!(
        (ext.width, ext.height, ext.depth, ext.stokes),
        (64, 48, 1, 1)
    );
    assert!(ext
        .header_entries
        .iter()
        .any(|e| e.name == "CTYPE1" && e.value == "RA---TAN"));
    assert_eq!(
        ack.file_info.as_ref().map(|f| f.r#type()),
        Some(pb::FileType::Fits)
    );

    c.add_tiles(0, &[tile(0, 0, 0)], pb::CompressionType::Zfp, 11.0)
        .await;
    let stream = c.tile_stream().await;
    let histogram_pos = stream
        .others
        .iter()
        .position(|(e, _)| *e == EventType::RegionHistogramData as u16)
        .expect("the colour-scale histogram arrives before the tiles");
    let hist = pb::RegionHistogramData::decode(stream.others[histogram_pos].1.as_slice())
        .expect("histogram");
    assert_eq!(
        (hist.file_id, hist.region_id, hist.channel, hist.stokes),
        (0, -1, 0, 0)
    );
    let h = hist.histograms.expect("histogram");
    assert_eq!(h.num_bins, ((64.0f64 * 48.0).sqrt() as i32).max(2));
    let stats = &image_hdu("images/wcs2d.fits")["plane0_stats"];
    assert_eq!(
        h.bins.iter().map(|b| *b as i64).sum::<i64>(),
        stats["num_pixels"].as_i64().unwrap_or(0) - stats["nan_count"].as_i64().unwrap_or(0)
    );
    let min = stats["min"].as_f64().unwrap_or(f64::NAN);
    assert!((h.first_bin_center - h.bin_width / 2.0 - min).abs() < 1e-9 * min.abs().max(1.0));
    assert!(
        (h.mean - stats["mean"].as_f64().unwrap_or(f64::NAN)).abs() < 1e-9 * h.mean.abs().max(1.0)
    );

    assert_eq!(stream.start.tile_count, 1);
    assert_eq!(stream.tiles.len(), 1);
    let t = &stream.tiles[0];
    assert_eq!(t.compression_quality, 11.0);
    let data = &t.tiles[0];
    assert_eq!((data.width, data.height), (64, 48));
    let pixels = tile_pixels(t, data);
    // wcs2d's pixel value rule: x + 100 y. ZFP at precision 11 keeps about 6 significant bits of a 4x4
    // block's largest value (at most 4763 here).
    for (i, v) in pixels.iter().enumerate() {
        let (x, y) = (i % 64, i / 64);
        let want = (x + 100 * y) as f32;
        assert!(
            (v - want).abs() <= 4763.0 / 64.0,
            "({x},{y}): {v} vs {want}"
        );
    }
}

#[tokio::test]
async fn uncompressed_tiles_are_exact() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "0", 3).await.success);
    c.add_tiles(3, &[tile(0, 0, 0)], pb::CompressionType::None, 11.0)
        .await;
    let stream = c.tile_stream().await;
    let t = &stream.tiles[0];
    assert_eq!(t.file_id, 3);
    let pixels = tile_pixels(t, &t.tiles[0]);
    let row = &image_hdu("images/wcs2d.fits")["pixels"];
    for p in row.as_array().expect("pixels") {
        let (x, y) = (
            p["x"].as_u64().unwrap_or(0) as usize,
            p["y"].as_u64().unwrap_or(0) as usize,
        );
        if p["z"] == 0 && p["stokes"] == 0 {
            assert_eq!(
                pixels[y * 64 + x] as f64,
                p["value"].as_f64().unwrap_or(f64::NAN),
                "({x},{y})"
            );
        }
    }
}

#[tokio::test]
async fn cube_channels_change_with_histogram_first_and_stale_tiles_dropped() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let ack = c.open_file("", "cube3d.fits", "", 1).await;
    assert!(ack.success, "{}", ack.message);
    assert_eq!(ack.file_info_extended.as_ref().map(|e| e.depth), Some(10));
    c.add_tiles(1, &[tile(0, 0, 0)], pb::CompressionType::None, 0.0)
        .await;
    let first = c.tile_stream().await;
    assert_eq!(first.tiles[0].channel, 0);
    let msg = pb::SetImageChannels {
        file_id: 1,
        channel: 3,
        stokes: 0,
        required_tiles: Some(pb::AddRequiredTiles {
            file_id: 1,
            tiles: vec![tile(0, 0, 0)],
            compression_type: pb::CompressionType::None as i32,
            compression_quality: 0.0,
            current_tiles: Vec::new(),
        }),
        ..Default::default()
    };
    c.send(EventType::SetImageChannels, &msg).await;
    let second = c.tile_stream().await;
    assert!(second.start.sync_id > first.start.sync_id);
    let hist = second
        .others
        .iter()
        .find(|(e, _)| *e == EventType::RegionHistogramData as u16)
        .map(|(_, p)| pb::RegionHistogramData::decode(p.as_slice()).expect("histogram"))
        .expect("histogram for the new channel before its tiles");
    assert_eq!(hist.channel, 3);
    let t = &second.tiles[0];
    assert_eq!((t.channel, second.start.channel), (3, 3));
    let pixels = tile_pixels(t, &t.tiles[0]);
    // cube3d: value = x + 100 y + 10000 z.
    assert_eq!(pixels[0], 30000.0);
    assert_eq!(pixels[5 + 2 * 32], 30000.0 + 5.0 + 200.0);

    // Out of range: an error, the session stays up.
    let bad = pb::SetImageChannels {
        file_id: 1,
        channel: 99,
        stokes: 0,
        ..Default::default()
    };
    c.send(EventType::SetImageChannels, &bad).await;
    let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert!(err.message.contains("99"), "{}", err.message);
}

#[tokio::test]
async fn cursor_reports_value_and_profiles() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "", 0).await.success);
    let req = pb::SetSpatialRequirements {
        file_id: 0,
        region_id: 0,
        spatial_profiles: vec![
            pb::set_spatial_requirements::SpatialConfig {
                coordinate: "x".into(),
                mip: 1,
                ..Default::default()
            },
            pb::set_spatial_requirements::SpatialConfig {
                coordinate: "y".into(),
                mip: 1,
                ..Default::default()
            },
        ],
    };
    c.send(EventType::SetSpatialRequirements, &req).await;
    c.send(
        EventType::SetCursor,
        &pb::SetCursor {
            file_id: 0,
            point: Some(pb::Point { x: 10.4, y: 20.6 }),
            spatial_requirements: None,
        },
    )
    .await;
    let data = loop {
        let (_, d) = c
            .expect::<pb::SpatialProfileData>(EventType::SpatialProfileData)
            .await;
        if (d.x, d.y) == (10, 21) {
            break d;
        }
    };
    assert_eq!(data.value, 10.0 + 2100.0);
    let x = data
        .profiles
        .iter()
        .find(|p| p.coordinate == "x")
        .expect("x profile");
    let xs: Vec<f32> = x
        .raw_values_fp32
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(xs.len(), 64);
    assert_eq!(xs[7], 2107.0);
    let y = data
        .profiles
        .iter()
        .find(|p| p.coordinate == "y")
        .expect("y profile");
    let ys: Vec<f32> = y
        .raw_values_fp32
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(ys.len(), 48);
    assert_eq!(ys[47], 10.0 + 4700.0);
}

#[tokio::test]
async fn cursor_burst_answers_last_position() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "", 0).await.success);
    for i in 0..100 {
        let p = pb::Point {
            x: (i % 60) as f32,
            y: (i % 40) as f32,
        };
        c.send(
            EventType::SetCursor,
            &pb::SetCursor {
                file_id: 0,
                point: Some(p),
                spatial_requirements: None,
            },
        )
        .await;
    }
    let mut answered = 0;
    loop {
        let (_, d) = c
            .expect::<pb::SpatialProfileData>(EventType::SpatialProfileData)
            .await;
        answered += 1;
        if (d.x, d.y) == (99 % 60, 99 % 40) {
            break;
        }
    }
    assert!(answered <= 100, "at most one answer per move ({answered})");
}

#[tokio::test]
async fn unopenable_files_fail_and_unknown_file_ids_are_reported() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    for (dir, name) in [
        ("", "truncated.fits"),
        ("", "fake.fits"),
        ("", "not_an_image.txt"),
        ("", "missing.fits"),
        ("..", "outside/secret.fits"),
    ] {
        let ack = c.open_file(dir, name, "", 5).await;
        assert!(!ack.success, "{name}");
        assert!(
            ack.message
                .contains(name.rsplit('/').next().unwrap_or(name)),
            "{name}: {}",
            ack.message
        );
        assert_eq!(ack.file_id, 5);
    }
    let ack = c.open_file("", "multi.fits", "2", 6).await;
    assert!(!ack.success, "a table HDU is not an image");
    c.add_tiles(42, &[tile(0, 0, 0)], pb::CompressionType::Zfp, 11.0)
        .await;
    let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert!(err.message.contains("42"));
}

#[tokio::test]
async fn hdf5_and_gzip_images_open() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    for (name, id) in [("idia.hdf5", 0), ("gz.fits.gz", 1), ("multi.fits", 2)] {
        let ack = c.open_file("", name, "", id).await;
        assert!(ack.success, "{name}: {}", ack.message);
        c.add_tiles(id, &[tile(0, 0, 0)], pb::CompressionType::None, 0.0)
            .await;
        let stream = c.tile_stream().await;
        assert_eq!(stream.tiles.len(), 1, "{name}");
        let t = &stream.tiles[0];
        let px = tile_pixels(t, &t.tiles[0]);
        let want = image_hdu(&format!("images/{name}"))["pixels"][0]["value"]
            .as_f64()
            .unwrap_or(f64::NAN);
        assert_eq!(f64::from(px[0]), want, "{name} pixel (0,0)");
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn same(got: f32, want: &Value) -> bool {
    match want.as_f64() {
        None => got.is_nan(),
        Some(w) => f64::from(got) == w || (f64::from(got) - w).abs() <= 1e-6 * w.abs(),
    }
}

/// Every image HDU with reference rows and columns: the cursor profiles equal what astropy/h5py read
/// (BITPIX 8/16/32/64/-32/-64 with BSCALE, BZERO and BLANK; 3-D, 4-D, degenerate axes; HDF5).
#[tokio::test]
async fn cursor_profiles_match_the_reference_rows_and_columns() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let mut checked = 0;
    for (key, file) in expected()["files"].as_object().expect("files") {
        let Some(rel) = key.strip_prefix("images/") else {
            continue;
        };
        for hdu in file["image_hdus"].as_array().into_iter().flatten() {
            let (Some(rows), Some(columns)) = (hdu["rows"].as_array(), hdu["columns"].as_array())
            else {
                continue;
            };
            let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
            let hdu_name = hdu["hdu"].as_str().unwrap_or("");
            let ack = c.open_file(dir, name, hdu_name, 7).await;
            assert!(ack.success, "{rel}: {}", ack.message);
            let req = pb::SetSpatialRequirements {
                file_id: 7,
                region_id: 0,
                spatial_profiles: vec![
                    pb::set_spatial_requirements::SpatialConfig {
                        coordinate: "x".into(),
                        mip: 1,
                        ..Default::default()
                    },
                    pb::set_spatial_requirements::SpatialConfig {
                        coordinate: "y".into(),
                        mip: 1,
                        ..Default::default()
                    },
                ],
            };
            c.send(EventType::SetSpatialRequirements, &req).await;
            for (row, column) in rows.iter().zip(columns) {
                let (y, x) = (
                    row["y"].as_u64().unwrap_or(0) as i32,
                    column["x"].as_u64().unwrap_or(0) as i32,
                );
                let point = pb::Point {
                    x: x as f32,
                    y: y as f32,
                };
                c.send(
                    EventType::SetCursor,
                    &pb::SetCursor {
                        file_id: 7,
                        point: Some(point),
                        spatial_requirements: None,
                    },
                )
                .await;
                let data = loop {
                    let (_, d) = c
                        .expect::<pb::SpatialProfileData>(EventType::SpatialProfileData)
                        .await;
                    if (d.file_id, d.x, d.y) == (7, x, y) {
                        break d;
                    }
                };
                for (coordinate, want) in [("x", &row["values"]), ("y", &column["values"])] {
                    let got = f32s(
                        &data
                            .profiles
                            .iter()
                            .find(|p| p.coordinate == coordinate)
                            .expect("profile")
                            .raw_values_fp32,
                    );
                    let want = want.as_array().expect("values");
                    assert_eq!(got.len(), want.len(), "{rel} {coordinate}");
                    for (i, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            same(*g, w),
                            "{rel} {coordinate} profile at ({x},{y}) index {i}: {g} vs {w}"
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "checked {checked} cursor positions");
}

/// The colour-scale histogram of every reference plane: bin counts exact, range, mean and σ.
#[tokio::test]
async fn channel_histograms_match_numpy() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let mut checked = 0;
    for (key, file) in expected()["files"].as_object().expect("files") {
        let Some(rel) = key.strip_prefix("images/") else {
            continue;
        };
        for hdu in file["image_hdus"].as_array().into_iter().flatten() {
            let Some(hists) = hdu["histograms"].as_array() else {
                continue;
            };
            let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
            assert!(
                c.open_file(dir, name, hdu["hdu"].as_str().unwrap_or(""), 2)
                    .await
                    .success,
                "{rel}"
            );
            for want in hists {
                let (channel, stokes) = (
                    want["channel"].as_i64().unwrap_or(0) as i32,
                    want["stokes"].as_i64().unwrap_or(0) as i32,
                );
                if (channel, stokes) != (0, 0) {
                    let msg = pb::SetImageChannels {
                        file_id: 2,
                        channel,
                        stokes,
                        ..Default::default()
                    };
                    c.send(EventType::SetImageChannels, &msg).await;
                }
                let got = loop {
                    let (_, d) = c
                        .expect::<pb::RegionHistogramData>(EventType::RegionHistogramData)
                        .await;
                    if (d.file_id, d.channel, d.stokes) == (2, channel, stokes) {
                        break d.histograms.expect("histogram");
                    }
                };
                let bins: Vec<i64> = want["bins"]
                    .as_array()
                    .expect("bins")
                    .iter()
                    .map(|b| b.as_i64().unwrap_or(-1))
                    .collect();
                assert_eq!(
                    got.num_bins as i64,
                    want["num_bins"].as_i64().unwrap_or(-1),
                    "{rel} ({channel},{stokes})"
                );
                assert_eq!(
                    got.bins.iter().map(|b| i64::from(*b)).collect::<Vec<_>>(),
                    bins,
                    "{rel} ({channel},{stokes})"
                );
                if let (Some(min), Some(max)) = (want["min"].as_f64(), want["max"].as_f64()) {
                    let n = bins.len().max(1) as f64;
                    let width = (max - min) / n;
                    assert!(
                        (got.bin_width - width).abs() <= 1e-12 * width.abs().max(1e-300),
                        "{rel}"
                    );
                    assert!(
                        (got.first_bin_center - (min + width / 2.0)).abs()
                            <= 1e-9 * min.abs().max(1.0),
                        "{rel}"
                    );
                    // IDIA HDF5 files store each channel's statistics and histogram; they answer without a
                    // pass over the pixels, as carta_backend answers, and their SUM and SUM_SQ are float32
                    // (the schema), so mean and σ carry float32 precision there.
                    let tol = if rel.ends_with(".hdf5") { 1e-5 } else { 1e-9 };
                    let mean = want["mean"].as_f64().unwrap_or(f64::NAN);
                    assert!(
                        (got.mean - mean).abs() <= tol * mean.abs().max(1e-300),
                        "{rel} mean {} vs {mean}",
                        got.mean
                    );
                    if let Some(sd) = want["std_dev"].as_f64().filter(|s| *s > 0.0) {
                        assert!(
                            (got.std_dev - sd).abs() <= tol * sd,
                            "{rel} std_dev {} vs {sd}",
                            got.std_dev
                        );
                    }
                }
                checked += 1;
            }
            c.send(EventType::CloseFile, &pb::CloseFile { file_id: 2 })
                .await;
        }
    }
    assert!(checked >= 25, "checked {checked} planes");
}

/// Raster tiles at every reference layer, uncompressed (exact) and ZFP (within its precision), against
/// NaN-aware block means computed by numpy.
#[tokio::test]
async fn tiles_match_the_reference_downsampled_image() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let mut opened = std::collections::HashMap::new();
    let tiles = expected()["tiles"].as_array().expect("tiles");
    for want in tiles {
        let rel = want["file"]
            .as_str()
            .expect("file")
            .trim_start_matches("images/");
        let next_id = opened.len() as i32;
        let file_id = *opened.entry(rel.to_string()).or_insert(next_id);
        if file_id == next_id {
            let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
            assert!(c.open_file(dir, name, "", file_id).await.success, "{rel}");
        }
        let id = TileId {
            x: want["x"].as_u64().unwrap_or(0) as u32,
            y: want["y"].as_u64().unwrap_or(0) as u32,
            layer: want["layer"].as_u64().unwrap_or(0) as u32,
        };
        let reference = f32s(
            &std::fs::read(common::fixtures().join(want["data"].as_str().expect("data")))
                .expect("tile file"),
        );
        for compression in [pb::CompressionType::None, pb::CompressionType::Zfp] {
            c.add_tiles(file_id, &[id.encode()], compression, 14.0)
                .await;
            let stream = c.tile_stream().await;
            assert_eq!(stream.start.tile_count, 1);
            let t = &stream.tiles[0];
            let data = &t.tiles[0];
            assert_eq!(
                (data.layer, data.x, data.y),
                (id.layer as i32, id.x as i32, id.y as i32)
            );
            assert_eq!(
                (data.width as u64, data.height as u64, data.mip as u64),
                (
                    want["width"].as_u64().unwrap_or(0),
                    want["height"].as_u64().unwrap_or(0),
                    want["mip"].as_u64().unwrap_or(0)
                ),
                "{rel} {id:?}"
            );
            let got = tile_pixels(t, data);
            let scale = reference
                .iter()
                .filter(|v| v.is_finite())
                .fold(0f32, |m, v| m.max(v.abs()));
            let tolerance = if compression == pb::CompressionType::Zfp {
                scale * 2f32.powi(7 - 14)
            } else {
                scale * 1e-6
            };
            for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
                assert_eq!(
                    g.is_nan(),
                    r.is_nan(),
                    "{rel} {id:?} {compression:?} NaN at {i}"
                );
                if r.is_finite() {
                    assert!(
                        (g - r).abs() <= tolerance,
                        "{rel} {id:?} {compression:?} at {i}: {g} vs {r}"
                    );
                }
            }
        }
    }
    assert!(tiles.len() >= 10);
}

/// Tiles asked for while the colour-scale pass of a large image is still running are computed alongside it,
/// and still go out after the histogram, with the right pixels (block means over the finite pixels).
#[tokio::test]
async fn tiles_asked_for_during_the_colour_scale_pass_follow_the_histogram() {
    let dir = std::env::temp_dir().join(format!("cartaflow-early-tiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (w, h) = (3000usize, 2200usize);
    let value = |x: usize, y: usize| {
        if (x * 7 + y * 13).is_multiple_of(101) {
            f32::NAN
        } else {
            ((x * 31 + y * 17) % 1000) as f32 * 0.01 + (y as f32) * 1e-3
        }
    };
    common::write_fits(&dir.join("big.fits"), w, h, value);
    let server = Server::start_in(&dir, &[], &[]);
    let mut c = server.connect().await;
    c.register().await;
    // Asked for straight after OPEN_FILE_ACK, as the frontend does, before the pass over 26 MB of pixels
    // can have ended.
    let ack = c.open_file("", "big.fits", "", 0).await;
    assert!(ack.success, "{}", ack.message);
    let tiles = [tile(0, 0, 0), tile(2, 1, 1)];
    c.add_tiles(0, &tiles, pb::CompressionType::None, 0.0).await;
    let stream = c.tile_stream().await;
    assert!(
        stream
            .others
            .iter()
            .any(|(e, _)| *e == EventType::RegionHistogramData as u16),
        "the histogram comes before the tiles"
    );
    assert_eq!(stream.tiles.len(), 2);
    for message in &stream.tiles {
        let t = &message.tiles[0];
        let id = TileId {
            x: t.x as u32,
            y: t.y as u32,
            layer: t.layer as u32,
        };
        let b = cartaflow::tiles::TileBounds::of(id, w, h).expect("bounds");
        let got = tile_pixels(message, t);
        assert_eq!(got.len(), b.width * b.height);
        for oy in 0..b.height {
            for ox in 0..b.width {
                let (mut s, mut n) = (0f64, 0u32);
                for y in b.y0 + oy * b.mip..(b.y0 + (oy + 1) * b.mip).min(b.y1) {
                    for x in b.x0 + ox * b.mip..(b.x0 + (ox + 1) * b.mip).min(b.x1) {
                        let v = value(x, y);
                        if v.is_finite() {
                            s += f64::from(v);
                            n += 1;
                        }
                    }
                }
                let want = (s / f64::from(n)) as f32;
                let g = got[oy * b.width + ox];
                assert!(
                    (g - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "tile {id:?} pixel ({ox}, {oy}): {g} vs {want}"
                );
            }
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
