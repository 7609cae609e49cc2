//! Validated text values: slugs, bounded strings, e-mail addresses and redirect URLs.

use serde::{Deserialize, Serialize};

use crate::error::{invalid, ValidationError};

/// A link's URL path segment: `[a-z0-9-]`, 3–64 characters, no leading, trailing or
/// doubled hyphen.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str, param: &str) -> Result<Self, ValidationError> {
        let ok = (3..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "slug_invalid",
                param,
                "`slug` must be 3–64 characters of a-z, 0-9 and single hyphens, not starting or ending with a hyphen",
            ))
        }
    }

    /// A readable random slug derived from a title: `summer-sale-7k2m9x`.
    pub fn generate(title: &str) -> Self {
        let mut base = String::new();
        for c in title.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                base.push(c);
            } else if !base.ends_with('-') && !base.is_empty() {
                base.push('-');
            }
            if base.len() >= 40 {
                break;
            }
        }
        let base = base.trim_matches('-');
        let suffix: String = crate::id::random_base62()
            .to_ascii_lowercase()
            .chars()
            .take(8)
            .collect();
        if base.is_empty() {
            Self(format!("pay-{suffix}"))
        } else {
            Self(format!("{base}-{suffix}"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
}

/// Checks a string's length in characters, trimmed of nothing: what the client sent is
/// what is stored.
pub fn bounded(value: &str, param: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(invalid(
            param,
            format!("`{param}` must be {min}–{max} characters long (got {n})"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(
            param,
            format!("`{param}` must not contain control characters"),
        ));
    }
    Ok(())
}

/// Same as [`bounded`] for an optional field.
pub fn bounded_opt(
    value: Option<&str>,
    param: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    value.map_or(Ok(()), |v| bounded(v, param, min, max))
}

/// What [`bounded`] allows: no control character but tab, line feed and carriage return.
/// The OpenAPI document writes it beside each field's bounds.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// What [`email`] allows, as a regular expression (with `maxLength` 254).
pub const EMAIL_PATTERN: &str = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@.\s\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@.\s\u0000-\u001F\u007F-\u009F]$";

/// What [`https_url`] allows, as a regular expression (with `maxLength` 2048).
pub const HTTPS_URL_PATTERN: &str =
    r"^https://[^/?#\s\u0000-\u001F\u007F-\u009F][^\s\u0000-\u001F\u007F-\u009F]*$";

/// The schema of a string of `min..=max` characters matching `pattern`.
pub fn schema(min: usize, max: usize, pattern: &str) -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .build()
}

/// A telephone number as customers' `phone` takes it.
pub const PHONE_PATTERN: &str = r"^[0-9 +\-().]{3,32}$";

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain, ≤ 254
/// characters.
pub fn email(value: &str, param: &str) -> Result<(), ValidationError> {
    let ok = value.chars().count() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "email_invalid",
            param,
            format!("`{param}` is not a valid e-mail address"),
        ))
    }
}

/// An absolute `https` URL of at most 2048 characters (images, logos).
pub fn https_url(value: &str, param: &str) -> Result<(), ValidationError> {
    let ok = value.chars().count() <= 2048
        && value.strip_prefix("https://").is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "url_invalid",
            param,
            format!("`{param}` must be an absolute https URL"),
        ))
    }
}

/// The host of an `http(s)` URL, lower-cased, without port or credentials. `None` when the
/// URL is not of that shape.
pub fn url_host(value: &str) -> Option<(&'static str, String)> {
    let (scheme, rest) = if let Some(r) = value.strip_prefix("https://") {
        ("https", r)
    } else if let Some(r) = value.strip_prefix("http://") {
        ("http", r)
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        format!("[{}]", v6.split(']').next()?)
    } else {
        authority.split(':').next()?.to_owned()
    };
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    valid.then(|| (scheme, host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn re(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    proptest! {
        // The patterns the document shows say what the checks accept (lengths aside).
        #[test]
        fn patterns_say_what_checks_accept(
            s in r"(https://)?[a-z.@/ \t\u{0}\u{85}\u{2003}\u{1F}é?#-]{0,12}",
        ) {
            prop_assert_eq!(re(TEXT_PATTERN).is_match(&s), bounded(&s, "x", 0, 100).is_ok(), "{:?}", s);
            prop_assert_eq!(re(EMAIL_PATTERN).is_match(&s), email(&s, "x").is_ok(), "{:?}", s);
            prop_assert_eq!(re(HTTPS_URL_PATTERN).is_match(&s), https_url(&s, "x").is_ok(), "{:?}", s);
        }
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("summer-sale-2026", "slug").is_ok());
        for bad in [
            "ab",
            "Summer",
            "a_b",
            "-abc",
            "abc-",
            "a--b",
            "caf\u{e9}",
            &"a".repeat(65),
        ] {
            assert!(Slug::parse(bad, "slug").is_err(), "{bad}");
        }
        let g = Slug::generate("Summer Sale! 50% off");
        assert!(
            g.as_str().starts_with("summer-sale-50-off-"),
            "{}",
            g.as_str()
        );
        assert!(Slug::parse(g.as_str(), "slug").is_ok());
        assert!(Slug::parse(Slug::generate("!!!").as_str(), "slug").is_ok());
        assert!(Slug::parse(Slug::generate(&"long title ".repeat(20)).as_str(), "slug").is_ok());
    }

    #[test]
    fn hosts() {
        assert_eq!(
            url_host("https://Shop.Example.com:8443/x?y"),
            Some(("https", "shop.example.com".into()))
        );
        assert_eq!(
            url_host("http://localhost:3000/ok"),
            Some(("http", "localhost".into()))
        );
        assert_eq!(url_host("https://user@evil.com/"), None);
        assert_eq!(url_host("javascript:alert(1)"), None);
        assert_eq!(url_host("https:///nohost"), None);
    }

    #[test]
    fn emails() {
        assert!(email("a@b.co", "email").is_ok());
        for bad in ["", "a", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@.co"] {
            assert!(email(bad, "email").is_err(), "{bad}");
        }
    }
}
