//! AWS client set-up (endpoint override, regions, one retry policy, call accounting) and
//! error classification.

pub mod accounts;
pub mod error;
pub mod regions;
pub mod retry;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_types::config_bag::ConfigBag;

pub use error::{ok_if_gone, AwsError};
pub use retry::RetryPolicy;

tokio::task_local! {
    /// Who is making the AWS calls of the current task: a resource kind (`s3`), `discovery` or
    /// `session`. Set with [`on_behalf_of`]; read by the call counter.
    static CALLER: &'static str;
}

/// Runs `fut` with its AWS calls counted for `who` (a kind name, `discovery`...).
pub async fn on_behalf_of<F: std::future::Future>(who: &'static str, fut: F) -> F::Output {
    CALLER.scope(who, fut).await
}

/// Counts every AWS call the process makes, by `service:operation`, and who made it.
#[derive(Debug, Default)]
pub struct CallStats {
    calls: Mutex<Vec<(&'static str, String)>>,
    /// Attempts after the first of a call (included in `calls`).
    retries: AtomicU32,
}

/// AWS calls made for one kind (or for discovery, or the session).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KindCalls {
    pub reads: usize,
    pub writes: usize,
}

impl CallStats {
    pub fn record(&self, service: &str, op: &str) {
        let who = CALLER.try_with(|w| *w).unwrap_or("session");
        self.calls
            .lock()
            .expect("stats lock")
            .push((who, format!("{service}:{op}")));
    }
    pub fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }
    pub fn calls(&self) -> Vec<String> {
        let calls = self.calls.lock().expect("stats lock");
        calls.iter().map(|(_, c)| c.clone()).collect()
    }
    /// (reads, writes): an operation is a read when its name says so.
    pub fn split(&self) -> (usize, usize) {
        let calls = self.calls();
        let reads = calls.iter().filter(|c| is_read_op(c)).count();
        (reads, calls.len() - reads)
    }
    /// Reads and writes by who made them (see [`on_behalf_of`]).
    pub fn by_caller(&self) -> BTreeMap<&'static str, KindCalls> {
        let mut out: BTreeMap<&'static str, KindCalls> = BTreeMap::new();
        for (who, call) in self.calls.lock().expect("stats lock").iter() {
            let e = out.entry(*who).or_default();
            if is_read_op(call) {
                e.reads += 1;
            } else {
                e.writes += 1;
            }
        }
        out
    }
}

pub fn is_read_op(call: &str) -> bool {
    let op = call.rsplit(':').next().unwrap_or(call);
    ["Get", "Describe", "List", "Head"]
        .iter()
        .any(|p| op.starts_with(p))
}

tokio::task_local! {
    /// The address of the change the executor is running in this task: AWS calls made inside
    /// it are attributed to that address in the [`RequestLog`].
    pub static CHANGE: String;
}

/// What a change did, in words, beyond its calls (an endpoint's deployment steps), for its
/// audit entry: kept per address for the process (one run per process).
static CHANGE_NOTES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Notes `text` for the change running in this task ([`CHANGE`]); outside a change, nothing.
pub fn note_change(text: String) {
    if let Ok(address) = CHANGE.try_with(Clone::clone) {
        CHANGE_NOTES
            .lock()
            .expect("change notes lock")
            .push((address, text));
    }
}

/// The notes of `address`'s change, in the order they were made.
pub fn change_notes(address: &str) -> Vec<String> {
    CHANGE_NOTES
        .lock()
        .expect("change notes lock")
        .iter()
        .filter(|(a, _)| a == address)
        .map(|(_, t)| t.clone())
        .collect()
}

/// One write call attributed to a change: its operation and AWS request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCall {
    pub address: String,
    /// `service:Operation`.
    pub operation: String,
    pub request_id: String,
}

/// The write calls made inside changes (see [`CHANGE`]), with their AWS request ids, for the
/// audit trail.
#[derive(Debug, Default)]
pub struct RequestLog {
    writes: Mutex<Vec<WriteCall>>,
}

