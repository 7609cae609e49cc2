//! The rules a link must satisfy: [`PaymentLink::validate`], called on the whole link on
//! create and after every update, so one place holds every rule across fields.

use std::collections::HashSet;

use super::*;
use crate::error::{inconsistent, invalid, ValidationError};
use crate::shape::{forbids, max_lines, needs};
use crate::text::{bounded, bounded_opt, email, https_url, url_host};

impl PaymentLink {
    /// Every rule a link must satisfy, on create and after every update.
    pub fn validate(&self, rules: &LinkRules<'_>) -> Result<(), ValidationError> {
        bounded(&self.title, "title", 3, 100)?;
        bounded_opt(self.description.as_deref(), "description", 0, 500)?;
        if let Some(u) = &self.image_url {
            https_url(u, "image_url")?;
        }
        bounded_opt(
            self.confirmation_message.as_deref(),
            "confirmation_message",
            1,
            500,
        )?;
        bounded_opt(self.inactive_message.as_deref(), "inactive_message", 1, 500)?;
        bounded_opt(self.reference_id.as_deref(), "reference_id", 1, 200)?;
        self.validate_shape()?;
        self.validate_lines()?;
        self.validate_amounts(rules.settings)?;
        self.validate_limits()?;
        self.validate_custom_fields()?;
        self.validate_payment_methods()?;
        for (param, url) in [
            ("success_url", &self.success_url),
            ("cancel_url", &self.cancel_url),
        ] {
            if let Some(u) = url {
                validate_redirect_url(u, param, rules.settings, self.livemode)?;
            }
        }
        if let Some(p) = &self.prefill {
            if let Some(e) = &p.email {
                email(e, "prefill.email")?;
            }
            bounded_opt(p.name.as_deref(), "prefill.name", 1, 100)?;
        }
        Ok(())
    }

    /// Which fields go with which type (the rules of [`crate::shape`]).
    fn validate_shape(&self) -> Result<(), ValidationError> {
        let t = self.kind;
        forbids(
            t,
            self.donation.is_some() && t != LinkType::Donation,
            "donation",
        )?;
        // A donation may recur: the amount the donor chose is charged every period.
        forbids(
            t,
            self.subscription.is_some()
                && !matches!(t, LinkType::Subscription | LinkType::Donation),
            "subscription",
        )?;
        forbids(
            t,
            self.order_id.is_some() && t != LinkType::Order,
            "order_id",
        )?;
        forbids(
            t,
            self.all_products && t != LinkType::Products,
            "all_products",
        )?;
        let lines = !self.line_items.is_empty();
        match t {
            LinkType::Products => needs(t, lines, "line_items", "line_items or all_products"),
            LinkType::Custom => needs(t, lines, "line_items", "line_items or amount"),
            LinkType::Donation => {
                forbids(t, lines, "line_items")?;
                needs(t, self.donation.is_some(), "donation", "donation")
            }
            LinkType::Subscription => {
                needs(
                    t,
                    self.subscription.is_some(),
                    "subscription",
                    "subscription",
                )?;
                needs(t, lines, "line_items", "line_items or amount")
            }
            LinkType::Order => {
                needs(t, self.order_id.is_some(), "order_id", "order_id")?;
                if self.payments_limit != Some(1) {
                    return Err(ValidationError::new(
                        "invalid_payments_limit_for_order_link",
                        "payments_limit",
                        "an order link must have `payments_limit` 1",
                    ));
                }
                Ok(())
            }
        }
    }

    fn validate_lines(&self) -> Result<(), ValidationError> {
        max_lines(self.line_items.len(), self.all_products)?;
        for (i, l) in self.line_items.iter().enumerate() {
            let p = format!("line_items[{i}]");
            bounded(&l.name, &format!("{p}.name"), 1, 250)?;
            validate_currency_options(
                &l.currency_options,
                self.currency,
                &format!("{p}.currency_options"),
            )?;
            // Custom lines offer the same currencies, so that forgetting one line's price
            // is an error rather than a currency silently not offered; products offer what
            // they have, and a link the currencies all its products share.
            let custom = self.line_items.iter().all(|l| l.product_id.is_none());
            let first = self.line_items.first().map(|f| f.currency_options.keys());
            if custom && first.is_some_and(|f| !f.eq(l.currency_options.keys())) {
                return Err(inconsistent(
                    format!("{p}.currency_options"),
                    "every line must offer the same other currencies",
                ));
            }
            if self.kind == LinkType::Products && l.product_id.is_none() {
                return Err(ValidationError::new(
                    "parameter_required",
                    format!("{p}.product_id"),
                    "`product_id` is required",
                ));
            }
            let (min, max) = match l.adjustable_quantity {
                Some(a) if a.enabled => {
                    if a.maximum == 0 || a.maximum > MAX_QUANTITY || a.minimum > MAX_QUANTITY {
                        return Err(invalid(
                            format!("{p}.adjustable_quantity"),
                            format!("`adjustable_quantity` needs 0 ≤ minimum ≤ maximum, 1 ≤ maximum ≤ {MAX_QUANTITY}"),
                        ));
                    }
                    if a.minimum > a.maximum {
                        return Err(inconsistent(
                            format!("{p}.adjustable_quantity"),
                            format!("`adjustable_quantity` needs 0 ≤ minimum ≤ maximum, 1 ≤ maximum ≤ {MAX_QUANTITY}"),
                        ));
                    }
                    (a.minimum, a.maximum)
                }
                _ => (1, MAX_QUANTITY),
            };
            if l.quantity < min || l.quantity > max {
                return Err(ValidationError::new(
                    "quantity_invalid",
                    format!("{p}.quantity"),
                    format!("`quantity` must be between {min} and {max}"),
                ));
            }
        }
        Ok(())
    }

