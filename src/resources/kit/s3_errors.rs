//! S3's errors as the bucket kind and the DR replication read them: a request builder's error
//! as an [`AwsError`] ([`build_error`]), and the AWS error code where the S3 model declares
//! no typed error ([`code_is`]).

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::aws::AwsError;

/// A request that does not build, as the error of call `op`.
pub fn build_error(op: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::local(op, "InternalError", format!("request does not build: {e}"))
}

/// Does this SDK error carry the AWS error code `code`? Used only where the S3 model has no
/// typed error for the case (see [`crate::resources::s3`]'s docs).
pub fn code_is<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>, code: &str) -> bool {
    e.as_service_error().and_then(|se| se.code()) == Some(code)
}
