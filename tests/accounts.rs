//! Accounts per environment: `aws.assume_role` into emulator accounts (moto's STS AssumeRole
//! switches to the role ARN's account), several `-e` run concurrently with one summary,
//! the audit record naming the caller and the assumed role, the account guard, `envs`, and
//! `aws.profile` from a credentials file.

mod common;

use common::{novactl, novactl_command, unique, Emulator, Project, Run};
use serde_json::Value;

const DEV_ACCOUNT: &str = "111111111111";
const PROD_ACCOUNT: &str = "222222222222";
/// moto's identity for credentials it did not issue (the base caller of these tests).
const BASE_CALLER: &str = "arn:aws:sts::123456789012:user/moto";

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/novactl-deployer")
}

/// A small full spec: one KMS key, reached through `aws.assume_role` into `account`.
fn spec(env: &str, account: &str, alias: &str) -> String {
    format!(
        "environment: {env}\nregion: us-east-1\naccount_id: \"{account}\"\naws:\n  assume_role:\n    \
         role_arn: {}\n    duration_seconds: 900\nkms:\n  phi:\n    alias: alias/{alias}\n    \
         deletion_window_days: 7\n",
        role(account)
    )
}

/// What dev and prod share: the region, the session length and the key's settings.
const BASE: &str = "region: us-east-1\naws:\n  assume_role:\n    duration_seconds: 900\nkms:\n  \
                    phi:\n    deletion_window_days: 7\n";

/// An overlay of `base.yaml`: the environment's name, account, role and key alias.
fn overlay(env: &str, account: &str, alias: &str) -> String {
    format!(
        "extend: base.yaml\nenvironment: {env}\naccount_id: \"{account}\"\naws:\n  assume_role:\n    \
         role_arn: {}\nkms:\n  phi:\n    alias: alias/{alias}\n",
        role(account)
    )
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", r.stdout))
}

/// A KMS client in `account`, on credentials of the role assumed there (as novactl does).
async fn kms_in(emu: &Emulator, account: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&conf_in(emu, account).await)
}

/// An SDK config for `account`, on credentials of the role assumed there.
async fn conf_in(emu: &Emulator, account: &str) -> aws_types::SdkConfig {
    let base = emu.sdk("us-east-1").await;
    let out = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(role(account))
        .role_session_name("test-reader")
        .send()
        .await
        .unwrap();
    let c = out.credentials.unwrap();
    let creds = aws_sdk_sts::config::Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        None,
        "assumed",
    );
    base.into_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

