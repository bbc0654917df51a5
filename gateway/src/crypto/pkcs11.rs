//! Signing keys in a PKCS#11 token (an HSM, a smart card, SoftHSM), named by an RFC 7512 URI
//! ([`super::uri`]). The token only signs: the hashing for ECDSA is done by ring, and the CMS
//! and XAdES structures around the signature are Ponte's, as with a PKCS#8 key.
//!
//! Mechanisms: RSA keys sign with `CKM_SHA256_RSA_PKCS` (the token hashes the few hundred
//! bytes of signed attributes or SignedInfo and pads; PKCS#1 v1.5 is deterministic, so the
//! signature is byte for byte what ring makes with the same key in PKCS#8), ECDSA P-256 keys
//! with `CKM_ECDSA` over the SHA-256 digest computed by ring (the raw mechanism every token
//! has; `CKM_ECDSA_SHA256` is not universal). The token answers `r || s`, which is what
//! XML-DSig wants; CMS gets it re-encoded as a DER `Ecdsa-Sig-Value`.
//!
//! Sessions: one module context per module file and one token state per (module, slot) in the
//! process, shared by every key of that token. The first session opened logs in (`C_Login`
//! with the user PIN, once); further sessions, opened only when signatures run concurrently,
//! share that login (PKCS#11 login state is per application and token). Sessions go back to
//! an idle pool after each signature and stay open, so the token stays logged in; at most
//! [`MAX_SESSIONS`] are open per token, and a signer beyond that waits for one. When the token
//! drops (C_Sign or C_SignInit answers `CKR_SESSION_HANDLE_INVALID`, `CKR_SESSION_CLOSED`,
//! `CKR_DEVICE_REMOVED`, `CKR_TOKEN_NOT_PRESENT`, `CKR_DEVICE_ERROR`, `CKR_USER_NOT_LOGGED_IN`
//! or `CKR_CRYPTOKI_NOT_INITIALIZED`), the pool is thrown away, the token is found again (its
//! slot may have changed), a session is opened and logged in, the key is found again, and the
//! signature is retried once.
//!
//! The PIN is read once when the key is opened (`pin-source` file or `pin-value`), kept in a
//! zeroed-on-drop box, and never printed: errors show the URI with `pin-value=***`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;
use der::Encode;
use der::asn1::UintRef;

use super::KeyKind;
use super::uri::{ObjectType, Pin, PinSource, Pkcs11Uri};

/// The most sessions open at once on one token (a signer beyond that waits for a free one).
/// Signing is CPU- or round-trip-bound in the token; more sessions than concurrent signers
/// only cost the token memory, and some HSMs limit sessions per partition.
pub const MAX_SESSIONS: usize = 16;

