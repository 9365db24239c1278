//! Stages: guard, plan and gate, record first, execute, update. Guards, exemptions and
//! suppressions withhold what must not be fixed; the plan merges the rest; each step gets its gate;
//! the findings are recorded before any write; the executor applies the plan; the findings are
//! updated after it.

use super::expand::read_missing;
use super::record::{final_finding, post};
use super::*;

impl Responder {
    pub(super) async fn evaluate_and_fix(
        &self,
        route: &Route,
        findings: &[Finding],
        report: &mut Report,
        seen: Observed,
        decision: &Decision,
    ) {
        let finding = &findings[0];
        let ports = &route.ports;
        // Live state, each read once.
        let lookups: BTreeSet<Lookup> = findings
            .iter()
            .flat_map(|f| {
                self.rules
                    .iter()
                    .filter(move |r| self.applies(r.as_ref(), f))
                    .flat_map(move |r| r.lookups(f))
            })
            .collect();
        let mut observed = Observed {
            read_at: Some(chrono::Utc::now()),
            ..seen
        };
        read_missing(ports, &lookups, &mut observed, report).await;
        // Reads that depend on what was read (names, then documents: a user's groups, then their
        // policies, then those documents), until nothing new is asked; bounded all the same.
        for _ in 0..4 {
            let followups: BTreeSet<Lookup> = findings
                .iter()
                .flat_map(|f| {
                    self.rules
                        .iter()
                        .filter(move |r| self.applies(r.as_ref(), f))
                        .flat_map(|r| r.followup_lookups(f, &observed))
                })
                .filter(|l| !observed.has(l))
                .collect();
            if followups.is_empty() {
                break;
            }
            let before = report.errors.len();
            read_missing(ports, &followups, &mut observed, report).await;
            if report.errors.len() > before {
                // A failed read stays unknown: asking again would only repeat it.
                break;
            }
        }

        // Rules that fix, then the plan that merges their edits per document.
        let mut verdicts = self.judge(findings, &observed, false);
        if let Decision::Approved(ids) = decision {
            // Only the findings the person chose. One found compliant on the live state was
            // non-compliant when recorded (it was selected as such): its risk is gone, and it is
            // recorded so (PASSED), judged on the same key.
            verdicts.retain(|v| {
                ids.contains(&asff::finding_id_in(
                    &route.record_region,
                    &finding.account,
                    v.rule_id,
                    &v.key,
                ))
            });
            for v in &mut verdicts {
                if v.status == Status::Compliant {
                    v.status = Status::Resolved;
                }
            }
        }
        // Protected, allow-listed, foreign and exempt resources keep their finding but lose their
        // fix (before anything is planned).
        self.config.guards.apply(&mut verdicts, &finding.account);
        crate::exemptions::apply(&mut verdicts, &observed, chrono::Utc::now(), &self.config.exempt_tag);
        // A new default version of a customer-managed policy changes every principal it is
        // attached to: read them (only for the policies a fix would rewrite), and withhold the
        // rewrite when one of them must not be changed.
        let rewrites = crate::shared_policies::rewrites(&verdicts, &observed);
        if !rewrites.is_empty() {
            let entities: BTreeSet<Lookup> = rewrites
                .iter()
                .map(|arn| Lookup::PolicyEntities { arn: arn.clone() })
                .collect();
            read_missing(ports, &entities, &mut observed, report).await;
            let principals: BTreeSet<Lookup> = rewrites
                .iter()
                .filter_map(|arn| match observed.policy_entities(arn) {
                    Known::Present(list) => Some(list.clone()),
                    _ => None,
                })
                .flatten()
                .map(Lookup::Principal)
                .collect();
            read_missing(ports, &principals, &mut observed, report).await;
            crate::shared_policies::apply(
                &mut verdicts,
                &observed,
                &self.config.guards,
                &finding.account,
                &self.config.exempt_tag,
                chrono::Utc::now(),
            );
        }
        // A fix that adds a version to a customer-managed policy needs its versions (IAM keeps
        // five): read only now, for the policies a fix will change.
        let versions: BTreeSet<Lookup> = crate::shared_policies::rewrites(&verdicts, &observed)
            .into_iter()
            .map(|arn| Lookup::PolicyVersions { arn })
            .collect();
        read_missing(ports, &versions, &mut observed, report).await;
        let build = |verdicts: &[Verdict]| {
            let remedies: Vec<&Remedy> = verdicts.iter().map(|v| &v.remedy).collect();
            Plan::build(&remedies, &observed)
        };
        let mut plan = build(&verdicts);
        // A finding a person suppressed in Security Hub is an exemption too: read only when the
        // plan has a write to make now, and planned again without what it withholds.
        if self
            .withhold_suppressed(route, finding, &mut verdicts, &plan, report, decision)
            .await
        {
            plan = build(&verdicts);
        }
        // The kill switch is read only when there is something to fix.
        let forced = match (&self.kill_switch, plan.steps.is_empty()) {
            (Some(k), false) => k.engaged().await,
            _ => None,
        };
        if let Some(reason) = &forced {
            tracing::warn!(%reason, "kill switch: fixes are not applied");
        }
        report.kill_switch = forced.clone();
        let gates = self.gates(
            &plan,
            &verdicts,
            forced.is_some() || matches!(decision, Decision::RecordOnly),
            decision,
        );
        let now = chrono::Utc::now();
        let mode = self.config.mode.to_string();
        let mut ctx = asff::Context {
            account: &finding.account,
            region: &route.record_region,
            resource_region: &finding.region,
            partition: &finding.partition,
            product_arn: self.config.security_hub_product_arn.as_deref(),
            event_id: &finding.event_id,
            event_name: &finding.event_name,
            event_time: finding.time,
            actor: finding.actor.arn.as_deref(),
            mode: &mode,
            now,
        };

        // Report-only rules judge the state as it is once the fixes are in. When nothing will be
        // applied (dry-run, or nothing to fix) that is the state just read, and their findings go
        // out with the first batch; otherwise they are judged after the executor.
        // Only when the event itself could be judged: a stale or broken event writes nothing.
        let judged = verdicts.is_empty()
            || verdicts
                .iter()
                .any(|v| !matches!(v.status, Status::NotEvaluated { .. }));
        let applies_nothing = !gates.contains(&Gate::Apply);
        let main_count = verdicts.len();
        // A person's "Remediate" is about the findings chosen: report-only rules are left out.
        let report_only = judged && !matches!(decision, Decision::Approved(_));
        if report_only && applies_nothing {
            verdicts.extend(self.judge(findings, &observed, true));
        }

        // Record before acting.
        let first: Vec<AsffFinding> = verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.initial_finding(&ctx, v, &plan, &gates, i))
            .collect();
        let errors_before = report.errors.len();
        let mut recorded = post(&route.record, &first, report).await;

