//! `ponte serve --dev`: the gateway on its embedded defaults, for a newcomer's first run and
//! for tests. NOTHING here is for production: the keys are files made on this machine, the
//! CA is nobody's, the TSA is not qualified, the index lists only the development provider.
//!
//! In the data folder (made once, kept):
//!
//! ```text
//! DIR/README.txt           what this folder is (development only)
//! DIR/pki/                 a development root CA; the PEC and REM identities it issued
//!                          (ECDSA P-256, PKCS#8 keys); a TLS certificate for STARTTLS on loopback
//! DIR/index.ldif           an index snapshot listing the development PEC provider
//! DIR/index.run.ldif       that snapshot plus the entries of each `--index FILE` (rewritten
//!                          at each start; only when `--index` is given)
//! DIR/tsa/                 the development TSA's key, certificate and serial
//! DIR/ops.token            the bearer token of the ops API
//! DIR/sample/original.eml  a user's message for a foreign (REM) recipient
//! DIR/ponte.toml           the configuration (rewritten at each start: ports, TSA URL)
//! DIR/try.sh               wraps the sample as a signed PEC envelope and sends it (rewritten)
//! DIR/spool/               the queue
//! DIR/outbox/              what the gateway delivers (except what a `--route` sends on)
//! ```
//!
//! [`Extras`] (`--route`, `--trust`, `--index`) are for a harness that brings its own test
//! vectors: the conformance suite sends inputs signed with the repository's test PKI
//! (`tests/pki`) and collects what the gateway sends on at a sink it opens. They go into the
//! configuration written for this start only; the made files stay as they are, and a start
//! without them is the plain development gateway again. `ponte serve --config` has none of
//! them: a production gateway says its routes, anchors and index in its configuration file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

/// The development PEC provider's name (daticert `gestore-emittente`, evidence issuer).
pub const PROVIDER: &str = "Ponte Development Provider (NOT FOR PRODUCTION)";
/// The development provider's domain (reserved `.test`: it never resolves).
pub const DOMAIN: &str = "pec.ponte-dev.test";
/// The sample's sender, a PEC mailbox of the development provider.
pub const SENDER: &str = "mario.rossi@pec.ponte-dev.test";
/// The sample's recipient, on a foreign (REM) domain.
pub const RECIPIENT: &str = "anna.schmidt@rem.example.eu";

/// Errors of the development set-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the data folder could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A certificate could not be made.
    #[error("development PKI: {0}")]
    Pki(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn pki(e: impl std::fmt::Display) -> Error {
    Error::Pki(e.to_string())
}

fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io(&tmp))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// What a harness adds to one start of the development gateway (`ponte serve --dev`
/// `--route`, `--trust`, `--index`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// `[[route]]`s (domain pattern, relay `HOST:PORT`), without TLS, before the outbox.
    pub routes: Vec<(String, String)>,
    /// PEM files of anchors trusted for PEC and REM signers besides the development root.
    pub trust: Vec<PathBuf>,
    /// LDIF snapshots whose providers are listed besides the development provider.
    pub index: Vec<PathBuf>,
}

/// What `--dev` made, and where.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The data folder.
    pub dir: PathBuf,
    /// The configuration written for this start.
    pub config: PathBuf,
    /// The script that pushes the sample through the gateway.
    pub try_script: PathBuf,
    /// The outbox.
    pub outbox: PathBuf,
    /// What was made now (empty when everything was already there).
    pub made: Vec<String>,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CountryName, "IT");
    d.push(
        DnType::OrganizationName,
        "Ponte development (NOT FOR PRODUCTION)",
    );
    d.push(DnType::CommonName, cn);
    d
}

fn validity(p: &mut CertificateParams, now: OffsetDateTime) {
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(3650);
}

