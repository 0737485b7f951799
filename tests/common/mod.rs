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
