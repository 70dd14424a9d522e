//! The SDK's one error type.
//!
//! Every fallible call returns [`Error`]. It says *what went wrong* in terms of the caller's
//! request: bad input caught before sending ([`Error::InvalidInput`]), an error the service
//! returned ([`Error::Service`]), a response the SDK could not understand
//! ([`Error::MalformedResponse`]), a command stream that ended early ([`Error::TruncatedStream`]),
//! and so on. Match on it, or ask it questions with [`Error::is_retryable`] and
//! [`Error::service_kind`].

mod checked;

use std::fmt;
use std::time::Duration;

use crate::types::{AgentRuntimeStatus, CommandStatus, Invalid};

/// A boxed error used as the source of transport, credential and decoding failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to AgentCore Runtime.
///
/// ```
/// # use agentcore_sdk::{Error, ServiceErrorKind};
/// fn describe(err: &Error) -> &'static str {
///     match err {
///         Error::InvalidInput { .. } => "fix the request",
///         Error::Service(e) if e.kind() == &ServiceErrorKind::Throttling => "slow down",
///         Error::TruncatedStream { .. } => "the command's outcome is unknown",
///         _ => "something else",
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was rejected by the SDK before anything was sent.
    #[error("invalid {field}: {rule}")]
    InvalidInput {
        /// The request field (wire name) that failed validation, e.g. `runtimeSessionId`.
        field: &'static str,
        /// The rule it broke, e.g. `must be 33 to 256 characters, got 5`.
        rule: String,
    },

    /// The service answered with an error, either as an HTTP status or as an exception event
    /// in the middle of a response stream.
    #[error(transparent)]
    Service(Box<ServiceError>),

    /// The response could not be decoded: a bad event-stream frame (CRC, length, headers),
    /// invalid JSON, or an unexpected shape.
    #[error("malformed response: {what}")]
    MalformedResponse {
        /// What could not be decoded.
        what: String,
        /// The decoder's own error, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// A command stream ended before its `contentStop` event — the response ended early or
    /// the connection broke mid-stream — so the command's exit code is unknown. This is never
    /// reported as success.
    #[error(
        "command stream ended before contentStop (after {events} events); the outcome is unknown"
    )]
    TruncatedStream {
        /// How many events had been received before the stream ended.
        events: u64,
        /// The connection error that cut the stream, when there was one.
        #[source]
        source: Option<BoxError>,
    },

    /// The operation did not finish in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The operation that timed out, e.g. `InvokeAgentRuntimeCommand`.
        operation: &'static str,
        /// How long the SDK waited.
        after: Duration,
    },

    /// The connection failed or broke (DNS, TCP, TLS, HTTP/2).
    #[error("transport error during {operation}")]
    Transport {
        /// The operation being performed.
        operation: &'static str,
        /// The underlying I/O or HTTP error.
        #[source]
        source: BoxError,
    },

    /// No credentials could be loaded, or signing failed.
    #[error("credentials: {message}")]
    Credentials {
        /// What failed.
        message: String,
        /// The credential provider's or signer's error.
        #[source]
        source: Option<BoxError>,
    },

    /// The client configuration is unusable (no region, a plain-HTTP endpoint that is not
    /// loopback, an unparsable endpoint URL...).
    #[error("configuration: {0}")]
    Config(String),

    /// A command ran but failed: non-zero exit code or timed out. Raised by
    /// [`CommandOutput::check`](crate::CommandOutput::check) and the workflow helpers; carries
    /// the end of the output (never the command line, which may hold secrets).
    #[error(
        "command failed with exit code {exit_code} ({status}){}",
        last_line(stderr_tail, stdout_tail)
    )]
    CommandFailed {
        /// The exit code.
        exit_code: i32,
        /// Completed or timed out.
        status: CommandStatus,
        /// The last few KiB of stdout.
        stdout_tail: String,
        /// The last few KiB of stderr.
        stderr_tail: String,
    },

    /// A response was larger than the caller's limit for collecting it in memory; stream it
    /// instead (e.g. [`crate::data::ByteStream`] as a `Stream`, or the command's events).
    #[error("{what} is larger than the {limit}-byte limit for collecting it in memory")]
    TooLarge {
        /// What was being collected.
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
    },

    /// A file, directory or process in the session does not exist.
    #[error("not found in the session: {what}")]
    NotFound {
        /// What was looked for, as the session described it.
        what: String,
    },

    /// Something in the session is in the way: a process id taken by another command, a
    /// directory that already exists, a destination that is not empty.
    #[error("already exists: {what}")]
    AlreadyExists {
        /// What is in the way.
        what: String,
    },

    /// The operation does not fit the state of its target now, e.g. writing to the stdin of
    /// a process that has ended or was started without one.
    #[error("not possible now: {what}")]
    WrongState {
        /// Why.
        what: String,
    },

    /// Data arrived different from what was sent (a transfer's end-to-end SHA-256).
    #[error("checksum mismatch: {what}")]
    ChecksumMismatch {
        /// What differed, with both checksums.
        what: String,
    },

    /// An archive entry that would land outside its destination (an absolute path, `..`, or
    /// a link that points outside) was refused; nothing after it was extracted.
    #[error("refused archive entry {entry}: {reason}")]
    UnsafeArchiveEntry {
        /// The entry's path in the archive.
        entry: String,
        /// Why it was refused.
        reason: String,
    },

    /// The session has no session endpoint: its runtime has no `allowedPorts`, the service
    /// did not offer direct access, or no invocation returned one yet.
    #[error("no session endpoint: {reason}")]
    NoSessionEndpoint {
        /// Why.
        reason: String,
    },

    /// A local file could not be read or written: an experiment's output (CSV, job
    /// directory) or a session ledger.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, e.g. `append to`.
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A waiter saw the resource reach a failed state.
    #[error("agent runtime {id} reached {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    WaiterFailed {
        /// The agent runtime id.
        id: String,
        /// The terminal status, e.g. `CREATE_FAILED`.
        status: AgentRuntimeStatus,
        /// The service's `failureReason`, when it gave one.
        reason: Option<String>,
    },
}

