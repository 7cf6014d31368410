//! The animator through the protocol, as the 6.0.0 frontend drives it: START_ANIMATION_ACK with an id, frames
//! in order at no more than the requested rate (each a tile stream tagged with the id, after its channel's
//! colour-scale histogram), pausing without ANIMATION_FLOW_CONTROL, ADD_REQUIRED_TILES changing the next
//! frames' view, STOP_ANIMATION stopping at once, and Stokes animation.

mod common;

use std::time::{Duration, Instant};

use cartaflow::protocol::{pb, EventType};
use common::{Client, Server};
use prost::Message;

fn frame(channel: i32, stokes: i32) -> Option<pb::AnimationFrame> {
    Some(pb::AnimationFrame { channel, stokes })
}

fn start(file_id: i32, last: i32, rate: i32, tiles: Vec<i32>) -> pb::StartAnimation {
    pb::StartAnimation {
        file_id,
        first_frame: frame(0, 0),
        start_frame: frame(0, 0),
        last_frame: frame(last, 0),
        delta_frame: frame(1, 0),
        frame_rate: rate,
        looping: true,
        reverse: false,
        required_tiles: Some(pb::AddRequiredTiles {
            file_id,
            tiles,
            compression_type: pb::CompressionType::Zfp as i32,
            compression_quality: 9.0,
            current_tiles: Vec::new(),
        }),
        matched_frames: Default::default(),
        stokes_indices: vec![0],
    }
}

/// One frame as received: its (channel, stokes), the tiles it carried, and whether its histogram came first.
#[derive(Debug)]
struct Received {
    channel: i32,
    stokes: i32,
    tiles: Vec<(i32, i32, i32)>,
    quality: f32,
    histogram_first: bool,
    at: Instant,
}

/// Reads until one complete animation frame of `animation_id` has arrived (or `limit` passes).
async fn next_frame(c: &mut Client, animation_id: i32, limit: Duration) -> Option<Received> {
    let deadline = Instant::now() + limit;
    let mut histograms: Vec<(i32, i32)> = Vec::new();
    let mut current: Option<Received> = None;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let (h, body) = c.next_within(left).await?;
        match EventType::try_from(i32::from(h.event_type)) {
            Ok(EventType::RegionHistogramData) => {
                let d = pb::RegionHistogramData::decode(body.as_slice()).expect("decodes");
                if d.region_id == -1 {
                    histograms.push((d.channel, d.stokes));
                }
            }
            Ok(EventType::RasterTileSync) => {
                let s = pb::RasterTileSync::decode(body.as_slice()).expect("decodes");
                if s.animation_id != animation_id {
                    continue;
                }
                if !s.end_sync {
                    current = Some(Received {
                        channel: s.channel,
                        stokes: s.stokes,
                        tiles: Vec::new(),
                        quality: 0.0,
                        histogram_first: histograms.contains(&(s.channel, s.stokes)),
                        at: Instant::now(),
                    });
                } else if let Some(done) = current.take() {
                    return Some(done);
                }
            }
            Ok(EventType::RasterTileData) => {
                let t = pb::RasterTileData::decode(body.as_slice()).expect("decodes");
                if let Some(r) = current.as_mut().filter(|_| t.animation_id == animation_id) {
                    r.tiles.extend(t.tiles.iter().map(|d| (d.layer, d.x, d.y)));
                    r.quality = t.compression_quality;
                }
            }
            _ => {}
        }
    }
}

async fn flow_control(c: &mut Client, file_id: i32, f: &Received) {
    c.send(
        EventType::AnimationFlowControl,
        &pb::AnimationFlowControl {
            file_id,
            received_frame: frame(f.channel, f.stokes),
            animation_id: 0,
            timestamp: 0,
        },
    )
    .await;
}

async fn started(c: &mut Client, msg: &pb::StartAnimation) -> i32 {
    let id = c.send(EventType::StartAnimation, msg).await;
    let (h, ack) = c
        .expect::<pb::StartAnimationAck>(EventType::StartAnimationAck)
        .await;
    assert_eq!(h.request_id, id);
    assert!(ack.success, "{}", ack.message);
    assert!(ack.animation_id > 0);
    ack.animation_id
}

