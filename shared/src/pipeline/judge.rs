//! Stage: judge. Which rules judge a finding, in which mode, and their (pure) verdicts.

use super::*;

impl Responder {
    /// Whether `rule` judges `finding`: not when it is off, and Config compliance changes name the
    /// rules that do.
    pub(super) fn applies(&self, rule: &dyn Rule, finding: &Finding) -> bool {
        self.mode_of(rule.meta().id).is_some()
            && finding
                .only_rules
                .as_ref()
                .is_none_or(|only| only.iter().any(|id| id == rule.meta().id))
    }

    /// The mode a rule runs in now (`None`: off).
    pub(super) fn mode_of(&self, rule_id: &str) -> Option<Mode> {
        self.config.mode_of(rule_id)
    }

    /// The verdicts of the rules that fix (`report_only` false) or of the report-only rules, over
    /// every finding, each (rule, resource) once.
    pub(super) fn judge(&self, findings: &[Finding], observed: &Observed, report_only: bool) -> Vec<Verdict> {
        let mut out: Vec<Verdict> = Vec::new();
        for f in findings {
            for rule in self
                .rules
                .iter()
                .filter(|r| r.meta().report_only == report_only && self.applies(r.as_ref(), f))
            {
                for v in rule.evaluate(f, observed) {
                    if !out.iter().any(|o| o.rule_id == v.rule_id && o.key == v.key) {
                        out.push(v);
                    }
                }
            }
        }
        out
    }

    pub(super) fn meta(&self, v: &Verdict) -> &'static rules::RuleMeta {
        rules::meta_by_id(&self.rules, v.rule_id).expect("verdicts come from registered rules")
    }
}