fn last_line(stderr: &str, stdout: &str) -> String {
    let pick = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    match pick.trim_end().lines().last() {
        Some(l) if !l.is_empty() => format!(": {l}"),
        _ => String::new(),
    }
}

impl Error {
    /// `true` when sending the same request again is safe and may succeed: the service
    /// refused it (throttling, 5xx, retryable conflicts), or the connection could not be made
    /// (so nothing reached the service). A connection that broke after the request went out
    /// is not retryable: a command may already be running.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service(e) => e.is_retryable(),
            Error::Transport { source, .. } => source
                .downcast_ref::<reqwest::Error>()
                .is_some_and(|e| e.is_connect()),
            _ => false,
        }
    }

    /// The service error kind, when this is a service error.
    pub fn service_kind(&self) -> Option<&ServiceErrorKind> {
        match self {
            Error::Service(e) => Some(e.kind()),
            _ => None,
        }
    }

    /// The service error, when this is one.
    pub fn as_service(&self) -> Option<&ServiceError> {
        match self {
            Error::Service(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            rule: rule.into(),
        }
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        Error::MalformedResponse {
            what: what.into(),
            source: None,
        }
    }

    pub(crate) fn malformed_with(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::MalformedResponse {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    #[cfg(any(feature = "workflow", feature = "preview"))]
    pub(crate) fn local_io(path: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            action: "read or write",
            path: std::path::PathBuf::from(path.to_string()),
            source,
        }
    }

    pub(crate) fn transport(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Transport {
            operation,
            source: source.into(),
        }
    }
}

/// A validation failure a builder keeps until `send()`: builders are `Clone` and `Error` is
/// not, so the field and rule are kept instead of the error.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    field: &'static str,
    rule: String,
}

impl From<Error> for Deferred {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidInput { field, rule } => Self { field, rule },
            other => Self {
                field: "input",
                rule: other.to_string(),
            },
        }
    }
}

impl From<Deferred> for Error {
    fn from(d: Deferred) -> Self {
        Error::InvalidInput {
            field: d.field,
            rule: d.rule,
        }
    }
}

impl From<Invalid> for Error {
    fn from(i: Invalid) -> Self {
        Error::InvalidInput {
            field: i.field,
            rule: i.rule,
        }
    }
}

impl From<Invalid> for Deferred {
    fn from(i: Invalid) -> Self {
        Self {
            field: i.field,
            rule: i.rule,
        }
    }
}

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        Error::Service(Box::new(e))
    }
}

