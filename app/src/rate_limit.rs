//! Rate limits per client address, in the app (not only in the Nginx in front): login and
//! registration get a strict limit, every API route a looser one. GCRA buckets from the
//! `governor` crate, one per address.
//!
//! The client address is the socket's peer, or, when that peer is a trusted proxy
//! (`TRUSTED_PROXIES`), the rightmost `X-Forwarded-For` entry that is not one: the entry the
//! proxy itself appended. A client cannot pick its own bucket by sending the header.
//!
//! Memory is bounded: buckets back at full capacity are dropped every minute, and when a table
//! reaches `RATE_LIMIT_MAX_CLIENTS` it is swept at once; if the flood is still too large, the
//! table starts afresh (every address then has its full allowance again; a flood that large
//! already has that many allowances).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Extension;
use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::{RateLimitConfig, TrustedNet};
use crate::error::ApiError;
use crate::metrics::RateLimited;

/// How often buckets back at full capacity are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Which limit a request is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Login and registration, per address.
    Auth,
    /// Every API route, per address.
    Api,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Auth => "auth",
            Limit::Api => "api",
        }
    }
}

/// One table of buckets, replaced whole when a flood fills it.
struct Table {
    quota: Quota,
    buckets: RwLock<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Table {
    fn new(per_minute: NonZeroU32) -> Table {
        let quota = Quota::per_minute(per_minute);
        Table { quota, buckets: RwLock::new(DefaultKeyedRateLimiter::keyed(quota)) }
    }

    fn len(&self) -> usize {
        self.buckets.read().map_or(0, |b| b.len())
    }

    /// Drops the buckets back at full capacity; starts afresh if still `max` or more remain.
    fn sweep(&self, max: usize, limit: Limit) {
        let Ok(mut buckets) = self.buckets.write() else { return };
        buckets.retain_recent();
        if buckets.len() >= max {
            tracing::warn!(limit = limit.as_str(), addresses = buckets.len(), "rate-limit table full: starting afresh");
            *buckets = DefaultKeyedRateLimiter::keyed(self.quota);
        }
        buckets.shrink_to_fit();
    }

    /// `Err(wait)` when `ip` is over the limit.
    fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Ok(buckets) = self.buckets.read() else { return Ok(()) };
        buckets.check_key(&ip).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Both tables, the trusted proxies and the cap on tracked addresses.
pub struct RateLimits {
    auth: Table,
    api: Table,
    trusted: Vec<TrustedNet>,
    max_clients: usize,
    enabled: bool,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> RateLimits {
        RateLimits {
            auth: Table::new(config.auth_per_minute),
            api: Table::new(config.api_per_minute),
            trusted: config.trusted_proxies.clone(),
            max_clients: config.max_clients,
            enabled: config.enabled,
        }
    }

    fn table(&self, limit: Limit) -> &Table {
        match limit {
            Limit::Auth => &self.auth,
            Limit::Api => &self.api,
        }
    }

    /// How many addresses a table tracks now.
    pub fn tracked(&self, limit: Limit) -> usize {
        self.table(limit).len()
    }

    /// The periodic sweep of both tables.
    pub fn sweep(&self) {
        for limit in [Limit::Auth, Limit::Api] {
            self.table(limit).sweep(self.max_clients, limit);
        }
    }

    /// `Err(wait)` when the address is over `limit`.
    pub fn check(&self, limit: Limit, ip: IpAddr) -> Result<(), Duration> {
        let table = self.table(limit);
        if table.len() >= self.max_clients {
            table.sweep(self.max_clients, limit);
        }
        table.check(ip)
    }

    /// The address a request is counted against (see the module's notes).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in forwarded.iter().rev() {
            match entry.parse::<IpAddr>() {
                Ok(ip) if self.is_trusted(ip) => client = ip,
                Ok(ip) => return ip,
                // Written by whoever is left of our proxies: nothing further left can be trusted.
                Err(_) => break,
            }
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }
}

/// Drops the buckets back at full capacity every [`SWEEP_EVERY`], while the limits are in use.
pub fn spawn_sweeper(limits: &Arc<RateLimits>) {
    let weak = Arc::downgrade(limits);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(limits) = weak.upgrade() else { break };
            limits.sweep();
        }
    });
}

