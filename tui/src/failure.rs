//! [`Failure`]: what a command ends with when it does not succeed, with its exit code.

use llms_shared::ApiError;
use std::fmt;

/// Exit code for bad arguments, an unreachable or incompatible daemon, or an unknown job.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for any other error the daemon reports.
pub const EXIT_ERROR: u8 = 1;

/// A failed command: the message `main` prints after `llms: `, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Process exit code (1 or 2).
    pub code: u8,
    /// One line, without the `llms: ` prefix.
    pub message: String,
}

impl Failure {
    /// Exit code 2: bad arguments, daemon not there, unknown job.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// Exit code 1: anything else.
    pub fn error(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_ERROR,
            message: message.into(),
        }
    }

    /// An API error from a call about `what` (`job 7`, `engine vllm`): `NotFound` is exit 2
    /// with "`what` not found", every other error exit 1 with the daemon's message.
    pub fn api(err: ApiError, what: &str) -> Self {
        match err {
            ApiError::NotFound(_) => Failure::usage(format!("{what} not found")),
            other => Failure::error(other.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_exit_2_naming_the_job() {
        let f = Failure::api(ApiError::NotFound("7".into()), "job 7");
        assert_eq!(f, Failure::usage("job 7 not found"));
        let f = Failure::api(ApiError::Conflict("job 7 is running".into()), "job 7");
        assert_eq!(f, Failure::error("job 7 is running"));
    }
}
