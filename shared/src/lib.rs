//! # compliance-responder: the remediation library
//!
//! Every Lambda in this workspace is a thin wrapper around [`pipeline::Responder`]. Data flows in one
//! direction:
//!
//! ```text
//! EventBridge envelope ─► sources::* ─► Finding ─► rules (Lookups) ─► adapters read live state
//!        (envelope)        (normalize)              │                        │
//!                                                   ▼                        ▼
//!                          Report ◄─ executor ◄─ Plan ◄─ Verdicts ◄── rules evaluate(Finding, Observed)
//!                             │                                      (pure)
//!                             └─► Security Hub (asff → adapters::securityhub)
//! ```
//!
//! Everything from the envelope to the plan, and the ASFF finding builder, is pure data and
//! functions: no AWS SDK types and no I/O. The AWS side lives in [`adapters`] behind small traits
//! ([`adapters::IamPort`], [`adapters::TagPort`], [`adapters::FindingsPort`],
//! [`adapters::SwitchPort`]).

pub mod adapters;
pub mod asff;
pub mod audit;
pub mod catalogue;
pub mod config;
pub mod edit;
pub mod envelope;
pub mod error;
pub mod escalation;
pub mod executor;
pub mod exemptions;
pub mod finding;
pub mod grants;
pub mod guards;
pub mod killswitch;
pub mod lambda;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod offline;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod policy_json;
pub mod report;
pub mod resource;
pub mod rules;
pub mod shared_policies;
pub mod sources;
pub mod state;
pub mod undo;

pub use config::{Config, Mode};
pub use error::{AwsError, InputError};
pub use pipeline::Responder;
pub use report::{Report, ReportStatus};
