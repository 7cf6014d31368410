//! The CARTA wire protocol: prost types generated from `proto/`, the 8-byte frame header, the ICD version
//! policy and the one place where an incoming frame is decoded into a [`Request`].
//!
//! Knows nothing about actors or I/O: it turns bytes into typed requests and typed replies into bytes.

mod request;

pub use request::Request;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

/// Generated ICD-30 message types (package `CARTA`).
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/carta.rs"));
}

pub use pb::EventType;

/// The ICD version this server speaks and writes into every reply header.
pub const ICD_VERSION: u16 = 30;
/// Oldest ICD version a client may register with.
pub const MIN_ICD_VERSION: u16 = 28;
/// Length of the frame header: u16 event type, u16 ICD version, u32 request id, little-endian.
pub const HEADER_LEN: usize = 8;

/// Why an incoming frame could not be turned into a request.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("message of {0} bytes is shorter than the {HEADER_LEN}-byte CARTA header")]
    ShortFrame(usize),
    #[error("unknown event type {0}")]
    UnknownEvent(u16),
    #[error("could not decode the {event} payload ({len} bytes): {source}")]
    Undecodable {
        event: &'static str,
        len: usize,
        source: prost::DecodeError,
    },
}

/// The fixed header in front of every binary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub event_type: u16,
    pub icd_version: u16,
    pub request_id: u32,
}

impl Header {
    /// Splits a frame into its header and payload.
    pub fn split(frame: &[u8]) -> Result<(Header, &[u8]), ProtocolError> {
        if frame.len() < HEADER_LEN {
            return Err(ProtocolError::ShortFrame(frame.len()));
        }
        let header = Header {
            event_type: u16::from_le_bytes([frame[0], frame[1]]),
            icd_version: u16::from_le_bytes([frame[2], frame[3]]),
            request_id: u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]),
        };
        Ok((header, &frame[HEADER_LEN..]))
    }
}

/// Whether a client speaking `version` can be served.
pub fn icd_version_supported(version: u16) -> bool {
    (MIN_ICD_VERSION..=ICD_VERSION).contains(&version)
}

/// Serialises a reply or stream message: header (with our ICD version) followed by the protobuf payload.
pub fn encode(event: EventType, request_id: u32, message: &impl Message) -> Bytes {
    let mut buf = BytesMut::with_capacity(HEADER_LEN + message.encoded_len());
    buf.put_u16_le(event as u16);
    buf.put_u16_le(ICD_VERSION);
    buf.put_u32_le(request_id);
    // Encoding into a BytesMut grows it as needed, so this cannot fail.
    let _ = message.encode(&mut buf);
    buf.freeze()
}

/// Decodes a whole frame: header, event type, payload.
pub fn decode(frame: &[u8]) -> Result<(Header, Request), ProtocolError> {
    let (header, payload) = Header::split(frame)?;
    let event = EventType::try_from(i32::from(header.event_type))
        .map_err(|_| ProtocolError::UnknownEvent(header.event_type))?;
    let request = Request::decode(event, payload)?;
    Ok((header, request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let msg = pb::RegisterViewer {
            session_id: 7,
            api_key: String::new(),
            client_feature_flags: 5,
        };
        let frame = encode(EventType::RegisterViewer, 42, &msg);
        let (h, req) = decode(&frame).expect("decodes");
        assert_eq!(h.event_type, EventType::RegisterViewer as u16);
        assert_eq!(h.icd_version, ICD_VERSION);
        assert_eq!(h.request_id, 42);
        assert!(matches!(req, Request::RegisterViewer(m) if m.session_id == 7));
    }

    #[test]
    fn short_and_unknown_frames_are_errors() {
        assert!(matches!(
            decode(&[1, 0, 30]),
            Err(ProtocolError::ShortFrame(3))
        ));
        let frame = [200u8, 0, 30, 0, 1, 0, 0, 0];
        assert!(matches!(
            decode(&frame),
            Err(ProtocolError::UnknownEvent(200))
        ));
    }

    #[test]
    fn garbage_payload_is_undecodable() {
        let mut frame = vec![2u8, 0, 30, 0, 1, 0, 0, 0];
        frame.extend_from_slice(&[0xff, 0xff, 0xff]);
        assert!(matches!(
            decode(&frame),
            Err(ProtocolError::Undecodable { .. })
        ));
    }

    #[test]
    fn version_policy() {
        assert!(icd_version_supported(28));
        assert!(icd_version_supported(30));
        assert!(!icd_version_supported(27));
        assert!(!icd_version_supported(31));
    }
}
