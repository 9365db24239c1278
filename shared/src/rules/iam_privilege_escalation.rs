//! `iam-privilege-escalation`: a principal can grant itself more. The methods are data
//! (`shared/data/escalation-methods.json`, [`crate::escalation`]): single actions such as
//! `iam:CreatePolicyVersion`, and combinations such as `iam:PassRole` with a service that runs code
//! under the passed role, each action granted on every resource. Asked of the grant model
//! ([`crate::grants`]): patterns are the catalogue actions they match (`iam:Put*`, `iam:*Policy*`,
//! `IAM:pass?ole`, `NotAction`), "every resource" is every ARN of the action's resource types
//! (`iam:PassRole` on `arn:aws:iam::*:role/*` is on every role), net of unconditional Deny;
//! `iam:PassedToService` narrows PassRole to the services it lists.
//!
//! Judged twice: each permission document alone (every-action patterns, `*`, are left to
//! `iam-admin-access` when the document grants everything), and a principal's permission policies
//! read as one — its inline and attached policies and, for a user, its groups' — so a combination
//! split across two policies is found (`Subject::PrincipalPermissions`; an explicit Deny in any of
//! them counts). A split combination is reported on each policy that holds a grant the method's
//! `removes` names (for the PassRole paths, the PassRole grant), and its fix takes that grant away
//! there; the summary names the policies that contribute the rest.
//!
//! Fix: remove the patterns that grant what the method's `removes` names; for a `NotAction`
//! statement, add those actions to its `NotAction` list.

use super::documents;
use super::{Rule, RuleMeta, Severity, SkipKind, Verdict, Violation, PERMISSION_KINDS};
use crate::edit::StatementEdit;
use crate::escalation::{self, only_passed_to, Completed};
use crate::finding::{Finding, PrincipalRef, Subject};
use crate::grants::Grants;
use crate::policy::{is_any_action, wildcard_match, ActionBlock, DocumentKind, PolicyDocument, Statement};
use crate::state::{Lookup, Observed};
use std::collections::{BTreeMap, BTreeSet};

pub const ID: &str = "iam-privilege-escalation";

/// The single actions that each let a principal raise its own privileges (from the data file).
pub fn single_actions() -> Vec<&'static str> {
    escalation::methods()
        .iter()
        .filter(|m| m.needs.len() == 1 && m.needs[0].len() == 1)
        .map(|m| m.needs[0][0].as_str())
        .collect()
}

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Policy allows privilege escalation",
    description: "A principal's policies allow, on every resource, an action (or a combination such as iam:PassRole with a compute service) that lets the principal grant itself more permissions; judged per policy and over all the principal's policies together.",
    severity: Severity::High,
    recommendation: "Remove the escalation actions, or scope them to specific resources and protect them with conditions and permissions boundaries.",
    recommendation_url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
    security_hub_control: None,
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices", "TTPs/Privilege Escalation"],
    report_only: false,
    accepted_risk: false,
    record_first: true,
};

/// The rule.
pub struct IamPrivilegeEscalation;

#[derive(Default)]
struct Hit {
    /// Actions shown in the finding.
    shown: Vec<String>,
    /// Actions the fix takes away from this statement.
    remove: Vec<String>,
}

fn push(list: &mut Vec<String>, v: &str) {
    if !list.iter().any(|x| x == v) {
        list.push(v.to_string());
    }
}

/// The violation of one statement that holds grants a fix removes. `with_any`: every-action
/// patterns may be removed too.
fn violation(s: &Statement, hit: Hit, with_any: bool) -> Violation {
    let edit = match &s.actions {
        ActionBlock::Action(patterns) => StatementEdit::RemoveActionPatterns {
            statement: s.index,
            patterns: patterns
                .iter()
                .filter(|p| (with_any || !is_any_action(p)) && hit.remove.iter().any(|a| wildcard_match(p, a)))
                .cloned()
                .collect(),
        },
        ActionBlock::NotAction(_) => StatementEdit::AddNotActions {
            statement: s.index,
            actions: hit.remove.clone(),
        },
    };
    Violation {
        statement: s.index,
        label: s.label(),
        matched: hit.shown,
        // A Condition on iam:PassedToService alone was judged (the role can be passed to the
        // service the method needs): it does not lower severity.
        conditioned: s.has_condition && !only_passed_to(s),
        edits: vec![edit],
    }
}

