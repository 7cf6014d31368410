//! cartaflow: an actor-based backend for CARTA, the Cube Analysis and Rendering Tool for Astronomy. It serves the
//! CARTA web frontend and speaks its WebSocket protocol (ICD 30).
//!
//! # Layout
//! Listed from the top of the dependency graph down; a module may import only modules below it (and the
//! leaves `runtime`, `protocol`, `config`, `analysis`, `tiles`).
//! - [`server`]: actix-web app (frontend files, `/health`, `/config`, WebSocket upgrade, token check, session
//!   limit); builds the [`runtime::Runtime`] and the [`session::SessionSettings`]. Knows no pixels.
//! - [`session`]: `SessionActor`, one per WebSocket: decode once, dispatch once, one handler file per ICD area;
//!   owns the open files and the [`session::RegionSet`]; converts ICD requirements into the file layer's types
//!   and the file layer's events into ICD messages; builds every ERROR_DATA. Knows no pixel maths or formats.
//! - [`file`]: `FileActor`, one per open image: plans, merges, caches and steers its work by generation, one file
//!   per intent; [`file::open`] is the one way an image is opened. Knows no WebSocket, ICD types or formats.
//! - [`chunk`]: the [`chunk::Chunks`] handle (layout, routing, cancellation), the serialisable intents, the
//!   local chunk workers and the process-wide chunk store. Knows no sessions or files.
//! - [`image`]: the [`image::PixelSource`] trait with one file per format, [`image::open`], FITS and HDF5
//!   structure, headers, WCS, beams and file-info descriptions. Knows no actors.
//! - [`browse`]: confinement to the top-level folder and folder listings. Knows no pixels.
//! - [`analysis`], [`tiles`]: pure kernels with mergeable partials (statistics, histograms, profiles, region
//!   masks; tile geometry, block sums, ZFP, NaN runs, tile encoding). Know no actors or I/O.
//! - [`protocol`]: generated ICD types, the frame header, the [`protocol::Request`] enum. No behaviour.
//! - [`runtime`]: the I/O pool, chunk arbiters and process counters. Knows no sessions or ICD.
//! - [`config`]: command line, TOML file and environment → one validated [`config::Config`] with its limits.
//!
//! ARCHITECTURE.md at the repository root describes how they fit together.

pub mod analysis;
pub mod browse;
pub mod chunk;
pub mod config;
pub mod file;
pub mod image;
pub mod protocol;
pub mod runtime;
pub mod server;
pub mod session;
pub mod tiles;
