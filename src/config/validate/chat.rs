//! Stage two for `[chat]`: `notify` (finding kinds posted to chat, default all; an
//! unknown kind is an error at its line), `[chat.discord]` (in `validate.rs`) and
//! `[[chat.webhook]]` (unique names, `url_env` an environment variable name; the URL
//! itself is a secret and never in the file).

use toml::{Spanned, Value};

use super::{expect_str, found, Checker};
use crate::advisory::FindingKind;
use crate::config::raw::{RawChat, RawWebhook};
use crate::config::types::{check_token_env, check_vendor_name};
use crate::config::{ChatConfig, WebhookConfig};

impl Checker<'_> {
    pub(super) fn chat(&mut self, raw: Option<RawChat>) -> ChatConfig {
        let default = ChatConfig::default();
        let Some(raw) = raw else {
            return default;
        };
        let notify = self
            .leaf("chat.notify", &raw.notify, parse_kinds)
            .unwrap_or(default.notify);
        ChatConfig {
            notify,
            discord: raw.discord.and_then(|discord| self.discord(&discord)),
            webhooks: self.webhooks(&raw.webhook),
        }
    }

    fn webhooks(&mut self, raw: &[Spanned<RawWebhook>]) -> Vec<WebhookConfig> {
        let mut out: Vec<WebhookConfig> = Vec::new();
        for (i, spanned) in raw.iter().enumerate() {
            let table = spanned.span();
            let hook = spanned.get_ref();
            let path = format!("chat.webhook[{i}]");
            let name = self.leaf(&format!("{path}.name"), &hook.name, |value| {
                let name = expect_str(value, "a short name like \"ops\"")?;
                check_vendor_name(name)
                    .map(|()| name.to_owned())
                    .map_err(|e| e.replace("vendor name", "webhook name"))
            });
            if hook.name.is_none() {
                self.missing(
                    &format!("{path}.name"),
                    &table,
                    "give the webhook a short name like name = \"ops\" (its sink is webhook:<name>)",
                );
            }
            let url_env = self.leaf(&format!("{path}.url_env"), &hook.url_env, |value| {
                let var = expect_str(value, "the name of an environment variable")?;
                if var.contains("://") {
                    return Err("this looks like a URL, not the name of an environment \
                         variable: put the webhook URL in the environment (e.g. \
                         TRUSTWATCH_WEBHOOK_OPS=...) and set url_env = \"TRUSTWATCH_WEBHOOK_OPS\"; \
                         treat the URL as leaked and rotate it"
                        .to_owned());
                }
                check_token_env(var).map(|()| var.to_owned())
            });
            if hook.url_env.is_none() {
                self.missing(
                    &format!("{path}.url_env"),
                    &table,
                    "name the environment variable that holds the webhook URL, e.g. \
                     url_env = \"TRUSTWATCH_WEBHOOK_OPS\"",
                );
            }
            let (Some(name), Some(url_env)) = (name, url_env) else {
                continue;
            };
            if out.iter().any(|w| w.name == name) {
                let span = hook.name.as_ref().map(Spanned::span);
                self.report(
                    &format!("{path}.name"),
                    span.as_ref(),
                    format!("webhook name {name:?} is used twice; give each webhook a unique name"),
                );
                continue;
            }
            out.push(WebhookConfig { name, url_env });
        }
        out
    }
}

/// `["ca_rotation", "advisory"]` -> kinds, in the order written, without repeats.
fn parse_kinds(value: &Value) -> Result<Vec<FindingKind>, String> {
    let names = FindingKind::ALL.map(FindingKind::as_str).join(", ");
    let items = value.as_array().ok_or_else(|| {
        format!(
            "expected a list of finding kinds, {}; e.g. [\"ca_rotation\", \"key_revocation\"]",
            found(value)
        )
    })?;
    let mut out = Vec::new();
    for item in items {
        let text = item.as_str().ok_or_else(|| {
            format!(
                "expected kind names in quotes, {}; kinds are {names}",
                found(item)
            )
        })?;
        let kind = FindingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| format!("unknown finding kind {text:?}; kinds are {names}"))?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;
