//! Spatial profiles of regions through the protocol: SET_REGION (line, polyline, point) then
//! SET_SPATIAL_REQUIREMENTS with the region's id → SPATIAL_PROFILE_DATA, against numpy means of the pixels in
//! each box along the line and astropy's WCS separations for the axis increment (scripts/gen_overlays.py);
//! a point region's x and y cuts against numpy's row and column; re-sent for a new channel and an edited
//! region; a bad averaging width or region gets ERROR_DATA and the session keeps serving.

mod common;

use cartaflow::protocol::{pb, EventType};
use common::{expected, Client, Server};
use serde_json::Value;

const FILE_ID: i32 = 0;

fn lines() -> &'static Value {
    &expected()["lines"]
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The oracle's values; `null` stands for NaN (a box with no finite pixel).
fn oracle_values(v: &Value) -> Vec<Option<f32>> {
    v.as_array()
        .expect("values")
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

fn assert_values(got: &[f32], want: &[Option<f32>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: number of values");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match w {
            None => assert!(
                g.is_nan(),
                "{what}[{i}]: {g} where numpy has no finite pixel"
            ),
            Some(w) => assert_eq!(g.to_bits(), w.to_bits(), "{what}[{i}]: {g} vs numpy {w}"),
        }
    }
}

async fn open_lines(c: &mut Client) {
    c.register().await;
    let file = lines()["file"].as_str().expect("file");
    let ack = c.open_file("overlays", file, "", FILE_ID).await;
    assert!(ack.success, "{}", ack.message);
}

async fn set_region(
    c: &mut Client,
    region_id: i32,
    region_type: pb::RegionType,
    points: &Value,
) -> i32 {
    let control_points = points
        .as_array()
        .expect("points")
        .iter()
        .map(|p| pb::Point {
            x: p[0].as_f64().expect("x") as f32,
            y: p[1].as_f64().expect("y") as f32,
        })
        .collect();
    let set = pb::SetRegion {
        file_id: FILE_ID,
        region_id,
        region_info: Some(pb::RegionInfo {
            region_type: region_type as i32,
            control_points,
            rotation: 0.0,
        }),
        preview_region: false,
    };
    c.send(EventType::SetRegion, &set).await;
    let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    assert!(ack.success, "{}", ack.message);
    ack.region_id
}

async fn require(c: &mut Client, region_id: i32, configs: &[(&str, i32)]) -> u32 {
    let req = pb::SetSpatialRequirements {
        file_id: FILE_ID,
        region_id,
        spatial_profiles: configs
            .iter()
            .map(
                |(coordinate, width)| pb::set_spatial_requirements::SpatialConfig {
                    coordinate: (*coordinate).into(),
                    mip: 1,
                    width: *width,
                    ..Default::default()
                },
            )
            .collect(),
    };
    c.send(EventType::SetSpatialRequirements, &req).await
}

async fn profile_of(c: &mut Client, region_id: i32) -> pb::SpatialProfileData {
    loop {
        let (_, data) = c
            .expect::<pb::SpatialProfileData>(EventType::SpatialProfileData)
            .await;
        if data.region_id == region_id {
            return data;
        }
    }
}

fn region_type(kind: &str) -> pb::RegionType {
    if kind == "line" {
        pb::RegionType::Line
    } else {
        pb::RegionType::Polyline
    }
}