/// Statement (of `doc`'s numbering, through `at`) → what the completed methods show and remove.
fn hits<'c>(completed: impl Iterator<Item = &'c Completed>, at: impl Fn(usize) -> usize) -> BTreeMap<usize, Hit> {
    let mut hits: BTreeMap<usize, Hit> = BTreeMap::new();
    for c in completed {
        for (statement, removes) in &c.holders {
            let h = hits.entry(at(*statement)).or_default();
            for a in &c.shown {
                push(&mut h.shown, a);
            }
            for a in removes {
                push(&mut h.remove, a);
            }
        }
    }
    hits
}

/// The principal-level judgment: the methods the principal's policies complete together but none
/// completes alone, one verdict per policy holding a grant to remove.
fn judge_principal(finding: &Finding, observed: &Observed, principal: &PrincipalRef) -> Vec<Verdict> {
    let sources = match documents::principal_documents(observed, principal) {
        Ok(Some(s)) => s,
        // Gone: the principal's other subjects say so.
        Ok(None) => return vec![],
        Err((kind, summary)) => {
            return vec![documents::skipped(
                &META,
                documents::combined_key(finding, observed, principal, None),
                kind,
                summary,
            )]
        }
    };
    let mut docs: Vec<PolicyDocument> = Vec::new();
    for s in &sources {
        match PolicyDocument::parse(&s.document) {
            Ok(d) => docs.push(d),
            Err(e) => {
                return vec![documents::skipped(
                    &META,
                    documents::combined_key(finding, observed, principal, None),
                    SkipKind::PolicyUnreadable,
                    format!("{} could not be parsed: {e}", s.describe()),
                )]
            }
        }
    }
    let alone: BTreeSet<&str> = docs
        .iter()
        .flat_map(|d| escalation::completed(d, &Grants::of(d), true))
        .map(|c| c.method.id.as_str())
        .collect();
    let refs: Vec<&PolicyDocument> = docs.iter().collect();
    let (merged, origin) = PolicyDocument::merged(&refs);
    let grants = Grants::of(&merged);
    let split: Vec<Completed> = escalation::completed(&merged, &grants, true)
        .into_iter()
        .filter(|c| !alone.contains(c.method.id.as_str()))
        .collect();
    if split.is_empty() {
        return vec![];
    }
    // Which policies grant what each split method shows (named in every verdict's summary).
    let mut contributing: Vec<String> = Vec::new();
    for c in &split {
        for action in &c.shown {
            let Some(id) = grants.catalogue().find(action) else {
                continue;
            };
            for i in grants.granting(id, true) {
                let d = sources[origin[i].0].describe();
                if !contributing.contains(&d) {
                    contributing.push(d);
                }
            }
        }
    }
    let methods: Vec<&str> = split.iter().map(|c| c.method.id.as_str()).collect();
    let mut out = Vec::new();
    for (d, source) in sources.iter().enumerate() {
        let in_doc: Vec<Completed> = split
            .iter()
            .map(|c| Completed {
                holders: c.holders.iter().filter(|(i, _)| origin[*i].0 == d).cloned().collect(),
                ..c.clone()
            })
            .filter(|c| !c.holders.is_empty())
            .collect();
        if in_doc.is_empty() {
            continue;
        }
        let violations: Vec<Violation> = hits(in_doc.iter(), |i| origin[i].1)
            .into_iter()
            .map(|(index, hit)| violation(&docs[d].statements[index], hit, true))
            .collect();
        let what = format!(
            "{} of {principal}, with its other policies ({}; together: {})",
            source.describe(),
            contributing.join(", "),
            methods.join(", ")
        );
        let mut v = documents::judged(
            &META,
            documents::combined_key(finding, observed, principal, Some(source)),
            documents::combined_resources(finding, observed, principal, source),
            violations,
            &what,
            source.target(),
        );
        if !merged.ambiguities.is_empty() {
            documents::ambiguous(&mut v, &merged.ambiguities.join("; "));
        }
        out.push(v);
    }
    out
}

