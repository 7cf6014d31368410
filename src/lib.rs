//! cartaflow: an actor-based backend for CARTA, the Cube Analysis and Rendering Tool for Astronomy. It serves the
//! CARTA web frontend and speaks its WebSocket protocol (ICD 30).
//!
//! # Layout
//! - [`config`]: command line, TOML file and environment → one validated [`config::Config`].
//! - [`server`]: actix-web app (frontend files, `/health`, `/config`, WebSocket upgrade, token check).
//! - [`session`]: `SessionActor`, one per WebSocket: decode once, dispatch once, reply.
//! - [`protocol`]: generated ICD types, frame header, the [`protocol::Request`] enum.
//! - [`files`]: confinement to the top-level folder and folder listings.
//! - [`image`]: FITS and IDIA-HDF5 structure, headers, WCS and the file-info descriptions.
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