impl RequestLog {
    /// Write calls made for `address`, in the order they were answered.
    pub fn for_address(&self, address: &str) -> Vec<WriteCall> {
        self.writes
            .lock()
            .expect("request log lock")
            .iter()
            .filter(|w| w.address == address)
            .cloned()
            .collect()
    }

    fn push(&self, w: WriteCall) {
        self.writes.lock().expect("request log lock").push(w);
    }
}

/// Request-id headers, in the order AWS services use them (S3 sends `x-amz-request-id`).
const REQUEST_ID_HEADERS: [&str; 2] = ["x-amzn-requestid", "x-amz-request-id"];

#[derive(Debug, Clone)]
struct Counter(Arc<CallStats>, Arc<RequestLog>);

/// The call counter for clients outside a run's call accounting (the state backend's): their
/// calls are logged (`-vv`, `NOVACTL_CALL_LOG`: the IAM policy must allow them all the same)
/// but counted nowhere anyone reads.
pub fn uncounted() -> impl Intercept + Clone {
    Counter(Arc::default(), Arc::default())
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "novactl-call-counter"
    }
    // Once per attempt, so retries count as the calls they are.
    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        if attempt > 1 {
            self.0.record_retry();
        }
        if let Some(m) = cfg.load::<Metadata>() {
            self.0.record(m.service(), m.name());
            crate::permissions::log_metadata(m);
            tracing::debug!(
                service = m.service(),
                operation = m.name(),
                attempt,
                "aws call"
            );
        }
        Ok(())
    }

    // Every answered attempt of a write made inside a change: its request id, for the audit.
    // Any answer at all also tells the retry policy that the endpoint is there.
    fn read_after_transmit(
        &self,
        ctx: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        retry::mark_answered();
        let Some(m) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let operation = format!("{}:{}", m.service().to_lowercase(), m.name());
        if is_read_op(&operation) {
            return Ok(());
        }
        let Ok(address) = CHANGE.try_with(Clone::clone) else {
            return Ok(());
        };
        let headers = ctx.response().headers();
        let request_id = REQUEST_ID_HEADERS
            .iter()
            .find_map(|h| headers.get(*h))
            .unwrap_or_default()
            .to_string();
        self.1.push(WriteCall {
            address,
            operation,
            request_id,
        });
        Ok(())
    }
}

/// How many attempts one call took. A create whose first answer was lost is sent again by the
/// SDK; its "already exists" is then the create's own doing:
///
/// ```text
/// let tries = Attempts::default();
/// let r = s3.create_bucket()...customize().interceptor(tries.clone()).send().await;
/// if tries.retried() { /* an earlier attempt may have done the work */ }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Attempts(Arc<AtomicU32>);

impl Attempts {
    pub fn retried(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 1
    }
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "novactl-attempts"
    }
    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let n = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        self.0.store(n, Ordering::Relaxed);
        Ok(())
    }
}

/// One client per service, for one region.
#[derive(Clone, Debug)]
pub struct Clients {
    pub sts: aws_sdk_sts::Client,
    pub kms: aws_sdk_kms::Client,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    /// SageMaker Runtime (InvokeEndpoint): the DR drill's canary.
    pub runtime: aws_sdk_sagemakerruntime::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub sns: aws_sdk_sns::Client,
    /// Resource Groups Tagging API: what carries this environment's tag, in one paged call.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// EC2: the network kinds (VPC, subnets, endpoints, flow logs, security groups).
    pub ec2: aws_sdk_ec2::Client,
}

macro_rules! client {
    ($krate:ident, $conf:expr, $counter:expr, $region:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($conf)
                .interceptor($counter.clone())
                .retry_partition(retry::partition(stringify!($krate), $region))
                .retry_classifier(retry::UnreachableAtStart)
                .build(),
        )
    };
}

