//! E-mail over a real SMTP conversation with a sink on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::both;
use crate::helpers::TestApp;

#[derive(Clone, Debug, Default)]
pub(crate) struct Mail {
    pub(crate) to: Vec<String>,
    pub(crate) data: String,
}

/// An SMTP receiver on 127.0.0.1 that keeps every message (other tests use it too).
#[derive(Clone, Default)]
pub(crate) struct Sink {
    mails: Arc<Mutex<Vec<Mail>>>,
    /// How many MAIL commands to refuse with a temporary failure first.
    refuse: Arc<Mutex<u32>>,
    port: u16,
}

impl Sink {
    pub(crate) async fn start(refuse: u32) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Sink {
            port: listener.local_addr().unwrap().port(),
            refuse: Arc::new(Mutex::new(refuse)),
            ..Sink::default()
        };
        let s = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move { s.session(stream).await });
            }
        });
        sink
    }

    async fn session(&self, stream: tokio::net::TcpStream) {
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        let _ = w.write_all(b"220 sink ESMTP\r\n").await;
        let mut mail = Mail::default();
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("HELO")
                || upper.starts_with("RSET")
                || upper.starts_with("NOOP")
            {
                b"250 OK\r\n"
            } else if upper.starts_with("MAIL FROM") {
                let mut refuse = self.refuse.lock().unwrap();
                if *refuse > 0 {
                    *refuse -= 1;
                    b"451 try again later\r\n"
                } else {
                    mail = Mail::default();
                    b"250 OK\r\n"
                }
            } else if upper.starts_with("RCPT TO") {
                mail.to.push(
                    line[8..]
                        .trim()
                        .trim_matches(|c| c == '<' || c == '>' || c == ':')
                        .to_owned(),
                );
                b"250 OK\r\n"
            } else if upper == "DATA" {
                let _ = w.write_all(b"354 go ahead\r\n").await;
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    mail.data.push_str(&l);
                    mail.data.push('\n');
                }
                self.mails.lock().unwrap().push(std::mem::take(&mut mail));
                b"250 queued\r\n"
            } else if upper.starts_with("QUIT") {
                let _ = w.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"502 not implemented\r\n"
            };
            if w.write_all(reply).await.is_err() {
                return;
            }
        }
    }

    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.mails.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} messages arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The recipients of the first `n` messages, once they have arrived.
    pub(crate) async fn recipients(&self, n: usize) -> Vec<String> {
        self.wait_for(n)
            .await
            .into_iter()
            .flat_map(|m| m.to)
            .collect()
    }

    /// How many messages have arrived.
    pub(crate) fn count(&self) -> usize {
        self.mails.lock().unwrap().len()
    }
}

pub(crate) async fn app_with_smtp(
    backend: paylink_store_sql::testing::Backend,
    sink: &Sink,
) -> TestApp {
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let app = TestApp::spawn_with(backend, |c| c.smtp_url = Some(url.clone().into())).await;
    app.start_worker(|c| {
        c.smtp_url = Some(url.into());
        c.email_from = Some("Acme <billing@acme.test>".into());
        c.email_retry_schedule = Some("100ms,100ms".into());
    });
    app
}

both!(
    links_are_emailed_as_html_and_text_with_qr,
    smtp_failures_are_retried,
    receipts_are_emailed,
    without_smtp_messages_are_held
);

