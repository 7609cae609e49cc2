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

impl Email {
    /// A payment's receipt as written with the payment: who it goes to and which payment
    /// it is, with no subject or body yet. It is composed from the payment when it is sent
    /// or listed ([`Email::is_composed`]), so a purchase writes a few dozen bytes instead
    /// of the message.
    pub fn receipt_of(
        payment: &crate::checkout::Payment,
        to: &str,
        status: EmailStatus,
        now: Timestamp,
    ) -> Self {
        Self {
            id: EmailId::generate(),
            kind: RECEIPT.into(),
            related_id: payment.id.to_string(),
            to: to.to_owned(),
            subject: String::new(),
            text_body: String::new(),
            html_body: String::new(),
            qr_url: None,
            status,
            attempts: 0,
            last_error: None,
            livemode: payment.livemode,
            created_at: now,
        }
    }

    /// Whether the message has its subject and body ([`Email::receipt_of`] leaves them to
    /// be composed).
    pub fn is_composed(&self) -> bool {
        !(self.kind == RECEIPT && self.subject.is_empty())
    }
}

/// The `kind` of a payment's receipt.
pub const RECEIPT: &str = "receipt";
