//! The shared path of every document rule: which document an event names, how to read it, and how
//! a rule's violations become a verdict. Pure.

use super::{fallback_principal_arn, ResourceRef, ResourceType, RuleMeta, SkipKind, Status, Verdict, Violation};
use crate::finding::{Finding, PrincipalKind, PrincipalRef, Subject};
use crate::plan::{Action, Remedy, Step, Target};
use crate::policy::{DocumentKind, PolicyDocument};
use crate::state::{Known, Lookup, ManagedPolicy, Observed};

/// The document kind an event concerns.
pub fn kind_of(subject: &Subject) -> Option<DocumentKind> {
    match subject {
        Subject::PolicyAttached { .. }
        | Subject::ManagedPolicyChanged { .. }
        | Subject::DormantPolicyVersion { .. } => Some(DocumentKind::Managed),
        Subject::InlinePolicyPut { principal, .. } => Some(match principal.kind {
            PrincipalKind::User => DocumentKind::InlineUser,
            PrincipalKind::Role => DocumentKind::InlineRole,
            PrincipalKind::Group => DocumentKind::InlineGroup,
        }),
        Subject::TrustPolicyChanged { .. } => Some(DocumentKind::Trust),
        _ => None,
    }
}

pub fn lookups(kinds: &[DocumentKind], finding: &Finding) -> Vec<Lookup> {
    if !kind_of(&finding.subject).is_some_and(|k| kinds.contains(&k)) {
        return vec![];
    }
    match &finding.subject {
        Subject::PolicyAttached { principal, policy_arn } => vec![
            Lookup::Principal(principal.clone()),
            Lookup::ManagedPolicy {
                arn: policy_arn.clone(),
            },
            Lookup::AttachedPolicies(principal.clone()),
        ],
        Subject::InlinePolicyPut {
            principal, policy_name, ..
        } => vec![
            Lookup::Principal(principal.clone()),
            Lookup::InlinePolicy {
                principal: principal.clone(),
                name: policy_name.clone(),
            },
        ],
        Subject::ManagedPolicyChanged { policy_arn, .. } => vec![Lookup::ManagedPolicy {
            arn: policy_arn.clone(),
        }],
        Subject::DormantPolicyVersion {
            policy_arn, version_id, ..
        } => vec![
            Lookup::ManagedPolicy {
                arn: policy_arn.clone(),
            },
            Lookup::PolicyVersion {
                arn: policy_arn.clone(),
                version_id: version_id.clone(),
            },
        ],
        Subject::TrustPolicyChanged { role, .. } => vec![Lookup::Principal(role.clone())],
        _ => vec![],
    }
}

struct Frame<'a> {
    meta: &'static RuleMeta,
    resources: Vec<ResourceRef>,
    key: String,
    check: &'a dyn Fn(&PolicyDocument) -> Vec<Violation>,
}

impl<'a> Frame<'a> {
    fn new(
        meta: &'static RuleMeta,
        check: &'a dyn Fn(&PolicyDocument) -> Vec<Violation>,
        key: String,
        resources: Vec<ResourceRef>,
    ) -> Self {
        Frame {
            meta,
            resources,
            key,
            check,
        }
    }

    fn verdict(&self, status: Status, severity: super::Severity, summary: String) -> Verdict {
        Verdict {
            rule_id: self.meta.id,
            status,
            severity,
            summary,
            resources: self.resources.clone(),
            key: self.key.clone(),
            matched_statements: vec![],
            matched_actions: vec![],
            remedy: Remedy::None,
            needs_review: None,
        }
    }

    fn skipped(&self, kind: SkipKind, summary: String) -> Verdict {
        self.verdict(Status::NotEvaluated { kind }, self.meta.severity, summary)
    }

    /// Compliant, or Resolved when the event's own copy of the document had the problem.
    fn clean(&self, event_document: Option<&str>, what: &str) -> Verdict {
        let event_had_it = event_document
            .and_then(|d| PolicyDocument::parse(d).ok())
            .is_some_and(|d| !(self.check)(&d).is_empty());
        if event_had_it {
            self.verdict(
                Status::Resolved,
                self.meta.severity,
                format!("the event's document had this problem, but {what} no longer does"),
            )
        } else {
            self.verdict(
                Status::Compliant,
                super::Severity::Informational,
                format!("{what}: no violation"),
            )
        }
    }