/// Middleware for login and registration. The limits come as a request extension (the
/// service adds them around the routes), so the routes are built without them.
pub async fn auth(Extension(limits): Extension<Arc<RateLimits>>, request: Request, next: Next) -> Response {
    enforce(&limits, Limit::Auth, request, next).await
}

/// Middleware for every API route (the limits as for [`auth`]).
pub async fn api(Extension(limits): Extension<Arc<RateLimits>>, request: Request, next: Next) -> Response {
    enforce(&limits, Limit::Api, request, next).await
}

async fn enforce(limits: &RateLimits, limit: Limit, request: Request, next: Next) -> Response {
    if !limits.enabled {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
    let ip = limits.client_ip(peer, request.headers());
    match limits.check(limit, ip) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(limit = limit.as_str(), "rate limited");
            let mut response = ApiError::RateLimited { retry_after_secs: retry_after_secs(wait) }.into_response();
            response.extensions_mut().insert(RateLimited(limit.as_str()));
            response
        }
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up, at least one, so a client that waits
/// that long gets through.
fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::num::NonZeroU32;
    use std::sync::Arc;
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderValue};

    use super::{Limit, RateLimits, SWEEP_EVERY, retry_after_secs, spawn_sweeper};
    use crate::config::RateLimitConfig;

    fn limits(trusted: &[&str], per_minute: u32) -> RateLimits {
        RateLimits::new(&RateLimitConfig {
            auth_per_minute: NonZeroU32::new(per_minute).unwrap(),
            api_per_minute: NonZeroU32::new(per_minute).unwrap(),
            max_clients: 100,
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            enabled: true,
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_entry_left_of_every_trusted_proxy() {
        let limits = limits(&["127.0.0.1", "10.0.0.0/8"], 10);
        let client = |peer: &str, forwarded: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
            limits.client_ip(ip(peer), &headers).to_string()
        };
        // Two proxies of ours: the edge appended the client, the inner one the edge.
        assert_eq!(client("127.0.0.1", "203.0.113.9, 10.1.2.3"), "203.0.113.9");
        assert_eq!(client("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3"), "203.0.113.9");
        // Only proxies of ours in the header: the leftmost of them.
        assert_eq!(client("127.0.0.1", "10.1.2.3"), "10.1.2.3");
        // Garbage left of our proxies stops the walk there.
        assert_eq!(client("127.0.0.1", "not-an-ip, 10.1.2.3"), "10.1.2.3");
        // A peer that is no proxy of ours: its header is not believed.
        assert_eq!(client("198.51.100.1", "203.0.113.9"), "198.51.100.1");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::from_millis(5_200)), 6);
        assert_eq!(retry_after_secs(Duration::from_secs(6)), 6);
        assert_eq!(retry_after_secs(Duration::from_millis(300)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    /// Tokio's clock is paused (the sweeper's minute passes at once); governor's is real.
    #[tokio::test(start_paused = true)]
    async fn the_sweeper_drops_the_buckets_back_at_full_capacity_every_minute() {
        // 60,000 a minute: one request's cell is back within a few milliseconds.
        let limits = Arc::new(limits(&[], 60_000));
        limits.check(Limit::Api, ip("203.0.113.9")).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        spawn_sweeper(&limits);

        tokio::time::sleep(SWEEP_EVERY / 2).await;
        assert_eq!(limits.tracked(Limit::Api), 1, "not before a minute");
        tokio::time::sleep(SWEEP_EVERY).await;
        assert_eq!(limits.tracked(Limit::Api), 0, "the full bucket is dropped");
    }
}
