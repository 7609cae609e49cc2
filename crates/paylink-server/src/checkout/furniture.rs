//! What every hosted page stands in: security headers, the merchant's branding (`Shell`),
//! Markdown made safe, the 404 and 410 pages, moments written for the page's script, and
//! the static files.
//!
//! Server-rendered with askama (auto-escaped), usable without JavaScript, and served with a
//! strict Content-Security-Policy: no inline scripts, no third-party resources; the only
//! inline style is the merchant's brand colour, allowed by its hash.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;

use crate::error::ApiError;

// ---- page furniture ------------------------------------------------------------------

/// Security headers for every page; `style_hash` allows the brand colour's `<style>`.
pub(crate) fn secure(mut res: Response, style_hash: Option<&str>, livemode: bool) -> Response {
    let style = match style_hash {
        Some(h) => format!("style-src 'self' 'sha256-{h}'"),
        None => "style-src 'self'".to_owned(),
    };
    let forms = if livemode {
        "form-action 'self' https:"
    } else {
        "form-action 'self' https: http://localhost:* http://127.0.0.1:*"
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; {style}; img-src 'self' https: data:; {forms}; base-uri 'none'; frame-ancestors 'none'"
    );
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Dark text on a light `#rrggbb`, white on a dark one (WCAG 2's relative luminance): the
/// text colour of the merchant's buttons, here and in the dashboard's preview.
pub(crate) fn ink_on(color: &str) -> &'static str {
    let channel = |i: usize| {
        let v = u8::from_str_radix(color.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
        let v = f64::from(v) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let lum = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    if lum > 0.179 {
        "#16181d"
    } else {
        "#ffffff"
    }
}

/// The brand colour as CSS, with a readable text colour, and the CSP hash of that CSS.
pub(super) fn brand(settings: &MerchantSettings) -> (String, Option<String>) {
    let Some(c) = settings.brand_color.as_deref() else {
        return (String::new(), None);
    };
    let text = ink_on(c);
    let css = format!(":root{{--brand:{c};--brand-text:{text}}}");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()));
    (css, Some(hash))
}

/// What every hosted page shows around its content: the merchant's name, logo, colour and
/// contact, and the test-mode banner.
pub(crate) struct Shell {
    pub(crate) brand_css: String,
    style_hash: Option<String>,
    pub(crate) test_mode: bool,
    livemode: bool,
    pub(crate) merchant: String,
    pub(crate) logo_url: Option<String>,
    pub(crate) support_email: Option<String>,
}

impl Shell {
    /// A merchant's page in a mode.
    pub(crate) fn of(settings: &MerchantSettings, livemode: bool) -> Self {
        let (brand_css, style_hash) = brand(settings);
        Self {
            brand_css,
            style_hash,
            test_mode: !livemode,
            livemode,
            merchant: settings.business_name.clone(),
            logo_url: settings.logo_url.clone(),
            support_email: settings.support_email.clone(),
        }
    }

    /// A page of no merchant's (an unknown link or receipt).
    pub(crate) fn plain() -> Self {
        Self {
            brand_css: String::new(),
            style_hash: None,
            test_mode: false,
            livemode: true,
            merchant: String::new(),
            logo_url: None,
            support_email: None,
        }
    }

    /// The rendered page with the security headers it needs.
    pub(crate) fn respond(
        &self,
        status: StatusCode,
        body: Result<String, askama::Error>,
    ) -> Response {
        secure(
            html(status, body),
            self.style_hash.as_deref(),
            self.livemode,
        )
    }
}

pub(crate) fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(b) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            b,
        )
            .into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Markdown rendered safely: raw HTML is shown as text, and links keep only http(s) and
