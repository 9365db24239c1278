//! A table of policy documents with the verdicts every rule must reach: every legal shape, every
//! rule, wildcard forms, Deny and Condition semantics, and malformed documents.

use compliance_responder::policy::{DocumentKind, PolicyDocument};
use compliance_responder::rules::{self, iam_privilege_escalation::single_actions};
use std::collections::BTreeSet;

struct Case {
    name: String,
    doc: String,
    kind: DocumentKind,
    /// Rules expected to report; a trailing `!` means "only under a Condition".
    expect: Vec<String>,
}

fn stmt(effect: &str, action: &str, resource: &str) -> String {
    format!(r#"{{"Effect":"{effect}","Action":{action},"Resource":{resource}}}"#)
}

fn doc(statements: &[String]) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

fn case(name: impl Into<String>, doc: String, expect: &[&str]) -> Case {
    Case {
        name: name.into(),
        doc,
        kind: DocumentKind::Managed,
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

fn trust(name: &str, principal: &str, condition: Option<&str>, expect: &[&str]) -> Case {
    let cond = condition.map(|c| format!(r#","Condition":{c}"#)).unwrap_or_default();
    Case {
        name: name.into(),
        doc: format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"{cond}}}]}}"#
        ),
        kind: DocumentKind::Trust,
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

const ADMIN: &str = "iam-admin-access";
const SVC: &str = "iam-service-wildcard";
const ESC: &str = "iam-privilege-escalation";
const TRUST: &str = "iam-open-trust";

fn cases() -> Vec<Case> {
    let star = r#""*""#;
    let mut c = vec![
        // Administrator access, every shape.
        case("admin string", doc(&[stmt("Allow", star, star)]), &[ADMIN]),
        // Issue 14: what is granted, not how it is spelled (the grant model over the catalogue).
        case(
            "allow * with deny NotAction iam:* leaves IAM",
            doc(&[stmt("Allow", star, star), r#"{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}"#.into()]),
            &[SVC, ESC],
        ),
        case("allow * with deny *:* grants nothing", doc(&[stmt("Allow", star, star), stmt("Deny", r#""*:*""#, star)]), &[]),
        case("allow * on NotResource * grants nothing", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","NotResource":"*"}]}"#.into(), &[]),
        case("NotAction naming nothing real is admin", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:NoSuchAction","Resource":"*"}]}"#.into(), &[ADMIN]),
        case("admin despite a Deny of a misspelt action", doc(&[stmt("Allow", star, star), stmt("Deny", r#""iam:DeleteUsr""#, star)]), &[ADMIN]),
        case("s3:** is every s3 action", doc(&[stmt("Allow", r#""s3:**""#, star)]), &[SVC]),
        case("logs:* on every log ARN", doc(&[stmt("Allow", r#""logs:*""#, r#""arn:aws:logs:*:*:*""#)]), &[SVC]),
        case("logs:* on one log group", doc(&[stmt("Allow", r#""logs:*""#, r#""arn:aws:logs:us-east-1:123456789012:log-group:app:*""#)]), &[]),
        case("CreateAccessKey on every user, spelt as an ARN", doc(&[stmt("Allow", r#""iam:CreateAccessKey""#, r#""arn:*:iam::*:user/*""#)]), &[ESC]),
        // IAM acts only in the caller's account: every user of the one account named is every user.
        case("CreateAccessKey on every user of its account", doc(&[stmt("Allow", r#""iam:CreateAccessKey""#, r#""arn:aws:iam::123456789012:user/*""#)]), &[ESC]),
        case("CreateAccessKey on some users of its account", doc(&[stmt("Allow", r#""iam:CreateAccessKey""#, r#""arn:aws:iam::123456789012:user/ci-*""#)]), &[]),
        // The published paths beyond IAM (shared/data/escalation-methods.json).
        case("SSM SendCommand on every instance", doc(&[stmt("Allow", r#""ssm:SendCommand""#, star)]), &[ESC]),
        case("EC2 user data: modify, stop and start", doc(&[stmt("Allow", r#"["ec2:ModifyInstanceAttribute","ec2:StopInstances","ec2:StartInstances"]"#, star)]), &[ESC]),
        case("EC2 user data without start", doc(&[stmt("Allow", r#"["ec2:ModifyInstanceAttribute","ec2:StopInstances"]"#, star)]), &[]),
        case("PassRole + ECS task definition + RunTask", doc(&[stmt("Allow", r#"["iam:PassRole","ecs:RegisterTaskDefinition","ecs:RunTask"]"#, star)]), &[ESC]),
        case("PassRole + CodeBuild project + build", doc(&[stmt("Allow", r#"["iam:PassRole","codebuild:CreateProject","codebuild:StartBuild"]"#, star)]), &[ESC]),
        case("CreateAccessKey on one path", doc(&[stmt("Allow", r#""iam:CreateAccessKey""#, r#""arn:aws:iam::*:user/ci/*""#)]), &[]),
        case(
            "PassRole limited to DAX is no Lambda path",
            doc(&[
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"dax.amazonaws.com"}}}"#.into(),
                stmt("Allow", r#"["lambda:CreateFunction","lambda:InvokeFunction"]"#, star),
            ]),
            &[],
        ),
        case(
            "PassRole limited to Lambda with Lambda create and invoke",
            doc(&[
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":["lambda.amazonaws.com"]}}}"#.into(),
                stmt("Allow", r#"["lambda:CreateFunction","lambda:InvokeFunction"]"#, star),
            ]),
            &[ESC],
        ),
        case(
            "PassRole on every role with RunInstances",
            doc(&[stmt("Allow", r#""iam:PassRole""#, r#""arn:aws:iam::*:role/*""#), stmt("Allow", r#""ec2:RunInstances""#, star)]),
            &[ESC],
        ),
        case("admin *:*", doc(&[stmt("Allow", r#""*:*""#, star)]), &[ADMIN]),
        case("admin in list", doc(&[stmt("Allow", r#"["s3:GetObject","*"]"#, r#"["*"]"#)]), &[ADMIN]),
        case("admin resource list", doc(&[stmt("Allow", star, r#"["arn:aws:s3:::b","*"]"#)]), &[ADMIN]),
        case("admin object statement", r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.into(), &[ADMIN]),
        case("admin no version", r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(), &[ADMIN]),
        case("admin with sid", r#"{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(), &[ADMIN]),
        case("admin NotResource", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::secret/*"}]}"#.into(), &[ADMIN]),
        case("admin scoped resource", doc(&[stmt("Allow", star, r#""arn:aws:s3:::b/*""#)]), &[]),
        case("admin deny only", doc(&[stmt("Deny", star, star)]), &[]),
        case("admin cancelled by deny", doc(&[stmt("Allow", star, star), stmt("Deny", star, star)]), &[]),
        case(
            "admin not cancelled by conditioned deny",
            doc(&[stmt("Allow", star, star), r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#.into()]),
            &[ADMIN],
        ),
        case("admin not cancelled by scoped deny", doc(&[stmt("Allow", star, star), stmt("Deny", star, r#""arn:aws:s3:::b""#)]), &[ADMIN]),
        case(
            "admin conditioned",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#.into(),
            &["iam-admin-access!"],
        ),
        case("colon only is not admin", doc(&[stmt("Allow", r#"":*""#, star)]), &[]),
        // Service wildcards and NotAction.
        case("s3:*", doc(&[stmt("Allow", r#""s3:*""#, star)]), &[SVC]),
        case("S3 upper case service", doc(&[stmt("Allow", r#""S3:*""#, star)]), &[SVC]),
        case("two services", doc(&[stmt("Allow", r#"["s3:*","dynamodb:*"]"#, star)]), &[SVC]),
        case("service wildcard scoped", doc(&[stmt("Allow", r#""s3:*""#, r#""arn:aws:s3:::b/*""#)]), &[]),
        case("prefix wildcard is not service wildcard", doc(&[stmt("Allow", r#""s3:Get*""#, star)]), &[]),
        case("service wildcard denied", doc(&[stmt("Allow", r#""s3:*""#, star), stmt("Deny", r#""s3:*""#, star)]), &[]),
        case("service wildcard denied by *", doc(&[stmt("Allow", r#""s3:*""#, star), stmt("Deny", star, star)]), &[]),
        case(
            "service wildcard conditioned",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#.into(),
            &["iam-service-wildcard!"],
        ),
        case("NotAction on *", r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#.into(), &[SVC, ESC]),
        // IAM, Lambda and Glue excluded still leaves SSM's and EC2's paths (ssm:SendCommand, …).
        case(
            "NotAction excluding only IAM, Lambda and Glue",
            r#"{"Statement":[{"Effect":"Allow","NotAction":["iam:*","lambda:*","glue:*"],"Resource":"*"}]}"#.into(),
            &[SVC, ESC],
        ),
        case(
            "NotAction excluding every escalation method's services",
            r#"{"Statement":[{"Effect":"Allow","NotAction":["iam:*","lambda:*","glue:*","ssm:*","ec2:*","ec2-instance-connect:*","sagemaker:*","codebuild:*","cloudformation:*"],"Resource":"*"}]}"#.into(),
            &[SVC],
        ),
        case("NotAction scoped", r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::b/*"}]}"#.into(), &[]),
        case("NotAction deny", r#"{"Statement":[{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}]}"#.into(), &[]),
        case("iam:* is service wildcard and escalation", doc(&[stmt("Allow", r#""iam:*""#, star)]), &[SVC, ESC]),
        // Escalation combinations.
        case("PassRole + RunInstances", doc(&[stmt("Allow", r#"["iam:PassRole","ec2:RunInstances"]"#, star)]), &[ESC]),
        case("PassRole + RunInstances split", doc(&[stmt("Allow", r#""iam:PassRole""#, star), stmt("Allow", r#""ec2:RunInstances""#, star)]), &[ESC]),
        case("PassRole + lambda create+invoke", doc(&[stmt("Allow", r#"["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction"]"#, star)]), &[ESC]),
        case("PassRole + lambda create+permission", doc(&[stmt("Allow", r#"["iam:PassRole","lambda:CreateFunction","lambda:AddPermission"]"#, star)]), &[ESC]),
        case("PassRole + lambda create+mapping", doc(&[stmt("Allow", r#"["iam:PassRole","lambda:CreateFunction","lambda:CreateEventSourceMapping"]"#, star)]), &[ESC]),
        case("PassRole + lambda create only", doc(&[stmt("Allow", r#"["iam:PassRole","lambda:CreateFunction"]"#, star)]), &[]),
        case("PassRole + cloudformation", doc(&[stmt("Allow", r#"["iam:PassRole","cloudformation:CreateStack"]"#, star)]), &[ESC]),
        case("PassRole + glue endpoint", doc(&[stmt("Allow", r#"["iam:PassRole","glue:CreateDevEndpoint"]"#, star)]), &[ESC]),
        case("PassRole + datapipeline", doc(&[stmt("Allow", r#"["iam:PassRole","datapipeline:CreatePipeline"]"#, star)]), &[ESC]),
        case("PassRole alone", doc(&[stmt("Allow", r#""iam:PassRole""#, star)]), &[]),
        case("RunInstances alone", doc(&[stmt("Allow", r#""ec2:RunInstances""#, star)]), &[]),
        case("pass?ole wildcard + ec2:Run*", doc(&[stmt("Allow", r#"["IAM:pass?ole","ec2:Run*"]"#, star)]), &[ESC]),
        case("PassRole scoped + RunInstances", doc(&[stmt("Allow", r#""iam:PassRole""#, r#""arn:aws:iam::123456789012:role/app""#), stmt("Allow", r#""ec2:RunInstances""#, star)]), &[]),
        case("PassRole + ec2:* is escalation and service wildcard", doc(&[stmt("Allow", r#"["iam:PassRole","ec2:*"]"#, star)]), &[ESC, SVC]),
        case("PassRole denied", doc(&[stmt("Allow", r#"["iam:PassRole","ec2:RunInstances"]"#, star), stmt("Deny", r#""iam:PassRole""#, star)]), &[]),
        // Wildcard forms that reach escalation actions.
        case("iam:Put*", doc(&[stmt("Allow", r#""iam:Put*""#, star)]), &[ESC]),
        case("iam:*Policy*", doc(&[stmt("Allow", r#""iam:*Policy*""#, star)]), &[ESC]),
        case("iam:Attach*", doc(&[stmt("Allow", r#""iam:Attach*""#, star)]), &[ESC]),
        case("iam:Create*", doc(&[stmt("Allow", r#""iam:Create*""#, star)]), &[ESC]),
        case("iam:*AccessKey", doc(&[stmt("Allow", r#""iam:*AccessKey""#, star)]), &[ESC]),
        case("lambda:Update*", doc(&[stmt("Allow", r#""lambda:Update*""#, star)]), &[ESC]),
        case("iam:Get* is fine", doc(&[stmt("Allow", r#"["iam:Get*","iam:List*"]"#, star)]), &[]),
        case("iam:Put* scoped", doc(&[stmt("Allow", r#""iam:Put*""#, r#""arn:aws:iam::123456789012:role/app""#)]), &[]),
        case(
            "escalation conditioned",
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"ops"}}}]}"#.into(),
            &["iam-privilege-escalation!"],
        ),
        // Benign policies.
        case("read bucket", doc(&[stmt("Allow", r#"["s3:GetObject","s3:ListBucket"]"#, r#"["arn:aws:s3:::b","arn:aws:s3:::b/*"]"#)]), &[]),
        case("describe ec2", doc(&[stmt("Allow", r#""ec2:Describe*""#, star)]), &[]),
        case("cloudwatch read", doc(&[stmt("Allow", r#"["cloudwatch:GetMetricData","logs:FilterLogEvents"]"#, star)]), &[]),
        case("kms decrypt scoped", doc(&[stmt("Allow", r#""kms:Decrypt""#, r#""arn:aws:kms:us-east-1:123456789012:key/abc""#)]), &[]),
        case("sts get caller", doc(&[stmt("Allow", r#""sts:GetCallerIdentity""#, star)]), &[]),
        case("deny everything except", r#"{"Statement":[{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}"#.into(), &[]),
        case("user self-management", doc(&[stmt("Allow", r#"["iam:ChangePassword","iam:GetUser"]"#, r#""arn:aws:iam::*:user/${aws:username}""#)]), &[]),
    ];
    // Every single escalation action, exactly, in lower case and through a one-character wildcard.
    for action in single_actions() {
        c.push(case(
            format!("single {action}"),
            doc(&[stmt("Allow", &format!(r#""{action}""#), star)]),
            &[ESC],
        ));
        c.push(case(
            format!("lower {action}"),
            doc(&[stmt("Allow", &format!(r#""{}""#, action.to_lowercase()), star)]),
            &[ESC],
        ));
        let mut chars: Vec<char> = action.chars().collect();
        let last = chars.len() - 1;
        chars[last] = '?';
        let pattern: String = chars.into_iter().collect();
        c.push(case(
            format!("wildcard {pattern}"),
            doc(&[stmt("Allow", &format!(r#""{pattern}""#), star)]),
            &[ESC],
        ));
    }
    // Trust policies.
    c.extend([
        trust("trust *", r#""*""#, None, &[TRUST]),
        trust("trust AWS *", r#"{"AWS":"*"}"#, None, &[TRUST]),
        trust(
            "trust AWS list with *",
            r#"{"AWS":["arn:aws:iam::111122223333:root","*"]}"#,
            None,
            &[TRUST],
        ),
        trust(
            "trust account",
            r#"{"AWS":"arn:aws:iam::111122223333:root"}"#,
            None,
            &[],
        ),
        trust("trust service", r#"{"Service":"lambda.amazonaws.com"}"#, None, &[]),
        trust(
            "trust federated without audience",
            r#"{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}"#,
            None,
            &[TRUST],
        ),
        trust(
            "trust federated with audience and subject",
            r#"{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}"#,
            Some(r#"{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/app:*"}}"#),
            &[],
        ),
        trust("trust cognito without audience", r#"{"Federated":"cognito-identity.amazonaws.com"}"#, None, &[TRUST]),
        trust(
            "trust cognito with audience",
            r#"{"Federated":"cognito-identity.amazonaws.com"}"#,
            Some(r#"{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:1234-abcd"}}"#),
            &[],
        ),
        // Conditions that name a restricting key but restrict nothing (issue 14).
        trust("trust * org like *", r#""*""#, Some(r#"{"StringLike":{"aws:PrincipalOrgID":"*"}}"#), &[TRUST]),
        trust(
            "trust * source account if exists",
            r#""*""#,
            Some(r#"{"StringEqualsIfExists":{"aws:SourceAccount":"123456789012"}}"#),
            &[TRUST],
        ),
        trust(
            "trust * principal account not equals",
            r#""*""#,
            Some(r#"{"StringNotEquals":{"aws:PrincipalAccount":"999999999999"}}"#),
            &[TRUST],
        ),
        trust(
            "trust * for all values org",
            r#""*""#,
            Some(r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgPaths":"o-a/r-b/ou-c/"}}"#),
            &[TRUST],
        ),
        trust(
            "trust * org",
            r#""*""#,
            Some(r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#),
            &[],
        ),
        trust(
            "trust * external id",
            r#"{"AWS":"*"}"#,
            Some(r#"{"StringEquals":{"sts:ExternalId":"x"}}"#),
            &[],
        ),
        trust(
            "trust * source account",
            r#""*""#,
            Some(r#"{"StringEquals":{"aws:SourceAccount":"123456789012"}}"#),
            &[],
        ),
        trust(
            "trust * source arn",
            r#""*""#,
            Some(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#),
            &[],
        ),
        trust(
            "trust * key case-insensitive",
            r#""*""#,
            Some(r#"{"StringEquals":{"AWS:PRINCIPALORGID":"o-abc123"}}"#),
            &[],
        ),
        trust(
            "trust * mfa only",
            r#""*""#,
            Some(r#"{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#),
            &["iam-open-trust!"],
        ),
    ]);
    c.push(Case {
        name: "trust NotPrincipal allow".into(),
        doc: r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#.into(),
        kind: DocumentKind::Trust,
        expect: vec![TRUST.into()],
    });
    c.push(Case {
        name: "trust deny *".into(),
        doc: r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}"#.into(),
        kind: DocumentKind::Trust,
        expect: vec![],
    });
    c.push(Case {
        name: "trust * other action".into(),
        doc: r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:TagSession"}]}"#.into(),
        kind: DocumentKind::Trust,
        expect: vec![],
    });
    c.push(Case {
        name: "trust web identity *".into(),
        doc: r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}]}"#.into(),
        kind: DocumentKind::Trust,
        expect: vec![TRUST.into()],
    });
    c.push(Case {
        name: "admin document judged as trust policy".into(),
        doc: doc(&[stmt("Allow", star, star)]),
        kind: DocumentKind::Trust,
        expect: vec![],
    });
    c
}

#[test]
fn every_case_gets_the_expected_verdicts() {
    let registry = rules::registry(&compliance_responder::Config::default());
    let cases = cases();
    assert!(cases.len() >= 100, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let doc = PolicyDocument::parse(&case.doc).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let got: BTreeSet<String> = rules::check_document(&registry, &doc, case.kind)
            .into_iter()
            .map(|(meta, violations)| {
                if violations.iter().all(|v| v.conditioned) {
                    format!("{}!", meta.id)
                } else {
                    meta.id.to_string()
                }
            })
            .collect();
        let want: BTreeSet<String> = case.expect.iter().cloned().collect();
        if got != want {
            failures.push(format!("{}: want {want:?}, got {got:?}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn escalation_findings_name_the_concrete_actions() {
    let registry = rules::registry(&compliance_responder::Config::default());
    let doc =
        PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allow","Action":"iam:*Login*","Resource":"*"}]}"#).unwrap();
    let found = rules::check_document(&registry, &doc, DocumentKind::Managed);
    assert_eq!(
        found[0].1[0].matched,
        ["iam:CreateLoginProfile", "iam:UpdateLoginProfile"]
    );
}

#[test]
fn malformed_documents_are_typed_errors() {
    for (name, text) in [
        ("not json", "{"),
        ("array", "[]"),
        ("statement string", r#"{"Statement":"x"}"#),
        ("no statement", r#"{"Version":"2012-10-17"}"#),
        ("no action", r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#),
        (
            "action and notaction",
            r#"{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}"#,
        ),
        (
            "resource and notresource",
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"x"}]}"#,
        ),
        (
            "action number",
            r#"{"Statement":[{"Effect":"Allow","Action":5,"Resource":"*"}]}"#,
        ),
        (
            "empty action list",
            r#"{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
        ),
        (
            "principal number",
            r#"{"Statement":[{"Effect":"Allow","Principal":1,"Action":"sts:AssumeRole"}]}"#,
        ),
        (
            "principal unknown type",
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"sts:AssumeRole"}]}"#,
        ),
        (
            "principal and notprincipal",
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"sts:AssumeRole"}]}"#,
        ),
        (
            "condition list",
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":[]}]}"#,
        ),
        (
            "condition nested object",
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"k":{"x":1}}}}]}"#,
        ),
        ("version number", r#"{"Version":2012,"Statement":[]}"#),
        ("bad url encoding", "%7B%22Statement%22%3A%FF"),
    ] {
        assert!(PolicyDocument::parse(text).is_err(), "{name} parsed");
    }
    // An Effect that is neither Allow nor Deny is not an error: read as Allow, noted as ambiguous.
    let permit = PolicyDocument::parse(r#"{"Statement":[{"Effect":"Permit","Action":"*","Resource":"*"}]}"#).unwrap();
    assert_eq!(permit.ambiguities.len(), 1);
    let big = format!(
        r#"{{"Statement":[{}]}}"#,
        vec![r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#; 150].join(",")
    );
    assert!(PolicyDocument::parse(&big).is_ok());
    for (kind, ok) in [
        (DocumentKind::Managed, false),
        (DocumentKind::InlineRole, true),
        (DocumentKind::InlineUser, false),
    ] {
        assert_eq!(PolicyDocument::parse_as(&big, kind).is_ok(), ok, "{kind}");
    }
}
