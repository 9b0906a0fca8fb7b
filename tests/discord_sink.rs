//! The Discord sink (`chat::sink::DiscordSink`) under the notifier's drain over a real
//! sled outbox, posting through serenity's `Http` to the fake Discord API (which
//! de-duplicates nonces and enforces Discord's message limits): one post per item with
//! its outbox id as nonce, retries on 429/5xx/outage with nothing lost, 403 kept as a
//! failure naming the permission, a crash between send and mark re-sends without a
//! second message, rotation evidence and buttons, and a hostile finding within limits.

mod common;

use std::time::Duration;

use common::bot::{World, CROSS_PEM, NEW_ROOT, NEW_ROOT_PEM, OLD_ROOT_PEM, WAIT};
use common::discord::{Failure, Outage, APPROVER_ROLE_ID, CHANNEL_ID};
use serde_json::Value;
use time::OffsetDateTime;
use trustwatch::advisory::{Finding, FindingKind};
use trustwatch::chat::sink::DiscordSink;
use trustwatch::notify::{self, Backoff, Budget, Notice, Pass, Sink, DISCORD};
use trustwatch::store::{Delivery, Store};
use trustwatch::trust::{AnchorState, Fingerprint};

const MESSAGES: &str = "/api/v10/channels/";

fn finding(kind: FindingKind, title: &str) -> Finding {
    Finding {
        kind,
        vendor: "dten".into(),
        title: title.into(),
        url: format!("https://dten.example/security/{}", title.len()),
        published: Some(OffsetDateTime::now_utc() - time::Duration::hours(2)),
        fingerprints: Vec::new(),
        sha1_fingerprints: Vec::new(),
        certificates: Vec::new(),
        cves: vec!["CVE-2026-1234".into()],
        config_keys: Vec::new(),
        summary: "Update the firmware.".into(),
        names: Vec::new(),
    }
}

/// Record `f` for the Discord sink; the outbox id of its item.
fn enqueue(store: &Store, f: &Finding) -> String {
    let sinks = [DISCORD.to_owned()];
    assert!(store
        .record_finding(f, Delivery::To(&sinks), OffsetDateTime::now_utc())
        .unwrap());
    let items = store.outbox_pending(DISCORD, 100).unwrap();
    items.last().unwrap().id.clone()
}

fn posts(w: &World) -> Vec<Value> {
    let path = format!("{MESSAGES}{CHANNEL_ID}/messages");
    w.fake
        .requests_to("POST", &path)
        .iter()
        .filter_map(|r| r.json().cloned())
        .collect()
}

async fn drain(w: &World, sink: &DiscordSink, attempts: u32) -> notify::DrainReport {
    let budget = Budget {
        attempts,
        total: Duration::from_secs(30),
    };
    notify::drain_bounded(&w.store, sink, &notify::default_render(), budget)
        .await
        .unwrap()
}

/// Drain passes until one delivers (an item backed off becomes due again), or panic.
async fn deliver_eventually(w: &World, sink: &DiscordSink) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut backoff = Backoff::new();
    let render = notify::default_render();
    loop {
        if let Pass::Idle { delivered: 1.. } =
            notify::drain_pass(&w.store, sink, &render, &mut backoff)
                .await
                .unwrap()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never delivered: {:?}",
            w.store.outbox_pending(DISCORD, 10).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[track_caller]
fn delivered_once(w: &World, id: &str) {
    let created = w.fake.created_messages();
    assert_eq!(created.len(), 1, "{created:#?}");
    assert_eq!(created[0]["nonce"], id);
    assert!(w.store.outbox_pending(DISCORD, 10).unwrap().is_empty());
    assert_eq!(w.store.sink_summary(DISCORD).unwrap().delivered, 1);
    assert!(w.fake.rejected().is_empty(), "{:?}", w.fake.rejected());
}

#[tokio::test]
async fn a_finding_is_posted_once_with_its_outbox_id_as_enforced_nonce() {
    let w = World::new().await;
    let sink = w.sink();
    let id = enqueue(&w.store, &finding(FindingKind::Advisory, "Advisory SA-1"));
    let report = drain(&w, &sink, 1).await;
    assert_eq!((report.delivered, report.remaining), (1, 0));
    let sent = posts(&w);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["nonce"], id.as_str());
    assert_eq!(sent[0]["enforce_nonce"], true);
    assert!(sent[0]["embeds"].to_string().contains("Advisory SA-1"));
    assert!(sent[0]["allowed_mentions"]["parse"]
        .as_array()
        .is_none_or(Vec::is_empty));
    delivered_once(&w, &id);
    // Nothing is due any more: a second drain posts nothing.
    assert_eq!(drain(&w, &sink, 1).await.delivered, 0);
    assert_eq!(posts(&w).len(), 1);
}

#[tokio::test]
async fn rate_limited_then_accepted_is_delivered_once() {
    let w = World::new().await;
    let sink = w.sink();
    let id = enqueue(&w.store, &finding(FindingKind::Advisory, "Rate limited"));
    let limited = Failure::RateLimited {
        retry_after: 0.2,
        global: false,
    };
    w.fake.fail_next("POST", MESSAGES, 1, limited);
    let report = drain(&w, &sink, 3).await;
    assert_eq!((report.delivered, report.remaining), (1, 0), "{report:?}");
    assert_eq!(posts(&w).len(), 2, "one 429, one accepted");
    delivered_once(&w, &id);
}

