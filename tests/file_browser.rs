//! The file browser over a real WebSocket: listings and file info on generated FITS and HDF5 fixtures, checked
//! against what astropy/h5py wrote (tests/../scripts/gen_fixtures.py → expected.json), and confinement.

mod common;

use std::collections::HashMap;

use cartaflow::protocol::{pb, EventType};
use common::{expected, fixtures, Server};
use serde_json::Value;

fn listed_names(list: &pb::FileListResponse) -> Vec<String> {
    list.files.iter().map(|f| f.name.clone()).collect()
}

#[tokio::test]
async fn top_folder_listing_matches_the_fixture_folder() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let want = &expected()["listings"]["images"];
    for dir in ["", ".", "$BASE"] {
        let list = c.file_list(dir, pb::FileListFilterMode::Content).await;
        assert!(list.success, "{dir}: {}", list.message);
        assert_eq!(
            list.directory, ".",
            "top folder is '.': 6.0.0 will not load from an empty directory"
        );
        assert_eq!(list.parent, "", "top folder has no parent");
        let by_name: HashMap<_, _> = list.files.iter().map(|f| (f.name.as_str(), f)).collect();
        for f in want["files"].as_array().expect("files") {
            let name = f["name"].as_str().expect("name");
            let got = by_name.get(name).unwrap_or_else(|| panic!("{name} listed"));
            assert_eq!(got.size, f["size"].as_i64().expect("size"), "{name} size");
            let ty = if f["type"] == "HDF5" {
                pb::FileType::Hdf5
            } else {
                pb::FileType::Fits
            };
            assert_eq!(got.r#type(), ty, "{name} type");
            assert!(got.date > 1_000_000_000, "{name} has a modification date");
        }
        assert_eq!(
            list.files.len(),
            want["files"].as_array().map(Vec::len).unwrap_or(0),
            "{:?}",
            listed_names(&list)
        );
        for hidden in want["must_not_contain"].as_array().expect("list") {
            let n = hidden.as_str().expect("name");
            assert!(
                !listed_names(&list).iter().any(|x| x == n),
                "{n} must not be listed"
            );
            assert!(
                !list.subdirectories.iter().any(|d| d.name == n),
                "{n} must not be listed"
            );
        }
        let dirs: HashMap<_, _> = list
            .subdirectories
            .iter()
            .map(|d| (d.name.as_str(), d.item_count))
            .collect();
        for d in want["subdirectories"].as_array().expect("dirs") {
            let name = d["name"].as_str().expect("name");
            assert_eq!(
                dirs.get(name).copied(),
                d["item_count"].as_i64().map(|n| n as i32),
                "{name} item count"
            );
        }
        assert_eq!(
            dirs.len(),
            want["subdirectories"].as_array().map(Vec::len).unwrap_or(0)
        );
    }
}

#[tokio::test]
async fn subfolders_report_directory_and_parent_for_navigation() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let sub = c.file_list("./sub", pb::FileListFilterMode::Content).await;
    assert!(sub.success);
    assert_eq!((sub.directory.as_str(), sub.parent.as_str()), ("sub", "."));
    assert!(listed_names(&sub).contains(&"inner.fits".to_string()));
    let deeper = c
        .file_list("sub/deeper", pb::FileListFilterMode::Content)
        .await;
    assert_eq!(
        (deeper.directory.as_str(), deeper.parent.as_str()),
        ("sub/deeper", "sub")
    );
    let back = c
        .file_list("sub/deeper/..", pb::FileListFilterMode::Content)
        .await;
    assert_eq!(back.directory, "sub");
    let empty = c
        .file_list("emptydir", pb::FileListFilterMode::Content)
        .await;
    assert!(empty.success && empty.files.is_empty() && empty.subdirectories.is_empty());
}

#[tokio::test]
async fn starting_folder_is_base() {
    let server = Server::start(&["--starting-folder", "sub"]);
    let mut c = server.connect().await;
    c.register().await;
    let base = c.file_list("$BASE", pb::FileListFilterMode::Content).await;
    assert_eq!(
        (base.directory.as_str(), base.parent.as_str()),
        ("sub", ".")
    );
}

