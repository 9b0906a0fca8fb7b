use super::*;

fn parse(args: &[&str]) -> Command {
    Cli::try_parse_from(std::iter::once("trustwatch").chain(args.iter().copied()))
        .unwrap()
        .command
}

fn resolved(args: &[&str], cwd: &Path) -> Command {
    let mut command = parse(args);
    resolve_paths(&mut command, cwd);
    command
}

#[test]
fn relative_paths_are_resolved_against_the_client_directory() {
    let cwd = Path::new("/home/alice/work");
    let Command::Verify(v) = resolved(
        &[
            "verify",
            "pkg.zip",
            "--signature",
            "../sig.p7s",
            "--certs",
            "/etc/c.pem",
        ],
        cwd,
    ) else {
        panic!("not verify")
    };
    assert_eq!(v.package, Path::new("/home/alice/work/pkg.zip"));
    assert_eq!(
        v.signature.as_deref(),
        Some(Path::new("/home/alice/work/../sig.p7s"))
    );
    assert_eq!(v.certs.as_deref(), Some(Path::new("/etc/c.pem")));

    let Command::Trust(TrustCommand::Add { cert_file, .. }) =
        resolved(&["trust", "add", "certs/root.pem", "--vendor", "dten"], cwd)
    else {
        panic!("not trust add")
    };
    assert_eq!(cert_file, Path::new("/home/alice/work/certs/root.pem"));

    let Command::Store(StoreCommand::Export { file }) =
        resolved(&["store", "export", "backup.json"], cwd)
    else {
        panic!("not store export")
    };
    assert_eq!(file, Path::new("/home/alice/work/backup.json"));
}

#[test]
fn escalate_target_is_a_path_only_when_the_client_has_that_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pkg.zip"), b"zip").unwrap();
    let Command::Escalate(e) = resolved(&["escalate", "pkg.zip"], dir.path()) else {
        panic!("not escalate")
    };
    assert_eq!(Path::new(&e.target), dir.path().join("pkg.zip"));
    let fp = "AB:CD:EF";
    let Command::Escalate(e) = resolved(&["escalate", fp], dir.path()) else {
        panic!("not escalate")
    };
    assert_eq!(e.target, fp);
}

#[test]
fn run_and_store_import_are_refused_beside_run() {
    let dir = Path::new("/var/lib/trustwatch");
    for args in [&["run"][..], &["store", "import", "b.json"]] {
        let why = refusal(&parse(args), dir).unwrap();
        assert!(why.contains("stop `trustwatch run` first"), "{why}");
    }
    assert!(refusal(&parse(&["store", "export", "b.json"]), dir).is_none());
    assert!(refusal(&parse(&["trust", "list"]), dir).is_none());
}

#[test]
fn print_is_captured_on_the_capturing_thread_only() {
    let (outcome, text, err) = captured(|| {
        print("one ")?;
        super::super::eprint("warn\n");
        print("two\n")?;
        Ok::<_, Failure>(3)
    });
    assert_eq!(outcome.ok(), Some(3));
    assert_eq!(text, "one two\n");
    assert_eq!(err, "warn\n");
    assert!(!capture("not captured"));
    assert!(!capture_err("not captured"));
}
