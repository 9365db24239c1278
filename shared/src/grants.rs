//! What a permission policy grants, as sets: for an action of the catalogue, whether the document
//! allows it on *every* resource it acts on, net of unconditional `Deny`. Rules ask this model
//! their question instead of looking for spellings:
//!
//! - an action pattern is the set of catalogue actions it matches (`s3:**` = `s3:*`,
//!   `iam:Pass?ole` = `iam:PassRole`, `NotAction` = the complement);
//! - "every resource" means the `Resource` patterns cover every ARN of the action's resource types
//!   (per the catalogue's ARN formats: `arn:aws:iam::*:role/*` covers every role); `NotResource`
//!   (everything but a few) counts as every resource unless it excludes every ARN of a type; an
//!   action without resource types acts on `*` only;
//! - a `Deny` takes an action away only when it applies unconditionally to every resource of it (a
//!   `Deny` with a Condition or on some resources removes nothing from a finding: erring towards
//!   reporting);
//! - statements with a Condition are kept apart: they lower severity and are never fixed.
//!
//! Pure; the catalogue is compiled in ([`crate::catalogue`]).

use crate::catalogue::{covers_format, glob, ActionId, Catalogue};
use crate::policy::{ActionBlock, Effect, PolicyDocument, ResourceBlock, Statement};
use std::cell::RefCell;

/// How a document grants an action on every resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Not on every resource (or not at all), or taken away by a Deny.
    Partial,
    /// Only through statements with a Condition.
    Conditional,
    /// Unconditionally, on every resource.
    Everywhere,
}

/// The answer to "is this action on this resource allowed?" (conditions not evaluated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

/// The grant model of one document.
pub struct Grants<'d> {
    pub doc: &'d PolicyDocument,
    cat: &'static Catalogue,
    /// Lower-cased action patterns per statement.
    patterns: Vec<Vec<String>>,
    /// (statement, type slot) → covered: 0 not yet known, 1 no, 2 yes.
    covered: RefCell<Vec<u8>>,
    /// (statement, service) → whether the statement's action block names all, none or some of
    /// the service's actions (so most actions are answered without a wildcard match).
    by_service: RefCell<Vec<Option<Tri>>>,
    everything: RefCell<Option<Option<Vec<usize>>>>,
    /// Set by [`Grants::besides_everything`]: what the document grants besides its every-action
    /// grants (those are judged by the admin rule).
    skip_any: bool,
    skipped: Vec<usize>,
}

const STAR: u16 = u16::MAX;

/// How much of a service an action block names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    All,
    None,
    Some,
}

/// How much of service `prefix` (lower-case) one lower-case Action pattern names, when that is
/// certain from the pattern's shape (`Some` otherwise).
fn pattern_names(pattern: &str, prefix: &str) -> Tri {
    let all_stars = |s: &str| !s.is_empty() && s.bytes().all(|c| c == b'*');
    match pattern.split_once(':') {
        None if all_stars(pattern) => Tri::All,
        None => Tri::Some,
        Some((svc, act)) if !svc.contains(['*', '?']) => {
            if svc != prefix {
                Tri::None
            } else if all_stars(act) {
                Tri::All
            } else {
                Tri::Some
            }
        }
        Some((svc, act)) if all_stars(act) && glob(svc.as_bytes(), prefix.as_bytes()) => Tri::All,
        Some(_) => Tri::Some,
    }
}

impl<'d> Grants<'d> {
    pub fn of(doc: &'d PolicyDocument) -> Self {
        let patterns = doc
            .statements
            .iter()
            .map(|s| {
                let list = match &s.actions {
                    ActionBlock::Action(p) | ActionBlock::NotAction(p) => p,
                };
                list.iter().map(|p| p.to_ascii_lowercase()).collect()
            })
            .collect();
        Grants {
            doc,
            cat: Catalogue::get(),
            patterns,
            covered: RefCell::new(Vec::new()),
            by_service: RefCell::new(Vec::new()),
            everything: RefCell::new(None),
            skip_any: false,
            skipped: vec![],
        }
    }

