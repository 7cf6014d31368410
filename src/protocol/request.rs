//! Decode once, dispatch once: every event a client may send becomes one [`Request`] variant.
//!
//! Events this server implements carry their decoded message; known events it does not implement yet (or that
//! only ever travel server → client) become [`Request::Unsupported`] so the session can say so.

use prost::Message;

use super::pb;
use super::{EventType, ProtocolError};

/// A decoded client request.
#[derive(Debug)]
pub enum Request {
    RegisterViewer(pb::RegisterViewer),
    FileList(pb::FileListRequest),
    FileInfo(pb::FileInfoRequest),
    StopFileList(pb::StopFileList),
    OpenFile(pb::OpenFile),
    CloseFile(pb::CloseFile),
    ChannelMapFlowControl(pb::ChannelMapFlowControl),
    AddRequiredTiles(pb::AddRequiredTiles),
    RemoveRequiredTiles(pb::RemoveRequiredTiles),
    SetImageChannels(pb::SetImageChannels),
    SetCursor(pb::SetCursor),
    SetSpatialRequirements(pb::SetSpatialRequirements),
    SetRegion(pb::SetRegion),
    RemoveRegion(pb::RemoveRegion),
    SetStatsRequirements(pb::SetStatsRequirements),
    SetHistogramRequirements(pb::SetHistogramRequirements),
    SetSpectralRequirements(pb::SetSpectralRequirements),
    /// A valid ICD event that this server does not handle (yet).
    Unsupported(EventType),
}

fn parse<M: Message + Default>(event: EventType, payload: &[u8]) -> Result<M, ProtocolError> {
    M::decode(payload).map_err(|source| ProtocolError::Undecodable {
        event: event.as_str_name(),
        len: payload.len(),
        source,
    })
}

impl Request {
    /// Decodes `payload` as the message that `event` carries.
    pub fn decode(event: EventType, payload: &[u8]) -> Result<Request, ProtocolError> {
        use EventType as E;
        Ok(match event {
            E::RegisterViewer => Request::RegisterViewer(parse(event, payload)?),
            E::FileListRequest => Request::FileList(parse(event, payload)?),
            E::FileInfoRequest => Request::FileInfo(parse(event, payload)?),
            E::StopFileList => Request::StopFileList(parse(event, payload)?),
            E::OpenFile => Request::OpenFile(parse(event, payload)?),
            E::CloseFile => Request::CloseFile(parse(event, payload)?),
            E::ChannelMapFlowControl => Request::ChannelMapFlowControl(parse(event, payload)?),
            E::AddRequiredTiles => Request::AddRequiredTiles(parse(event, payload)?),
            E::RemoveRequiredTiles => Request::RemoveRequiredTiles(parse(event, payload)?),
            E::SetImageChannels => Request::SetImageChannels(parse(event, payload)?),
            E::SetCursor => Request::SetCursor(parse(event, payload)?),
            E::SetSpatialRequirements => Request::SetSpatialRequirements(parse(event, payload)?),
            E::SetRegion => Request::SetRegion(parse(event, payload)?),
            E::RemoveRegion => Request::RemoveRegion(parse(event, payload)?),
            E::SetStatsRequirements => Request::SetStatsRequirements(parse(event, payload)?),
            E::SetHistogramRequirements => {
                Request::SetHistogramRequirements(parse(event, payload)?)
            }
            E::SetSpectralRequirements => Request::SetSpectralRequirements(parse(event, payload)?),
            other => Request::Unsupported(other),
        })
    }

    /// The ICD name of the event, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::RegisterViewer(_) => "REGISTER_VIEWER",
            Request::FileList(_) => "FILE_LIST_REQUEST",
            Request::FileInfo(_) => "FILE_INFO_REQUEST",
            Request::StopFileList(_) => "STOP_FILE_LIST",
            Request::OpenFile(_) => "OPEN_FILE",
            Request::CloseFile(_) => "CLOSE_FILE",
            Request::ChannelMapFlowControl(_) => "CHANNEL_MAP_FLOW_CONTROL",
            Request::AddRequiredTiles(_) => "ADD_REQUIRED_TILES",
            Request::RemoveRequiredTiles(_) => "REMOVE_REQUIRED_TILES",
            Request::SetImageChannels(_) => "SET_IMAGE_CHANNELS",
            Request::SetCursor(_) => "SET_CURSOR",
            Request::SetSpatialRequirements(_) => "SET_SPATIAL_REQUIREMENTS",
            Request::SetRegion(_) => "SET_REGION",
            Request::RemoveRegion(_) => "REMOVE_REGION",
            Request::SetStatsRequirements(_) => "SET_STATS_REQUIREMENTS",
            Request::SetHistogramRequirements(_) => "SET_HISTOGRAM_REQUIREMENTS",
            Request::SetSpectralRequirements(_) => "SET_SPECTRAL_REQUIREMENTS",
            Request::Unsupported(e) => e.as_str_name(),
        }
    }
}
