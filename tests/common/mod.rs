//! Shared integration-test harness: a real moto server per test (started by
//! `tests/emulator/moto_launcher.py`), the real novactl binary, and real SDK clients pointed at
//! the emulator to read live state.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use aws_config::{BehaviorVersion, Region};

pub const ACCOUNT: &str = "123456789012";

/// A moto server on a free loopback port; killed on drop (and it exits by itself when this
/// process dies, because it watches its stdin).
pub struct Emulator {
    pub endpoint: String,
    child: Child,
}

impl Emulator {
    pub fn start() -> Emulator {
        Emulator::start_with(&[])
    }

    /// A moto server started with extra launcher options (e.g. `["--faults", "0.2"]`; see
    /// `tests/emulator/moto_launcher.py --help`).
    pub fn start_with(launcher_args: &[&str]) -> Emulator {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg(root.join("tests/emulator/moto_launcher.py"))
            .arg("--port")
            .arg("0")
            .args(launcher_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("NOVACTL_EMULATOR_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start the moto launcher (python3 on PATH?)");
        let stdout = child.stdout.take().expect("launcher stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the launcher's READY line");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("launcher said {line:?} instead of READY <port>"))
            .to_string();
        Emulator {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// Changes the emulator's run-time settings (`POST /novactl-api/config`, see
    /// tests/emulator/README.md), e.g. `r#"{"endpoint_delay": 2}"#`. Panics unless accepted.
    pub fn configure(&self, json: &str) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(addr).expect("connect to the emulator");
        write!(
            conn,
            "POST /novactl-api/config HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )
        .expect("send the settings");
        let mut reply = String::new();
        conn.read_to_string(&mut reply).expect("read the reply");
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "settings {json} refused: {reply}"
        );
    }

    /// An SDK config for `region` pointed at the emulator, with dummy credentials.
    pub async fn sdk(&self, region: &str) -> aws_types::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await
    }

    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = self.sdk(region).await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        )
    }
    pub async fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk(region).await)
    }
    pub async fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk("us-east-1").await)
    }
    pub async fn sagemaker(&self, region: &str) -> aws_sdk_sagemaker::Client {
        aws_sdk_sagemaker::Client::new(&self.sdk(region).await)
    }
    pub async fn autoscaling(&self, region: &str) -> aws_sdk_applicationautoscaling::Client {
        aws_sdk_applicationautoscaling::Client::new(&self.sdk(region).await)
    }
    pub async fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.sdk(region).await)
    }
    pub async fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.sdk(region).await)
    }
    pub async fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(&self.sdk(region).await)
    }
    pub async fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk(region).await)
    }
    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk(region).await)
    }
}

impl Emulator {
    /// `POST /moto-api/reset`: wipes every service's state (never faulted or delayed).
    pub fn reset(&self) {
        let (status, body) = http(&self.endpoint, "POST", "/moto-api/reset", "");
        assert!(status < 300, "moto reset answered {status}: {body}");
    }