impl Rule for IamPrivilegeEscalation {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn document_kinds(&self) -> &'static [DocumentKind] {
        PERMISSION_KINDS
    }

    fn check_document(&self, doc: &PolicyDocument) -> Vec<Violation> {
        let grants = Grants::of(doc);
        // Every-action patterns are the admin rule's when the document grants everything.
        let everything = grants.grants_everything().unwrap_or_default();
        let completed = escalation::completed(doc, &grants, everything.is_empty());
        hits(completed.iter(), |i| i)
            .into_iter()
            .map(|(index, hit)| violation(&doc.statements[index], hit, !everything.contains(&index)))
            .collect()
    }

    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        match &finding.subject {
            Subject::PrincipalPermissions { principal } => documents::principal_lookups(principal),
            _ => documents::lookups(self.document_kinds(), finding),
        }
    }

    fn followup_lookups(&self, finding: &Finding, observed: &Observed) -> Vec<Lookup> {
        match &finding.subject {
            Subject::PrincipalPermissions { principal } => documents::principal_followups(principal, observed),
            _ => vec![],
        }
    }

    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        match &finding.subject {
            Subject::PrincipalPermissions { principal } => judge_principal(finding, observed, principal),
            _ => super::document_verdicts(self, finding, observed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Actor, PrincipalKind, SourceKind};
    use crate::plan::{Remedy, Target};
    use crate::rules::Status;
    use crate::state::{ManagedPolicy, PrincipalInfo};

    const ACCOUNT: &str = "123456789012";

    fn who(kind: PrincipalKind, name: &str) -> PrincipalRef {
        PrincipalRef {
            kind,
            name: name.into(),
        }
    }

    fn finding(p: &PrincipalRef) -> Finding {
        Finding {
            event_id: "e-1".into(),
            source: SourceKind::Audit,
            detail_type: "audit".into(),
            event_name: "audit".into(),
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            time: "2026-12-07T10:00:00Z".parse().unwrap(),
            actor: Actor {
                identity_type: "AWSService".into(),
                arn: None,
                name: None,
                account_id: None,
            },
            subject: Subject::PrincipalPermissions { principal: p.clone() },
            only_rules: None,
            also: vec![],
            raw_detail: serde_json::Value::Null,
        }
    }

    fn allow(actions: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#)
    }

    /// A principal with `inline` (name, document) and `managed` (name, document) policies; for a
    /// user, `groups` each with one inline policy.
    fn observed(
        p: &PrincipalRef,
        inline: &[(&str, String)],
        managed: &[(&str, String)],
        groups: &[(&str, String)],
    ) -> Observed {
        let mut o = Observed::default();
        let add = |o: &mut Observed, h: &PrincipalRef, inline: &[(&str, String)], managed: &[(&str, String)]| {
            o.principals.insert(
                h.clone(),
                Some(PrincipalInfo {
                    arn: format!("arn:aws:iam::{ACCOUNT}:{}/{}", h.kind.as_str(), h.name),
                    trust_policy: None,
                    tags: Default::default(),
                }),
            );
            o.inline_names
                .insert(h.clone(), Some(inline.iter().map(|(n, _)| n.to_string()).collect()));
            for (n, d) in inline {
                o.inline_policies.insert((h.clone(), n.to_string()), Some(d.clone()));
            }
            let arns: Vec<String> = managed
                .iter()
                .map(|(n, _)| format!("arn:aws:iam::{ACCOUNT}:policy/{n}"))
                .collect();
            for ((n, d), arn) in managed.iter().zip(&arns) {
                o.managed_policies.insert(
                    arn.clone(),
                    Some(ManagedPolicy {
                        arn: arn.clone(),
                        name: n.to_string(),
                        default_version_id: "v1".into(),
                        document: d.clone(),
                        versions: vec![],
                        oldest_non_default: None,
                        tags: Default::default(),
                        versions_read: false,
                    }),
                );
            }
            o.attached.insert(h.clone(), Some(arns));
        };
        add(&mut o, p, inline, managed);
        if p.kind == PrincipalKind::User {
            o.groups_for_user.insert(
                p.name.clone(),
                Some(groups.iter().map(|(g, _)| g.to_string()).collect()),
            );
            for (g, d) in groups {
                add(&mut o, &who(PrincipalKind::Group, g), &[("g", d.clone())], &[]);
            }
        }
        o
    }

    fn judge(p: &PrincipalRef, o: &Observed) -> Vec<Verdict> {
        IamPrivilegeEscalation.evaluate(&finding(p), o)
    }

    #[test]
    fn passrole_and_run_instances_in_two_policies_are_found_and_passrole_removed() {
        let role = who(PrincipalKind::Role, "app");
        let o = observed(
            &role,
            &[("pass", allow(r#"["iam:PassRole","s3:GetObject"]"#))],
            &[("ec2", allow(r#""ec2:RunInstances""#))],
            &[],
        );
        // Neither policy alone is an escalation.
        for d in [
            allow(r#"["iam:PassRole","s3:GetObject"]"#),
            allow(r#""ec2:RunInstances""#),
        ] {
            assert!(IamPrivilegeEscalation
                .check_document(&PolicyDocument::parse(&d).unwrap())
                .is_empty());
        }
        let v = judge(&role, &o);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].status, Status::NonCompliant);
        assert_eq!(
            v[0].key,
            format!("arn:aws:iam::{ACCOUNT}:role/app|combined|inline/pass")
        );
        assert!(
            v[0].summary.contains("passrole-ec2") && v[0].summary.contains("policy/ec2"),
            "{}",
            v[0].summary
        );
        let Remedy::Edit { target, edits } = &v[0].remedy else {
            panic!("{:?}", v[0].remedy)
        };
        assert_eq!(
            target,
            &Target::Inline {
                principal: role.clone(),
                policy_name: "pass".into()
            }
        );
        assert_eq!(
            edits,
            &vec![StatementEdit::RemoveActionPatterns {
                statement: 0,
                patterns: vec!["iam:PassRole".into()]
            }]
        );
    }

    #[test]
    fn a_deny_in_another_policy_or_a_narrow_pass_to_closes_the_path() {
        let role = who(PrincipalKind::Role, "app");
        let deny = r#"{"Statement":[{"Effect":"Deny","Action":"iam:PassRole","Resource":"*"}]}"#.to_string();
        let o = observed(
            &role,
            &[("pass", allow(r#""iam:PassRole""#)), ("deny", deny)],
            &[("ec2", allow(r#""ec2:RunInstances""#))],
            &[],
        );
        assert!(judge(&role, &o).is_empty());
        let to_dax = r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"dax.amazonaws.com"}}}]}"#;
        let o = observed(
            &role,
            &[("pass", to_dax.into())],
            &[("ec2", allow(r#""ec2:RunInstances""#))],
            &[],
        );
        assert!(judge(&role, &o).is_empty());
    }

    #[test]
    fn a_combination_complete_in_one_policy_is_left_to_the_document_judgment() {
        let role = who(PrincipalKind::Role, "app");
        let o = observed(
            &role,
            &[("both", allow(r#"["iam:PassRole","ec2:RunInstances"]"#))],
            &[],
            &[],
        );
        assert!(judge(&role, &o).is_empty());
    }

    #[test]
    fn a_users_group_policy_counts_and_holds_the_grant() {
        let user = who(PrincipalKind::User, "dev");
        let o = observed(
            &user,
            &[("fn", allow(r#"["lambda:CreateFunction","lambda:InvokeFunction"]"#))],
            &[],
            &[("builders", allow(r#""iam:PassRole""#))],
        );
        let v = judge(&user, &o);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(
            v[0].key,
            format!("arn:aws:iam::{ACCOUNT}:user/dev|combined|group/builders/inline/g")
        );
        let Remedy::Edit { target, .. } = &v[0].remedy else {
            panic!()
        };
        assert_eq!(
            target,
            &Target::Inline {
                principal: who(PrincipalKind::Group, "builders"),
                policy_name: "g".into()
            }
        );
    }

    #[test]
    fn unread_state_is_not_judged() {
        let user = who(PrincipalKind::User, "dev");
        let mut o = observed(&user, &[("fn", allow(r#""lambda:CreateFunction""#))], &[], &[]);
        o.groups_for_user.clear();
        let v = judge(&user, &o);
        assert!(matches!(v[0].status, Status::NotEvaluated { .. }), "{v:#?}");
        let role = who(PrincipalKind::Role, "app");
        let mut o = observed(&role, &[("a", allow(r#""iam:PassRole""#))], &[], &[]);
        o.inline_policies.clear();
        assert!(matches!(judge(&role, &o)[0].status, Status::NotEvaluated { .. }));
    }

    #[test]
    fn followups_ask_for_groups_policies_then_their_documents() {
        let user = who(PrincipalKind::User, "dev");
        let full = observed(&user, &[], &[], &[("builders", allow(r#""iam:PassRole""#))]);
        let mut o = Observed {
            groups_for_user: full.groups_for_user.clone(),
            ..Default::default()
        };
        let asked = IamPrivilegeEscalation.followup_lookups(&finding(&user), &o);
        let group = who(PrincipalKind::Group, "builders");
        assert!(asked.contains(&Lookup::InlinePolicyNames(group.clone())));
        o.inline_names = full.inline_names.clone();
        let asked = IamPrivilegeEscalation.followup_lookups(&finding(&user), &o);
        assert!(asked.contains(&Lookup::InlinePolicy {
            principal: group,
            name: "g".into()
        }));
    }
}