#[tokio::test]
async fn frames_play_in_order_at_the_rate_loop_and_stop() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube3d.fits", "", 0).await.success);
    let id = started(&mut c, &start(0, 9, 20, vec![0])).await;
    let mut frames = Vec::new();
    for _ in 0..14 {
        let f = next_frame(&mut c, id, Duration::from_secs(10))
            .await
            .expect("a frame");
        flow_control(&mut c, 0, &f).await;
        frames.push(f);
    }
    let channels: Vec<i32> = frames.iter().map(|f| f.channel).collect();
    assert_eq!(
        channels,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3],
        "in order, looping"
    );
    assert!(
        frames.iter().all(|f| f.histogram_first),
        "each frame follows its histogram"
    );
    assert!(
        frames.iter().all(|f| f.tiles == [(0, 0, 0)]),
        "each frame carries the view's tiles"
    );
    let elapsed = frames[13].at - frames[0].at;
    assert!(
        elapsed >= Duration::from_millis(13 * 50 * 9 / 10),
        "13 frame intervals at 20 frames per second took only {elapsed:?}"
    );
    // Stop: no frame starts afterwards.
    c.send(
        EventType::StopAnimation,
        &pb::StopAnimation {
            file_id: 0,
            end_frame: frame(3, 0),
        },
    )
    .await;
    // At most the frame already under way ends; then nothing.
    let _ = next_frame(&mut c, id, Duration::from_millis(300)).await;
    assert!(
        next_frame(&mut c, id, Duration::from_millis(600))
            .await
            .is_none(),
        "no frames after STOP_ANIMATION"
    );
    // The frontend then asks for its channel, outside the animation.
    let tiles = Some(pb::AddRequiredTiles {
        file_id: 0,
        tiles: vec![0],
        compression_type: pb::CompressionType::Zfp as i32,
        compression_quality: 11.0,
        current_tiles: Vec::new(),
    });
    c.send(
        EventType::SetImageChannels,
        &pb::SetImageChannels {
            file_id: 0,
            channel: 3,
            stokes: 0,
            required_tiles: tiles,
            ..Default::default()
        },
    )
    .await;
    let stream = c.tile_stream().await;
    assert_eq!((stream.start.channel, stream.start.animation_id), (3, 0));
}

#[tokio::test]
async fn without_flow_control_the_animator_waits_and_new_tiles_change_the_view() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube3d.fits", "", 0).await.success);
    // 9 frames per second: a window of 3 frames ahead of the frontend.
    let id = started(&mut c, &start(0, 9, 9, vec![0])).await;
    let mut seen = Vec::new();
    while let Some(f) = next_frame(&mut c, id, Duration::from_millis(1500)).await {
        seen.push(f);
        assert!(seen.len() <= 5, "the animator must wait for flow control");
    }
    assert_eq!(
        seen.iter().map(|f| f.channel).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "frames up to a window ahead of the last flow control (the start frame)"
    );
    assert!(seen.iter().all(|f| f.quality == 9.0));
    // A new view during the animation (here: another quality): no tiles at once, the next frames use it.
    c.send(
        EventType::AddRequiredTiles,
        &pb::AddRequiredTiles {
            file_id: 0,
            tiles: vec![0],
            compression_type: pb::CompressionType::Zfp as i32,
            compression_quality: 14.0,
            current_tiles: Vec::new(),
        },
    )
    .await;
    let last = seen.last().expect("frames");
    flow_control(&mut c, 0, last).await;
    let resumed = next_frame(&mut c, id, Duration::from_secs(5))
        .await
        .expect("flow control resumes the animation");
    assert_eq!(resumed.channel, 5);
    assert_eq!(resumed.quality, 14.0, "the new view");
}

#[tokio::test]
async fn stokes_animate_and_bad_requests_get_a_failed_ack() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube4d.fits", "", 0).await.success);
    let mut msg = start(0, 0, 10, vec![0]);
    msg.first_frame = frame(2, 0);
    msg.start_frame = frame(2, 0);
    msg.last_frame = frame(2, 1);
    msg.delta_frame = frame(0, 1);
    msg.stokes_indices = vec![0, 1];
    let id = started(&mut c, &msg).await;
    let mut stokes = Vec::new();
    for _ in 0..4 {
        let f = next_frame(&mut c, id, Duration::from_secs(10))
            .await
            .expect("frame");
        assert_eq!(f.channel, 2);
        flow_control(&mut c, 0, &f).await;
        stokes.push(f.stokes);
    }
    assert_eq!(stokes, [0, 1, 0, 1]);
    for bad in [
        pb::StartAnimation {
            file_id: 7,
            ..start(7, 3, 10, vec![0])
        },
        start(0, 99, 10, vec![0]),
        start(0, 3, 0, vec![0]),
        pb::StartAnimation {
            delta_frame: frame(0, 0),
            ..start(0, 3, 10, vec![0])
        },
    ] {
        let id = c.send(EventType::StartAnimation, &bad).await;
        let (h, ack) = c
            .expect::<pb::StartAnimationAck>(EventType::StartAnimationAck)
            .await;
        assert_eq!(h.request_id, id);
        assert!(!ack.success && !ack.message.is_empty(), "{bad:?}");
    }
}
