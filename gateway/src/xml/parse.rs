//! Secure reading of a document with quick-xml into the read-only [`Document`].

use std::borrow::Cow;
use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::dom::{Attribute, Document, Element, NamespaceDecl, Node, NodeId, Slot};
use super::escape::{
    RefError, decode_reference, is_xml_char, normalize_attribute, normalize_line_ends,
};
use super::{Error, Limit, Limits, XML_NAMESPACE, XMLNS_NAMESPACE};

/// Parses `input` with the default [`Limits`].
pub fn parse(input: &[u8]) -> Result<Document<'_>, Error> {
    parse_with(input, &Limits::default())
}

/// Parses `input` (UTF-8, optionally with a byte-order mark) into a [`Document`].
///
/// Refused: any DOCTYPE (with [`Error::EntityDeclarationRefused`] when it declares
/// entities), entities other than the predefined five, encodings other than UTF-8, XML 1.1,
/// characters XML forbids, input beyond `limits`. Malformed XML (mismatched tags, unbound
/// prefixes, duplicate attributes, misplaced markup) is an error with its byte position.
pub fn parse_with<'a>(input: &'a [u8], limits: &Limits) -> Result<Document<'a>, Error> {
    if input.len() > limits.max_input_bytes {
        return Err(Error::LimitExceeded {
            limit: Limit::InputBytes,
            max: limits.max_input_bytes,
            position: limits.max_input_bytes as u64,
        });
    }
    if input.starts_with(&[0xFE, 0xFF]) || input.starts_with(&[0xFF, 0xFE]) {
        return Err(Error::UnsupportedEncoding {
            encoding: "UTF-16 (byte-order mark)".to_owned(),
        });
    }
    let (base, body) = match input.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (3u64, rest),
        None => (0u64, input),
    };
    if body.starts_with(&[0xEF, 0xBB, 0xBF]) {
        // quick-xml would silently drop a second one; U+FEFF is not whitespace.
        return Err(Error::Structure {
            reason: "text outside the root element (a second byte-order mark)",
            position: base,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| Error::NotUtf8 {
        position: base + e.valid_up_to() as u64,
    })?;
    if let Some((i, c)) = first_non_xml_char(text) {
        return Err(Error::InvalidChar {
            code: c as u32,
            position: base + i as u64,
        });
    }
    Builder::new(limits, base, text).run()
}

struct Open {
    id: NodeId,
    ns_mark: usize,
}

/// Up to this many attributes, duplicates are found by a scan (no set).
const SMALL_LIST: usize = 16;

struct Builder<'a, 'l> {
    limits: &'l Limits,
    base: u64,
    /// The input (after any byte-order mark): what every name and unchanged value borrows.
    input: &'a str,
    slots: Vec<Slot<'a>>,
    stack: Vec<Open>,
    /// In-scope declarations (prefix, uri); an empty uri undeclares the default namespace.
    ns: Vec<(Option<&'a str>, Cow<'a, str>)>,
    root: Option<NodeId>,
    /// Scratch lists of the tag being read, kept to be reused by the next one.
    raw: Vec<RawAttr<'a>>,
    values: Vec<Cow<'a, str>>,
}

/// The first character XML forbids, with its byte offset. ASCII is judged byte by byte (only
/// the C0 controls but tab, LF and CR are forbidden there); other characters are decoded.
fn first_non_xml_char(text: &str) -> Option<(usize, char)> {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        // The next byte that is not plain ASCII XML (a forbidden control, or a multi-byte
        // character to decode).
        let k = b
            .get(i..)?
            .iter()
            .position(|&x| x >= 0x80 || (x < 0x20 && !matches!(x, b'\t' | b'\n' | b'\r')))?;
        i += k;
        let x = *b.get(i)?;
        if x < 0x80 {
            return Some((i, char::from(x)));
        }
        let c = text.get(i..).and_then(|t| t.chars().next())?;
        if !is_xml_char(c) {
            return Some((i, c));
        }
        i += c.len_utf8();
    }
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

fn is_ncname(s: &str) -> bool {
    if s.is_ascii() {
        // The ASCII name characters: letters and `_` to start, then also digits, `-`, `.`.
        let b = s.as_bytes();
        return b
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// Splits a qualified name; `None` when it is not a namespace-well-formed QName.
fn split_qname(s: &str) -> Option<(Option<&str>, &str)> {
    match s.split_once(':') {
        Some((p, l)) if is_ncname(p) && is_ncname(l) => Some((Some(p), l)),
        Some(_) => None,
        None if is_ncname(s) => Some((None, s)),
        None => None,
    }
}

/// One attribute (or XML-declaration pseudo-attribute) as written.
struct RawAttr<'a> {
    name: &'a str,
    value: &'a str,
}

/// Why the attribute list of a tag could not be split.
enum SplitError {
    /// Syntax error at this byte offset of the list.
    Syntax(&'static str, usize),
    /// More than the allowed number of attributes.
    TooMany,
}

/// Splits the attribute list of a tag (everything after the name), strictly: whitespace
/// before each attribute, `=` with optional whitespace, a quoted value.
#[cfg(test)]
fn split_attributes(raw: &str, max: usize) -> Result<Vec<RawAttr<'_>>, SplitError> {
    let mut out = Vec::new();
    split_attributes_into(raw, max, &mut out).map(|()| out)
}

/// Splits the attribute list of a tag into `out` (cleared first), as `split_attributes`.
fn split_attributes_into<'a>(
    raw: &'a str,
    max: usize,
    out: &mut Vec<RawAttr<'a>>,
) -> Result<(), SplitError> {
    out.clear();
    let b = raw.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let skip_ws = |mut i: usize| {
        while b.get(i).copied().is_some_and(ws) {
            i += 1;
        }
        i
    };
    let slice = |a: usize, z: usize| {
        raw.get(a..z)
            .ok_or(SplitError::Syntax("invalid byte offset", a))
    };
    let mut i = 0;
    loop {
        let before = i;
        i = skip_ws(i);
        if i >= b.len() {
            return Ok(());
        }
        if i == before {
            return Err(SplitError::Syntax(
                "whitespace required before an attribute",
                i,
            ));
        }
        if out.len() >= max {
            return Err(SplitError::TooMany);
        }
        let name_start = i;
        while b.get(i).is_some_and(|&c| !ws(c) && c != b'=') {
            i += 1;
        }
        let name = slice(name_start, i)?;
        i = skip_ws(i);
        if b.get(i) != Some(&b'=') {
            return Err(SplitError::Syntax(
                "'=' expected after an attribute name",
                i,
            ));
        }
        i = skip_ws(i + 1);
        let quote = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err(SplitError::Syntax("quoted attribute value expected", i)),
        };
        let value_start = i + 1;
        let Some(len) = b
            .get(value_start..)
            .and_then(|r| r.iter().position(|&c| c == quote))
        else {
            return Err(SplitError::Syntax("unterminated attribute value", i));
        };
        let value = slice(value_start, value_start + len)?;
        out.push(RawAttr { name, value });
        i = value_start + len + 1;
    }
}