        // Containment of an active credential compromise does not wait for Security Hub: when
        // every step serves a rule that contains first, it is applied, then the record retried.
        let contain_first = !plan.steps.is_empty()
            && plan
                .steps
                .iter()
                .all(|s| s.verdicts.iter().all(|&v| !self.meta(&verdicts[v]).record_first));
        report.actions = if recorded {
            executor::execute(&plan, &gates, ports).await
        } else if contain_first {
            report.sequence.push(format!(
                "1. recording the finding in Security Hub failed ({}); containment does not wait for it",
                report.errors.last().map(|e| e.to_string()).unwrap_or_default()
            ));
            let actions = executor::execute(&plan, &gates, ports).await;
            let applied = actions.iter().filter(|a| a.result.succeeded()).count();
            report.sequence.push(format!(
                "2. containment: {applied} of {} action(s) in place",
                actions.len()
            ));
            recorded = post(&route.record, &first, report).await;
            if recorded {
                // The first failure is in the sequence; the event as a whole went through.
                report.errors.truncate(errors_before);
            }
            report.sequence.push(if recorded {
                "3. the finding was recorded on retry".to_string()
            } else {
                "3. the finding is still not recorded: the event fails so that Lambda retries it (the \
                 containment is then found in place and recorded)"
                    .to_string()
            });
            actions
        } else {
            executor::not_attempted(&plan, "the finding could not be recorded in Security Hub first")
        };
        report.unplanned = plan.unplanned.clone();
        Box::pin(self.record_inverses(finding, &route.record_region, &verdicts, &observed, report)).await;

