//! Every emulator-backed test, in one test binary: one moto server for the whole run
//! (`Moto::shared`), one AWS account of it per test (`Env`), tests in parallel. One binary also
//! means one compile and one link of the SDK-heavy harness instead of one per file.

mod api_calls;
mod audit;
mod aws_managed_policies;
mod bad_input;
mod cargo_lambda_replay;
mod cloudtrail_replay;
mod config_replay;
mod contract;
mod differential;
mod fault_replay;
mod guardduty_replay;
mod hub_actions;
mod indirect_grants;
mod least_privilege;
mod regions;
mod responder_undo;
mod safety_replay;
mod settings;
mod shared_policies;
mod tagging_replay;
mod template;
