//! PV images through the protocol: a line or polyline region, PV_REQUEST → PV_PROGRESS … PV_RESPONSE with the
//! OPEN_FILE_ACK of the new image, whose tiles are compared with numpy's box means per channel and whose header
//! with astropy's offset increment and spectral axis (scripts/gen_overlays.py); reversed axes; kept and replaced
//! names; STOP_PV_CALC; previews (the first sample in the response, quick samples while the line is dragged,
//! full ones after, rebinned and compressed ones, closing); and the refusals carta_backend gives, after which
//! the session goes on.

mod common;

use cartaflow::protocol::{pb, EventType};
use common::{expected, tile_pixels, Client, Server};
use serde_json::Value;

fn pv() -> &'static Value {
    &expected()["pv"]
}

fn case(name: &str) -> &'static Value {
    pv()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == name)
        .expect("case")
}

async fn open(c: &mut Client) {
    c.register().await;
    let ack = c
        .open_file("overlays", pv()["file"].as_str().expect("file"), "", 0)
        .await;
    assert!(ack.success, "{}", ack.message);
}

/// SET_REGION of a region of image `file_id` through `points` ([[x, y], …]).
fn region_msg(
    file_id: i32,
    region_id: i32,
    region_type: pb::RegionType,
    points: &Value,
    preview_region: bool,
) -> pb::SetRegion {
    let control_points = points
        .as_array()
        .expect("points")
        .iter()
        .map(|p| pb::Point {
            x: p[0].as_f64().expect("x") as f32,
            y: p[1].as_f64().expect("y") as f32,
        })
        .collect();
    pb::SetRegion {
        file_id,
        region_id,
        region_info: Some(pb::RegionInfo {
            region_type: region_type as i32,
            control_points,
            rotation: 0.0,
        }),
        preview_region,
    }
}

async fn set_region_of(
    c: &mut Client,
    file_id: i32,
    region_type: pb::RegionType,
    points: &Value,
) -> i32 {
    c.send(
        EventType::SetRegion,
        &region_msg(file_id, -1, region_type, points, false),
    )
    .await;
    let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    assert!(ack.success, "{}", ack.message);
    ack.region_id
}

async fn set_region(c: &mut Client, region_type: pb::RegionType, points: &Value) -> i32 {
    set_region_of(c, 0, region_type, points).await
}

fn request(case: &Value, region_id: i32, keep: bool) -> pb::PvRequest {
    pb::PvRequest {
        file_id: 0,
        region_id,
        width: case["width"].as_i64().expect("width") as i32,
        spectral_range: case["range"].as_array().map(|r| pb::IntBounds {
            min: r[0].as_i64().expect("min") as i32,
            max: r[1].as_i64().expect("max") as i32,
        }),
        reverse: case["reverse"].as_bool().expect("reverse"),
        keep,
        preview_settings: None,
    }
}

/// Sends the request and reads PV_PROGRESS messages until PV_RESPONSE; returns the response and the progress
/// values seen.
async fn generate(c: &mut Client, req: &pb::PvRequest) -> (pb::PvResponse, Vec<f32>) {
    let id = c.send(EventType::PvRequest, req).await;
    let mut progress = Vec::new();
    loop {
        let (h, payload) = c.next().await;
        if h.event_type == EventType::PvProgress as u16 {
            let p =
                <pb::PvProgress as prost::Message>::decode(payload.as_slice()).expect("progress");
            let preview = req.preview_settings.as_ref().map_or(0, |s| s.preview_id);
            assert_eq!((h.request_id, p.file_id, p.preview_id), (id, 0, preview));
            progress.push(p.progress);
        } else if h.event_type == EventType::PvResponse as u16 {
            assert_eq!(h.request_id, id);
            let r =
                <pb::PvResponse as prost::Message>::decode(payload.as_slice()).expect("response");
            return (r, progress);
        }
    }
}

fn header_value<'a>(ack: &'a pb::OpenFileAck, key: &str) -> Option<&'a pb::HeaderEntry> {
    ack.file_info_extended
        .as_ref()?
        .header_entries
        .iter()
        .find(|e| e.name == key)
}

fn number(ack: &pb::OpenFileAck, key: &str) -> f64 {
    header_value(ack, key)
        .unwrap_or_else(|| panic!("{key} in the header"))
        .numeric_value
}

fn text(ack: &pb::OpenFileAck, key: &str) -> String {
    header_value(ack, key)
        .unwrap_or_else(|| panic!("{key} in the header"))
        .value
        .trim()
        .to_string()
}

