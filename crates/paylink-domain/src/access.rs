//! Who may do what: the scopes every route declares, the roles people hold in a merchant,
//! and the one function that decides for keys and people alike ([`Grant::allows`]).
//!
//! The contract's role table maps onto the scopes restricted keys already carry:
//!
//! | role | read everything | links, catalog, orders, customers | refunds, resend | keys, webhooks | settings | team |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | owner | yes | yes | yes | yes | yes | yes (incl. owners) |
//! | admin | yes | yes | yes | yes | yes | yes (not owners) |
//! | developer | yes | yes | no | yes | no | no |
//! | support | yes | no | yes | no | no | no |
//! | viewer | yes | no | no | no | no | no |
//!
//! "Read everything" is every `…:read` scope but the audit log's, which the contract gives
//! to owners and admins only.

use serde::{Deserialize, Serialize};

/// Every scope a restricted key can carry. `X:write` implies `X:read`.
pub const KEY_SCOPES: &[&str] = &[
    "payment_links:read",
    "payment_links:write",
    "products:read",
    "products:write",
    "customers:read",
    "customers:write",
    "tax_rates:read",
    "tax_rates:write",
    "orders:read",
    "orders:write",
    "payments:read",
    // Acting on a payment outside refunds: e-mailing its receipt to an address.
    "payments:write",
    "refunds:write",
    "subscriptions:read",
    // Cancelling subscriptions, and in test mode moving their test clocks.
    "subscriptions:write",
    "events:read",
    "webhooks:read",
    "webhooks:write",
    "settings:read",
    "settings:write",
];

/// Scopes only secret keys and people hold: a restricted key can never be given them.
pub const ACCOUNT_SCOPES: &[&str] = &[
    // Listing and managing API keys: a restricted key never mints or revokes keys.
    "api_keys:read",
    "api_keys:write",
    "team:read",
    // Inviting, changing and removing members who are not owners.
    "team:write",
    // Making, changing and removing owners.
    "team:owners",
    "audit_log:read",
];

