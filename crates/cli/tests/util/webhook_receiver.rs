//! A webhook receiver on 127.0.0.1: answers every POST with 200 and hands
//! its JSON body to the test. Listening before it is returned, so a
//! message sent after that is never lost.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A listening receiver.
pub struct Receiver {
    /// Its URL.
    pub url: String,
    bodies: mpsc::Receiver<Value>,
}

impl Receiver {
    /// Binds a free port; a thread answers until the test ends.
    pub fn start() -> Receiver {
        Receiver::start_on(0)
    }

    /// A receiver on `port` of 127.0.0.1 (0: any free one): one that comes
    /// up where messages were failing to go.
    pub fn start_on(port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (send, bodies) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                if let Ok(json) = serde_json::from_slice(&body) {
                    if send.send(json).is_err() {
                        return;
                    }
                }
            }
        });
        Receiver { url, bodies }
    }

    /// The next body, waiting at most `within`.
    #[track_caller]
    pub fn next(&self, within: Duration) -> Value {
        self.bodies
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("nothing reached {} within {within:?}", self.url))
    }

    /// A body that has arrived already, without waiting.
    pub fn try_next(&self) -> Option<Value> {
        self.bodies.try_recv().ok()
    }

    /// The next `count` bodies, all within `within`.
    #[track_caller]
    pub fn take(&self, count: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        (0..count)
            .map(|_| self.next(deadline.saturating_duration_since(Instant::now())))
            .collect()
    }
}
