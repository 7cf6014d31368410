//! Pixels in spectral order, so a spectrum is one short read instead of one read per plane: the
//! [`SpectralOrder`] seam (what spectra at a pixel and region spectra read when a source has one), IDIA HDF5's
//! stored `SwizzledData` behind it (in `hdf5_source`), and the spectral-order index that cartaflow builds in the
//! background for FITS cubes (here), with the per-plane and per-cube statistics and histograms collected in the
//! same pass — so a FITS cube, once indexed, answers like a converted HDF5 file.
//!
//! The index is process-wide, keyed by [`SourceIdentity`] like the chunk store: a second session opening the same
//! file uses the same index. Its layout is blocks of [`BLOCK_CHANNELS`] channels; inside a block each pixel's
//! channels are contiguous (a cursor spectrum of D channels is D/16 runs of 64 bytes; a row of a region is one
//! run per block), and the blocks follow each other in file order, so an index too large for the configured
//! memory budget is written once, sequentially, to a file in the cache folder and read back with positioned
//! reads. The builder runs on its own thread at the lowest CPU priority, reading the planes straight from the
//! source (not through the chunk store, so it evicts nothing interactive work holds), and stops when the last
//! file holding the index closes.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use super::source::{PixelSource, Plane, SourceIdentity, StoredStatistics};
use super::ImageError;
use crate::analysis::histogram::{auto_bins, Histogram};
use crate::analysis::stats::BasicStats;

/// Channels per block of the index: 16 float32 values are one 64-byte cache line per pixel.
pub const BLOCK_CHANNELS: usize = 16;

/// A run of pixels in spectral order: pixel `i` is at (x + i, y) (`along_x`) or (x, y + i), and its values for
/// channels `c0 .. c0 + channels` are `values[i * stride + offset ..][.. channels]`.
pub struct Run<'a> {
    pub x: usize,
    pub y: usize,
    pub along_x: bool,
    pub c0: usize,
    pub channels: usize,
    pub stride: usize,
    pub offset: usize,
    pub values: &'a [f32],
}

impl Run<'_> {
    /// Pixels in the run.
    pub fn len(&self) -> usize {
        self.values.len() / self.stride.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position of pixel `i`.
    pub fn at(&self, i: usize) -> (usize, usize) {
        if self.along_x {
            (self.x + i, self.y)
        } else {
            (self.x, self.y + i)
        }
    }

    /// Values of pixel `i` for the run's channels.
    pub fn pixel(&self, i: usize) -> &[f32] {
        let start = i * self.stride + self.offset;
        &self.values[start..start + self.channels]
    }
}

/// Called with each run of pixels.
pub type RunVisitor<'a> = dyn FnMut(&Run<'_>) + 'a;

/// Pixels of one Stokes in spectral order.
pub trait SpectralOrder: Send + Sync {
    /// Shows every pixel of columns `xs` × rows `ys` of Stokes `stokes` with its values in channels `channels`
    /// to `visit`, in runs of pixels; a pixel's channels may come in several runs (pieces of its spectrum), each
    /// in channel order. Runs come in no particular order.
    fn visit(
        &self,
        stokes: usize,
        xs: Range<usize>,
        ys: Range<usize>,
        channels: Range<usize>,
        visit: &mut RunVisitor<'_>,
    ) -> Result<(), ImageError>;
}

impl dyn SpectralOrder + '_ {
    /// The values of pixel (x, y) in channels `channels` of Stokes `stokes`.
    pub fn spectrum(
        &self,
        x: usize,
        y: usize,
        stokes: usize,
        channels: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        let first = channels.start;
        let mut out = vec![f32::NAN; channels.len()];
        self.visit(stokes, x..x + 1, y..y + 1, channels, &mut |run| {
            for i in 0..run.len() {
                let v = run.pixel(i);
                if let Some(dst) = out.get_mut(run.c0 - first..run.c0 - first + v.len()) {
                    dst.copy_from_slice(v);
                }
            }
        })?;
        Ok(out)
    }
}

/// How big the index may be and where it goes when it does not fit in memory.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    pub enabled: bool,
    /// Bytes all in-memory indexes of the process may hold together.
    pub memory_budget: u64,
    /// Where indexes over the budget are written (removed when their image closes).
    pub folder: PathBuf,
}

/// Bytes held by in-memory indexes, against [`IndexSettings::memory_budget`].
static MEMORY_HELD: AtomicU64 = AtomicU64::new(0);

