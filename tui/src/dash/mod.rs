//! The dashboard (being built).

use crate::conn::Target;
use crate::failure::Failure;

/// Run the dashboard against the daemon at `target` until the user quits.
pub async fn run(_target: Target) -> Result<(), Failure> {
    Err(Failure::usage(
        "the dashboard is not built yet; use the subcommands (`llms --help`)",
    ))
}
