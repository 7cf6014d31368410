//! `[limits]` at the edge: what one client may ask for is bounded before anything is allocated, with a clear
//! refusal, and the server's memory stays flat.

mod common;

use cartaflow::protocol::{pb, EventType};
use common::{health, Server};

async fn rss(server: &Server) -> u64 {
    health(server).await["rss_bytes"]
        .as_u64()
        .expect("rss_bytes")
}

#[tokio::test]
async fn a_two_billion_bin_histogram_and_a_200000_point_polygon_are_refused_with_memory_flat() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "", 0).await.success);
    let before = rss(&server).await;
    let id = c
        .send(
            EventType::SetHistogramRequirements,
            &pb::SetHistogramRequirements {
                file_id: 0,
                region_id: -1,
                histograms: vec![pb::HistogramConfig {
                    coordinate: "z".into(),
                    channel: -1,
                    fixed_num_bins: true,
                    num_bins: 2_000_000_000,
                    fixed_bounds: false,
                    bounds: None,
                }],
            },
        )
        .await;
    let (h, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert_eq!(h.request_id, id);
    assert_eq!(err.tags, vec!["histogram".to_string()]);
    assert!(err.message.contains("limit"), "{}", err.message);

    let points: Vec<pb::Point> = (0..200_000)
        .map(|i| {
            let a = i as f32 * 1e-4;
            pb::Point {
                x: 30.0 + 20.0 * a.cos(),
                y: 24.0 + 20.0 * a.sin(),
            }
        })
        .collect();
    let id = c
        .send(
            EventType::SetRegion,
            &pb::SetRegion {
                file_id: 0,
                region_id: -1,
                region_info: Some(pb::RegionInfo {
                    region_type: pb::RegionType::Polygon as i32,
                    control_points: points,
                    rotation: 0.0,
                }),
                preview_region: false,
            },
        )
        .await;
    let (h, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    assert_eq!(h.request_id, id);
    assert!(!ack.success);
    assert!(ack.message.contains("200000"), "{}", ack.message);
    // Still serving, and the refusals allocated nothing lasting (a 2·10⁹-bin histogram is 16 GB).
    assert!(
        c.file_list("", pb::FileListFilterMode::Content)
            .await
            .success
    );
    let after = rss(&server).await;
    assert!(
        after < before + (64 << 20),
        "resident memory grew from {before} to {after} bytes"
    );
}

#[tokio::test]
async fn files_regions_sessions_and_frames_are_bounded_by_the_configuration() {
    let env = [
        ("CARTAFLOW_LIMITS_FILES_PER_SESSION", "2"),
        ("CARTAFLOW_LIMITS_REGIONS_PER_SESSION", "2"),
        ("CARTAFLOW_LIMITS_SESSIONS", "1"),
        ("CARTAFLOW_LIMITS_FRAME_MB", "1"),
    ];
    let server = Server::start_in(&common::fixtures().join("images"), &[], &env);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "", 0).await.success);
    assert!(c.open_file("", "nowcs.fits", "", 1).await.success);
    let third = c.open_file("", "cube3d.fits", "", 2).await;
    assert!(
        !third.success && third.message.contains('2'),
        "{}",
        third.message
    );
    assert!(
        c.open_file("", "cube3d.fits", "", 1).await.success,
        "replacing an open file id is not a new file"
    );

    for expect_ok in [true, true, false] {
        c.send(
            EventType::SetRegion,
            &pb::SetRegion {
                file_id: 0,
                region_id: -1,
                region_info: Some(pb::RegionInfo {
                    region_type: pb::RegionType::Rectangle as i32,
                    control_points: vec![
                        pb::Point { x: 5.0, y: 5.0 },
                        pb::Point { x: 3.0, y: 3.0 },
                    ],
                    rotation: 0.0,
                }),
                preview_region: false,
            },
        )
        .await;
        let (_, ack) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
        assert_eq!(ack.success, expect_ok, "{}", ack.message);
    }

    // A second connection is past the session limit.
    let refused = server
        .connect_path(&format!("/?token={}", common::TOKEN))
        .await;
    assert!(refused.is_err(), "a second session must be refused");

    // A frame over 1 MB: an error saying why, then the connection closes.
    c.send_raw(common::frame(
        EventType::FileListRequest,
        30,
        9,
        &vec![0u8; 2 << 20],
    ))
    .await;
    let mut saw_error = false;
    while let Some((h, body)) = c.next_within(std::time::Duration::from_secs(10)).await {
        if h.event_type == EventType::ErrorData as u16 {
            let err = <pb::ErrorData as prost::Message>::decode(body.as_slice()).expect("decodes");
            saw_error |= err.message.contains("limit");
        }
    }
    assert!(
        saw_error,
        "the oversized frame is explained before the close"
    );
}