        // Security Hub ignores an update whose UpdatedAt is not later than the stored finding's:
        // the second batch updates the findings of the first, so it must carry a later time.
        ctx.now = asff::later_than(ctx.now);
        let mut second: Vec<AsffFinding> = Vec::new();
        if !applies_nothing && recorded {
            second.extend(
                verdicts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| final_finding(&ctx, self.meta(v), v, i, &report.actions, &plan)),
            );
        }
        if report_only && !applies_nothing {
            let all_applied = report.actions.iter().all(|a| a.result.succeeded());
            let after = if all_applied { observed.project(&plan) } else { observed };
            let extra = self.judge(findings, &after, true);
            second.extend(
                extra
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| self.initial_finding(&ctx, v, &plan, &gates, main_count + i)),
            );
            verdicts.extend(extra);
        }
        post(&route.record, &second, report).await;
        report.verdicts.extend(verdicts);
    }

    /// Withholds the fix of every verdict whose finding a person suppressed in Security Hub
    /// (workflow status `SUPPRESSED`): read before any write, and only for verdicts the plan has a
    /// write for, their rule in remediate mode. True when it withheld something (the plan is then
    /// built again). When Security Hub cannot be read, fixes that record first are withheld too
    /// (fail closed; the event fails and is retried), while containment goes on: it never waits
    /// for Security Hub.
    pub(super) async fn withhold_suppressed(
        &self,
        route: &Route,
        finding: &Finding,
        verdicts: &mut [Verdict],
        plan: &Plan,
        report: &mut Report,
        decision: &Decision,
    ) -> bool {
        let fixable: Vec<usize> = (0..verdicts.len())
            .filter(|&i| plan.steps.iter().any(|s| s.verdicts.contains(&i)))
            .filter(|&i| self.mode_for(verdicts[i].rule_id, decision) == Some(Mode::Remediate))
            .collect();
        if fixable.is_empty() {
            return false;
        }
        let region = &route.record_region;
        let product = asff::product_arn(
            self.config.security_hub_product_arn.as_deref(),
            &finding.partition,
            region,
            &finding.account,
        );
        let ids: Vec<String> = fixable
            .iter()
            .map(|&i| asff::finding_id_in(region, &finding.account, verdicts[i].rule_id, &verdicts[i].key))
            .collect();
        let withhold = |v: &mut Verdict, reason: String| {
            v.summary = format!("{} — not fixed: {reason}", v.summary);
            v.remedy = Remedy::Manual { reason };
            v.needs_review = None;
        };
        let mut withheld = false;
        match route.record.suppressed(&product, &ids).await {
            Ok(suppressed) => {
                for (&i, id) in fixable.iter().zip(&ids) {
                    if suppressed.contains(id) {
                        withheld = true;
                        tracing::info!(finding = %id, "suppressed in Security Hub: not fixed");
                        withhold(
                            &mut verdicts[i],
                            "the finding is suppressed in Security Hub (workflow status SUPPRESSED): a person decided it is not to be fixed".into(),
                        );
                    }
                }
            }
            Err(e) => {
                for &i in &fixable {
                    if self.meta(&verdicts[i]).record_first {
                        withheld = true;
                        withhold(
                            &mut verdicts[i],
                            "Security Hub could not be read to check whether the finding is suppressed: not fixed now (the event is retried)".into(),
                        );
                    }
                }
                report.errors.push(e);
            }
        }
        withheld
    }

    /// Whether each step of the plan may be applied now: every rule it serves must be in remediate
    /// mode (kill switch and `RULE_MODES` included), and the write limits must allow it. The steps
    /// that change one document ([`crate::plan::Action::changes`]: the version deleted to make
    /// room and the one created) get one gate together, so a limit never splits a fix.
    pub(super) fn gates(
        &self,
        plan: &Plan,
        verdicts: &[Verdict],
        forced_dry_run: bool,
        decision: &Decision,
    ) -> Vec<Gate> {
        let mut writes = 0usize;
        let mut gates: Vec<Option<Gate>> = vec![None; plan.steps.len()];
        for i in 0..plan.steps.len() {
            if gates[i].is_some() {
                continue;
            }
            let key = plan.steps[i].action.changes();
            let group: Vec<usize> = (i..plan.steps.len())
                .filter(|&j| plan.steps[j].action.changes() == key)
                .collect();
            let mut rules: Vec<&'static str> = group
                .iter()
                .flat_map(|&j| plan.steps[j].verdicts.iter().map(|&v| verdicts[v].rule_id))
                .collect();
            rules.sort_unstable();
            rules.dedup();
            let gate = if forced_dry_run
                || rules
                    .iter()
                    .any(|r| self.mode_for(r, decision) != Some(Mode::Remediate))
            {
                Gate::DryRun
            } else if writes + group.len() > self.config.max_writes_per_event {
                Gate::Deferred {
                    reason: format!(
                        "this fix needs {} writes and the event may make {} more (MAX_WRITES_PER_EVENT={})",
                        group.len(),
                        self.config.max_writes_per_event - writes,
                        self.config.max_writes_per_event
                    ),
                }
            } else if let Err(reason) = self.limiter.admit_all(&rules, group.len()) {
                Gate::Deferred { reason }
            } else {
                writes += group.len();
                Gate::Apply
            };
            for j in group {
                gates[j] = Some(gate.clone());
            }
        }
        gates.into_iter().map(|g| g.unwrap_or(Gate::DryRun)).collect()
    }
}

