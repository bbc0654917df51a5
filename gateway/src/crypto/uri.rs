//! PKCS#11 URIs (RFC 7512): which module, which token, which object, and where the PIN is.
//!
//! ```text
//! pkcs11:token=ponte;object=pec?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/ponte/pin
//! ```
//!
//! The path part (before `?`, attributes separated by `;`) selects the token and the object:
//! `token`, `manufacturer`, `serial`, `model` (the token's CK_TOKEN_INFO), `slot-description`,
//! `slot-manufacturer`, `slot-id` (the slot), `library-manufacturer`, `library-description`,
//! `library-version` (the module's CK_INFO), `object` (CKA_LABEL), `id` (CKA_ID, bytes),
//! `type` (`private`, `public`, `cert`, `secret-key`, `data`). The query part (after `?`,
//! separated by `&`) says how to reach it: `module-path` (the module's file), `pin-source`
//! (`file:` URI or plain path of a file holding the PIN), `pin-value` (the PIN itself),
//! `module-name` (kept, but Ponte needs `module-path` to load a module).
//!
//! Values are percent-decoded (RFC 3986 `%XX`); a character the RFC's grammar does not allow
//! in that part (a space, `#`, `/` in the path, ...) must be percent-encoded and is refused
//! otherwise. An attribute Ponte does not know (including vendor `x-` attributes) is refused
//! by name: RFC 7512 §3.3 lets a consumer treat such a URI as matching nothing, and an error
//! saying so is clearer than a key that is never found. Every error names the attribute.
//!
//! The PIN never appears in [`Display`](std::fmt::Display) or [`Debug`] output: a `pin-value`
//! is shown as `pin-value=***`.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretBox};

/// The scheme prefix; a key reference starting with it is a PKCS#11 URI.
pub const SCHEME: &str = "pkcs11:";

/// Whether a key reference (configuration value, `--key` argument) is a PKCS#11 URI rather than
/// a file (the scheme is case-insensitive, RFC 3986 §3.1).
pub fn is_pkcs11_uri(reference: &str) -> bool {
    reference
        .get(..SCHEME.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SCHEME))
}

/// Why a PKCS#11 URI was refused. Every variant names the attribute concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text does not start with `pkcs11:`.
    #[error("not a PKCS#11 URI (it must start with \"pkcs11:\")")]
    Scheme,
    /// A `name=value` pair has no `=` (or an empty name).
    #[error("{part} attribute {text:?} is not name=value")]
    NotAttribute {
        /// `path` or `query`.
        part: &'static str,
        /// The offending text (a `pin-value` is never shown).
        text: String,
    },
    /// The attribute is not one RFC 7512 defines for that part, or a vendor (`x-`) attribute
    /// Ponte does not understand.
    #[error("unknown {part} attribute {name:?} (known: {known})")]
    Unknown {
        /// `path` or `query`.
        part: &'static str,
        /// The attribute name.
        name: String,
        /// The attributes Ponte knows in that part.
        known: &'static str,
    },
    /// An attribute is given twice.
    #[error("attribute {0:?} given more than once")]
    Duplicate(String),
    /// A `%` not followed by two hexadecimal digits.
    #[error("attribute {name:?}: bad percent-encoding {seq:?}")]
    Percent {
        /// The attribute name.
        name: String,
        /// The offending sequence.
        seq: String,
    },
    /// A character the RFC 7512 grammar does not allow unencoded in this part.
    #[error("attribute {name:?}: the character {ch:?} must be percent-encoded (%{:02X})", u32::from(*ch))]
    Character {
        /// The attribute name.
        name: String,
        /// The character.
        ch: char,
    },
    /// A decoded text value that is not UTF-8 (only `id` and `pin-value` are bytes).
    #[error("attribute {0:?}: not UTF-8 once percent-decoded")]
    Utf8(String),
    /// A value of the wrong form (`type`, `library-version`, `slot-id`, an empty value where
    /// one is needed, a `pin-source` that is not a file).
    #[error("attribute {name:?}: {reason}")]
    Value {
        /// The attribute name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `pin-source` and `pin-value` both given (RFC 7512 §2.3: at most one).
    #[error("pin-source and pin-value are both given: use one")]
    TwoPins,
}

