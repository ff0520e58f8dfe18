//! A failed command: a diagnostic and the exit code it means.

use std::process::ExitCode;

/// Exit codes: 1 runtime or provider failure, 2 the script or command line is wrong.
pub struct Failure {
    pub report: miette::Report,
    pub code: u8,
}

impl Failure {
    /// The script or the command line is wrong: exit 2.
    pub fn usage(error: impl miette::Diagnostic + Send + Sync + 'static) -> Failure {
        Failure {
            report: miette::Report::new(error),
            code: 2,
        }
    }

    /// Something failed while doing the work: exit 1.
    pub fn runtime(error: impl miette::Diagnostic + Send + Sync + 'static) -> Failure {
        Failure {
            report: miette::Report::new(error),
            code: 1,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}
