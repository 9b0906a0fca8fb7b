//! The dispatcher (`chat::commands::Bot`) through `Handler::first`, with interactions as
//! Discord sends them (serde_json into serenity's model), a real store, the real
//! fetcher, and deferred answers edited through serenity's `Http` at the fake Discord
//! API, which enforces Discord's message limits. Authority (approver role, guild),
//! refusals (ephemeral, nothing changed), the approve/confirm/escalate buttons, and
//! `/verify` behind the address guard, the size cap, the CDN check and the slot limit.

mod common;

use common::bot::{
    self, later, now, refusal, Settings, World, CROSS_PEM, NEW_ROOT, NEW_ROOT_PEM, OLD_ROOT,
    OLD_ROOT_PEM, PACKAGE,
};
use common::discord::{Invoker, APPROVER_ROLE_ID, GUILD_ID};
use common::http::{Response, Server};
use trustwatch::chat::commands::MAX_VERIFY;
use trustwatch::trust::AnchorState;

fn attachment_gets(w: &World) -> usize {
    w.fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/attachments/"))
        .count()
}

#[tokio::test]
async fn trust_list_shows_every_anchor_or_one_vendors() {
    let w = World::new().await;
    let bot = w.bot();
    let empty = now(&bot, &Invoker::default().trust_list(None));
    assert!(empty["data"]["content"]
        .as_str()
        .unwrap()
        .contains("none stored"));
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    w.add(NEW_ROOT_PEM, AnchorState::Candidate);
    let all = now(&bot, &Invoker::default().trust_list(None));
    assert_eq!(all["type"], 4);
    assert_ne!(all["data"]["flags"], 64, "a list is for everyone: {all}");
    let text = all["data"]["embeds"].to_string();
    assert!(text.contains(OLD_ROOT) && text.contains(NEW_ROOT), "{text}");
    assert!(
        text.contains("1 approved") && text.contains("1 candidate"),
        "{text}"
    );
    let acme = now(&bot, &Invoker::default().trust_list(Some("acme")));
    assert!(acme["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Anchors of acme: none stored"));
    let dten = now(&bot, &Invoker::default().trust_list(Some("dten")));
    assert!(dten["data"]["embeds"].to_string().contains(NEW_ROOT));
}

#[tokio::test]
async fn only_approvers_approve_or_revoke_and_each_change_is_audited() {
    let w = World::new().await;
    let bot = w.bot();
    w.add(NEW_ROOT_PEM, AnchorState::Candidate);
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    let audit = w.store.audit().unwrap().len();
    let member = Invoker::default().with_roles(&[42]);
    for v in [
        member.trust_approve(NEW_ROOT),
        member.trust_revoke(OLD_ROOT, "compromised"),
    ] {
        let said = refusal(&bot, &v);
        assert!(
            said.contains("Only members with the approver role"),
            "{said}"
        );
        assert!(said.contains(&format!("<@&{APPROVER_ROLE_ID}>")), "{said}");
    }
    assert_eq!(w.state(NEW_ROOT), Some(AnchorState::Candidate));
    assert_eq!(w.state(OLD_ROOT), Some(AnchorState::Approved));
    assert_eq!(
        w.store.audit().unwrap().len(),
        audit,
        "a refusal audits nothing"
    );

    let approver = Invoker::approver();
    let done = now(&bot, &approver.trust_approve(&NEW_ROOT.to_uppercase()));
    let said = done["data"]["content"].as_str().unwrap();
    assert!(
        said.starts_with(&format!("Approved `{NEW_ROOT}`")),
        "{said}"
    );
    assert_eq!(w.state(NEW_ROOT), Some(AnchorState::Approved));
    let log = w.store.audit().unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.sha256.unwrap().to_string(), NEW_ROOT);
    assert_eq!(
        last.actor,
        format!("discord:{} (operator)", approver.user_id)
    );

    let done = now(
        &bot,
        &approver.trust_revoke(OLD_ROOT, "key leaked **oops**"),
    );
    let said = done["data"]["content"].as_str().unwrap();
    assert!(said.starts_with(&format!("Revoked `{OLD_ROOT}`")), "{said}");
    assert!(
        said.contains("key leaked \\*\\*oops\\*\\*"),
        "the reason stays text: {said}"
    );
    assert_eq!(w.state(OLD_ROOT), Some(AnchorState::Revoked));
    let last = w.store.audit().unwrap().last().unwrap().clone();
    assert_eq!(last.reason.as_deref(), Some("key leaked **oops**"));
    assert!(last
        .actor
        .starts_with(&format!("discord:{} (", approver.user_id)));
}

