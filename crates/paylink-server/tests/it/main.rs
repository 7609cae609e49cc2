//! Integration tests: the real server on 127.0.0.1, real HTTP, a fresh database per test,
//! every test run on SQLite and on PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod helpers;
mod hygiene;

mod account_pages;
mod accounts;
mod api_keys;
mod bad_input;
mod behind_nginx;
mod browser;
mod catalog;
mod checkout;
mod cli;
mod concurrency;
mod cookies;
mod crash;
mod currencies;
mod dashboard;
mod dashboard_day;
mod dashboard_forms;
mod dashboard_home;
mod dashboard_link_forms;
mod dashboard_people;
mod dashboard_settings;
mod dashboard_subscriptions;
mod deploy;
mod edge;
mod email;
mod errors;
mod fields;
mod idempotency;
mod limits;
mod links;
mod locales;
mod look;
mod openapi;
mod orders;
mod pages;
mod path_ids;
mod pay_out;
mod pricing;
mod proxies;
mod qr;
mod roles;
mod security;
mod settings;
mod shared_limits;
mod stripe;
mod stripe_peer;
mod subscription_pages;
mod subscription_reliability;
mod subscriptions;
mod team;
mod tenancy;
mod totp;
mod webhooks;
mod worker;
