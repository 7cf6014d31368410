//! The process-wide block store: immutable pixel blocks keyed by file identity (canonical path, size,
//! modification time, HDU) and block index, handed out as shared `Arc`s. A second session opening the same
//! image reuses the loaded blocks; a block is freed when its last holder lets go. Concurrent requests for the
//! same block load it once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::analysis::stats::BasicStats;
use crate::image::ImageError;

/// Identifies one version of one image HDU on disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    pub path: PathBuf,
    pub size: u64,
    pub modified_ns: u128,
    pub hdu: String,
}

impl FileIdentity {
    pub fn of(path: &Path, hdu: &str) -> Result<FileIdentity, ImageError> {
        let path = path.canonicalize().map_err(ImageError::Io)?;
        let meta = std::fs::metadata(&path).map_err(ImageError::Io)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(FileIdentity {
            path,
            size: meta.len(),
            modified_ns,
            hdu: hdu.to_string(),
        })
    }
}

/// One block: rows `[row0, row0 + rows)` of one plane, full width.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockKey {
    pub file: FileIdentity,
    pub channel: usize,
    pub stokes: usize,
    pub row0: usize,
    pub rows: usize,
}

/// A block's pixels with their statistics, taken while they were loaded.
pub struct Loaded {
    pub pixels: Vec<f32>,
    pub stats: BasicStats,
}

#[cfg(test)]
impl Loaded {
    /// Pixels whose statistics still have to be computed.
    pub fn of(pixels: Vec<f32>) -> Loaded {
        Loaded {
            stats: BasicStats::of(&pixels),
            pixels,
        }
    }
}

type Slot = OnceLock<Result<Loaded, String>>;

/// A loaded block; cloning shares the pixels.
#[derive(Clone)]
pub struct Block(Arc<Slot>);

impl Block {
    pub fn pixels(&self) -> &[f32] {
        match self.0.get() {
            Some(Ok(l)) => &l.pixels,
            _ => &[],
        }
    }

    /// Statistics of all the block's pixels (computed once, as it was loaded).
    pub fn stats(&self) -> BasicStats {
        match self.0.get() {
            Some(Ok(l)) => l.stats,
            _ => BasicStats::default(),
        }
    }
}

/// Shared blocks of every open image in the process.
#[derive(Default)]
pub struct BlockStore {
    slots: Mutex<HashMap<BlockKey, Weak<Slot>>>,
}

impl BlockStore {
    /// The store shared by all sessions.
    pub fn global() -> &'static BlockStore {
        static STORE: OnceLock<BlockStore> = OnceLock::new();
        STORE.get_or_init(BlockStore::default)
    }

    /// The block for `key`, loading it with `load` unless some holder already has it.
    pub fn get(
        &self,
        key: BlockKey,
        load: impl FnOnce() -> Result<Loaded, ImageError>,
    ) -> Result<Block, ImageError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            match slots.get(&key).and_then(Weak::upgrade) {
                Some(slot) => slot,
                None => {
                    if slots.len() > 64 && slots.len().is_power_of_two() {
                        slots.retain(|_, w| w.strong_count() > 0);
                    }
                    let slot = Arc::new(Slot::new());
                    slots.insert(key, Arc::downgrade(&slot));
                    slot
                }
            }
        };
        // Outside the map lock: other blocks load in parallel; waiters for this one block until it is in.
        match slot.get_or_init(|| load().map_err(|e| e.to_string())) {
            Ok(_) => Ok(Block(slot)),
            Err(e) => Err(ImageError::Load(e.clone())),
        }
    }

    /// Bytes of pixels currently held by anyone.
    pub fn bytes_held(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .values()
            .filter_map(Weak::upgrade)
            .map(|s| match s.get() {
                Some(Ok(l)) => l.pixels.len() * std::mem::size_of::<f32>(),
                _ => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(row0: usize) -> BlockKey {
        BlockKey {
            file: FileIdentity {
                path: "/x".into(),
                size: 1,
                modified_ns: 2,
                hdu: "0".into(),
            },
            channel: 0,
            stokes: 0,
            row0,
            rows: 4,
        }
    }

    #[test]
    fn shared_while_held_and_freed_after() {
        let store = BlockStore::default();
        let a = store
            .get(key(0), || Ok(Loaded::of(vec![1.0; 8])))
            .expect("load");
        let b = store
            .get(key(0), || panic!("must not load twice"))
            .expect("shared");
        assert_eq!(b.pixels(), &[1.0; 8]);
        assert_eq!((b.stats().count, b.stats().sum), (8, 8.0));
        assert_eq!(store.bytes_held(), 32);
        drop(a);
        drop(b);
        assert_eq!(store.bytes_held(), 0);
        let c = store
            .get(key(0), || Ok(Loaded::of(vec![2.0; 8])))
            .expect("reload");
        assert_eq!(c.pixels()[0], 2.0);
        assert!(store
            .get(key(4), || Err(ImageError::Truncated("x".into())))
            .is_err());
        assert!(
            store.get(key(4), || Ok(Loaded::of(vec![3.0]))).is_ok(),
            "a failed load is retried"
        );
    }
}
