//! Store tests on a real sled database in a temp dir.

use time::OffsetDateTime;

use super::*;
use crate::advisory::FindingKind;
use crate::trust::{AnchorState, AuditAction};

fn anchor(seed: &[u8], state: AnchorState) -> Anchor {
    Anchor {
        sha256: Fingerprint::of(seed),
        vendor: "dten".into(),
        state,
        source: "test".into(),
        first_seen: OffsetDateTime::UNIX_EPOCH,
        updated: OffsetDateTime::UNIX_EPOCH,
        cert_der: Some(seed.to_vec()),
        subject: Some("CN=x".into()),
        not_after: None,
        revoked_reason: None,
    }
}

fn draft(actor: &str) -> AuditDraft {
    AuditDraft {
        at: OffsetDateTime::UNIX_EPOCH,
        actor: actor.into(),
        action: AuditAction::Added,
        reason: Some("why".into()),
        source: Some("cli".into()),
    }
}

fn finding(title: &str, fp: Fingerprint, day: Option<i64>) -> Finding {
    Finding {
        kind: FindingKind::CaRotation,
        vendor: "dten".into(),
        title: title.into(),
        url: "https://dten.example/a".into(),
        published: day.map(|d| OffsetDateTime::UNIX_EPOCH + time::Duration::days(d)),
        fingerprints: vec![fp],
        sha1_fingerprints: Vec::new(),
        certificates: Vec::new(),
        cves: Vec::new(),
        config_keys: Vec::new(),
        summary: String::new(),
        names: vec!["CN=DTEN Root".into()],
    }
}

#[test]
fn anchors_and_audit_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let a = anchor(b"a", AnchorState::Candidate);
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let e1 = s.apply(None, &a, &draft("alice")).unwrap();
        assert_eq!(e1.seq, 1);
        assert_eq!(e1.from_state, None);
        let mut approved = a.clone();
        approved.state = AnchorState::Approved;
        let e2 = s.apply(Some(&a), &approved, &draft("bob")).unwrap();
        assert_eq!(
            (e2.seq, e2.from_state, e2.to_state),
            (2, Some(AnchorState::Candidate), Some(AnchorState::Approved))
        );
        // Compare-and-swap: the stale expectation is refused and nothing is logged.
        assert!(matches!(
            s.apply(Some(&a), &approved, &draft("eve")),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            s.apply(None, &a, &draft("eve")),
            Err(Error::Conflict(_))
        ));
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(
        s.anchor(&a.sha256).unwrap().unwrap().state,
        AnchorState::Approved
    );
    let log = s.audit().unwrap();
    assert_eq!(
        log.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    let b = anchor(b"b", AnchorState::Approved);
    assert_eq!(s.apply(None, &b, &draft("carol")).unwrap().seq, 3);
    let mut other = anchor(b"c", AnchorState::Approved);
    other.vendor = "acme".into();
    s.apply(None, &other, &draft("carol")).unwrap();
    assert_eq!(s.anchors(Some("acme")).unwrap().len(), 1);
    let all = s.anchors(None).unwrap();
    assert_eq!(all[0].vendor, "acme");
    assert_eq!(s.trust_snapshot().unwrap().anchors.len(), 3);
}

#[test]
fn newer_schema_and_corrupt_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        s.anchors
            .insert(Fingerprint::of(b"x").as_bytes(), &b"{not json"[..])
            .unwrap();
        assert!(matches!(
            s.anchors(None),
            Err(Error::Corrupt {
                tree: "anchors",
                ..
            })
        ));
        assert!(matches!(
            s.anchor(&Fingerprint::of(b"x")),
            Err(Error::Corrupt { .. })
        ));
        s.meta.insert(META_SCHEMA, &99u32.to_be_bytes()).unwrap();
        s.flush().unwrap();
    }
    match Store::open(dir.path(), StoreOptions::default()) {
        Err(Error::NewerSchema { found: 99, .. }) => {}
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn findings_are_new_updated_or_seen() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let fp = Fingerprint::of(b"root");
    let f = finding("Rotation", fp, Some(100));
    assert!(s.put_finding(&f).unwrap());
    assert!(!s.put_finding(&f).unwrap());
    let mut edited = f.clone();
    edited.summary = "edited".into();
    assert!(s.put_finding(&edited).unwrap());
    s.put_finding(&finding("Older", fp, Some(10))).unwrap();
    s.put_finding(&finding("Undated", fp, None)).unwrap();
    s.put_finding(&finding("Other key", Fingerprint::of(b"x"), Some(1)))
        .unwrap();
    let hits = s.findings_mentioning(&[fp], &[]).unwrap();
    let titles: Vec<_> = hits.iter().map(|f| f.title.as_str()).collect();
    assert_eq!(titles, ["Older", "Rotation", "Undated"]);
    assert_eq!(hits[1].summary, "edited");
    // By issuer name, case-insensitively.
    let by_name = s
        .findings_mentioning(&[], &["cn=dten root".into()])
        .unwrap();
    assert_eq!(by_name.len(), 4);
}