async fn aliases(kms: &aws_sdk_kms::Client) -> Vec<String> {
    kms.list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn two_environments_in_two_accounts_plan_concurrently() {
    let emu = Emulator::start();
    let (dev_alias, prod_alias) = (unique("dev-phi"), unique("prod-phi"));
    // dev and prod are overlays of one base.
    let p = Project::new(&overlay("dev", DEV_ACCOUNT, &dev_alias));
    std::fs::write(p.path("environments/base.yaml"), BASE).unwrap();
    let dev = p.spec.to_str().unwrap().to_string();
    let prod_path = p.path("environments/prod.yaml");
    std::fs::write(&prod_path, overlay("prod", PROD_ACCOUNT, &prod_alias)).unwrap();
    let prod = prod_path.to_str().unwrap().to_string();

    // Both at once: grouped output, one summary, worst exit code (2: changes).
    let r = novactl(
        Some(&emu),
        &["plan", "-e", &dev, "-e", &prod, "--detailed-exitcode"],
    )
    .expect_code(2);
    let (d, q) = (
        r.stdout.find(&format!("=== {dev} ===")).expect("dev group"),
        r.stdout
            .find(&format!("=== {prod} ==="))
            .expect("prod group"),
    );
    assert!(d < q, "groups in -e order:\n{}", r.stdout);
    assert!(r.stdout[d..q].contains(&dev_alias) && !r.stdout[d..q].contains(&prod_alias));
    assert!(r.stdout[q..].contains(&prod_alias));
    let summary = &r.stderr[r.stderr.find("Summary of 2 environments").expect("summary")..];
    assert_eq!(summary.matches("changes").count(), 2, "{summary}");

    // JSON: one array, an object per environment in -e order.
    let v =
        json_of(&novactl(Some(&emu), &["plan", "-e", &dev, "-e", &prod, "--json"]).expect_code(0));
    let arr = v.as_array().expect("an array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["file"], dev.as_str());
    assert_eq!(arr[1]["file"], prod.as_str());
    assert!(arr
        .iter()
        .all(|o| o["exit_code"] == 0 && o["output"].is_object()));

    // Apply stays one environment at a time.
    let r = novactl(
        Some(&emu),
        &["apply", "-e", &dev, "-e", &prod, "--auto-approve"],
    )
    .expect_code(1);
    assert!(
        r.stderr.contains("one environment at a time"),
        "{}",
        r.stderr
    );

    for f in [&dev, &prod] {
        novactl(Some(&emu), &["apply", "-e", f, "--auto-approve"]).expect_code(0);
    }
    // Each key is in its own account, and only there.
    let (dev_kms, prod_kms) = (
        kms_in(&emu, DEV_ACCOUNT).await,
        kms_in(&emu, PROD_ACCOUNT).await,
    );
    let (in_dev, in_prod) = (aliases(&dev_kms).await, aliases(&prod_kms).await);
    let (dev_a, prod_a) = (format!("alias/{dev_alias}"), format!("alias/{prod_alias}"));
    assert!(
        in_dev.contains(&dev_a) && !in_dev.contains(&prod_a),
        "{in_dev:?}"
    );
    assert!(
        in_prod.contains(&prod_a) && !in_prod.contains(&dev_a),
        "{in_prod:?}"
    );
    let base_aliases = aliases(&emu.kms("us-east-1").await).await;
    assert!(!base_aliases.contains(&dev_a) && !base_aliases.contains(&prod_a));

    // Both converged: "No changes." for each, exit 0.
    let r = novactl(
        Some(&emu),
        &["plan", "-e", &dev, "-e", &prod, "--detailed-exitcode"],
    )
    .expect_code(0);
    let q = r
        .stdout
        .find(&format!("=== {prod} ==="))
        .expect("prod group");
    assert!(r.stdout[..q].contains("No changes.") && r.stdout[q..].contains("No changes."));
    assert!(!r.stdout.contains("to create"), "{}", r.stdout);

    // The audit record names the caller (base identity) and the role it assumed.
    let h = json_of(&novactl(Some(&emu), &["history", "-e", &dev, "--json"]).expect_code(0));
    let rec = h
        .as_array()
        .and_then(|a| a.first())
        .expect("one record")
        .clone();
    assert_eq!(rec["caller_arn"], BASE_CALLER, "{rec}");
    assert_eq!(rec["account_id"], DEV_ACCOUNT);
    assert_eq!(rec["assumed_role"]["role_arn"], role(DEV_ACCOUNT).as_str());
    let session = rec["assumed_role"]["session_name"].as_str().unwrap();
    assert_eq!(
        session,
        format!("novactl-{}", rec["run_id"].as_str().unwrap())
    );
    let arn = rec["assumed_role"]["arn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{DEV_ACCOUNT}:assumed-role/novactl-deployer/"
        )),
        "{arn}"
    );

    // One environment failing makes the whole run fail (the worst code), the other is listed.
    std::fs::write(
        &prod_path,
        "environment: prod\nregion: us-east-1\nkmss: {}\n",
    )
    .unwrap();
    let r = novactl(
        Some(&emu),
        &["plan", "-e", &dev, "-e", &prod, "--detailed-exitcode"],
    )
    .expect_code(1);
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("[{prod}]")) && r.stderr.contains("kmss"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn account_guard_names_both_identities() {
    // The role is in another account than `account_id`: refused at validate, no AWS call.
    let mut bad = spec("guard", DEV_ACCOUNT, &unique("g"));
    bad = bad.replace(
        &format!("\"{DEV_ACCOUNT}\""),
        &format!("\"{PROD_ACCOUNT}\""),
    );
    let p = Project::new(&bad);
    let f = p.spec.to_str().unwrap();
    let r = novactl(None, &["validate", "-e", f]).expect_code(1);
    assert!(
        r.stderr.contains("aws.assume_role.role_arn")
            && r.stderr.contains(DEV_ACCOUNT)
            && r.stderr.contains(PROD_ACCOUNT)
            && r.stderr.contains("test.yaml:"),
        "{}",
        r.stderr
    );
    // A malformed role ARN: file, line and key.
    p.write_spec(&spec("guard", DEV_ACCOUNT, "x").replace(&role(DEV_ACCOUNT), "novactl-deployer"));
    let r = novactl(None, &["validate", "-e", f]).expect_code(1);
    assert!(
        r.stderr.contains("test.yaml:6") && r.stderr.contains("not an IAM role ARN"),
        "{}",
        r.stderr
    );

    // Without account_id the run works in the role's account.
    let emu = Emulator::start();
    let no_pin = spec("guard", DEV_ACCOUNT, &unique("g"))
        .replace(&format!("account_id: \"{DEV_ACCOUNT}\"\n"), "");
    p.write_spec(&no_pin);
    let r = novactl(Some(&emu), &["plan", "-e", f]).expect_code(0);
    assert!(r.stdout.contains("to create"), "{}", r.stdout);
}

#[test]
fn envs_lists_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("dev.yaml"), spec("dev", DEV_ACCOUNT, "a")).unwrap();
    std::fs::write(
        d.join("prod.yml"),
        "environment: prod\nregion: eu-west-1\nstate:\n  s3:\n    bucket: prod-state-bucket\n",
    )
    .unwrap();
    std::fs::write(
        d.join("base.yaml"),
        "region: us-east-1\ntags:\n  Team: ml\n",
    )
    .unwrap();
    std::fs::write(
        d.join("broken.yaml"),
        "environment: broken\nregion: us-east-1\nkmss: {}\n",
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "environment: nope\n").unwrap();
    let r = novactl(None, &["envs", d.to_str().unwrap(), "--json"]).expect_code(1);
    let v = json_of(&r);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    assert_eq!(list[0]["environment"], "dev");
    assert_eq!(list[0]["account_id"], DEV_ACCOUNT);
    assert_eq!(list[0]["region"], "us-east-1");
    assert_eq!(list[0]["backend"], "local");
    assert_eq!(list[0]["role_arn"], role(DEV_ACCOUNT).as_str());
    assert!(list[0]["file"].as_str().unwrap().ends_with("dev.yaml"));
    assert_eq!(list[1]["environment"], "prod");
    assert_eq!(list[1]["account_id"], Value::Null);
    assert_eq!(list[1]["region"], "eu-west-1");
    assert_eq!(list[1]["backend"], "s3://prod-state-bucket/novactl/");
    assert!(
        r.stderr.contains("broken.yaml") && r.stderr.contains("kmss"),
        "{}",
        r.stderr
    );

    // Text: a table with the same facts; all good → exit 0.
    std::fs::remove_file(d.join("broken.yaml")).unwrap();
    let r = novactl(None, &["envs", d.to_str().unwrap()]).expect_code(0);
    for want in [
        "dev.yaml",
        "prod.yml",
        DEV_ACCOUNT,
        "eu-west-1",
        "s3://prod-state-bucket/",
    ] {
        assert!(r.stdout.contains(want), "{want} missing:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("base.yaml"));
}

#[tokio::test]
async fn profile_from_the_spec() {
    let emu = Emulator::start();
    // An IAM user whose keys only the profile holds: the audit record names that user.
    let iam = emu.iam().await;
    let user = unique("ci");
    iam.create_user().user_name(&user).send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let key = key.access_key.unwrap();
    let home = tempfile::tempdir().unwrap();
    let creds = home.path().join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[novadev]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.access_key_id, key.secret_access_key
        ),
    )
    .unwrap();
    let config = home.path().join("config");
    std::fs::write(&config, "[profile novadev]\nregion = us-east-1\n").unwrap();
    let alias = unique("prof");
    let p = Project::new(&format!(
        "environment: prof\nregion: us-east-1\naws:\n  profile: novadev\nkms:\n  phi:\n    \
         alias: alias/{alias}\n    deletion_window_days: 7\n"
    ));
    let f = p.spec.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut c = novactl_command(Some(&emu), args, &[]);
        c.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("HOME", home.path())
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .env("AWS_CONFIG_FILE", &config);
        Run::from(c.output().unwrap())
    };
    run(&["apply", "-e", f, "--auto-approve"]).expect_code(0);
    let h = json_of(&run(&["history", "-e", f, "--json"]).expect_code(0));
    let caller = h[0]["caller_arn"].as_str().unwrap();
    assert!(caller.ends_with(&format!(":user/{user}")), "{caller}");
    assert!(h[0].get("assumed_role").is_none());
    // `--profile` wins over the spec's: an unknown profile is refused (nothing changed).
    let r = run(&["plan", "-e", f, "--profile", "nosuch"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
}

#[tokio::test]
async fn state_backend_in_its_own_account() {
    let emu = Emulator::start();
    const STATE_ACCOUNT: &str = "333333333333";
    let bucket = unique("state");
    let alias = unique("st");
    let text = spec("st", DEV_ACCOUNT, &alias).replace(
        "kms:\n",
        &format!(
            "state:\n  s3:\n    bucket: {bucket}\n    assume_role:\n      role_arn: {}\n      \
             session_name: ci-state\nkms:\n",
            role(STATE_ACCOUNT)
        ),
    );
    let p = Project::new(&text);
    let f = p.spec.to_str().unwrap();
    novactl(Some(&emu), &["bootstrap", "-e", f]).expect_code(0);
    novactl(Some(&emu), &["apply", "-e", f, "--auto-approve"]).expect_code(0);
    let s3 = |c: &aws_types::SdkConfig| {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(c)
                .force_path_style(true)
                .build(),
        )
    };
    let state_s3 = s3(&conf_in(&emu, STATE_ACCOUNT).await);
    let objects = state_s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("the state bucket is in the state account");
    assert!(
        objects
            .contents()
            .iter()
            .any(|o| o.key().is_some_and(|k| k.contains("audit"))),
        "{:?}",
        objects.contents()
    );
    let dev_s3 = s3(&conf_in(&emu, DEV_ACCOUNT).await);
    // ListBuckets is per account (moto answers HeadBucket for any account's bucket).
    let names = |out: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| -> Vec<String> {
        out.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    };
    let in_dev = names(dev_s3.list_buckets().send().await.unwrap());
    let in_state = names(state_s3.list_buckets().send().await.unwrap());
    assert!(
        in_state.contains(&bucket) && !in_dev.contains(&bucket),
        "{in_dev:?}"
    );
    // The environment's key is in the environment's account, not the state's.
    let (dev, st) = (
        kms_in(&emu, DEV_ACCOUNT).await,
        kms_in(&emu, STATE_ACCOUNT).await,
    );
    let a = format!("alias/{alias}");
    assert!(aliases(&dev).await.contains(&a));
    assert!(!aliases(&st).await.contains(&a));
    let h = json_of(&novactl(Some(&emu), &["history", "-e", f, "--json"]).expect_code(0));
    assert_eq!(h[0]["account_id"], DEV_ACCOUNT);
}
