//! A mail sink that speaks real SMTP on 127.0.0.1: EHLO, AUTH (PLAIN and
//! LOGIN, with credentials generated per run), MAIL, RCPT, DATA. The SMTP
//! state machine and parser are the `mailin` crate's; this module owns the
//! sockets, checks the credentials and keeps every message whole.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder, response};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::LoopbackServer;
use super::mail::Mail;

/// The longest line the sink accepts (RFC 5321 allows 1000 octets; the
/// slack is for clients that fold badly). Longer ends the session.
const MAX_LINE: usize = 64 * 1024;

/// The user and password the sink accepts; generated per run. `Debug`
/// never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl SmtpCredentials {
    /// Fresh random credentials.
    pub fn generate() -> Self {
        Self {
            username: format!(
                "stackproof-{}",
                crate::secret::random_word(8).to_ascii_lowercase()
            ),
            password: crate::secret::random_word(32),
        }
    }
}

/// A session that ended before its message was complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenSession {
    pub peer: SocketAddr,
    /// What the client was doing, e.g. "in DATA after 3 lines".
    pub during: String,
}

#[derive(Debug, Default)]
struct Shared {
    mails: Mutex<Vec<Mail>>,
    broken: Mutex<Vec<BrokenSession>>,
    auth_failures: Mutex<Vec<String>>,
}

/// The running sink. Dropping it closes the listener and every session.
#[derive(Debug)]
pub struct MailSink {
    shared: Arc<Shared>,
    server: LoopbackServer,
}

impl MailSink {
    /// Listens on 127.0.0.1 at a free port; only `credentials` may send.
    pub async fn start(credentials: SmtpCredentials) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let server = LoopbackServer::start(move |stream, peer| {
            session(stream, peer, credentials.clone(), s.clone())
        })
        .await?;
        Ok(Self { shared, server })
    }

    /// `host:port`, Alertmanager's `smarthost`.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Every message received whole, in arrival order.
    pub fn mails(&self) -> Vec<Mail> {
        self.shared.mails.lock().unwrap().clone()
    }

    /// Sessions the client broke off before a message was complete.
    pub fn broken_sessions(&self) -> Vec<BrokenSession> {
        self.shared.broken.lock().unwrap().clone()
    }

    /// The user names of refused AUTH attempts (never the passwords).
    pub fn auth_failures(&self) -> Vec<String> {
        self.shared.auth_failures.lock().unwrap().clone()
    }
}

/// What `mailin` tells us about one session, turned into [`Mail`]s.
struct Recorder {
    credentials: SmtpCredentials,
    shared: Arc<Shared>,
    user: Option<String>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    /// Where the conversation is, for the session loop to read when the
    /// client goes away (`mailin` keeps the recorder to itself).
    progress: Arc<Mutex<Progress>>,
}

/// How far a session got.
#[derive(Debug, Default)]
struct Progress {
    in_data: bool,
    data_lines: usize,
    messages: usize,
}

impl Progress {
    /// What the client was doing when it went away.
    fn during(&self, why: &str) -> String {
        if self.in_data {
            format!(
                "{why} in DATA after {} line(s), before the final '.': the message is not kept",
                self.data_lines
            )
        } else {
            format!("{why} outside DATA after {} message(s)", self.messages)
        }
    }
}

impl Recorder {
    fn login(&mut self, user: &str, password: &str) -> Response {
        if user == self.credentials.username && password == self.credentials.password {
            self.user = Some(user.to_owned());
            response::AUTH_OK
        } else {
            self.shared
                .auth_failures
                .lock()
                .unwrap()
                .push(user.to_owned());
            response::INVALID_CREDENTIALS
        }
    }
}

impl Handler for Recorder {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        let mut p = self.progress.lock().unwrap();
        p.in_data = true;
        p.data_lines = 0;
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        self.progress.lock().unwrap().data_lines += 1;
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        {
            let mut p = self.progress.lock().unwrap();
            p.in_data = false;
            p.messages += 1;
        }
        let mail = Mail::parse(
            &self.from,
            &self.to,
            self.user.as_deref(),
            &String::from_utf8_lossy(&self.data),
        );
        self.shared.mails.lock().unwrap().push(mail);
        response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.login(user, password)
    }
}

