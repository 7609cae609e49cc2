//! The store and the domain agree on a payment attempt's state machine: from each state
//! ([`AttemptState::ALL`]), each transition the store offers takes effect exactly when the
//! domain's rule allows it. The store's SQL guards are derived from those rules; this is
//! the check that the database does what the rules say.

use paylink_domain::states::AttemptState;

use super::fixtures::*;
use super::{link, merchant};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 690_000_000;

#[derive(Clone, Copy, Debug)]
enum Transition {
    Begin,
    RequireAction,
    ResumeAction,
    End,
}

impl Transition {
    fn allowed(self, s: AttemptState) -> bool {
        match self {
            Transition::Begin => s.may_begin(),
            Transition::RequireAction => s.may_require_action(),
            Transition::ResumeAction => s.may_resume_action(),
            Transition::End => s.may_end(),
        }
    }
}

pub async fn attempt_rules(store: &dyn Store) {
    let m = merchant("AttemptRules");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = Tenant::of_merchant(&m, false);
    let l = link(&t, "Rules", "attempt-rules");
    store.insert_payment_link(&t, &l, &[], None).await.unwrap();
    let now = at(E + 10);
    // This process is alive: its attempts under way are not taken over.
    store.heartbeat(now).await.unwrap();
    let transitions = [
        Transition::Begin,
        Transition::RequireAction,
        Transition::ResumeAction,
        Transition::End,
    ];
    for from in AttemptState::ALL {
        for tr in transitions {
            let s = open(store, &t, &l, at(E), 600).await.unwrap();
            // Into `from`.
            let mut attempt_no = 0;
            if from != AttemptState::Idle {
                let AttemptClaim::Claimed { attempt_no: n } =
                    store.begin_attempt(&s.id, now, 3600).await.unwrap()
                else {
                    panic!("a fresh session's first attempt is claimed");
                };
                attempt_no = n;
            }
            if from == AttemptState::RequiresAction {
                store
                    .attempt_requires_action(&s.id, attempt_no, "3ds")
                    .await
                    .unwrap();
            }
            assert_eq!(store.get_checkout(&s.id).await.unwrap().attempt, from);
            // The transition, and whether it took effect.
            let took = match tr {
                Transition::Begin => matches!(
                    store.begin_attempt(&s.id, now, 3600).await.unwrap(),
                    AttemptClaim::Claimed { .. }
                ),
                Transition::RequireAction => {
                    store
                        .attempt_requires_action(&s.id, attempt_no, "3ds-again")
                        .await
                        .unwrap();
                    let rec = store.get_checkout(&s.id).await.unwrap();
                    rec.attempt_reference.as_deref() == Some("3ds-again")
                }
                Transition::ResumeAction => {
                    store.claim_action(&s.id, attempt_no, now).await.unwrap()
                }
                Transition::End => store.end_checkout(&t, &s.id, now).await.unwrap(),
            };
            assert_eq!(
                took,
                tr.allowed(from),
                "{tr:?} from {from:?}: the store and the domain disagree"
            );
        }
    }
}
