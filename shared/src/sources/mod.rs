//! Event sources: each turns an EventBridge envelope of its kind into a [`Finding`].

pub mod cloudtrail;

use crate::envelope::Envelope;
use crate::error::InputError;
use crate::finding::{Finding, SourceKind};

/// Normalizes an envelope, accepting only the given source kinds.
pub fn normalize(envelope: &Envelope, accepted: &[SourceKind]) -> Result<Finding, InputError> {
    let kind = if cloudtrail::recognizes(envelope) {
        Some(SourceKind::CloudTrail)
    } else {
        None
    };
    match kind {
        Some(k) if accepted.contains(&k) => match k {
            SourceKind::CloudTrail => cloudtrail::normalize(envelope),
        },
        _ => Err(InputError::UnsupportedEvent {
            event_source: envelope.source.clone(),
            detail_type: envelope.detail_type.clone(),
        }),
    }
}
