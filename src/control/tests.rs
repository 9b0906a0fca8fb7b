use std::io::{BufRead as _, BufReader, Write as _};
use std::sync::Arc;

use super::*;

fn request() -> Request {
    Request {
        version: PROTOCOL_VERSION,
        argv: vec!["trust".into(), "list".into(), "line\nbreak".into()],
        cwd: PathBuf::from("/home/alice"),
        actor: "cli:alice".into(),
    }
}

#[test]
fn a_frame_is_one_line_and_round_trips() {
    let frame = encode(&request()).unwrap();
    assert_eq!(frame.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(frame.last(), Some(&b'\n'));
    let got = read_frame(&frame[..], MAX_REQUEST).unwrap().unwrap();
    assert_eq!(decode::<Request>(&got).unwrap(), request());
}

#[test]
fn frames_are_bounded_and_must_end_in_a_newline() {
    assert!(read_frame(&b""[..], 8).unwrap().is_none());
    assert_eq!(
        read_frame(&b"12345678\n"[..], 8).unwrap().unwrap(),
        b"12345678"
    );
    assert!(matches!(
        read_frame(&b"123456789\n"[..], 8),
        Err(Error::TooLarge { limit: 8 })
    ));
    assert!(matches!(read_frame(&b"1234"[..], 8), Err(Error::Truncated)));
    // Only the first frame is read.
    assert_eq!(read_frame(&b"a\nb\n"[..], 8).unwrap().unwrap(), b"a");
}

#[test]
fn garbage_does_not_decode() {
    assert!(matches!(
        decode::<Request>(b"\x00\xffnot json"),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(
        decode::<Request>(br#"{"version":1}"#),
        Err(Error::Malformed(_))
    ));
    // A response from a server that omits empty output still reads.
    let r: Response = decode(br#"{"version":1,"code":3}"#).unwrap();
    assert_eq!((r.code, r.stdout.as_str()), (3, ""));
}

#[test]
fn error_responses_read_like_the_cli() {
    let r = Response::error(2, "stop `trustwatch run` first");
    assert_eq!(r.stderr, "error: stop `trustwatch run` first\n");
    assert_eq!((r.code, r.version), (2, PROTOCOL_VERSION));
}

/// A real socket and a real server with an echoing handler: a request is answered, bad
/// input gets an error and the server keeps serving, a stale socket file is replaced,
/// a second bind is refused, and stopping removes the file.
#[test]
fn server_answers_refuses_garbage_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ignored"), b"").unwrap();
    // A stale socket: bound, then its listener dropped without removing the file.
    drop(std::os::unix::net::UnixListener::bind(socket_path(dir.path())).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = Listener::bind(dir.path()).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(socket_path(dir.path()))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(matches!(
        Listener::bind(dir.path()),
        Err(Error::AlreadyRunning { .. })
    ));
    let handler: Handler = Arc::new(|r: Request| Response {
        version: PROTOCOL_VERSION,
        code: 7,
        stdout: r.argv.join(" "),
        stderr: r.actor,
    });
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let server = runtime.block_on(async { listener.serve(handler, rx).unwrap() });

    let answer = exchange(connect(dir.path()).unwrap(), &request())
        .unwrap()
        .unwrap();
    assert_eq!(answer.code, 7);
    assert_eq!(answer.stdout, "trust list line\nbreak");
    assert_eq!(answer.stderr, "cli:alice");

    let raw = |bytes: &[u8]| -> Response {
        let mut s = connect(dir.path()).unwrap();
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        decode(line.trim_end().as_bytes()).unwrap()
    };
    for bad in [
        &b"\x00\xff garbage\n"[..],
        b"no newline",
        b"{\"version\":1}\n",
    ] {
        let r = raw(bad);
        assert_eq!(r.code, 2, "{r:?}");
        assert!(r.stderr.starts_with("error: bad control request"), "{r:?}");
    }
    let mut newer = request();
    newer.version = PROTOCOL_VERSION + 1;
    let r = raw(&encode(&newer).unwrap());
    assert!(r.stderr.contains("control protocol"), "{r:?}");
    // Still serving.
    let again = exchange(connect(dir.path()).unwrap(), &request()).unwrap();
    assert_eq!(again.map(|r| r.code), Some(7));

    runtime.block_on(server.stop());
    assert!(!socket_path(dir.path()).exists());
    assert!(connect(dir.path()).is_none());
}