/// `type=`: the object class (CKA_CLASS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// `public`: CKO_PUBLIC_KEY.
    Public,
    /// `private`: CKO_PRIVATE_KEY.
    Private,
    /// `cert`: CKO_CERTIFICATE.
    Cert,
    /// `secret-key`: CKO_SECRET_KEY.
    SecretKey,
    /// `data`: CKO_DATA.
    Data,
}

impl ObjectType {
    /// The RFC 7512 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Cert => "cert",
            Self::SecretKey => "secret-key",
            Self::Data => "data",
        }
    }
}

/// A PIN: bytes kept in a zeroed-on-drop box, never shown by `Debug`.
pub struct Pin(SecretBox<Vec<u8>>);

impl Pin {
    /// A PIN from its bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Pin(SecretBox::new(Box::new(bytes)))
    }

    /// The PIN bytes (for `C_Login`).
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl Clone for Pin {
    fn clone(&self) -> Self {
        Pin::new(self.expose().to_vec())
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Pin {}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// Where the PIN comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinSource {
    /// `pin-source=file:/path` or `pin-source=/path`: the first line of that file (a trailing
    /// CR/LF is not part of the PIN). A relative path is resolved by the caller (the
    /// configuration resolves it from its own folder).
    File(PathBuf),
    /// `pin-value=...`: the PIN itself (bytes, percent-decoded).
    Value(Pin),
}

/// A parsed PKCS#11 URI. Absent attributes match anything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Pkcs11Uri {
    /// `token`: the token label (CK_TOKEN_INFO.label).
    pub token: Option<String>,
    /// `manufacturer`: the token's manufacturerID.
    pub manufacturer: Option<String>,
    /// `serial`: the token's serialNumber.
    pub serial: Option<String>,
    /// `model`: the token's model.
    pub model: Option<String>,
    /// `library-manufacturer`: the module's manufacturerID (CK_INFO).
    pub library_manufacturer: Option<String>,
    /// `library-description`: the module's libraryDescription.
    pub library_description: Option<String>,
    /// `library-version`: the module's libraryVersion, `major[.minor]` (minor 0 when absent).
    pub library_version: Option<(u8, u8)>,
    /// `object`: the object's label (CKA_LABEL).
    pub object: Option<String>,
    /// `type`: the object's class.
    pub object_type: Option<ObjectType>,
    /// `id`: the object's CKA_ID (bytes).
    pub id: Option<Vec<u8>>,
    /// `slot-description`: CK_SLOT_INFO.slotDescription.
    pub slot_description: Option<String>,
    /// `slot-manufacturer`: CK_SLOT_INFO.manufacturerID.
    pub slot_manufacturer: Option<String>,
    /// `slot-id`: the slot number.
    pub slot_id: Option<u64>,
    /// `module-path`: the PKCS#11 module (shared library) to load.
    pub module_path: Option<PathBuf>,
    /// `module-name`: a module name without path (kept; loading needs `module-path`).
    pub module_name: Option<String>,
    /// `pin-source` or `pin-value`.
    pub pin: Option<PinSource>,
    /// The URI as written, with a `pin-value` replaced by `***`.
    shown: String,
}

const PATH_KNOWN: &str = "token, manufacturer, serial, model, library-manufacturer, \
     library-description, library-version, object, type, id, slot-description, \
     slot-manufacturer, slot-id";
const QUERY_KNOWN: &str = "module-path, module-name, pin-source, pin-value";

/// RFC 3986 unreserved plus RFC 7512 `pk11-res-avail`; `&` is also allowed in the path, and
/// `/ ? |` in the query.
fn allowed(c: char, query: bool) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.'
                | '_'
                | '~'
                | ':'
                | '['
                | ']'
                | '@'
                | '!'
                | '$'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | '='
        )
        || (!query && c == '&')
        || (query && matches!(c, '/' | '?' | '|'))
}