#[tokio::test]
async fn filter_modes_type_by_content_extension_or_list_everything() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let all = c.file_list("", pb::FileListFilterMode::AllFiles).await;
    let types: HashMap<_, _> = all
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.r#type()))
        .collect();
    assert_eq!(types.get("not_an_image.txt"), Some(&pb::FileType::Unknown));
    assert_eq!(
        types.get("fake.fits"),
        Some(&pb::FileType::Unknown),
        "typed by content, not name"
    );
    assert_eq!(types.get("wcs2d.fits"), Some(&pb::FileType::Fits));
    assert_eq!(types.get("idia.hdf5"), Some(&pb::FileType::Hdf5));
    let ext = c.file_list("", pb::FileListFilterMode::Extension).await;
    let names = listed_names(&ext);
    assert!(
        names.contains(&"fake.fits".to_string())
            && !names.contains(&"not_an_image.txt".to_string())
    );
}

#[tokio::test]
async fn hdu_lists_name_every_image_hdu() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let list = c.file_list("", pb::FileListFilterMode::Content).await;
    let hdus: HashMap<_, _> = list
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.hdu_list.clone()))
        .collect();
    for (key, file) in expected()["files"].as_object().expect("files") {
        let Some(name) = key.strip_prefix("images/") else {
            continue;
        };
        if name.contains('/') || file["listed"] != true || file["readable"] != true {
            continue;
        }
        let want: Vec<String> = file["image_hdus"]
            .as_array()
            .expect("hdus")
            .iter()
            .map(|h| h["hdu"].to_string().trim_matches('"').to_string())
            .collect();
        assert_eq!(hdus.get(name), Some(&want), "{name}");
    }
}

/// Checks header entries against the cards astropy/h5py report.
fn check_header(file: &str, got: &[pb::HeaderEntry], cards: &[Value]) {
    let mut entries = got.iter();
    for card in cards {
        let keyword = card["keyword"].as_str().expect("keyword");
        let value = &card["value"];
        let entry = entries
            .find(|e| e.name == keyword || e.name.starts_with(&format!("{keyword} ")))
            .unwrap_or_else(|| panic!("{file}: {keyword} missing or out of order"));
        match (keyword, card["type"].as_str().unwrap_or("")) {
            ("COMMENT" | "HISTORY", _) => {
                assert_eq!(
                    entry.name,
                    format!("{keyword} {}", value.as_str().unwrap_or("")).trim_end(),
                    "{file}"
                )
            }
            (_, "str") => {
                assert_eq!(
                    entry.value,
                    value.as_str().expect("str"),
                    "{file}: {keyword}"
                );
                assert_eq!(
                    entry.entry_type(),
                    pb::EntryType::String,
                    "{file}: {keyword}"
                );
            }
            (_, "bool") => {
                assert_eq!(
                    entry.value,
                    if value == true { "T" } else { "F" },
                    "{file}: {keyword}"
                )
            }
            (_, "int") => {
                assert_eq!(entry.entry_type(), pb::EntryType::Int, "{file}: {keyword}");
                assert_eq!(entry.value, value.to_string(), "{file}: {keyword}");
                assert_eq!(
                    entry.numeric_value,
                    value.as_f64().expect("num"),
                    "{file}: {keyword}"
                );
            }
            (_, "float") => {
                assert_eq!(
                    entry.entry_type(),
                    pb::EntryType::Float,
                    "{file}: {keyword}"
                );
                let want = value.as_f64().expect("num");
                assert!(
                    (entry.numeric_value - want).abs() <= 1e-12 * want.abs(),
                    "{file}: {keyword} {} vs {want}",
                    entry.numeric_value
                );
                let shown: f64 = entry.value.parse().expect("float text");
                assert!(
                    (shown - want).abs() <= 1e-11 * want.abs().max(1e-300),
                    "{file}: {keyword} shows {}",
                    entry.value
                );
            }
            _ => {}
        }
        if let Some(comment) = card["comment"].as_str().filter(|c| !c.is_empty()) {
            assert_eq!(entry.comment, comment, "{file}: {keyword} comment");
        }
    }
}

