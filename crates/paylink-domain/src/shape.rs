//! Which fields go with which link type: one set of rules, checked twice. Once on the
//! request as it arrives ([`LinkRequest::check`]), before any product or order is looked
//! up, and once on the link it made (`PaymentLink::validate`), with the same wording.

use crate::error::invalid;
use crate::link::LinkType;
use crate::ValidationError;

/// The most lines a link of its own lines may have (a storefront lists up to
/// [`MAX_STOREFRONT_LINES`] products).
pub const MAX_LINES: usize = 20;
/// The most products a storefront (`all_products`) lists.
pub const MAX_STOREFRONT_LINES: usize = 100;

/// `parameter_required` unless `present`: a `{t}` link needs `{what}` (a rule across
/// fields, so not `parameter_missing`, which the document's `required` says).
pub fn needs(t: LinkType, present: bool, param: &str, what: &str) -> Result<(), ValidationError> {
    if present {
        return Ok(());
    }
    Err(ValidationError::new(
        "parameter_required",
        param,
        format!("a `{}` link needs `{what}`", t.as_str()),
    ))
}

/// `parameters_exclusive` if `present`: `{param}` is not allowed on a `{t}` link.
pub fn forbids(t: LinkType, present: bool, param: &str) -> Result<(), ValidationError> {
    if !present {
        return Ok(());
    }
    Err(exclusive(
        param,
        format!("`{param}` is not allowed on a `{}` link", t.as_str()),
    ))
}

/// `parameters_exclusive`: `param` does not go with another field given.
pub fn exclusive(param: &str, message: impl Into<String>) -> ValidationError {
    ValidationError::new("parameters_exclusive", param, message)
}

/// The pricing fields a link request gives, before they are resolved.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkRequest {
    pub kind: Option<LinkType>,
    pub amount: bool,
    pub currency_options: bool,
    /// How many `line_items` were given, if any.
    pub line_items: Option<usize>,
    pub all_products: bool,
    pub donation: bool,
    pub order_id: bool,
}

impl LinkRequest {
    /// The rules of the request's shape. The resolved link is checked again as a whole.
    pub fn check(&self) -> Result<(), ValidationError> {
        let t = self.kind.unwrap_or(LinkType::Custom);
        let lines = self.line_items.is_some();
        if self.currency_options && !self.amount {
            return Err(ValidationError::new(
                "parameter_required",
                "currency_options",
                "`currency_options` goes with `amount`; lines take `line_items[].currency_options`",
            ));
        }
        if self.amount && lines {
            return Err(exclusive(
                "amount",
                "give `amount` or `line_items`, not both",
            ));
        }
        forbids(t, self.donation && t != LinkType::Donation, "donation")?;
        forbids(t, self.order_id && t != LinkType::Order, "order_id")?;
        forbids(
            t,
            self.all_products && t != LinkType::Products,
            "all_products",
        )?;
        if self.all_products && (lines || self.amount) {
            return Err(exclusive(
                "line_items",
                "give `all_products` or `line_items`, not both",
            ));
        }
        match t {
            LinkType::Order => {
                needs(t, self.order_id, "order_id", "order_id")?;
                forbids(t, lines, "line_items")?;
                forbids(t, self.amount, "amount")
            }
            LinkType::Donation => {
                forbids(t, lines, "line_items")?;
                forbids(t, self.amount, "amount")?;
                needs(t, self.donation, "donation", "donation")
            }
            _ => max_lines(self.line_items.unwrap_or(0), self.all_products),
        }
    }
}

/// At most [`MAX_LINES`] lines ([`MAX_STOREFRONT_LINES`] for a storefront).
pub fn max_lines(n: usize, storefront: bool) -> Result<(), ValidationError> {
    let max = if storefront {
        MAX_STOREFRONT_LINES
    } else {
        MAX_LINES
    };
    if n > max {
        return Err(invalid(
            "line_items",
            format!("a link can have at most {max} line items"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(r: LinkRequest) -> Option<(&'static str, String)> {
        r.check()
            .err()
            .map(|e| (e.code, e.param.unwrap_or_default()))
    }

    #[test]
    fn each_type_takes_its_own_fields() {
        let custom = LinkRequest {
            kind: Some(LinkType::Custom),
            ..Default::default()
        };
        assert_eq!(
            check(LinkRequest {
                amount: true,
                ..custom
            }),
            None
        );
        assert_eq!(
            check(LinkRequest {
                amount: true,
                line_items: Some(1),
                ..custom
            }),
            Some(("parameters_exclusive", "amount".into()))
        );
        assert_eq!(
            check(LinkRequest {
                line_items: Some(21),
                ..custom
            }),
            Some(("parameter_invalid", "line_items".into()))
        );
        assert_eq!(
            check(LinkRequest {
                donation: true,
                ..custom
            }),
            Some(("parameters_exclusive", "donation".into()))
        );
        let order = LinkRequest {
            kind: Some(LinkType::Order),
            ..Default::default()
        };
        assert_eq!(
            check(order),
            Some(("parameter_required", "order_id".into()))
        );
        assert_eq!(
            check(LinkRequest {
                order_id: true,
                amount: true,
                ..order
            }),
            Some(("parameters_exclusive", "amount".into()))
        );
        let donation = LinkRequest {
            kind: Some(LinkType::Donation),
            ..Default::default()
        };
        assert_eq!(
            check(donation),
            Some(("parameter_required", "donation".into()))
        );
        assert_eq!(
            check(LinkRequest {
                donation: true,
                line_items: Some(1),
                ..donation
            }),
            Some(("parameters_exclusive", "line_items".into()))
        );
        assert_eq!(
            check(LinkRequest {
                kind: Some(LinkType::Products),
                all_products: true,
                line_items: Some(2),
                ..Default::default()
            }),
            Some(("parameters_exclusive", "line_items".into()))
        );
    }
}