/// mailto targets.
pub fn markdown(text: &str) -> String {
    use pulldown_cmark::{Event, Parser, Tag};
    let events = Parser::new(text).map(|e| match e {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let ok = ["https://", "http://", "mailto:"]
                .iter()
                .any(|p| dest_url.to_ascii_lowercase().starts_with(p));
            let dest_url = if ok { dest_url } else { "#".into() };
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let ok = dest_url.to_ascii_lowercase().starts_with("https://");
            let dest_url = if ok { dest_url } else { "#".into() };
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// A description as one line of plain text for link previews (Markdown's marks dropped,
/// at most 200 characters).
pub(super) fn plain_summary(text: &str) -> String {
    use pulldown_cmark::{Event, Parser};
    let mut out = String::new();
    for ev in Parser::new(text) {
        match ev {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::End(_) => out.push(' '),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let one_line = words.join(" ");
    match one_line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", one_line[..at].trim_end()),
        None => one_line,
    }
}

#[derive(Template)]
#[template(path = "gone.html")]
struct GonePage {
    shell: Shell,
    heading: String,
    message: String,
}

/// A page that says why there is nothing to pay, in the merchant's colours with their
/// contact (or Paylink's plain ones, `Shell::plain`).
pub(crate) fn gone_page(
    status: StatusCode,
    shell: Shell,
    heading: &str,
    message: &str,
) -> Response {
    let page = GonePage {
        shell,
        heading: heading.to_owned(),
        message: message.to_owned(),
    };
    page.shell.respond(status, page.render())
}

pub(super) fn not_found_page() -> Response {
    gone_page(
        StatusCode::NOT_FOUND,
        Shell::plain(),
        "Payment link not found",
        "Check the address, or ask the seller for a new link.",
    )
}

/// A moment on a page: `<time datetime="{iso}">{text}</time>`, written in UTC by the server
/// and in the customer's own time zone and language by the page's script.
pub(crate) struct When {
    pub(crate) iso: String,
    pub(crate) text: String,
    /// Only the day matters (`data-date`: the script writes no time of day).
    pub(crate) date_only: bool,
}

impl When {
    pub(crate) fn of(t: Timestamp) -> Self {
        let iso = t.to_rfc3339();
        let text = iso.replace('T', " at ").replace('Z', " UTC");
        Self {
            iso,
            text,
            date_only: false,
        }
    }

    /// A day: `2027-01-31`, written as the customer's language writes dates by the script.
    pub(crate) fn date(t: Timestamp) -> Self {
        let iso = t.to_rfc3339();
        let text = iso.get(..10).unwrap_or_default().to_owned();
        Self {
            iso,
            text,
            date_only: true,
        }
    }
}

// ---- static files --------------------------------------------------------------------

pub async fn favicon() -> Response {
    static_file("image/svg+xml", include_str!("../../static/favicon.svg"))
}

/// Hosted pages may be indexed; checkouts in progress and receipts may not.
pub async fn robots() -> Response {
    static_file(
        "text/plain; charset=utf-8",
        "User-agent: *\nDisallow: /c/\nDisallow: /r/\nDisallow: /s/\nDisallow: /api/\nDisallow: /v1/\n",
    )
}

pub async fn stylesheet() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/paylink.css"),
    )
}

pub async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/checkout.js"),
    )
}

pub async fn stripe_script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/stripe-checkout.js"),
    )
}

/// The page's policy widened for Stripe.js, and only for it: its script and frames from
/// `stripe_js_url`'s origin (with Stripe's `hooks.stripe.com` for 3-D Secure when that is
/// Stripe's own), calls to `stripe_api_base`'s origin, and our own pay call.
pub(crate) fn allow_stripe(mut res: Response, js_url: &str, api_base: &str) -> Response {
    let (Some(js), Some(api)) = (
        crate::stripe::origin_of(js_url),
        crate::stripe::origin_of(api_base),
    ) else {
        return res;
    };
    // Stripe's own Stripe.js also loads from its subdomains and runs 3-D Secure from
    // hooks.stripe.com (Stripe's security guide); a fake's origin is all a fake needs.
    let (more, hooks) = if js == "https://js.stripe.com" {
        (" https://*.js.stripe.com", " https://hooks.stripe.com")
    } else {
        ("", "")
    };
    let h = res.headers_mut();
    let Some(csp) = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
    else {
        return res;
    };
    let csp = csp.replacen(
        "script-src 'self'",
        &format!("script-src 'self' {js}{more}"),
        1,
    ) + &format!("; frame-src {js}{more}{hooks}; connect-src 'self' {api}");
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

pub(crate) fn static_file(kind: &'static str, body: &'static str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, kind)], body).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_readable_on_the_colour() {
        use super::ink_on;
        assert_eq!(ink_on("#ffffff"), "#16181d");
        assert_eq!(ink_on("#f2b705"), "#16181d");
        assert_eq!(ink_on("#1f4fd1"), "#ffffff");
        assert_eq!(ink_on("#000000"), "#ffffff");
    }
}