/// The new image's pixels from its full-resolution tile (the PV images here fit in one).
async fn pixels(c: &mut Client, file_id: i32) -> Vec<f32> {
    c.add_tiles(file_id, &[0], pb::CompressionType::None, 0.0)
        .await;
    let stream = c.tile_stream().await;
    assert_eq!(stream.start.file_id, file_id);
    let message = &stream.tiles[0];
    tile_pixels(message, &message.tiles[0])
}

async fn check(c: &mut Client, name: &str, region_type: pb::RegionType, keep: bool) -> i32 {
    let case = case(name);
    let region = set_region(c, region_type, &case["points"]).await;
    let (response, progress) = generate(c, &request(case, region, keep)).await;
    assert!(response.success, "{name}: {}", response.message);
    assert!(!response.cancel);
    assert_eq!(progress.last(), Some(&1.0), "{name}: progress ends at 1");
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "{name}: {progress:?}"
    );
    let ack = response.open_file_ack.expect("open file ack");
    assert!(ack.success);
    let info = ack.file_info_extended.clone().expect("extended");
    let (w, h) = (
        case["width_px"].as_i64().expect("w") as i32,
        case["height_px"].as_i64().expect("h") as i32,
    );
    assert_eq!((info.width, info.height), (w, h), "{name}: shape");
    // The header: position and frequency axes as carta_backend writes them.
    let (pos, spec) = if case["reverse"].as_bool() == Some(true) {
        ("2", "1")
    } else {
        ("1", "2")
    };
    let position = if case["kind"] == "line" {
        "OFFSET"
    } else {
        "DISTANCE"
    };
    assert_eq!(text(&ack, &format!("CTYPE{pos}")), position, "{name}");
    assert_eq!(
        text(&ack, &format!("CUNIT{pos}")),
        case["unit"].as_str().expect("unit")
    );
    let cdelt = case["cdelt"].as_f64().expect("cdelt");
    let got = number(&ack, &format!("CDELT{pos}"));
    assert!(
        (got - cdelt).abs() <= 1e-6 * cdelt,
        "{name}: increment {got} vs astropy's {cdelt}"
    );
    assert_eq!(
        number(&ack, &format!("CRPIX{pos}")),
        case["crpix"].as_f64().expect("crpix")
    );
    assert_eq!(text(&ack, &format!("CTYPE{spec}")), "FREQ", "{name}");
    let f0 = case["freq0"].as_f64().expect("freq0");
    let df = case["dfreq"].as_f64().expect("dfreq");
    assert!((number(&ack, &format!("CRVAL{spec}")) - f0).abs() <= 1e-6 * f0.abs());
    assert!((number(&ack, &format!("CDELT{spec}")) - df).abs() <= 1e-6 * df.abs());
    assert_eq!(number(&ack, &format!("CRPIX{spec}")), 1.0);
    assert_eq!(text(&ack, "BUNIT"), "Jy/beam");
    // The pixels: numpy's box means, channel by channel.
    let got = pixels(c, ack.file_id).await;
    let want = case["pixels"].as_array().expect("pixels");
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        match w.as_f64() {
            None => assert!(g.is_nan(), "{name}[{k}]: {g} where numpy has NaN"),
            Some(w) => assert_eq!(
                g.to_bits(),
                (w as f32).to_bits(),
                "{name}[{k}]: {g} vs numpy {w}"
            ),
        }
    }
    ack.file_id
}

#[tokio::test]
async fn pv_images_match_numpy_box_means_and_astropy_axes() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    // The new image takes the id after the last opened (0), then the next.
    assert_eq!(check(&mut c, "line", pb::RegionType::Line, false).await, 1);
    assert_eq!(
        check(&mut c, "line_reversed", pb::RegionType::Line, true).await,
        2
    );
    assert_eq!(
        check(&mut c, "polyline_all", pb::RegionType::Polyline, true).await,
        3
    );
}

#[tokio::test]
async fn kept_images_are_numbered_and_a_stop_cancels() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    let line = case("line");
    let region = set_region(&mut c, pb::RegionType::Line, &line["points"]).await;
    let mut names = Vec::new();
    for keep in [false, true, true, false] {
        let (r, _) = generate(&mut c, &request(line, region, keep)).await;
        assert!(r.success, "{}", r.message);
        let ack = r.open_file_ack.expect("ack");
        names.push(ack.file_info.expect("info").name);
    }
    assert_eq!(
        names,
        ["pv_pv.fits", "pv_pv1.fits", "pv_pv2.fits", "pv_pv.fits"]
    );
    // STOP_PV_CALC right behind the request: the response says cancelled.
    let all = pb::PvRequest {
        spectral_range: None,
        ..request(line, region, false)
    };
    let id = c.send(EventType::PvRequest, &all).await;
    c.send(EventType::StopPvCalc, &pb::StopPvCalc { file_id: 0 })
        .await;
    let (h, r) = c.expect::<pb::PvResponse>(EventType::PvResponse).await;
    assert_eq!(h.request_id, id);
    assert!(!r.success && r.cancel, "{}", r.message);
    assert_eq!(r.message, "PV image generator cancelled.");
    // And the next request is served.
    let (r, _) = generate(&mut c, &request(line, region, false)).await;
    assert!(r.success, "{}", r.message);
}

