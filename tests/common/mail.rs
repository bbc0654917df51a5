//! Reading signed mail independently of Ponte's MIME code: `openssl cms -verify`, parts found
//! by plain byte search of the boundary, header values.

use std::path::Path;

/// `openssl cms -verify` of a signed message against `ca`; returns the signed content.
pub fn openssl_verify(msg: &Path, ca: &Path) -> Vec<u8> {
    let out = msg.with_extension("content");
    let o = std::process::Command::new("openssl")
        .args([
            "cms", "-verify", "-inform", "SMIME", "-purpose", "any", "-in",
        ])
        .arg(msg)
        .arg("-CAfile")
        .arg(ca)
        .arg("-out")
        .arg(&out)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl cms -verify {}: {}",
        msg.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(&out).expect("content")
}

/// The parts of a multipart body, found by its boundary with plain byte search (independent of
/// Ponte's MIME code): (header block, body) pairs.
pub fn split_parts(entity: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = entity;
    let head_end = find(text, b"\r\n\r\n").expect("entity headers");
    let head = String::from_utf8_lossy(&text[..head_end]).to_string();
    let unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ");
    let b_at = unfolded.find("boundary=").expect("boundary");
    let rest = &unfolded[b_at + 9..];
    let boundary = if let Some(r) = rest.strip_prefix('"') {
        r.split('"').next().unwrap_or_default().to_string()
    } else {
        rest.split([';', ' ', '\r', '\n'])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let delim = format!("\r\n--{boundary}");
    let body = &text[head_end + 2..];
    let mut parts = Vec::new();
    let mut pos = find(body, &delim.as_bytes()[2..]).expect("first delimiter");
    loop {
        let after = pos + delim.len() - 2;
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        let start = after + 2; // CRLF after the delimiter line
        let next = find(&body[start..], delim.as_bytes()).expect("next delimiter") + start;
        let part = &body[start..next];
        let he = find(part, b"\r\n\r\n").unwrap_or(0);
        parts.push((
            String::from_utf8_lossy(&part[..he]).to_string(),
            part[(he + 4).min(part.len())..].to_vec(),
        ));
        pos = next + 2;
    }
    parts
}

pub fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

pub fn header(msg: &[u8], name: &str) -> Vec<String> {
    let end = find(msg, b"\r\n\r\n").unwrap_or(msg.len());
    let head = String::from_utf8_lossy(&msg[..end])
        .replace("\r\n\t", " ")
        .replace("\r\n ", " ");
    head.split("\r\n")
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .collect()
}

/// The base64 body of the part whose `REM-Section-Type` is `section`, decoded.
pub fn section(entity: &[u8], section: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    split_parts(entity)
        .into_iter()
        .find(|(h, _)| {
            header(format!("{h}\r\n\r\n").as_bytes(), "REM-Section-Type")
                .first()
                .is_some_and(|v| v == section)
        })
        .and_then(|(_, b)| {
            let clean: Vec<u8> = b.into_iter().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(clean).ok()
        })
}
