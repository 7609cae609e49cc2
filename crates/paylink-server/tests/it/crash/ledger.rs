//! The processor's ledger as the tests read it: with their own few lines of parsing, not
//! the processor's, so that a count of charges owes nothing to our code. A line is the
//! idempotency key (`{session}:{attempt}`), the outcome, the reference, then the card.

use std::io::{Read, Seek, SeekFrom};

pub(super) struct Charge {
    pub key: String,
    pub session: String,
    /// `succeeded`, `declined` or `requires_action`.
    pub kind: String,
    pub reference: String,
}

fn parse(text: &str) -> Vec<Charge> {
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let (session, _attempt) = f[0].rsplit_once(':').unwrap();
            Charge {
                key: f[0].to_owned(),
                session: session.to_owned(),
                kind: f[1].to_owned(),
                reference: f[2].to_owned(),
            }
        })
        .collect()
}

/// Every line.
pub(super) fn read(path: &str) -> Vec<Charge> {
    since(path, 0).0
}

/// The lines written past byte `from`, and where they end.
pub(super) fn since(path: &str, from: u64) -> (Vec<Charge>, u64) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return (Vec::new(), from);
    };
    f.seek(SeekFrom::Start(from)).unwrap();
    let mut new = String::new();
    f.read_to_string(&mut new).unwrap();
    // A line being written is read next time.
    let complete = new.rfind('\n').map_or(0, |i| i + 1);
    (parse(&new[..complete]), from + complete as u64)
}