#[tokio::test]
async fn refused_requests_say_why_and_the_session_goes_on() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    let line = case("line");
    let region = set_region(&mut c, pb::RegionType::Line, &line["points"]).await;
    let rect = serde_json::json!([[50.0, 50.0], [10.0, 10.0]]);
    let rectangle = set_region(&mut c, pb::RegionType::Rectangle, &rect).await;
    let good = request(line, region, false);
    let cases = [
        (
            pb::PvRequest { width: 0, ..good },
            "Invalid averaging width.",
        ),
        (
            pb::PvRequest {
                region_id: 0,
                ..good
            },
            "Invalid region id.",
        ),
        (
            pb::PvRequest {
                region_id: 99,
                ..good
            },
            "PV image requested for invalid region.",
        ),
        (
            pb::PvRequest {
                region_id: rectangle,
                ..good
            },
            "Region type not supported for PV cut.",
        ),
        (pb::PvRequest { file_id: 7, ..good }, "File id 7 not found"),
        (
            pb::PvRequest {
                spectral_range: Some(pb::IntBounds { min: 30, max: 5 }),
                ..good
            },
            "Invalid spectral range",
        ),
    ];
    for (req, message) in cases {
        let (r, progress) = generate(&mut c, &req).await;
        assert!(!r.success && !r.cancel && progress.is_empty());
        assert!(
            r.message.contains(message),
            "'{}' vs '{message}'",
            r.message
        );
    }
    // A 2D image has no spectral axis.
    let ack = c.open_file("", "wcs2d.fits", "", 5).await;
    assert!(ack.success);
    let pts = serde_json::json!([[5.0, 5.0], [30.0, 20.0]]);
    let flat_line = set_region_of(&mut c, 5, pb::RegionType::Line, &pts).await;
    let flat = pb::PvRequest {
        file_id: 5,
        region_id: flat_line,
        spectral_range: None,
        ..good
    };
    let (r, _) = generate(&mut c, &flat).await;
    assert!(
        r.message.contains("No spectral coordinate"),
        "{}",
        r.message
    );
    // The session still serves.
    let (r, _) = generate(&mut c, &good).await;
    assert!(r.success, "{}", r.message);
}

fn preview_request(case: &Value, region_id: i32, preview_id: i32, rebin: i32) -> pb::PvRequest {
    let mut settings = pb::PvPreviewSettings {
        preview_id,
        region_id: -1,
        rebin_xy: rebin,
        rebin_z: rebin,
        image_compression_quality: 11.0,
        animation_compression_quality: 9.0,
        ..Default::default()
    };
    settings.set_compression_type(if rebin == 1 {
        pb::CompressionType::None
    } else {
        pb::CompressionType::Zfp
    });
    pb::PvRequest {
        preview_settings: Some(settings),
        ..request(case, region_id, false)
    }
}

fn line_region(case: &Value, region_id: i32, preview: bool) -> pb::SetRegion {
    region_msg(0, region_id, pb::RegionType::Line, &case["points"], preview)
}

fn check_preview(data: &pb::PvPreviewData, case: &Value, preview_id: i32, full: bool) {
    assert_eq!(data.preview_id, preview_id);
    let (w, h) = (
        case["width_px"].as_i64().expect("w") as i32,
        case["height_px"].as_i64().expect("h") as i32,
    );
    assert_eq!((data.width, data.height), (w, h));
    let info = data.image_info.as_ref().expect("image info");
    assert_eq!((info.width, info.height), (w, h));
    let ctype1 = info
        .header_entries
        .iter()
        .find(|e| e.name == "CTYPE1")
        .expect("CTYPE1");
    assert_eq!(ctype1.value.trim(), "OFFSET");
    let got: Vec<f32> = data
        .image_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let want = case["pixels"].as_array().expect("pixels");
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        match w.as_f64() {
            None => assert!(g.is_nan(), "preview[{k}]: {g} where numpy has NaN"),
            Some(w) => assert_eq!(
                g.to_bits(),
                (w as f32).to_bits(),
                "preview[{k}]: {g} vs {w}"
            ),
        }
    }
    let finite: Vec<f32> = got.iter().copied().filter(|v| v.is_finite()).collect();
    let bounds = data.histogram_bounds.as_ref().expect("bounds");
    let lo = finite.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = finite.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((bounds.min, bounds.max), (lo, hi));
    match (&data.histogram, full) {
        (Some(hist), true) => {
            let bins = (((w * h) as f64).sqrt() as i32).max(2);
            assert_eq!(hist.num_bins, bins);
            assert_eq!(
                hist.bins.iter().map(|b| *b as usize).sum::<usize>(),
                finite.len()
            );
        }
        (None, false) => {}
        (h, _) => panic!(
            "histogram {:?} for a {} sample",
            h.is_some(),
            if full { "full" } else { "quick" }
        ),
    }
}