/// A member's role in a merchant.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Developer,
    Support,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Developer,
        Role::Support,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Support => "support",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the role may make the `write` half of `area` (`payment_links`, `team`, …).
    fn writes(self, area: &str) -> bool {
        use Role::*;
        match area {
            "payment_links" | "products" | "customers" | "tax_rates" | "orders" => {
                matches!(self, Owner | Admin | Developer)
            }
            "refunds" | "payments" => matches!(self, Owner | Admin | Support),
            // Support cancels for customers; developers run test clocks.
            "subscriptions" => matches!(self, Owner | Admin | Support | Developer),
            "api_keys" | "webhooks" => matches!(self, Owner | Admin | Developer),
            "settings" | "team" => matches!(self, Owner | Admin),
            _ => false,
        }
    }

    /// Whether the role holds `scope`.
    pub fn holds(self, scope: &str) -> bool {
        match scope {
            "audit_log:read" => matches!(self, Role::Owner | Role::Admin),
            "team:owners" => self == Role::Owner,
            s => match s.split_once(':') {
                Some((_, "read")) => true,
                Some((area, "write")) => self.writes(area),
                _ => false,
            },
        }
    }

    /// Whether a member of this role may give, change or take away `other`: owners only
    /// for owners, `team:write` for everyone else.
    pub fn manages(self, other: Role) -> bool {
        if other == Role::Owner {
            self.holds("team:owners")
        } else {
            self.holds("team:write")
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a caller was granted: the one input to every permission decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// A secret key: every scope.
    SecretKey,
    /// A restricted key with its scopes (`X:write` implies `X:read`).
    Restricted(Vec<String>),
    /// A person signed in, with their role in the merchant they act for.
    Member(Role),
}

impl Grant {
    /// Whether the caller may do what `scope` guards.
    pub fn allows(&self, scope: &str) -> bool {
        match self {
            // Owners are people's to make and unmake: a key, leaked or not, never is one.
            Grant::SecretKey => scope != "team:owners",
            Grant::Restricted(scopes) => {
                if ACCOUNT_SCOPES.contains(&scope) {
                    return false;
                }
                let write = scope.strip_suffix(":read").map(|r| format!("{r}:write"));
                scopes
                    .iter()
                    .any(|s| s == scope || Some(s) == write.as_ref())
            }
            Grant::Member(role) => role.holds(scope),
        }
    }

    /// Whether every scope `other` holds is one this caller holds too: a key is never
    /// minted stronger than whoever mints it.
    pub fn covers(&self, other: &Grant) -> bool {
        KEY_SCOPES
            .iter()
            .chain(ACCOUNT_SCOPES)
            .all(|s| !other.allows(s) || self.allows(s))
    }

    /// Whether the caller may give, change or take away the role `other` (a secret key acts
    /// as an admin; a restricted key manages nobody).
    pub fn manages(&self, other: Role) -> bool {
        match self {
            Grant::SecretKey => other != Role::Owner,
            Grant::Restricted(_) => false,
            Grant::Member(role) => role.manages(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn the_contract_table() {
        let rows: [(Role, [bool; 6]); 5] = [
            (Owner, [true, true, true, true, true, true]),
            (Admin, [true, true, true, true, true, true]),
            (Developer, [true, true, false, true, false, false]),
            (Support, [true, false, true, false, false, false]),
            (Viewer, [true, false, false, false, false, false]),
        ];
        for (role, cols) in rows {
            let read = KEY_SCOPES
                .iter()
                .chain(["api_keys:read", "team:read"].iter())
                .filter(|s| s.ends_with(":read"))
                .all(|s| role.holds(s));
            let edit = [
                "payment_links:write",
                "products:write",
                "customers:write",
                "tax_rates:write",
                "orders:write",
            ]
            .iter()
            .all(|s| role.holds(s));
            let refunds = role.holds("refunds:write") && role.holds("payments:write");
            let keys = role.holds("api_keys:write") && role.holds("webhooks:write");
            let settings = role.holds("settings:write");
            let team = role.holds("team:write");
            assert_eq!([read, edit, refunds, keys, settings, team], cols, "{role}");
        }
        assert!(Owner.manages(Owner) && !Admin.manages(Owner) && Admin.manages(Admin));
        assert!(!Developer.manages(Viewer));
        assert!(Owner.holds("audit_log:read") && !Developer.holds("audit_log:read"));
    }

    #[test]
    fn restricted_keys_never_hold_account_scopes() {
        let all: Vec<String> = KEY_SCOPES
            .iter()
            .chain(ACCOUNT_SCOPES)
            .map(|s| s.to_string())
            .collect();
        let g = Grant::Restricted(all);
        assert!(ACCOUNT_SCOPES.iter().all(|s| !g.allows(s)));
        let g = Grant::Restricted(vec!["products:write".into()]);
        assert!(g.allows("products:read") && !g.allows("orders:read"));
        assert!(!Grant::SecretKey.allows("team:owners"));
        assert!(!Grant::SecretKey.manages(Owner) && Grant::SecretKey.manages(Admin));
    }

    #[test]
    fn nobody_mints_a_key_stronger_than_themselves() {
        let secret = Grant::SecretKey;
        let refunds = Grant::Restricted(vec!["refunds:write".into()]);
        let links = Grant::Restricted(vec!["payment_links:write".into()]);
        // Owners and admins hold everything a secret key does; nobody else.
        for role in Role::ALL {
            let m = Grant::Member(role);
            assert_eq!(m.covers(&secret), matches!(role, Owner | Admin), "{role}");
            assert_eq!(m.covers(&refunds), role.holds("refunds:write"), "{role}");
            assert_eq!(
                m.covers(&links),
                role.holds("payment_links:write"),
                "{role}"
            );
        }
        assert!(secret.covers(&refunds) && secret.covers(&secret));
        assert!(!links.covers(&refunds) && links.covers(&links));
        // Write implies read: a key reading links is within one writing them.
        assert!(links.covers(&Grant::Restricted(vec!["payment_links:read".into()])));
    }
}
