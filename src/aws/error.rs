//! AWS errors as novactl reports them: one line with the operation, the AWS error code, the
//! message, and for the common failures a hint that says what to do.
//!
//! Classification (not found, already exists) is done by the reconcilers with the SDK's typed
//! `is_*()` checks; this type only carries what the user needs to read. No SDK debug structure
//! and no raw HTTP response ever reaches the message: failures where AWS never answered (no
//! credentials, a refused connection, a time-out) get a code of novactl's own
//! (`NoCredentials`, `ConnectionRefused`, `Timeout`, ...), and an answer without an error body
//! (S3 HEAD requests) is named by its HTTP status. `-vv` logs the SDK's full error chain.
//!
//! Hints need to know how this run reaches AWS (the endpoint and where it came from, the retry
//! policy, the caller): [`set_context`] records that once per process.

use std::any::Any;
use std::fmt;
use std::sync::RwLock;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone)]
pub struct AwsError {
    /// `service:Operation`, e.g. `s3:PutBucketVersioning`.
    pub operation: String,
    /// The AWS error code (`AccessDenied`), or the failure class when AWS never answered.
    pub code: String,
    pub message: String,
    /// What to do about it, for the failures users meet most.
    pub hint: Option<String>,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {}: {}",
            self.operation, self.code, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

/// How this process reaches AWS, for hints.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The endpoint override and where it came from (`--endpoint-url`, `the spec's
    /// endpoint_url`, `AWS_ENDPOINT_URL`); `None` for AWS's own endpoints.
    pub endpoint: Option<(String, String)>,
    pub region: String,
    pub max_attempts: u32,
    /// Where `max_attempts` came from (`--max-attempts`, `AWS_MAX_ATTEMPTS`, `default`).
    pub attempts_source: String,
    /// The profile asked for (`--profile` / `AWS_PROFILE`).
    pub profile: Option<String>,
    /// The caller's ARN, once STS named it.
    pub caller: Option<String>,
}

static CONTEXT: RwLock<Option<Context>> = RwLock::new(None);

pub fn set_context(c: Context) {
    if let Ok(mut g) = CONTEXT.write() {
        *g = Some(c);
    }
}

pub fn set_caller(arn: &str) {
    if let Ok(mut g) = CONTEXT.write() {
        if let Some(c) = g.as_mut() {
            c.caller = Some(arn.to_string());
        }
    }
}

fn context() -> Context {
    CONTEXT
        .read()
        .ok()
        .and_then(|g| g.clone())
        .unwrap_or_default()
}

/// The longest message kept from AWS (some services put whole documents in theirs).
const MAX_MESSAGE: usize = 400;

impl AwsError {
    /// `map_err(AwsError::from_sdk("kms:CreateKey"))`.
    pub fn from_sdk<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        move |err| AwsError::from_err(operation, err)
    }

    pub fn from_err<E, R>(operation: &str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        tracing::debug!(operation, error = %DisplayErrorContext(&err), "aws error");
        classify(operation, &err, &context())
    }

    /// An error raised by novactl itself while talking to AWS (a failed check, a time-out).
    pub fn local(operation: &str, code: &str, message: impl Into<String>) -> AwsError {
        AwsError {
            operation: operation.to_string(),
            code: code.to_string(),
            message: message.into(),
            hint: None,
        }
    }
}

/// The result of a delete-like call, with "already gone" counted as success. `gone` is the
/// SDK's typed check for the service's not-found error (never a match on message text).
pub fn ok_if_gone<T, E, R>(
    operation: &str,
    result: Result<T, SdkError<E, R>>,
    gone: impl FnOnce(&E) -> bool,
) -> Result<(), AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(gone) => Ok(()),
        Err(e) => Err(AwsError::from_err(operation, e)),
    }
}

/// AWS error codes the SDK treats as throttling (aws-runtime's `THROTTLING_ERRORS`).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "NotAuthorized",
    "Forbidden",
];

const BAD_CREDENTIALS: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "AuthFailure",
    "InvalidSignatureException",
];

const EXPIRED: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];