impl Responder {
    /// The mode a rule's fixes follow under `decision`: a person's approval makes an active
    /// rule's fix apply (a rule that is off stays off).
    pub(super) fn mode_for(&self, rule_id: &str, decision: &Decision) -> Option<Mode> {
        let mode = self.mode_of(rule_id);
        match decision {
            Decision::Modes => mode,
            Decision::Approved(_) => mode.map(|_| Mode::Remediate),
            Decision::RecordOnly => mode.map(|_| Mode::DryRun),
        }
    }

    /// Writes the undo record of every finding whose fix was applied (`UNDO_RECORD_BUCKET`). The
    /// fix is in place and recorded in Security Hub already: a record that cannot be written is a
    /// warning (Security Hub's "Undo" will refuse it; the report's inverses still undo it).
    async fn record_inverses(
        &self,
        finding: &Finding,
        record_region: &str,
        verdicts: &[Verdict],
        observed: &Observed,
        report: &mut Report,
    ) {
        let Some(records) = &self.records else { return };
        if !report
            .actions
            .iter()
            .any(|a| matches!(a.result, executor::StepResult::Applied))
        {
            return;
        }
        let ids: Vec<Option<(String, String, String)>> = verdicts
            .iter()
            .map(|v| {
                (v.status == Status::NonCompliant).then(|| {
                    (
                        asff::finding_id_in(record_region, &finding.account, v.rule_id, &v.key),
                        v.rule_id.to_string(),
                        v.key.clone(),
                    )
                })
            })
            .collect();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for record in crate::undo::records(
            &report.actions,
            &ids,
            &finding.account,
            &finding.region,
            &finding.partition,
            &finding.event_id,
            &now,
        ) {
            if let Err(e) = records.put(&record).await {
                tracing::warn!(error = %e, finding = %record.finding_id, "undo record not written");
                report.warnings.push(e);
            }
        }
        // The versions the rewrites kept, marked so that the sweep does not take them for dormant
        // grants (see `undo::kept_prefix`).
        let first_id = |served: &[usize]| {
            served
                .iter()
                .find_map(|&i| ids.get(i).cloned().flatten().map(|(id, _, _)| id))
        };
        for kept in crate::undo::kept_versions(&report.actions, observed, &first_id, &now) {
            let key = kept.key(&finding.account);
            if let Err(e) = records.write(&key, serde_json::to_vec(&kept).unwrap_or_default()).await {
                tracing::warn!(error = %e, policy = %kept.policy_arn, version = %kept.version_id, "kept-version marker not written");
                report.warnings.push(e);
            }
        }
    }
}