#[tokio::test]
async fn a_pv_preview_follows_the_dragged_line() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open(&mut c).await;
    let line = case("line");
    let region = set_region(&mut c, pb::RegionType::Line, &line["points"]).await;
    // The first sample is the response's preview_data, after the cube's progress.
    let id = c
        .send(EventType::PvRequest, &preview_request(line, region, 1, 1))
        .await;
    let mut progress = Vec::new();
    let response = loop {
        let (h, payload) = c.next().await;
        if h.event_type == EventType::PvProgress as u16 {
            let p = <pb::PvProgress as prost::Message>::decode(payload.as_slice()).expect("p");
            assert_eq!((h.request_id, p.preview_id), (id, 1));
            progress.push(p.progress);
        } else if h.event_type == EventType::PvResponse as u16 {
            break <pb::PvResponse as prost::Message>::decode(payload.as_slice()).expect("r");
        }
    };
    assert!(response.success, "{}", response.message);
    assert!(response.open_file_ack.is_none());
    assert_eq!(progress.last(), Some(&1.0));
    check_preview(&response.preview_data.expect("preview data"), line, 1, true);
    // Dragging (preview_region): no ack, a quick sample; the final SET_REGION: an ack and a full sample.
    c.send(EventType::SetRegion, &line_region(line, region, true))
        .await;
    let (h, quick) = c
        .expect::<pb::PvPreviewData>(EventType::PvPreviewData)
        .await;
    assert_eq!(h.request_id, 0);
    check_preview(&quick, line, 1, false);
    c.send(EventType::SetRegion, &line_region(line, region, false))
        .await;
    let mut acked = false;
    let full = loop {
        let (h, payload) = c.next().await;
        if h.event_type == EventType::SetRegionAck as u16 {
            acked = true;
        } else if h.event_type == EventType::PvPreviewData as u16 {
            break <pb::PvPreviewData as prost::Message>::decode(payload.as_slice()).expect("d");
        }
    };
    check_preview(&full, line, 1, true);
    assert!(
        acked || {
            let (_, a) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
            a.success
        }
    );
    // A rebinned, ZFP-compressed preview of the same line: about half the positions, 13 channel groups.
    let (r, _) = generate(&mut c, &preview_request(line, region, 2, 2)).await;
    assert!(r.success, "{}", r.message);
    let data = r.preview_data.expect("data");
    assert_eq!(data.compression_type, pb::CompressionType::Zfp as i32);
    let positions = line["width_px"].as_i64().expect("w") as i32;
    assert!(
        (data.width - positions / 2).abs() <= 2,
        "{} positions",
        data.width
    );
    assert_eq!(data.height, 13);
    // Closed, a preview no longer follows its line.
    c.send(
        EventType::ClosePvPreview,
        &pb::ClosePvPreview { preview_id: 1 },
    )
    .await;
    c.send(
        EventType::ClosePvPreview,
        &pb::ClosePvPreview { preview_id: 2 },
    )
    .await;
    c.send(EventType::SetRegion, &line_region(line, region, true))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while let Some((h, _)) = c
        .next_within(deadline.saturating_duration_since(std::time::Instant::now()))
        .await
    {
        assert_ne!(
            h.event_type,
            EventType::PvPreviewData as u16,
            "closed previews stay quiet"
        );
    }
    // A bad preview region is named in the response, with the preview id.
    let mut bad = preview_request(line, region, 3, 1);
    if let Some(s) = bad.preview_settings.as_mut() {
        s.region_id = 77;
    }
    let (r, _) = generate(&mut c, &bad).await;
    assert!(
        !r.success && r.message.contains("preview region"),
        "{}",
        r.message
    );
    assert_eq!(r.preview_data.map(|p| p.preview_id), Some(3));
}