/// Makes the development PKI in `dir/pki` unless it is there.
fn make_pki(dir: &Path, now: OffsetDateTime, made: &mut Vec<String>) -> Result<(), Error> {
    let pki_dir = dir.join("pki");
    if pki_dir.join("root-ca.pem").is_file() {
        return Ok(());
    }
    let root_key = KeyPair::generate().map_err(pki)?;
    let mut root = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
    root.distinguished_name = dn("Ponte DEVELOPMENT root CA - NOT FOR PRODUCTION");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut root, now);
    let root_cert = root.self_signed(&root_key).map_err(pki)?;
    let issuer = Issuer::from_params(&root, &root_key);
    let leaf = |cn: &str,
                email: Option<&str>,
                dns: &[&str],
                eku: ExtendedKeyUsagePurpose,
                usages: Vec<KeyUsagePurpose>|
     -> Result<(KeyPair, rcgen::Certificate), Error> {
        let key = KeyPair::generate().map_err(pki)?;
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        p.distinguished_name = dn(cn);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = usages;
        p.extended_key_usages = vec![eku];
        if let Some(e) = email {
            p.subject_alt_names
                .push(SanType::Rfc822Name(e.try_into().map_err(pki)?));
        }
        for d in dns {
            p.subject_alt_names
                .push(SanType::DnsName((*d).try_into().map_err(pki)?));
        }
        if !dns.is_empty() {
            p.subject_alt_names
                .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        }
        p.use_authority_key_identifier_extension = true;
        validity(&mut p, now);
        let cert = p.signed_by(&key, &issuer).map_err(pki)?;
        Ok((key, cert))
    };
    let signing = || {
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ]
    };
    let system = format!("posta-certificata@{DOMAIN}");
    let (pec_key, pec) = leaf(
        "Ponte DEVELOPMENT PEC provider - NOT FOR PRODUCTION",
        Some(&system),
        &[],
        ExtendedKeyUsagePurpose::EmailProtection,
        signing(),
    )?;
    let rem_service = format!("rem-service@{DOMAIN}");
    let (rem_key, rem) = leaf(
        "Ponte DEVELOPMENT REM e-seal - NOT FOR PRODUCTION",
        Some(&rem_service),
        &[],
        ExtendedKeyUsagePurpose::EmailProtection,
        signing(),
    )?;
    let (tls_key, tls) = leaf(
        "localhost",
        None,
        &["localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
        vec![KeyUsagePurpose::DigitalSignature],
    )?;
    write(
        &pki_dir.join("pec.key.pem"),
        pec_key.serialize_pem().as_bytes(),
        true,
    )?;
    write(&pki_dir.join("pec.pem"), pec.pem().as_bytes(), false)?;
    write(
        &pki_dir.join("rem.key.pem"),
        rem_key.serialize_pem().as_bytes(),
        true,
    )?;
    write(&pki_dir.join("rem.pem"), rem.pem().as_bytes(), false)?;
    write(
        &pki_dir.join("smtp.key.pem"),
        tls_key.serialize_pem().as_bytes(),
        true,
    )?;
    write(&pki_dir.join("smtp.pem"), tls.pem().as_bytes(), false)?;
    // The root last: its presence says the folder is complete.
    write(
        &pki_dir.join("root-ca.pem"),
        root_cert.pem().as_bytes(),
        false,
    )?;
    made.push(format!(
        "{}: development root CA, PEC and REM identities, STARTTLS certificate (ECDSA P-256)",
        pki_dir.display()
    ));
    Ok(())
}

/// An LDIF snapshot listing the development provider with its PEC certificate.
fn index_snapshot(pec_pem: &[u8]) -> Result<String, Error> {
    use base64::Engine;
    let certs = crate::x509::load_pem(pec_pem).map_err(pki)?;
    let cert = certs
        .first()
        .ok_or_else(|| Error::Pki("no PEC certificate".into()))?;
    let sha1 = crate::crypto::digest(crate::crypto::DigestAlgorithm::Sha1, cert.der());
    let hash = sha1
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let mut folded = String::new();
    for (i, ch) in b64.chars().enumerate() {
        if i > 0 && i % 76 == 0 {
            folded.push_str("\n ");
        }
        folded.push(ch);
    }
    Ok(format!(
        "# DEVELOPMENT ONLY - NOT THE AgID INDEX - made by `ponte serve --dev`.\n\
         version: 1\n\n\
         dn: providerName={PROVIDER},o=postacert\n\
         objectClass: top\n\
         objectClass: provider\n\
         providerName: {PROVIDER}\n\
         mailReceipt: posta-certificata@{DOMAIN}\n\
         description: Development provider of ponte serve --dev. Not a real provider.\n\
         providerCertificateHash: {hash}\n\
         providerCertificate;binary:: {folded}\n\
         managedDomains: {DOMAIN}\n"
    ))
}