fn classify<E, R>(operation: &str, err: &SdkError<E, R>, cx: &Context) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let status = err
        .raw_response()
        .and_then(|r| (r as &dyn Any).downcast_ref::<HttpResponse>())
        .map(|r| r.status().as_u16());
    let (code, message, hint) = match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            match e.code() {
                Some(code) => {
                    let message = e
                        .message()
                        .map(str::to_string)
                        .filter(|m| !m.trim().is_empty())
                        .unwrap_or_else(|| format!("{} (no message)", status_text(status)));
                    let hint = code_hint(operation, code, cx);
                    (code.to_string(), message, hint)
                }
                None => bodiless(operation, status, cx),
            }
        }
        SdkError::TimeoutError(_) => (
            "Timeout".to_string(),
            format!("no answer from {} in time", endpoint_name(cx)),
            Some(format!(
                "{}; check the network path to it, or run again",
                endpoint_origin(cx)
            )),
        ),
        SdkError::DispatchFailure(df) => dispatch(err, df.is_timeout(), cx),
        SdkError::ResponseError(_) => (
            "ResponseError".to_string(),
            format!(
                "{} sent an answer that could not be read ({}): {}",
                endpoint_name(cx),
                status_text(status),
                chain(err)
            ),
            cx.endpoint.as_ref().map(|(url, src)| {
                format!("is {url} (from {src}) an AWS endpoint or an emulator of one?")
            }),
        ),
        _ => (
            "InvalidRequest".to_string(),
            format!("the request could not be built: {}", chain(err)),
            None,
        ),
    };
    AwsError {
        operation: operation.to_string(),
        code,
        message: one_line(&message),
        hint,
    }
}

/// A service error without an error code: AWS answered with a status and no body (S3 sends no
/// body for HEAD requests).
fn bodiless(
    operation: &str,
    status: Option<u16>,
    cx: &Context,
) -> (String, String, Option<String>) {
    let Some(s) = status else {
        return (
            "Unknown".into(),
            "AWS answered with an error and no error code".into(),
            None,
        );
    };
    let head = operation.contains(":Head");
    let message = format!(
        "AWS answered HTTP {} with no error body{}",
        status_text(Some(s)),
        if head {
            " (HEAD answers carry none)"
        } else {
            ""
        }
    );
    let hint = match s {
        500..=599 => Some(format!(
            "the service was throttling (S3 answers SlowDown as 503) or unavailable through {}; \
             wait and run again, or raise --max-attempts",
            attempts(cx)
        )),
        403 => Some(denied_hint(operation, cx)),
        301 => Some(
            "the resource lives in another region than the spec's `region`; fix the region \
             or the name"
                .into(),
        ),
        _ => None,
    };
    (format!("HTTP{s}"), message, hint)
}

fn code_hint(operation: &str, code: &str, cx: &Context) -> Option<String> {
    if THROTTLING.contains(&code) {
        return Some(format!(
            "AWS kept throttling the call through {}; wait and run again, or raise \
             --max-attempts",
            attempts(cx)
        ));
    }
    if ACCESS_DENIED.contains(&code) {
        return Some(denied_hint(operation, cx));
    }
    if BAD_CREDENTIALS.contains(&code) {
        return Some(format!(
            "AWS rejected the credentials{}: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or \
             the profile, and that they are for this partition{}",
            cx.profile
                .as_deref()
                .map(|p| format!(" of profile `{p}`"))
                .unwrap_or_default(),
            cx.endpoint
                .as_ref()
                .map(|(url, src)| format!(" and endpoint {url} (from {src})"))
                .unwrap_or_default()
        ));
    }
    if EXPIRED.contains(&code) {
        return Some(
            "the session credentials have expired: refresh them (e.g. `aws sso login`, or a new \
             AWS_SESSION_TOKEN) and run again"
                .into(),
        );
    }
    if code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" {
        return Some(
            "the bucket lives in another region than the spec's `region`; fix the region or \
             the name"
                .into(),
        );
    }
    None
}

fn denied_hint(operation: &str, cx: &Context) -> String {
    // IAM names a few actions differently from the operations that need them.
    let action = match operation {
        "s3:HeadBucket" => "s3:ListBucket".to_string(),
        "s3:HeadObject" => "s3:GetObject".to_string(),
        op => op.to_string(),
    };
    format!(
        "{} may not call `{action}`: allow it in the caller's IAM policy (and in the \
         resource's own policy, where it has one)",
        cx.caller.as_deref().unwrap_or("the caller")
    )
}