/// The kind of an error returned by the service, one per exception in the service models.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceErrorKind {
    /// `ValidationException` (400): the request failed the service's validation.
    Validation,
    /// `UnauthorizedException` (401).
    Unauthorized,
    /// `ServiceQuotaExceededException` (402).
    ServiceQuotaExceeded,
    /// `AccessDeniedException` (403): the caller lacks the IAM permission.
    AccessDenied,
    /// `ResourceNotFoundException` (404).
    ResourceNotFound,
    /// `ConflictException` (409).
    Conflict,
    /// `RetryableConflictException` (409): retry later.
    RetryableConflict,
    /// `RuntimeClientError` (424): the agent container failed.
    RuntimeClient,
    /// `ThrottlingException` (429).
    Throttling,
    /// `InternalServerException` (500).
    InternalServer,
    /// Anything else, with the type name the service sent (or the HTTP status when it sent
    /// none).
    Other(String),
}

impl ServiceErrorKind {
    /// Maps a service error type name (`ThrottlingException`, `throttlingException`, or a
    /// fully qualified `aws.protocoltests#ThrottlingException:http://...`) to a kind.
    pub fn from_type_name(name: &str) -> Self {
        // Strip a namespace prefix (`ns#Name`) and a trailing `:uri` as AWS JSON protocols allow.
        let name = name.rsplit('#').next().unwrap_or(name);
        let name = name.split(':').next().unwrap_or(name).trim();
        match name.to_ascii_lowercase().as_str() {
            "validationexception" => Self::Validation,
            "unauthorizedexception" => Self::Unauthorized,
            "servicequotaexceededexception" => Self::ServiceQuotaExceeded,
            // Session endpoints name their errors without the suffix.
            "accessdeniedexception" | "accessdenied" => Self::AccessDenied,
            "authenticationrequired" => Self::Unauthorized,
            "resourcenotfoundexception" => Self::ResourceNotFound,
            "conflictexception" => Self::Conflict,
            "retryableconflictexception" => Self::RetryableConflict,
            "runtimeclienterror" => Self::RuntimeClient,
            "throttlingexception" => Self::Throttling,
            "internalserverexception" => Self::InternalServer,
            _ => Self::Other(name.to_string()),
        }
    }

    /// The kind implied by an HTTP status when the service named no type.
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => Self::Validation,
            401 => Self::Unauthorized,
            402 => Self::ServiceQuotaExceeded,
            403 => Self::AccessDenied,
            404 => Self::ResourceNotFound,
            409 => Self::Conflict,
            424 => Self::RuntimeClient,
            429 => Self::Throttling,
            500..=599 => Self::InternalServer,
            other => Self::Other(format!("HTTP {other}")),
        }
    }

    /// The service's type name for this kind.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Validation => "ValidationException",
            Self::Unauthorized => "UnauthorizedException",
            Self::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            Self::AccessDenied => "AccessDeniedException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::Conflict => "ConflictException",
            Self::RetryableConflict => "RetryableConflictException",
            Self::RuntimeClient => "RuntimeClientError",
            Self::Throttling => "ThrottlingException",
            Self::InternalServer => "InternalServerException",
            Self::Other(name) => name,
        }
    }

    /// The HTTP status the service uses for this kind.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Validation => 400,
            Self::Unauthorized => 401,
            Self::ServiceQuotaExceeded => 402,
            Self::AccessDenied => 403,
            Self::ResourceNotFound => 404,
            Self::Conflict | Self::RetryableConflict => 409,
            Self::RuntimeClient => 424,
            Self::Throttling => 429,
            Self::InternalServer | Self::Other(_) => 500,
        }
    }
}

impl fmt::Display for ServiceErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// One field named by a `ValidationException`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[non_exhaustive]
pub struct ValidationField {
    /// The field's path, e.g. `filesystemConfigurations[0].sessionStorage.mountPath`.
    pub name: String,
    /// What is wrong with it.
    pub message: String,
}

impl ValidationField {
    /// A field entry.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// An error returned by the service.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceError {
    kind: ServiceErrorKind,
    message: String,
    status: Option<u16>,
    request_id: Option<String>,
    reason: Option<String>,
    fields: Vec<ValidationField>,
    mid_stream: bool,
}