/// The DER of the P-256 curve OID, as in `CKA_EC_PARAMS`.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Why a PKCS#11 key could not be opened or could not sign. Each variant names the URI (with
/// any `pin-value` shown as `***`); none shows the PIN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URI has no `module-path`: Ponte loads the module by its file.
    #[error("{uri}: no module-path (name the PKCS#11 module file, e.g. module-path=/usr/lib/softhsm/libsofthsm2.so){}",
        if *module_name { "; module-name alone is not enough" } else { "" })]
    NoModule {
        /// The URI.
        uri: String,
        /// Whether a `module-name` was given instead.
        module_name: bool,
    },
    /// The module file could not be loaded, or `C_Initialize` failed.
    #[error("{uri}: PKCS#11 module {}: {reason}", path.display())]
    Module {
        /// The URI.
        uri: String,
        /// The module file.
        path: PathBuf,
        /// What the loader or the module said.
        reason: String,
    },
    /// The module's `CK_INFO` does not match a `library-*` attribute of the URI.
    #[error("{uri}: the module {} is {found}, which the library-* attributes do not match", path.display())]
    LibraryMismatch {
        /// The URI.
        uri: String,
        /// The module file.
        path: PathBuf,
        /// The module's manufacturer, description and version.
        found: String,
    },
    /// No initialised token matches the URI's token and slot attributes.
    #[error("{uri}: no token matches (tokens present: {})",
        if present.is_empty() { "none".to_string() } else { present.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", ") })]
    TokenNotFound {
        /// The URI.
        uri: String,
        /// The labels of the initialised tokens the module shows.
        present: Vec<String>,
    },
    /// Several tokens match.
    #[error("{uri}: {count} tokens match: add token=, serial= or slot-id= to choose one")]
    AmbiguousToken {
        /// The URI.
        uri: String,
        /// How many.
        count: usize,
    },
    /// The URI's `type` is not `private`: a signing key is a private key object.
    #[error("{uri}: type={found} names no private key; a signing key is type=private")]
    NotPrivateKey {
        /// The URI.
        uri: String,
        /// The type given.
        found: &'static str,
    },
    /// No private key object of the token matches `object` and `id`.
    #[error("{uri}: no private key matches in token {token:?} (check object= and id=)")]
    ObjectNotFound {
        /// The URI.
        uri: String,
        /// The token's label.
        token: String,
    },
    /// Several private keys match.
    #[error(
        "{uri}: {count} private keys match in token {token:?}: add object= or id= to choose one"
    )]
    AmbiguousObject {
        /// The URI.
        uri: String,
        /// The token's label.
        token: String,
        /// How many.
        count: usize,
    },
    /// The `pin-source` file could not be read.
    #[error("{uri}: cannot read the PIN file {}: {reason}", path.display())]
    PinFile {
        /// The URI.
        uri: String,
        /// The file (resolved).
        path: PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// The token needs a login and the URI gives no PIN (and the token has no PIN pad).
    #[error("{uri}: token {token:?} needs a PIN: add pin-source=file:/path/to/pin to the URI")]
    NoPin {
        /// The URI.
        uri: String,
        /// The token's label.
        token: String,
    },
    /// `C_Login` refused the PIN (`CKR_PIN_INCORRECT`, `CKR_PIN_LEN_RANGE`).
    #[error("{uri}: the token {token:?} refused the PIN ({rv})")]
    PinIncorrect {
        /// The URI.
        uri: String,
        /// The token's label.
        token: String,
        /// The return value, e.g. `CKR_PIN_INCORRECT`.
        rv: String,
    },
    /// The user PIN is locked (`CKR_PIN_LOCKED`): too many wrong PINs.
    #[error("{uri}: the user PIN of token {token:?} is locked (CKR_PIN_LOCKED)")]
    PinLocked {
        /// The URI.
        uri: String,
        /// The token's label.
        token: String,
    },
    /// This process already uses the token with another PIN (PKCS#11 login is per process
    /// and token, so two PINs cannot both be checked).
    #[error("{uri}: token {token:?} is already in use in this process with another PIN")]
    PinConflict {
        /// The URI.
        uri: String,
        /// The token's label.
        token: String,
    },
    /// The key is not RSA or ECDSA P-256.
    #[error("{uri}: {what}; Ponte signs with RSA or ECDSA P-256 keys")]
    UnsupportedKey {
        /// The URI.
        uri: String,
        /// What the key is.
        what: String,
    },
    /// The key wants a login before every signature (`CKA_ALWAYS_AUTHENTICATE`), which a
    /// gateway signing thousands of messages does not do.
    #[error(
        "{uri}: the key requires a login before each signature (CKA_ALWAYS_AUTHENTICATE true), which Ponte does not support"
    )]
    AlwaysAuthenticate {
        /// The URI.
        uri: String,
    },
    /// The token answered a signature of unexpected length.
    #[error("{uri}: the token returned a {len}-byte ECDSA signature (P-256 wants 64)")]
    SignatureLength {
        /// The URI.
        uri: String,
        /// The length received.
        len: usize,
    },
    /// Any other PKCS#11 failure: the function and the return value.
    #[error("{uri}: {function}: {rv}")]
    Token {
        /// The URI.
        uri: String,
        /// The PKCS#11 function, e.g. `C_Sign`.
        function: String,
        /// The return value, e.g. `CKR_KEY_FUNCTION_NOT_PERMITTED`, or cryptoki's description.
        rv: String,
    },
}

