//! Errors of loading a scenario: which file, which key, what is allowed.

use std::fmt;

/// A scenario file (or built-in profile) that cannot be used, with the place and the rule.
///
/// Displayed as `file: key.path: message`, e.g.
/// `my.toml: clients[1].think.first_call.sigma: expected a number >= 0, got -1`.
/// Fix the named key; the message lists what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    file: String,
    path: String,
    message: String,
}

impl ScenarioError {
    #[cold]
    pub(crate) fn new(file: &str, path: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// The file name given to the parser (`"<builtin claude>"` for built-in profiles).
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The key path, e.g. `clients[1].think.first_call.sigma` (empty for file-level errors
    /// such as TOML syntax).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong and what is allowed.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}
