//! The seam between a transport (gateway or HTTP interactions endpoint) and the command
//! code: a transport hands every interaction to a [`Handler`] and carries out the
//! [`First`] answer it gets back. Both transports share one handler, so a command
//! behaves the same whichever way it came in.

use std::future::Future;
use std::pin::Pin;

use serenity::all::{CreateInteractionResponse, Interaction};

/// Work that finishes a deferred answer (it edits the original response through REST).
pub type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// How to answer an interaction first. Discord wants a first answer within 3 seconds.
pub enum First {
    /// Answer at once (type 1 PONG, 4 message, 7 update message, 9 modal ...). Never
    /// carries files: the HTTP endpoint answers in its response body, which has none.
    Now(CreateInteractionResponse),
    /// Acknowledge now (type 5 or 6), then run `job`, which edits the original response.
    Later {
        ack: CreateInteractionResponse,
        job: Job,
    },
}

/// Answers interactions; implemented by the dispatcher in `chat::commands`.
pub trait Handler: Send + Sync + 'static {
    fn first(&self, interaction: Interaction) -> First;
}
