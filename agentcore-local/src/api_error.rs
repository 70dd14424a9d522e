//! Errors in the service's wire shape: status, `x-amzn-errortype` header, JSON body.

use agentcore_sdk::ServiceErrorKind;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answered to a client exactly as AgentCore Runtime would.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The service error kind.
    pub kind: ServiceErrorKind,
    /// The message.
    pub message: String,
    /// `ValidationException.fieldList`.
    pub fields: Vec<(String, String)>,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ServiceErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    /// `ValidationException` naming a field.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(ServiceErrorKind::Validation, message.clone());
        e.fields.push((field.into(), message));
        e
    }
    /// `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ServiceErrorKind::ResourceNotFound, message)
    }
    /// `ConflictException`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ServiceErrorKind::Conflict, message)
    }
    /// `InternalServerException`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ServiceErrorKind::InternalServer, message)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "__type": self.kind.type_name(),
            "message": self.message,
        });
        if self.kind == ServiceErrorKind::Validation
            && let Some(obj) = body.as_object_mut()
        {
            obj.insert("reason".into(), "FieldValidationFailed".into());
            obj.insert(
                "fieldList".into(),
                self.fields
                    .iter()
                    .map(|(n, m)| serde_json::json!({"name": n, "message": m}))
                    .collect(),
            );
        }
        body
    }
}

impl From<agentcore_sdk::Error> for ApiError {
    fn from(e: agentcore_sdk::Error) -> Self {
        match e {
            agentcore_sdk::Error::InvalidInput { field, rule } => {
                ApiError::validation(field, format!("{field} {rule}"))
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(self.body())).into_response();
        if let Ok(v) = HeaderValue::from_str(self.kind.type_name()) {
            resp.headers_mut().insert("x-amzn-errortype", v);
        }
        resp.headers_mut().insert(
            "x-amzn-requestid",
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("local")),
        );
        resp
    }
}
