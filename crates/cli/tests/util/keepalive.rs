//! A blocking HTTP/1.1 client on one keep-alive connection, for load
//! threads: it sends a request and reads one answer (`Content-Length` or
//! chunked), and never retries (a request that gets no answer is the
//! caller's failure to count).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An answer: status, lower-cased headers, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One connection, opened on first use and again after the server closed it.
pub struct KeepAlive {
    addr: SocketAddr,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
}

impl KeepAlive {
    pub fn new(addr: SocketAddr, timeout: Duration) -> KeepAlive {
        KeepAlive {
            addr,
            timeout,
            stream: None,
        }
    }

    /// Sends `method path` with `headers` (`name: value\r\n` lines) and
    /// `body`; returns the answer or what went wrong.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Result<Answer, String> {
        let result = self.exchange(method, path, headers, body);
        if result
            .as_ref()
            .map_or(true, |answer| answer.header("connection") == Some("close"))
        {
            self.stream = None;
        }
        result
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Result<Answer, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, self.timeout)
                .map_err(|error| format!("connect: {error}"))?;
            stream.set_read_timeout(Some(self.timeout)).unwrap();
            stream.set_nodelay(true).unwrap();
            self.stream = Some(BufReader::new(stream));
        }
        let reader = self.stream.as_mut().unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: app\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let stream = reader.get_mut();
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|error| format!("send: {error}"))?;
        let mut line = String::new();
        read_line(reader, &mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            read_line(reader, &mut line)?;
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut answer = Answer {
            status,
            headers,
            body: Vec::new(),
        };
        if answer.header("transfer-encoding") == Some("chunked") {
            answer.body = read_chunked(reader)?;
        } else {
            let length: usize = answer
                .header("content-length")
                .ok_or("an answer with no length")?
                .parse()
                .map_err(|_| "a bad content-length")?;
            answer.body.resize(length, 0);
            reader
                .read_exact(&mut answer.body)
                .map_err(|error| format!("body: {error}"))?;
        }
        Ok(answer)
    }
}

fn read_line(reader: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), String> {
    match reader.read_line(line) {
        Ok(0) => Err("connection closed with no answer".into()),
        Ok(_) => Ok(()),
        Err(error) => Err(format!("receive: {error}")),
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        read_line(reader, &mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| format!("bad chunk size {line:?}"))?;
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|error| format!("chunk: {error}"))?;
        line.clear();
        read_line(reader, &mut line)?;
        if size == 0 {
            return Ok(body);
        }
    }
}