/// The bytes of float values in native order (how index files are written and read back).
fn bytes_of(values: &[f32]) -> &[u8] {
    // SAFETY: initialised f32 values have no padding; the view covers exactly the same memory.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The bytes of a float buffer to read into (any bit pattern is a valid f32).
pub(crate) fn bytes_of_mut(values: &mut [f32]) -> &mut [u8] {
    // SAFETY: every bit pattern is a valid f32 and there is no padding; the view covers exactly the buffer.
    unsafe {
        std::slice::from_raw_parts_mut(
            values.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(values),
        )
    }
}

/// Bytes of the memory budget held; given back when dropped.
struct Reservation(u64);

impl Drop for Reservation {
    fn drop(&mut self) {
        MEMORY_HELD.fetch_sub(self.0, Ordering::Relaxed);
    }
}

/// An index file; removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where an index's values are.
enum Store {
    Memory {
        values: Vec<f32>,
        _held: Reservation,
    },
    /// A file of the same layout.
    Disk { file: File, _path: TempFile },
}

/// A finished spectral-order index of every stored Stokes of an image, with each plane's statistics and
/// histogram and each Stokes's cube statistics and histogram.
pub struct SpectralIndex {
    width: usize,
    height: usize,
    depth: usize,
    store: Store,
    /// Per plane, Stokes-major (`stokes * depth + channel`).
    planes: Vec<StoredStatistics>,
    /// Per Stokes.
    cubes: Vec<StoredStatistics>,
}

impl SpectralIndex {
    fn npix(&self) -> usize {
        self.width * self.height
    }

    /// Offset (in values) of block `block` of Stokes `stokes`, and its channel count.
    fn block(&self, stokes: usize, block: usize) -> (usize, usize) {
        let c0 = block * BLOCK_CHANNELS;
        let len = BLOCK_CHANNELS.min(self.depth - c0);
        ((stokes * self.depth + c0) * self.npix(), len)
    }

    /// Statistics and histogram of a stored plane.
    pub fn plane(&self, plane: Plane) -> Option<&StoredStatistics> {
        (plane.channel < self.depth)
            .then(|| self.planes.get(plane.stokes * self.depth + plane.channel))
            .flatten()
    }

    /// Statistics and histogram of one Stokes's whole cube.
    pub fn cube(&self, stokes: usize) -> Option<&StoredStatistics> {
        self.cubes.get(stokes)
    }

    /// Values `[offset, offset + len)` of the store.
    fn run<'a>(
        &'a self,
        offset: usize,
        len: usize,
        buffer: &'a mut Vec<f32>,
    ) -> Result<&'a [f32], ImageError> {
        match &self.store {
            Store::Memory { values, .. } => values
                .get(offset..offset + len)
                .ok_or_else(|| ImageError::OutOfRange(format!("index values {offset}+{len}"))),
            Store::Disk { file, .. } => {
                use std::os::unix::fs::FileExt;
                buffer.resize(len, 0.0);
                file.read_exact_at(bytes_of_mut(buffer), (offset * 4) as u64)
                    .map_err(ImageError::Io)?;
                Ok(buffer)
            }
        }
    }
}

impl SpectralOrder for SpectralIndex {
    fn visit(
        &self,
        stokes: usize,
        xs: Range<usize>,
        ys: Range<usize>,
        channels: Range<usize>,
        visit: &mut RunVisitor<'_>,
    ) -> Result<(), ImageError> {
        if xs.end > self.width
            || ys.end > self.height
            || channels.end > self.depth
            || stokes * self.depth >= self.planes.len()
        {
            return Err(ImageError::OutOfRange(format!(
                "columns {}..{}, rows {}..{}, channels {}..{} of the index",
                xs.start, xs.end, ys.start, ys.end, channels.start, channels.end
            )));
        }
        if xs.is_empty() || channels.is_empty() {
            return Ok(());
        }
        let mut buffer = Vec::new();
        let first_block = channels.start / BLOCK_CHANNELS;
        let last_block = (channels.end - 1) / BLOCK_CHANNELS;
        for block in first_block..=last_block {
            let (base, len) = self.block(stokes, block);
            let c0 = block * BLOCK_CHANNELS;
            let lo = channels.start.max(c0) - c0;
            let hi = channels.end.min(c0 + len) - c0;
            for y in ys.clone() {
                let offset = base + (y * self.width + xs.start) * len;
                let values = self.run(offset, xs.len() * len, &mut buffer)?;
                visit(&Run {
                    x: xs.start,
                    y,
                    along_x: true,
                    c0: c0 + lo,
                    channels: hi - lo,
                    stride: len,
                    offset: lo,
                    values,
                });
            }
        }
        Ok(())
    }
}

/// Where a build stands.
#[derive(Clone)]
pub enum IndexState {
    Building { planes_done: usize, planes: usize },
    Ready(Arc<SpectralIndex>),
    Failed(String),
}