/// Percent-decodes `value` of attribute `name`, checking each raw character. For `pin-value`
/// the error does not show the offending characters (they are part of the PIN).
fn decode(name: &str, value: &str, query: bool) -> Result<Vec<u8>, Error> {
    decode_shown(name, value, query).map_err(|e| {
        if name == "pin-value" {
            value_error(
                name,
                "bad percent-encoding, or a character that must be percent-encoded (not shown)",
            )
        } else {
            e
        }
    })
}

fn decode_shown(name: &str, value: &str, query: bool) -> Result<Vec<u8>, Error> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok().map(|v| (h, v)));
            match hex {
                Some((h, v)) if h.bytes().all(|c| c.is_ascii_hexdigit()) => {
                    out.push(v);
                    i += 3;
                }
                _ => {
                    let seq: String = value.get(i..).unwrap_or("").chars().take(3).collect();
                    return Err(Error::Percent {
                        name: name.to_string(),
                        seq,
                    });
                }
            }
        } else {
            // Multi-byte characters are never allowed raw; report the whole character.
            let ch = value.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
            if !allowed(ch, query) {
                return Err(Error::Character {
                    name: name.to_string(),
                    ch,
                });
            }
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

fn text(name: &str, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| Error::Utf8(name.to_string()))
}

fn set<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::Duplicate(name.to_string()));
    }
    *slot = Some(value);
    Ok(())
}

fn value_error(name: &str, reason: impl Into<String>) -> Error {
    Error::Value {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// What stands for a piece of the query in an error when the query holds a `pin-value` (an
/// unencoded `&` in the PIN would make a piece of it look like an attribute).
const HIDDEN: &str = "(not shown: the query holds a pin-value)";

fn split_attr<'a>(
    part: &'static str,
    attr: &'a str,
    redact: bool,
) -> Result<(&'a str, &'a str), Error> {
    match attr.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n, v)),
        _ => Err(Error::NotAttribute {
            part,
            text: if redact || attr.starts_with("pin-value") {
                HIDDEN.to_string()
            } else {
                attr.to_string()
            },
        }),
    }
}

fn library_version(v: &str) -> Result<(u8, u8), Error> {
    let bad = || value_error("library-version", format!("{v:?} is not MAJOR[.MINOR]"));
    let (major, minor) = match v.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    let num = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u8>().map_err(|_| bad())
    };
    Ok((num(major)?, minor.map(num).transpose()?.unwrap_or(0)))
}

/// `file:` URI or plain path → the file.
fn pin_file(v: &str) -> Result<PathBuf, Error> {
    if v.is_empty() {
        return Err(value_error("pin-source", "empty"));
    }
    let path = if let Some(rest) = v.strip_prefix("file:") {
        // file:/abs, file:///abs or file://localhost/abs (RFC 8089).
        match rest.strip_prefix("//") {
            Some(auth_path) => {
                let (host, path) =
                    auth_path.split_at(auth_path.find('/').unwrap_or(auth_path.len()));
                if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                    return Err(value_error(
                        "pin-source",
                        format!("file URI with a remote host {host:?}"),
                    ));
                }
                path
            }
            None => rest,
        }
    } else if let Some((scheme, _)) = v.split_once(':')
        && scheme.len() > 1
        && !scheme.contains('/')
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(value_error(
            "pin-source",
            format!("the scheme {scheme}: is not supported (a file: URI or a file path)"),
        ));
    } else {
        v
    };
    if path.is_empty() {
        return Err(value_error("pin-source", "the file URI has no path"));
    }
    Ok(PathBuf::from(path))
}

