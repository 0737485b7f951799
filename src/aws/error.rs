//! AWS errors as novactl reports them: the operation, the AWS error code, the message.
//! Classification (not found, already exists) is done by the reconcilers with the SDK's typed
//! `is_*()` checks; this type only carries what the user needs to read.

use std::fmt;

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
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: {}: {}",
            self.operation, self.code, self.message
        )
    }
}

impl std::error::Error for AwsError {}

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
        let (code, message) = match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                (
                    e.code().unwrap_or("Unknown").to_string(),
                    e.message()
                        .map(str::to_string)
                        .unwrap_or_else(|| DisplayErrorContext(&err).to_string()),
                )
            }
            SdkError::TimeoutError(_) => ("Timeout".into(), DisplayErrorContext(&err).to_string()),
            SdkError::DispatchFailure(_) => (
                "DispatchFailure".into(),
                DisplayErrorContext(&err).to_string(),
            ),
            SdkError::ResponseError(_) => (
                "ResponseError".into(),
                DisplayErrorContext(&err).to_string(),
            ),
            _ => ("ClientError".into(), DisplayErrorContext(&err).to_string()),
        };
        AwsError {
            operation: operation.to_string(),
            code,
            message,
        }
    }

    /// An error raised by novactl itself while talking to AWS (a failed check, a time-out).
    pub fn local(operation: &str, code: &str, message: impl Into<String>) -> AwsError {
        AwsError {
            operation: operation.to_string(),
            code: code.to_string(),
            message: message.into(),
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