/// `SessionHandleInvalid` → `CKR_SESSION_HANDLE_INVALID`.
fn ckr_name(rv: RvError) -> String {
    let debug = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in debug.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `Sign` → `C_Sign`.
fn function_name(e: &CkError) -> Option<String> {
    match e {
        CkError::Pkcs11(_, f) => Some(format!("C_{f:?}")),
        _ => None,
    }
}

fn token_error(uri: &str, context: &str, e: &CkError) -> Error {
    let (function, rv) = match e {
        CkError::Pkcs11(rv, _) => (
            function_name(e).unwrap_or_else(|| context.to_string()),
            ckr_name(*rv),
        ),
        other => (context.to_string(), other.to_string()),
    };
    Error::Token {
        uri: uri.to_string(),
        function,
        rv,
    }
}

fn rv_of(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// The failures after which the token is re-opened and the operation retried once.
fn token_dropped(e: &CkError) -> bool {
    matches!(
        rv_of(e),
        Some(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::DeviceError
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized
        )
    )
}

/// The failures after which only the key object is looked up again.
fn handle_stale(e: &CkError) -> bool {
    matches!(
        rv_of(e),
        Some(RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid)
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn initialize(ctx: &Pkcs11) -> Result<(), CkError> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Err(e) if rv_of(&e) == Some(RvError::CryptokiAlreadyInitialized) => Ok(()),
        other => other,
    }
}

/// The module contexts of the process, by module file.
fn module(uri: &Pkcs11Uri, shown: &str) -> Result<(PathBuf, Pkcs11), Error> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let path = uri.module_path.clone().ok_or_else(|| Error::NoModule {
        uri: shown.to_string(),
        module_name: uri.module_name.is_some(),
    })?;
    let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    let mut modules = lock(MODULES.get_or_init(Default::default));
    if let Some(ctx) = modules.get(&key) {
        return Ok((key, ctx.clone()));
    }
    let fail = |reason: String| Error::Module {
        uri: shown.to_string(),
        path: path.clone(),
        reason,
    };
    let ctx = Pkcs11::new(&path).map_err(|e| match e {
        CkError::LibraryLoading(l) => fail(format!("cannot load: {l}")),
        other => fail(other.to_string()),
    })?;
    initialize(&ctx).map_err(|e| {
        fail(match rv_of(&e) {
            Some(rv) => format!("C_Initialize: {}", ckr_name(rv)),
            None => e.to_string(),
        })
    })?;
    modules.insert(key.clone(), ctx.clone());
    Ok((key, ctx))
}

fn check_library(ctx: &Pkcs11, uri: &Pkcs11Uri, shown: &str, path: &Path) -> Result<(), Error> {
    if uri.library_manufacturer.is_none()
        && uri.library_description.is_none()
        && uri.library_version.is_none()
    {
        return Ok(());
    }
    let info = ctx
        .get_library_info()
        .map_err(|e| token_error(shown, "C_GetInfo", &e))?;
    let v = info.library_version();
    let ok = uri
        .library_manufacturer
        .as_deref()
        .is_none_or(|m| m == info.manufacturer_id())
        && uri
            .library_description
            .as_deref()
            .is_none_or(|d| d == info.library_description())
        && uri
            .library_version
            .is_none_or(|(a, b)| (a, b) == (v.major(), v.minor()));
    if ok {
        Ok(())
    } else {
        Err(Error::LibraryMismatch {
            uri: shown.to_string(),
            path: path.to_path_buf(),
            found: format!(
                "library-manufacturer={:?} library-description={:?} library-version={}",
                info.manufacturer_id(),
                info.library_description(),
                v
            ),
        })
    }
}

/// The one initialised token matching the URI's token and slot attributes, and its label.
fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri, shown: &str) -> Result<(Slot, String), CkOr> {
    let mut present = Vec::new();
    let mut found = Vec::new();
    for slot in ctx.get_slots_with_token().map_err(CkOr::Ck)? {
        let ti = match ctx.get_token_info(slot) {
            Ok(t) => t,
            // A slot emptied between the two calls.
            Err(e) if matches!(rv_of(&e), Some(RvError::TokenNotPresent)) => continue,
            Err(e) => return Err(CkOr::Ck(e)),
        };
        if !ti.token_initialized() {
            continue;
        }
        present.push(ti.label().to_string());
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        if uri.slot_id.is_some_and(|id| id != slot.id())
            || !eq(&uri.token, ti.label())
            || !eq(&uri.manufacturer, ti.manufacturer_id())
            || !eq(&uri.model, ti.model())
            || !eq(&uri.serial, ti.serial_number())
        {
            continue;
        }
        if uri.slot_description.is_some() || uri.slot_manufacturer.is_some() {
            let si = ctx.get_slot_info(slot).map_err(CkOr::Ck)?;
            if !eq(&uri.slot_description, si.slot_description())
                || !eq(&uri.slot_manufacturer, si.manufacturer_id())
            {
                continue;
            }
        }
        found.push((slot, ti.label().to_string()));
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CkOr::Ponte(Error::TokenNotFound {
            uri: shown.to_string(),
            present,
        })),
        count => Err(CkOr::Ponte(Error::AmbiguousToken {
            uri: shown.to_string(),
            count,
        })),
    }
}

