//! The one way an image becomes an open file: [`open`] reads it on the I/O pool (detection by content, through
//! `image::open`), describes it for the OPEN_FILE_ACK and starts its actor on the caller's thread;
//! [`open_source`] does the same for a source already in hand (a generated image).

use std::path::PathBuf;
use std::sync::Arc;

use actix::{Actor, Addr, Recipient};

use super::{FileActor, FileEvent, FileSettings, Start};
use crate::image::{self, Description, ImageError, PixelSource};
use crate::runtime::Runtime;

/// An image opened and its actor started (it streams once it gets [`Start`]).
pub struct OpenedFile {
    pub actor: Addr<FileActor>,
    pub description: Description,
}

impl OpenedFile {
    /// Begins streaming: the first plane's colour-scale histogram goes out.
    pub fn start(&self) {
        self.actor.do_send(Start);
    }
}

/// What a file actor is given besides its image: the runtime, its settings, the port its events go out
/// through, and its log span.
pub struct FileContext {
    pub runtime: Arc<Runtime>,
    pub settings: FileSettings,
    pub events: Recipient<FileEvent>,
    pub span: tracing::Span,
}

/// Opens HDU `hdu` of the file or folder at `path` (already confined by the caller) as `file_id`, shown to the
/// client as `name`. The blocking work runs on the runtime's I/O pool; the actor starts on the thread that
/// polls the returned future.
pub async fn open(
    context: FileContext,
    file_id: i32,
    path: PathBuf,
    hdu: String,
    name: String,
) -> Result<OpenedFile, ImageError> {
    let (source, description) = context
        .runtime
        .on_pool(move || {
            let source = image::open(&path, &hdu)?;
            let description = image::describe(&*source, &name);
            Ok::<_, ImageError>((source, description))
        })
        .await
        .ok_or_else(|| ImageError::Load("the I/O pool stopped".into()))??;
    Ok(start(context, file_id, source, description))
}

/// Opens a source already in hand (a generated image) as `file_id`, shown as `name`.
pub fn open_source(
    context: FileContext,
    file_id: i32,
    source: Arc<dyn PixelSource>,
    name: &str,
) -> OpenedFile {
    let description = image::describe(&*source, name);
    start(context, file_id, source, description)
}

fn start(
    context: FileContext,
    file_id: i32,
    source: Arc<dyn PixelSource>,
    description: Description,
) -> OpenedFile {
    let actor = FileActor::new(file_id, source, context).start();
    OpenedFile { actor, description }
}
