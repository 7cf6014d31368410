//! Every request the 6.0.0 frontend awaits gets its own response type with the same request id, even for
//! features this server does not have yet: success false and a message saying so (the frontend has no timeout,
//! so an unanswered request hangs its dialog for ever).

mod common;

use cartaflow::protocol::{pb, EventType};
use common::Server;
use prost::Message;

/// (request event, encoded request, response event)
fn cases() -> Vec<(EventType, Vec<u8>, EventType)> {
    vec![
        (
            EventType::RegionListRequest,
            pb::RegionListRequest::default().encode_to_vec(),
            EventType::RegionListResponse,
        ),
        (
            EventType::RegionFileInfoRequest,
            pb::RegionFileInfoRequest::default().encode_to_vec(),
            EventType::RegionFileInfoResponse,
        ),
        (
            EventType::ImportRegion,
            pb::ImportRegion::default().encode_to_vec(),
            EventType::ImportRegionAck,
        ),
        (
            EventType::ExportRegion,
            pb::ExportRegion::default().encode_to_vec(),
            EventType::ExportRegionAck,
        ),
        (
            EventType::CatalogListRequest,
            pb::CatalogListRequest::default().encode_to_vec(),
            EventType::CatalogListResponse,
        ),
        (
            EventType::CatalogFileInfoRequest,
            pb::CatalogFileInfoRequest::default().encode_to_vec(),
            EventType::CatalogFileInfoResponse,
        ),
        (
            EventType::OpenCatalogFile,
            pb::OpenCatalogFile::default().encode_to_vec(),
            EventType::OpenCatalogFileAck,
        ),
        (
            EventType::MomentRequest,
            pb::MomentRequest::default().encode_to_vec(),
            EventType::MomentResponse,
        ),
        (
            EventType::FittingRequest,
            pb::FittingRequest::default().encode_to_vec(),
            EventType::FittingResponse,
        ),
        (
            EventType::SaveFile,
            pb::SaveFile::default().encode_to_vec(),
            EventType::SaveFileAck,
        ),
        (
            EventType::ConcatStokesFiles,
            pb::ConcatStokesFiles::default().encode_to_vec(),
            EventType::ConcatStokesFilesAck,
        ),
        (
            EventType::RemoteFileRequest,
            pb::RemoteFileRequest::default().encode_to_vec(),
            EventType::RemoteFileResponse,
        ),
    ]
}

/// (success, message) of any of the response types above.
fn outcome(event: EventType, payload: &[u8]) -> (bool, String) {
    macro_rules! read {
        ($t:ty) => {{
            let m = <$t>::decode(payload).expect("decodes");
            (m.success, m.message)
        }};
    }
    match event {
        EventType::RegionListResponse => read!(pb::RegionListResponse),
        EventType::RegionFileInfoResponse => read!(pb::RegionFileInfoResponse),
        EventType::ImportRegionAck => read!(pb::ImportRegionAck),
        EventType::ExportRegionAck => read!(pb::ExportRegionAck),
        EventType::CatalogListResponse => read!(pb::CatalogListResponse),
        EventType::CatalogFileInfoResponse => read!(pb::CatalogFileInfoResponse),
        EventType::OpenCatalogFileAck => read!(pb::OpenCatalogFileAck),
        EventType::MomentResponse => read!(pb::MomentResponse),
        EventType::FittingResponse => read!(pb::FittingResponse),
        EventType::SaveFileAck => read!(pb::SaveFileAck),
        EventType::ConcatStokesFilesAck => read!(pb::ConcatStokesFilesAck),
        EventType::RemoteFileResponse => read!(pb::RemoteFileResponse),
        other => panic!("not a response type: {other:?}"),
    }
}

#[tokio::test]
async fn awaited_requests_get_their_own_failed_response_with_the_same_request_id() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    for (i, (request, payload, response)) in cases().into_iter().enumerate() {
        let id = 1000 + i as u32;
        c.send_raw(common::frame(request, 30, id, &payload)).await;
        let (h, body) = c.next().await;
        assert_eq!(
            h.event_type, response as u16,
            "{request:?} must be answered with {response:?}"
        );
        assert_eq!(h.request_id, id, "{response:?} carries the request's id");
        let (success, message) = outcome(response, &body);
        assert!(!success, "{response:?}");
        assert!(
            message.contains("not available"),
            "{response:?}: '{message}'"
        );
    }
    // Requests nobody awaits get an ERROR_DATA with their request id; the session is still up.
    c.send_raw(common::frame(
        EventType::StopMomentCalc,
        30,
        77,
        &pb::StopMomentCalc::default().encode_to_vec(),
    ))
    .await;
    let (h, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert_eq!(h.request_id, 77);
    assert!(err.message.contains("STOP_MOMENT_CALC"), "{}", err.message);
    assert!(
        c.file_list("", pb::FileListFilterMode::Content)
            .await
            .success
    );
}
