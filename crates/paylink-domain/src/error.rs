//! The one error type of the domain: a rule was broken by the input.

use std::fmt;

/// A broken rule, safe to show to the client: a stable code, a sentence, and the path of
/// the offending field (`line_items[2].quantity`) when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
}

impl ValidationError {
    pub fn new(code: &'static str, param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// The same error, reported under a parent field (`line_items[0]` + `quantity`).
    pub fn within(mut self, parent: &str) -> Self {
        self.param = Some(match self.param.take() {
            Some(p) if p.starts_with('[') => format!("{parent}{p}"),
            Some(p) if !p.is_empty() => format!("{parent}.{p}"),
            _ => parent.to_owned(),
        });
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ValidationError {}

/// Shorthand for the common "invalid value for this field" error.
pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError::new("parameter_invalid", param, message)
}

/// `parameters_inconsistent`: each field is well formed, and together they disagree
/// (a minimum above its maximum, a duplicate key, an option on a field that takes none).
pub fn inconsistent(param: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError::new("parameters_inconsistent", param, message)
}