impl Pkcs11Uri {
    /// Parses a `pkcs11:` URI (RFC 7512).
    pub fn parse(uri: &str) -> Result<Self, Error> {
        if !is_pkcs11_uri(uri) {
            return Err(Error::Scheme);
        }
        let rest = uri.get(SCHEME.len()..).unwrap_or("");
        // A fragment is not part of a PKCS#11 URI; `#` must be encoded anyway.
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut u = Pkcs11Uri::default();
        let mut shown = String::from(SCHEME);
        shown.push_str(path);
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, raw) = split_attr("path", attr, false)?;
            let val = decode(name, raw, false)?;
            match name {
                "token" => set(&mut u.token, name, text(name, val)?)?,
                "manufacturer" => set(&mut u.manufacturer, name, text(name, val)?)?,
                "serial" => set(&mut u.serial, name, text(name, val)?)?,
                "model" => set(&mut u.model, name, text(name, val)?)?,
                "library-manufacturer" => set(&mut u.library_manufacturer, name, text(name, val)?)?,
                "library-description" => set(&mut u.library_description, name, text(name, val)?)?,
                "library-version" => {
                    let v = library_version(&text(name, val)?)?;
                    set(&mut u.library_version, name, v)?
                }
                "object" => set(&mut u.object, name, text(name, val)?)?,
                "type" => {
                    let t = match text(name, val)?.as_str() {
                        "public" => ObjectType::Public,
                        "private" => ObjectType::Private,
                        "cert" => ObjectType::Cert,
                        "secret-key" => ObjectType::SecretKey,
                        "data" => ObjectType::Data,
                        other => {
                            return Err(value_error(
                                name,
                                format!(
                                    "{other:?} is not public, private, cert, secret-key or data"
                                ),
                            ));
                        }
                    };
                    set(&mut u.object_type, name, t)?
                }
                "id" => set(&mut u.id, name, val)?,
                "slot-description" => set(&mut u.slot_description, name, text(name, val)?)?,
                "slot-manufacturer" => set(&mut u.slot_manufacturer, name, text(name, val)?)?,
                "slot-id" => {
                    let t = text(name, val)?;
                    let n = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                        t.parse::<u64>().ok()
                    } else {
                        None
                    }
                    .ok_or_else(|| value_error(name, format!("{t:?} is not a decimal number")))?;
                    set(&mut u.slot_id, name, n)?
                }
                other => {
                    return Err(Error::Unknown {
                        part: "path",
                        name: other.to_string(),
                        known: PATH_KNOWN,
                    });
                }
            }
        }
        if let Some(query) = query {
            let mut shown_q = Vec::new();
            let mut pin_source = None;
            let mut pin_value = None;
            let redact = query.contains("pin-value");
            for attr in query.split('&').filter(|a| !a.is_empty()) {
                let (name, raw) = split_attr("query", attr, redact)?;
                let val = decode(name, raw, true)?;
                match name {
                    "module-path" => {
                        let t = text(name, val)?;
                        if t.is_empty() {
                            return Err(value_error(name, "empty"));
                        }
                        set(&mut u.module_path, name, PathBuf::from(t))?
                    }
                    "module-name" => set(&mut u.module_name, name, text(name, val)?)?,
                    "pin-source" => {
                        let t = text(name, val)?;
                        set(&mut pin_source, name, pin_file(&t)?)?
                    }
                    "pin-value" => set(&mut pin_value, name, Pin::new(val))?,
                    other => {
                        return Err(Error::Unknown {
                            part: "query",
                            name: if redact {
                                HIDDEN.to_string()
                            } else {
                                other.to_string()
                            },
                            known: QUERY_KNOWN,
                        });
                    }
                }
                shown_q.push(if name == "pin-value" {
                    "pin-value=***"
                } else {
                    attr
                });
            }
            u.pin = match (pin_source, pin_value) {
                (Some(_), Some(_)) => return Err(Error::TwoPins),
                (Some(f), None) => Some(PinSource::File(f)),
                (None, Some(v)) => Some(PinSource::Value(v)),
                (None, None) => None,
            };
            shown.push('?');
            shown.push_str(&shown_q.join("&"));
        }
        u.shown = shown;
        Ok(u)
    }

    /// The PIN source with a relative `pin-source` path resolved from `base`.
    pub fn pin_resolved(&self, base: &Path) -> Option<PinSource> {
        match &self.pin {
            Some(PinSource::File(p)) => Some(PinSource::File(base.join(p))),
            other => other.clone(),
        }
    }

    /// Whether the PIN is written in the URI itself (`pin-value`), which puts it in the
    /// configuration file or the process arguments.
    pub fn has_pin_value(&self) -> bool {
        matches!(self.pin, Some(PinSource::Value(_)))
    }
}

