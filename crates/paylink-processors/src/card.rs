//! Card numbers: the Luhn check and brand detection by prefix.

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    DinersClub,
    UnionPay,
    Unknown,
}

impl CardBrand {
    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::Jcb => "jcb",
            CardBrand::DinersClub => "diners",
            CardBrand::UnionPay => "unionpay",
            CardBrand::Unknown => "unknown",
        }
    }

    /// The brand [`CardBrand::as_str`] names.
    pub fn parse(name: &str) -> Option<Self> {
        [
            CardBrand::Visa,
            CardBrand::Mastercard,
            CardBrand::Amex,
            CardBrand::Discover,
            CardBrand::Jcb,
            CardBrand::DinersClub,
            CardBrand::UnionPay,
            CardBrand::Unknown,
        ]
        .into_iter()
        .find(|b| b.as_str() == name)
    }

    pub fn detect(digits: &str) -> Self {
        let p2: u32 = digits.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let p4: u32 = digits.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
        match () {
            _ if digits.starts_with('4') => CardBrand::Visa,
            _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => CardBrand::Mastercard,
            _ if p2 == 34 || p2 == 37 => CardBrand::Amex,
            _ if digits.starts_with("6011")
                || digits.starts_with("65")
                || (644..=649).contains(&(p4 / 10)) =>
            {
                CardBrand::Discover
            }
            _ if (3528..=3589).contains(&p4) => CardBrand::Jcb,
            _ if p2 == 36 || p2 == 38 || (300..=305).contains(&(p4 / 10)) => CardBrand::DinersClub,
            _ if p2 == 62 => CardBrand::UnionPay,
            _ => CardBrand::Unknown,
        }
    }
}

/// The digits of a card number as typed (spaces and dashes allowed), if it has 12–19 of them.
pub fn digits(number: &SecretString) -> Option<String> {
    let raw = number.expose_secret();
    if !raw
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return None;
    }
    let d: String = raw.chars().filter(char::is_ascii_digit).collect();
    (12..=19).contains(&d.len()).then_some(d)
}

/// Whether a digit string passes the Luhn checksum.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let Some(d) = (c as char).to_digit(10) else {
            return false;
        };
        let d = if i % 2 == 1 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_brands() {
        for ok in [
            "4242424242424242",
            "4000000000000002",
            "5555555555554444",
            "378282246310005",
            "4000056655665556",
        ] {
            assert!(luhn_valid(ok), "{ok}");
        }
        assert!(!luhn_valid("4242424242424241"));
        assert_eq!(CardBrand::detect("4242424242424242"), CardBrand::Visa);
        assert_eq!(CardBrand::detect("5555555555554444"), CardBrand::Mastercard);
        assert_eq!(CardBrand::detect("2223003122003222"), CardBrand::Mastercard);
        assert_eq!(CardBrand::detect("378282246310005"), CardBrand::Amex);
        assert_eq!(CardBrand::detect("6011111111111117"), CardBrand::Discover);
        assert_eq!(CardBrand::detect("3566002020360505"), CardBrand::Jcb);
        assert_eq!(
            digits(&SecretString::from("4242 4242-4242 4242")).as_deref(),
            Some("4242424242424242")
        );
        assert!(digits(&SecretString::from("4242abcd")).is_none());
    }
}
