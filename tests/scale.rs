//! Plan cost independent of the account: discovery goes through the Resource Groups Tagging API
//! and the state inventory, so another environment in the same account adds no call to this
//! one's plan. Counts, never timings (those are in bench/).
//!
//! Emulator patches these tests depend on (tests/emulator/README.md): `patch_tagging_*` (trails
//! and regional buckets in GetResources), f (`patch_cloudwatch_rpcv2_cbor`, alarms and
//! dashboards).

mod common;

use common::{assert_no_changes, changes, novactl, plan_json, unique, Emulator, Project, Run};

const REGION: &str = "us-east-1";

/// An environment of `units` copies of: a key, a bucket, a role, a topic, an alarm and a
/// dashboard (names made unique by `tag`).
fn spec(env: &str, tag: &str, units: usize, dashboards: bool) -> String {
    let mut kms = String::new();
    let mut s3 = String::new();
    let mut iam = String::new();
    let mut sns = String::new();
    let mut alarms = String::new();
    let mut boards = String::new();
    for i in 0..units {
        kms += &format!("  k{i}:\n    alias: alias/{tag}-k{i}\n    deletion_window_days: 7\n");
        s3 += &format!("  b{i}:\n    name: {tag}-b{i}\n    kms_key: k{i}\n");
        iam += &format!("  r{i}:\n    name: {tag}-r{i}\n    trust: [sagemaker.amazonaws.com]\n");
        sns += &format!("  t{i}:\n    name: {tag}-t{i}\n    kms_key: k{i}\n");
        alarms += &format!(
            "    a{i}:\n      name: {tag}-a{i}\n      namespace: AWS/SageMaker\n      metric: \
             ModelLatency\n      statistic: Average\n      period: 60\n      \
             evaluation_periods: 5\n      threshold: 100\n      comparison: \
             GreaterThanThreshold\n      actions: [t{i}]\n"
        );
        if dashboards {
            boards += &format!(
                "    d{i}:\n      name: {tag}-d{i}\n      template: \
                 ../templates/dashboards/mentallama.json.tera\n"
            );
        }
    }
    let boards = if boards.is_empty() {
        String::new()
    } else {
        format!("  dashboards:\n{boards}")
    };
    format!(
        "environment: {env}\nregion: {REGION}\nvars:\n  endpoint_name: e\nkms:\n{kms}s3:\n{s3}iam:\n{iam}sns:\n{sns}\
         cloudwatch:\n  alarms:\n{alarms}{boards}"
    )
}

/// The total of the closing "N AWS calls (...)" line.
fn calls(r: &Run) -> usize {
    let line = r
        .stderr
        .lines()
        .rfind(|l| l.contains("AWS calls ("))
        .unwrap_or_else(|| panic!("no call summary:\n{}", r.stderr));
    line.split(' ').next().unwrap().parse().expect("call count")
}

fn plan(emu: &Emulator, p: &Project, extra: &[&str]) -> Run {
    let mut args = vec![
        "plan",
        "-e",
        p.spec.to_str().unwrap(),
        "--detailed-exitcode",
    ];
    args.extend_from_slice(extra);
    novactl(Some(emu), &args).expect_code(0)
}

fn apply(emu: &Emulator, p: &Project) {
    novactl(
        Some(emu),
        &["apply", "-e", p.spec.to_str().unwrap(), "--auto-approve"],
    )
    .expect_code(0);
}

#[test]
fn a_no_op_plan_makes_the_same_calls_whatever_else_the_account_holds() {
    let emu = Emulator::start();
    let mine = Project::new(&spec("mine", &unique("mine"), 2, true));
    apply(&emu, &mine);
    let alone = plan(&emu, &mine, &[]);
    assert!(alone.stdout.starts_with("No changes."), "{}", alone.stdout);

    // Another environment, five times the size, in the same account and region.
    let other = Project::new(&spec("other", &unique("other"), 10, true));
    apply(&emu, &other);
    let crowded = plan(&emu, &mine, &[]);
    assert!(
        crowded.stdout.starts_with("No changes."),
        "{}",
        crowded.stdout
    );
    assert_eq!(
        calls(&crowded),
        calls(&alone),
        "the other environment's 60 resources must cost this plan nothing\nalone:\n{}\ncrowded:\n{}",
        alone.stderr,
        crowded.stderr
    );

    // The full scan is the account-sized way: it reads the other environment too, so the
    // count above is not equal by accident.
    let scan = plan(&emu, &mine, &["--scan"]);
    assert!(scan.stdout.starts_with("No changes."), "{}", scan.stdout);
    assert!(
        calls(&scan) > calls(&alone) + 40,
        "scan {} vs tagged {}",
        calls(&scan),
        calls(&alone)
    );

    // -v reports the calls by kind: one line per kind with its resources and reads.
    let v = plan(&emu, &mine, &["-v"]);
    let s3 = v
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("s3 "))
        .unwrap_or_else(|| panic!("no s3 line in -v output:\n{}", v.stderr));
    let cols: Vec<&str> = s3.split_whitespace().collect();
    assert_eq!(cols[1], "2", "two buckets: {s3}");
    assert_eq!(cols[3], "0", "a plan writes nothing: {s3}");
    let reads: usize = cols[2].parse().unwrap();
    assert!(reads >= 2, "{s3}");
}

#[test]
fn what_left_the_spec_is_found_through_the_tagging_api_and_the_inventory() {
    let emu = Emulator::start();
    let tag = unique("left");
    let p = Project::new(&spec("left", &tag, 2, true));
    apply(&emu, &p);
    // Unit 1 leaves the spec: its key, bucket and topic are found by the tagging API, its
    // role and dashboard (which the tagging API does not cover) by the inventory.
    p.write_spec(&spec("left", &tag, 1, true));
    let mut deleted: Vec<String> = changes(&plan_json(&emu, &p))
        .into_iter()
        .filter(|(_, action, _)| action == "delete")
        .map(|(a, _, _)| a)
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            "cloudwatch_alarm.a1",
            "cloudwatch_dashboard.d1",
            "iam.r1",
            "kms.k1",
            "s3.b1",
            "sns.t1"
        ]
    );
    apply(&emu, &p);
    assert_no_changes(&emu, p.spec.to_str().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cw = emu.cloudwatch(REGION).await;
        let boards = cw.list_dashboards().send().await.unwrap();
        let names: Vec<&str> = boards
            .dashboard_entries()
            .iter()
            .filter_map(|d| d.dashboard_name())
            .collect();
        assert_eq!(names, [format!("{tag}-d0")], "d1 deleted, d0 kept");
        let iam = emu.iam().await;
        assert!(iam
            .get_role()
            .role_name(format!("{tag}-r1"))
            .send()
            .await
            .is_err());
        assert!(iam
            .get_role()
            .role_name(format!("{tag}-r0"))
            .send()
            .await
            .is_ok());
    });
}