fn check_line(data: &pb::SpatialProfileData, case: &Value, channel: usize) {
    let name = case["name"].as_str().expect("name");
    let oracle = &case["channels"][channel];
    assert_eq!(
        (data.file_id, data.channel),
        (FILE_ID, channel as i32),
        "{name}"
    );
    assert_eq!((data.x, data.y, data.value), (0, 0, 0.0), "{name}");
    assert_eq!(data.profiles.len(), 1, "{name}");
    let p = &data.profiles[0];
    let want = oracle_values(&oracle["values"]);
    assert_eq!(p.coordinate, "", "{name}: the coordinate is echoed");
    assert_eq!(
        (p.start, p.end, p.mip),
        (0, want.len() as i32 - 1, 0),
        "{name}"
    );
    assert_values(
        &f32s(&p.raw_values_fp32),
        &want,
        &format!("{name} channel {channel}"),
    );
    let axis = p.line_axis.as_ref().expect("line axis");
    let offset = case["kind"] == "line";
    let axis_type = if offset {
        pb::ProfileAxisType::Offset
    } else {
        pb::ProfileAxisType::Distance
    };
    assert_eq!(axis.axis_type, axis_type as i32, "{name}");
    assert_eq!(
        axis.crpix,
        oracle["crpix"].as_f64().expect("crpix") as f32,
        "{name}"
    );
    assert_eq!(axis.crval, 0.0, "{name}");
    assert_eq!(axis.unit, oracle["unit"].as_str().expect("unit"), "{name}");
    let cdelt = oracle["cdelt"].as_f64().expect("cdelt");
    assert!(
        (f64::from(axis.cdelt) - cdelt).abs() <= 1e-6 * cdelt,
        "{name}: increment {} vs astropy's {cdelt}",
        axis.cdelt
    );
}

#[tokio::test]
async fn line_and_polyline_profiles_match_numpy_box_means() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open_lines(&mut c).await;
    for case in lines()["cases"].as_array().expect("cases") {
        let kind = case["kind"].as_str().expect("kind");
        let id = set_region(&mut c, -1, region_type(kind), &case["points"]).await;
        let width = case["width"].as_i64().expect("width") as i32;
        require(&mut c, id, &[("", width)]).await;
        let data = profile_of(&mut c, id).await;
        check_line(&data, case, 0);
    }
}

#[tokio::test]
async fn a_new_channel_and_an_edited_line_resend_the_profile() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open_lines(&mut c).await;
    let cases = lines()["cases"].as_array().expect("cases");
    let (first, second) = (&cases[0], &cases[1]);
    let id = set_region(&mut c, -1, pb::RegionType::Line, &first["points"]).await;
    let width = first["width"].as_i64().expect("width") as i32;
    require(&mut c, id, &[("", width)]).await;
    check_line(&profile_of(&mut c, id).await, first, 0);
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
    check_line(&profile_of(&mut c, id).await, first, 1);
    // Moving the line onto the second case's points (its width asked again, as the frontend does).
    set_region(&mut c, id, pb::RegionType::Line, &second["points"]).await;
    let width = second["width"].as_i64().expect("width") as i32;
    require(&mut c, id, &[("", width)]).await;
    // The profile after the edit may come before the one for the new width; the last one is the answer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the edited line's profile"
        );
        let data = profile_of(&mut c, id).await;
        let n = f32s(&data.profiles[0].raw_values_fp32).len();
        let want = second["channels"][1]["values"].as_array().expect("v").len();
        if n == want {
            let got = f32s(&data.profiles[0].raw_values_fp32);
            let values = oracle_values(&second["channels"][1]["values"]);
            let same = got
                .iter()
                .zip(&values)
                .all(|(g, w)| w.map_or(g.is_nan(), |w| w.to_bits() == g.to_bits()));
            if same {
                check_line(&data, second, 1);
                break;
            }
        }
    }
}

#[tokio::test]
async fn a_point_region_gives_the_row_and_column_through_its_pixel() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open_lines(&mut c).await;
    let point = &lines()["point"];
    let points = Value::Array(vec![point["point"].clone()]);
    let id = set_region(&mut c, -1, pb::RegionType::Point, &points).await;
    require(&mut c, id, &[("x", 0), ("y", 0)]).await;
    let data = profile_of(&mut c, id).await;
    let (px, py) = (
        point["pixel"][0].as_i64().expect("px") as i32,
        point["pixel"][1].as_i64().expect("py") as i32,
    );
    assert_eq!((data.x, data.y, data.channel), (px, py, 0));
    let x = data
        .profiles
        .iter()
        .find(|p| p.coordinate == "x")
        .expect("x cut");
    let y = data
        .profiles
        .iter()
        .find(|p| p.coordinate == "y")
        .expect("y cut");
    assert_values(
        &f32s(&x.raw_values_fp32),
        &oracle_values(&point["x"][0]),
        "row",
    );
    assert_values(
        &f32s(&y.raw_values_fp32),
        &oracle_values(&point["y"][0]),
        "column",
    );
    let row = oracle_values(&point["x"][0]);
    let at = row[px as usize].expect("finite pixel");
    assert_eq!(data.value.to_bits(), at.to_bits(), "value at the point");
}

