//! What chat is doing, as the running instance last said: running,
//! restarting after a failure, or stopped (a refused token stops it for good). Kept in
//! the store so `trustwatch status` and `/status` can say why notices wait.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{codec, io, Error, Store};

const KEY: &[u8] = b"chat_state";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatHealth {
    Running,
    Restarting,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatState {
    /// `gateway` or `interactions endpoint`.
    pub transport: String,
    pub health: ChatHealth,
    /// Why it restarts or stopped.
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

impl Store {
    /// Record chat's state (flushed: it is what an operator reads when chat is down).
    pub fn set_chat_state(&self, state: &ChatState) -> Result<(), Error> {
        self.notify
            .insert(KEY, codec::encode(state)?)
            .map_err(io("write chat state"))?;
        self.flush()
    }

    /// Chat's last recorded state, if a `run` with chat ever recorded one.
    pub fn chat_state(&self) -> Result<Option<ChatState>, Error> {
        self.notify
            .get(KEY)
            .map_err(io("read chat state"))?
            .map(|v| codec::decode("notify", &v))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_state_is_kept_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let state = ChatState {
            transport: "gateway".into(),
            health: ChatHealth::Stopped,
            reason: Some("Discord refused the token".into()),
            since: OffsetDateTime::UNIX_EPOCH,
        };
        {
            let s = Store::open(dir.path(), crate::store::StoreOptions::default()).unwrap();
            assert_eq!(s.chat_state().unwrap(), None);
            s.set_chat_state(&state).unwrap();
        }
        let s = Store::open(dir.path(), crate::store::StoreOptions::default()).unwrap();
        assert_eq!(s.chat_state().unwrap(), Some(state));
    }
}
