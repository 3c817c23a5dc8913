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
    assert!(ehlo.contains("AUTH LOGIN PLAIN"), "{ehlo}");
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