    /// Every message published to an SNS topic, by topic ARN (`GET /novactl-api/sns/messages`):
    /// `{"<arn>": [{"message_id", "subject", "message"}, ...]}`.
    pub fn sns_messages(&self) -> serde_json::Value {
        let (status, body) = http(&self.endpoint, "GET", "/novactl-api/sns/messages", "");
        assert_eq!(status, 200, "sns messages: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("sns messages ({e}): {body}"))
    }

    /// Every endpoint's capacity record (`GET /novactl-api/sagemaker/capacity`): `{"<endpoint
    /// ARN>": {"name", "samples": [{"t", "status", "step", "fleets": {"<config>": {"instances",
    /// "traffic"}}}]}}`.
    pub fn capacity_record(&self) -> serde_json::Value {
        let (status, body) = http(&self.endpoint, "GET", "/novactl-api/sagemaker/capacity", "");
        assert_eq!(status, 200, "capacity record: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("capacity record ({e}): {body}"))
    }

    /// The launcher's fault settings and counts (`GET /novactl-api/faults`), after applying
    /// `change` when given (`POST`; e.g. `{"rate": 0}` or a `script` of faults).
    pub fn faults(&self, change: Option<serde_json::Value>) -> serde_json::Value {
        let (status, body) = match change {
            Some(c) => http(
                &self.endpoint,
                "POST",
                "/novactl-api/faults",
                &c.to_string(),
            ),
            None => http(&self.endpoint, "GET", "/novactl-api/faults", ""),
        };
        assert_eq!(status, 200, "/novactl-api/faults: {body}");
        serde_json::from_str(&body).expect("fault counts are JSON")
    }
}

/// One plain HTTP/1.1 request to the emulator's control endpoints: (status, body).
fn http(endpoint: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("connect to the emulator");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read the answer");
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Every setting novactl makes on a bucket is there: SSE-KMS with a key and the bucket key (or
/// SSE-S3 for the access-log bucket), versioning on, all four public-access blocks, the
/// TLS-only policy, the ownership tags.
pub async fn assert_bucket_configured(s3: &aws_sdk_s3::Client, bucket: &str) {
    let enc = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{bucket}: no encryption: {e:?}"));
    let rule = enc
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .unwrap_or_else(|| panic!("{bucket}: no encryption rule"));
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    match default.sse_algorithm().as_str() {
        "aws:kms" => {
            assert!(default.kms_master_key_id().is_some(), "{bucket}: KMS key");
            assert_eq!(
                rule.bucket_key_enabled(),
                Some(true),
                "{bucket}: bucket key"
            );
        }
        // The access-log bucket: S3 delivers server access logs only to SSE-S3 buckets.
        other => assert_eq!(other, "AES256", "{bucket}: encryption"),
    }
    let v = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        v.status(),
        Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled),
        "{bucket}: versioning"
    );
    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{bucket}: no public access block: {e:?}"))
        .public_access_block_configuration
        .unwrap();
    for (what, v) in [
        ("block_public_acls", pab.block_public_acls),
        ("ignore_public_acls", pab.ignore_public_acls),
        ("block_public_policy", pab.block_public_policy),
        ("restrict_public_buckets", pab.restrict_public_buckets),
    ] {
        assert_eq!(v, Some(true), "{bucket}: {what}");
    }
    let policy = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{bucket}: no policy: {e:?}"))
        .policy
        .unwrap_or_default();
    assert!(policy.contains("aws:SecureTransport"), "{bucket}: {policy}");
    let tags = s3.get_bucket_tagging().bucket(bucket).send().await.unwrap();
    assert!(
        tags.tag_set().iter().any(|t| t.key() == "novactl:address"),
        "{bucket}: ownership tags"
    );
}

/// The shipped `environments/local.yaml` rendered whole (its `extend:` merged; kept as
/// `tests/fixtures/shipped/local-full.yaml`, which `tests/spec_layers.rs` proves equal): the seed's
/// whole primary stack (15 resources).
pub fn local_spec() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("tests/fixtures/shipped/local-full.yaml")).unwrap()
}

/// The buckets of `local_spec()`.
pub const LOCAL_BUCKETS: [&str; 5] = [
    "novamind-local-models",
    "novamind-local-logs",
    "novamind-local-results",
    "novamind-local-cloudtrail",
    "novamind-local-access-logs",
];

/// How many resources `novactl validate` counts in `p`'s spec.
pub fn resource_count(p: &Project) -> usize {
    let r = novactl(None, &["validate", "-e", p.spec.to_str().unwrap()]).expect_code(0);
    r.stdout
        .split("valid (")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a resource count in {}", r.stdout))
}