#[tokio::test]
async fn server_errors_are_retried_until_accepted() {
    let w = World::new().await;
    let sink = w.sink();
    let id = enqueue(&w.store, &finding(FindingKind::Advisory, "Five hundred"));
    w.fake.fail_next("POST", MESSAGES, 1, Failure::Status(500));
    w.fake.fail_next("POST", MESSAGES, 1, Failure::Status(502));
    let report = drain(&w, &sink, 4).await;
    assert_eq!((report.delivered, report.remaining), (1, 0), "{report:?}");
    let sent = posts(&w);
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter().all(|p| p["nonce"] == id.as_str()),
        "same nonce each try"
    );
    delivered_once(&w, &id);
}

#[tokio::test]
async fn forbidden_is_permanent_and_kept_with_the_permission_to_grant() {
    let w = World::new().await;
    let sink = w.sink();
    let id = enqueue(&w.store, &finding(FindingKind::Advisory, "No access"));
    let forbidden = Failure::Json {
        status: 403,
        code: 50013,
        message: "Missing Permissions",
    };
    w.fake.fail_next("POST", MESSAGES, 1, forbidden);
    let report = drain(&w, &sink, 3).await;
    assert_eq!((report.delivered, report.remaining), (0, 1), "{report:?}");
    assert_eq!(
        posts(&w).len(),
        1,
        "a permanent refusal is not retried at once"
    );
    let kept = w.store.outbox_pending(DISCORD, 10).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].id, id);
    assert!(kept[0].failed);
    let why = kept[0].last_error.clone().unwrap();
    assert!(
        why.contains("403") && why.contains("Missing Permissions"),
        "{why}"
    );
    assert!(why.contains("Send Messages"), "names the permission: {why}");
    assert!(w.fake.created_messages().is_empty());
}

#[tokio::test]
async fn an_outage_loses_nothing_and_delivers_after_it() {
    let w = World::new().await;
    let sink = w.sink();
    let id = enqueue(&w.store, &finding(FindingKind::KeyRevocation, "Outage"));
    w.fake.go_down(Outage::Refused).await;
    let report = drain(&w, &sink, 1).await;
    assert_eq!((report.delivered, report.remaining), (0, 1), "{report:?}");
    let kept = w.store.outbox_pending(DISCORD, 10).unwrap();
    assert!(!kept[0].failed, "an outage is not the message's fault");
    assert!(kept[0].attempts >= 1);
    w.fake.come_up().await;
    deliver_eventually(&w, &sink).await;
    delivered_once(&w, &id);
    let posted = &w.fake.created_messages()[0];
    assert!(posted["content"]
        .as_str()
        .unwrap()
        .starts_with(&format!("<@&{APPROVER_ROLE_ID}>")));
}

#[tokio::test]
async fn a_crash_between_send_and_mark_resends_without_a_second_message() {
    let w = World::new().await;
    let sink = w.sink();
    let id = enqueue(&w.store, &finding(FindingKind::Advisory, "Crash"));
    let item = w.store.outbox_pending(DISCORD, 1).unwrap().remove(0);
    let notice = Notice {
        id: item.id.clone(),
        finding: item.finding.clone(),
        update: item.update,
        queued: item.queued,
    };
    let message = notify::render::finding(&notice);
    // Discord accepted it; trustwatch dies before marking it delivered.
    sink.deliver(&notice, &message).await.unwrap();
    assert_eq!(w.fake.created_messages().len(), 1);
    assert_eq!(w.store.outbox_pending(DISCORD, 10).unwrap().len(), 1);
    let report = drain(&w, &sink, 1).await;
    assert_eq!((report.delivered, report.remaining), (1, 0));
    let sent = posts(&w);
    assert_eq!(sent.len(), 2, "re-sent after the crash");
    assert!(sent.iter().all(|p| p["nonce"] == id.as_str()));
    delivered_once(&w, &id);
}

#[tokio::test]
async fn a_rotation_carries_the_evidence_and_decision_buttons() {
    let w = World::new().await;
    let sink = w.sink();
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    let new_root = w.add(NEW_ROOT_PEM, AnchorState::Candidate);
    let cross = w.add(CROSS_PEM, AnchorState::Candidate);
    let mut f = finding(FindingKind::CaRotation, "DTEN code-signing CA rotation");
    f.fingerprints = vec![new_root];
    f.certificates = vec![new_root, cross];
    let id = enqueue(&w.store, &f);
    assert_eq!(drain(&w, &sink, 1).await.delivered, 1);
    delivered_once(&w, &id);
    let m = &w.fake.created_messages()[0];
    let embeds = m["embeds"].to_string();
    for want in [
        "cross-signed by an approved anchor?",
        "yes: certified by approved",
        "announced on",
        "still approved",
        "notice age",
    ] {
        assert!(embeds.contains(want), "{want}: {embeds}");
    }
    let buttons = m["components"].to_string();
    assert!(
        buttons.contains(&format!("approve:{NEW_ROOT}")),
        "{buttons}"
    );
    assert!(
        buttons.contains(&format!("escalate:{NEW_ROOT}")),
        "{buttons}"
    );
    assert!(m["content"]
        .as_str()
        .unwrap()
        .starts_with(&format!("<@&{APPROVER_ROLE_ID}>")));
    let sent = &posts(&w)[0];
    assert_eq!(
        sent["allowed_mentions"]["roles"],
        serde_json::json!([APPROVER_ROLE_ID.to_string()])
    );
}

