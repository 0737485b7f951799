//! The CI workflow `init` writes (`src/ops/init/ci/novactl.yml`): valid YAML with the jobs the
//! README describes, and every `novactl …` line of its `run:` steps a command line the real
//! clap definitions accept.

use clap::Parser;
use serde_yaml::Value;

use crate::cli::Cli;
use crate::ops::init::{workflow, WORKFLOW};

fn doc() -> Value {
    serde_yaml::from_str(WORKFLOW).expect("the workflow is YAML")
}

/// Every `run:` script of every job, with its job's name.
fn scripts(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (job, body) in doc["jobs"].as_mapping().expect("jobs") {
        for step in body["steps"].as_sequence().expect("steps") {
            if let Some(run) = step["run"].as_str() {
                out.push((job.as_str().unwrap().to_string(), run.to_string()));
            }
        }
    }
    out
}

/// The `novactl` command lines of a script: continuations joined, cut at the first unquoted
/// pipe, redirection, `&&`, `;` or comment.
fn novactl_lines(script: &str) -> Vec<String> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("novactl "))
        .map(|l| {
            let mut quote = None;
            let mut end = l.len();
            for (i, ch) in l.char_indices() {
                match (quote, ch) {
                    (None, '"' | '\'') => quote = Some(ch),
                    (Some(q), c) if c == q => quote = None,
                    (None, '|' | '>' | ';' | '#' | '&') => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            l[..end].trim().to_string()
        })
        .collect()
}

/// Shell words of `line`: quotes removed, `$SPEC` the workflow's spec, any other `$VAR` and
/// `${{ … }}` a placeholder.
fn words(line: &str, spec: &str) -> Vec<String> {
    let mut line = line.to_string();
    while let Some(i) = line.find("${{") {
        let j = line[i..]
            .find("}}")
            .map(|j| i + j + 2)
            .unwrap_or(line.len());
        line.replace_range(i..j, "placeholder");
    }
    line.split_whitespace()
        .map(|w| {
            let w = w.trim_matches(|c| c == '"' || c == '\'');
            match w {
                "$SPEC" => spec.to_string(),
                w if w.starts_with('$') => "placeholder".to_string(),
                w => w.to_string(),
            }
        })
        .collect()
}

#[test]
fn every_novactl_line_of_the_workflow_parses() {
    let doc = doc();
    let spec = doc["env"]["SPEC"].as_str().expect("env.SPEC").to_string();
    let mut checked = 0;
    for (job, script) in scripts(&doc) {
        for line in novactl_lines(&script) {
            let args = words(&line, &spec);
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!("{job}: `{line}` is not a valid novactl command line:\n{e}");
            }
            checked += 1;
        }
    }
    // validate, plan --out, show, check, plan (manual), apply, drift
    assert!(checked >= 7, "{checked} checked");
}

#[test]
fn the_workflow_has_the_three_jobs_with_their_roles() {
    let doc = doc();
    // serde_yaml reads the key `on` as a string (YAML 1.2), not a boolean.
    let on = &doc["on"];
    assert!(on.get("pull_request").is_some(), "{on:?}");
    assert_eq!(on["push"]["branches"][0].as_str(), Some("main"));
    assert!(on["schedule"][0]["cron"].as_str().is_some(), "{on:?}");
    let steps = |job: &str| -> Vec<Value> {
        doc["jobs"][job]["steps"]
            .as_sequence()
            .unwrap_or_else(|| panic!("job {job}"))
            .clone()
    };
    let uses = |s: &Value, prefix: &str| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix));
    let role = |job: &str| -> String {
        let s = steps(job);
        let creds: Vec<&Value> = s
            .iter()
            .filter(|s| uses(s, "aws-actions/configure-aws-credentials@"))
            .collect();
        assert_eq!(creds.len(), 1, "{job}");
        creds[0]["with"]["role-to-assume"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(role("plan"), "${{ vars.NOVACTL_READ_ROLE_ARN }}");
    assert_eq!(role("drift"), "${{ vars.NOVACTL_READ_ROLE_ARN }}");
    assert_eq!(role("apply"), "${{ vars.NOVACTL_DEPLOY_ROLE_ARN }}");
    let plan = steps("plan");
    let sarif = plan
        .iter()
        .find(|s| uses(s, "github/codeql-action/upload-sarif@"))
        .expect("upload-sarif");
    assert_eq!(sarif["if"].as_str(), Some("always()"));
    assert_eq!(sarif["with"]["sarif_file"].as_str(), Some("novactl.sarif"));
    assert!(plan
        .iter()
        .any(|s| uses(s, "marocchino/sticky-pull-request-comment@")));
    let artifact = plan
        .iter()
        .find(|s| uses(s, "actions/upload-artifact@"))
        .expect("the plan as an artifact");
    assert_eq!(artifact["with"]["path"].as_str(), Some("plan.json"));
    let runs = |job: &str| -> String {
        steps(job)
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(runs("plan").contains("--format sarif --out novactl.sarif"));
    assert!(runs("apply").contains("novactl apply plan.json"));
    assert!(runs("drift").contains("novactl drift -e"));
    assert_eq!(
        doc["jobs"]["drift"]["if"].as_str(),
        Some("github.event_name == 'schedule'")
    );
}

#[test]
fn the_workflow_names_the_projects_spec() {
    let w = workflow("environments/prod.yaml");
    let doc: Value = serde_yaml::from_str(&w).unwrap();
    assert_eq!(doc["env"]["SPEC"].as_str(), Some("environments/prod.yaml"));
    assert_eq!(w.len(), WORKFLOW.len() + "prod".len() - "dev".len());
}

#[test]
fn the_line_extraction_is_not_vacuous() {
    let lines = novactl_lines(
        "novactl plan -e \"$SPEC\" \\\n  --out plan.json\necho x | novactl no\n  novactl show p.json --format markdown > plan.md\n",
    );
    assert_eq!(
        lines,
        vec![
            "novactl plan -e \"$SPEC\"    --out plan.json",
            "novactl show p.json --format markdown"
        ]
    );
    let args = words(&lines[0], "e.yaml");
    assert_eq!(
        args,
        ["novactl", "plan", "-e", "e.yaml", "--out", "plan.json"]
    );
    assert!(Cli::try_parse_from(words("novactl plan --no-such-flag", "x").iter()).is_err());
}
