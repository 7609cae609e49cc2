//! The SQL guards of the checkout's state machines, derived from the domain's rules
//! ([`AttemptState`]): the store decides nothing about which transitions exist, its
//! conditional `UPDATE`s only make each one atomic. The conformance story checks that a
//! transition the domain refuses is refused by the store (`attempts` part).

use std::sync::LazyLock;

use paylink_domain::states::AttemptState;

/// `(attempt_status IS NULL OR attempt_status IN (…))`: the attempt is in a state `pred`
/// allows.
fn attempt_in(pred: fn(AttemptState) -> bool) -> String {
    let states: Vec<AttemptState> = AttemptState::ALL.into_iter().filter(|s| pred(*s)).collect();
    let named: Vec<String> = states
        .iter()
        .filter_map(|s| s.as_stored())
        .map(|s| format!("'{s}'"))
        .collect();
    let mut any = Vec::new();
    if states.contains(&AttemptState::Idle) {
        any.push("attempt_status IS NULL".to_owned());
    }
    if !named.is_empty() {
        any.push(format!("attempt_status IN ({})", named.join(", ")));
    }
    if any.is_empty() {
        return " AND FALSE".into();
    }
    format!(" AND ({})", any.join(" OR "))
}

/// ` AND …`: a new attempt may begin.
pub(crate) static MAY_BEGIN: LazyLock<String> =
    LazyLock::new(|| attempt_in(AttemptState::may_begin));
/// ` AND …`: the session may be ended.
pub(crate) static MAY_END: LazyLock<String> = LazyLock::new(|| attempt_in(AttemptState::may_end));
/// ` AND …`: the attempt may wait for the customer.
pub(crate) static MAY_REQUIRE_ACTION: LazyLock<String> =
    LazyLock::new(|| attempt_in(AttemptState::may_require_action));
/// ` AND …`: the attempt may resume after the customer's action.
pub(crate) static MAY_RESUME_ACTION: LazyLock<String> =
    LazyLock::new(|| attempt_in(AttemptState::may_resume_action));
/// ` AND …`: nobody has begun paying (the one-statement claim of [`crate::checkout`]).
pub(crate) static IDLE: LazyLock<String> =
    LazyLock::new(|| attempt_in(|s| s == AttemptState::Idle));
/// ` AND …`: a charge is under way.
pub(crate) static PROCESSING: LazyLock<String> =
    LazyLock::new(|| attempt_in(|s| s == AttemptState::Processing));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_read_as_the_rules_say() {
        assert_eq!(
            *MAY_BEGIN,
            " AND (attempt_status IS NULL OR attempt_status IN ('requires_action'))"
        );
        assert_eq!(*PROCESSING, " AND (attempt_status IN ('processing'))");
        assert_eq!(*IDLE, " AND (attempt_status IS NULL)");
    }
}