/// Checks an XML declaration's content (between `<?` and `?>`): `xml`, `version`, then
/// optionally `encoding` and `standalone`, in this order and nothing else.
fn check_declaration(content: &str, pos: u64) -> Result<(), Error> {
    let malformed = |reason: &str| Error::Malformed {
        reason: format!("XML declaration: {reason}"),
        position: pos,
    };
    let rest = content
        .strip_prefix("xml")
        .ok_or_else(|| malformed("'xml' expected"))?;
    let mut attrs = Vec::new();
    split_attributes_into(rest, 3, &mut attrs).map_err(|e| match e {
        SplitError::Syntax(r, _) => malformed(r),
        SplitError::TooMany => malformed("too many pseudo-attributes"),
    })?;
    let mut names = attrs.iter().map(|a| a.name);
    if names.next() != Some("version") {
        return Err(malformed("'version' must come first"));
    }
    let rest: Vec<&str> = names.collect();
    if !matches!(
        rest.as_slice(),
        [] | ["encoding"] | ["standalone"] | ["encoding", "standalone"]
    ) {
        return Err(malformed(
            "only 'encoding' then 'standalone' may follow 'version'",
        ));
    }
    for a in &attrs {
        match a.name {
            "version" if a.value != "1.0" => {
                return Err(Error::UnsupportedVersion {
                    version: a.value.to_owned(),
                });
            }
            "encoding" if !a.value.eq_ignore_ascii_case("UTF-8") => {
                return Err(Error::UnsupportedEncoding {
                    encoding: a.value.to_owned(),
                });
            }
            "standalone" if a.value != "yes" && a.value != "no" => {
                return Err(malformed("standalone must be 'yes' or 'no'"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_xml_space(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// `s` as a slice of `input` when it is one (the tokenizer's events borrow the input).
pub(crate) fn slice_of<'a>(input: &'a str, s: &str) -> Option<&'a str> {
    if s.is_empty() {
        return Some("");
    }
    let offset = (s.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    let sub = input.get(offset..offset.checked_add(s.len())?)?;
    (sub.as_ptr() == s.as_ptr()).then_some(sub)
}

/// [`normalize_line_ends`] of a value that may or may not borrow `input`.
fn normalized<'a>(input: &'a str, s: &str) -> Cow<'a, str> {
    match slice_of(input, s) {
        Some(b) => normalize_line_ends(b),
        None => Cow::Owned(normalize_line_ends(s).into_owned()),
    }
}

impl<'a, 'l> Builder<'a, 'l> {
    fn new(limits: &'l Limits, base: u64, input: &'a str) -> Self {
        Builder {
            limits,
            base,
            input,
            slots: vec![Slot {
                parent: None,
                children: 0..0,
                node: Node::Document,
            }],
            stack: Vec::new(),
            ns: Vec::new(),
            root: None,
            raw: Vec::new(),
            values: Vec::new(),
        }
    }

    /// A name of the input as a slice of it (quick-xml's events over a `&str` borrow it).
    fn name(&self, s: &str, pos: u64) -> Result<&'a str, Error> {
        slice_of(self.input, s).ok_or_else(|| Error::Malformed {
            reason: "the tokenizer returned a name that is not part of the input".to_owned(),
            position: pos,
        })
    }

    fn run(mut self) -> Result<Document<'a>, Error> {
        let text = self.input;
        let mut reader = Reader::from_str(text);
        {
            let cfg = reader.config_mut();
            cfg.check_comments = true;
            cfg.check_end_names = false;
            cfg.allow_unmatched_ends = true;
            cfg.expand_empty_elements = false;
            cfg.trim_text(false);
            cfg.allow_dangling_amp = false;
        }
        let mut first = true;
        loop {
            let pos = self.base + reader.buffer_position();
            let event = reader.read_event().map_err(|e| Error::Malformed {
                reason: e.to_string(),
                position: self.base + reader.error_position(),
            })?;
            let is_first = std::mem::replace(&mut first, false);
            match event {
                Event::Decl(d) => {
                    if !is_first || pos != self.base {
                        return Err(Error::Structure {
                            reason: "XML declaration not at the start of the document",
                            position: pos,
                        });
                    }
                    check_declaration(&d, pos)?;
                }
                Event::DocType(t) => {
                    return Err(if t.contains("<!ENTITY") {
                        Error::EntityDeclarationRefused { position: pos }
                    } else {
                        Error::DoctypeRefused { position: pos }
                    });
                }
                Event::Start(e) => {
                    self.start(&e, pos, None)?;
                }
                Event::Empty(e) => {
                    let end = self.base + reader.buffer_position();
                    self.start(&e, pos, Some(end))?;
                }
                Event::End(e) => {
                    let found = e.name().into_inner();
                    let Some(open) = self.stack.pop() else {
                        return Err(Error::Structure {
                            reason: "end tag without a matching start tag",
                            position: pos,
                        });
                    };
                    let matches = match self.slots.get(open.id.index()).map(|s| &s.node) {
                        Some(Node::Element(el)) => match el.prefix {
                            Some(p) => {
                                found.strip_prefix(p).and_then(|r| r.strip_prefix(':'))
                                    == Some(el.local)
                            }
                            None => found == el.local,
                        },
                        _ => false,
                    };
                    if !matches {
                        return Err(Error::MismatchedEndTag {
                            expected: self.qname_of(open.id),
                            found: found.to_owned(),
                            position: pos,
                        });
                    }
                    let end = (self.base + reader.buffer_position()) as usize;
                    self.ns.truncate(open.ns_mark);
                    if let Some(Slot {
                        node: Node::Element(el),
                        ..
                    }) = self.slots.get_mut(open.id.index())
                    {
                        el.span.end = end;
                    }
                }
                Event::Text(t) => {
                    if t.contains("]]>") {
                        return Err(Error::Structure {
                            reason: "']]>' in character data",
                            position: pos,
                        });
                    }
                    if self.stack.is_empty() {
                        if !is_xml_space(&t) {
                            return Err(Error::Structure {
                                reason: "text outside the root element",
                                position: pos,
                            });
                        }
                    } else {
                        let value = normalized(text, &t);
                        self.text(value, pos)?;
                    }
                }
                Event::CData(c) => {
                    if self.stack.is_empty() {
                        return Err(Error::Structure {
                            reason: "CDATA section outside the root element",
                            position: pos,
                        });
                    }
                    let value = normalized(text, &c);
                    self.text(value, pos)?;
                }
                Event::GeneralRef(r) => {
                    if self.stack.is_empty() {
                        return Err(Error::Structure {
                            reason: "reference outside the root element",
                            position: pos,
                        });
                    }
                    let c = decode_reference(&r).map_err(|e| ref_error(e, pos))?;
                    self.text(Cow::Owned(String::from(c)), pos)?;
                }
                Event::Comment(c) => {
                    let content = normalized(text, &c);
                    self.push(Node::Comment(content), pos)?;
                }
                Event::PI(p) => {
                    let target = p.target();
                    if !is_ncname(target) {
                        return Err(Error::InvalidName {
                            name: target.to_owned(),
                            position: pos,
                        });
                    }
                    if target.eq_ignore_ascii_case("xml") {
                        return Err(Error::Structure {
                            reason: "processing instruction target 'xml' is reserved",
                            position: pos,
                        });
                    }
                    let target = self.name(target, pos)?;
                    let data = normalized(
                        text,
                        p.content().trim_start_matches([' ', '\t', '\r', '\n']),
                    );
                    self.push(Node::ProcessingInstruction { target, data }, pos)?;
                }
                Event::Eof => {
                    if let Some(open) = self.stack.pop() {
                        return Err(Error::UnclosedElement {
                            name: self.qname_of(open.id),
                        });
                    }
                    let Some(root) = self.root else {
                        return Err(Error::Structure {
                            reason: "no root element",
                            position: pos,
                        });
                    };
                    return Ok(finish(self.slots, root));
                }
            }
        }
    }

    /// The qualified name of an element already built.
    fn qname_of(&self, id: NodeId) -> String {
        match self.slots.get(id.index()).map(|s| &s.node) {
            Some(Node::Element(el)) => el.qname(),
            _ => String::new(),
        }
    }

    fn parent(&self) -> NodeId {
        self.stack.last().map_or(NodeId(0), |o| o.id)
    }

    /// Allocates a node as the last child of the current parent.
    fn push(&mut self, node: Node<'a>, pos: u64) -> Result<NodeId, Error> {
        // Ids (and their count) must fit in u32.
        if self.slots.len() >= self.limits.max_nodes || self.slots.len() >= u32::MAX as usize {
            return Err(Error::LimitExceeded {
                limit: Limit::Nodes,
                max: self.limits.max_nodes,
                position: pos,
            });
        }
        let id = NodeId(self.slots.len() as u32);
        let parent = self.parent();
        self.slots.push(Slot {
            parent: Some(parent),
            children: 0..0,
            node,
        });
        Ok(id)
    }

    /// Appends character data, merging with a preceding text node. The last node made is
    /// the preceding sibling exactly when its parent is the current parent (ids are in
    /// document order, and any node made in between would be the later one).
    fn text(&mut self, s: Cow<'a, str>, pos: u64) -> Result<(), Error> {
        let parent = Some(self.parent());
        if let Some(Slot {
            parent: p,
            node: Node::Text(t),
            ..
        }) = self.slots.last_mut()
            && *p == parent
        {
            t.to_mut().push_str(&s);
            return Ok(());
        }
        self.push(Node::Text(s), pos).map(|_| ())
    }

    fn check_name_len(&self, name: &str, pos: u64) -> Result<(), Error> {
        if name.len() > self.limits.max_name_bytes {
            return Err(Error::LimitExceeded {
                limit: Limit::NameBytes,
                max: self.limits.max_name_bytes,
                position: pos,
            });
        }
        Ok(())
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<Cow<'a, str>> {
        if prefix == Some("xml") {
            return Some(Cow::Borrowed(XML_NAMESPACE));
        }
        self.ns
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .and_then(|(_, u)| if u.is_empty() { None } else { Some(u.clone()) })
    }

    fn start(&mut self, e: &BytesStart<'_>, pos: u64, empty_end: Option<u64>) -> Result<(), Error> {
        if self.stack.is_empty() && self.root.is_some() {
            return Err(Error::Structure {
                reason: "second root element",
                position: pos,
            });
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(Error::LimitExceeded {
                limit: Limit::Depth,
                max: self.limits.max_depth,
                position: pos,
            });
        }
        let qn = e.name().into_inner();
        self.check_name_len(qn, pos)?;
        let qn = self.name(qn, pos)?;
        let Some((prefix, local)) = split_qname(qn) else {
            return Err(Error::InvalidName {
                name: qn.to_owned(),
                position: pos,
            });
        };
        let attributes_raw = self.name(e.attributes_raw(), pos)?;

        let mut raw = std::mem::take(&mut self.raw);
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        let max_attributes = self.limits.max_attributes;
        split_attributes_into(attributes_raw, max_attributes, &mut raw).map_err(
            |err| match err {
                SplitError::Syntax(reason, at) => Error::Malformed {
                    reason: reason.to_owned(),
                    position: pos + 1 + qn.len() as u64 + at as u64,
                },
                SplitError::TooMany => Error::LimitExceeded {
                    limit: Limit::Attributes,
                    max: max_attributes,
                    position: pos,
                },
            },
        )?;
        let mut decls: Vec<NamespaceDecl<'a>> = Vec::new();
        // Duplicates: a scan of the few attributes of a tag, a set beyond a handful (a long
        // list must not cost its square).
        let mut seen: Option<HashSet<&str>> = (raw.len() > SMALL_LIST).then(HashSet::new);
        for (n, a) in raw.iter().enumerate() {
            let key = a.name;
            self.check_name_len(key, pos)?;
            let duplicate = match &mut seen {
                Some(set) => !set.insert(key),
                None => raw.iter().take(n).any(|b| b.name == key),
            };
            if duplicate {
                return Err(Error::DuplicateAttribute {
                    name: key.to_owned(),
                    position: pos,
                });
            }
            let value = normalize_attribute(a.value).map_err(|(e, _)| ref_error(e, pos))?;
            let illegal = || Error::IllegalNamespaceDeclaration {
                declaration: format!("{key}=\"{value}\""),
                position: pos,
            };
            if key == "xmlns" {
                if value == XML_NAMESPACE || value == XMLNS_NAMESPACE {
                    return Err(illegal());
                }
                decls.push(NamespaceDecl {
                    prefix: None,
                    uri: value,
                });
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                if !is_ncname(p) {
                    return Err(Error::InvalidName {
                        name: key.to_owned(),
                        position: pos,
                    });
                }
                let bad = p == "xmlns"
                    || value.is_empty()
                    || value == XMLNS_NAMESPACE
                    || ((p == "xml") != (value == XML_NAMESPACE));
                if bad {
                    return Err(illegal());
                }
                decls.push(NamespaceDecl {
                    prefix: Some(p),
                    uri: value,
                });
            } else {
                values.push(value);
            }
        }

        let ns_mark = self.ns.len();
        self.ns
            .extend(decls.iter().map(|d| (d.prefix, d.uri.clone())));

        let namespace = match prefix {
            Some(p) => Some(self.lookup(Some(p)).ok_or_else(|| Error::UnboundPrefix {
                prefix: p.to_owned(),
                position: pos,
            })?),
            None => self.lookup(None),
        };

        let mut attributes: Vec<Attribute<'a>> = Vec::with_capacity(values.len());
        let mut expanded: Option<HashSet<(String, &str)>> =
            (values.len() > SMALL_LIST).then(HashSet::new);
        let plain = raw
            .iter()
            .map(|a| a.name)
            .filter(|k| *k != "xmlns" && !k.starts_with("xmlns:"));
        for (key, value) in plain.zip(values.drain(..)) {
            let Some((ap, al)) = split_qname(key) else {
                return Err(Error::InvalidName {
                    name: key.to_owned(),
                    position: pos,
                });
            };
            let ans = match ap {
                Some(p) => Some(self.lookup(Some(p)).ok_or_else(|| Error::UnboundPrefix {
                    prefix: p.to_owned(),
                    position: pos,
                })?),
                None => None,
            };
            if let Some(u) = &ans {
                let duplicate = match &mut expanded {
                    Some(set) => !set.insert((u.clone().into_owned(), al)),
                    None => attributes
                        .iter()
                        .any(|b| b.local == al && b.namespace.as_deref() == Some(&**u)),
                };
                if duplicate {
                    return Err(Error::DuplicateAttribute {
                        name: key.to_owned(),
                        position: pos,
                    });
                }
            }
            attributes.push(Attribute {
                prefix: ap,
                local: al,
                namespace: ans,
                value,
            });
        }
        self.raw = raw;
        self.values = values;

        let start = pos as usize;
        let element = Element {
            prefix,
            local,
            namespace,
            namespace_decls: decls,
            attributes,
            span: start..empty_end.map_or(start, |e| e as usize),
        };
        let id = self.push(Node::Element(element), pos)?;
        if self.stack.is_empty() {
            self.root = Some(id);
        }
        if empty_end.is_some() {
            self.ns.truncate(ns_mark);
        } else {
            self.stack.push(Open { id, ns_mark });
        }
        Ok(())
    }
}

/// The document of `slots` (each naming its parent): the children of every node laid out
/// in one arena, grouped by parent, in document order (a counting sort by parent).
fn finish<'a>(mut slots: Vec<Slot<'a>>, root: NodeId) -> Document<'a> {
    let mut next: Vec<u32> = vec![0; slots.len()];
    for s in &slots {
        if let Some(n) = s.parent.and_then(|p| next.get_mut(p.index())) {
            *n += 1;
        }
    }
    let mut at = 0u32;
    for (s, n) in slots.iter_mut().zip(next.iter_mut()) {
        let count = *n;
        s.children = at..at + count;
        *n = at;
        at += count;
    }
    let mut child_ids = vec![NodeId(0); at as usize];
    for (i, s) in slots.iter().enumerate() {
        if let Some(n) = s.parent.and_then(|p| next.get_mut(p.index()))
            && let Some(c) = child_ids.get_mut(*n as usize)
        {
            *c = NodeId(i as u32);
            *n += 1;
        }
    }
    Document {
        slots,
        child_ids,
        root,
    }
}