#[tokio::test]
async fn unknown_and_already_approved_fingerprints_are_refused_clearly() {
    let w = World::new().await;
    let bot = w.bot();
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    let approver = Invoker::approver();
    let said = refusal(&bot, &approver.trust_approve(NEW_ROOT));
    assert!(
        said.contains("Not approved") && said.contains(NEW_ROOT),
        "{said}"
    );
    assert!(said.contains("no anchor"), "{said}");
    let said = refusal(&bot, &approver.trust_approve(OLD_ROOT));
    assert!(said.contains("already approved"), "{said}");
    let said = refusal(&bot, &approver.button(&format!("approve:{NEW_ROOT}")));
    assert!(
        said.contains("No anchor") && said.contains(NEW_ROOT),
        "{said}"
    );
    assert_eq!(w.store.audit().unwrap().len(), 1, "only the test's own add");
}

#[tokio::test]
async fn direct_messages_and_other_guilds_are_refused() {
    let w = World::new().await;
    let bot = w.bot();
    w.add(NEW_ROOT_PEM, AnchorState::Candidate);
    let dm = Invoker::approver().in_dm();
    let elsewhere = Invoker {
        guild_id: Some(GUILD_ID + 1),
        ..Invoker::approver()
    };
    let said = refusal(&bot, &dm.trust_approve(NEW_ROOT));
    assert!(said.contains("direct messages"), "{said}");
    let said = refusal(&bot, &elsewhere.trust_approve(NEW_ROOT));
    assert!(said.contains("another server"), "{said}");
    for v in [
        dm.verify_url("https://cdn.discordapp.com/a/p.zip"),
        elsewhere.button(&format!("confirm:{NEW_ROOT}")),
        elsewhere.escalate(NEW_ROOT),
        dm.trust_list(None),
    ] {
        refusal(&bot, &v);
    }
    assert_eq!(w.state(NEW_ROOT), Some(AnchorState::Candidate));
    assert!(w.fake.requests().is_empty(), "{:?}", w.fake.requests());
}

#[tokio::test]
async fn the_approve_button_shows_the_evidence_and_the_confirm_button_approves() {
    let w = World::new().await;
    let bot = w.bot();
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    w.add(NEW_ROOT_PEM, AnchorState::Candidate);
    w.add(CROSS_PEM, AnchorState::Candidate);
    let approver = Invoker::approver();
    let shown = now(&bot, &approver.button(&format!("approve:{NEW_ROOT}")));
    assert_eq!(
        (shown["type"].as_u64(), shown["data"]["flags"].as_u64()),
        (Some(4), Some(64))
    );
    let embeds = shown["data"]["embeds"].to_string();
    assert!(
        embeds.contains("cross-signed by an approved anchor?"),
        "{embeds}"
    );
    assert!(embeds.contains("yes: certified by approved"), "{embeds}");
    assert!(embeds.contains("still approved"), "{embeds}");
    assert!(shown["data"]["components"]
        .to_string()
        .contains(&format!("confirm:{NEW_ROOT}")));
    assert_eq!(
        w.state(NEW_ROOT),
        Some(AnchorState::Candidate),
        "showing changes nothing"
    );

    let said = refusal(
        &bot,
        &Invoker::default().button(&format!("confirm:{NEW_ROOT}")),
    );
    assert!(said.contains("Only members with the approver role"));
    assert_eq!(w.state(NEW_ROOT), Some(AnchorState::Candidate));
    let done = now(&bot, &approver.button(&format!("confirm:{NEW_ROOT}")));
    assert!(done["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Approved"));
    assert_eq!(w.state(NEW_ROOT), Some(AnchorState::Approved));
}

