//! The channel-map view (ICD 30) as the 6.0.0 frontend drives it: SET_IMAGE_CHANNELS with
//! `channel_map_enabled`, `channel_range` and `current_range` gets one synchronised tile stream per channel
//! (the visible ones first), at most a window ahead of CHANNEL_MAP_FLOW_CONTROL, and a new visible range drops
//! the channels it no longer shows.

mod common;

use std::time::Duration;

use cartaflow::protocol::{pb, EventType};
use common::{tile_pixels, Client, Server};
use prost::Message;

fn request(active: i32, range: (i32, i32), visible: (i32, i32)) -> pb::SetImageChannels {
    pb::SetImageChannels {
        file_id: 0,
        channel: active,
        stokes: 0,
        required_tiles: Some(pb::AddRequiredTiles {
            file_id: 0,
            tiles: vec![0],
            compression_type: pb::CompressionType::None as i32,
            compression_quality: 0.0,
            current_tiles: vec![0],
        }),
        channel_range: Some(pb::IntBounds {
            min: range.0,
            max: range.1,
        }),
        current_range: Some(pb::IntBounds {
            min: visible.0,
            max: visible.1,
        }),
        channel_map_enabled: true,
    }
}

/// Complete channel streams (channel, pixels) arriving within `limit`, in the order they end (streams of
/// several channels may interleave), each acknowledged as the frontend does when `acknowledge` is set.
async fn streams(c: &mut Client, limit: Duration, acknowledge: bool) -> Vec<(i32, Vec<f32>)> {
    let mut out = Vec::new();
    let mut open: std::collections::HashMap<i32, (i32, Vec<f32>)> = Default::default();
    while let Some((h, body)) = c.next_within(limit).await {
        match EventType::try_from(i32::from(h.event_type)) {
            Ok(EventType::RasterTileSync) => {
                let s = pb::RasterTileSync::decode(body.as_slice()).expect("decodes");
                if !s.end_sync {
                    assert!(open.insert(s.sync_id, (s.channel, Vec::new())).is_none());
                } else if let Some((channel, pixels)) = open.remove(&s.sync_id) {
                    assert_eq!(channel, s.channel);
                    out.push((channel, pixels));
                    if acknowledge {
                        c.send(
                            EventType::ChannelMapFlowControl,
                            &pb::ChannelMapFlowControl {
                                file_id: 0,
                                received_channel: channel,
                            },
                        )
                        .await;
                    }
                }
            }
            Ok(EventType::RasterTileData) => {
                let t = pb::RasterTileData::decode(body.as_slice()).expect("decodes");
                if let Some((channel, pixels)) = open.get_mut(&t.sync_id) {
                    assert_eq!(t.channel, *channel);
                    *pixels = tile_pixels(&t, &t.tiles[0]);
                }
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "every stream started also ended");
    out
}

/// The channels of `streams`, sorted (streams under way at once may end in any order).
fn sorted(streams: &[(i32, Vec<f32>)]) -> Vec<i32> {
    let mut channels: Vec<i32> = streams.iter().map(|s| s.0).collect();
    channels.sort_unstable();
    channels
}

#[tokio::test]
async fn each_channel_of_the_range_gets_its_own_stream_visible_first() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube3d.fits", "", 0).await.success);
    c.send(EventType::SetImageChannels, &request(0, (1, 3), (0, 3)))
        .await;
    let got = streams(&mut c, Duration::from_millis(1500), true).await;
    assert_eq!(sorted(&got), [1, 2, 3]);
    // Pixels encode their position: value = x + 100 y + 10000 z (cube3d.fits, 32x24x10).
    for (channel, pixels) in &got {
        assert_eq!(pixels.len(), 32 * 24);
        assert_eq!(
            pixels[5 + 32 * 2],
            (5 + 200 + 10000 * channel) as f32,
            "channel {channel}"
        );
    }
    // The visible range first, then the rest of the range: without flow control, the first window of
    // streams is the visible channels and the first of the others.
    c.send(EventType::SetImageChannels, &request(0, (0, 9), (6, 8)))
        .await;
    let first = streams(&mut c, Duration::from_millis(1000), false).await;
    assert_eq!(sorted(&first), [0, 6, 7, 8]);
    for (channel, _) in &first {
        c.send(
            EventType::ChannelMapFlowControl,
            &pb::ChannelMapFlowControl {
                file_id: 0,
                received_channel: *channel,
            },
        )
        .await;
    }
    let rest = streams(&mut c, Duration::from_millis(1500), true).await;
    assert_eq!(sorted(&rest), [1, 2, 3, 4, 5, 9]);
}

#[tokio::test]
async fn streams_wait_for_flow_control_and_a_new_range_drops_hidden_channels() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "cube3d.fits", "", 0).await.success);
    c.send(EventType::SetImageChannels, &request(0, (0, 9), (0, 9)))
        .await;
    let first = streams(&mut c, Duration::from_millis(1000), false).await;
    assert_eq!(
        sorted(&first),
        [0, 1, 2, 3],
        "a window of streams ahead of flow control"
    );
    // The view scrolls to channel 4 alone: 5 to 9, still queued, are no longer wanted.
    c.send(EventType::SetImageChannels, &request(4, (4, 4), (4, 4)))
        .await;
    for channel in 0..4 {
        c.send(
            EventType::ChannelMapFlowControl,
            &pb::ChannelMapFlowControl {
                file_id: 0,
                received_channel: channel,
            },
        )
        .await;
    }
    let rest = streams(&mut c, Duration::from_millis(1000), true).await;
    assert_eq!(sorted(&rest), [4]);
}