/// A cryptoki failure (to be judged: retry or report) or one of ours.
enum CkOr {
    Ck(CkError),
    Ponte(Error),
}

impl CkOr {
    fn into_error(self, uri: &str, context: &str) -> Error {
        match self {
            CkOr::Ck(e) => token_error(uri, context, &e),
            CkOr::Ponte(e) => e,
        }
    }
}

/// How often a token logged in, opened sessions and was re-opened since the process started
/// using it (for tests and operators: one login serves every signature).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// `C_Login` calls that succeeded.
    pub logins: u64,
    /// `C_OpenSession` calls that succeeded.
    pub sessions_opened: u64,
    /// Times the token was re-opened after it dropped.
    pub reopens: u64,
    /// Sessions open now (idle or signing).
    pub open_now: usize,
}

struct State {
    slot: Slot,
    /// Bumped at every re-open; sessions and key handles of an older generation are dead.
    generation: u64,
    idle: Vec<Session>,
    /// Sessions of this generation, idle or lent.
    open: usize,
    logged_in: bool,
}

/// One token of one module, shared by every key in it.
struct Token {
    ctx: Pkcs11,
    /// What selects the token again after a re-open (the first URI that opened it).
    selector: Pkcs11Uri,
    shown: String,
    label: String,
    pin: Option<Pin>,
    login_required: bool,
    protected_path: bool,
    state: Mutex<State>,
    freed: Condvar,
    logins: AtomicU64,
    opened: AtomicU64,
    reopens: AtomicU64,
}

/// A session lent by the pool; it goes back on drop (unless its generation is gone).
struct Lease<'t> {
    token: &'t Token,
    session: Option<Session>,
    generation: u64,
}

impl Lease<'_> {
    fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Closes the session instead of returning it (it failed in a way that may have broken it).
    fn discard(mut self) {
        let s = self.session.take();
        let mut st = lock(&self.token.state);
        if st.generation == self.generation {
            st.open = st.open.saturating_sub(1);
            if st.open == 0 {
                st.logged_in = false;
            }
        }
        drop(st);
        drop(s);
        self.token.freed.notify_one();
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let mut st = lock(&self.token.state);
            if st.generation == self.generation {
                st.idle.push(s);
            } else {
                drop(st);
                drop(s);
            }
            self.token.freed.notify_one();
        }
    }
}

impl Token {
    fn stats(&self) -> SessionStats {
        SessionStats {
            logins: self.logins.load(Ordering::Relaxed),
            sessions_opened: self.opened.load(Ordering::Relaxed),
            reopens: self.reopens.load(Ordering::Relaxed),
            open_now: lock(&self.state).open,
        }
    }

