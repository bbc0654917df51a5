//! Delivery (SMTP out) and the SMTP sink every service test talks to
//! (`tests/peers/smtp_sink.py`, a real aiosmtpd server in a second process).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::SmtpSink;

/// One SMTP command; the reply code (multi-line replies read whole).
fn cmd(r: &mut BufReader<TcpStream>, w: &mut TcpStream, line: &str) -> u16 {
    if !line.is_empty() {
        w.write_all(line.as_bytes()).expect("write");
        w.write_all(b"\r\n").expect("write");
    }
    loop {
        let mut l = String::new();
        r.read_line(&mut l).expect("read reply");
        if l.len() < 4 || l.as_bytes()[3] != b'-' {
            return l.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        }
    }
}

#[test]
fn the_sink_keeps_messages_byte_exact_and_counts_connections() {
    let Some(sink) = SmtpSink::start(&["--reject-rcpt", "^nobody@"]) else {
        return;
    };
    let body = b"Subject: sink\r\n\r\n.a line starting with a dot\r\nlast\r\n";
    for round in 0..2 {
        let mut w = TcpStream::connect(sink.addr).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut r = BufReader::new(w.try_clone().expect("clone"));
        assert_eq!(cmd(&mut r, &mut w, ""), 220);
        assert_eq!(cmd(&mut r, &mut w, "EHLO test.local"), 250);
        assert_eq!(cmd(&mut r, &mut w, "MAIL FROM:<a@x.test>"), 250);
        assert_eq!(cmd(&mut r, &mut w, "RCPT TO:<b@y.test>"), 250);
        assert_eq!(cmd(&mut r, &mut w, "RCPT TO:<nobody@y.test>"), 550);
        assert_eq!(cmd(&mut r, &mut w, "DATA"), 354);
        // Dot-stuffed on the wire, as a client must.
        w.write_all(b"Subject: sink\r\n\r\n..a line starting with a dot\r\nlast\r\n.\r\n")
            .expect("data");
        assert_eq!(cmd(&mut r, &mut w, ""), 250, "round {round}");
        assert_eq!(cmd(&mut r, &mut w, "QUIT"), 221);
    }
    let got = sink.messages();
    assert_eq!(got.len(), 2);
    for m in &got {
        assert_eq!(m.body, body, "message {}", m.n);
        assert_eq!(m.mail_from, "a@x.test");
        assert_eq!(m.rcpt_tos, vec!["b@y.test".to_string()]);
        assert!(!m.tls);
    }
    assert_eq!((got[0].connection, got[1].connection), (1, 2));
    assert_eq!(sink.connections(), 2);
}

#[test]
fn the_sink_refuses_while_its_refuse_file_exists_and_survives_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flag = tmp.path().join("down");
    let flag_s = flag.display().to_string();
    let Some(mut sink) = SmtpSink::start(&["--refuse-file", &flag_s]) else {
        return;
    };
    std::fs::write(&flag, "").expect("flag");
    let mut w = TcpStream::connect(sink.addr).expect("connect");
    w.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(w.try_clone().expect("clone"));
    assert_eq!(cmd(&mut r, &mut w, ""), 220);
    assert_eq!(cmd(&mut r, &mut w, "EHLO test.local"), 250);
    assert_eq!(cmd(&mut r, &mut w, "MAIL FROM:<a@x.test>"), 451);
    std::fs::remove_file(&flag).expect("unflag");
    assert_eq!(cmd(&mut r, &mut w, "MAIL FROM:<a@x.test>"), 250);
    drop((r, w));
    let addr = sink.addr;
    sink.restart();
    assert_eq!(sink.addr, addr);
    let mut w = TcpStream::connect(sink.addr).expect("connect after the restart");
    w.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(w.try_clone().expect("clone"));
    assert_eq!(cmd(&mut r, &mut w, ""), 220);
    assert_eq!(sink.connections(), 2, "the log goes on across the restart");
}