/// Retries a novactl run reported ("...; N were retries)"), 0 when none.
pub fn retries(r: &Run) -> u64 {
    r.stderr
        .lines()
        .rfind(|l| l.contains("AWS calls ("))
        .and_then(|l| l.split("; ").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch project: a spec file plus copies of the repo's `policies/` and `templates/`, so
/// specs can use `../policies/...` paths like the real environments do.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub spec: PathBuf,
}

impl Project {
    pub fn new(spec_yaml: &str) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for sub in ["policies", "templates"] {
            copy_dir(&root.join(sub), &dir.path().join(sub));
        }
        std::fs::create_dir_all(dir.path().join("environments")).unwrap();
        let spec = dir.path().join("environments/test.yaml");
        std::fs::write(&spec, spec_yaml).unwrap();
        Project { dir, spec }
    }

    pub fn write_spec(&self, spec_yaml: &str) {
        std::fs::write(&self.spec, spec_yaml).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    std::fs::create_dir_all(to).unwrap();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The result of one novactl run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    /// Panics with both streams when the exit code is not `want`.
    pub fn expect_code(self, want: i32) -> Run {
        assert_eq!(
            self.code, want,
            "exit code {} (wanted {want})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
    /// Write calls reported by the closing "N AWS calls (R reads, W writes)" line.
    pub fn writes(&self) -> usize {
        let line = self
            .stderr
            .lines()
            .rfind(|l| l.contains("AWS calls ("))
            .unwrap_or_else(|| panic!("no AWS call summary in stderr:\n{}", self.stderr));
        let w = line.split("reads, ").nth(1).expect("writes part");
        w.split(' ').next().unwrap().parse().expect("writes count")
    }
}

/// Runs novactl with `args`, pointed at `emu` (no endpoint if `None`), with dummy credentials
/// and no colour.
pub fn novactl(emu: Option<&Emulator>, args: &[&str]) -> Run {
    novactl_env(emu, args, &[])
}

/// The binary under test: `$NOVACTL_BIN` when set, else cargo's `target/debug/novactl`.
///
/// Worktrees that share one `CARGO_TARGET_DIR` also share that one uplifted path, so another
/// worktree's build can replace it while this one's tests run; a private copy avoids that.
pub fn novactl_bin() -> PathBuf {
    std::env::var_os("NOVACTL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_novactl")))
}

pub fn novactl_env(emu: Option<&Emulator>, args: &[&str], env: &[(&str, &str)]) -> Run {
    Run::from(
        novactl_command(emu, args, env)
            .output()
            .expect("run novactl"),
    )
}

/// The command `novactl_env` runs, for tests that start several runs at once (`spawn`, then
/// `wait_with_output`). stdout and stderr are piped.
pub fn novactl_command(emu: Option<&Emulator>, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(novactl_bin());
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("NOVACTL_ENV")
        .env_remove("NOVACTL_FAIL_AT")
        .env_remove("NOVACTL_PAUSE_AT")
        .env_remove("NOVACTL_LOCK_LEASE")
        .env_remove("NOVACTL_LOCK_TIMEOUT")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if let Some(e) = emu {
        cmd.arg("--endpoint-url").arg(&e.endpoint);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// A short random suffix so names never collide across tests.
pub fn unique(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{:x}{:x}", std::process::id() % 0xfff, n % 0xfffff)
}

/// `novactl plan --json` (exit 0 expected) as JSON.
pub fn plan_json(emu: &Emulator, p: &Project) -> serde_json::Value {
    let r = novactl(
        Some(emu),
        &["plan", "-e", p.spec.to_str().unwrap(), "--json"],
    )
    .expect_code(0);
    serde_json::from_str(&r.stdout).expect("plan JSON")
}

/// (address, action, changed attribute paths) of every change that is not a no-op.
pub fn changes(plan: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no-op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
                c["attributes"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|a| a["path"].as_str().unwrap().to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// The spec and live state agree: `plan --detailed-exitcode` exits 0 and says "No changes.".
pub fn assert_no_changes(emu: &Emulator, spec: &str) -> Run {
    let r = novactl(Some(emu), &["plan", "-e", spec, "--detailed-exitcode"]).expect_code(0);
    assert!(r.stdout.starts_with("No changes."), "{}", r.stdout);
    r
}

/// The id of the VPC of `address` (`network.<n>`) in `environment`, by its ownership tags.
pub async fn vpc_id(emu: &Emulator, region: &str, environment: &str, address: &str) -> String {
    let tag = |k: &str, v: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{k}"))
            .values(v)
            .build()
    };
    let out = emu
        .ec2(region)
        .await
        .describe_vpcs()
        .filters(tag("novactl:environment", environment))
        .filters(tag("novactl:address", address))
        .send()
        .await
        .unwrap();
    out.vpcs()[0].vpc_id().unwrap().to_string()
}

/// DescribeKey of a key id, ARN or `alias/...` name in us-east-1; `None` when it does not
/// resolve.
pub async fn kms_key(emu: &Emulator, key: &str) -> Option<aws_sdk_kms::types::KeyMetadata> {
    emu.kms("us-east-1")
        .await
        .describe_key()
        .key_id(key)
        .send()
        .await
        .ok()?
        .key_metadata
}

/// Every KMS key in `region` that is not pending deletion, with its tags.
pub async fn live_keys(
    emu: &Emulator,
    region: &str,
) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
    let kms = emu.kms(region).await;
    let mut out = Vec::new();
    for k in kms.list_keys().send().await.unwrap().keys() {
        let id = k.key_id().unwrap();
        let meta = kms.describe_key().key_id(id).send().await.unwrap();
        if meta.key_metadata.unwrap().key_state()
            == Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
        {
            continue;
        }
        let tags = kms.list_resource_tags().key_id(id).send().await.unwrap();
        let tags = tags
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
            .collect();
        out.push((id.to_string(), tags));
    }
    out
}

/// Every live resource tagged `novactl:environment=environment`, as (type, address) pairs:
/// `kms:key` (not pending deletion), `s3:bucket`, `iam:role`, `sagemaker:model`,
/// `sagemaker:endpoint-config`, `sagemaker:endpoint`, `sns:topic`, `cloudwatch:alarm`,
/// `logs:log-group`, `cloudtrail:trail`, read with the SDK in `region`. Dashboards carry no
/// tags and are not listed. A resource that appears twice is a duplicate.
pub async fn census(emu: &Emulator, region: &str, environment: &str) -> Vec<(String, String)> {
    use std::collections::BTreeMap;
    const ADDR: &str = "novactl:address";
    const ENV: &str = "novactl:environment";
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |kind: &str, tags: BTreeMap<String, String>| {
        if tags.get(ENV).map(String::as_str) == Some(environment) {
            if let Some(a) = tags.get(ADDR) {
                out.push((kind.to_string(), a.clone()));
            }
        }
    };
    for (_, tags) in live_keys(emu, region).await {
        add("kms:key", tags);
    }
    let s3 = emu.s3(region).await;
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        let name = b.name().unwrap();
        if let Ok(t) = s3.get_bucket_tagging().bucket(name).send().await {
            add(
                "s3:bucket",
                t.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            );
        }
    }
    let iam = emu.iam().await;
    for r in iam.list_roles().send().await.unwrap().roles() {
        let t = iam
            .list_role_tags()
            .role_name(r.role_name())
            .send()
            .await
            .unwrap();
        add(
            "iam:role",
            t.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        );
    }
    let sm = emu.sagemaker(region).await;
    let sm_tags = |arn: String| {
        let sm = sm.clone();
        async move {
            sm.list_tags()
                .resource_arn(arn)
                .send()
                .await
                .unwrap()
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect::<BTreeMap<_, _>>()
        }
    };
    for m in sm.list_models().send().await.unwrap().models() {
        add(
            "sagemaker:model",
            sm_tags(m.model_arn().unwrap().to_string()).await,
        );
    }
    for c in sm
        .list_endpoint_configs()
        .send()
        .await
        .unwrap()
        .endpoint_configs()
    {
        add(
            "sagemaker:endpoint-config",
            sm_tags(c.endpoint_config_arn().unwrap().to_string()).await,
        );
    }
    for e in sm.list_endpoints().send().await.unwrap().endpoints() {
        add(
            "sagemaker:endpoint",
            sm_tags(e.endpoint_arn().unwrap().to_string()).await,
        );
    }
    let sns = emu.sns(region).await;
    for t in sns.list_topics().send().await.unwrap().topics() {
        let tags = sns
            .list_tags_for_resource()
            .resource_arn(t.topic_arn().unwrap())
            .send()
            .await
            .unwrap();
        add(
            "sns:topic",
            tags.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        );
    }
    let cw = emu.cloudwatch(region).await;
    for a in cw.describe_alarms().send().await.unwrap().metric_alarms() {
        let tags = cw
            .list_tags_for_resource()
            .resource_arn(a.alarm_arn().unwrap())
            .send()
            .await
            .unwrap();
        add(
            "cloudwatch:alarm",
            tags.tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        );
    }
    let logs = emu.logs(region).await;
    for g in logs
        .describe_log_groups()
        .send()
        .await
        .unwrap()
        .log_groups()
    {
        let arn = g.arn().unwrap().trim_end_matches(":*").to_string();
        let tags = logs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        add(
            "logs:log-group",
            tags.tags.unwrap_or_default().into_iter().collect(),
        );
    }
    let ct = emu.cloudtrail(region).await;
    let arns: Vec<String> = ct
        .list_trails()
        .send()
        .await
        .unwrap()
        .trails()
        .iter()
        .filter_map(|t| t.trail_arn().map(str::to_string))
        .collect();
    if !arns.is_empty() {
        let tags = ct
            .list_tags()
            .set_resource_id_list(Some(arns))
            .send()
            .await
            .unwrap();
        for rt in tags.resource_tag_list() {
            add(
                "cloudtrail:trail",
                rt.tags_list()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            );
        }
    }
    out.sort();
    out
}

/// Asserts that every (type, address) in `census` appears exactly once.
pub fn assert_no_duplicates(census: &[(String, String)]) {
    let mut seen = std::collections::BTreeMap::<&(String, String), usize>::new();
    for c in census {
        *seen.entry(c).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicates: {dups:?} in {census:?}");
}

/// A JSON list the local backend keeps for `environment` of the project (`intents.json`,
/// `inventory.json`); empty when the file does not exist.
pub fn local_state(p: &Project, environment: &str, file: &str) -> Vec<serde_json::Value> {
    let f = p.path(&format!("environments/.novactl/{environment}/{file}"));
    match std::fs::read_to_string(f) {
        Ok(t) => serde_json::from_str(&t).unwrap(),
        Err(_) => Vec::new(),
    }
}

/// The local backend's open intents for `environment` of the project.
pub fn open_intents(p: &Project, environment: &str) -> Vec<serde_json::Value> {
    local_state(p, environment, "intents.json")
}

/// `novactl state list --json` (local backend: no AWS call) as (address, arn) pairs.
pub fn inventory(p: &Project) -> Vec<(String, String)> {
    let r = novactl(
        None,
        &["state", "list", "-e", p.spec.to_str().unwrap(), "--json"],
    )
    .expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut out: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap().to_string(),
                e["arn"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A security-group rule for TCP 443 to the prefix list `list` (an S3 gateway's, in tests that
/// open or revoke it by hand).
pub fn https_to_prefix_list(list: &str) -> aws_sdk_ec2::types::IpPermission {
    aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .prefix_list_ids(
            aws_sdk_ec2::types::PrefixListId::builder()
                .prefix_list_id(list)
                .build(),
        )
        .build()
}
