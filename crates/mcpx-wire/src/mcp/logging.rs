//! Logging: `LoggingLevel` and `logging/setLevel` (2025-11-25; 2026-07-28 uses the per-request
//! `io.modelcontextprotocol/logLevel` `_meta` key instead).

use serde::{Deserialize, Serialize};

use super::{EmptyResult, Json, method};

open_enum! {
    /// `LoggingLevel`: syslog severities (RFC 5424), lowest first.
    pub enum LoggingLevel<'a> {
        /// `"debug"`.
        Debug = "debug",
        /// `"info"`.
        Info = "info",
        /// `"notice"`.
        Notice = "notice",
        /// `"warning"`.
        Warning = "warning",
        /// `"error"`.
        Error = "error",
        /// `"critical"`.
        Critical = "critical",
        /// `"alert"`.
        Alert = "alert",
        /// `"emergency"`.
        Emergency = "emergency",
    }
}

impl LoggingLevel<'_> {
    /// Severity rank, 0 (`debug`) to 7 (`emergency`); `None` for an unknown level.
    pub fn severity(&self) -> Option<u8> {
        Some(match self {
            Self::Debug => 0,
            Self::Info => 1,
            Self::Notice => 2,
            Self::Warning => 3,
            Self::Error => 4,
            Self::Critical => 5,
            Self::Alert => 6,
            Self::Emergency => 7,
            Self::Unknown(_) => return None,
        })
    }
}

/// `SetLevelRequestParams` (2025-11-25; removed in 2026-07-28).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetLevelRequestParams<'a> {
    /// Minimum level the client wants to receive.
    #[serde(borrow)]
    pub level: LoggingLevel<'a>,
    /// `_meta`.
    #[serde(
        rename = "_meta",
        default,
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    pub meta: Option<Json<'a>>,
}

request_marker! {
    /// `logging/setLevel` (2025-11-25; removed in 2026-07-28).
    SetLevel = method::LOGGING_SET_LEVEL, <'a> SetLevelRequestParams<'a> => EmptyResult<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_open() {
        let l: LoggingLevel<'_> = serde_json::from_str(r#""warning""#).unwrap();
        assert_eq!(l.severity(), Some(3));
        let l: LoggingLevel<'_> = serde_json::from_str(r#""trace""#).unwrap();
        assert_eq!(l.severity(), None);
        assert_eq!(l.as_str(), "trace");
    }
}
