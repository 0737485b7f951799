//! The cost line of `plan` on the seed stack (`environments/local.yaml`) against the emulator:
//! the monthly cost with the table's date, a count or type change moving it by the table's
//! price × 730 × the instances changed, an unknown type named as unpriced, `--prices FILE`.

mod common;

use common::{local_spec, novactl, Emulator, Project};
use serde_json::Value;

/// The shipped table, read as the test's own reference.
fn table() -> serde_yaml::Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(root.join("prices/aws-prices.yaml")).unwrap())
        .unwrap()
}

fn hosting(t: &serde_yaml::Value, region: &str, ty: &str) -> f64 {
    t["sagemaker_hosting"][region][ty].as_f64().unwrap()
}

fn plan_json(emu: &Emulator, spec: &str, extra: &[&str]) -> Value {
    let p = Project::new(spec);
    let mut args = vec!["plan", "--json", "-e", p.spec.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = novactl(Some(emu), &args).expect_code(0);
    serde_json::from_str::<Value>(&r.stdout).expect("plan JSON")["cost"].clone()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.006
}

#[test]
fn seed_plan_prices_the_stack_and_its_changes() {
    let emu = Emulator::start();
    let t = table();
    let date = t["date"].as_str().unwrap().to_string();
    let g5 = hosting(&t, "us-east-1", "ml.g5.2xlarge");
    let g5_dr = hosting(&t, "us-west-2", "ml.g5.2xlarge");
    let m5 = hosting(&t, "us-east-1", "ml.m5.xlarge");
    let m5_dr = hosting(&t, "us-west-2", "ml.m5.xlarge");
    let key = t["kms_key_month"]["*"].as_f64().unwrap();
    let alarm = t["cloudwatch_alarm_month"]["us-east-1"].as_f64().unwrap();
    let dashboard = t["cloudwatch_dashboard_month"]["*"].as_f64().unwrap();
    let endpoint_az = t["vpc_interface_endpoint_az_hour"]["us-east-1"]
        .as_f64()
        .unwrap();
    let seed = local_spec();

    // The text plan: one cost line, with the table's date.
    let p = Project::new(&seed);
    let text = novactl(Some(&emu), &["plan", "-e", p.spec.to_str().unwrap()]).expect_code(0);
    let lines: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.contains("/month"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", text.stdout);
    // The primary (1) and its DR standby (1), the key and its twin, two alarms and the
    // trail's fifteen CIS alarms, one dashboard; in each region the network's nine interface
    // endpoints in its two private subnets (the S3 gateway endpoint is free).
    let want = 730.0 * (g5 + g5_dr)
        + 2.0 * key
        + 17.0 * alarm
        + dashboard
        + 730.0 * endpoint_az * 2.0 * 9.0 * 2.0;
    let ceiling = want + 730.0 * 4.0 * g5; // autoscaling max 5
    let usd = |x: f64| {
        let s = format!("{x:.2}");
        let (i, f) = s.split_once('.').unwrap();
        let mut g = String::new();
        for (n, c) in i.chars().enumerate() {
            if n > 0 && (i.len() - n) % 3 == 0 {
                g.push(',');
            }
            g.push(c);
        }
        format!("${g}.{f}")
    };
    let expected = format!(
        "Cost: $0.00/month -> {a}/month (+{a}/month; up to {c}/month at the autoscaling \
         maximum; prices of {date}; usage-based, not estimated: ",
        a = usd(want),
        c = usd(ceiling)
    );
    assert!(
        lines[0].starts_with(&expected),
        "{}\nwanted {expected}",
        lines[0]
    );
    assert!(lines[0].contains("CloudTrail data events"), "{}", lines[0]);

    // JSON: the cost object and its breakdown.
    let base = plan_json(&emu, &seed, &[]);
    assert_eq!(num(&base["monthly_before"]), 0.0);
    assert!(close(num(&base["monthly_after"]), want), "{base}");
    assert_eq!(base["unpriced"], serde_json::json!([]));
    let items = base["breakdown"].as_array().unwrap();
    let count = |item: &str| items.iter().filter(|i| i["item"] == item).count();
    assert_eq!(count("KMS customer managed key"), 2, "{base}");
    assert_eq!(count("CloudWatch alarm"), 17, "{base}");
    assert_eq!(count("SageMaker hosting ml.g5.2xlarge"), 2, "{base}");
    let standby = items
        .iter()
        .find(|i| i["address"] == "dr.sagemaker_endpoint.mentallama")
        .expect("the standby is priced");
    assert_eq!(standby["region"], "us-west-2");
    assert_eq!(num(&standby["quantity_after"]), 1.0);

    // instance_count 1 -> 3 adds two primary instances.
    let three = seed.replacen(
        "instance_count: 1\n      kms_key",
        "instance_count: 3\n      kms_key",
        1,
    );
    assert_ne!(three, seed);
    let c = plan_json(&emu, &three, &[]);
    let delta = num(&c["monthly_after"]) - num(&base["monthly_after"]);
    assert!(close(delta, 2.0 * 730.0 * g5), "{delta}");

    // instance_type: the primary and its standby both move to ml.m5.xlarge.
    let m5_spec = seed.replace(
        "instance_type: ml.g5.2xlarge",
        "instance_type: ml.m5.xlarge",
    );
    let c = plan_json(&emu, &m5_spec, &[]);
    let delta = num(&c["monthly_after"]) - num(&base["monthly_after"]);
    assert!(
        close(delta, 730.0 * ((m5 - g5) + (m5_dr - g5_dr))),
        "{delta}"
    );

    // An unknown type is named, never guessed.
    let foo = seed.replace(
        "instance_type: ml.g5.2xlarge",
        "instance_type: ml.foo.xlarge",
    );
    let c = plan_json(&emu, &foo, &[]);
    assert_eq!(
        c["unpriced"],
        serde_json::json!(["ml.foo.xlarge in us-east-1", "ml.foo.xlarge in us-west-2"])
    );
    assert!(
        close(num(&c["monthly_after"]), want - 730.0 * (g5 + g5_dr)),
        "{c}"
    );

    // --prices overrides a price (and dates the estimate).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices.yaml");
    std::fs::write(
        &file,
        "date: \"2027-02-01\"\nsagemaker_hosting:\n  us-east-1:\n    ml.g5.2xlarge: 2.5\n",
    )
    .unwrap();
    let c = plan_json(&emu, &seed, &["--prices", file.to_str().unwrap()]);
    assert_eq!(c["prices_date"], "2027-02-01");
    let delta = num(&c["monthly_after"]) - num(&base["monthly_after"]);
    assert!(close(delta, 730.0 * (2.5 - g5)), "{delta}");

    // A bad price file fails before any AWS call, naming its line and key.
    std::fs::write(&file, "kms_key_month:\n  \"*\": -1\n").unwrap();
    let p = Project::new(&seed);
    let r = novactl(
        Some(&emu),
        &[
            "plan",
            "-e",
            p.spec.to_str().unwrap(),
            "--prices",
            file.to_str().unwrap(),
        ],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("prices.yaml:2:3: kms_key_month.*:"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("AWS call"), "{}", r.stderr);
}
