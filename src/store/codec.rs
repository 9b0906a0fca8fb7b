//! Value encoding: serde JSON inside a versioned envelope `{"v":1,"d":...}`, so a later
//! schema can tell old records from new ones. A record that does not decode is reported
//! as corrupt, never unwrapped.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Error;

/// The envelope version this build writes.
const VALUE_VERSION: u32 = 1;

#[derive(Serialize)]
struct Out<'a, T> {
    v: u32,
    d: &'a T,
}

#[derive(Deserialize)]
struct In<T> {
    v: u32,
    d: T,
}

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(&Out {
        v: VALUE_VERSION,
        d: value,
    })
    .map_err(|e| Error::Io {
        op: "encode record",
        reason: e.to_string(),
    })
}

pub(super) fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, Error> {
    let envelope: In<T> = serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        tree,
        reason: e.to_string(),
    })?;
    if envelope.v != VALUE_VERSION {
        return Err(Error::Corrupt {
            tree,
            reason: format!("record version {} is not {VALUE_VERSION}", envelope.v),
        });
    }
    Ok(envelope.d)
}