/// AWS never answered: no credentials, no connection, or no answer in time.
fn dispatch<E, R>(
    err: &SdkError<E, R>,
    timeout: bool,
    cx: &Context,
) -> (String, String, Option<String>)
where
    E: std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    use aws_credential_types::provider::error::CredentialsError;

    if let Some(ce) = find::<CredentialsError>(err) {
        if let CredentialsError::CredentialsNotLoaded(_) = ce {
            return (
                "NoCredentials".into(),
                format!("no AWS credentials found; searched: {}", searched_chain(cx)),
                Some(
                    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with \
                     --profile or AWS_PROFILE (`aws sso login --profile NAME` for SSO), or run \
                     where an instance or task role is available"
                        .into(),
                ),
            );
        }
        return (
            "CredentialsError".into(),
            format!("the credentials could not be loaded: {}", chain_of(ce)),
            Some(match &cx.profile {
                Some(p) => format!(
                    "check profile `{p}` in ~/.aws/config (for SSO: `aws sso login --profile {p}`)"
                ),
                None => "check the AWS_* variables and the default profile in ~/.aws/config".into(),
            }),
        );
    }
    if timeout {
        return (
            "Timeout".into(),
            format!("no answer from {} in time", endpoint_name(cx)),
            Some(format!(
                "{}; check the network path to it, or run again",
                endpoint_origin(cx)
            )),
        );
    }
    if let Some(io) = find::<std::io::Error>(err) {
        use std::io::ErrorKind as K;
        let (code, what) = match io.kind() {
            K::ConnectionRefused => ("ConnectionRefused", "connection refused"),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => (
                "ConnectionReset",
                "the connection was closed before an answer",
            ),
            K::TimedOut => ("Timeout", "the connection timed out"),
            _ => ("ConnectionError", ""),
        };
        let what = if what.is_empty() {
            io.to_string()
        } else {
            what.to_string()
        };
        return (
            code.into(),
            format!("cannot reach {}: {what}", endpoint_name(cx)),
            Some(format!(
                "{}{}",
                endpoint_origin(cx),
                if code == "ConnectionRefused" {
                    "; is anything listening there?"
                } else {
                    "; check the network path to it, or run again"
                }
            )),
        );
    }
    (
        "ConnectionError".into(),
        format!("cannot reach {}: {}", endpoint_name(cx), chain(err)),
        Some(endpoint_origin(cx)),
    )
}

/// What the default credential chain looked at, from what this environment has set.
fn searched_chain(cx: &Context) -> String {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let profile = cx
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".into());
    let config = std::env::var("AWS_CONFIG_FILE").unwrap_or_else(|_| "~/.aws/config".into());
    let creds = std::env::var("AWS_SHARED_CREDENTIALS_FILE")
        .unwrap_or_else(|_| "~/.aws/credentials".into());
    let mut parts = vec![
        format!(
            "environment (AWS_ACCESS_KEY_ID {})",
            if set("AWS_ACCESS_KEY_ID") {
                "set, AWS_SECRET_ACCESS_KEY not"
            } else {
                "not set"
            }
        ),
        format!("profile `{profile}` in {config} and {creds}"),
        format!(
            "web identity (AWS_WEB_IDENTITY_TOKEN_FILE {})",
            if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
                "set"
            } else {
                "not set"
            }
        ),
        "ECS container credentials".to_string(),
    ];
    let imds_off =
        std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    parts.push(if imds_off {
        "EC2 instance metadata (off: AWS_EC2_METADATA_DISABLED=true)".into()
    } else {
        "EC2 instance metadata".into()
    });
    parts.join(", ")
}

fn endpoint_name(cx: &Context) -> String {
    match &cx.endpoint {
        Some((url, _)) => url.clone(),
        None if cx.region.is_empty() => "the AWS endpoint".into(),
        None => format!("the AWS endpoint in {}", cx.region),
    }
}

fn endpoint_origin(cx: &Context) -> String {
    match &cx.endpoint {
        Some((url, src)) => format!("the endpoint {url} comes from {src}"),
        None => format!(
            "the endpoint is AWS's own for region `{}` (no --endpoint-url, spec endpoint_url or \
             AWS_ENDPOINT_URL is set)",
            cx.region
        ),
    }
}

fn attempts(cx: &Context) -> String {
    if cx.max_attempts == 0 {
        return "every attempt".into();
    }
    format!(
        "{} attempt{} ({})",
        cx.max_attempts,
        if cx.max_attempts == 1 { "" } else { "s" },
        if cx.attempts_source.is_empty() {
            "default"
        } else {
            &cx.attempts_source
        }
    )
}

fn status_text(status: Option<u16>) -> String {
    match status {
        Some(s) => {
            let reason = match s {
                301 => "Moved Permanently",
                400 => "Bad Request",
                403 => "Forbidden",
                404 => "Not Found",
                409 => "Conflict",
                429 => "Too Many Requests",
                500 => "Internal Server Error",
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                504 => "Gateway Timeout",
                200 => "OK",
                _ => "",
            };
            format!("{s} {reason}").trim().to_string()
        }
        None => "no status".into(),
    }
}

