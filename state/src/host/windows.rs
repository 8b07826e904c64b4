//! Windows: no liveness check without `unsafe`, so locks are never taken over.

/// Always true on Windows: a lock whose holder died has to be released by
/// hand (its process cannot be checked without `unsafe` code).
pub fn pid_is_alive(_pid: u32) -> bool {
    true
}

/// This machine's name from `COMPUTERNAME`, or `localhost`.
pub fn hostname() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| String::from("localhost"))
}
