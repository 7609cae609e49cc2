//! Outgoing e-mail: what the outbox keeps for each message.

use serde::{Deserialize, Serialize};

use crate::id::EmailId;
use crate::time::Timestamp;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Waiting for the worker (or for a retry).
    Pending,
    Sent,
    /// Every attempt failed.
    Failed,
    /// No SMTP server is configured: kept here, not sent.
    Held,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Pending => "pending",
            EmailStatus::Sent => "sent",
            EmailStatus::Failed => "failed",
            EmailStatus::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => EmailStatus::Pending,
            "sent" => EmailStatus::Sent,
            "failed" => EmailStatus::Failed,
            "held" => EmailStatus::Held,
            _ => return None,
        })
    }
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "email")]
pub struct Email {
    pub id: EmailId,
    /// `payment_link` or `receipt`.
    pub kind: String,
    /// The link or payment the message is about.
    pub related_id: String,
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// Encoded as a QR code image inside the HTML part, when set.
    pub qr_url: Option<String>,
    pub status: EmailStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub livemode: bool,
    pub created_at: Timestamp,
}