fn sample(now: OffsetDateTime) -> String {
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    format!(
        "From: Mario Rossi <{SENDER}>\r\n\
         To: Anna Schmidt <{RECIPIENT}>\r\n\
         Subject: Ponte development sample (NOT FOR PRODUCTION)\r\n\
         Date: {date}\r\n\
         Message-ID: <sample.{}@pec.ponte-dev.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Buongiorno Anna,\r\n\
         this certified message crosses from PEC to REM through Ponte's development gateway.\r\n\
         Nothing here is for production.\r\n",
        now.unix_timestamp()
    )
}

fn sh(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// Makes what is missing in `dir` and (re)writes the configuration and the try script for
/// this start: SMTP on `smtp`, ops on `ops`, the TSA at `tsa_url` with certificate `tsa_cert`,
/// and what `extras` adds.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    dir: &Path,
    smtp: SocketAddr,
    ops: SocketAddr,
    tsa_url: &str,
    tsa_cert: &Path,
    ponte: &Path,
    now: OffsetDateTime,
    extras: &Extras,
) -> Result<Setup, Error> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dir = std::path::absolute(dir).map_err(io(dir))?;
    let mut made = Vec::new();
    let readme = dir.join("README.txt");
    if !readme.is_file() {
        write(
            &readme,
            b"Made by `ponte serve --dev`. DEVELOPMENT ONLY - NOT FOR PRODUCTION.\n\
              The keys in pki/ are plain files made on this machine, the CA is nobody's,\n\
              the TSA in tsa/ is not qualified, index.ldif lists only the development\n\
              provider. Delete this folder to start again from nothing.\n",
            false,
        )?;
    }
    make_pki(&dir, now, &mut made)?;
    let pki_dir = dir.join("pki");
    let index = dir.join("index.ldif");
    if !index.is_file() {
        let pem = std::fs::read(pki_dir.join("pec.pem")).map_err(io(&pki_dir))?;
        write(&index, index_snapshot(&pem)?.as_bytes(), false)?;
        made.push(format!(
            "{}: index snapshot listing {PROVIDER}",
            index.display()
        ));
    }
    let token = dir.join("ops.token");
    if !token.is_file() {
        use ring::rand::SecureRandom;
        let mut b = [0u8; 24];
        ring::rand::SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| Error::Pki("the system random generator failed".into()))?;
        let t: String = b.iter().map(|x| format!("{x:02x}")).collect();
        write(&token, format!("{t}\n").as_bytes(), true)?;
        made.push(format!("{}: the ops API token", token.display()));
    }
    let original = dir.join("sample").join("original.eml");
    if !original.is_file() {
        write(&original, sample(now).as_bytes(), false)?;
        made.push(format!(
            "{}: a sample message for {RECIPIENT}",
            original.display()
        ));
    }
    let outbox = dir.join("outbox");
    std::fs::create_dir_all(&outbox).map_err(io(&outbox))?;
    let snapshot = if extras.index.is_empty() {
        "index.ldif".to_owned()
    } else {
        let mut text = std::fs::read_to_string(&index).map_err(io(&index))?;
        for extra in &extras.index {
            let more = std::fs::read_to_string(extra).map_err(io(extra))?;
            text.push_str(&format!("\n# --index {}\n", extra.display()));
            text.push_str(&without_version(&more));
        }
        write(&dir.join("index.run.ldif"), text.as_bytes(), false)?;
        "index.run.ldif".to_owned()
    };
    let mut anchor_list = vec![toml_string("pki/root-ca.pem")];
    for t in &extras.trust {
        let t = std::path::absolute(t).map_err(io(t))?;
        anchor_list.push(toml_string(&t.display().to_string()));
    }
    let anchors = anchor_list.join(", ");
    let mut routes = String::new();
    for (domain, relay) in &extras.routes {
        routes.push_str(&format!(
            "\n[[route]]\ndomain = {}\nrelay = {}\ntls = \"none\"\n",
            toml_string(domain),
            toml_string(relay)
        ));
    }
    let config = dir.join("ponte.toml");
    let text = format!(
        "# Written by `ponte serve --dev` at each start. DEVELOPMENT ONLY - NOT FOR PRODUCTION.\n\
         # Every key is documented in gateway/config/example.toml.\n\n\
         [identity]\n\
         provider_name = \"{PROVIDER}\"\n\
         domain = \"{DOMAIN}\"\n\
         pec_key = \"pki/pec.key.pem\"\n\
         pec_cert = \"pki/pec.pem\"\n\
         rem_key = \"pki/rem.key.pem\"\n\
         rem_cert = \"pki/rem.pem\"\n\n\
         [trust]\n\
         pec_anchors = [{anchors}]\n\
         rem_anchors = [{anchors}]\n\
         tsa_anchors = [{tsa}]\n\n\
         [index]\n\
         snapshot = {snapshot}\n\n\
         [tsa]\n\
         url = \"{tsa_url}\"\n\n\
         [policy]\n\
         applicable = [\"http://uri.etsi.org/19532/v1#/REMbaseline\", \"https://eidas.agid.gov.it/REM/rem-policy-it\"]\n\n\
         [smtp]\n\
         listen = \"{smtp}\"\n\
         hostname = \"localhost\"\n\
         tls_cert = \"pki/smtp.pem\"\n\
         tls_key = \"pki/smtp.key.pem\"\n\n\
         [spool]\n\
         path = \"spool\"\n\n\
         [ops]\n\
         listen = \"{ops}\"\n\
         token_file = \"ops.token\"\n\n\
         [delivery]\n\
         outbox = \"outbox\"\n\
         {routes}",
        tsa = toml_string(&tsa_cert.display().to_string()),
        snapshot = toml_string(&snapshot),
    );
    write(&config, text.as_bytes(), false)?;
    let envelope = dir.join("sample").join("envelope.eml");
    let script = format!(
        "#!/bin/sh\n\
         # Written by `ponte serve --dev`. DEVELOPMENT ONLY.\n\
         # 1. The development PEC provider wraps the sample as a signed PEC transport envelope\n\
         #    (what a provider's PEC platform hands to Ponte for a foreign recipient).\n\
         # 2. It goes to the gateway over SMTP; the REM dispatch appears in {outbox}.\n\
         set -e\n\
         {ponte} pec wrap {original} --key {key} --cert {cert} --provider '{PROVIDER}' --domain {DOMAIN} -o {envelope}\n\
         {ponte} submit {envelope} --smtp {smtp} --from posta-certificata@{DOMAIN} --to {RECIPIENT}\n\
         echo \"sent; look in {outbox}\"\n",
        ponte = sh(ponte),
        original = sh(&original),
        key = sh(&pki_dir.join("pec.key.pem")),
        cert = sh(&pki_dir.join("pec.pem")),
        envelope = sh(&envelope),
        outbox = outbox.display(),
    );
    let try_script = dir.join("try.sh");
    write(&try_script, script.as_bytes(), false)?;
    Ok(Setup {
        dir,
        config,
        try_script,
        outbox,
        made,
    })
}