impl std::str::FromStr for Pkcs11Uri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// The URI as written, except a `pin-value`, shown as `pin-value=***`.
impl std::fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

    #[test]
    fn the_issue_example() {
        let u = Pkcs11Uri::parse(&format!(
            "pkcs11:token=ponte;object=pec?module-path={SOFTHSM}&pin-source=file:/etc/ponte/pin"
        ))
        .expect("parse");
        assert_eq!(u.token.as_deref(), Some("ponte"));
        assert_eq!(u.object.as_deref(), Some("pec"));
        assert_eq!(u.module_path.as_deref(), Some(Path::new(SOFTHSM)));
        assert_eq!(u.pin, Some(PinSource::File("/etc/ponte/pin".into())));
        assert!(!u.has_pin_value());
    }

    #[test]
    fn every_path_attribute_and_percent_decoding() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=1a2b;model=SoftHSM%20v2;\
             library-manufacturer=SoftHSM;library-description=Implementation%20of%20PKCS11;\
             library-version=2.6;object=a%3Bb%2Fc;type=private;id=%01%FF;slot-description=s;\
             slot-manufacturer=m;slot-id=42",
        )
        .expect("parse");
        assert_eq!(u.token.as_deref(), Some("My Token"));
        assert_eq!(u.manufacturer.as_deref(), Some("SoftHSM project"));
        assert_eq!(u.serial.as_deref(), Some("1a2b"));
        assert_eq!(u.model.as_deref(), Some("SoftHSM v2"));
        assert_eq!(u.library_manufacturer.as_deref(), Some("SoftHSM"));
        assert_eq!(
            u.library_description.as_deref(),
            Some("Implementation of PKCS11")
        );
        assert_eq!(u.library_version, Some((2, 6)));
        assert_eq!(u.object.as_deref(), Some("a;b/c"));
        assert_eq!(u.object_type, Some(ObjectType::Private));
        assert_eq!(u.id.as_deref(), Some(&[0x01, 0xff][..]));
        assert_eq!(u.slot_description.as_deref(), Some("s"));
        assert_eq!(u.slot_manufacturer.as_deref(), Some("m"));
        assert_eq!(u.slot_id, Some(42));
        assert_eq!(u.pin, None);
        assert_eq!(u.module_path, None);
    }

    #[test]
    fn library_version_without_minor() {
        let u = Pkcs11Uri::parse("pkcs11:library-version=3").expect("parse");
        assert_eq!(u.library_version, Some((3, 0)));
        for bad in ["3.", ".1", "a.b", "300", "1.2.3"] {
            let e = Pkcs11Uri::parse(&format!("pkcs11:library-version={bad}")).unwrap_err();
            assert!(
                matches!(&e, Error::Value { name, .. } if name == "library-version"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn pin_value_is_never_shown() {
        let u = Pkcs11Uri::parse("pkcs11:token=t;object=o?pin-value=s3cr%65t&module-path=/m.so")
            .expect("parse");
        assert_eq!(u.pin, Some(PinSource::Value(Pin::new(b"s3cret".to_vec()))));
        assert!(u.has_pin_value());
        let shown = u.to_string();
        assert_eq!(
            shown,
            "pkcs11:token=t;object=o?pin-value=***&module-path=/m.so"
        );
        let debug = format!("{u:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert!(!shown.contains("s3cr"), "{shown}");
        // Nor is any piece of a malformed query that holds a PIN.
        for uri in [
            "pkcs11:?pin-value",
            "pkcs11:?pin-value=s3cr%zz",
            "pkcs11:?pin-value=s3cr et",
            "pkcs11:?pin-value=ab&s3cr",
            "pkcs11:?pin-value=ab&s3cr=et",
        ] {
            let e = Pkcs11Uri::parse(uri).expect_err(uri);
            assert!(!e.to_string().contains("s3cr"), "{uri}: {e}");
            assert!(!format!("{e:?}").contains("s3cr"), "{uri}: {e:?}");
        }
    }

    #[test]
    fn pin_sources() {
        for (v, want) in [
            ("file:/etc/ponte/pin", "/etc/ponte/pin"),
            ("file:///etc/ponte/pin", "/etc/ponte/pin"),
            ("file://localhost/etc/ponte/pin", "/etc/ponte/pin"),
            ("/etc/ponte/pin", "/etc/ponte/pin"),
            ("pin.txt", "pin.txt"),
            ("file:pin.txt", "pin.txt"),
        ] {
            let u = Pkcs11Uri::parse(&format!("pkcs11:?pin-source={v}")).expect(v);
            assert_eq!(u.pin, Some(PinSource::File(want.into())), "{v}");
        }
        let u = Pkcs11Uri::parse("pkcs11:?pin-source=pin.txt").expect("parse");
        assert_eq!(
            u.pin_resolved(Path::new("/etc/ponte")),
            Some(PinSource::File("/etc/ponte/pin.txt".into()))
        );
        for bad in ["file://other.host/pin", "https://x/pin", "", "file:"] {
            let e = Pkcs11Uri::parse(&format!("pkcs11:?pin-source={bad}")).unwrap_err();
            assert!(
                matches!(&e, Error::Value { name, .. } if name == "pin-source"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:?pin-source=/p&pin-value=1").unwrap_err(),
            Error::TwoPins
        );
    }

    #[test]
    fn errors_name_the_attribute() {
        let cases: &[(&str, &str)] = &[
            ("pkcs11:token=a;token=b", "\"token\""),
            ("pkcs11:tokn=a", "\"tokn\""),
            ("pkcs11:x-vendor=a", "\"x-vendor\""),
            ("pkcs11:?module-path=/a&module-path=/b", "\"module-path\""),
            ("pkcs11:?modulepath=/a", "\"modulepath\""),
            ("pkcs11:object=a%2", "\"object\""),
            ("pkcs11:object=a%zz", "\"object\""),
            ("pkcs11:object=a b", "\"object\""),
            ("pkcs11:object=a/b", "\"object\""),
            ("pkcs11:id=%01#", "\"id\""),
            ("pkcs11:object=%FF", "\"object\""),
            ("pkcs11:type=key", "\"type\""),
            ("pkcs11:slot-id=-1", "\"slot-id\""),
            ("pkcs11:?module-path=", "\"module-path\""),
            ("pkcs11:token", "\"token\""),
        ];
        for (uri, name) in cases {
            let e = Pkcs11Uri::parse(uri).expect_err(uri);
            assert!(e.to_string().contains(name), "{uri}: {e}");
        }
        assert_eq!(Pkcs11Uri::parse("file:/k.pem").unwrap_err(), Error::Scheme);
    }

    #[test]
    fn query_allows_slashes_and_the_scheme_is_case_insensitive() {
        let u = Pkcs11Uri::parse("PKCS11:object=k?module-path=/usr/lib/x.so").expect("parse");
        assert_eq!(u.module_path.as_deref(), Some(Path::new("/usr/lib/x.so")));
        assert!(is_pkcs11_uri("Pkcs11:token=x"));
        assert!(!is_pkcs11_uri("pkcs11"));
        assert!(!is_pkcs11_uri("/etc/ponte/pec.key.pem"));
        // `&` is allowed raw in the path, `?` only once (the first one starts the query).
        let u = Pkcs11Uri::parse("pkcs11:object=a&b?module-path=/m?x").expect("parse");
        assert_eq!(u.object.as_deref(), Some("a&b"));
        assert_eq!(u.module_path.as_deref(), Some(Path::new("/m?x")));
        // An empty URI is valid: it matches every token and object.
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:"),
            Ok(Pkcs11Uri::parse("pkcs11:").expect("e"))
        );
    }
}