/// One image's index, shared by every file that has the image open; the build stops when the last holder
/// lets go.
pub struct IndexSlot {
    state: Mutex<IndexState>,
}

impl IndexSlot {
    pub fn state(&self) -> IndexState {
        match self.state.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, state: IndexState) {
        match self.state.lock() {
            Ok(mut s) => *s = state,
            Err(p) => *p.into_inner() = state,
        }
    }

    pub fn ready(&self) -> Option<Arc<SpectralIndex>> {
        match self.state() {
            IndexState::Ready(index) => Some(index),
            _ => None,
        }
    }
}

type Registry = Mutex<HashMap<SourceIdentity, Weak<IndexSlot>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The finished index of the image `identity` names, if one is ready.
pub fn ready(identity: &SourceIdentity) -> Option<Arc<SpectralIndex>> {
    let registry = registry().lock().ok()?;
    registry.get(identity)?.upgrade()?.ready()
}

/// Spectral-order indexes held now: (being built, ready), for `/health`.
pub fn counts() -> (usize, usize) {
    let Ok(registry) = registry().lock() else {
        return (0, 0);
    };
    registry
        .values()
        .filter_map(Weak::upgrade)
        .fold((0, 0), |(b, r), slot| match slot.state() {
            IndexState::Building { .. } => (b + 1, r),
            IndexState::Ready(_) => (b, r + 1),
            IndexState::Failed(_) => (b, r),
        })
}

/// The index of `source`'s image, started in the background if no file holds one yet. None when indexing is
/// off, the image has a single channel or the source already stores a spectral-order copy.
pub fn ensure(source: Arc<dyn PixelSource>, settings: &IndexSettings) -> Option<Arc<IndexSlot>> {
    let shape = source.shape();
    if !settings.enabled || shape.depth < 2 || source.stored_spectral_order().is_some() {
        return None;
    }
    let mut registry = registry().lock().ok()?;
    registry.retain(|_, slot| slot.strong_count() > 0);
    let identity = source.identity().clone();
    if let Some(slot) = registry.get(&identity).and_then(Weak::upgrade) {
        return Some(slot);
    }
    let slot = Arc::new(IndexSlot {
        state: Mutex::new(IndexState::Building {
            planes_done: 0,
            planes: shape.depth * shape.stokes,
        }),
    });
    registry.insert(identity, Arc::downgrade(&slot));
    let weak = Arc::downgrade(&slot);
    let settings = settings.clone();
    let spawned = std::thread::Builder::new()
        .name("spectral-index".into())
        .spawn(move || {
            lower_priority();
            let started = Instant::now();
            let name = source
                .identity()
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            match build(&*source, &settings, &weak) {
                Ok(Some(index)) => {
                    tracing::info!(
                        file = %name,
                        seconds = started.elapsed().as_secs_f64(),
                        on_disk = matches!(index.store, Store::Disk { .. }),
                        "spectral-order index ready"
                    );
                    if let Some(slot) = weak.upgrade() {
                        slot.set(IndexState::Ready(Arc::new(index)));
                    }
                }
                Ok(None) => tracing::debug!(file = %name, "spectral-order index abandoned"),
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "spectral-order index failed");
                    if let Some(slot) = weak.upgrade() {
                        slot.set(IndexState::Failed(e.to_string()));
                    }
                }
            }
        });
    if let Err(e) = spawned {
        slot.set(IndexState::Failed(format!("cannot start the builder: {e}")));
    }
    Some(slot)
}

/// The builder yields to interactive work: the lowest scheduling priority for this thread.
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread; failure only leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// Reserves `bytes` of the memory budget, if they fit.
fn reserve(bytes: u64, budget: u64) -> bool {
    MEMORY_HELD
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
            held.checked_add(bytes).filter(|total| *total <= budget)
        })
        .is_ok()
}

