use serde_json::json;

use super::*;
use crate::plan::{Action, Change, Plan};

fn change(address: &str, kind: &str, region: &str, action: Action) -> Change {
    Change {
        address: address.into(),
        kind: kind.into(),
        action,
        reason: String::new(),
        region: region.into(),
        physical_id: String::new(),
        attributes: Vec::new(),
        before: None,
        before_digest: None,
        after: None,
        depends_on: Vec::new(),
        refused: None,
    }
}

fn endpoint(ty: &str, count: i64, capacity: Option<i64>, max: Option<i64>) -> Value {
    json!({
        "name": "ep", "instance_type": ty, "instance_count": count, "capacity": capacity,
        "autoscaling": match max {
            Some(m) => json!({"registered": true, "min": 1, "max": m}),
            None => json!({"registered": false}),
        },
    })
}

fn plan(changes: Vec<Change>) -> Plan {
    Plan {
        format_version: "1.0".into(),
        novactl_version: "test".into(),
        environment: "t".into(),
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        spec_file: "t.yaml".into(),
        spec_digest: String::new(),
        changes,
        targets: Vec::new(),
        adopted: Vec::new(),
        cost: None,
        destroy: false,
        force: false,
        moved: Vec::new(),
        notes: Vec::new(),
    }
}

/// The seed's shape: a g5.2xlarge endpoint (1, autoscaling to 5) and its DR standby (1) in
/// us-west-2, a key and its twin, two alarms, a dashboard, a log group and a trail with data
/// events; all to create.
fn seed(ty: &str, count: i64) -> Plan {
    let mut out = Vec::new();
    let mut add = |address: &str, kind: &str, region: &str, after: Value| {
        let mut c = change(address, kind, region, Action::Create);
        c.after = Some(after);
        out.push(c);
    };
    add(
        "kms.phi",
        "kms",
        "us-east-1",
        json!({"key_state": "Enabled"}),
    );
    add(
        "dr.kms.phi",
        "kms",
        "us-west-2",
        json!({"key_state": "Enabled"}),
    );
    add(
        "sagemaker_endpoint.m",
        "sagemaker_endpoint",
        "us-east-1",
        endpoint(ty, count, None, Some(5)),
    );
    add(
        "dr.sagemaker_endpoint.m",
        "sagemaker_endpoint",
        "us-west-2",
        endpoint(ty, 1, Some(1), None),
    );
    for a in ["cloudwatch_alarm.a", "cloudwatch_alarm.b"] {
        add(a, "cloudwatch_alarm", "us-east-1", json!({"period": 60}));
    }
    add(
        "cloudwatch_dashboard.d",
        "cloudwatch_dashboard",
        "us-east-1",
        json!({"name": "d"}),
    );
    add(
        "log_group.t",
        "log_group",
        "us-east-1",
        json!({"name": "/t"}),
    );
    add(
        "cloudtrail.t",
        "cloudtrail",
        "us-east-1",
        json!({"event_selectors": [{"data_resources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]}),
    );
    plan(out)
}

#[test]
fn the_shipped_table_parses_with_its_date_and_source() {
    parse(SHIPPED, SHIPPED_NAME).expect("the shipped table parses");
    let p = Prices::shipped();
    assert!(
        chrono::NaiveDate::parse_from_str(&p.date, "%Y-%m-%d").is_ok(),
        "{}",
        p.date
    );
    assert!(p.source.contains("Price List API"), "{}", p.source);
    for region in ["us-east-1", "us-east-2", "us-west-2"] {
        for ty in [
            "ml.t2.medium",
            "ml.m5.xlarge",
            "ml.c5.xlarge",
            "ml.g4dn.xlarge",
        ] {
            assert!(p.hosting(region, ty).is_some(), "{ty} in {region}");
        }
        for ty in ["ml.g5.2xlarge", "ml.p3.2xlarge", "ml.inf2.xlarge"] {
            assert!(p.hosting(region, ty).is_some(), "{ty} in {region}");
        }
    }
}

#[test]
fn the_seed_costs_hosting_keys_alarms_and_a_dashboard_per_month() {
    let p = Prices::shipped();
    let g5 = p.hosting("us-east-1", "ml.g5.2xlarge").unwrap();
    let g5_west = p.hosting("us-west-2", "ml.g5.2xlarge").unwrap();
    let c = estimate(&seed("ml.g5.2xlarge", 1), &p);
    let want = g5 * 730.0 + g5_west * 730.0 + 2.0 * 1.0 + 2.0 * 0.10 + 3.0;
    assert_eq!(c.monthly_before, 0.0);
    assert!(
        (c.monthly_after - want).abs() < 0.006,
        "{} vs {want}",
        c.monthly_after
    );
    assert!((c.monthly_change - c.monthly_after).abs() < 1e-9);
    // The ceiling: the primary at its autoscaling maximum of 5.
    let ceiling = c.monthly_after_ceiling.expect("a ceiling");
    assert!(
        (ceiling - (want + 4.0 * g5 * 730.0)).abs() < 0.006,
        "{ceiling}"
    );
    assert!(c.unpriced.is_empty(), "{:?}", c.unpriced);
    assert_eq!(
        c.usage_based,
        vec![
            "CloudTrail data events (cloudtrail.t)",
            "CloudWatch Logs ingestion and storage (log_group.t)",
        ]
    );
    let standby = c
        .breakdown
        .iter()
        .find(|i| i.address == "dr.sagemaker_endpoint.m")
        .unwrap();
    assert_eq!(
        (standby.quantity_after, standby.region.as_str()),
        (1.0, "us-west-2")
    );
    let line = c.line();
    assert!(line.starts_with("Cost: $0.00/month -> $"), "{line}");
    assert!(
        line.contains("/month") && line.contains(&format!("prices of {}", p.date)),
        "{line}"
    );
    assert!(
        line.contains("usage-based, not estimated: CloudTrail data events, CloudWatch Logs"),
        "{line}"
    );
}

#[test]
fn a_count_or_type_change_moves_the_cost_by_price_times_hours() {
    let p = Prices::shipped();
    let g5 = p.hosting("us-east-1", "ml.g5.2xlarge").unwrap();
    let base = estimate(&seed("ml.g5.2xlarge", 1), &p).monthly_after;
    let three = estimate(&seed("ml.g5.2xlarge", 3), &p).monthly_after;
    assert!(
        (three - base - 2.0 * g5 * 730.0).abs() < 0.006,
        "{three} - {base}"
    );
    // A type change on a live endpoint: before the old type, after the new.
    let mut c = change(
        "sagemaker_endpoint.m",
        "sagemaker_endpoint",
        "us-east-1",
        Action::Update,
    );
    c.before = Some(endpoint("ml.g5.2xlarge", 1, Some(2), None));
    c.after = Some(endpoint("ml.m5.xlarge", 2, None, None));
    let cost = estimate(&plan(vec![c]), &p);
    let m5 = p.hosting("us-east-1", "ml.m5.xlarge").unwrap();
    assert_eq!(cost.monthly_before, cents(2.0 * g5 * 730.0));
    assert_eq!(cost.monthly_after, cents(2.0 * m5 * 730.0));
    assert_eq!(cost.breakdown.len(), 2, "{:?}", cost.breakdown);
    assert!(cost.line().contains(" -> "), "{}", cost.line());
}

#[test]
fn an_unknown_type_or_region_is_named_never_guessed() {
    let p = Prices::shipped();
    let mut c = change(
        "sagemaker_endpoint.m",
        "sagemaker_endpoint",
        "us-east-1",
        Action::Create,
    );
    c.after = Some(endpoint("ml.foo.xlarge", 2, None, None));
    let mut eu = change(
        "dr.sagemaker_endpoint.m",
        "sagemaker_endpoint",
        "eu-west-1",
        Action::Create,
    );
    eu.after = Some(endpoint("ml.g5.2xlarge", 1, Some(1), None));
    let cost = estimate(&plan(vec![c, eu]), &p);
    assert_eq!(cost.monthly_after, 0.0);
    assert_eq!(
        cost.unpriced,
        vec!["ml.foo.xlarge in us-east-1", "ml.g5.2xlarge in eu-west-1"]
    );
    assert_eq!(cost.breakdown[0].unit_price, None);
    assert!(
        cost.line()
            .contains("unpriced: ml.foo.xlarge in us-east-1, ml.g5.2xlarge in eu-west-1"),
        "{}",
        cost.line()
    );
}

#[test]
fn deletes_count_before_only_and_conflicts_after_only() {
    let p = Prices::shipped();
    let mut gone = change("kms.old", "kms", "us-east-1", Action::Delete);
    gone.before = Some(json!({"key_state": "Enabled"}));
    let mut pending = change("kms.older", "kms", "us-east-1", Action::NoOp);
    pending.before = Some(json!({"key_state": "PendingDeletion"}));
    let mut foreign = change(
        "cloudwatch_alarm.x",
        "cloudwatch_alarm",
        "us-east-1",
        Action::Conflict,
    );
    foreign.before = Some(json!({"period": 10}));
    foreign.after = Some(json!({"period": 10}));
    let cost = estimate(&plan(vec![gone, pending, foreign]), &p);
    assert_eq!(cost.monthly_before, 1.0);
    assert_eq!(cost.monthly_after, 0.30, "a high-resolution alarm");
    assert_eq!(cost.monthly_change, -0.70);
    assert!(cost.line().contains("(-$0.70/month"), "{}", cost.line());
}

#[test]
fn a_price_file_overrides_and_extends_the_table() {
    let p = Prices::shipped()
        .overridden(
            "date: \"2027-01-15\"\nsource: our negotiated rates\nsagemaker_hosting:\n  us-east-1:\n    ml.g5.2xlarge: 1.0\n  eu-west-1:\n    ml.g5.2xlarge: 2.0\n",
            "mine.yaml",
        )
        .unwrap();
    assert_eq!(p.hosting("us-east-1", "ml.g5.2xlarge"), Some(1.0));
    assert_eq!(p.hosting("eu-west-1", "ml.g5.2xlarge"), Some(2.0));
    assert!(
        p.hosting("us-east-1", "ml.m5.xlarge").is_some(),
        "the rest stays"
    );
    assert_eq!(p.date, "2027-01-15");
    assert!(
        p.source.starts_with("mine.yaml (our negotiated rates)"),
        "{}",
        p.source
    );
}

#[test]
fn a_bad_price_file_names_file_line_and_key() {
    let bad = |text: &str| Prices::shipped().overridden(text, "p.yaml").unwrap_err();
    let e = bad("sagemaker_hosting:\n  us-east-1:\n    ml.g5.2xlarge: -1\n");
    assert!(
        e.starts_with("p.yaml:3:5: sagemaker_hosting.us-east-1.ml.g5.2xlarge:"),
        "{e}"
    );
    let e = bad("kms_key_month:\n  us-esat-1: 1\n");
    assert!(
        e.starts_with("p.yaml:2:3: kms_key_month.us-esat-1:") && e.contains("region"),
        "{e}"
    );
    let e = bad("sagemaker_hosting:\n  us-east-1:\n    g5.2xlarge: 1\n");
    assert!(e.contains("not a SageMaker instance type"), "{e}");
    let e = bad("kms_keys: 1\n");
    assert!(
        e.starts_with("p.yaml:1:1:") && e.contains("unknown field"),
        "{e}"
    );
    let e = bad("date: yesterday\n");
    assert!(e.starts_with("p.yaml:1:1: date:"), "{e}");
    let e = bad("currency: EUR\n");
    assert!(e.contains("only USD"), "{e}");
}

#[test]
fn dollars_are_grouped_and_signed() {
    assert_eq!(usd(0.0), "$0.00");
    assert_eq!(usd(1105.95), "$1,105.95");
    assert_eq!(usd(1234567.891), "$1,234,567.89");
    assert_eq!(usd(-12.5), "-$12.50");
}

#[test]
fn interface_endpoints_bill_per_az_and_gateways_nothing() {
    let p = Prices::shipped();
    let net = |region: &str, subnets: usize| {
        let attached: Vec<String> = (0..subnets).map(|i| format!("private-{i}")).collect();
        let mut c = change("network.main", "network", region, Action::Create);
        c.after = Some(json!({
            "endpoints": {
                "s3": {"kind": "Gateway", "attached_to": attached},
                "kms": {"kind": "Interface", "attached_to": attached},
                "logs": {"kind": "Interface", "attached_to": attached},
            }
        }));
        c
    };
    // Two interface endpoints in two AZs: 4 endpoint-AZ-hours at $0.01 for 730 hours.
    let cost = estimate(&plan(vec![net("us-east-1", 2)]), &p);
    assert_eq!(cost.monthly_after, 29.2);
    assert_eq!(cost.breakdown[0].item, "VPC interface endpoint");
    assert!(cost.unpriced.is_empty());
    assert!(
        cost.line().contains("VPC endpoint data processing"),
        "{}",
        cost.line()
    );
    // Three AZs cost half as much again; a region the table lacks is named, not guessed.
    assert_eq!(
        estimate(&plan(vec![net("us-west-2", 3)]), &p).monthly_after,
        43.8
    );
    let eu = estimate(&plan(vec![net("eu-west-1", 2)]), &p);
    assert_eq!(eu.monthly_after, 0.0);
    assert_eq!(eu.unpriced, vec!["VPC interface endpoints in eu-west-1"]);
}