#[tokio::test]
async fn file_info_headers_and_shapes_match_the_writer() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let mut checked = 0;
    for (key, file) in expected()["files"].as_object().expect("files") {
        let Some(rel) = key.strip_prefix("images/") else {
            continue;
        };
        if file["readable"] != true || file["listed"] != true {
            continue;
        }
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        for hdu in file["image_hdus"].as_array().expect("hdus") {
            let hdu_name = hdu["hdu"].to_string().trim_matches('"').to_string();
            let info = c.file_info(dir, name, &hdu_name).await;
            assert!(info.success, "{rel}[{hdu_name}]: {}", info.message);
            assert_eq!(info.file_info.as_ref().map(|f| f.name.as_str()), Some(name));
            let ext = info
                .file_info_extended
                .get(&hdu_name)
                .unwrap_or_else(|| panic!("{rel}: key {hdu_name}"));
            let shape: Vec<i32> = hdu["shape"]
                .as_array()
                .expect("shape")
                .iter()
                .map(|n| n.as_i64().unwrap_or(0) as i32)
                .collect();
            assert_eq!(ext.dimensions as usize, shape.len(), "{rel}");
            assert_eq!((ext.width, ext.height), (shape[0], shape[1]), "{rel}");
            let axes = ext.axes_numbers.as_ref().expect("axes numbers");
            assert_eq!((axes.spatial_x, axes.spatial_y), (1, 2), "{rel}");
            // The Stokes axis is the one whose CTYPE is STOKES (the fourth, or the third in iquv.fits); the
            // depth axis is the other non-spatial one.
            let cards = hdu["header"].as_array().expect("cards");
            let ctype = |i: usize| {
                cards
                    .iter()
                    .find(|c| c["keyword"] == format!("CTYPE{i}"))
                    .and_then(|c| c["value"].as_str())
                    .map(|v| v.trim().to_string())
            };
            let stokes_axis = (3..=shape.len()).find(|i| ctype(*i).as_deref() == Some("STOKES"));
            let depth_axis = (3..=shape.len()).find(|i| Some(*i) != stokes_axis);
            match depth_axis {
                Some(a) => assert_eq!(ext.depth, shape[a - 1], "{rel} depth"),
                None => assert_eq!(ext.depth, 1, "{rel} depth"),
            }
            if let Some(a) = stokes_axis.or((shape.len() == 4).then_some(4)) {
                assert_eq!(ext.stokes, shape[a - 1], "{rel} stokes");
            }
            check_header(
                rel,
                &ext.header_entries,
                hdu["header"].as_array().expect("cards"),
            );
            assert!(!ext.computed_entries.is_empty(), "{rel}: computed entries");
            if let Some(extname) = hdu["extname"].as_str() {
                assert_eq!(
                    ext.computed_entries
                        .get(2)
                        .map(|e| (e.name.as_str(), e.value.as_str())),
                    Some(("Extension name", extname))
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "checked {checked} HDUs");
}

#[tokio::test]
async fn unreadable_files_fail_with_name_and_cause() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    for name in [
        "truncated.fits",
        "fake.fits",
        "not_an_image.txt",
        "empty.fits",
        "missing.fits",
    ] {
        let info = c.file_info("", name, "").await;
        assert!(!info.success, "{name}");
        assert!(
            info.message.contains(name),
            "{name}: message '{}' names the file",
            info.message
        );
    }
    let info = c.file_info("", "multi.fits", "2").await;
    assert!(
        !info.success && info.message.contains("not an image"),
        "{}",
        info.message
    );
    let info = c.file_info("", "multi.fits", "9").await;
    assert!(!info.success, "no such HDU");
}

#[tokio::test]
async fn paths_outside_the_top_folder_are_refused_without_revealing_anything() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    let outside = fixtures().join("outside").canonicalize().expect("outside");
    let outside_abs = outside.to_string_lossy().to_string();
    for dir in [
        "..",
        "../outside",
        "../..",
        "sub/../..",
        "$BASE/..",
        "/etc",
        "escape_link",
        outside_abs.as_str(),
    ] {
        let list = c.file_list(dir, pb::FileListFilterMode::Content).await;
        assert!(!list.success, "{dir} must be refused");
        assert!(
            list.message.contains("outside the top-level folder"),
            "{dir}: {}",
            list.message
        );
        assert!(list.files.is_empty() && list.subdirectories.is_empty());
    }
    let existing = c.file_info("..", "outside/secret.fits", "").await;
    let missing = c.file_info("..", "outside/nothing.fits", "").await;
    assert!(!existing.success && !missing.success);
    assert_eq!(
        existing.message.replace("secret", "X"),
        missing.message.replace("nothing", "X"),
        "same answer whether or not it exists"
    );
    for (dir, file) in [
        ("", "link_to_file.fits"),
        ("escape_link", "secret.fits"),
        ("", "../outside/secret.fits"),
        (outside_abs.as_str(), "secret.fits"),
    ] {
        let info = c.file_info(dir, file, "").await;
        assert!(!info.success, "{dir}/{file}");
        assert!(
            info.message.contains("outside the top-level folder"),
            "{dir}/{file}: {}",
            info.message
        );
        assert!(info.file_info_extended.is_empty());
    }
    // A symlink that stays inside is fine.
    let inside = c
        .file_list("inside_link", pb::FileListFilterMode::Content)
        .await;
    assert!(inside.success);
}