/// The first error of type `T` in `err`'s source chain.
fn find<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        next = e.source();
    }
    None
}

/// The Display texts of an error's source chain, joined with ": " (what `DisplayErrorContext`
/// prints, without the Debug dump it appends). Generic SDK wrappers are left out.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    chain_of(err)
}

fn chain_of(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        let generic = [
            "dispatch failure",
            "io error",
            "other",
            "service error",
            "response error",
            "timeout error",
            "failed to construct request",
        ]
        .contains(&text.as_str());
        if !generic && !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// One line, at most [`MAX_MESSAGE`] characters.
fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_MESSAGE {
        flat
    } else {
        let mut t: String = flat.chars().take(MAX_MESSAGE).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::operation::create_key::CreateKeyError;
    use aws_sdk_s3::operation::head_bucket::HeadBucketError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn raw(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
    }

    fn kms_service(
        code: &str,
        message: &str,
        status: u16,
    ) -> SdkError<CreateKeyError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(CreateKeyError::generic(meta), raw(status))
    }

    fn local_cx() -> Context {
        Context {
            endpoint: Some(("http://127.0.0.1:1".into(), "--endpoint-url".into())),
            region: "us-east-1".into(),
            max_attempts: 10,
            attempts_source: "default".into(),
            profile: None,
            caller: Some("arn:aws:iam::123456789012:user/ci".into()),
        }
    }

    fn aws_cx() -> Context {
        Context {
            endpoint: None,
            ..local_cx()
        }
    }

    /// (why, error, context, expected code, text the message must hold, text the hint must
    /// hold or "" for no hint)
    type Case = (
        &'static str,
        Box<dyn Fn() -> AwsError>,
        &'static str,
        &'static str,
        &'static str,
    );

    #[test]
    fn every_failure_is_one_line_with_code_message_and_hint() {
        let cases: Vec<Case> = vec![
            (
                "a service error keeps AWS's code and message",
                Box::new(|| {
                    classify(
                        "kms:CreateKey",
                        &kms_service("KMSInternalException", "boom", 500),
                        &local_cx(),
                    )
                }),
                "KMSInternalException",
                "boom",
                "",
            ),
            (
                "access denied names the action and the caller",
                Box::new(|| {
                    classify(
                        "kms:CreateKey",
                        &kms_service(
                            "AccessDeniedException",
                            "User: arn:aws:iam::123456789012:user/ci is not authorized to \
                             perform: kms:CreateKey",
                            400,
                        ),
                        &local_cx(),
                    )
                }),
                "AccessDeniedException",
                "not authorized",
                "arn:aws:iam::123456789012:user/ci may not call `kms:CreateKey`",
            ),
            (
                "throttling after the last attempt says how many were made",
                Box::new(|| {
                    classify(
                        "kms:CreateKey",
                        &kms_service("ThrottlingException", "Rate exceeded", 400),
                        &local_cx(),
                    )
                }),
                "ThrottlingException",
                "Rate exceeded",
                "through 10 attempts (default)",
            ),
            (
                "rejected keys",
                Box::new(|| {
                    classify(
                        "kms:CreateKey",
                        &kms_service("UnrecognizedClientException", "bad token", 400),
                        &local_cx(),
                    )
                }),
                "UnrecognizedClientException",
                "bad token",
                "AWS rejected the credentials",
            ),
            (
                "expired session",
                Box::new(|| {
                    classify(
                        "kms:CreateKey",
                        &kms_service("ExpiredTokenException", "expired", 400),
                        &local_cx(),
                    )
                }),
                "ExpiredTokenException",
                "expired",
                "aws sso login",
            ),
            (
                "S3 HEAD 503 without a body",
                Box::new(|| {
                    let e: SdkError<HeadBucketError, HttpResponse> = SdkError::service_error(
                        HeadBucketError::generic(ErrorMetadata::builder().build()),
                        raw(503),
                    );
                    classify("s3:HeadBucket", &e, &local_cx())
                }),
                "HTTP503",
                "HTTP 503 Service Unavailable with no error body (HEAD answers carry none)",
                "SlowDown",
            ),
            (
                "S3 HEAD 403 without a body is access denied on ListBucket",
                Box::new(|| {
                    let e: SdkError<HeadBucketError, HttpResponse> = SdkError::service_error(
                        HeadBucketError::generic(ErrorMetadata::builder().build()),
                        raw(403),
                    );
                    classify("s3:HeadBucket", &e, &local_cx())
                }),
                "HTTP403",
                "403 Forbidden",
                "may not call `s3:ListBucket`",
            ),
            (
                "refused connection names the endpoint and where it came from",
                Box::new(|| {
                    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
                    let e: SdkError<CreateKeyError, HttpResponse> =
                        SdkError::dispatch_failure(ConnectorError::io(Box::new(io)));
                    classify("kms:CreateKey", &e, &local_cx())
                }),
                "ConnectionRefused",
                "cannot reach http://127.0.0.1:1: connection refused",
                "comes from --endpoint-url; is anything listening there?",
            ),
            (
                "refused connection to AWS itself",
                Box::new(|| {
                    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
                    let e: SdkError<CreateKeyError, HttpResponse> =
                        SdkError::dispatch_failure(ConnectorError::io(Box::new(io)));
                    classify("kms:CreateKey", &e, &aws_cx())
                }),
                "ConnectionRefused",
                "the AWS endpoint in us-east-1",
                "AWS's own for region `us-east-1`",
            ),
            (
                "no credentials",
                Box::new(|| {
                    let ce = aws_credential_types::provider::error::CredentialsError::not_loaded(
                        "no providers in chain provided credentials",
                    );
                    let e: SdkError<CreateKeyError, HttpResponse> =
                        SdkError::dispatch_failure(ConnectorError::other(Box::new(ce), None));
                    classify("sts:GetCallerIdentity", &e, &local_cx())
                }),
                "NoCredentials",
                "no AWS credentials found; searched: environment",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ),
            (
                "a broken profile",
                Box::new(|| {
                    let ce =
                        aws_credential_types::provider::error::CredentialsError::provider_error(
                            "the SSO session has expired",
                        );
                    let e: SdkError<CreateKeyError, HttpResponse> =
                        SdkError::dispatch_failure(ConnectorError::other(Box::new(ce), None));
                    let cx = Context {
                        profile: Some("prod".into()),
                        ..local_cx()
                    };
                    classify("sts:GetCallerIdentity", &e, &cx)
                }),
                "CredentialsError",
                "the SSO session has expired",
                "aws sso login --profile prod",
            ),
            (
                "time-out",
                Box::new(|| {
                    let e: SdkError<CreateKeyError, HttpResponse> =
                        SdkError::timeout_error("operation timed out");
                    classify("kms:CreateKey", &e, &local_cx())
                }),
                "Timeout",
                "no answer from http://127.0.0.1:1 in time",
                "comes from --endpoint-url",
            ),
            (
                "an unreadable answer",
                Box::new(|| {
                    let e: SdkError<CreateKeyError, HttpResponse> =
                        SdkError::response_error("invalid JSON at line 1", raw(200));
                    classify("kms:CreateKey", &e, &local_cx())
                }),
                "ResponseError",
                "could not be read (200 OK): invalid JSON at line 1",
                "an AWS endpoint or an emulator",
            ),
            (
                "a multi-line message becomes one line",
                Box::new(|| {
                    classify(
                        "kms:CreateKey",
                        &kms_service("ValidationException", "line one\n  line two\r\n", 400),
                        &local_cx(),
                    )
                }),
                "ValidationException",
                "line one line two",
                "",
            ),
        ];
        for (why, make, code, message, hint) in cases {
            let e = make();
            let text = e.to_string();
            assert_eq!(e.code, code, "{why}: {text}");
            assert!(e.message.contains(message), "{why}: {text}");
            match (hint, &e.hint) {
                ("", None) => {}
                ("", Some(h)) => panic!("{why}: unexpected hint {h}"),
                (want, Some(h)) => assert!(h.contains(want), "{why}: {h}"),
                (want, None) => panic!("{why}: no hint, wanted {want}"),
            }
            assert!(!text.contains('\n'), "{why}: one line: {text}");
            for leak in [
                "DispatchFailure {",
                "ConnectorError {",
                "Some(",
                "source:",
                "Os {",
            ] {
                assert!(!text.contains(leak), "{why}: debug leak {leak}: {text}");
            }
            assert!(
                text.starts_with(&format!("{} failed: {code}: ", e.operation)),
                "{why}: {text}"
            );
        }
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(2000);
        let e = classify(
            "kms:CreateKey",
            &kms_service("ValidationException", &long, 400),
            &local_cx(),
        );
        assert_eq!(e.message.chars().count(), MAX_MESSAGE + 1);
    }
}