impl Clients {
    fn new(conf: &aws_types::SdkConfig, counter: &Counter, path_style: bool) -> Self {
        let region = conf.region().map(|r| r.as_ref()).unwrap_or("none");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(conf)
                .force_path_style(path_style)
                .interceptor(counter.clone())
                .retry_partition(retry::partition("s3", region))
                .retry_classifier(retry::UnreachableAtStart)
                .build(),
        );
        Clients {
            sts: client!(aws_sdk_sts, conf, counter, region),
            kms: client!(aws_sdk_kms, conf, counter, region),
            s3,
            iam: client!(aws_sdk_iam, conf, counter, region),
            sagemaker: client!(aws_sdk_sagemaker, conf, counter, region),
            runtime: client!(aws_sdk_sagemakerruntime, conf, counter, region),
            autoscaling: client!(aws_sdk_applicationautoscaling, conf, counter, region),
            cloudwatch: client!(aws_sdk_cloudwatch, conf, counter, region),
            logs: client!(aws_sdk_cloudwatchlogs, conf, counter, region),
            cloudtrail: client!(aws_sdk_cloudtrail, conf, counter, region),
            sns: client!(aws_sdk_sns, conf, counter, region),
            tagging: client!(aws_sdk_resourcegroupstagging, conf, counter, region),
            ec2: client!(aws_sdk_ec2, conf, counter, region),
        }
    }
}

/// The identity behind the credentials.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account the run works in (the assumed role's, with `aws.assume_role`).
    pub account: String,
    /// The identity every call is made as (the assumed-role session, with `aws.assume_role`).
    pub arn: String,
    /// With `aws.assume_role`: who assumed the role (the base credentials' identity) and the
    /// role and session it assumed.
    pub assumed: Option<accounts::Assumed>,
}

impl Caller {
    /// Who ran novactl: the base identity when a role was assumed, else the identity itself.
    pub fn who(&self) -> &str {
        self.assumed.as_ref().map_or(&self.arn, |a| &a.caller_arn)
    }
}

/// How to reach AWS: resolved once per run.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// `--endpoint-url`, else the spec's `endpoint_url`; `None` lets the SDK read
    /// `AWS_ENDPOINT_URL` and friends itself.
    pub endpoint_url: Option<String>,
    /// Where `endpoint_url` came from, for messages (`--endpoint-url`, `endpoint_url in F`).
    pub endpoint_source: String,
    pub profile: Option<String>,
    /// `aws.assume_role` (or, for the state backend, `state.s3.assume_role`), its session name
    /// resolved.
    pub assume_role: Option<crate::spec::model::AssumeRole>,
    pub retry: RetryPolicy,
}

impl Connect {
    /// The endpoint every client uses and where it came from, `None` for AWS's own.
    pub fn endpoint(&self) -> Option<(String, String)> {
        match &self.endpoint_url {
            Some(url) => Some((url.clone(), self.endpoint_source.clone())),
            None => std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|s| !s.is_empty())
                .map(|url| (url, "AWS_ENDPOINT_URL".to_string())),
        }
    }
}

/// The AWS side of a run: clients for the primary region and any other region the spec uses,
/// the caller's account, and call accounting.
#[derive(Debug, Clone)]
pub struct Aws {
    pub primary: String,
    by_region: BTreeMap<String, Clients>,
    pub stats: Arc<CallStats>,
    /// Write calls made inside changes, with their request ids (for the audit trail).
    pub requests: Arc<RequestLog>,
    pub started: Instant,
    /// With a role to assume: STS on the base credentials (who assumes) and the role.
    base: Option<(aws_sdk_sts::Client, crate::spec::model::AssumeRole)>,
}

/// Is the endpoint a local emulator (an override is set)? Then S3 uses path-style addressing.
pub fn emulated(connect: &Connect) -> bool {
    connect.endpoint().is_some()
}

/// The SDK configuration for `region`: the standard credential chain (or the role to assume,
/// see [`accounts`]), `--profile`, the endpoint override, and the one retry policy ([`retry`]).
pub async fn sdk_config(connect: &Connect, region: &str) -> aws_types::SdkConfig {
    let base = base_config(connect, region).await;
    match &connect.assume_role {
        Some(role) => accounts::assuming(&base, role).await,
        None => base,
    }
}

