//! Stage: expand. Subjects that name a resource indirectly become the subjects rules judge
//! (Config ids resolved, a principal under review split into its policies), and the live state the
//! rules ask for is read.

use super::*;

/// Reads each of `lookups` not answered yet into `observed`. A failed read leaves its key unknown
/// (nothing acts on it: rules and the planner fail closed) and goes into the report.
pub(super) async fn read_missing(
    ports: &Ports,
    lookups: &BTreeSet<Lookup>,
    observed: &mut Observed,
    report: &mut Report,
) {
    let missing: Vec<&Lookup> = lookups.iter().filter(|l| !observed.has(l)).collect();
    for lookup in missing {
        if let Err(e) = ports.read(lookup, observed).await {
            tracing::warn!(error = %e, ?lookup, "read failed; nothing will act on unknown state");
            report.errors.push(e);
        }
    }
}

impl Responder {
    /// Turns subjects that name a resource only indirectly into the subjects rules judge: a Config
    /// resource id becomes a name, a principal under review becomes one subject per policy it has
    /// now. Resources that no longer exist get a not-evaluated verdict; failed reads an error.
    /// What it reads on the way is recorded in `seen`.
    pub(super) async fn expand(
        &self,
        ports: &Ports,
        finding: Finding,
        report: &mut Report,
        seen: &mut Observed,
    ) -> Vec<Finding> {
        let with = |subject: Subject| Finding {
            subject,
            ..finding.clone()
        };
        match &finding.subject {
            Subject::ConfigResource {
                resource_type,
                resource_id,
            } => {
                let resolved = if resource_type == ResourceKind::RdsDbInstance.config_type() {
                    ports.tags.find_db_instance(resource_id).await.map(|found| {
                        let (name, tags) = found?;
                        let resource = AwsResource::new(
                            ResourceKind::RdsDbInstance,
                            &name,
                            &finding.partition,
                            &finding.region,
                            &finding.account,
                        )?;
                        // The answer that named the instance carried its tags.
                        seen.tags.insert(resource.arn.clone(), Some(tags));
                        Some(Subject::ResourceTagsCheck { resource })
                    })
                } else {
                    ports.iam.find_by_id(resource_type, resource_id).await.map(|found| {
                        found.map(|name| match resource_type.as_str() {
                            "AWS::IAM::Policy" => Subject::ManagedPolicyChanged {
                                policy_arn: name,
                                document: None,
                            },
                            t => Subject::PrincipalReview {
                                principal: PrincipalRef {
                                    kind: match t {
                                        "AWS::IAM::User" => PrincipalKind::User,
                                        "AWS::IAM::Group" => PrincipalKind::Group,
                                        _ => PrincipalKind::Role,
                                    },
                                    name,
                                },
                            },
                        })
                    })
                };
                match resolved {
                    Ok(Some(subject)) => Box::pin(self.expand(ports, with(subject), report, seen)).await,
                    Ok(None) => {
                        self.gone(
                            &finding,
                            report,
                            format!("{resource_type} {resource_id} no longer exists; nothing to do"),
                        );
                        vec![]
                    }
                    Err(e) => {
                        report.errors.push(e);
                        vec![]
                    }
                }
            }
            Subject::PrincipalReview { principal } => {
                for lookup in [
                    Lookup::Principal(principal.clone()),
                    Lookup::AttachedPolicies(principal.clone()),
                    Lookup::InlinePolicyNames(principal.clone()),
                ] {
                    if let Err(e) = ports.read(&lookup, seen).await {
                        report.errors.push(e);
                        return vec![];
                    }
                }
                let (Known::Present(_), Known::Present(attached), Known::Present(inline)) = (
                    seen.principal(principal),
                    seen.attached(principal),
                    seen.inline_names(principal),
                ) else {
                    self.gone(&finding, report, format!("{principal} no longer exists; nothing to do"));
                    return vec![];
                };
                let mut out: Vec<Finding> = attached
                    .iter()
                    .map(|arn| {
                        with(Subject::PolicyAttached {
                            principal: principal.clone(),
                            policy_arn: arn.clone(),
                        })
                    })
                    .chain(inline.iter().map(|name| {
                        with(Subject::InlinePolicyPut {
                            principal: principal.clone(),
                            policy_name: name.clone(),
                            document: None,
                        })
                    }))
                    .collect();
                if principal.kind == PrincipalKind::Role {
                    out.push(with(Subject::TrustPolicyChanged {
                        role: principal.clone(),
                        document: None,
                    }));
                }
                if out.is_empty() && principal.kind != PrincipalKind::User {
                    report.reason = Some(format!("{principal} has no policies; nothing to judge"));
                    return out;
                }
                // Its permission policies together (a user's groups' too): escalation split
                // across two of them.
                out.push(with(Subject::PrincipalPermissions {
                    principal: principal.clone(),
                }));
                out
            }
            // A principal got a policy: judged alone, and with the principal's other policies.
            Subject::InlinePolicyPut { principal, .. } | Subject::PolicyAttached { principal, .. } => {
                let whole = with(Subject::PrincipalPermissions {
                    principal: principal.clone(),
                });
                vec![finding, whole]
            }
            _ => vec![finding],
        }
    }

    /// Records that the resource an event names is gone: a not-evaluated verdict for each rule the
    /// finding names (nothing is posted or written).
    pub(super) fn gone(&self, finding: &Finding, report: &mut Report, summary: String) {
        report.reason = Some(summary.clone());
        let Some(only) = &finding.only_rules else { return };
        for rule in self.rules.iter().filter(|r| only.iter().any(|id| id == r.meta().id)) {
            report.verdicts.push(Verdict {
                rule_id: rule.meta().id,
                status: Status::NotEvaluated {
                    kind: SkipKind::ResourceNotFound,
                },
                severity: rule.meta().severity,
                summary: summary.clone(),
                resources: vec![ResourceRef {
                    resource_type: ResourceType::Other,
                    arn: String::new(),
                }],
                key: String::new(),
                matched_statements: vec![],
                matched_actions: vec![],
                remedy: Remedy::None,
                needs_review: None,
            });
        }
    }
}
