//! `llms demo` (being built).

use crate::cli::DemoArgs;
use crate::failure::Failure;

/// Run the demo.
pub async fn run(_args: DemoArgs) -> Result<String, Failure> {
    Err(Failure::error("the demo is not built yet"))
}
