//! Delivery of webhook events (see below).
