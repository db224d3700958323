//! A fake SMTP server: accepts every message and keeps it, so a test can wait for the mail
//! the app sent and read it. It speaks just enough SMTP for a real client (lettre): no TLS,
//! no AUTH, no extensions.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::{JoinHandle, JoinSet},
};

/// How long [`MailSink::wait_for`] waits before failing the test.
const WAIT: Duration = Duration::from_secs(10);

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Message {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// Headers and body as sent after `DATA`, dot-stuffing undone, lines ending in CRLF.
    pub data: String,
}

impl Message {
    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.data
            .lines()
            .take_while(|line| !line.is_empty())
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name).then_some(value.trim())
            })
    }

    /// The body as text: quoted-printable decoded when the message says it is encoded so,
    /// with `\n` line endings.
    pub fn body(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body);
        let quoted_printable = self
            .header("content-transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("quoted-printable"));
        let text = if quoted_printable {
            decode_quoted_printable(body)
        } else {
            body.to_owned()
        };
        text.replace("\r\n", "\n")
    }
}

/// `=XX` is a byte in hex, `=` at the end of a line joins it to the next (RFC 2045 §6.7).
fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"=\r\n") {
            i += 3;
        } else if rest.starts_with(b"=\n") {
            i += 2;
        } else if let Some(byte) = rest
            .get(1..3)
            .filter(|_| rest[0] == b'=')
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Message>>,
    arrived: Notify,
    /// How many more messages to refuse with a temporary error (see
    /// [`MailSink::refuse_next`]).
    refusals: AtomicUsize,
}

impl Inbox {
    fn deliver(&self, message: Message) {
        self.messages.lock().expect("inbox lock").push(message);
        self.arrived.notify_waiters();
    }

    /// Removes and returns the oldest message to `to`.
    fn take(&self, to: &str) -> Option<Message> {
        let mut messages = self.messages.lock().expect("inbox lock");
        let index = messages
            .iter()
            .position(|m| m.to.iter().any(|r| r.eq_ignore_ascii_case(to)))?;
        Some(messages.remove(index))
    }
}

/// An SMTP server on `127.0.0.1` and a port of its own, for one test. Stops when dropped.
pub struct MailSink {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    server: JoinHandle<()>,
}

impl MailSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the mail sink");
        let addr = listener.local_addr().expect("mail sink address");
        let inbox = Arc::new(Inbox::default());
        let server = tokio::spawn(serve(listener, inbox.clone()));
        Self {
            addr,
            inbox,
            server,
        }
    }

    /// Answers the next `n` messages' `MAIL FROM` with `451` ("try again later"), as a
    /// greylisting or overloaded relay does.
    pub fn refuse_next(&self, n: usize) {
        self.inbox.refusals.store(n, Ordering::SeqCst);
    }

    /// How many of the refusals asked for are still to come.
    pub fn refusals_left(&self) -> usize {
        self.inbox.refusals.load(Ordering::SeqCst)
    }

    /// Where to send: plain SMTP, for the app's `smtp_url`.
    pub fn smtp_url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The oldest message to `to` not yet read, waiting for it to arrive if need be; a
    /// message is read once. Fails the test if none arrives within 10 seconds.
    pub async fn wait_for(&self, to: &str) -> Message {
        self.wait_for_within(to, WAIT)
            .await
            .unwrap_or_else(|| panic!("no mail to {to} within {WAIT:?}"))
    }

    /// Like [`MailSink::wait_for`], but `None` if nothing arrives within `timeout`: for
    /// showing that no mail was sent.
    pub async fn wait_for_within(&self, to: &str, timeout: Duration) -> Option<Message> {
        let wait = async {
            loop {
                // Registered before looking, so a message delivered in between still wakes us.
                let arrived = self.inbox.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if let Some(message) = self.inbox.take(to) {
                    return message;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which ends every open session.
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, inbox: Arc<Inbox>) {
    let mut sessions = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        while sessions.try_join_next().is_some() {}
        sessions.spawn(session(stream, inbox.clone()));
    }
}

/// One SMTP conversation: any number of messages, until QUIT or the client goes away.
async fn session(stream: TcpStream, inbox: Arc<Inbox>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 testkit mail sink\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    while let Some(line) = read_line(&mut read).await? {
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 testkit\r\n",
            "MAIL" if take_refusal(&inbox.refusals) => b"451 4.7.1 Try again later\r\n",
            "MAIL" => {
                from = address(&line);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address(&line));
                b"250 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                while let Some(line) = read_line(&mut read).await? {
                    if line == "." {
                        break;
                    }
                    // A line starting with a dot was sent with one more (RFC 5321 §4.5.2).
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                inbox.deliver(Message {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 OK: queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// Takes one of the refusals left, if any.
fn take_refusal(refusals: &AtomicUsize) -> bool {
    refusals
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// The next line without its line ending, or `None` at the end of the stream.
async fn read_line(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut bytes = Vec::new();
    if read.read_until(b'\n', &mut bytes).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&bytes);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// `MAIL FROM:<ann@example.com> SIZE=123` -> `ann@example.com`.
fn address(command: &str) -> String {
    let after_colon = command.split_once(':').map_or("", |(_, rest)| rest).trim();
    match after_colon.strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or_default().to_owned(),
        None => after_colon
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn reads_addresses_headers_and_quoted_printable_bodies() {
        assert_eq!(
            address("MAIL FROM:<a@example.com> SIZE=10"),
            "a@example.com"
        );
        assert_eq!(address("RCPT TO: b@example.com"), "b@example.com");
        let message = Message {
            from: "a@example.com".into(),
            to: vec!["b@example.com".into()],
            data: "Subject: Hi\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   https://x.example/?token=3Dabc=\r\ndef\r\ncaf=C3=A9\r\n"
                .into(),
        };
        assert_eq!(message.header("subject"), Some("Hi"));
        assert_eq!(message.body(), "https://x.example/?token=abcdef\ncafé\n");
    }

    /// A conversation as a client holds it, byte by byte.
    #[tokio::test]
    async fn keeps_each_message_for_its_recipient() {
        let sink = MailSink::start().await;
        let mut stream = TcpStream::connect(sink.addr).await.unwrap();
        stream
            .write_all(
                b"EHLO client\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<B@example.com>\r\n\
                  DATA\r\nSubject: Hi\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\n",
            )
            .await
            .unwrap();
        let mut replies = String::new();
        stream.read_to_string(&mut replies).await.unwrap();
        let codes: Vec<&str> = replies.lines().map(|l| &l[..3]).collect();
        assert_eq!(codes, ["220", "250", "250", "250", "354", "250", "221"]);

        let message = sink.wait_for("b@example.com").await;
        assert_eq!(message.from, "a@example.com");
        assert_eq!(message.body(), ".dot\nbody\n");
        assert!(
            sink.wait_for_within("b@example.com", Duration::from_millis(50))
                .await
                .is_none(),
            "a message is read once"
        );
    }
}
