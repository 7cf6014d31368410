//! Decode once, dispatch once: every event a client may send becomes one [`Request`] variant carrying its
//! decoded message, whether or not the server implements it yet (the session answers those with the request's
//! own failed response). Events that only ever travel server → client become [`Request::ServerOnly`].

use prost::Message;

use super::pb;
use super::{EventType, ProtocolError};

/// Generates the enum, its decoder and its names from one list of (variant, event, message).
macro_rules! requests {
    ($($variant:ident($message:ty) = $event:ident),* $(,)?) => {
        /// A decoded client request.
        #[derive(Debug)]
        pub enum Request {
            $($variant($message),)*
            /// A valid ICD event that only a server sends.
            ServerOnly(EventType),
        }

        impl Request {
            /// Decodes `payload` as the message that `event` carries.
            pub fn decode(event: EventType, payload: &[u8]) -> Result<Request, ProtocolError> {
                Ok(match event {
                    $(EventType::$event => Request::$variant(parse(event, payload)?),)*
                    other => Request::ServerOnly(other),
                })
            }

            /// The ICD event of the request.
            pub fn event(&self) -> EventType {
                match self {
                    $(Request::$variant(_) => EventType::$event,)*
                    Request::ServerOnly(e) => *e,
                }
            }
        }
    };
}

requests! {
    RegisterViewer(pb::RegisterViewer) = RegisterViewer,
    ResumeSession(pb::ResumeSession) = ResumeSession,
    FileList(pb::FileListRequest) = FileListRequest,
    FileInfo(pb::FileInfoRequest) = FileInfoRequest,
    StopFileList(pb::StopFileList) = StopFileList,
    OpenFile(pb::OpenFile) = OpenFile,
    CloseFile(pb::CloseFile) = CloseFile,
    ChannelMapFlowControl(pb::ChannelMapFlowControl) = ChannelMapFlowControl,
    AddRequiredTiles(pb::AddRequiredTiles) = AddRequiredTiles,
    RemoveRequiredTiles(pb::RemoveRequiredTiles) = RemoveRequiredTiles,
    SetImageChannels(pb::SetImageChannels) = SetImageChannels,
    SetCursor(pb::SetCursor) = SetCursor,
    SetSpatialRequirements(pb::SetSpatialRequirements) = SetSpatialRequirements,
    SetRegion(pb::SetRegion) = SetRegion,
    RemoveRegion(pb::RemoveRegion) = RemoveRegion,
    SetStatsRequirements(pb::SetStatsRequirements) = SetStatsRequirements,
    SetHistogramRequirements(pb::SetHistogramRequirements) = SetHistogramRequirements,
    SetSpectralRequirements(pb::SetSpectralRequirements) = SetSpectralRequirements,
    StartAnimation(pb::StartAnimation) = StartAnimation,
    StopAnimation(pb::StopAnimation) = StopAnimation,
    AnimationFlowControl(pb::AnimationFlowControl) = AnimationFlowControl,
    RegionListRequest(pb::RegionListRequest) = RegionListRequest,
    RegionFileInfoRequest(pb::RegionFileInfoRequest) = RegionFileInfoRequest,
    ImportRegion(pb::ImportRegion) = ImportRegion,
    ExportRegion(pb::ExportRegion) = ExportRegion,
    SetContourParameters(pb::SetContourParameters) = SetContourParameters,
    CatalogListRequest(pb::CatalogListRequest) = CatalogListRequest,
    CatalogFileInfoRequest(pb::CatalogFileInfoRequest) = CatalogFileInfoRequest,
    OpenCatalogFile(pb::OpenCatalogFile) = OpenCatalogFile,
    CloseCatalogFile(pb::CloseCatalogFile) = CloseCatalogFile,
    CatalogFilterRequest(pb::CatalogFilterRequest) = CatalogFilterRequest,
    ScriptingResponse(pb::ScriptingResponse) = ScriptingResponse,
    MomentRequest(pb::MomentRequest) = MomentRequest,
    StopMomentCalc(pb::StopMomentCalc) = StopMomentCalc,
    SaveFile(pb::SaveFile) = SaveFile,
    ConcatStokesFiles(pb::ConcatStokesFiles) = ConcatStokesFiles,
    PvRequest(pb::PvRequest) = PvRequest,
    StopPvCalc(pb::StopPvCalc) = StopPvCalc,
    StopPvPreview(pb::StopPvPreview) = StopPvPreview,
    ClosePvPreview(pb::ClosePvPreview) = ClosePvPreview,
    FittingRequest(pb::FittingRequest) = FittingRequest,
    StopFitting(pb::StopFitting) = StopFitting,
    SetVectorOverlayParameters(pb::SetVectorOverlayParameters) = SetVectorOverlayParameters,
    RemoteFileRequest(pb::RemoteFileRequest) = RemoteFileRequest,
}

fn parse<M: Message + Default>(event: EventType, payload: &[u8]) -> Result<M, ProtocolError> {
    M::decode(payload).map_err(|source| ProtocolError::Undecodable {
        event: event.as_str_name(),
        len: payload.len(),
        source,
    })
}

impl Request {
    /// The ICD name of the event, for logs and messages.
    pub fn name(&self) -> &'static str {
        self.event().as_str_name()
    }
}
