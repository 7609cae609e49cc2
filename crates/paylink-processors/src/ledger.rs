//! The simulated processor's own records, when it is given a file: one line per charge
//! outcome, appended before the processor answers and read back by every process that
//! uses the file. A real processor's records outlive a merchant's server killed in the
//! middle of a call, and every instance of that server talks to the same processor; with
//! a ledger the simulated one does both, and a test can count charges without asking our
//! database.
//!
//! A line is tab-separated: the idempotency key, `succeeded`, `declined` or
//! `requires_action`, the charge's reference (or the decline code), then the card's brand,
//! last 4 and expiry month and year (`-` for a wallet). A key's last line is its outcome: a
//! 3-D Secure charge has a second line when it settles.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::card::CardBrand;
use crate::{CardSummary, ChargeOutcome};

/// The decline codes the simulated processor gives, so a line read back names one of them.
const DECLINE_CODES: [&str; 5] = [
    "card_declined",
    "insufficient_funds",
    "expired_card",
    "hsa_fsa_ineligible",
    "authentication_failed",
];

pub(crate) struct Ledger {
    path: PathBuf,
    append: File,
    /// How far this process has read the file (complete lines only).
    read_to: u64,
}

impl Ledger {
    /// Opens (or creates) the file; [`Ledger::catch_up`] then reads what is already there.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let append = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            append,
            read_to: 0,
        })
    }

    /// Reads the lines appended since the last call (by this process or another) into
    /// `charges`.
    pub(crate) fn catch_up(
        &mut self,
        charges: &mut HashMap<String, ChargeOutcome>,
    ) -> io::Result<()> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.read_to))?;
        let mut new = Vec::new();
        f.read_to_end(&mut new)?;
        // A line another process is still writing is read next time.
        let complete = new.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let text = String::from_utf8_lossy(new.get(..complete).unwrap_or_default());
        for line in text.lines() {
            if let Some((key, outcome)) = parse(line) {
                charges.insert(key.to_owned(), outcome);
            }
        }
        self.read_to += complete as u64;
        Ok(())
    }

    /// Appends an outcome in one write, before the processor answers.
    pub(crate) fn record(&mut self, key: &str, outcome: &ChargeOutcome) -> io::Result<()> {
        if key.contains(['\t', '\n', '\r']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an idempotency key with a tab or a line break",
            ));
        }
        // Written to the kernel, which keeps it through a `kill -9` of this process; not
        // synced to the disk, which only a power cut would need.
        self.append.write_all(line(key, outcome).as_bytes())?;
        self.append.flush()
    }
}

fn line(key: &str, outcome: &ChargeOutcome) -> String {
    let (kind, reference, card) = match outcome {
        ChargeOutcome::Succeeded { reference, card } => ("succeeded", reference.as_str(), card),
        ChargeOutcome::Declined { code, card } => ("declined", *code, card),
        ChargeOutcome::RequiresAction { reference, card } => {
            ("requires_action", reference.as_str(), card)
        }
    };
    let card = match card {
        Some(c) => format!(
            "{}\t{}\t{}\t{}",
            c.brand.as_str(),
            c.last4,
            c.exp_month,
            c.exp_year
        ),
        None => "-\t-\t-\t-".to_owned(),
    };
    format!("{key}\t{kind}\t{reference}\t{card}\n")
}

fn parse(line: &str) -> Option<(&str, ChargeOutcome)> {
    let f: Vec<&str> = line.split('\t').collect();
    let [key, kind, reference, brand, last4, month, year] = f.as_slice() else {
        return None;
    };
    let card = match *brand {
        "-" => None,
        b => Some(CardSummary {
            brand: CardBrand::parse(b)?,
            last4: (*last4).to_owned(),
            exp_month: month.parse().ok()?,
            exp_year: year.parse().ok()?,
        }),
    };
    let reference = (*reference).to_owned();
    let outcome = match *kind {
        "succeeded" => ChargeOutcome::Succeeded { reference, card },
        "requires_action" => ChargeOutcome::RequiresAction { reference, card },
        "declined" => ChargeOutcome::Declined {
            code: DECLINE_CODES.into_iter().find(|c| *c == reference)?,
            card,
        },
        _ => return None,
    };
    Some((key, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_as_written() {
        let card = Some(CardSummary {
            brand: CardBrand::Mastercard,
            last4: "4444".into(),
            exp_month: 3,
            exp_year: 2031,
        });
        for outcome in [
            ChargeOutcome::Succeeded {
                reference: "ch_sim_1".into(),
                card: card.clone(),
            },
            ChargeOutcome::Succeeded {
                reference: "ch_sim_2".into(),
                card: None,
            },
            ChargeOutcome::Declined {
                code: "insufficient_funds",
                card: card.clone(),
            },
            ChargeOutcome::RequiresAction {
                reference: "ch_sim3ds_1".into(),
                card,
            },
        ] {
            let l = line("cs_1:2", &outcome);
            assert_eq!(
                parse(l.trim_end_matches('\n')),
                Some(("cs_1:2", outcome)),
                "{l}"
            );
        }
        assert_eq!(parse("cs_1:1\tdeclined\tnot_a_code\t-\t-\t-\t-"), None);
        assert_eq!(parse("cs_1:1\tsucceeded"), None);
    }
}
