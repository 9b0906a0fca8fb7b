//! Verification of a package against a trust snapshot (CONTRACT §2): the signature over
//! the manifest, the chain from the signer to a stored anchor, validity at a given time,
//! the code-signing usage, and every file against the manifest. Pure: no I/O beyond the
//! package reader it is handed, no clock (time comes in).

pub mod chain;
pub mod signature;
