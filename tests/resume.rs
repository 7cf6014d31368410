//! Resuming a session the way it happens: the server restarts, the frontend reconnects with its old session id
//! (REGISTER_VIEWER_ACK says RESUMED) and sends RESUME_SESSION with what it had open; the new server reopens
//! every image in its channel and Stokes with its regions before the ack, and names what it could not restore.

mod common;

use std::collections::HashMap;

use cartaflow::protocol::{pb, EventType};
use common::{Client, Server};

async fn register_as(c: &mut Client, session_id: u32) -> pb::RegisterViewerAck {
    c.send(
        EventType::RegisterViewer,
        &pb::RegisterViewer {
            session_id,
            api_key: String::new(),
            client_feature_flags: 5,
        },
    )
    .await;
    c.expect::<pb::RegisterViewerAck>(EventType::RegisterViewerAck)
        .await
        .1
}

fn rectangle() -> pb::RegionInfo {
    pb::RegionInfo {
        region_type: pb::RegionType::Rectangle as i32,
        control_points: vec![pb::Point { x: 10.0, y: 8.0 }, pb::Point { x: 6.0, y: 4.0 }],
        rotation: 0.0,
    }
}

fn image(
    dir: &str,
    file: &str,
    file_id: i32,
    channel: i32,
    regions: HashMap<i32, pb::RegionInfo>,
) -> pb::ImageProperties {
    pb::ImageProperties {
        directory: dir.into(),
        file: file.into(),
        file_id,
        channel,
        regions,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_restarted_server_restores_images_channels_and_regions() {
    // The first server: open an image, go to channel 3, draw a region.
    let first = Server::start(&[]);
    let mut c = first.connect().await;
    let old = register_as(&mut c, 0).await.session_id;
    assert!(c.open_file("", "cube3d.fits", "", 0).await.success);
    drop(c);
    drop(first);

    // The restarted server, and the frontend's Retry.
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    let ack = register_as(&mut c, old).await;
    assert_eq!(ack.session_type, pb::SessionType::Resumed as i32);
    assert_eq!(ack.session_id, old);
    let images = vec![
        image("", "cube3d.fits", 0, 3, HashMap::from([(7, rectangle())])),
        image("pixels", "tiles_nan.fits", 4, 0, HashMap::new()),
    ];
    let id = c
        .send(
            EventType::ResumeSession,
            &pb::ResumeSession {
                images,
                catalog_files: Vec::new(),
            },
        )
        .await;
    let mut histograms = Vec::new();
    let ack = loop {
        let (h, body) = c.next().await;
        if h.event_type == EventType::OpenFileAck as u16 {
            panic!("resuming sends no OPEN_FILE_ACK");
        }
        if h.event_type == EventType::RegionHistogramData as u16 {
            let d: pb::RegionHistogramData =
                prost::Message::decode(body.as_slice()).expect("decodes");
            histograms.push((d.file_id, d.channel));
        }
        if h.event_type == EventType::ResumeSessionAck as u16 {
            assert_eq!(h.request_id, id);
            break <pb::ResumeSessionAck as prost::Message>::decode(body.as_slice())
                .expect("decodes");
        }
    };
    assert!(ack.success, "{}", ack.message);
    // The images are back: cube3d.fits in channel 3 (its histogram), with region 7 answering statistics.
    while !histograms.contains(&(0, 3)) {
        let (_, d) = c
            .expect::<pb::RegionHistogramData>(EventType::RegionHistogramData)
            .await;
        histograms.push((d.file_id, d.channel));
    }
    c.send(
        EventType::SetStatsRequirements,
        &pb::SetStatsRequirements {
            file_id: 0,
            region_id: 7,
            stats_configs: vec![pb::set_stats_requirements::StatsConfig {
                coordinate: "z".into(),
                stats_types: vec![pb::StatsType::NumPixels as i32],
            }],
        },
    )
    .await;
    let (_, stats) = c
        .expect::<pb::RegionStatsData>(EventType::RegionStatsData)
        .await;
    assert_eq!((stats.region_id, stats.channel), (7, 3));
    assert_eq!(
        stats.statistics[0].value, 35.0,
        "a 6x4 rectangle on pixel centres covers 7x5 pixels"
    );
    c.add_tiles(4, &[0], pb::CompressionType::Zfp, 11.0).await;
    let stream = c.tile_stream().await;
    assert_eq!(stream.start.file_id, 4);
    // A new region gets an id after the restored ones.
    c.send(
        EventType::SetRegion,
        &pb::SetRegion {
            file_id: 0,
            region_id: -1,
            region_info: Some(rectangle()),
            preview_region: false,
        },
    )
    .await;
    let (_, region) = c.expect::<pb::SetRegionAck>(EventType::SetRegionAck).await;
    assert_eq!(region.region_id, 8);
}

#[tokio::test]
async fn what_cannot_be_restored_is_named_in_the_ack() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    register_as(&mut c, 12345).await;
    // Contour settings the server refuses (a smoothing factor far beyond its limit) are named.
    let mut with_contours = image("", "wcs2d.fits", 1, 0, HashMap::new());
    with_contours.contour_settings = Some(pb::SetContourParameters {
        file_id: 1,
        levels: vec![1.0, 2.0],
        smoothing_mode: pb::SmoothingMode::GaussianBlur as i32,
        smoothing_factor: 1000,
        ..Default::default()
    });
    let images = vec![
        image("", "missing.fits", 0, 0, HashMap::new()),
        with_contours,
    ];
    let id = c
        .send(
            EventType::ResumeSession,
            &pb::ResumeSession {
                images,
                catalog_files: Vec::new(),
            },
        )
        .await;
    let (h, ack) = c
        .expect::<pb::ResumeSessionAck>(EventType::ResumeSessionAck)
        .await;
    assert_eq!(h.request_id, id);
    assert!(!ack.success);
    assert!(ack.message.contains("missing.fits"), "{}", ack.message);
    assert!(ack.message.contains("contours"), "{}", ack.message);
    // The image that could be opened is open.
    c.add_tiles(1, &[0], pb::CompressionType::Zfp, 11.0).await;
    assert_eq!(c.tile_stream().await.start.file_id, 1);
}

#[tokio::test]
async fn contours_come_back_with_a_resumed_image() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    register_as(&mut c, 4242).await;
    let mut with_contours = image("", "wcs2d.fits", 1, 0, HashMap::new());
    with_contours.contour_settings = Some(pb::SetContourParameters {
        file_id: 1,
        levels: vec![1.0, 2.0],
        smoothing_mode: pb::SmoothingMode::NoSmoothing as i32,
        smoothing_factor: 1,
        contour_chunk_size: 100_000,
        ..Default::default()
    });
    c.send(
        EventType::ResumeSession,
        &pb::ResumeSession {
            images: vec![with_contours],
            catalog_files: Vec::new(),
        },
    )
    .await;
    let (_, ack) = c
        .expect::<pb::ResumeSessionAck>(EventType::ResumeSessionAck)
        .await;
    assert!(ack.success, "{}", ack.message);
    // Both levels arrive, each until its progress reaches 1 (progress is per level).
    let mut done = Vec::new();
    while done.len() < 2 {
        let (_, data) = c
            .expect::<pb::ContourImageData>(EventType::ContourImageData)
            .await;
        assert_eq!(data.file_id, 1);
        if data.progress >= 1.0 {
            done.extend(data.contour_sets.iter().map(|s| s.level));
        }
    }
    done.sort_by(f64::total_cmp);
    assert_eq!(done, vec![1.0, 2.0]);
}
