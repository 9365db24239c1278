//! Event sources: each turns an EventBridge envelope of its kind into a [`Finding`].

pub mod awsconfig;
pub mod cloudtrail;
pub mod created;
pub mod guardduty;
pub mod securityhub;

use crate::envelope::Envelope;
use crate::error::InputError;
use crate::finding::{Finding, SourceKind};

/// The source kind an envelope belongs to, if any.
pub fn kind_of(envelope: &Envelope) -> Option<SourceKind> {
    if cloudtrail::recognizes(envelope) {
        Some(if envelope.source == cloudtrail::SOURCE {
            SourceKind::CloudTrail
        } else {
            SourceKind::ResourceCreation
        })
    } else if guardduty::recognizes(envelope) {
        Some(SourceKind::GuardDuty)
    } else if awsconfig::recognizes(envelope) {
        Some(SourceKind::Config)
    } else if securityhub::recognizes(envelope) {
        Some(SourceKind::HubAction)
    } else {
        None
    }
}

/// Normalizes an envelope, accepting only the given source kinds. `rule_map` is
/// `CONFIG_RULE_MAP` (Config rule name fragment → responder rule id).
pub fn normalize(
    envelope: &Envelope,
    accepted: &[SourceKind],
    rule_map: &[(String, String)],
) -> Result<Finding, InputError> {
    match kind_of(envelope) {
        Some(k) if accepted.contains(&k) => match k {
            SourceKind::CloudTrail | SourceKind::ResourceCreation => cloudtrail::normalize(envelope),
            SourceKind::GuardDuty => guardduty::normalize(envelope),
            SourceKind::Config => awsconfig::normalize(envelope, rule_map),
            // No event is an audit: the sweep builds its findings itself (`audit.rs`); a custom
            // action names several findings and takes its own path (`pipeline/hub.rs`).
            SourceKind::Audit | SourceKind::HubAction => Err(InputError::UnsupportedEvent {
                event_source: envelope.source.clone(),
                detail_type: envelope.detail_type.clone(),
            }),
        },
        _ => Err(InputError::UnsupportedEvent {
            event_source: envelope.source.clone(),
            detail_type: envelope.detail_type.clone(),
        }),
    }
}
