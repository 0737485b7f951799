//! `novactl import` end to end: resources made with the SDK outside novactl are imported, the
//! printed entries pasted into a spec, `apply --adopt` takes them over and a plan is then
//! "No changes.". One emulator for every kind.

mod common;

use aws_sdk_kms::types::Tag as KmsTag;
use aws_sdk_sns::types::Tag as SnsTag;
use common::{assert_no_changes, novactl, Emulator, Project};

const ALIAS: &str = "alias/handmade-phi";
const TOPIC: &str = "Handmade-Alerts";

#[tokio::test(flavor = "multi_thread")]
async fn imported_entries_adopt_as_no_changes() {
    let emu = Emulator::start();
    // Made by hand: a key with an alias, a description, rotation, a tag of its own; a topic
    // encrypted with it.
    let kms = emu.kms("us-east-1").await;
    let key = kms
        .create_key()
        .description("PHI key made by hand")
        .tags(
            KmsTag::builder()
                .tag_key("Team")
                .tag_value("ml")
                .build()
                .unwrap(),
        )
        .tags(
            KmsTag::builder()
                .tag_key("Project")
                .tag_value("NOVAMIND")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    kms.enable_key_rotation()
        .key_id(key.key_id())
        .send()
        .await
        .unwrap();
    kms.create_alias()
        .alias_name(ALIAS)
        .target_key_id(key.key_id())
        .send()
        .await
        .unwrap();
    let sns = emu.sns("us-east-1").await;
    sns.create_topic()
        .name(TOPIC)
        .attributes("KmsMasterKeyId", key.arn().unwrap())
        .tags(SnsTag::builder().key("Team").value("ml").build().unwrap())
        .send()
        .await
        .unwrap();

    let body = r#"{"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "made by hand"}}]}"#;
    emu.cloudwatch("us-east-1")
        .await
        .put_dashboard()
        .dashboard_name("Handmade-Ops")
        .dashboard_body(body)
        .send()
        .await
        .unwrap();

    let base = "environment: imp\nregion: us-east-1\ntags:\n  Project: NOVAMIND\n";
    let p = Project::new(base);
    let spec = p.spec.to_str().unwrap().to_string();
    let mut text = base.to_string();

    // The key: by its id; its policy written beside the spec.
    let dir = p.path("policies/imported");
    let r = novactl(
        Some(&emu),
        &[
            "import",
            "-e",
            &spec,
            "kms",
            key.key_id(),
            "--write",
            dir.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert_eq!(r.writes(), 0, "import never writes");
    assert!(
        r.stdout.starts_with("kms:\n  handmade_phi:\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("alias: alias/handmade-phi"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Team: ml") && !r.stdout.contains("Project:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("policy: ../policies/imported/kms-handmade_phi-policy.json"),
        "{}",
        r.stdout
    );
    assert!(dir.join("kms-handmade_phi-policy.json").is_file());
    text.push_str(&r.stdout);
    p.write_spec(&text);

    // The topic: its key becomes a reference to the spec's key.
    let r = novactl(
        Some(&emu),
        &["import", "-e", &spec, "sns", TOPIC, "--as", "alerts"],
    )
    .expect_code(0);
    assert!(r.stdout.starts_with("sns:\n  alerts:\n"), "{}", r.stdout);
    assert!(r.stdout.contains("kms_key: handmade_phi"), "{}", r.stdout);
    text.push_str(&r.stdout);
    p.write_spec(&text);
    // The dashboard: its body becomes a template file; without --write the entry says so.
    let r = novactl(
        Some(&emu),
        &[
            "import",
            "-e",
            &spec,
            "cloudwatch.dashboards",
            "Handmade-Ops",
        ],
    )
    .expect_code(0);
    assert!(r.stdout.contains("pass --write DIR"), "{}", r.stdout);
    let r = novactl(
        Some(&emu),
        &[
            "import",
            "-e",
            &spec,
            "cloudwatch.dashboards",
            "Handmade-Ops",
            "--write",
            p.path("templates/imported").to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert!(
        r.stdout
            .starts_with("cloudwatch:\n  dashboards:\n    handmade_ops:\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("template: ../templates/imported/dashboard-handmade_ops.json.tera"),
        "{}",
        r.stdout
    );
    text.push_str(&r.stdout);
    p.write_spec(&text);
    novactl(None, &["fmt", "--check", "-e", &spec]).expect_code(0);

    // Pasted, adopted: nothing else to change.
    novactl(
        Some(&emu),
        &[
            "apply",
            "-e",
            &spec,
            "--adopt",
            "kms.handmade_phi",
            "--adopt",
            "sns.alerts",
            "--auto-approve",
        ],
    )
    .expect_code(0);
    assert_no_changes(&emu, &spec);
    let after = kms.describe_key().key_id(ALIAS).send().await.unwrap();
    assert_eq!(
        after.key_metadata.unwrap().key_id(),
        key.key_id(),
        "the same key"
    );

    // Errors: a kind without an import yet, a section that does not exist, an id that names
    // nothing.
    let r = novactl(Some(&emu), &["import", "-e", &spec, "cloudtrail", "t"]).expect_code(1);
    assert!(
        r.stderr
            .contains("import is not supported for kind cloudtrail yet"),
        "{}",
        r.stderr
    );
    let r = novactl(Some(&emu), &["import", "-e", &spec, "kmss", "x"]).expect_code(1);
    assert!(r.stderr.contains("did you mean `kms`"), "{}", r.stderr);
    let r = novactl(Some(&emu), &["import", "-e", &spec, "sns", "nope"]).expect_code(1);
    assert!(r.stderr.contains("no sns topic `nope`"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