    /// Parses a live document and judges it: Compliant/Resolved, or the rule's verdict.
    fn judge(&self, raw: &str, what: &str, event_document: Option<&str>, target: Target) -> Verdict {
        let doc = match parse_live(self, raw, what) {
            Ok(d) => d,
            Err(v) => return *v,
        };
        let violations = (self.check)(&doc);
        if violations.is_empty() {
            // Its most permissive reading is clean: so is every other.
            return self.clean(event_document, what);
        }
        let mut v = self.judged(violations, what, target);
        if !doc.ambiguities.is_empty() {
            ambiguous(&mut v, &doc.ambiguities.join("; "));
        }
        v
    }

    fn judged(&self, violations: Vec<Violation>, what: &str, target: Target) -> Verdict {
        let fixable: Vec<&Violation> = violations.iter().filter(|v| !v.conditioned).collect();
        let conditioned = violations.len() - fixable.len();
        let mut matched_actions: Vec<String> = Vec::new();
        for m in violations.iter().flat_map(|v| v.matched.iter()) {
            if !matched_actions.contains(m) {
                matched_actions.push(m.clone());
            }
        }
        let detail = if matched_actions.is_empty() {
            String::new()
        } else {
            format!(" ({})", matched_actions.join(", "))
        };
        let mut v = if fixable.is_empty() {
            let mut v = self.verdict(
                Status::NonCompliant,
                self.meta.severity.lower(),
                format!("{what}: {}{detail}, restricted by a Condition", self.meta.title),
            );
            v.remedy = Remedy::Manual {
                reason: "every matching statement has a Condition; a person must judge whether it restricts enough"
                    .into(),
            };
            v
        } else {
            let mut v = self.verdict(
                Status::NonCompliant,
                self.meta.severity,
                format!("{what}: {}{detail}", self.meta.title),
            );
            v.remedy = Remedy::Edit {
                target,
                edits: fixable.iter().flat_map(|f| f.edits.iter().cloned()).collect(),
            };
            if conditioned > 0 {
                v.needs_review = Some(format!(
                    "{conditioned} matching statement(s) with a Condition are left for review"
                ));
            }
            v
        };
        v.matched_statements = violations.iter().map(|x| x.label.clone()).collect();
        v.matched_actions = matched_actions;
        v
    }
}

/// A verdict on a document that can be read more than one way: judged on its most permissive
/// reading, never rewritten.
pub fn ambiguous(v: &mut Verdict, why: &str) {
    v.summary = format!(
        "{} — ambiguous document ({why}): judged on its most permissive reading",
        v.summary
    );
    v.remedy = Remedy::Manual {
        reason: format!(
            "the document can be read more than one way ({why}): which reading IAM enforces is unknown, so \
             no rewrite is known to be safe; fix it by hand"
        ),
    };
    v.needs_review = None;
}

/// The verdict of `violations` found in `target`'s document by a rule that judged more than that
/// document (a principal's policies together).
pub fn judged(
    meta: &'static RuleMeta,
    key: String,
    resources: Vec<ResourceRef>,
    violations: Vec<Violation>,
    what: &str,
    target: Target,
) -> Verdict {
    let none = |_: &PolicyDocument| Vec::new();
    Frame::new(meta, &none, key, resources).judged(violations, what, target)
}

/// A not-evaluated verdict.
pub fn skipped(meta: &'static RuleMeta, key: String, kind: SkipKind, summary: String) -> Verdict {
    let none = |_: &PolicyDocument| Vec::new();
    Frame::new(meta, &none, key, vec![]).skipped(kind, summary)
}

/// One permission policy of a principal (its own, or one of its groups').
#[derive(Debug, Clone)]
pub struct DocumentSource {
    /// The principal (or group) the policy is on.
    pub holder: PrincipalRef,
    /// `None`: an inline policy named `name`; `Some(arn)`: a managed policy.
    pub policy_arn: Option<String>,
    pub name: String,
    /// The document as IAM returned it.
    pub document: String,
}

