//! Webhooks: signing (Standard Webhooks), the SSRF guard, and delivery.

pub mod deliver;
pub mod sign;
pub mod ssrf;
