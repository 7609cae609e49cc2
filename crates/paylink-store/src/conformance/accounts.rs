//! People: users unique by e-mail whatever its case, memberships and the last owner,
//! sessions that end (idle, absolute, logout, password change, removal), invitations and
//! resets used once, and the audit log with its filters and cursor.

use paylink_domain::access::Role;
use paylink_domain::time::Timestamp;

use super::fixtures::both;
use super::*;
use super::{merchant, page};

fn person(email: &str, now: Timestamp) -> User {
    User {
        id: UserId::generate(),
        email: email.to_owned(),
        name: "Pat".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: None,
        created_at: now,
        last_login_at: None,
    }
}

fn session(u: &User, m: &MerchantId, hash: &str, now: Timestamp) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate(),
        token_hash: hash.to_owned(),
        user_id: u.id.clone(),
        merchant_id: m.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_seconds(SESSION_MAX_SECS),
        user_agent: Some("test".into()),
        ip: Some("127.0.0.1".into()),
    }
}

pub async fn users_sessions_and_team(store: &dyn Store) {
    let now = Timestamp::now();
    let m = merchant("Teamwork");
    store.create_merchant(&m, &[]).await.unwrap();
    let owner = person("Owner@Teamwork.example", now);
    store
        .create_user(&owner, Some((&m.id, Role::Owner)))
        .await
        .unwrap();
    // Unique whatever the case, and found whatever the case.
    assert!(matches!(
        store
            .create_user(&person("owner@teamwork.EXAMPLE", now), None)
            .await,
        Err(StoreError::Conflict(Conflict::DuplicateObject))
    ));
    let found = store
        .find_user_by_email("OWNER@teamwork.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, owner.id);
    assert_eq!(found.email, "owner@teamwork.example");
    assert_eq!(store.get_user(&owner.id).await.unwrap().id, owner.id);
    assert!(store
        .find_user_by_email("nobody@x.example")
        .await
        .unwrap()
        .is_none());
    let ms = store.memberships(&owner.id).await.unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(
        (ms[0].role, ms[0].merchant_name.as_str()),
        (Role::Owner, "Teamwork")
    );

    // The last owner can be neither demoted nor removed.
    assert!(matches!(
        store
            .set_role(&m.id, &owner.id, Role::Owner, Role::Admin)
            .await,
        Err(StoreError::Conflict(Conflict::LastOwner))
    ));
    assert!(matches!(
        store.remove_member(&m.id, &owner.id, Role::Owner).await,
        Err(StoreError::Conflict(Conflict::LastOwner))
    ));

    // Sessions: found by hash while alive, marked seen, ended.
    let s = session(&owner, &m.id, "hash-session-1", now);
    store.create_session(&s).await.unwrap();
    let signed = store
        .touch_session("hash-session-1", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (signed.user.id.clone(), signed.role),
        (owner.id.clone(), Role::Owner)
    );
    assert_eq!(
        store.get_user(&owner.id).await.unwrap().last_login_at,
        Some(now)
    );
    // Idle past 12 hours, or past its end: gone.
    let later = now.plus_seconds(SESSION_IDLE_SECS + 1);
    assert!(store
        .touch_session("hash-session-1", later)
        .await
        .unwrap()
        .is_none());
    let end = now.plus_seconds(SESSION_MAX_SECS + 1);
    assert!(store
        .touch_session("hash-session-1", end)
        .await
        .unwrap()
        .is_none());
    // Seen an hour on, it lives 12 hours from then.
    let hour = now.plus_seconds(3600);
    assert!(store
        .touch_session("hash-session-1", hour)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .touch_session("hash-session-1", later)
        .await
        .unwrap()
        .is_some());

    let s2 = session(&owner, &m.id, "hash-session-2", now);
    store.create_session(&s2).await.unwrap();
    let listed = store.list_sessions(&owner.id, now).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, s2.id, "newest first");
    // Signing in past the cap ends the oldest sessions; ended ones are removed.
    let loops = merchant("Loops");
    store.create_merchant(&loops, &[]).await.unwrap();
    let loop_user = person("loop@teamwork.example", now);
    store
        .create_user(&loop_user, Some((&loops.id, Role::Viewer)))
        .await
        .unwrap();
    let mut ended = session(&loop_user, &loops.id, "hash-loop-ended", now);
    ended.expires_at = now.plus_seconds(1);
    store.create_session(&ended).await.unwrap();
    let later_on = now.plus_seconds(2);
    for i in 0..=SESSIONS_PER_USER {
        let s = session(&loop_user, &loops.id, &format!("hash-loop-{i}"), later_on);
        store.create_session(&s).await.unwrap();
    }
    let listed = store.list_sessions(&loop_user.id, later_on).await.unwrap();
    assert_eq!(listed.len(), SESSIONS_PER_USER);
    assert!(store
        .touch_session("hash-loop-0", later_on)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .touch_session("hash-loop-1", later_on)
        .await
        .unwrap()
        .is_some());

    // A second member; a session of theirs is nobody else's to end.
    let dev = person("dev@teamwork.example", now);
    store
        .create_user(&dev, Some((&m.id, Role::Developer)))
        .await
        .unwrap();
    let sd = session(&dev, &m.id, "hash-session-dev", now);
    store.create_session(&sd).await.unwrap();
    assert!(matches!(
        store.end_session(&owner.id, &sd.id).await,
        Err(StoreError::NotFound)
    ));
    store.end_session(&owner.id, &s2.id).await.unwrap();
    assert!(store
        .touch_session("hash-session-2", now)
        .await
        .unwrap()
        .is_none());

    // A password change ends every session but the one kept.
    let s3 = session(&owner, &m.id, "hash-session-3", now);
    store.create_session(&s3).await.unwrap();
    store
        .set_password(&owner.id, "$argon2id$new", Some(&s.id))
        .await
        .unwrap();
    assert!(store
        .touch_session("hash-session-3", now)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .touch_session("hash-session-1", now)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.get_user(&owner.id).await.unwrap().password_hash,
        "$argon2id$new"
    );

    // Roles: promoting the developer makes two owners; then the first may step down.
    // A change judged by a role the member no longer has lands nowhere.
    assert!(matches!(
        store
            .set_role(&m.id, &dev.id, Role::Viewer, Role::Owner)
            .await,
        Err(StoreError::Conflict(Conflict::ConcurrentUpdate))
    ));
    assert!(matches!(
        store.remove_member(&m.id, &dev.id, Role::Viewer).await,
        Err(StoreError::Conflict(Conflict::ConcurrentUpdate))
    ));
    let promoted = store
        .set_role(&m.id, &dev.id, Role::Developer, Role::Owner)
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Owner);
    store
        .set_role(&m.id, &owner.id, Role::Owner, Role::Viewer)
        .await
        .unwrap();
    let members = store.list_members(&m.id).await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].1.role, Role::Viewer);
    // Removing a member ends their sessions on the merchant.
    store
        .remove_member(&m.id, &owner.id, Role::Viewer)
        .await
        .unwrap();
    assert!(store
        .touch_session("hash-session-1", now)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.remove_member(&m.id, &owner.id, Role::Viewer).await,
        Err(StoreError::NotFound)
    ));
    // Two owners demoting each other at once: one stays.
    store
        .set_role(&m.id, &dev.id, Role::Owner, Role::Owner)
        .await
        .unwrap();
    let third = person("third@teamwork.example", now);
    store
        .create_user(&third, Some((&m.id, Role::Owner)))
        .await
        .unwrap();
    let (a, b) = both(
        store.set_role(&m.id, &dev.id, Role::Owner, Role::Admin),
        store.set_role(&m.id, &third.id, Role::Owner, Role::Admin),
    )
    .await;
    assert!(a.is_ok() != b.is_ok(), "exactly one demotion: {a:?} {b:?}");
    let owners = store
        .list_members(&m.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, ms)| ms.role == Role::Owner)
        .count();
    assert_eq!(owners, 1);

    // A second factor: the sealed secret kept, recovery codes used once each.
    store
        .set_totp(&dev.id, Some("enc1:sealed"), &["h1".into(), "h2".into()])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_user(&dev.id)
            .await
            .unwrap()
            .totp_secret
            .as_deref(),
        Some("enc1:sealed")
    );
    let (a, b) = both(
        store.use_recovery_code(&dev.id, "h1"),
        store.use_recovery_code(&dev.id, "h1"),
    )
    .await;
    assert!(a.unwrap() != b.unwrap(), "a recovery code is used once");
    assert!(!store.use_recovery_code(&dev.id, "h3").await.unwrap());
    // A TOTP step is taken once, and none before it after it.
    assert!(store.use_totp_step(&dev.id, 1_000).await.unwrap());
    assert!(!store.use_totp_step(&dev.id, 1_000).await.unwrap());
    assert!(!store.use_totp_step(&dev.id, 999).await.unwrap());
    let (a, b) = both(
        store.use_totp_step(&dev.id, 1_001),
        store.use_totp_step(&dev.id, 1_001),
    )
    .await;
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(),
        1,
        "one of two racing sign-ins with one code"
    );
    assert!(store.use_recovery_code(&dev.id, "h2").await.unwrap());
    store.set_totp(&dev.id, None, &[]).await.unwrap();
    assert!(store.get_user(&dev.id).await.unwrap().totp_secret.is_none());

    invitations_and_resets(store, &m, &dev, now).await;
    audit_log(store, &m, &dev, now).await;
}