impl DocumentSource {
    pub fn describe(&self) -> String {
        match &self.policy_arn {
            Some(arn) => format!("{arn} attached to {}", self.holder),
            None => format!("inline policy {} on {}", self.name, self.holder),
        }
    }

    pub fn target(&self) -> Target {
        match &self.policy_arn {
            Some(arn) => Target::Managed {
                policy_arn: arn.clone(),
                principal: Some(self.holder.clone()),
            },
            None => Target::Inline {
                principal: self.holder.clone(),
                policy_name: self.name.clone(),
            },
        }
    }
}

/// What judging a principal's permission policies together reads first: the principal, the
/// names of its policies and, for a user, its groups.
pub fn principal_lookups(p: &PrincipalRef) -> Vec<Lookup> {
    let mut out = vec![
        Lookup::Principal(p.clone()),
        Lookup::AttachedPolicies(p.clone()),
        Lookup::InlinePolicyNames(p.clone()),
    ];
    if p.kind == PrincipalKind::User {
        out.push(Lookup::GroupsForUser {
            user_name: p.name.clone(),
        });
    }
    out
}

/// The principal and, for a user, its groups, as far as they are known.
fn holders(p: &PrincipalRef, observed: &Observed) -> Vec<PrincipalRef> {
    let mut out = vec![p.clone()];
    if p.kind == PrincipalKind::User {
        if let Known::Present(groups) = observed.groups_for_user(&p.name) {
            out.extend(groups.iter().map(|g| PrincipalRef {
                kind: PrincipalKind::Group,
                name: g.clone(),
            }));
        }
    }
    out
}

/// What follows from what [`principal_lookups`] found: the groups' policy names, then every
/// policy's document. The pipeline asks again until nothing new is needed.
pub fn principal_followups(p: &PrincipalRef, observed: &Observed) -> Vec<Lookup> {
    let mut out = Vec::new();
    for h in holders(p, observed) {
        out.push(Lookup::AttachedPolicies(h.clone()));
        out.push(Lookup::InlinePolicyNames(h.clone()));
        if let Known::Present(arns) = observed.attached(&h) {
            out.extend(arns.iter().map(|arn| Lookup::ManagedPolicy { arn: arn.clone() }));
        }
        if let Known::Present(names) = observed.inline_names(&h) {
            out.extend(names.iter().map(|name| Lookup::InlinePolicy {
                principal: h.clone(),
                name: name.clone(),
            }));
        }
    }
    out
}

/// Every permission policy of a principal (for a user, its groups' too), each managed policy
/// once: `Ok(None)` when the principal is gone, `Err` when something could not be read (nothing is
/// judged on part of the state: fail closed).
pub fn principal_documents(
    observed: &Observed,
    p: &PrincipalRef,
) -> Result<Option<Vec<DocumentSource>>, (SkipKind, String)> {
    match observed.principal(p) {
        Known::Present(_) => {}
        Known::Absent => return Ok(None),
        Known::Unknown => return Err((SkipKind::StateUnknown, format!("could not read {p}"))),
    }
    if p.kind == PrincipalKind::User && !matches!(observed.groups_for_user(&p.name), Known::Present(_)) {
        return Err((SkipKind::StateUnknown, format!("could not list the groups of {p}")));
    }
    let unknown = |what: String| Err((SkipKind::StateUnknown, format!("could not read {what}")));
    let mut out: Vec<DocumentSource> = Vec::new();
    for h in holders(p, observed) {
        let (Known::Present(arns), Known::Present(names)) = (observed.attached(&h), observed.inline_names(&h)) else {
            return unknown(format!("the policies of {h}"));
        };
        for arn in arns {
            if out.iter().any(|s| s.policy_arn.as_deref() == Some(arn.as_str())) {
                continue;
            }
            match observed.managed_policy(arn) {
                Known::Present(m) => out.push(DocumentSource {
                    holder: h.clone(),
                    policy_arn: Some(arn.clone()),
                    name: arn.rsplit('/').next().unwrap_or_default().to_string(),
                    document: m.document.clone(),
                }),
                // Deleted since it was listed: it grants nothing.
                Known::Absent => {}
                Known::Unknown => return unknown(format!("policy {arn}")),
            }
        }
        for name in names {
            match observed.inline_policy(&h, name) {
                Known::Present(doc) => out.push(DocumentSource {
                    holder: h.clone(),
                    policy_arn: None,
                    name: name.clone(),
                    document: doc.clone(),
                }),
                Known::Absent => {}
                Known::Unknown => return unknown(format!("inline policy {name} on {h}")),
            }
        }
    }
    Ok(Some(out))
}

