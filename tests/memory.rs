//! Pixel memory: blocks are shared between sessions that open the same image (a team looking at one field) and
//! released when the last of them closes it.

mod common;

use std::time::Duration;

use cartaflow::protocol::{pb, EventType};
use cartaflow::tiles::TileId;
use common::{health, write_fits, Server};

#[tokio::test]
async fn two_sessions_share_one_copy_and_close_frees_it() {
    let dir = std::env::temp_dir().join(format!("cartaflow-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (w, h) = (2048usize, 2048usize);
    write_fits(&dir.join("shared.fits"), w, h, |x, y| {
        (x * 3 + y * 7) as f32
    });
    let pixel_bytes = (w * h * 4) as u64;
    let server = Server::start_in(&dir, &[], &[]);
    let top = TileId {
        x: 0,
        y: 0,
        layer: 0,
    }
    .encode();

    let mut a = server.connect().await;
    a.register().await;
    assert!(a.open_file("", "shared.fits", "", 0).await.success);
    a.add_tiles(0, &[top], pb::CompressionType::Zfp, 11.0).await;
    a.tile_stream().await;
    let one = health(&server).await;
    assert_eq!(
        one["pixel_bytes"].as_u64(),
        Some(pixel_bytes),
        "one copy loaded"
    );
    let rss_one = one["rss_bytes"].as_u64().unwrap_or(0);

    let mut b = server.connect().await;
    b.register().await;
    assert!(b.open_file("", "shared.fits", "", 0).await.success);
    b.add_tiles(0, &[top], pb::CompressionType::Zfp, 11.0).await;
    b.tile_stream().await;
    let two = health(&server).await;
    assert_eq!(
        two["pixel_bytes"].as_u64(),
        Some(pixel_bytes),
        "the second session reuses the blocks"
    );
    let rss_two = two["rss_bytes"].as_u64().unwrap_or(0);
    assert!(
        rss_two < rss_one + pixel_bytes / 2,
        "memory grew by {} MiB for a {} MiB image",
        (rss_two.saturating_sub(rss_one)) >> 20,
        pixel_bytes >> 20
    );

    a.send(EventType::CloseFile, &pb::CloseFile { file_id: 0 })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        health(&server).await["pixel_bytes"].as_u64(),
        Some(pixel_bytes),
        "still held by the other session"
    );
    b.send(EventType::CloseFile, &pb::CloseFile { file_id: -1 })
        .await;
    let mut freed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if health(&server).await["pixel_bytes"].as_u64() == Some(0) {
            freed = true;
            break;
        }
    }
    assert!(
        freed,
        "pixels are released when the last holder closes the file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
