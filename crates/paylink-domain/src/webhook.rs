//! Webhook endpoints: where a merchant hears about its events.

use serde::{Deserialize, Serialize};

use crate::id::WebhookEndpointId;
use crate::time::Timestamp;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Enabled,
    /// By the merchant, or automatically after failing for too long.
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
        }
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "webhook_endpoint")]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    /// Event type names, or `["*"]` for all.
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub status: EndpointStatus,
    pub livemode: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookEndpoint {
    /// The form the store matches event types against: `,a,b,` or `,*,`.
    pub fn events_key(&self) -> String {
        format!(",{},", self.enabled_events.join(","))
    }
}