/// The SDK configuration for `region` on the base credentials (chain or profile), before any
/// role is assumed.
pub async fn base_config(connect: &Connect, region: &str) -> aws_types::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(connect.retry.sdk());
    if let Some(url) = &connect.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(p) = &connect.profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// (account, ARN) of the credentials `sts` signs with.
async fn identity(sts: &aws_sdk_sts::Client) -> Result<(String, String), AwsError> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(AwsError::from_sdk("sts:GetCallerIdentity"))?;
    let account = out.account.ok_or_else(|| {
        AwsError::local(
            "sts:GetCallerIdentity",
            "MissingAccount",
            "the response named no account",
        )
    })?;
    Ok((account, out.arn.unwrap_or_default()))
}

impl Aws {
    pub async fn connect(connect: &Connect, primary: &str, others: &[String]) -> Self {
        let stats = Arc::new(CallStats::default());
        let requests = Arc::new(RequestLog::default());
        let counter = Counter(stats.clone(), requests.clone());
        let emulated = emulated(connect);
        error::set_context(error::Context {
            endpoint: connect.endpoint(),
            region: primary.to_string(),
            max_attempts: connect.retry.max_attempts,
            attempts_source: connect.retry.source.to_string(),
            profile: connect
                .profile
                .clone()
                .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty())),
            caller: None,
        });
        let mut by_region = BTreeMap::new();
        let mut regions = vec![primary.to_string()];
        regions.extend(others.iter().cloned());
        let base_primary = base_config(connect, primary).await;
        // One provider (and one credentials cache) for every region: the role is assumed once
        // and refreshed by the SDK before it expires.
        let shared = match &connect.assume_role {
            Some(role) => Some(accounts::assumed_credentials(&base_primary, role).await),
            None => None,
        };
        for region in regions {
            if by_region.contains_key(&region) {
                continue;
            }
            let mut conf = base_config(connect, &region).await;
            if let Some((creds, cache)) = &shared {
                conf = conf
                    .into_builder()
                    .credentials_provider(creds.clone())
                    .identity_cache(cache.clone())
                    .build();
            }
            by_region.insert(region.clone(), Clients::new(&conf, &counter, emulated));
        }
        let base = connect
            .assume_role
            .clone()
            .map(|role| (client!(aws_sdk_sts, &base_primary, counter, primary), role));
        Aws {
            primary: primary.to_string(),
            by_region,
            stats,
            requests,
            started: Instant::now(),
            base,
        }
    }

    pub fn clients(&self, region: &str) -> &Clients {
        self.by_region
            .get(region)
            .unwrap_or_else(|| &self.by_region[&self.primary])
    }

    pub fn primary(&self) -> &Clients {
        &self.by_region[&self.primary]
    }

    /// Who the credentials belong to (STS GetCallerIdentity). With a role to assume: first
    /// the base identity (who assumes), then the assumed one (whose account the run works in).
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        let assumed = match &self.base {
            Some((sts, role)) => {
                let (_, caller_arn) = identity(sts).await?;
                Some(accounts::Assumed {
                    caller_arn,
                    role_arn: role.role_arn.clone(),
                    session_name: role.session_name.clone().unwrap_or_default(),
                })
            }
            None => None,
        };
        let (account, arn) = identity(&self.primary().sts)
            .await
            .map_err(|e| match &assumed {
                Some(a) => e.assuming(a),
                None => e,
            })?;
        error::set_caller(&arn);
        Ok(Caller {
            account,
            arn,
            assumed,
        })
    }

    /// "N AWS calls (R reads, W writes) in T s", for the closing line of a command; retries
    /// (counted among the calls) are named when there were any.
    /// The time leaves out any wait at a confirmation prompt.
    pub fn summary(&self) -> String {
        let (r, w) = self.stats.split();
        let retries = match self.stats.retries() {
            0 => String::new(),
            1 => "; 1 was a retry".to_string(),
            n => format!("; {n} were retries"),
        };
        let took = self
            .started
            .elapsed()
            .saturating_sub(crate::clock::prompt_time());
        format!(
            "{} AWS calls ({r} reads, {w} writes{retries}) in {:.2}s",
            r + w,
            took.as_secs_f64()
        )
    }
}
