//! Tests of `[chat] notify` and `[[chat.webhook]]`.

use crate::advisory::FindingKind;
use crate::config::{Config, Error, WebhookConfig};

const REFERENCE: &str = include_str!("../../../config/trustwatch.toml");

fn problems(text: &str) -> Vec<String> {
    match Config::parse(text, "t.toml") {
        Err(Error::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn notify_defaults_to_every_kind_and_takes_a_subset() {
    assert_eq!(Config::default().chat.notify, FindingKind::ALL);
    let c = Config::parse(
        "[chat]\nnotify = [\"ca_rotation\", \"key_revocation\"]\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        c.chat.notify,
        [FindingKind::CaRotation, FindingKind::KeyRevocation]
    );
    assert_eq!(
        Config::parse(REFERENCE, "r").unwrap().chat.notify,
        FindingKind::ALL
    );
}

#[test]
fn unknown_kinds_and_bad_webhooks_name_their_lines() {
    let p = problems(
        "[chat]\nnotify = [\"ca_rotation\", \"rotation\"]\n\n[[chat.webhook]]\nname = \"Ops!\"\nurl_env = \"https://hooks.example/x\"\n\n[[chat.webhook]]\nurl_env = \"X\"\n",
    );
    assert!(
        p[0].starts_with("line 2, column 10: chat.notify: unknown finding kind \"rotation\""),
        "{p:#?}"
    );
    assert!(
        p[1].starts_with("line 5, column 8: chat.webhook[0].name"),
        "{p:#?}"
    );
    assert!(
        p[2].starts_with("line 6, column 11: chat.webhook[0].url_env: this looks like a URL"),
        "{p:#?}"
    );
    assert!(
        !p[2].contains("hooks.example"),
        "the secret is not echoed: {p:#?}"
    );
    assert!(p[3].contains("chat.webhook[1].name: missing"), "{p:#?}");
    assert_eq!(p.len(), 4, "{p:#?}");
    let dup = problems(
        "[[chat.webhook]]\nname = \"ops\"\nurl_env = \"A\"\n[[chat.webhook]]\nname = \"ops\"\nurl_env = \"B\"\n",
    );
    assert!(
        dup[0].starts_with(
            "line 5, column 8: chat.webhook[1].name: webhook name \"ops\" is used twice"
        ),
        "{dup:#?}"
    );
    let unknown = problems("[[chat.webhook]]\nname = \"ops\"\nurl = \"x\"\n");
    assert!(unknown[0].contains("unknown field `url`"), "{unknown:#?}");
}

#[test]
fn reference_webhook_section_is_valid_when_uncommented() {
    let start = REFERENCE
        .find("# [[chat.webhook]]")
        .expect("commented [[chat.webhook]]");
    let end = REFERENCE[start..]
        .find("\n\n")
        .map_or(REFERENCE.len(), |i| start + i);
    let section: String = REFERENCE[start..end]
        .lines()
        .map(|line| line.strip_prefix("# ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let c = Config::parse(&section, "s").unwrap();
    assert_eq!(
        c.chat.webhooks,
        [WebhookConfig {
            name: "ops".into(),
            url_env: "TRUSTWATCH_WEBHOOK_OPS".into()
        }]
    );
}