    /// Opens a session on the current slot, logging in when this generation is not yet.
    fn open_session(&self, st: &mut State) -> Result<Session, CkOr> {
        let s = self.ctx.open_ro_session(st.slot).map_err(CkOr::Ck)?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        if !st.logged_in && (self.login_required || self.pin.is_some()) {
            let r = match &self.pin {
                Some(pin) => s.login_with_raw(
                    UserType::User,
                    &RawAuthPin::new(Box::new(pin.expose().to_vec())),
                ),
                None if self.protected_path => s.login(UserType::User, None),
                None => {
                    return Err(CkOr::Ponte(Error::NoPin {
                        uri: self.shown.clone(),
                        token: self.label.clone(),
                    }));
                }
            };
            match r {
                Ok(()) => {
                    self.logins.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if rv_of(&e) == Some(RvError::UserAlreadyLoggedIn) => {}
                Err(e) => {
                    return Err(match rv_of(&e) {
                        Some(rv @ (RvError::PinIncorrect | RvError::PinLenRange)) => {
                            CkOr::Ponte(Error::PinIncorrect {
                                uri: self.shown.clone(),
                                token: self.label.clone(),
                                rv: ckr_name(rv),
                            })
                        }
                        Some(RvError::PinLocked) => CkOr::Ponte(Error::PinLocked {
                            uri: self.shown.clone(),
                            token: self.label.clone(),
                        }),
                        _ => CkOr::Ck(e),
                    });
                }
            }
        }
        st.logged_in = true;
        st.open += 1;
        Ok(s)
    }

    /// A session from the pool, or a new one (waiting when [`MAX_SESSIONS`] are lent).
    fn checkout(&self) -> Result<Lease<'_>, CkOr> {
        let mut st = lock(&self.state);
        loop {
            if let Some(s) = st.idle.pop() {
                return Ok(Lease {
                    token: self,
                    session: Some(s),
                    generation: st.generation,
                });
            }
            if st.open < MAX_SESSIONS {
                let s = self.open_session(&mut st)?;
                return Ok(Lease {
                    token: self,
                    session: Some(s),
                    generation: st.generation,
                });
            }
            st = self.freed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Throws the sessions of generation `failed` away and finds the token again. Does
    /// nothing when another signer already re-opened it.
    fn reopen(&self, failed: u64) -> Result<(), CkOr> {
        let mut st = lock(&self.state);
        if st.generation != failed {
            return Ok(());
        }
        st.idle.clear();
        st.open = 0;
        st.logged_in = false;
        st.generation += 1;
        self.reopens.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(uri = %self.shown, "PKCS#11 token dropped its sessions: re-opening");
        let (slot, _) = match find_slot(&self.ctx, &self.selector, &self.shown) {
            Err(CkOr::Ck(e)) if rv_of(&e) == Some(RvError::CryptokiNotInitialized) => {
                initialize(&self.ctx).map_err(CkOr::Ck)?;
                find_slot(&self.ctx, &self.selector, &self.shown)?
            }
            other => other?,
        };
        st.slot = slot;
        drop(st);
        self.freed.notify_all();
        Ok(())
    }
}

/// The tokens of the process, by module file and slot id.
type Tokens = Mutex<HashMap<(PathBuf, u64), Weak<Token>>>;

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(Default::default)
}

fn read_pin(path: &Path, shown: &str) -> Result<Pin, Error> {
    let mut bytes = std::fs::read(path).map_err(|e| Error::PinFile {
        uri: shown.to_string(),
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    // The first line: a PIN file written by `echo` ends with a newline that is not the PIN's.
    if let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
        bytes.truncate(end);
    }
    Ok(Pin::new(bytes))
}

/// The key object to find in the token.
#[derive(Clone)]
struct Object {
    label: Option<String>,
    id: Option<Vec<u8>>,
}

impl Object {
    fn template(&self, class: ObjectClass) -> Vec<Attribute> {
        let mut t = vec![Attribute::Class(class)];
        if let Some(l) = &self.label {
            t.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }
}

/// A private key in a PKCS#11 token.
pub struct Pkcs11Key {
    token: Arc<Token>,
    shown: String,
    object: Object,
    kind: KeyKind,
    public: Option<Vec<u8>>,
    /// The key's handle and the token generation it was found in.
    handle: Mutex<Option<(u64, ObjectHandle)>>,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("uri", &self.shown)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn find_one(
    session: &Session,
    object: &Object,
    shown: &str,
    token: &str,
) -> Result<ObjectHandle, CkOr> {
    let mut found = session
        .find_objects(&object.template(ObjectClass::PRIVATE_KEY))
        .map_err(CkOr::Ck)?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CkOr::Ponte(Error::ObjectNotFound {
            uri: shown.to_string(),
            token: token.to_string(),
        })),
        count => Err(CkOr::Ponte(Error::AmbiguousObject {
            uri: shown.to_string(),
            token: token.to_string(),
            count,
        })),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017), the
/// content of a certificate's subjectPublicKey BIT STRING for an RSA key.
#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 5480 / X9.62).
#[derive(der::Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// The fixed `r || s` form (64 bytes for P-256) as a DER `Ecdsa-Sig-Value`.
pub fn ecdsa_fixed_to_der(fixed: &[u8]) -> Option<Vec<u8>> {
    if fixed.is_empty() || !fixed.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    EcdsaSigValue {
        r: UintRef::new(r).ok()?,
        s: UintRef::new(s).ok()?,
    }
    .to_der()
    .ok()
}

/// `CKA_EC_POINT` is a DER OCTET STRING holding the point (PKCS#11 2.40 §2.3.3); some
/// tokens give the bare point.
fn ec_point(raw: &[u8]) -> Option<Vec<u8>> {
    match raw {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 && rest.first() == Some(&0x04) => {
            Some(rest.to_vec())
        }
        [0x04, ..] if raw.len() == 65 => Some(raw.to_vec()),
        _ => None,
    }
}

impl Pkcs11Key {
    /// Opens the private key the URI names: loads the module (once per process), finds the
    /// token, reads the PIN (a relative `pin-source` is resolved from `base`), logs in (once
    /// per token and process), finds exactly one private key and reads its public half.
    pub fn open(uri: &Pkcs11Uri, base: &Path) -> Result<Self, Error> {
        let shown = uri.to_string();
        if let Some(t) = uri.object_type.filter(|t| *t != ObjectType::Private) {
            return Err(Error::NotPrivateKey {
                uri: shown,
                found: t.as_str(),
            });
        }
        let (module_key, ctx) = module(uri, &shown)?;
        check_library(&ctx, uri, &shown, &module_key)?;
        let (slot, label) =
            find_slot(&ctx, uri, &shown).map_err(|e| e.into_error(&shown, "C_GetSlotList"))?;
        let pin = match uri.pin_resolved(base) {
            Some(PinSource::File(p)) => Some(read_pin(&p, &shown)?),
            Some(PinSource::Value(v)) => Some(v),
            None => None,
        };
        let token = {
            let mut all = lock(tokens());
            let key = (module_key, slot.id());
            match all.get(&key).and_then(Weak::upgrade) {
                Some(t) => {
                    if pin.is_some() && t.pin != pin {
                        return Err(Error::PinConflict {
                            uri: shown,
                            token: label,
                        });
                    }
                    t
                }
                None => {
                    let info = ctx
                        .get_token_info(slot)
                        .map_err(|e| token_error(&shown, "C_GetTokenInfo", &e))?;
                    let t = Arc::new(Token {
                        ctx: ctx.clone(),
                        selector: uri.clone(),
                        shown: shown.clone(),
                        label: label.clone(),
                        pin,
                        login_required: info.login_required(),
                        protected_path: info.protected_authentication_path(),
                        state: Mutex::new(State {
                            slot,
                            generation: 0,
                            idle: Vec::new(),
                            open: 0,
                            logged_in: false,
                        }),
                        freed: Condvar::new(),
                        logins: AtomicU64::new(0),
                        opened: AtomicU64::new(0),
                        reopens: AtomicU64::new(0),
                    });
                    all.insert(key, Arc::downgrade(&t));
                    t
                }
            }
        };
        let object = Object {
            label: uri.object.clone(),
            id: uri.id.clone(),
        };
        let lease = token
            .checkout()
            .map_err(|e| e.into_error(&shown, "C_OpenSession"))?;
        let session = lease.session().ok_or_else(|| Error::Token {
            uri: shown.clone(),
            function: "C_OpenSession".into(),
            rv: "no session".into(),
        })?;
        let handle = find_one(session, &object, &shown, &label)
            .map_err(|e| e.into_error(&shown, "C_FindObjects"))?;
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::AlwaysAuthenticate,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                    AttributeType::EcParams,
                ],
            )
            .map_err(|e| token_error(&shown, "C_GetAttributeValue", &e))?;
        let mut key_type = None;
        let (mut modulus, mut exponent, mut params) = (None, None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(k) => key_type = Some(k),
                Attribute::AlwaysAuthenticate(true) => {
                    return Err(Error::AlwaysAuthenticate { uri: shown });
                }
                Attribute::Modulus(m) => modulus = Some(m),
                Attribute::PublicExponent(e) => exponent = Some(e),
                Attribute::EcParams(p) => params = Some(p),
                _ => {}
            }
        }
        let (kind, public) = match key_type {
            Some(KeyType::RSA) => {
                let public = match (&modulus, &exponent) {
                    (Some(n), Some(e)) => UintRef::new(n)
                        .and_then(|n| {
                            UintRef::new(e).map(|e| RsaPublicKey {
                                modulus: n,
                                public_exponent: e,
                            })
                        })
                        .and_then(|k| k.to_der())
                        .ok(),
                    _ => None,
                };
                (KeyKind::Rsa, public)
            }
            Some(KeyType::EC) => {
                if params.as_deref() != Some(P256_PARAMS) {
                    return Err(Error::UnsupportedKey {
                        uri: shown,
                        what: "an EC key on another curve than P-256".into(),
                    });
                }
                let public = session
                    .find_objects(&object.template(ObjectClass::PUBLIC_KEY))
                    .ok()
                    .filter(|v| v.len() == 1)
                    .and_then(|v| v.first().copied())
                    .and_then(|h| session.get_attributes(h, &[AttributeType::EcPoint]).ok())
                    .and_then(|attrs| {
                        attrs.into_iter().find_map(|a| match a {
                            Attribute::EcPoint(p) => ec_point(&p),
                            _ => None,
                        })
                    });
                (KeyKind::EcdsaP256, public)
            }
            other => {
                return Err(Error::UnsupportedKey {
                    uri: shown,
                    what: match other {
                        Some(k) => format!("a {k} key"),
                        None => "a key of unknown type".into(),
                    },
                });
            }
        };
        let generation = lease.generation;
        drop(lease);
        Ok(Pkcs11Key {
            token,
            shown,
            object,
            kind,
            public,
            handle: Mutex::new(Some((generation, handle))),
        })
    }