async fn invitations_and_resets(store: &dyn Store, m: &Merchant, by: &User, now: Timestamp) {
    let inv = Invitation {
        id: InvitationId::generate(),
        merchant_id: m.id.clone(),
        email: "New@Teamwork.example".into(),
        role: Role::Support,
        token_hash: "hash-invite-1".into(),
        invited_by: Some(by.id.clone()),
        created_at: now,
        expires_at: now.plus_seconds(INVITATION_SECS),
        accepted_at: None,
        revoked_at: None,
    };
    store.create_invitation(&inv).await.unwrap();
    let listed = store.list_invitations(&m.id, now).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].email, "new@teamwork.example");
    assert_eq!(
        store.get_invitation(&m.id, &inv.id).await.unwrap().role,
        Role::Support
    );
    let other = merchant("Elsewhere");
    store.create_merchant(&other, &[]).await.unwrap();
    assert!(matches!(
        store.get_invitation(&other.id, &inv.id).await,
        Err(StoreError::NotFound)
    ));
    // Expired: not found, not acceptable.
    let late = now.plus_seconds(INVITATION_SECS + 1);
    assert!(store
        .find_invitation("hash-invite-1", late)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_invitation("hash-invite-1", now)
        .await
        .unwrap()
        .is_some());
    let newcomer = person("new@teamwork.example", now);
    assert!(matches!(
        store
            .accept_invitation("hash-invite-1", &Invitee::New(newcomer.clone()), late)
            .await,
        Err(StoreError::NotFound)
    ));
    // Two accepts racing: one member.
    let twin = person("new@teamwork.example", now);
    let (a, b) = both(
        store.accept_invitation("hash-invite-1", &Invitee::New(newcomer.clone()), now),
        store.accept_invitation("hash-invite-1", &Invitee::New(twin), now),
    )
    .await;
    assert!(a.is_ok() != b.is_ok(), "used once: {a:?} {b:?}");
    let joined = a.or(b).unwrap();
    assert_eq!(joined.role, Role::Support);
    assert!(store.list_invitations(&m.id, now).await.unwrap().is_empty());
    // An existing user accepts another merchant's invitation.
    let inv2 = Invitation {
        id: InvitationId::generate(),
        merchant_id: other.id.clone(),
        token_hash: "hash-invite-2".into(),
        ..inv.clone()
    };
    store.create_invitation(&inv2).await.unwrap();
    store
        .revoke_invitation(&other.id, &inv2.id, now)
        .await
        .unwrap();
    assert!(matches!(
        store.revoke_invitation(&other.id, &inv2.id, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .accept_invitation("hash-invite-2", &Invitee::Existing(by.id.clone()), now)
            .await,
        Err(StoreError::NotFound)
    ));
    let inv3 = Invitation {
        id: InvitationId::generate(),
        merchant_id: other.id.clone(),
        token_hash: "hash-invite-3".into(),
        ..inv
    };
    store.create_invitation(&inv3).await.unwrap();
    store
        .accept_invitation("hash-invite-3", &Invitee::Existing(by.id.clone()), now)
        .await
        .unwrap();
    assert_eq!(store.memberships(&by.id).await.unwrap().len(), 2);

    // A reset: once, within the hour, ending every session.
    let s = session(by, &m.id, "hash-session-reset", now);
    store.create_session(&s).await.unwrap();
    for (hash, at) in [("hash-reset-1", now), ("hash-reset-2", now)] {
        store
            .create_reset(&PasswordReset {
                token_hash: hash.into(),
                user_id: by.id.clone(),
                created_at: at,
                expires_at: at.plus_seconds(RESET_SECS),
            })
            .await
            .unwrap();
    }
    let late = now.plus_seconds(RESET_SECS + 1);
    assert_eq!(
        store.find_reset("hash-reset-1", now).await.unwrap(),
        Some(by.id.clone())
    );
    assert_eq!(store.find_reset("hash-reset-1", late).await.unwrap(), None);
    assert_eq!(store.find_reset("hash-unknown", now).await.unwrap(), None);
    assert!(matches!(
        store.use_reset("hash-reset-1", "h", late).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .use_reset("hash-reset-1", "$argon2id$reset", now)
            .await
            .unwrap(),
        by.id
    );
    assert!(matches!(
        store.use_reset("hash-reset-1", "h", now).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.find_reset("hash-reset-1", now).await.unwrap(), None);
    // The other reset of the user went with it.
    assert!(matches!(
        store.use_reset("hash-reset-2", "h", now).await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .touch_session("hash-session-reset", now)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.get_user(&by.id).await.unwrap().password_hash,
        "$argon2id$reset"
    );
}

async fn audit_log(store: &dyn Store, m: &Merchant, by: &User, now: Timestamp) {
    let entry = |actor: Actor, action: &str, at: Timestamp| AuditEntry {
        id: AuditEntryId::generate(),
        merchant_id: m.id.clone(),
        actor,
        action: action.into(),
        object_id: Some("prod_x".into()),
        ip: Some("127.0.0.1".into()),
        user_agent: None,
        created_at: at,
    };
    let mut entries = Vec::new();
    for i in 0..5 {
        entries.push(entry(
            Actor::User(by.id.to_string()),
            "user.login",
            now.plus_seconds(i),
        ));
    }
    entries.push(entry(
        Actor::ApiKey("key_x".into()),
        "api.post",
        now.plus_seconds(10),
    ));
    entries.push(entry(
        Actor::Anonymous,
        "user.login_failed",
        now.plus_seconds(11),
    ));
    store.append_audit(&entries).await.unwrap();
    let all = store
        .list_audit(&m.id, &AuditFilter::default(), &page(100))
        .await
        .unwrap();
    assert_eq!(all.data.len(), 7);
    assert_eq!(all.data[0].actor, Actor::Anonymous, "newest first");
    let by_actor = AuditFilter {
        actor_id: Some("key_x".into()),
        ..Default::default()
    };
    let l = store.list_audit(&m.id, &by_actor, &page(10)).await.unwrap();
    assert_eq!(l.data.len(), 1);
    assert_eq!(l.data[0].action, "api.post");
    let logins = AuditFilter {
        action: Some("user.login".into()),
        created: Created {
            gte: Some(now.plus_seconds(1)),
            lte: Some(now.plus_seconds(3)),
        },
        ..Default::default()
    };
    let l = store.list_audit(&m.id, &logins, &page(2)).await.unwrap();
    assert_eq!(l.data.len(), 2);
    assert!(l.has_more);
    let next = Page {
        starting_after: Some(l.data[1].id.to_string()),
        ..page(2)
    };
    let l2 = store.list_audit(&m.id, &logins, &next).await.unwrap();
    assert_eq!(l2.data.len(), 1);
    assert!(!l2.has_more);
    let back = Page {
        ending_before: Some(l2.data[0].id.to_string()),
        ..page(5)
    };
    assert_eq!(
        store
            .list_audit(&m.id, &logins, &back)
            .await
            .unwrap()
            .data
            .len(),
        2
    );
    // Another merchant's cursor or entries: none of this merchant's business.
    let other = merchant("Auditless");
    store.create_merchant(&other, &[]).await.unwrap();
    assert!(store
        .list_audit(&other.id, &AuditFilter::default(), &page(10))
        .await
        .unwrap()
        .data
        .is_empty());
    assert!(matches!(
        store
            .list_audit(&other.id, &AuditFilter::default(), &next)
            .await,
        Err(StoreError::InvalidCursor)
    ));
}