#[test]
fn export_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("a"), StoreOptions::default()).unwrap();
    s.apply(None, &anchor(b"a", AnchorState::Approved), &draft("alice"))
        .unwrap();
    s.apply(None, &anchor(b"b", AnchorState::Candidate), &draft("bob"))
        .unwrap();
    s.put_finding(&finding("Rotation", Fingerprint::of(b"a"), Some(5)))
        .unwrap();
    let sinks = ["discord".to_owned()];
    let queued = finding("Queued", Fingerprint::of(b"q"), Some(6));
    s.record_finding(&queued, Delivery::To(&sinks), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
    let file = dir.path().join("backup.json");
    s.export_to(&file).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    let export: Export = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let t = Store::open(&dir.path().join("b"), StoreOptions::default()).unwrap();
    t.import(&export).unwrap();
    assert_eq!(t.export().unwrap(), s.export().unwrap());
    // A notice still waiting for Discord survives the restore, and the queue goes on
    // numbering after it.
    let waiting = t.outbox_pending("discord", 10).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].finding.title, "Queued");
    let later = finding("Later", Fingerprint::of(b"l"), Some(7));
    t.record_finding(&later, Delivery::To(&sinks), OffsetDateTime::UNIX_EPOCH)
        .unwrap();
    let both = t.outbox_pending("discord", 10).unwrap();
    assert!(both[1].seq > both[0].seq, "{both:?}");
    // The audit sequence continues after the imported entries.
    assert_eq!(
        t.apply(None, &anchor(b"c", AnchorState::Approved), &draft("x"))
            .unwrap()
            .seq,
        3
    );
    // Importing again into a non-empty store is refused.
    assert!(matches!(t.import(&export), Err(Error::Backup { .. })));
    let mut bad = export.clone();
    bad.format = "something".into();
    let u = Store::open(&dir.path().join("c"), StoreOptions::default()).unwrap();
    assert!(u.import(&bad).is_err());
    bad.format = export.format.clone();
    bad.schema_version = 7;
    assert!(matches!(u.import(&bad), Err(Error::NewerSchema { .. })));
}

#[test]
fn a_damaged_database_file_is_an_error_not_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        s.apply(None, &anchor(b"a", AnchorState::Approved), &draft("alice"))
            .unwrap();
    }
    std::fs::write(dir.path().join("db"), vec![0x5a; 4096]).unwrap();
    match Store::open(dir.path(), StoreOptions::default()) {
        Err(Error::Open { reason, .. }) => assert!(reason.contains("store import"), "{reason}"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(s) => panic!("opened with {} anchors", s.anchors(None).unwrap().len()),
    }
}

#[test]
fn a_batch_records_entries_in_order_and_sees_its_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let sinks = ["discord".to_owned()];
    let f = finding("Advisory", Fingerprint::of(b"k"), Some(1));
    let rec = |id: &'static str, hash: u8| EntryRecord {
        source: "dten:feed",
        entry_id: id,
        content_hash: [hash; 32],
        finding: Some(&f),
        changes: &[],
        delivery: Delivery::To(&sinks),
        at: OffsetDateTime::UNIX_EPOCH,
    };
    // The same entry twice in one batch: the second sees the first's write.
    let got = s
        .record_entries(&[rec("a", 1), rec("b", 1), rec("a", 1), rec("a", 2)])
        .unwrap();
    use EntryStatus::{New, Unchanged, Updated};
    assert_eq!(got, [New, New, Unchanged, Updated]);
    assert_eq!(s.seen("dten:feed", "a").unwrap(), Some([2; 32]));
    // One item per new or updated entry, in entry order.
    let queued = s.outbox_pending("discord", 10).unwrap();
    assert_eq!(queued.len(), 3);
    assert!(queued.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        queued.iter().map(|i| i.update).collect::<Vec<_>>(),
        [false, false, true]
    );
    // Again: nothing changes, nothing is queued.
    let again = s.record_entries(&[rec("a", 2), rec("b", 1)]).unwrap();
    assert_eq!(again, [Unchanged, Unchanged]);
    assert_eq!(s.outbox_pending("discord", 10).unwrap().len(), 3);
}