impl ServiceError {
    /// A service error of `kind` with `message`.
    pub fn new(kind: ServiceErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            request_id: None,
            reason: None,
            fields: Vec::new(),
            mid_stream: false,
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> &ServiceErrorKind {
        &self.kind
    }
    /// The service's message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The HTTP status, absent for exception events received mid-stream.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
    /// The request id (`x-amzn-RequestId`), to quote to AWS support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    /// `ValidationException.reason` (e.g. `FieldValidationFailed`).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// `ValidationException.fieldList`.
    pub fn fields(&self) -> &[ValidationField] {
        &self.fields
    }
    /// `true` when the error arrived as an exception event inside a response stream, after
    /// part of the response had already been delivered.
    pub fn is_mid_stream(&self) -> bool {
        self.mid_stream
    }
    /// `true` for throttling, server errors and retryable conflicts.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ServiceErrorKind::Throttling
                | ServiceErrorKind::InternalServer
                | ServiceErrorKind::RetryableConflict
        ) || self.status.is_some_and(|s| (500..=599).contains(&s))
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
    pub(crate) fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }
    pub(crate) fn with_reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }
    pub(crate) fn with_fields(mut self, fields: Vec<ValidationField>) -> Self {
        self.fields = fields;
        self
    }
    pub(crate) fn mid_stream(mut self) -> Self {
        self.mid_stream = true;
        self
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        for field in &self.fields {
            write!(f, "; {}: {}", field.name, field.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {}

/// The JSON body of a service error, in any of the shapes AWS services use.
#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(rename = "__type")]
    type_: Option<String>,
    code: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
    reason: Option<String>,
    #[serde(rename = "fieldList", default)]
    field_list: Vec<ValidationField>,
}

/// Builds a [`ServiceError`] from an HTTP error response: the type comes from the
/// `x-amzn-errortype` header, else the body's `__type` or `code`, else the status.
pub(crate) fn service_error_from_response(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> ServiceError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let header_type = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty());
    let kind = header_type
        .or(parsed.type_.as_deref())
        .or(parsed.code.as_deref())
        .map(ServiceErrorKind::from_type_name)
        .unwrap_or_else(|| ServiceErrorKind::from_status(status));
    let message = parsed.message.unwrap_or_else(|| {
        // Keep a short, printable excerpt of a non-JSON body so nothing the server said is lost.
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let mut excerpt: String = text.chars().take(512).collect();
        if excerpt.len() < text.len() {
            excerpt.push('…');
        }
        excerpt
    });
    ServiceError::new(kind, message)
        .with_status(status)
        .with_request_id(request_id(headers))
        .with_reason(parsed.reason)
        .with_fields(parsed.field_list)
}

/// Builds a [`ServiceError`] from an exception event inside an event stream.
pub(crate) fn service_error_from_event(exception_type: &str, payload: &[u8]) -> ServiceError {
    let parsed: ErrorBody = serde_json::from_slice(payload).unwrap_or_default();
    ServiceError::new(
        ServiceErrorKind::from_type_name(exception_type),
        parsed
            .message
            .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned()),
    )
    .with_reason(parsed.reason)
    .with_fields(parsed.field_list)
    .mid_stream()
}

/// The request id the service put in the response headers, if any.
pub(crate) fn request_id(headers: &http::HeaderMap) -> Option<String> {
    ["x-amzn-requestid", "x-amz-request-id"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_qualified_type_names() {
        assert_eq!(
            ServiceErrorKind::from_type_name("com.amazonaws#ThrottlingException:http://x"),
            ServiceErrorKind::Throttling
        );
        assert_eq!(
            ServiceErrorKind::from_type_name("runtimeClientError"),
            ServiceErrorKind::RuntimeClient
        );
        assert_eq!(
            ServiceErrorKind::from_type_name("Weird"),
            ServiceErrorKind::Other("Weird".into())
        );
    }

    #[test]
    fn header_type_wins_over_body_and_status() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amzn-errortype", "ConflictException".parse().unwrap());
        headers.insert("x-amzn-requestid", "req-1".parse().unwrap());
        let e = service_error_from_response(
            400,
            &headers,
            br#"{"__type":"ValidationException","message":"m"}"#,
        );
        assert_eq!(e.kind(), &ServiceErrorKind::Conflict);
        assert_eq!(e.request_id(), Some("req-1"));
        assert_eq!(e.message(), "m");
    }

    #[test]
    fn non_json_body_is_kept_as_message() {
        let e =
            service_error_from_response(502, &http::HeaderMap::new(), b"<html>bad gateway</html>");
        assert_eq!(e.kind(), &ServiceErrorKind::InternalServer);
        assert!(e.is_retryable());
        assert_eq!(e.message(), "<html>bad gateway</html>");
    }
}
