//! The development TSA: an RFC 3161 server over HTTP/1.1 (hyper), NOT qualified.
//!
//! Its data directory holds three files, made on first start and reused afterwards:
//! - `tsa.key.pem`: its ECDSA P-256 key (PKCS#8, mode 0600 on Unix);
//! - `tsa.pem`: its self-signed certificate (see [`super::issue::make_dev_identity`]);
//! - `serial`: the last serial number issued, in decimal. Each token's serial is written
//!   there before the token leaves, so serials stay unique and increasing across restarts.
//!
//! Or it is given its key and certificate ([`DevTsa::with_key`]: a PKCS#8 file or a key in a
//! PKCS#11 token, with a certificate carrying the timeStamping EKU), and the directory keeps
//! only `serial`.
//!
//! Its HTTP listener is in the service layer (`crate::service::tsa`), like every other
//! listener: this module is the unit and its files, without side effects but its own folder.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::Error;
use super::issue::{Answered, DEV_POLICY, Tsu, make_dev_identity};
use crate::crypto::SigningKey;

/// The default data directory: `ponte-tsa` under the OS temporary directory.
pub fn default_data_dir() -> PathBuf {
    std::env::temp_dir().join("ponte-tsa")
}

/// The development TSA: its unit and its serial counter.
pub struct DevTsa {
    tsu: Tsu,
    dir: PathBuf,
    cert_path: PathBuf,
    serial: Mutex<u64>,
}

impl std::fmt::Debug for DevTsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTsa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl DevTsa {
    /// Opens the TSA kept in `dir`, making its key, certificate and serial file at `now`
    /// when they do not exist yet. A key without certificate (or the reverse) is an error:
    /// nothing is overwritten.
    pub fn open(dir: &Path, now: time::OffsetDateTime) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let key_path = dir.join("tsa.key.pem");
        let cert_path = dir.join("tsa.pem");
        let serial_path = dir.join("serial");
        let (key, cert) = match (key_path.exists(), cert_path.exists()) {
            (false, false) => {
                let (key, cert) = make_dev_identity(now)?;
                write_atomically(&key_path, pem("PRIVATE KEY", &key).as_bytes(), true)?;
                write_atomically(&cert_path, pem("CERTIFICATE", &cert).as_bytes(), false)?;
                (key, cert)
            }
            (true, true) => {
                let key = PrivatePkcs8KeyDer::from_pem_file(&key_path)
                    .map_err(|e| Error::Key(format!("{}: {e}", key_path.display())))?;
                let cert = CertificateDer::from_pem_file(&cert_path)
                    .map_err(|e| Error::Certificate(format!("{}: {e}", cert_path.display())))?;
                (key.secret_pkcs8_der().to_vec(), cert.as_ref().to_vec())
            }
            (true, false) => {
                return Err(Error::Certificate(format!(
                    "{} is missing",
                    cert_path.display()
                )));
            }
            (false, true) => return Err(Error::Key(format!("{} is missing", key_path.display()))),
        };
        let serial = read_serial(&serial_path)?;
        let tsu = Tsu::new(&key, &cert, DEV_POLICY)?;
        Ok(Self {
            tsu,
            dir: dir.to_path_buf(),
            cert_path,
            serial: Mutex::new(serial),
        })
    }

    /// A TSA signing with `key` (PKCS#8 or in a PKCS#11 token) under the certificate in the
    /// PEM file `cert_path` (which must match the key); `dir` keeps only the serial counter.
    pub fn with_key(dir: &Path, key: SigningKey, cert_path: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let cert = CertificateDer::from_pem_file(cert_path)
            .map_err(|e| Error::Certificate(format!("{}: {e}", cert_path.display())))?;
        let serial = read_serial(&dir.join("serial"))?;
        let tsu = Tsu::with_key(key, cert.as_ref(), DEV_POLICY)?;
        Ok(Self {
            tsu,
            dir: dir.to_path_buf(),
            cert_path: cert_path.to_path_buf(),
            serial: Mutex::new(serial),
        })
    }

    /// The TSA's certificate file.
    pub fn cert_path(&self) -> PathBuf {
        self.cert_path.clone()
    }

    /// The unit.
    pub fn tsu(&self) -> &Tsu {
        &self.tsu
    }

    /// The next serial number, persisted before it is returned.
    pub fn next_serial(&self) -> Result<u64, Error> {
        let mut guard = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        let next = guard.checked_add(1).ok_or_else(|| Error::Io {
            path: self.dir.join("serial").display().to_string(),
            source: std::io::Error::other("serial numbers exhausted"),
        })?;
        write_atomically(
            &self.dir.join("serial"),
            format!("{next}\n").as_bytes(),
            false,
        )?;
        *guard = next;
        Ok(next)
    }

    /// Answers one DER request at `now`.
    pub fn answer(
        &self,
        request: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<(Vec<u8>, Answered), Error> {
        self.tsu.answer(request, now, || self.next_serial())
    }
}

/// The last serial issued (0 when the file does not exist yet).
fn read_serial(serial_path: &Path) -> Result<u64, Error> {
    match std::fs::read_to_string(serial_path) {
        Ok(s) => s.trim().parse::<u64>().map_err(|_| Error::Io {
            path: serial_path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a decimal serial"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(serial_path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_kept_and_serials_increase_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        let a = DevTsa::open(dir.path(), now).expect("first");
        assert_eq!(a.next_serial().expect("s"), 1);
        assert_eq!(a.next_serial().expect("s"), 2);
        let cert = std::fs::read(a.cert_path()).expect("cert");
        drop(a);
        let b = DevTsa::open(dir.path(), now).expect("second");
        assert_eq!(std::fs::read(b.cert_path()).expect("cert"), cert);
        assert_eq!(b.next_serial().expect("s"), 3);
    }

    #[test]
    fn half_an_identity_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = time::macros::datetime!(2026-11-24 12:00 UTC);
        DevTsa::open(dir.path(), now).expect("first");
        std::fs::remove_file(dir.path().join("tsa.pem")).expect("rm");
        assert!(matches!(
            DevTsa::open(dir.path(), now),
            Err(Error::Certificate(_))
        ));
    }
}