fn ref_error(e: RefError, pos: u64) -> Error {
    match e {
        RefError::Undefined(name) => Error::UndefinedEntity {
            name,
            position: pos,
        },
        RefError::BadCharRef(reference) => Error::InvalidCharReference {
            reference,
            position: pos,
        },
        RefError::Unterminated => Error::Malformed {
            reason: "'&' without terminating ';'".to_owned(),
            position: pos,
        },
        RefError::LtInAttribute => Error::Malformed {
            reason: "'<' in an attribute value".to_owned(),
            position: pos,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Method, NodeSet, canonicalize};

    fn c14n(input: &[u8]) -> String {
        let doc = parse(input).unwrap();
        String::from_utf8(
            canonicalize(
                &doc,
                &NodeSet::whole_document(),
                &Method::exclusive().comments(true),
            )
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn edge_cases_of_the_prolog() {
        assert_eq!(
            c14n(b"<?xml-stylesheet href=\"a\"?><r/>"),
            "<?xml-stylesheet href=\"a\"?>\n<r></r>"
        );
        assert_eq!(c14n(b"\xEF\xBB\xBF<?xml version='1.0'?><r/>"), "<r></r>");
        assert_eq!(c14n(b"<r/>\n \t"), "<r></r>");
        assert_eq!(c14n(b"<r><!----></r>"), "<r><!----></r>");
        assert!(matches!(
            parse(b"\xEF\xBB\xBF\xEF\xBB\xBF<r/>"),
            Err(Error::Structure { position: 3, .. })
        ));
        assert!(matches!(
            parse(b" <?xml version='1.0'?><r/>"),
            Err(Error::Structure { position: 1, .. })
        ));
        assert!(matches!(
            parse(b"\xFF\xFE<\0r\0/\0>\0"),
            Err(Error::UnsupportedEncoding { .. })
        ));
    }

    /// The fast paths agree with the character-by-character definitions.
    #[test]
    fn ascii_fast_paths_match_the_definitions() {
        for n in 0u8..0x80 {
            for s in [
                format!("{}", char::from(n)),
                format!("a{}", char::from(n)),
                format!("{}b", char::from(n)),
            ] {
                let mut chars = s.chars();
                let slow = chars.next().is_some_and(is_name_start) && chars.all(is_name_char);
                assert_eq!(is_ncname(&s), slow, "{s:?}");
            }
        }
        assert!(!is_ncname(""));
        assert!(is_ncname("\u{e9}t\u{e9}") && !is_ncname("a\u{37e}"));
        let slow = |t: &str| t.char_indices().find(|&(_, c)| !is_xml_char(c));
        for t in [
            "",
            "abc",
            "a\u{1}b",
            "\t\r\n x",
            "\u{e9}\u{b}",
            "\u{fffe}a",
            "ok\u{10000}\u{7f}\u{0}",
        ] {
            assert_eq!(first_non_xml_char(t), slow(t), "{t:?}");
        }
    }

    #[test]
    fn attribute_lists_are_split_strictly() {
        let ok = split_attributes(" a = \"1\"\tb='2' ", 10).ok().unwrap();
        let pairs: Vec<(&str, &str)> = ok.iter().map(|a| (a.name, a.value)).collect();
        assert_eq!(pairs, vec![("a", "1"), ("b", "2")]);
        assert!(matches!(
            split_attributes(" a=\"1\"b=\"2\"", 10),
            Err(SplitError::Syntax(_, 6))
        ));
        assert!(matches!(
            split_attributes(" a", 10),
            Err(SplitError::Syntax(_, 2))
        ));
        assert!(matches!(
            split_attributes(" a=1", 10),
            Err(SplitError::Syntax(_, 3))
        ));
        assert!(matches!(
            split_attributes(" a=\"1", 10),
            Err(SplitError::Syntax(_, 3))
        ));
        assert!(matches!(
            split_attributes(" a='1' b='2'", 1),
            Err(SplitError::TooMany)
        ));
    }
}
