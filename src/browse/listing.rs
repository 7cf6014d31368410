//! Folder listing for the file browser: image files typed by content (or extension, or everything), folders
//! with their item counts, progress callbacks for big folders and cancellation between entries.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Confinement, FilesError, ResolvedPath};
use crate::image::{self, ImageFormat};
use crate::protocol::pb::{self, FileListFilterMode, FileListType};

/// How to list.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub filter: FileListFilterMode,
    /// Progress is reported when a listing has run this long since the last report (or the start).
    pub progress_interval: Duration,
}

/// A folder's contents, sorted by name.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<pb::FileInfo>,
    pub subdirectories: Vec<pb::DirectoryInfo>,
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Number of visible entries in a folder (0 when it cannot be read).
fn item_count(path: &Path) -> i32 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| !is_hidden(&e.file_name().to_string_lossy()))
                .count()
        })
        .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
        .unwrap_or(0)
}

fn file_format(path: &Path, name: &str, filter: FileListFilterMode) -> Option<Option<ImageFormat>> {
    match filter {
        FileListFilterMode::Content => image::detect(path).map(Some),
        FileListFilterMode::Extension => image::by_extension(name).map(Some),
        FileListFilterMode::AllFiles => Some(image::detect(path)),
    }
}

/// Lists `dir`. Entries that are hidden, unreadable, or symlinks resolving outside the top-level folder are
/// left out. `progress` is called now and then for long listings; `cancel` stops the listing.
pub fn list_directory(
    confinement: &Confinement,
    dir: &ResolvedPath,
    options: &ListOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(pb::ListProgress),
) -> Result<Listing, FilesError> {
    let shown = if dir.relative.is_empty() {
        "."
    } else {
        dir.relative.as_str()
    };
    let mut names: Vec<_> = std::fs::read_dir(&dir.absolute)
        .map_err(|e| FilesError::io(shown, e))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !is_hidden(n))
        .collect();
    names.sort();
    let total = names.len();
    let started = Instant::now();
    let mut last_report = started;
    let mut listing = Listing::default();
    for (checked, name) in names.into_iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(FilesError::Cancelled(shown.to_string()));
        }
        if last_report.elapsed() >= options.progress_interval {
            last_report = Instant::now();
            progress(pb::ListProgress {
                file_list_type: FileListType::Image as i32,
                percentage: checked as f32 * 100.0 / total.max(1) as f32,
                checked_count: i32::try_from(checked).unwrap_or(i32::MAX),
                total_count: i32::try_from(total).unwrap_or(i32::MAX),
            });
        }
        let path = dir.absolute.join(&name);
        let Ok(link_meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if link_meta.file_type().is_symlink() && !confinement.contains(&path) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            listing.subdirectories.push(pb::DirectoryInfo {
                name,
                item_count: item_count(&path),
                date: image::modified_seconds(&meta),
            });
        } else if meta.is_file() {
            if let Some(format) = file_format(&path, &name, options.filter) {
                listing.files.push(image::basic_info(&path, &name, format));
            }
        }
    }
    Ok(listing)
}
