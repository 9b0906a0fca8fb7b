//! A small HTTP/1.1 server on loopback for the fetch tests: each test sets a handler,
//! the server records every request (method, path, headers and body) and answers with the handler's
//! response, optionally slowly. Real sockets, real bytes; no mocks of our code.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The body, as `content-length` announced it.
    pub body: Vec<u8>,
    pub at: std::time::Instant,
}

impl Request {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering at all.
    pub delay: Duration,
    /// Send the body in chunks of this many bytes with this pause after each (a server
    /// that trickles bytes); `None` sends it at once.
    pub trickle: Option<(usize, Duration)>,
}

impl Response {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
            trickle: None,
        }
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            trickle: None,
        }
    }

    /// Answer after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Send the body `chunk` bytes at a time, pausing `pause` after each.
    pub fn trickled(mut self, chunk: usize, pause: Duration) -> Self {
        self.trickle = Some((chunk.max(1), pause));
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = Box<dyn Fn(&Request) -> Response + Send>;

pub struct Server {
    pub base: String,
    log: Arc<Mutex<Vec<Request>>>,
    handler: Arc<Mutex<Handler>>,
}

impl Server {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Mutex<Handler>> =
            Arc::new(Mutex::new(Box::new(|_| Response::status(404))));
        let (l, h) = (log.clone(), handler.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (l, h) = (l.clone(), h.clone());
                std::thread::spawn(move || serve(stream, &l, &h));
            }
        });
        Self { base, log, handler }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn handle(&self, f: impl Fn(&Request) -> Response + Send + 'static) {
        *self.handler.lock().unwrap() = Box::new(f);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Request>>, handler: &Mutex<Handler>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let method = line.split_whitespace().next().unwrap_or("GET").to_owned();
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len = headers
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req = Request {
            method,
            path,
            headers,
            body,
            at: std::time::Instant::now(),
        };
        log.lock().unwrap().push(req.clone());
        let resp = (handler.lock().unwrap())(&req);
        std::thread::sleep(resp.delay);
        let mut out = stream.try_clone().unwrap();
        let mut head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            resp.status,
            resp.body.len()
        );
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let (chunk, pause) = resp
            .trickle
            .unwrap_or((resp.body.len().max(1), Duration::ZERO));
        let sent = out.write_all(head.as_bytes()).and_then(|()| {
            for part in resp.body.chunks(chunk) {
                out.write_all(part)?;
                std::thread::sleep(pause);
            }
            Ok(())
        });
        if sent.is_err() {
            return;
        }
        let _ = reader.get_mut().read(&mut []);
    }
}