/// Builds the index; None when every holder let go before it finished.
fn build(
    source: &dyn PixelSource,
    settings: &IndexSettings,
    slot: &Weak<IndexSlot>,
) -> Result<Option<SpectralIndex>, ImageError> {
    let shape = source.shape().clone();
    let (width, height, depth, stokes) = (shape.width, shape.height, shape.depth, shape.stokes);
    let npix = width * height;
    let total = npix
        .checked_mul(depth)
        .and_then(|n| n.checked_mul(stokes))
        .ok_or_else(|| ImageError::OutOfRange("the cube is too large to index".into()))?;
    let bytes = (total as u64) * 4;
    let mut writer = if reserve(bytes, settings.memory_budget) {
        Sink::Memory(Vec::with_capacity(total), Reservation(bytes))
    } else {
        std::fs::create_dir_all(&settings.folder).map_err(ImageError::Io)?;
        let path = settings.folder.join(format!(
            "cartaflow-{}-{}.index",
            std::process::id(),
            NEXT_FILE.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&path).map_err(ImageError::Io)?;
        Sink::Disk(
            std::io::BufWriter::with_capacity(8 << 20, file),
            TempFile(path),
        )
    };
    let bins = auto_bins(width, height);
    let mut planes = Vec::with_capacity(depth * stokes);
    let mut block_values: Vec<f32> = Vec::new();
    let mut progress_logged = Instant::now();
    for s in 0..stokes {
        for c0 in (0..depth).step_by(BLOCK_CHANNELS) {
            let len = BLOCK_CHANNELS.min(depth - c0);
            let mut read = Vec::with_capacity(len);
            for channel in c0..c0 + len {
                if slot.strong_count() == 0 {
                    return Ok(None);
                }
                let plane = Plane { channel, stokes: s };
                let pixels = source.read_rows(plane, 0..height, &mut |_| {})?;
                planes.push(plane_statistics(&pixels, bins));
                read.push(pixels);
            }
            block_values.clear();
            block_values.resize(npix * len, 0.0);
            for (i, plane) in read.iter().enumerate() {
                for (p, v) in plane.iter().enumerate() {
                    block_values[p * len + i] = *v;
                }
            }
            writer.write(&block_values)?;
            let done = s * depth + c0 + len;
            if let Some(slot) = slot.upgrade() {
                slot.set(IndexState::Building {
                    planes_done: done,
                    planes: depth * stokes,
                });
            }
            if progress_logged.elapsed().as_secs() >= 5 {
                progress_logged = Instant::now();
                tracing::info!(
                    planes_done = done,
                    planes = depth * stokes,
                    "building the spectral-order index"
                );
            }
        }
    }
    let store = writer.finish()?;
    let mut index = SpectralIndex {
        width,
        height,
        depth,
        store,
        planes,
        cubes: Vec::new(),
    };
    // The cube histograms need each cube's range first: a second pass, over the index itself.
    for s in 0..stokes {
        let stats = index.planes[s * depth..(s + 1) * depth]
            .iter()
            .fold(BasicStats::default(), |a, p| a.merge(p.stats));
        let histogram = match stats.range() {
            Some((min, max)) if min < max => {
                let mut h = Histogram::new(min, max, bins);
                let mut buffer = Vec::new();
                for block in 0..depth.div_ceil(BLOCK_CHANNELS) {
                    if slot.strong_count() == 0 {
                        return Ok(None);
                    }
                    let (base, len) = index.block(s, block);
                    for y in 0..height {
                        let run = index.run(base + y * width * len, width * len, &mut buffer)?;
                        h.add(run);
                    }
                }
                Some(h.bins)
            }
            _ => None,
        };
        index.cubes.push(StoredStatistics { stats, histogram });
    }
    Ok(Some(index))
}

static NEXT_FILE: AtomicU64 = AtomicU64::new(1);

/// A plane's statistics and its histogram over its own range in `bins` bins.
fn plane_statistics(pixels: &[f32], bins: usize) -> StoredStatistics {
    let stats = BasicStats::of(pixels);
    let histogram = match stats.range() {
        Some((min, max)) if min < max => {
            let mut h = Histogram::new(min, max, bins);
            h.add(pixels);
            Some(h.bins)
        }
        _ => None,
    };
    StoredStatistics { stats, histogram }
}

/// Where the builder writes blocks.
enum Sink {
    Memory(Vec<f32>, Reservation),
    Disk(std::io::BufWriter<File>, TempFile),
}

impl Sink {
    fn write(&mut self, values: &[f32]) -> Result<(), ImageError> {
        use std::io::Write;
        match self {
            Sink::Memory(all, _) => {
                all.extend_from_slice(values);
                Ok(())
            }
            Sink::Disk(out, _) => out.write_all(bytes_of(values)).map_err(ImageError::Io),
        }
    }

    fn finish(self) -> Result<Store, ImageError> {
        match self {
            Sink::Memory(values, held) => Ok(Store::Memory {
                values,
                _held: held,
            }),
            Sink::Disk(out, path) => {
                let file = out
                    .into_inner()
                    .map_err(|e| ImageError::Io(e.into_error()))?;
                file.sync_data().map_err(ImageError::Io)?;
                drop(file);
                let file = File::open(&path.0).map_err(ImageError::Io)?;
                Ok(Store::Disk { file, _path: path })
            }
        }
    }
}
