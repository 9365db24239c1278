//! The SAM template routes exactly the CloudTrail events the code handles to the function.
//! (Full cfn-lint and EventBridge pattern checks belong to the deployment work.)

use compliance_responder::sources::cloudtrail::{DETAIL_TYPE, HANDLED_EVENT_NAMES, SOURCE};
use integration_tests::repo_root;

fn list_after(template: &str, key: &str) -> Vec<String> {
    let mut lines = template.lines().skip_while(|l| l.trim() != format!("{key}:"));
    let header = lines.next().expect("key present");
    let indent = header.len() - header.trim_start().len();
    lines
        .take_while(|l| l.len() - l.trim_start().len() > indent && l.trim_start().starts_with("- "))
        .map(|l| l.trim_start()[2..].trim().to_string())
        .collect()
}

#[test]
fn event_pattern_matches_the_handled_calls() {
    let t = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let mut in_template = list_after(&t, "eventName");
    in_template.sort();
    let mut handled: Vec<String> = HANDLED_EVENT_NAMES.iter().map(|s| s.to_string()).collect();
    handled.sort();
    assert_eq!(in_template, handled);
    assert!(t.contains(&format!("source: [{SOURCE}]")));
    assert!(t.contains(&format!("detail-type: [{DETAIL_TYPE}]")));
    assert!(t.contains("BuildMethod: rust-cargolambda") && t.contains("Binary: cloudtrail-responder"));
}

#[test]
fn every_sample_event_is_one_the_pattern_routes() {
    for path in integration_tests::sample_events("cloudtrail") {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["source"], SOURCE, "{}", path.display());
        assert_eq!(v["detail-type"], DETAIL_TYPE, "{}", path.display());
        assert_eq!(v["region"], "us-east-1", "{}", path.display());
        let name = v["detail"]["eventName"].as_str().unwrap();
        assert!(HANDLED_EVENT_NAMES.contains(&name), "{}: {name}", path.display());
    }
}
