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
        Self::start_on(IpAddr::from([127, 0, 0, 1]), credentials).await
    }

    /// As [`MailSink::start`], on `ip` (a local address the stack reaches).
    pub async fn start_on(ip: IpAddr, credentials: SmtpCredentials) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let server = LoopbackServer::start(ip, move |stream, peer| {
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
    // No TLS: AUTH must be offered in the clear. Alertmanager takes the
    // first advertised mechanism it has credentials for, and Go's net/smtp
    // PLAIN refuses an unencrypted connection to any host but localhost
    // ("unencrypted connection"): LOGIN first, so the pods of a kind
    // cluster, which reach the sink on the Docker network's gateway, log
    // in too.
    builder
        .enable_auth(AuthMechanism::Login)
        .enable_auth(AuthMechanism::Plain)
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
mod tests;