    fn validate_amounts(&self, settings: &MerchantSettings) -> Result<(), ValidationError> {
        if self.donation.is_some() || self.order_id.is_some() {
            if let Some(i) = self
                .line_items
                .iter()
                .position(|l| !l.currency_options.is_empty())
            {
                return Err(inconsistent(
                    format!("line_items[{i}].currency_options"),
                    "this link's amount cannot be offered in other currencies",
                ));
            }
        }
        // Every other currency within the merchant's bounds for it, as the base is.
        for code in self.offered_currencies().keys() {
            if let Some(c) = Currency::parse(code).and_then(|c| self.in_currency(c)) {
                c.validate_amounts_in_base(settings).map_err(|mut e| {
                    e.param = Some(format!("currency_options.{code}"));
                    e
                })?;
            }
        }
        self.validate_amounts_in_base(settings)
    }

    fn validate_amounts_in_base(&self, settings: &MerchantSettings) -> Result<(), ValidationError> {
        let bounds = settings.bounds(self.currency);
        let out_of_bounds = |param: &str| {
            ValidationError::new(
                "amount_out_of_bounds",
                param,
                format!(
                    "the amount must be between {} and {}",
                    self.currency.format(bounds.minimum),
                    self.currency.format(bounds.maximum)
                ),
            )
        };
        if let Some(d) = &self.donation {
            if d.minimum > d.maximum {
                return Err(inconsistent(
                    "donation.minimum",
                    "`donation.minimum` must not exceed `donation.maximum`",
                ));
            }
            if d.minimum < bounds.minimum {
                return Err(out_of_bounds("donation.minimum"));
            }
            if d.maximum > bounds.maximum {
                return Err(out_of_bounds("donation.maximum"));
            }
            if d.preset_amounts.len() > 5 {
                return Err(invalid(
                    "donation.preset_amounts",
                    "at most 5 preset amounts",
                ));
            }
            let mut seen = HashSet::new();
            for (i, a) in d.preset_amounts.iter().enumerate() {
                if *a < d.minimum || *a > d.maximum || !seen.insert(*a) {
                    return Err(inconsistent(
                        format!("donation.preset_amounts[{i}]"),
                        "preset amounts must be distinct and within the donation's minimum and maximum",
                    ));
                }
            }
            if let Some(a) = d.default_amount {
                if a < d.minimum || a > d.maximum {
                    return Err(inconsistent(
                        "donation.default_amount",
                        "`default_amount` must be within minimum and maximum",
                    ));
                }
            }
            return Ok(());
        }
        let totals = self.default_totals().ok_or_else(|| {
            ValidationError::new(
                "amount_too_large",
                "line_items",
                "the link's total overflows the largest amount",
            )
        })?;
        // A cart whose default is empty (every line at quantity 0) is checked at checkout.
        let all_optional = self.line_items.iter().all(|l| l.quantity == 0);
        if all_optional && totals.amount_total == Amount::ZERO {
            return Ok(());
        }
        if totals.amount_total < bounds.minimum || totals.amount_total > bounds.maximum {
            return Err(out_of_bounds(if self.line_items.len() == 1 {
                "line_items[0].unit_amount"
            } else {
                "line_items"
            }));
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ValidationError> {
        if let Some(l) = self.payments_limit {
            if !(1..=1_000_000).contains(&l) {
                return Err(invalid(
                    "payments_limit",
                    "`payments_limit` must be between 1 and 1000000, or null",
                ));
            }
            if l < self.payments_count {
                return Err(ValidationError::new(
                    "payments_limit_below_count",
                    "payments_limit",
                    format!(
                        "`payments_limit` cannot go below the {} payments already made",
                        self.payments_count
                    ),
                ));
            }
        }
        if let (Some(o), Some(e)) = (self.opens_at, self.expires_at) {
            if o >= e {
                return Err(inconsistent(
                    "opens_at",
                    "`opens_at` must be before `expires_at`",
                ));
            }
        }
        if let Some(s) = &self.subscription {
            let max = SubscriptionTerms::max_count(s.interval);
            if s.interval_count < 1 || s.interval_count > SubscriptionTerms::MAX_COUNT {
                return Err(invalid(
                    "subscription.interval_count",
                    format!("`interval_count` must be between 1 and {max} for this interval (36 months' worth)"),
                ));
            }
            if s.interval_count > max {
                return Err(inconsistent(
                    "subscription.interval_count",
                    format!("`interval_count` must be between 1 and {max} for this interval (36 months' worth)"),
                ));
            }
            if s.trial_period_days > 730 {
                return Err(invalid(
                    "subscription.trial_period_days",
                    "`trial_period_days` must be between 0 and 730",
                ));
            }
        }
        Ok(())
    }

    fn validate_custom_fields(&self) -> Result<(), ValidationError> {
        if self.custom_fields.len() > 5 {
            return Err(invalid(
                "custom_fields",
                "a link can have at most 5 custom fields",
            ));
        }
        let mut keys = HashSet::new();
        for (i, f) in self.custom_fields.iter().enumerate() {
            let p = format!("custom_fields[{i}]");
            let key_ok = (1..=200).contains(&f.key.len())
                && f.key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !key_ok {
                return Err(invalid(
                    format!("{p}.key"),
                    "`key` must be 1–200 characters of A-Z, a-z, 0-9 and _",
                ));
            }
            if !keys.insert(f.key.as_str()) {
                return Err(inconsistent(
                    format!("{p}.key"),
                    "custom field keys must be unique",
                ));
            }
            bounded(&f.label, &format!("{p}.label"), 1, 50)?;
            match f.kind {
                CustomFieldType::Dropdown => {
                    if f.options.is_empty() || f.options.len() > 200 {
                        return Err(inconsistent(
                            format!("{p}.options"),
                            "a dropdown needs 1–200 options",
                        ));
                    }
                    let mut values = HashSet::new();
                    for (j, o) in f.options.iter().enumerate() {
                        bounded(&o.label, &format!("{p}.options[{j}].label"), 1, 100)?;
                        bounded(&o.value, &format!("{p}.options[{j}].value"), 1, 100)?;
                        if !values.insert(o.value.as_str()) {
                            return Err(inconsistent(
                                format!("{p}.options[{j}].value"),
                                "option values must be unique",
                            ));
                        }
                    }
                }
                _ if !f.options.is_empty() => {
                    return Err(inconsistent(
                        format!("{p}.options"),
                        "only dropdown fields take options",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn validate_payment_methods(&self) -> Result<(), ValidationError> {
        let unique: HashSet<_> = self.payment_method_types.iter().collect();
        if self.payment_method_types.is_empty() {
            return Err(invalid(
                "payment_method_types",
                "`payment_method_types` must list card and/or wallet, once each",
            ));
        }
        if unique.len() != self.payment_method_types.len() {
            return Err(inconsistent(
                "payment_method_types",
                "`payment_method_types` must list card and/or wallet, once each",
            ));
        }
        // Renewals charge a card kept for them; a wallet payment cannot be kept.
        if self.subscription.is_some()
            && !self.payment_method_types.contains(&PaymentMethodType::Card)
        {
            return Err(inconsistent(
                "payment_method_types",
                "A recurring link must take cards: renewals charge the card saved at checkout",
            ));
        }
        Ok(())
    }
}

/// A redirect target: https (or `http://localhost` in test mode), on the merchant's
/// allowlist when it has one. `{CHECKOUT_SESSION_ID}` may appear anywhere after the host.
pub fn validate_redirect_url(
    url: &str,
    param: &str,
    settings: &MerchantSettings,
    livemode: bool,
) -> Result<(), ValidationError> {
    let err =
        |why: &str| ValidationError::new("invalid_redirect_url", param, format!("`{param}` {why}"));
    if url.len() > 2048 {
        return Err(err("must be at most 2048 characters"));
    }
    let (scheme, host) = url_host(url).ok_or_else(|| err("must be an absolute https URL"))?;
    let local = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" => {}
        "http" if local && !livemode => return Ok(()),
        _ => {
            return Err(err(
                "must use https (http://localhost is allowed in test mode)",
            ))
        }
    }
    if local && !livemode {
        return Ok(());
    }
    let allowed = settings.redirect_allowlist.is_empty()
        || settings
            .redirect_allowlist
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host));
    if allowed {
        Ok(())
    } else {
        Err(err(&format!(
            "points to `{host}`, which is not on the redirect allowlist in settings"
        )))
    }
}
