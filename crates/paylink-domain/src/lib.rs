//! The heart of Paylink: money, currencies, tax, ids and the payment-link rules.
//!
//! Nothing in this crate performs I/O. Requests are parsed at the edge into the newtypes
//! defined here, so the rest of the system never handles a raw amount, currency or slug.

pub mod access;
pub mod catalog;
pub mod checkout;
pub mod email;
pub mod error;
pub mod event;
pub mod id;
pub mod link;
pub mod metadata;
pub mod money;
pub mod patch;
pub mod pattern;
pub mod prices;
pub mod settings;
pub mod shape;
pub mod states;
pub mod subscription;
pub mod tax;
pub mod text;
pub mod time;
pub mod webhook;

pub use error::ValidationError;
pub use money::{Amount, Currency};