#[tokio::test]
async fn a_hostile_finding_is_posted_within_discords_limits() {
    let w = World::new().await;
    let sink = w.sink();
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    let shouting = "@everyone **[click](javascript:alert(1))** ~~`x`~~ > # ".repeat(40);
    let mut f = finding(FindingKind::CaRotation, &shouting);
    f.url = format!("javascript:alert(1)//{}", "a".repeat(3_000));
    f.summary = "[free](https://evil.example) @here __x__ ".repeat(2_500);
    f.fingerprints = (0..400u32)
        .map(|i| Fingerprint::of(&i.to_be_bytes()))
        .collect();
    f.certificates = (400..700u32)
        .map(|i| Fingerprint::of(&i.to_be_bytes()))
        .collect();
    f.sha1_fingerprints = (0..300).map(|i| format!("{i:040x}")).collect();
    f.cves = (0..900).map(|i| format!("CVE-2026-{i:05}")).collect();
    f.config_keys = (0..300).map(|i| format!("dten.key{i}`@everyone")).collect();
    assert!(f.summary.len() >= 100_000);
    let id = enqueue(&w.store, &f);
    let report = drain(&w, &sink, 1).await;
    assert_eq!(report.delivered, 1, "{report:?} {:?}", w.fake.rejected());
    delivered_once(&w, &id);
    let m = &w.fake.created_messages()[0];
    let e = &m["embeds"][0];
    // The facts survive the attacker's text: fingerprints, vendor, kind, evidence.
    let fields = e["fields"].to_string();
    for want in [
        "Announced fingerprints (SHA-256)",
        "Vendor",
        "Kind",
        "cross-signed by an approved anchor?",
    ] {
        assert!(fields.contains(want), "{want} was cut: {fields}");
    }
    assert!(
        e.get("url").is_none_or(Value::is_null),
        "javascript: is never linked: {e}"
    );
    let buttons = m["components"][0]["components"].as_array().unwrap();
    assert!(buttons.len() <= 5);
    let sent = &posts(&w)[0];
    assert!(sent["allowed_mentions"]["parse"]
        .as_array()
        .is_none_or(Vec::is_empty));
    assert!(!m["content"].as_str().unwrap().contains("@everyone"));
}

#[tokio::test]
async fn the_fake_refuses_what_discord_refuses_and_the_sink_keeps_it_as_failed() {
    use serenity::all::{ChannelId, CreateActionRow, CreateButton, CreateEmbed, CreateMessage};
    let w = World::new().await;
    // serenity checks the content length itself, so this one goes around it.
    let raw = reqwest::Client::new()
        .post(w.fake.url(&format!("{MESSAGES}{CHANNEL_ID}/messages")))
        .header("content-type", "application/json")
        .body(serde_json::json!({"content": "x".repeat(2_001)}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = serde_json::from_slice(&raw.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], 50035);
    assert_eq!(
        body["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let http = w.fake.http();
    let buttons = (0..6).map(|i| CreateButton::new(format!("b{i}")).label("b"));
    let six = CreateMessage::new()
        .content("ok")
        .components(vec![CreateActionRow::Buttons(buttons.collect())]);
    let long_id = CreateMessage::new()
        .content("ok")
        .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
            "i".repeat(101),
        )
        .label("b")])]);
    // Each embed is within 6,000 characters, together they are not.
    let big = CreateMessage::new().embeds(
        (0..3)
            .map(|i| {
                CreateEmbed::new()
                    .title(format!("{i}"))
                    .description("d".repeat(4_000))
            })
            .collect(),
    );
    for (msg, path) in [
        (six, "components.0.components"),
        (long_id, "components.0.components.0.custom_id"),
        (big, "embeds"),
    ] {
        let err = ChannelId::new(CHANNEL_ID)
            .send_message(&http, msg)
            .await
            .unwrap_err();
        let serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(r)) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            (r.status_code.as_u16(), r.error.code),
            (400, 50035),
            "{r:?}"
        );
        assert!(matches!(
            trustwatch::chat::sink::classify(&err),
            notify::DeliveryError::Permanent { .. }
        ));
        let rejected = w.fake.rejected();
        assert!(
            rejected.last().unwrap().1.iter().any(|v| v.path == path),
            "{path}: {rejected:?}"
        );
    }
    assert!(w.fake.created_messages().is_empty());
    // The sink's own announcements are cut to fit.
    w.sink().announce(&"y".repeat(5_000)).await.unwrap();
    assert_eq!(w.fake.created_messages().len(), 1);
}
