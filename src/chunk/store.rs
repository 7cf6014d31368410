//! The process-wide chunk store: the loaded pixels of chunks (rows of one plane), immutable, keyed by source
//! identity (for files: canonical path, size, modification time, HDU; for generated images a process-unique id),
//! plane and rows, and handed out as shared `Arc`s. A second session opening the same image reuses the loaded
//! chunks; a chunk's pixels are freed when their last holder lets go. Concurrent requests for the same chunk
//! load it once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::analysis::stats::BasicStats;
use crate::image::{ImageError, Plane, SourceIdentity};

/// One chunk of one plane: rows `[row0, row0 + rows)`, full width.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChunkKey {
    pub source: SourceIdentity,
    pub plane: Plane,
    pub row0: usize,
    pub rows: usize,
}

/// A chunk's pixels with their statistics, taken while they were loaded.
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

/// A loaded chunk of one plane; cloning shares the pixels.
#[derive(Clone)]
pub struct Pixels(Arc<Slot>);

impl Pixels {
    pub fn pixels(&self) -> &[f32] {
        match self.0.get() {
            Some(Ok(l)) => &l.pixels,
            _ => &[],
        }
    }

    /// Statistics of all the chunk's pixels (computed once, as they were loaded).
    pub fn stats(&self) -> BasicStats {
        match self.0.get() {
            Some(Ok(l)) => l.stats,
            _ => BasicStats::default(),
        }
    }
}

/// Loaded chunks of every open image in the process.
#[derive(Default)]
pub struct ChunkStore {
    slots: Mutex<HashMap<ChunkKey, Weak<Slot>>>,
}

impl ChunkStore {
    /// The store shared by all sessions.
    pub fn global() -> &'static ChunkStore {
        static STORE: OnceLock<ChunkStore> = OnceLock::new();
        STORE.get_or_init(ChunkStore::default)
    }

    /// The pixels for `key`, loading them with `load` unless some holder already has them.
    pub fn get(
        &self,
        key: ChunkKey,
        load: impl FnOnce() -> Result<Loaded, ImageError>,
    ) -> Result<Pixels, ImageError> {
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
        // Outside the map lock: other chunks load in parallel; waiters for this one block until it is in.
        match slot.get_or_init(|| load().map_err(|e| e.to_string())) {
            Ok(_) => Ok(Pixels(slot)),
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

    fn key(row0: usize) -> ChunkKey {
        ChunkKey {
            source: SourceIdentity::Generated(u64::MAX),
            plane: Plane::FIRST,
            row0,
            rows: 4,
        }
    }

    #[test]
    fn shared_while_held_and_freed_after() {
        let store = ChunkStore::default();
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