/// One SMTP conversation: greeting, then a line in, a reply out, until the
/// client quits or goes away.
async fn session(
    stream: TcpStream,
    peer: SocketAddr,
    credentials: SmtpCredentials,
    shared: Arc<Shared>,
) {
    let mut builder = SessionBuilder::new("stackproof-mail-sink");
    // No TLS on loopback: AUTH must be offered in the clear. Go's net/smtp
    // (Alertmanager's client) sends PLAIN in the clear only to localhost.
    builder
        .enable_auth(AuthMechanism::Plain)
        .enable_auth(AuthMechanism::Login)
        .insecure_enable_plaintext_auth();
    let progress = Arc::new(Mutex::new(Progress::default()));
    let recorder = Recorder {
        credentials,
        shared: shared.clone(),
        user: None,
        from: String::new(),
        to: Vec::new(),
        data: Vec::new(),
        progress: progress.clone(),
    };
    let ip: IpAddr = peer.ip();
    let mut smtp = builder.build(ip, recorder);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    if write_response(&mut write, &smtp.greeting()).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    let ended = loop {
        line.clear();
        let n = match (&mut read)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(e) => break Some(format!("read error: {e}")),
        };
        if n == 0 || !line.ends_with(b"\n") {
            // EOF, or a line cut off by EOF or by the length limit.
            break Some(if n >= MAX_LINE {
                format!("a line longer than {MAX_LINE} bytes")
            } else {
                "the client closed the connection".to_owned()
            });
        }
        let res = smtp.process(&line);
        match res.action {
            Action::NoReply => continue,
            Action::Close => {
                let _ = write_response(&mut write, &res).await;
                break None;
            }
            Action::Reply | Action::UpgradeTls => {
                if write_response(&mut write, &res).await.is_err() {
                    break Some("a reply could not be written".to_owned());
                }
            }
        }
    };
    if let Some(why) = ended {
        let during = progress.lock().unwrap().during(&why);
        shared
            .broken
            .lock()
            .unwrap()
            .push(BrokenSession { peer, during });
    }
}