    /// The model of what the document grants besides "everything": when it grants every action,
    /// its every-action patterns (and `NotAction` statements that name nothing real) are left
    /// out, so `["*", "s3:*"]` still shows `s3:*` (a fix that removes `*` must not leave it).
    pub fn besides_everything(doc: &'d PolicyDocument) -> Self {
        let full = Grants::of(doc);
        let Some(statements) = full.grants_everything() else {
            return full;
        };
        let mut g = Grants::of(doc);
        g.skip_any = true;
        g.skipped = statements
            .into_iter()
            .filter(|&i| matches!(doc.statements[i].actions, ActionBlock::NotAction(_)))
            .collect();
        *g.everything.borrow_mut() = Some(None);
        g
    }

    /// Whether this model counts an Action pattern (not when it leaves every-action grants out).
    pub fn counts_pattern(&self, pattern: &str) -> bool {
        !(self.skip_any && crate::policy::is_any_action(pattern))
    }

    pub fn catalogue(&self) -> &'static Catalogue {
        self.cat
    }

    /// The statement's Action/NotAction names the action.
    pub fn matches(&self, statement: usize, id: ActionId) -> bool {
        match self.service_tri(statement, id.service) {
            Tri::All => true,
            Tri::None => false,
            Tri::Some => self.matches_name(statement, &self.cat.action(id).lower),
        }
    }

    /// Whether the statement names all, none or some of a service's actions (cached).
    fn service_tri(&self, statement: usize, service: u16) -> Tri {
        let slot = statement * self.cat.services.len() + service as usize;
        {
            let mut cache = self.by_service.borrow_mut();
            if cache.is_empty() {
                *cache = vec![None; self.doc.statements.len() * self.cat.services.len()];
            }
            if let Some(t) = cache[slot] {
                return t;
            }
        }
        let t = if self.skipped.contains(&statement) {
            Tri::None
        } else {
            let prefix = self.cat.services[service as usize].prefix.to_ascii_lowercase();
            let skip_any = self.skip_any && self.doc.statements[statement].effect == Effect::Allow;
            let tris: Vec<Tri> = self.patterns[statement]
                .iter()
                .filter(|p| !(skip_any && crate::policy::is_any_action(p)))
                .map(|p| pattern_names(p, &prefix))
                .collect();
            let named = if tris.contains(&Tri::All) {
                Tri::All
            } else if tris.iter().all(|t| *t == Tri::None) {
                Tri::None
            } else {
                Tri::Some
            };
            match (&self.doc.statements[statement].actions, named) {
                (ActionBlock::Action(_), t) => t,
                (ActionBlock::NotAction(_), Tri::All) => Tri::None,
                (ActionBlock::NotAction(_), Tri::None) => Tri::All,
                (ActionBlock::NotAction(_), Tri::Some) => Tri::Some,
            }
        };
        self.by_service.borrow_mut()[slot] = Some(t);
        t
    }

    fn matches_name(&self, statement: usize, lower: &str) -> bool {
        if self.skipped.contains(&statement) {
            return false;
        }
        // Only Allow grants are left out; a Deny means what it says.
        let skip_any = self.skip_any && self.doc.statements[statement].effect == Effect::Allow;
        let hit = self.patterns[statement]
            .iter()
            .filter(|p| !(skip_any && crate::policy::is_any_action(p)))
            .any(|p| glob(p.as_bytes(), lower.as_bytes()));
        match self.doc.statements[statement].actions {
            ActionBlock::Action(_) => hit,
            ActionBlock::NotAction(_) => !hit,
        }
    }

    /// Like [`Grants::matches`], without the statement's every-action patterns (`*`, `*:*`).
    fn matches_besides_any(&self, statement: usize, id: ActionId) -> bool {
        let lower = &self.cat.action(id).lower;
        match self.doc.statements[statement].actions {
            ActionBlock::Action(_) => self.patterns[statement]
                .iter()
                .filter(|p| !crate::policy::is_any_action(p))
                .any(|p| glob(p.as_bytes(), lower.as_bytes())),
            // A NotAction that names nothing real is itself the every-action grant.
            ActionBlock::NotAction(_) => {
                !self.grants_everything().is_some_and(|all| all.contains(&statement))
                    && self.matches_name(statement, lower)
            }
        }
    }

    /// Whether the statement's resources cover one resource type of a service (`STAR`: `*`).
    fn covers_type(&self, statement: usize, service: u16, rtype: u16) -> bool {
        let slot = statement * self.cat.type_slots() + self.cat.type_slot(service, rtype);
        {
            let mut cache = self.covered.borrow_mut();
            if cache.is_empty() {
                *cache = vec![0; self.doc.statements.len() * self.cat.type_slots()];
            }
            match cache[slot] {
                1 => return false,
                2 => return true,
                _ => {}
            }
        }
        let s = &self.doc.statements[statement];
        let formats: Vec<&str> = if rtype == STAR {
            vec!["*"]
        } else {
            self.cat.services[service as usize].resource_types[rtype as usize]
                .formats()
                .collect()
        };
        let v = match &s.resources {
            Some(ResourceBlock::Resource(list)) => formats.iter().all(|f| covers_format(list, f)),
            // Everything but a few resources counts as every resource (erring towards reporting),
            // unless the exclusions take in every ARN of the type.
            Some(ResourceBlock::NotResource(list)) => !formats.iter().any(|f| covers_format(list, f)),
            None => false,
        };
        self.covered.borrow_mut()[slot] = if v { 2 } else { 1 };
        v
    }

    /// The statement reaches every resource the action acts on.
    pub fn covers(&self, statement: usize, id: ActionId) -> bool {
        let a = self.cat.action(id);
        if a.resource_types.is_empty() {
            return self.covers_type(statement, id.service, STAR);
        }
        a.resource_types
            .iter()
            .all(|&t| self.covers_type(statement, id.service, t))
    }

    /// Like [`Grants::covers`], but an action that acts on `*` only counts as covered when the
    /// statement covers every resource type of its service (`logs:*` on `arn:aws:logs:*:*:*`
    /// reaches the whole service).
    fn covers_for_service(&self, statement: usize, id: ActionId) -> bool {
        let a = self.cat.action(id);
        if !a.resource_types.is_empty() || self.covers_type(statement, id.service, STAR) {
            return self.covers(statement, id);
        }
        let types = self.cat.services[id.service as usize].resource_types.len() as u16;
        types > 0 && (0..types).all(|t| self.covers_type(statement, id.service, t))
    }

    fn is_unconditional_deny(&self, statement: usize) -> bool {
        let s = &self.doc.statements[statement];
        s.effect == Effect::Deny && !s.has_condition
    }

    /// An unconditional Deny takes the action away on every resource.
    pub fn denied_everywhere(&self, id: ActionId) -> bool {
        (0..self.doc.statements.len())
            .any(|i| self.is_unconditional_deny(i) && self.matches(i, id) && self.covers(i, id))
    }

    /// The Allow statements that grant the action on every resource (none when a Deny takes it
    /// away). `with_any`: count the every-action patterns of the statements through which the
    /// document grants everything too (off when the admin rule reports them; every-action patterns
    /// of other statements, on fewer resources, always count).
    pub fn granting(&self, id: ActionId, with_any: bool) -> Vec<usize> {
        if self.denied_everywhere(id) {
            return vec![];
        }
        (0..self.doc.statements.len())
            .filter(|&i| {
                self.doc.statements[i].effect == Effect::Allow
                    && if with_any || !self.grants_everything().is_some_and(|all| all.contains(&i)) {
                        self.matches(i, id)
                    } else {
                        self.matches_besides_any(i, id)
                    }
                    && self.covers(i, id)
            })
            .collect()
    }

    /// How the document grants the action on every resource.
    pub fn reach(&self, id: ActionId) -> Reach {
        let stmts = self.granting(id, true);
        if stmts.iter().any(|&i| !self.doc.statements[i].has_condition) {
            Reach::Everywhere
        } else if stmts.is_empty() {
            Reach::Partial
        } else {
            Reach::Conditional
        }
    }

    /// An Action pattern that names every action of the catalogue.
    fn names_everything(&self, pattern: &str) -> bool {
        if crate::policy::is_any_action(pattern) {
            return true;
        }
        // Only a pattern whose service part is a wildcard can; check it against every action.
        pattern.starts_with(['*', '?'])
            && self
                .cat
                .all()
                .all(|id| glob(pattern.as_bytes(), self.cat.action(id).lower.as_bytes()))
    }

    /// The Allow statements through which the document grants every action on every resource,
    /// when it does: an every-action `Action` (or a `NotAction` naming nothing AWS has) on `*`,
    /// and no unconditional Deny that takes any action away everywhere. Conditional statements are
    /// included (callers lower severity for them).
    pub fn grants_everything(&self) -> Option<Vec<usize>> {
        if let Some(known) = self.everything.borrow().as_ref() {
            return known.clone();
        }
        let stmts: Vec<usize> = (0..self.doc.statements.len())
            .filter(|&i| {
                let s = &self.doc.statements[i];
                let all_stars = |r: &String| !r.is_empty() && r.bytes().all(|c| c == b'*');
                let all_resources = match &s.resources {
                    Some(ResourceBlock::Resource(r)) => r.iter().any(all_stars),
                    Some(ResourceBlock::NotResource(r)) => !r.iter().any(all_stars),
                    None => false,
                };
                let all_actions = match &s.actions {
                    ActionBlock::Action(_) => self.patterns[i].iter().any(|p| self.names_everything(p)),
                    ActionBlock::NotAction(_) => self.patterns[i].iter().all(|p| self.cat.expand(p).is_empty()),
                };
                s.effect == Effect::Allow && all_resources && all_actions
            })
            .collect();
        let answer = if stmts.is_empty() || (0..self.doc.statements.len()).any(|i| self.deny_removes_any(i)) {
            None
        } else {
            Some(stmts)
        };
        *self.everything.borrow_mut() = Some(answer.clone());
        answer
    }

    /// An unconditional Deny that takes at least one action away on every resource.
    fn deny_removes_any(&self, statement: usize) -> bool {
        if !self.is_unconditional_deny(statement) {
            return false;
        }
        let services: Vec<u16> = match &self.doc.statements[statement].actions {
            ActionBlock::Action(_) => {
                let mut v: Vec<u16> = self.patterns[statement]
                    .iter()
                    .flat_map(|p| self.cat.candidate_services(p))
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            }
            ActionBlock::NotAction(_) => (0..self.cat.services.len() as u16).collect(),
        };
        services.into_iter().any(|si| {
            (0..self.cat.services[si as usize].actions.len()).any(|ai| {
                let id = ActionId {
                    service: si,
                    action: ai as u16,
                };
                self.matches(statement, id) && self.covers(statement, id)
            })
        })
    }

    /// The services every action of which the document grants on every resource (net of Deny),
    /// each with the Allow statements that contribute, and whether all of them have a Condition.
    /// Candidates are the services the Allow statements can name.
    pub fn full_services(&self) -> Vec<(u16, Vec<usize>, bool)> {
        let mut candidates: Vec<u16> = Vec::new();
        for (i, s) in self.doc.statements.iter().enumerate() {
            if s.effect != Effect::Allow {
                continue;
            }
            match &s.actions {
                ActionBlock::Action(_) => candidates.extend(
                    self.patterns[i]
                        .iter()
                        .filter(|p| p.contains('*'))
                        .flat_map(|p| self.cat.candidate_services(p)),
                ),
                ActionBlock::NotAction(_) => candidates.extend(0..self.cat.services.len() as u16),
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let n = self.doc.statements.len();
        let mut out = Vec::new();
        for si in candidates {
            let service = &self.cat.services[si as usize];
            if service.actions.is_empty() {
                continue;
            }
            // The statements that can name actions of this service at all.
            let allows: Vec<usize> = (0..n)
                .filter(|&i| self.doc.statements[i].effect == Effect::Allow && self.service_tri(i, si) != Tri::None)
                .collect();
            if allows.is_empty() {
                continue;
            }
            let denies: Vec<usize> = (0..n)
                .filter(|&i| self.is_unconditional_deny(i) && self.service_tri(i, si) != Tri::None)
                .collect();
            let mut contributors: Vec<usize> = Vec::new();
            let mut conditional_only = true;
            let full = (0..service.actions.len()).all(|ai| {
                let id = ActionId {
                    service: si,
                    action: ai as u16,
                };
                if denies.iter().any(|&i| self.matches(i, id) && self.covers(i, id)) {
                    return false;
                }
                let mut granted = false;
                for &i in &allows {
                    if self.matches(i, id) && self.covers_for_service(i, id) {
                        granted = true;
                        if !self.doc.statements[i].has_condition {
                            conditional_only = false;
                        }
                        if !contributors.contains(&i) {
                            contributors.push(i);
                        }
                    }
                }
                granted
            });
            if full {
                contributors.sort_unstable();
                out.push((si, contributors, conditional_only));
            }
        }
        out
    }

    /// Action patterns of unconditional Deny statements that name no action AWS has (a typo in a
    /// Deny protects nothing).
    pub fn unknown_deny_actions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, s) in self.doc.statements.iter().enumerate() {
            if s.effect != Effect::Deny {
                continue;
            }
            if let ActionBlock::Action(list) = &s.actions {
                for (p, lower) in list.iter().zip(&self.patterns[i]) {
                    if self.cat.expand(lower).is_empty() && !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Is `action` on `resource` allowed by this document alone? Conditions are not evaluated:
    /// a statement with a Condition is taken to apply. Action names match in any letter case,
    /// resources as they are written.
    pub fn allows(&self, action: &str, resource: &str) -> Decision {
        let lower = action.to_ascii_lowercase();
        let applies = |i: usize| {
            let s: &Statement = &self.doc.statements[i];
            let resource_hit = match &s.resources {
                Some(ResourceBlock::Resource(list)) => list.iter().any(|p| glob(p.as_bytes(), resource.as_bytes())),
                Some(ResourceBlock::NotResource(list)) => !list.iter().any(|p| glob(p.as_bytes(), resource.as_bytes())),
                None => false,
            };
            resource_hit && self.matches_name(i, &lower)
        };
        let n = self.doc.statements.len();
        if (0..n).any(|i| self.doc.statements[i].effect == Effect::Deny && applies(i)) {
            Decision::ExplicitDeny
        } else if (0..n).any(|i| self.doc.statements[i].effect == Effect::Allow && applies(i)) {
            Decision::Allowed
        } else {
            Decision::ImplicitDeny
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statements: &str) -> PolicyDocument {
        PolicyDocument::parse(&format!(r#"{{"Version":"2012-10-17","Statement":{statements}}}"#)).unwrap()
    }

    fn id(name: &str) -> ActionId {
        Catalogue::get().find(name).unwrap()
    }

    #[test]
    fn a_deny_of_everything_leaves_nothing_and_a_deny_notaction_leaves_its_exceptions() {
        let d =
            doc(r#"[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*:*","Resource":"*"}]"#);
        let g = Grants::of(&d);
        assert!(g.grants_everything().is_none());
        assert_eq!(g.reach(id("iam:PassRole")), Reach::Partial);
        assert!(g.full_services().is_empty());
        let d = doc(
            r#"[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}]"#,
        );
        let g = Grants::of(&d);
        assert!(g.grants_everything().is_none());
        assert_eq!(g.reach(id("iam:PutUserPolicy")), Reach::Everywhere);
        assert_eq!(g.reach(id("s3:GetObject")), Reach::Partial);
        let full = g.full_services();
        assert_eq!(full.len(), 1);
        assert_eq!(g.catalogue().services[full[0].0 as usize].prefix, "iam");
    }

    #[test]
    fn allow_with_notresource_star_grants_nothing() {
        let d = doc(r#"[{"Effect":"Allow","Action":"*","NotResource":"*"}]"#);
        let g = Grants::of(&d);
        assert!(g.grants_everything().is_none());
        assert_eq!(g.reach(id("iam:PassRole")), Reach::Partial);
        assert_eq!(g.allows("s3:GetObject", "arn:aws:s3:::b/k"), Decision::ImplicitDeny);
    }

    #[test]
    fn every_resource_written_differently_is_every_resource() {
        for (stmt, action) in [
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::*:role/*"}"#,
                "iam:PassRole",
            ),
            (
                r#"{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:*:iam::*:user/*"}"#,
                "iam:CreateAccessKey",
            ),
            (
                r#"{"Effect":"Allow","Action":"s3:**","Resource":"*"}"#,
                "s3:PutBucketPolicy",
            ),
        ] {
            let d = doc(&format!("[{stmt}]"));
            assert_eq!(Grants::of(&d).reach(id(action)), Reach::Everywhere, "{stmt}");
        }
        let d = doc(r#"[{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:*:*"}]"#);
        let g = Grants::of(&d);
        let full: Vec<&str> = g
            .full_services()
            .iter()
            .map(|(s, _, _)| g.catalogue().services[*s as usize].prefix.as_str())
            .collect();
        assert_eq!(full, ["logs"]);
        let d =
            doc(r#"[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/app-*"}]"#);
        assert_eq!(Grants::of(&d).reach(id("iam:PassRole")), Reach::Partial);
    }

    #[test]
    fn a_notaction_that_names_nothing_real_grants_everything_and_typos_in_denies_are_named() {
        let d = doc(
            r#"[{"Effect":"Allow","NotAction":"iam:NoSuchAction","Resource":"*"},{"Effect":"Deny","Action":"iam:DeleteUsr","Resource":"*"}]"#,
        );
        let g = Grants::of(&d);
        assert_eq!(g.grants_everything(), Some(vec![0]));
        assert_eq!(g.unknown_deny_actions(), ["iam:DeleteUsr"]);
    }

    #[test]
    fn single_queries_follow_iam_evaluation() {
        let d = doc(
            r#"[{"Effect":"Allow","Action":["s3:Get*","iam:Pass?ole"],"Resource":["arn:aws:s3:::logs/*","arn:aws:iam::*:role/*"]},
               {"Effect":"Deny","NotAction":"s3:GetObject","NotResource":"arn:aws:s3:::logs/public/*"}]"#,
        );
        let g = Grants::of(&d);
        assert_eq!(g.allows("s3:GetObject", "arn:aws:s3:::logs/a"), Decision::Allowed);
        assert_eq!(g.allows("S3:GETOBJECT", "arn:aws:s3:::logs/a"), Decision::Allowed);
        assert_eq!(
            g.allows("s3:GetObjectAcl", "arn:aws:s3:::logs/a"),
            Decision::ExplicitDeny
        );
        assert_eq!(
            g.allows("s3:GetObjectAcl", "arn:aws:s3:::logs/public/a"),
            Decision::Allowed
        );
        assert_eq!(
            g.allows("iam:PassRole", "arn:aws:iam::1:role/x"),
            Decision::ExplicitDeny
        );
        assert_eq!(g.allows("s3:GetObject", "arn:aws:s3:::other/a"), Decision::ImplicitDeny);
    }
}