/// The key of a verdict on a principal's policies judged together, on `source` (or on none: a
/// not-evaluated verdict). Security Hub's source maps it back (`sources/securityhub.rs`).
pub fn combined_key(
    finding: &Finding,
    observed: &Observed,
    p: &PrincipalRef,
    source: Option<&DocumentSource>,
) -> String {
    let (arn, _) = principal_arn(finding, observed, p);
    match source {
        None => format!("{arn}|combined"),
        Some(s) => match (&s.policy_arn, &s.holder == p) {
            (Some(policy), _) => format!("{arn}|combined|{policy}"),
            (None, true) => format!("{arn}|combined|inline/{}", s.name),
            (None, false) => format!(
                "{arn}|combined|{}/{}/inline/{}",
                s.holder.kind.as_str(),
                s.holder.name,
                s.name
            ),
        },
    }
}

/// The resources of such a verdict: the principal, and the managed policy its fix edits.
pub fn combined_resources(
    finding: &Finding,
    observed: &Observed,
    p: &PrincipalRef,
    source: &DocumentSource,
) -> Vec<ResourceRef> {
    let (arn, _) = principal_arn(finding, observed, p);
    let mut out = vec![ResourceRef {
        resource_type: ResourceType::of_principal(p.kind),
        arn,
    }];
    if &source.holder != p {
        out.push(ResourceRef {
            resource_type: ResourceType::AwsIamGroup,
            arn: fallback_principal_arn(&finding.partition, &finding.account, &source.holder),
        });
    }
    if let Some(policy) = &source.policy_arn {
        out.push(ResourceRef {
            resource_type: ResourceType::AwsIamPolicy,
            arn: policy.clone(),
        });
    }
    out
}

fn principal_arn(finding: &Finding, observed: &Observed, p: &PrincipalRef) -> (String, Option<bool>) {
    match observed.principal(p) {
        Known::Present(info) => (info.arn.clone(), Some(true)),
        Known::Absent => (
            fallback_principal_arn(&finding.partition, &finding.account, p),
            Some(false),
        ),
        Known::Unknown => (fallback_principal_arn(&finding.partition, &finding.account, p), None),
    }
}

fn principal_gate(frame: &Frame<'_>, p: &PrincipalRef, exists: Option<bool>) -> Option<Verdict> {
    match exists {
        Some(true) => None,
        Some(false) => Some(frame.skipped(
            SkipKind::PrincipalNotFound,
            format!("{p} no longer exists; nothing to fix"),
        )),
        None => Some(frame.skipped(SkipKind::StateUnknown, format!("could not read {p}"))),
    }
}

fn managed_policy<'o>(frame: &Frame<'_>, observed: &'o Observed, arn: &str) -> Result<&'o ManagedPolicy, Box<Verdict>> {
    match observed.managed_policy(arn) {
        Known::Present(m) => Ok(m),
        Known::Absent => Err(Box::new(
            frame.skipped(SkipKind::PolicyNotFound, format!("policy {arn} does not exist")),
        )),
        Known::Unknown => Err(Box::new(
            frame.skipped(SkipKind::StateUnknown, format!("could not read policy {arn}")),
        )),
    }
}

fn parse_live(frame: &Frame<'_>, raw: &str, what: &str) -> Result<PolicyDocument, Box<Verdict>> {
    PolicyDocument::parse(raw)
        .map_err(|e| Box::new(frame.skipped(SkipKind::PolicyUnreadable, format!("{what} could not be parsed: {e}"))))
}

/// A customer-managed policy's default version, judged (the fix: a new default version).
fn judge_default(frame: &Frame<'_>, policy: &ManagedPolicy, event_document: Option<&str>) -> Verdict {
    let what = format!("default version {} of {}", policy.default_version_id, policy.arn);
    frame.judge(
        &policy.document,
        &what,
        event_document,
        Target::Managed {
            policy_arn: policy.arn.clone(),
            principal: None,
        },
    )
}