#[tokio::test]
async fn big_folder_sends_progress_and_can_be_stopped() {
    let big = &expected()["big"];
    let server = Server::start_in(
        fixtures(),
        &[],
        &[("CARTAFLOW_FILE_LIST_PROGRESS_INTERVAL", "0.001")],
    );
    let mut c = server.connect().await;
    c.register().await;
    let dir = big["dir"].as_str().expect("dir");
    let id = c
        .send(
            EventType::FileListRequest,
            &pb::FileListRequest {
                directory: dir.into(),
                filter_mode: 0,
            },
        )
        .await;
    let mut progress = 0;
    let list = loop {
        let (h, payload) = c.next().await;
        if h.event_type == EventType::FileListProgress as u16 {
            let p: pb::ListProgress = prost::Message::decode(payload.as_slice()).expect("progress");
            assert!(
                p.total_count as u64 == big["count"].as_u64().unwrap_or(0)
                    && p.checked_count <= p.total_count
            );
            progress += 1;
        } else if h.event_type == EventType::FileListResponse as u16 {
            assert_eq!(h.request_id, id);
            break <pb::FileListResponse as prost::Message>::decode(payload.as_slice())
                .expect("response");
        }
    };
    assert!(progress > 0, "progress messages before the response");
    assert_eq!(list.files.len() as u64, big["count"].as_u64().unwrap_or(0));

    // Stopped: no response for the cancelled listing; the session goes on.
    let cancelled = c
        .send(
            EventType::FileListRequest,
            &pb::FileListRequest {
                directory: dir.into(),
                filter_mode: 0,
            },
        )
        .await;
    c.send(
        EventType::StopFileList,
        &pb::StopFileList { file_list_type: 0 },
    )
    .await;
    let after = c
        .send(
            EventType::FileListRequest,
            &pb::FileListRequest {
                directory: "images".into(),
                filter_mode: 0,
            },
        )
        .await;
    loop {
        let (h, _) = c.next().await;
        if h.event_type == EventType::FileListResponse as u16 {
            assert_ne!(
                h.request_id, cancelled,
                "the stopped listing must not answer"
            );
            if h.request_id == after {
                break;
            }
        }
    }
}