/// An LDIF text without its `version:` line (only the first record of a file may carry it).
fn without_version(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if !line.to_ascii_lowercase().starts_with("version:") {
            out.push_str(line);
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_folder_is_made_once_and_loads() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let now = OffsetDateTime::now_utc();
        let tsa = dir.path().join("tsa.pem");
        let tsa_id = crate::tsp::server::DevTsa::open(&dir.path().join("tsa"), now)
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(tsa_id.cert_path(), &tsa).unwrap_or_else(|e| panic!("{e}"));
        let smtp: SocketAddr = "127.0.0.1:2525".parse().unwrap_or_else(|e| panic!("{e}"));
        let ops: SocketAddr = "127.0.0.1:9025".parse().unwrap_or_else(|e| panic!("{e}"));
        let s = prepare(
            dir.path(),
            smtp,
            ops,
            "http://127.0.0.1:3161/",
            &tsa,
            Path::new("/bin/ponte"),
            now,
            &Extras::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.made.len() >= 4, "{:?}", s.made);
        let root = std::fs::read(dir.path().join("pki/root-ca.pem")).unwrap_or_default();
        // Loads as a configuration: keys match certificates, anchors read, snapshot parses.
        let cfg = crate::config::Config::load(&s.config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.identity.domain, DOMAIN);
        assert_eq!(cfg.service.smtp.listen, smtp);
        // The PEC identity chains to the root and is the index's provider.
        let index = cfg.index.open().unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let owners = rt
            .block_on(index.check_signer(cfg.identity.pec_cert.der()))
            .map(|a| a.owners.len())
            .unwrap_or(0);
        assert_eq!(owners, 1);
        // A second start makes nothing new and keeps the PKI.
        let again = prepare(
            dir.path(),
            smtp,
            ops,
            "http://127.0.0.1:3162/",
            &tsa,
            Path::new("/bin/ponte"),
            now,
            &Extras::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(again.made.is_empty(), "{:?}", again.made);
        assert_eq!(
            std::fs::read(dir.path().join("pki/root-ca.pem")).unwrap_or_default(),
            root
        );
        let text = std::fs::read_to_string(&again.config).unwrap_or_default();
        assert!(text.contains("http://127.0.0.1:3162/") && text.contains("NOT FOR PRODUCTION"));
        let script = std::fs::read_to_string(&again.try_script).unwrap_or_default();
        assert!(script.contains("pec wrap") && script.contains("submit"));
        assert!(!text.contains("[[route]]") && !dir.path().join("index.run.ldif").exists());
    }

    #[test]
    fn extras_add_routes_anchors_and_providers_to_this_start_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let now = OffsetDateTime::now_utc();
        let tsa = dir.path().join("tsa.pem");
        let tsa_id = crate::tsp::server::DevTsa::open(&dir.path().join("tsa"), now)
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(tsa_id.cert_path(), &tsa).unwrap_or_else(|e| panic!("{e}"));
        let tests_pki = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/pki");
        let extras = Extras {
            routes: vec![("*".into(), "127.0.0.1:2599".into())],
            trust: vec![tests_pki.join("root-ca.pem")],
            index: vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/index/default.ldif")],
        };
        let smtp: SocketAddr = "127.0.0.1:2525".parse().unwrap_or_else(|e| panic!("{e}"));
        let ops: SocketAddr = "127.0.0.1:9025".parse().unwrap_or_else(|e| panic!("{e}"));
        let go = |extras: &Extras| {
            prepare(
                dir.path(),
                smtp,
                ops,
                "http://127.0.0.1:3161/",
                &tsa,
                Path::new("/bin/ponte"),
                now,
                extras,
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let s = go(&extras);
        let cfg = crate::config::Config::load(&s.config).unwrap_or_else(|e| panic!("{e}"));
        let routes = &cfg.service.routes;
        assert_eq!(routes.len(), 1, "{routes:?}");
        assert_eq!(cfg.trust.pec_anchors.len(), 2);
        assert_eq!(cfg.trust.rem_anchors.len(), 2);
        // The index lists the development provider and the test providers.
        let index = cfg.index.open().unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let listed = |der: &[u8]| {
            rt.block_on(index.check_signer(der))
                .map(|a| a.owners.len())
                .unwrap_or(0)
        };
        assert_eq!(listed(cfg.identity.pec_cert.der()), 1);
        let pec_rsa = std::fs::read(tests_pki.join("pec-rsa.pem")).unwrap_or_default();
        let pec_rsa = crate::x509::load_pem(&pec_rsa).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(listed(pec_rsa[0].der()), 1);
        let rem_rsa = std::fs::read(tests_pki.join("rem-rsa.pem")).unwrap_or_default();
        let rem_rsa = crate::x509::load_pem(&rem_rsa).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(listed(rem_rsa[0].der()), 0);
        // The next start without them is the plain development gateway again.
        let plain = go(&Extras::default());
        let cfg = crate::config::Config::load(&plain.config).unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.service.routes.is_empty());
        assert_eq!(cfg.trust.pec_anchors.len(), 1);
        let index = cfg.index.open().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rt.block_on(index.check_signer(pec_rsa[0].der()))
                .map(|a| a.owners.len())
                .unwrap_or(0),
            0
        );
    }
}