/// The verdict of one document rule for one finding, or `None` when the rule does not apply.
pub fn evaluate(
    meta: &'static RuleMeta,
    kinds: &[DocumentKind],
    check: &dyn Fn(&PolicyDocument) -> Vec<Violation>,
    finding: &Finding,
    observed: &Observed,
) -> Option<Verdict> {
    if !kind_of(&finding.subject).is_some_and(|k| kinds.contains(&k)) {
        return None;
    }
    Some(match &finding.subject {
        Subject::PolicyAttached { principal, policy_arn } => {
            let (arn, exists) = principal_arn(finding, observed, principal);
            let key = format!("{arn}|{policy_arn}");
            let frame = Frame::new(
                meta,
                check,
                key,
                vec![
                    ResourceRef {
                        resource_type: ResourceType::of_principal(principal.kind),
                        arn,
                    },
                    ResourceRef {
                        resource_type: ResourceType::AwsIamPolicy,
                        arn: policy_arn.clone(),
                    },
                ],
            );
            if let Some(v) = principal_gate(&frame, principal, exists) {
                return Some(v);
            }
            let policy = match managed_policy(&frame, observed, policy_arn) {
                Ok(m) => m,
                Err(v) => return Some(*v),
            };
            let what = format!("{policy_arn} ({}) attached to {principal}", policy.default_version_id);
            let doc = match parse_live(&frame, &policy.document, &what) {
                Ok(d) => d,
                Err(v) => return Some(*v),
            };
            let violations = check(&doc);
            if violations.is_empty() {
                return Some(frame.clean(None, &what));
            }
            match observed.attached(principal) {
                Known::Present(list) if list.contains(policy_arn) => {}
                Known::Unknown => {
                    return Some(frame.skipped(
                        SkipKind::StateUnknown,
                        format!("could not list the policies attached to {principal}"),
                    ))
                }
                _ => {
                    let mut v = frame.verdict(
                        Status::Resolved,
                        meta.severity,
                        format!("{policy_arn} has this problem but is no longer attached to {principal}"),
                    );
                    v.matched_statements = violations.iter().map(|x| x.label.clone()).collect();
                    return Some(v);
                }
            }
            frame.judged(
                violations,
                &what,
                Target::Managed {
                    policy_arn: policy_arn.clone(),
                    principal: Some(principal.clone()),
                },
            )
        }
        Subject::InlinePolicyPut {
            principal,
            policy_name,
            document,
        } => {
            let (arn, exists) = principal_arn(finding, observed, principal);
            let key = format!("{arn}|inline/{policy_name}");
            let resources = vec![ResourceRef {
                resource_type: ResourceType::of_principal(principal.kind),
                arn,
            }];
            let frame = Frame::new(meta, check, key, resources);
            if let Some(v) = principal_gate(&frame, principal, exists) {
                return Some(v);
            }
            let what = format!("inline policy {policy_name} on {principal}");
            let raw = match observed.inline_policy(principal, policy_name) {
                Known::Present(raw) => raw,
                Known::Absent => return Some(frame.clean(document.as_deref(), &format!("{what} (deleted)"))),
                Known::Unknown => return Some(frame.skipped(SkipKind::StateUnknown, format!("could not read {what}"))),
            };
            frame.judge(
                raw,
                &what,
                document.as_deref(),
                Target::Inline {
                    principal: principal.clone(),
                    policy_name: policy_name.clone(),
                },
            )
        }
        Subject::ManagedPolicyChanged { policy_arn, document } => {
            let resources = vec![ResourceRef {
                resource_type: ResourceType::AwsIamPolicy,
                arn: policy_arn.clone(),
            }];
            let frame = Frame::new(meta, check, policy_arn.clone(), resources);
            let policy = match managed_policy(&frame, observed, policy_arn) {
                Ok(m) => m,
                Err(v) => return Some(*v),
            };
            judge_default(&frame, policy, document.as_deref())
        }
        Subject::DormantPolicyVersion {
            policy_arn,
            version_id,
            document,
            kept,
        } => {
            let resources = vec![ResourceRef {
                resource_type: ResourceType::AwsIamPolicy,
                arn: policy_arn.clone(),
            }];
            let asked = version_id.as_deref().unwrap_or("newest non-default");
            let mut frame = Frame::new(meta, check, format!("{policy_arn}|{asked}"), resources);
            let policy = match managed_policy(&frame, observed, policy_arn) {
                Ok(m) => m,
                Err(v) => return Some(*v),
            };
            let version = match observed.policy_version(policy_arn, version_id.as_deref()) {
                Known::Present(v) => v,
                Known::Absent => {
                    return Some(frame.clean(
                        document.as_deref(),
                        &format!("version {asked} of {policy_arn} (deleted)"),
                    ))
                }
                Known::Unknown => {
                    return Some(frame.skipped(
                        SkipKind::StateUnknown,
                        format!("could not read version {asked} of {policy_arn}"),
                    ))
                }
            };
            if version.is_default || version.id == policy.default_version_id {
                // Made the default since: judged (and fixed) as the policy in force.
                frame.key = policy_arn.clone();
                return Some(judge_default(&frame, policy, document.as_deref()));
            }
            frame.key = format!("{policy_arn}|{}", version.id);
            let what = format!(
                "non-default version {} of {policy_arn} (dormant: in force with one SetDefaultPolicyVersion)",
                version.id
            );
            let doc = match parse_live(&frame, &version.document, &what) {
                Ok(d) => d,
                Err(v) => return Some(*v),
            };
            let violations = check(&doc);
            if violations.is_empty() {
                return Some(frame.clean(document.as_deref(), &what));
            }
            // The responder's own: the default its rewrite replaced, kept for undo (the live
            // document is the one the marker names, so nothing was slipped in under its id).
            if !kept.is_empty() && crate::undo::document_digest(&version.document).is_some_and(|d| kept.contains(&d)) {
                return Some(frame.skipped(
                    SkipKind::KeptForUndo,
                    format!(
                        "{what}: kept by the responder when its fix replaced it as the default, so that the fix can be \
                         undone; it grants nothing until someone makes it the default again. Delete it \
                         (iam:DeletePolicyVersion) once the fix is accepted"
                    ),
                ));
            }
            let mut v = frame.judged(
                violations,
                &what,
                Target::Managed {
                    policy_arn: policy_arn.clone(),
                    principal: None,
                },
            );
            if let Remedy::Edit { .. } = v.remedy {
                // The version grants nothing today: deleting it changes no one's permissions, and
                // removes the risk whole (its other statements are not in force either). Undone by
                // creating it again, as a non-default version.
                let Ok(original) = crate::policy::decode(&version.document) else {
                    return Some(frame.skipped(SkipKind::PolicyUnreadable, format!("{what} could not be decoded")));
                };
                v.remedy = Remedy::Apply {
                    steps: vec![Step {
                        action: Action::DeletePolicyVersion {
                            policy_arn: policy_arn.clone(),
                            version_id: version.id.clone(),
                        },
                        inverse: Action::CreatePolicyVersion {
                            policy_arn: policy_arn.clone(),
                            document: original,
                            set_as_default: false,
                        },
                    }],
                };
                v.needs_review = None;
            }
            v
        }
        Subject::TrustPolicyChanged { role, document } => {
            let (arn, exists) = principal_arn(finding, observed, role);
            let key = format!("{arn}|trust");
            let frame = Frame::new(
                meta,
                check,
                key,
                vec![ResourceRef {
                    resource_type: ResourceType::AwsIamRole,
                    arn,
                }],
            );
            if let Some(v) = principal_gate(&frame, role, exists) {
                return Some(v);
            }
            let what = format!("trust policy of {role}");
            let raw = match observed.principal(role) {
                Known::Present(info) => info.trust_policy.as_deref(),
                _ => None,
            };
            let Some(raw) = raw else {
                return Some(frame.skipped(SkipKind::StateUnknown, format!("could not read the {what}")));
            };
            frame.judge(
                raw,
                &what,
                document.as_deref(),
                Target::Trust {
                    role_name: role.name.clone(),
                },
            )
        }
        _ => return None,
    })
}