    /// The key family.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The URI the key was opened with (any `pin-value` shown as `***`).
    pub fn uri(&self) -> &str {
        &self.shown
    }

    /// The public key as in a certificate's subjectPublicKey (RSAPublicKey DER, or the
    /// uncompressed EC point), when the token shows it: RSA keys carry it, an EC key needs its
    /// public key object (same label and id) in the token.
    pub fn public_key_bytes(&self) -> Option<&[u8]> {
        self.public.as_deref()
    }

    /// Sessions, logins and re-opens of the key's token.
    pub fn stats(&self) -> SessionStats {
        self.token.stats()
    }

    /// The handle valid in `generation`, found again when the token was re-opened.
    fn handle_in(&self, session: &Session, generation: u64) -> Result<ObjectHandle, CkOr> {
        let mut h = lock(&self.handle);
        if let Some((g, handle)) = *h
            && g == generation
        {
            return Ok(handle);
        }
        let handle = find_one(session, &self.object, &self.shown, &self.token.label)?;
        *h = Some((generation, handle));
        Ok(handle)
    }

    /// One attempt: a session, the handle, `C_SignInit` + `C_Sign`.
    fn attempt(&self, mechanism: &Mechanism, data: &[u8]) -> Result<Vec<u8>, (CkOr, u64)> {
        // The generation a failed checkout is judged against (a re-open from another signer
        // in between makes the re-open below a no-op, which is right).
        let before = lock(&self.token.state).generation;
        let lease = self.token.checkout().map_err(|e| (e, before))?;
        let generation = lease.generation;
        let Some(session) = lease.session() else {
            return Err((
                CkOr::Ponte(Error::Token {
                    uri: self.shown.clone(),
                    function: "C_OpenSession".into(),
                    rv: "no session".into(),
                }),
                generation,
            ));
        };
        let result = self
            .handle_in(session, generation)
            .and_then(|h| session.sign(mechanism, h, data).map_err(CkOr::Ck));
        match result {
            Ok(sig) => Ok(sig),
            Err(e) => {
                if matches!(&e, CkOr::Ck(c) if token_dropped(c)) {
                    lease.discard();
                }
                Err((e, generation))
            }
        }
    }

