//! Engine supervision (being built): launch engines in their own process groups on free ports,
//! wait for readiness, keep their logs, detect crashes, stop them (SIGTERM, grace, SIGKILL to
//! the group) and scrape their `/metrics` into the common names.