#[tokio::test]
async fn escalate_by_command_and_button_attaches_a_posix_script() {
    let w = World::new().await;
    let bot = w.bot();
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    w.add(NEW_ROOT_PEM, AnchorState::Candidate);
    for v in [
        Invoker::default().escalate(NEW_ROOT),
        Invoker::default().button(&format!("escalate:{NEW_ROOT}")),
    ] {
        let (ack, job) = later(&bot, &v);
        assert_ne!(ack["data"]["flags"], 64, "{ack}");
        job.await;
        let (answer, files) = w.edited(&v).await;
        assert!(answer["content"]
            .as_str()
            .unwrap()
            .contains(&format!("<@&{APPROVER_ROLE_ID}>")));
        assert!(
            answer["embeds"].to_string().contains(NEW_ROOT),
            "{answer:#}"
        );
        let script = bot::script(&files);
        assert!(script.contains(NEW_ROOT) && script.contains("security@dten.example"));
    }
    assert!(w.fake.rejected().is_empty());
}

#[tokio::test]
async fn verify_url_on_loopback_is_refused_by_the_address_guard() {
    let w = World::with(Settings {
        allow_private_addresses: false,
        ..Settings::default()
    })
    .await;
    let bot = w.bot();
    let server = Server::start();
    server.handle(|_| Response::ok(std::fs::read(PACKAGE).unwrap()));
    let attachment = w
        .fake
        .add_attachment("p.zip", std::fs::read(PACKAGE).unwrap());
    for url in [server.url("/p.zip"), attachment] {
        let v = Invoker::default().verify_url(&url);
        let (_, job) = later(&bot, &v);
        job.await;
        let answer = w.refused_later(&v).await;
        let said = answer["content"].as_str().unwrap();
        assert!(said.contains("address guard"), "{answer:#}");
        assert!(!answer["embeds"].to_string().contains("TRUSTED"));
    }
    assert!(
        server.requests().is_empty(),
        "the guard let a request through"
    );
    assert_eq!(attachment_gets(&w), 0);
}

#[tokio::test]
async fn attachments_over_the_cap_or_off_discord_are_not_downloaded() {
    let w = World::with(Settings {
        max_download: "16KiB",
        ..Settings::default()
    })
    .await;
    let bot = w.bot();
    let zip = std::fs::read(PACKAGE).unwrap();
    let url = w.fake.add_attachment("big.zip", zip.clone());
    let big = Invoker::default().verify_attachment("big.zip", &url, zip.len() as u32);
    let said = refusal(&bot, &big);
    assert!(said.contains("over http.max_download"), "{said}");
    for off in [
        "https://evil.example/attachments/p.zip",
        "http://cdn.discordapp.com/attachments/1/2/p.zip",
        "https://cdn.discordapp.com.evil.example/p.zip",
    ] {
        let said = refusal(
            &bot,
            &Invoker::default().verify_attachment("p.zip", off, 10),
        );
        assert!(said.contains("not on Discord's CDN"), "{off}: {said}");
    }
    // Discord's declared size can lie: the cap also holds while reading.
    let liar = Invoker::default().verify_attachment("big.zip", &url, 100);
    let (_, job) = later(&bot, &liar);
    job.await;
    let answer = w.refused_later(&liar).await;
    assert!(
        answer["content"].as_str().unwrap().contains("max_download"),
        "{answer:#}"
    );
    assert_eq!(
        attachment_gets(&w),
        1,
        "only the lying attachment was fetched"
    );
}