async fn write_response(
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    r: &Response,
) -> std::io::Result<()> {
    let buf = r.buffer()?;
    if buf.is_empty() {
        return Ok(());
    }
    w.write_all(&buf).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A line-by-line SMTP client: sends `line` and returns the whole reply
    /// (every continuation line up to the one with a space after the code).
    struct Client {
        read: BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: tokio::net::tcp::OwnedWriteHalf,
    }

    impl Client {
        async fn connect(addr: SocketAddr) -> (Self, String) {
            let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
            let mut c = Self {
                read: BufReader::new(r),
                write: w,
            };
            let greeting = c.reply().await;
            (c, greeting)
        }

        async fn reply(&mut self) -> String {
            let mut all = String::new();
            loop {
                let mut l = String::new();
                self.read.read_line(&mut l).await.unwrap();
                all.push_str(&l);
                if l.len() < 4 || l.as_bytes()[3] == b' ' {
                    return all;
                }
            }
        }

        async fn send(&mut self, line: &str) -> String {
            self.write
                .write_all(format!("{line}\r\n").as_bytes())
                .await
                .unwrap();
            self.reply().await
        }

        async fn send_raw(&mut self, text: &str) {
            self.write.write_all(text.as_bytes()).await.unwrap();
        }
    }

    fn plain(user: &str, password: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
    }

    async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
        crate::eventually::Eventually::new("the sink to record the session", Duration::from_secs(5))
            .until(|| {
                let v = f();
                async move {
                    match v {
                        Some(v) => crate::eventually::Probe::Ready(v),
                        None => crate::eventually::Probe::NotYet("nothing yet".into()),
                    }
                }
            })
            .await
            .unwrap()
    }
    use std::time::Duration;

    #[tokio::test]
    async fn a_whole_conversation_keeps_the_message_with_its_headers() {
        let creds = SmtpCredentials::generate();
        let sink = MailSink::start(creds.clone()).await.unwrap();
        let (mut c, greeting) = Client::connect(sink.addr()).await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        let ehlo = c.send("EHLO alertmanager").await;
        assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
        // Not authenticated yet: the sink refuses the sender (503: bad
        // sequence, AUTH must come first).
        assert!(c.send("MAIL FROM:<am@stackproof>").await.starts_with("503"));
        let auth = format!("AUTH PLAIN {}", plain(&creds.username, &creds.password));
        assert!(c.send(&auth).await.starts_with("235"));
        assert!(c.send("MAIL FROM:<am@stackproof>").await.starts_with("250"));
        assert!(
            c.send("RCPT TO:<oncall@stackproof>")
                .await
                .starts_with("250")
        );
        assert!(c.send("DATA").await.starts_with("354"));
        c.send_raw("Subject: [FIRING] Win\r\nX-Group: {}:{a=\"b\"}\r\n\r\n..dot\r\nbody\r\n")
            .await;
        assert!(c.send(".").await.starts_with("250"));
        assert!(c.send("QUIT").await.starts_with("221"));
        let mails = wait_for(|| Some(sink.mails()).filter(|m| !m.is_empty())).await;
        let m = &mails[0];
        assert_eq!(m.envelope_from, "am@stackproof");
        assert_eq!(m.envelope_to, vec!["oncall@stackproof".to_owned()]);
        assert_eq!(m.auth_user.as_deref(), Some(creds.username.as_str()));
        assert_eq!(m.header("x-group"), Some("{}:{a=\"b\"}"));
        assert_eq!(m.body, ".dot\r\nbody\r\n", "dot-unstuffed");
        assert!(sink.broken_sessions().is_empty());
    }

    #[tokio::test]
    async fn wrong_credentials_are_refused_and_named() {
        let sink = MailSink::start(SmtpCredentials::generate()).await.unwrap();
        let (mut c, _) = Client::connect(sink.addr()).await;
        c.send("EHLO x").await;
        let r = c
            .send(&format!("AUTH PLAIN {}", plain("intruder", "guess")))
            .await;
        assert!(r.starts_with("535"), "{r}");
        assert_eq!(sink.auth_failures(), vec!["intruder".to_owned()]);
        assert!(sink.mails().is_empty());
    }

    #[tokio::test]
    async fn a_client_breaking_off_mid_data_leaves_no_message_and_is_reported() {
        let creds = SmtpCredentials::generate();
        let sink = MailSink::start(creds.clone()).await.unwrap();
        let (mut c, _) = Client::connect(sink.addr()).await;
        c.send("EHLO x").await;
        c.send(&format!(
            "AUTH PLAIN {}",
            plain(&creds.username, &creds.password)
        ))
        .await;
        c.send("MAIL FROM:<a@x>").await;
        c.send("RCPT TO:<b@x>").await;
        assert!(c.send("DATA").await.starts_with("354"));
        c.send_raw("Subject: cut\r\n\r\nhalf a line").await;
        drop(c);
        let broken = wait_for(|| Some(sink.broken_sessions()).filter(|b| !b.is_empty())).await;
        assert!(
            broken[0].during.contains("in DATA after 2 line(s)"),
            "{broken:?}"
        );
        assert!(sink.mails().is_empty());
    }

    #[tokio::test]
    async fn dropping_the_sink_closes_its_port() {
        let sink = MailSink::start(SmtpCredentials::generate()).await.unwrap();
        let addr = sink.addr();
        let (mut c, _) = Client::connect(addr).await;
        drop(sink);
        // The open session is aborted too: the client reads EOF.
        let mut buf = [0u8; 16];
        let n = c.read.read(&mut buf).await.unwrap_or(0);
        assert_eq!(n, 0);
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = SmtpCredentials::generate();
        assert!(!format!("{c:?}").contains(&c.password));
    }
}