    /// Signs `message` with SHA-256 in the token: PKCS#1 v1.5 for RSA; for ECDSA the fixed
    /// `r || s` form (XML-DSig). Retries once after the token dropped.
    pub fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let digest;
        let (mechanism, data) = match self.kind {
            KeyKind::Rsa => (Mechanism::Sha256RsaPkcs, message),
            KeyKind::EcdsaP256 => {
                digest = ring::digest::digest(&ring::digest::SHA256, message);
                (Mechanism::Ecdsa, digest.as_ref())
            }
        };
        let mut retried = false;
        loop {
            match self.attempt(&mechanism, data) {
                Ok(sig) => {
                    if self.kind == KeyKind::EcdsaP256 && sig.len() != 64 {
                        return Err(Error::SignatureLength {
                            uri: self.shown.clone(),
                            len: sig.len(),
                        });
                    }
                    return Ok(sig);
                }
                Err((CkOr::Ck(e), generation)) if !retried && token_dropped(&e) => {
                    retried = true;
                    self.token
                        .reopen(generation)
                        .map_err(|e| e.into_error(&self.shown, "C_GetSlotList"))?;
                }
                Err((CkOr::Ck(e), _)) if !retried && handle_stale(&e) => {
                    retried = true;
                    *lock(&self.handle) = None;
                }
                Err((e, _)) => return Err(e.into_error(&self.shown, "C_Sign")),
            }
        }
    }

    /// Signs `message` with SHA-256 in the token, in the CMS / X.509 form: PKCS#1 v1.5 for
    /// RSA, a DER `Ecdsa-Sig-Value` for ECDSA.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let sig = self.sign_raw(message)?;
        match self.kind {
            KeyKind::Rsa => Ok(sig),
            KeyKind::EcdsaP256 => ecdsa_fixed_to_der(&sig).ok_or_else(|| Error::SignatureLength {
                uri: self.shown.clone(),
                len: sig.len(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckr_names() {
        assert_eq!(
            ckr_name(RvError::SessionHandleInvalid),
            "CKR_SESSION_HANDLE_INVALID"
        );
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(ckr_name(RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
    }

    #[test]
    fn ecdsa_forms() {
        let mut fixed = [0u8; 64];
        fixed[0] = 0x80; // r needs a leading zero in DER
        fixed[63] = 1;
        let der = ecdsa_fixed_to_der(&fixed).expect("der");
        assert_eq!(&der[..4], &[0x30, 0x26, 0x02, 0x21]);
        assert_eq!(der[4], 0x00);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
        assert!(ecdsa_fixed_to_der(&[1, 2, 3]).is_none());
        let mut wrapped = vec![0x04, 0x41, 0x04];
        wrapped.extend([7u8; 64]);
        assert_eq!(ec_point(&wrapped).map(|p| p.len()), Some(65));
        assert_eq!(ec_point(&wrapped[2..]).map(|p| p.len()), Some(65));
        assert_eq!(ec_point(&[0x04, 0x01]), None);
    }

    #[test]
    fn missing_module_is_named() {
        let uri =
            Pkcs11Uri::parse("pkcs11:token=t?module-path=/nonexistent/libnothing.so").expect("uri");
        let e = Pkcs11Key::open(&uri, Path::new("/")).unwrap_err();
        assert!(matches!(e, Error::Module { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/libnothing.so"), "{e}");
        let uri = Pkcs11Uri::parse("pkcs11:token=t?module-name=softhsm2").expect("uri");
        let e = Pkcs11Key::open(&uri, Path::new("/")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NoModule {
                    module_name: true,
                    ..
                }
            ),
            "{e}"
        );
        let uri = Pkcs11Uri::parse("pkcs11:type=cert?module-path=/x.so").expect("uri");
        let e = Pkcs11Key::open(&uri, Path::new("/")).unwrap_err();
        assert!(
            matches!(e, Error::NotPrivateKey { found: "cert", .. }),
            "{e}"
        );
    }
}