#[tokio::test]
async fn bad_widths_and_regions_get_error_data_and_the_session_goes_on() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    open_lines(&mut c).await;
    let case = &lines()["cases"][0];
    let id = set_region(&mut c, -1, pb::RegionType::Line, &case["points"]).await;
    for width in [0, 21, -3] {
        require(&mut c, id, &[("", width)]).await;
        let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
        assert!(err.message.contains("width"), "{}", err.message);
    }
    // A rectangle has no spatial profile: asked for one (as the frontend does when it is selected), it
    // answers nothing and no error; an unknown region gets ERROR_DATA.
    let rect = Value::Array(vec![
        Value::Array(vec![50.0.into(), 50.0.into()]),
        Value::Array(vec![10.0.into(), 10.0.into()]),
    ]);
    let r = set_region(&mut c, -1, pb::RegionType::Rectangle, &rect).await;
    require(&mut c, r, &[("x", 0)]).await;
    require(&mut c, 999, &[("x", 0)]).await;
    let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert!(err.message.contains("region 999"), "{}", err.message);
    // The line still answers.
    let width = case["width"].as_i64().expect("width") as i32;
    require(&mut c, id, &[("", width)]).await;
    check_line(&profile_of(&mut c, id).await, case, 0);
}

#[tokio::test]
async fn a_wide_field_line_samples_at_a_fixed_angular_increment() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let wide = &lines()["wide"];
    let ack = c
        .open_file(
            "overlays",
            wide["file"].as_str().expect("file"),
            "",
            FILE_ID,
        )
        .await;
    assert!(ack.success, "{}", ack.message);
    let id = set_region(&mut c, -1, pb::RegionType::Line, &wide["points"]).await;
    require(&mut c, id, &[("", 1)]).await;
    let data = profile_of(&mut c, id).await;
    let p = &data.profiles[0];
    let values = f32s(&p.raw_values_fp32);
    // An even number of boxes, one per CDELT2 (not one per pixel, which would be odd).
    let n = wide["boxes"].as_u64().expect("boxes") as usize;
    assert_eq!(values.len(), n);
    let axis = p.line_axis.as_ref().expect("axis");
    assert_eq!(axis.unit, "deg");
    assert!(
        (f64::from(axis.cdelt) - 0.05).abs() < 1e-7,
        "{}",
        axis.cdelt
    );
    assert_eq!(axis.crpix, (n / 2) as f32);
    // Each pixel holds its angular distance from the line's end (astropy): a box's mean is about the
    // distance of its centre, which lies (a + b) / 2 increments from the first point (boxes span points
    // i−1 … i+2, i … i+1 at the ends), and the first point is L/2 − n·inc from the end.
    let inc = wide["increment"].as_f64().expect("inc");
    let nans: Vec<usize> = (0..n).filter(|i| values[*i].is_nan()).collect();
    assert!(nans.is_empty(), "boxes without pixels: {nans:?}");
    let first = wide["length"].as_f64().expect("length") / 2.0
        - wide["offsets"].as_f64().expect("offsets") * inc;
    // (The two boxes at each end reach the line's end point, where the last step is cut short.)
    for (i, v) in values.iter().enumerate().take(n - 2).skip(2) {
        let a = if i == 0 { 0 } else { i - 1 };
        let b = if i + 1 == n { i + 1 } else { i + 2 };
        let want = first + (a + b) as f64 / 2.0 * inc;
        assert!(
            (f64::from(*v) - want).abs() <= 0.75 * inc,
            "box {i}: {v} arcsec from the end, its centre is at {want}"
        );
    }
}