#[tokio::test]
async fn packages_that_are_not_zips_are_invalid_never_a_panic() {
    let w = World::new().await;
    let bot = w.bot();
    let zip = std::fs::read(PACKAGE).unwrap();
    let garbage: Vec<u8> = (0..5_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    for (name, bytes) in [
        ("garbage.zip", garbage),
        ("half.zip", zip[..zip.len() / 2].to_vec()),
        ("notes.txt", b"PK\x03\x04 this is not a zip".to_vec()),
        ("empty.zip", Vec::new()),
    ] {
        let url = w.fake.add_attachment(name, bytes.clone());
        let v = Invoker::default().verify_attachment(name, &url, bytes.len() as u32);
        let (_, job) = later(&bot, &v);
        job.await;
        let (answer, files) = w.edited(&v).await;
        assert!(
            answer["embeds"].to_string().contains("INVALID"),
            "{name}: {answer:#}"
        );
        assert!(files.is_empty(), "no script for an invalid package");
    }
}

#[tokio::test]
async fn more_than_max_verify_at_once_are_told_to_wait() {
    let w = World::new().await;
    let bot = w.bot();
    let zip = std::fs::read(PACKAGE).unwrap();
    let url = w.fake.add_attachment("p.zip", zip);
    let held: Vec<_> = (0..MAX_VERIFY)
        .map(|_| later(&bot, &Invoker::default().verify_url(&url)).1)
        .collect();
    let said = refusal(&bot, &Invoker::default().verify_url(&url));
    assert!(said.contains("already running"), "{said}");
    for job in held {
        job.await;
    }
    let v = Invoker::default().verify_url(&url);
    let (_, job) = later(&bot, &v);
    job.await;
    w.edited(&v).await;
}

#[tokio::test]
async fn the_seed_package_is_pending_with_the_escalation_prompt_then_trusted() {
    let w = World::new().await;
    let bot = w.bot();
    w.add(OLD_ROOT_PEM, AnchorState::Approved);
    w.add(NEW_ROOT_PEM, AnchorState::Candidate);
    let zip = std::fs::read(PACKAGE).unwrap();
    let url = w
        .fake
        .add_attachment("Full-upgrade-package-dten.zip", zip.clone());
    let by_url = Invoker::default().verify_url(&url);
    let (_, job) = later(&bot, &by_url);
    job.await;
    let (answer, files) = w.edited(&by_url).await;
    assert!(
        answer["embeds"].to_string().contains("PENDING"),
        "{answer:#}"
    );
    assert!(answer["content"]
        .as_str()
        .unwrap()
        .starts_with(&format!("<@&{APPROVER_ROLE_ID}>")));
    let buttons = answer["components"].to_string();
    assert!(
        buttons.contains("approve:") && buttons.contains("escalate:"),
        "{buttons}"
    );
    let script = bot::script(&files);
    assert!(script.contains("security@dten.example"));

    // The approver follows the prompt's approve button, confirms, and it is trusted.
    let fp = answer["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("approve:")
        .to_owned();
    assert!(script.contains(&fp), "the script names the key to decide");
    now(&bot, &Invoker::approver().button(&format!("approve:{fp}")));
    now(&bot, &Invoker::approver().button(&format!("confirm:{fp}")));
    let again = Invoker::default().verify_attachment("p.zip", &url, zip.len() as u32);
    let (_, job) = later(&bot, &again);
    job.await;
    let (answer, files) = w.edited(&again).await;
    assert!(
        answer["embeds"].to_string().contains("TRUSTED"),
        "{answer:#}"
    );
    assert!(files.is_empty() && answer["components"].as_array().is_none_or(Vec::is_empty));
    assert!(w.fake.rejected().is_empty(), "{:?}", w.fake.rejected());
}

#[tokio::test]
async fn unknown_commands_buttons_and_bad_fingerprints_get_the_reason() {
    let w = World::new().await;
    let bot = w.bot();
    let anyone = Invoker::default();
    let said = refusal(
        &bot,
        &anyone.command(
            "drop-tables",
            serde_json::json!([]),
            serde_json::Value::Null,
        ),
    );
    assert!(said.contains("unknown command /drop-tables"), "{said}");
    for v in [
        anyone.escalate("abc; rm -rf /"),
        Invoker::approver().trust_approve("12:34"),
    ] {
        let said = refusal(&bot, &v);
        assert!(said.contains("is not a SHA-256 fingerprint"), "{said}");
    }
    for id in [format!("delete:{NEW_ROOT}"), "approve:$(reboot)".to_owned()] {
        let said = refusal(&bot, &Invoker::approver().button(&id));
        assert!(said.contains("not one of trustwatch's"), "{said}");
    }
    let pong = now(&bot, &anyone.ping());
    assert_eq!(pong["type"], 1);
    assert!(w.store.audit().unwrap().is_empty());
}
