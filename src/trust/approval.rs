//! Who may move an anchor between states, and how (CONTRACT §1, §5).
//!
//! Pure functions: given the stored anchor (if any) and a request, decide the new anchor
//! and its audit entry, or refuse. `store::Store::apply` writes the decision atomically.
//!
//! Rules:
//! - `trust add` by an operator may create an anchor `approved` or `candidate`; adding
//!   over an existing anchor never downgrades it, and never revives a revoked one (that
//!   takes an explicit `trust approve`).
//! - Learnt anchors (from advisories) are only ever created as `candidate`.
//! - `approve` moves a candidate or revoked anchor to `approved`; `revoke` moves any
//!   anchor to `revoked`. Both need a person's name and are audited.