async fn links_are_emailed_as_html_and_text_with_qr(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let sink = Sink::start(0).await;
    let app = app_with_smtp(backend, &sink).await;
    let cust = app
        .create(
            "/v1/customers",
            json!({"email": "cust@example.com", "name": "Cus Tomer"}),
        )
        .await;
    let l = app.custom_link("Invoice #42", 4200).await;
    let id = l["id"].as_str().unwrap();
    let r = app
        .post(&format!("/v1/payment_links/{id}/send"), json!({"recipients": [{"customer_id": cust["id"]}, {"email": "other@example.com"}], "message": "Thanks for your order"}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["email_configured"].as_bool()),
        (202, Some(true))
    );
    let mails = sink.wait_for(2).await;
    let mut to: Vec<_> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["cust@example.com", "other@example.com"]);
    let m = &mails[0].data;
    assert!(m.contains("Subject: Acme: Invoice #42"), "{m}");
    assert!(m.contains("From: Acme <billing@acme.test>"));
    assert!(
        m.contains("multipart/alternative") && m.contains("text/plain") && m.contains("text/html")
    );
    assert!(
        m.contains("multipart/related")
            && m.contains("image/png")
            && m.contains("Content-ID: <qr>"),
        "no inline QR"
    );
    let url = l["url"].as_str().unwrap();
    assert!(
        m.matches(url).count() >= 2 || m.replace("=\n", "").matches(url).count() >= 2,
        "the link is in both parts"
    );
    assert!(m.contains("Thanks for your order"));
    let events = app.get("/v1/events?type=payment_link.sent").await;
    assert_eq!(
        events.ok(200)["data"][0]["data"]["object"]["recipients"],
        json!(["cust@example.com", "other@example.com"])
    );
    // The outbox shows them sent.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/v1/emails?status=sent").await.body["data"]
        .as_array()
        .unwrap()
        .len()
        < 2
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Unknown customers and bad lists are refused before anything is queued.
    let path = format!("/v1/payment_links/{id}/send");
    app.post(
        &path,
        json!({"recipients": [{"customer_id": "cus_0000000000000000000000"}]}),
    )
    .await
    .assert_error(422, "recipient_not_found");
    app.post(&path, json!({"recipients": []}))
        .await
        .assert_error(400, "parameter_invalid");
    app.post(
        &path,
        json!({"recipients": vec![json!({"email": "a@example.com"}); 51]}),
    )
    .await
    .assert_error(400, "parameter_invalid");
    app.post(&path, json!({"recipients": [{"email": "nope"}]}))
        .await
        .assert_error(400, "email_invalid")
        .assert_param("recipients[0].email");
    assert_eq!(
        app.get("/v1/emails").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn smtp_failures_are_retried(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let sink = Sink::start(2).await;
    let app = app_with_smtp(backend, &sink).await;
    let l = app.custom_link("Retry me", 100).await;
    app.post(
        &format!("/v1/payment_links/{}/send", l["id"].as_str().unwrap()),
        json!({"recipients": [{"email": "r@example.com"}]}),
    )
    .await
    .ok(202);
    sink.wait_for(1).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let e = app.get("/v1/emails").await;
        if e.body["data"][0]["status"] == "sent" {
            assert_eq!(e.body["data"][0]["attempts"], 3);
            break;
        }
        assert!(Instant::now() < deadline, "{}", e.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A receipt goes out by itself after a payment (HTML and text, with the HSA/FSA-eligible
/// part), once, from the outbox; it can be sent again by hand; a merchant can turn it off.
async fn receipts_are_emailed(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let sink = Sink::start(0).await;
    let app = app_with_smtp(backend, &sink).await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Receipted", "line_items": [
                {"name": "Glasses", "unit_amount": 2000, "hsa_fsa_eligible": true},
                {"name": "Case", "unit_amount": 500}
            ]}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let (_, paid) = app.buy(slug).await;
    let pid = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mails = sink.wait_for(1).await;
    assert_eq!(mails[0].to, ["buyer@example.com"]);
    let m = &mails[0].data;
    assert!(m.contains("Subject: Receipt R-000001 from Acme"), "{m}");
    assert!(m.contains("text/plain") && m.contains("text/html"), "{m}");
    assert!(m.contains("$25.00"), "{m}");
    assert!(m.contains("HSA/FSA eligible: $20.00"), "{m}");
    // Queued once, with the payment, in the outbox.
    let queued = app.get("/v1/emails").await;
    let receipts: Vec<_> = queued.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "receipt")
        .collect();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["related_id"], pid.as_str());
    // Once sent, the outbox keeps what went out: renaming the business later does not
    // rewrite it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.get("/v1/emails").await.body["data"][0]["status"] != "sent" {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.patch("/v1/settings", json!({"business_name": "Renamed"}))
        .await
        .ok(200);
    let listed = app.get("/v1/emails").await;
    assert_eq!(
        listed.body["data"][0]["subject"], "Receipt R-000001 from Acme",
        "{}",
        listed.body
    );
    app.patch("/v1/settings", json!({"business_name": "Acme"}))
        .await
        .ok(200);
    // Sent again by hand.
    app.post(&format!("/v1/payments/{pid}/receipt/send"), json!({}))
        .await
        .ok(202);
    assert_eq!(sink.wait_for(2).await.len(), 2);

    // Turned off: nothing is queued with the payment, nothing more is sent.
    app.patch("/v1/settings", json!({"email_receipts": false}))
        .await
        .ok(200);
    let (_, paid) = app.buy(slug).await;
    let quiet = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let emails = app.get("/v1/emails").await;
    assert!(!emails.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["related_id"] == quiet.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails.lock().unwrap().len(), 2);
}

async fn without_smtp_messages_are_held(app: TestApp) {
    // Receipts are held too, numbered whichever way the payment was written: with stock (a
    // transaction) or plain (one round trip, the number filled in by the write).
    let poster = app
        .create(
            "/v1/products",
            json!({"name": "Poster", "unit_amount": 800, "inventory": {"available": 5}}),
        )
        .await;
    let with_stock = app
        .create(
            "/v1/payment_links",
            json!({"title": "Posters", "line_items": [{"product_id": poster["id"]}]}),
        )
        .await;
    let plain = app.custom_link("Plain", 300).await;
    for (i, l) in [with_stock, plain].iter().enumerate() {
        let (_, paid) = app.buy(l["slug"].as_str().unwrap()).await;
        let pid = paid.unwrap().body["payment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let held = app.get("/v1/emails?status=held").await;
        let receipt = held.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["related_id"] == pid.as_str())
            .unwrap()
            .clone();
        let number = format!("R-{:06}", i + 1);
        assert_eq!(receipt["subject"], format!("Receipt {number} from Acme"));
        for body in ["text_body", "html_body"] {
            let b = receipt[body].as_str().unwrap();
            assert!(b.contains(&number) && !b.contains("receipt_number"), "{b}");
        }
    }
    let l = app.custom_link("No mail server", 100).await;
    let r = app
        .post(
            &format!("/v1/payment_links/{}/send", l["id"].as_str().unwrap()),
            json!({"recipients": [{"email": "h@example.com"}]}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["email_configured"].as_bool()),
        (202, Some(false))
    );
    let held = app.get("/v1/emails?status=held").await;
    assert_eq!(held.ok(200)["data"][0]["to"], "h@example.com");
    assert!(held.body["data"][0]["html_body"]
        .as_str()
        .unwrap()
        .contains(l["url"].as_str().unwrap()));
}
