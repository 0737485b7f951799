//! Secrets never leave the spec: a secret-looking value (`HF_TOKEN`), a value the spec marks
//! sensitive (`sensitive: [DB_URL]`) and a sensitive var used in a rendered description appear
//! in no output of plan, apply or destroy (text, JSON, `-vv` logs), no saved plan file (which
//! is 0600) and no audit record; a changed secret still shows as an update.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{changes, novactl, unique, Emulator, Project, Run};

const TOKEN_1: &str = "hf_FirstSecretValue123";
const TOKEN_2: &str = "hf_SecondSecretValue456";
const DB_URL: &str = "postgres://app:pw-in-url-789@db.internal/phi";
const API_KEY: &str = "ak-live-0123456789abcdef";

fn spec(env: &str, token: &str) -> String {
    format!(
        r#"environment: {env}
region: us-east-1
vars:
  project_api_key: {API_KEY}
kms:
  phi: {{ alias: "alias/{env}-sec", deletion_window_days: 7 }}
iam:
  exec:
    name: {env}-exec
    trust: [sagemaker.amazonaws.com]
    description: "calls the API with {{{{ vars.project_api_key }}}}"
sagemaker:
  models:
    m:
      name: {env}-model
      image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1
      model_data: s3://b/m.tar.gz
      role: exec
      environment:
        HF_TASK: text-generation
        HF_TOKEN: {token}
        DB_URL: "{DB_URL}"
      sensitive: [DB_URL]
"#
    )
}

/// Every secret ever used, in every text `what` holds.
fn assert_clean(what: &str, text: &str) {
    for secret in [TOKEN_1, TOKEN_2, DB_URL, "pw-in-url-789", API_KEY] {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

fn clean_run(what: &str, r: &Run) {
    assert_clean(&format!("{what} stdout"), &r.stdout);
    assert_clean(&format!("{what} stderr"), &r.stderr);
}

/// All files under `dir` (the local state backend: lock, journal, inventory, audit trail).
fn all_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn secrets_appear_in_no_output_file_or_log_and_changes_still_show() {
    let emu = Emulator::start();
    let env = unique("sec").replace('-', "");
    let p = Project::new(&spec(&env, TOKEN_1));
    let spec_path = p.spec.to_str().unwrap().to_string();
    let cmd = |args: &[&str]| {
        let mut a = vec![args[0], "-e", spec_path.as_str()];
        a.extend(&args[1..]);
        novactl(Some(&emu), &a)
    };

    let r = cmd(&["plan", "-vv"]).expect_code(0);
    clean_run("plan", &r);
    assert!(
        r.stdout.contains("\"HF_TOKEN\":\"(sensitive)\""),
        "{}",
        r.stdout
    );
    let r = cmd(&["plan", "--json"]).expect_code(0);
    clean_run("plan --json", &r);
    let plan_file = p.path("first.plan.json");
    let r = cmd(&["plan", "--out", plan_file.to_str().unwrap()]).expect_code(0);
    clean_run("plan --out", &r);
    let mode = std::fs::metadata(&plan_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "plan file mode {mode:o}");
    assert_clean("saved plan", &std::fs::read_to_string(&plan_file).unwrap());
    let r = cmd(&[
        "apply",
        "--auto-approve",
        "-vv",
        plan_file.to_str().unwrap(),
    ])
    .expect_code(0);
    clean_run("apply", &r);

    // The real values reached AWS.
    let sm = emu.sagemaker("us-east-1").await;
    let listed = sm
        .list_models()
        .name_contains(format!("{env}-model"))
        .send()
        .await
        .unwrap();
    let name = listed.models()[0].model_name().unwrap().to_string();
    let live = sm.describe_model().model_name(&name).send().await.unwrap();
    let live_env = live.primary_container().unwrap().environment().unwrap();
    assert_eq!(live_env.get("HF_TOKEN").map(String::as_str), Some(TOKEN_1));
    assert_eq!(live_env.get("DB_URL").map(String::as_str), Some(DB_URL));

    let r = cmd(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(r.stdout.starts_with("No changes."), "{}", r.stdout);

    // A changed secret is an update, shown without either value.
    p.write_spec(&spec(&env, TOKEN_2));
    let r = cmd(&["plan", "--json"]).expect_code(0);
    clean_run("plan of a changed secret", &r);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let got = changes(&plan);
    let model = got
        .iter()
        .find(|(a, _, _)| a == "sagemaker_model.m")
        .unwrap_or_else(|| panic!("the model changes: {got:?}"));
    assert_eq!(model.1, "update");
    assert!(
        model.2.contains(&"environment.HF_TOKEN".to_string()),
        "{got:?}"
    );
    let r = cmd(&["plan"]).expect_code(0);
    assert!(
        r.stdout
            .contains("~ environment.HF_TOKEN = (sensitive) -> (sensitive)"),
        "{}",
        r.stdout
    );
    let second = p.path("second.plan.json");
    cmd(&["plan", "--out", second.to_str().unwrap()]).expect_code(0);
    assert_clean(
        "second saved plan",
        &std::fs::read_to_string(&second).unwrap(),
    );
    let r = cmd(&["apply", "--auto-approve", "-vv", second.to_str().unwrap()]).expect_code(0);
    clean_run("apply of a changed secret", &r);
    let r = cmd(&["destroy", "--auto-approve", "-vv"]).expect_code(0);
    clean_run("destroy", &r);

    // Nothing the runs left on disk holds a secret either (audit records, journal, ...).
    let mut files = Vec::new();
    all_files(p.dir.path(), &mut files);
    let mut audited = false;
    for f in files
        .iter()
        .filter(|f| f.extension().is_none_or(|e| e != "yaml"))
    {
        if let Ok(text) = std::fs::read_to_string(f) {
            assert_clean(&f.display().to_string(), &text);
            audited |= text.contains("\"command\":\"apply\"");
        }
    }
    assert!(audited, "the audit trail was read: {files:?}");
}
