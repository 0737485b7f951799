//! `plan --format markdown` and `show PLAN --format markdown` against the emulator: the pull-
//! request comment of a change that deletes a role and turns a bucket's versioning off (a HIPAA
//! finding the change brings).

mod common;

use common::{novactl, unique, Emulator, Project};

fn spec(name: &str, versioning: bool, role: bool) -> String {
    let mut s = format!(
        "environment: {name}\nregion: us-east-1\nkms:\n  data:\n    alias: alias/{name}\n    \
         deletion_window_days: 7\ns3:\n  data:\n    name: {name}-data\n    kms_key: data\n    \
         versioning: {versioning}\n"
    );
    if role {
        s.push_str(&format!(
            "iam:\n  app:\n    name: {name}-app\n    trust: [ecs-tasks.amazonaws.com]\n"
        ));
    }
    s
}

#[test]
fn plan_and_show_print_the_review_comment() {
    let emu = Emulator::start();
    let name = format!("md{}", unique("").trim_start_matches('-'));
    let p = Project::new(&spec(&name, true, true));
    let e = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["apply", "-q", "-e", e, "--auto-approve"]).expect_code(0);
    p.write_spec(&spec(&name, false, false));
    let saved = p.path("plan.json");
    let saved = saved.to_str().unwrap();
    let md = novactl(
        Some(&emu),
        &["plan", "-e", e, "--format", "markdown", "--out", saved],
    )
    .expect_code(0)
    .stdout;
    assert!(md.starts_with("## novactl plan: "), "{md}");
    assert!(
        md.contains("**Plan: 0 to create, 1 to update, 0 to replace, 1 to delete, 0 refused.**"),
        "{md}"
    );
    // The delete first (loudly), then the update; the finding versioning-off brings.
    let delete = md.find("- ⚠️ **delete** <code>iam.app</code>").expect(&md);
    let table = md.find("### Changes").expect(&md);
    let update = md.find("| <code>s3.data</code> | update |").expect(&md);
    assert!(delete < table && table < update, "{md}");
    let findings = md.find("### HIPAA findings").expect(&md);
    assert!(
        md[findings..]
            .contains("| ➕ new | **error** | <code>NOVA-S3-003</code> | <code>s3.data</code> |"),
        "{md}"
    );
    assert!(md.contains(&format!("novactl apply {saved}\n")), "{md}");
    assert!(md.chars().count() <= 65_000);

    // The saved plan renders the same comment, without the findings (a plan file has none).
    let shown = novactl(None, &["show", saved, "--format", "markdown"])
        .expect_code(0)
        .stdout;
    assert!(!shown.contains("### HIPAA findings"), "{shown}");
    assert_eq!(
        shown,
        format!(
            "{}{}",
            &md[..findings],
            &md[md.find("### Attribute changes").expect(&md)..]
        )
    );
    // `--json` is `--format json`; with another format it is a usage error (exit 1).
    let both = novactl(None, &["show", saved, "--json", "--format", "markdown"]).expect_code(1);
    assert!(
        both.stderr.contains("--json means --format json"),
        "{}",
        both.stderr
    );
    let json = novactl(None, &["show", saved, "--json", "--format", "json"]).expect_code(0);
    assert!(json.stdout.starts_with('{'));
}
