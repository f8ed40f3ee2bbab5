//! Real parts for the balancer tests: app servers and a HAProxy before them.

pub mod app;
pub mod load_balancer;
