//! Secure reading of a document with quick-xml into the read-only [`Document`].

use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::dom::{Attribute, Document, Element, NamespaceDecl, Node, NodeId, Slot};
use super::escape::{
    RefError, decode_reference, is_xml_char, normalize_attribute, normalize_line_ends,
};
use super::{Error, Limit, Limits, XML_NAMESPACE, XMLNS_NAMESPACE};

/// Parses `input` with the default [`Limits`].
pub fn parse(input: &[u8]) -> Result<Document, Error> {
    parse_with(input, &Limits::default())
}

/// Parses `input` (UTF-8, optionally with a byte-order mark) into a [`Document`].
///
/// Refused: any DOCTYPE (with [`Error::EntityDeclarationRefused`] when it declares
/// entities), entities other than the predefined five, encodings other than UTF-8, XML 1.1,
/// characters XML forbids, input beyond `limits`. Malformed XML (mismatched tags, unbound
/// prefixes, duplicate attributes, misplaced markup) is an error with its byte position.
pub fn parse_with(input: &[u8], limits: &Limits) -> Result<Document, Error> {
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
    Builder::new(limits, base).run(text)
}

struct Open {
    id: NodeId,
    ns_mark: usize,
}

/// Up to this many attributes, duplicates are found by a scan (no set).
const SMALL_LIST: usize = 16;

struct Builder<'l> {
    limits: &'l Limits,
    base: u64,
    slots: Vec<Slot>,
    stack: Vec<Open>,
    /// In-scope declarations (prefix, uri); an empty uri undeclares the default namespace.
    ns: Vec<(Option<String>, String)>,
    root: Option<NodeId>,
}

/// The first character XML forbids, with its byte offset. ASCII is judged byte by byte (only
/// the C0 controls but tab, LF and CR are forbidden there); other characters are decoded.
fn first_non_xml_char(text: &str) -> Option<(usize, char)> {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(&x) = b.get(i) {
        if x >= 0x80 {
            let c = text.get(i..).and_then(|t| t.chars().next())?;
            if !is_xml_char(c) {
                return Some((i, c));
            }
            i += c.len_utf8();
        } else {
            if x < 0x20 && !matches!(x, b'\t' | b'\n' | b'\r') {
                return Some((i, char::from(x)));
            }
            i += 1;
        }
    }
    None
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
fn split_attributes(raw: &str, max: usize) -> Result<Vec<RawAttr<'_>>, SplitError> {
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
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let before = i;
        i = skip_ws(i);
        if i >= b.len() {
            return Ok(out);
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
    let attrs = split_attributes(rest, 3).map_err(|e| match e {
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

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits, base: u64) -> Self {
        Builder {
            limits,
            base,
            slots: vec![Slot {
                parent: None,
                node: Node::Document {
                    children: Vec::new(),
                },
            }],
            stack: Vec::new(),
            ns: Vec::new(),
            root: None,
        }
    }

    fn run(mut self, text: &str) -> Result<Document, Error> {
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
                        Some(Node::Element(el)) => match &el.prefix {
                            Some(p) => {
                                found
                                    .strip_prefix(p.as_str())
                                    .and_then(|r| r.strip_prefix(':'))
                                    == Some(el.local.as_str())
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
                        self.text(&normalize_line_ends(&t), pos)?;
                    }
                }
                Event::CData(c) => {
                    if self.stack.is_empty() {
                        return Err(Error::Structure {
                            reason: "CDATA section outside the root element",
                            position: pos,
                        });
                    }
                    self.text(&normalize_line_ends(&c), pos)?;
                }
                Event::GeneralRef(r) => {
                    if self.stack.is_empty() {
                        return Err(Error::Structure {
                            reason: "reference outside the root element",
                            position: pos,
                        });
                    }
                    let c = decode_reference(&r).map_err(|e| ref_error(e, pos))?;
                    let mut buf = [0u8; 4];
                    self.text(c.encode_utf8(&mut buf), pos)?;
                }
                Event::Comment(c) => {
                    let content = normalize_line_ends(&c).into_owned();
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
                    let data = normalize_line_ends(
                        p.content().trim_start_matches([' ', '\t', '\r', '\n']),
                    )
                    .into_owned();
                    self.push(
                        Node::ProcessingInstruction {
                            target: target.to_owned(),
                            data,
                        },
                        pos,
                    )?;
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
                    return Ok(Document {
                        slots: self.slots,
                        root,
                    });
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
    fn push(&mut self, node: Node, pos: u64) -> Result<NodeId, Error> {
        let too_many = Error::LimitExceeded {
            limit: Limit::Nodes,
            max: self.limits.max_nodes,
            position: pos,
        };
        // Ids (and their count) must fit in u32.
        if self.slots.len() >= self.limits.max_nodes || self.slots.len() >= u32::MAX as usize {
            return Err(too_many);
        }
        let id = NodeId(self.slots.len() as u32);
        let parent = self.parent();
        self.slots.push(Slot {
            parent: Some(parent),
            node,
        });
        match self.slots.get_mut(parent.index()).map(|s| &mut s.node) {
            Some(Node::Element(e)) => e.children.push(id),
            Some(Node::Document { children }) => children.push(id),
            _ => {}
        }
        Ok(id)
    }

    /// Appends character data, merging with a preceding text node.
    fn text(&mut self, s: &str, pos: u64) -> Result<(), Error> {
        let parent = self.parent();
        let last = match self.slots.get(parent.index()).map(|s| &s.node) {
            Some(Node::Element(e)) => e.children.last().copied(),
            _ => None,
        };
        if let Some(last) = last
            && let Some(Slot {
                node: Node::Text(t),
                ..
            }) = self.slots.get_mut(last.index())
        {
            t.push_str(s);
            return Ok(());
        }
        self.push(Node::Text(s.to_owned()), pos).map(|_| ())
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

    fn lookup(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NAMESPACE);
        }
        self.ns
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref() == prefix)
            .and_then(|(_, u)| if u.is_empty() { None } else { Some(u.as_str()) })
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
        let Some((prefix, local)) = split_qname(qn) else {
            return Err(Error::InvalidName {
                name: qn.to_owned(),
                position: pos,
            });
        };

        let mut decls: Vec<NamespaceDecl> = Vec::new();
        let mut raw_attrs: Vec<(&str, String)> = Vec::new();
        let raw =
            split_attributes(e.attributes_raw(), self.limits.max_attributes).map_err(|err| {
                match err {
                    SplitError::Syntax(reason, at) => Error::Malformed {
                        reason: reason.to_owned(),
                        position: pos + 1 + qn.len() as u64 + at as u64,
                    },
                    SplitError::TooMany => Error::LimitExceeded {
                        limit: Limit::Attributes,
                        max: self.limits.max_attributes,
                        position: pos,
                    },
                }
            })?;
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
                    prefix: Some(p.to_owned()),
                    uri: value,
                });
            } else {
                raw_attrs.push((key, value));
            }
        }

        let ns_mark = self.ns.len();
        self.ns
            .extend(decls.iter().map(|d| (d.prefix.clone(), d.uri.clone())));

        let namespace = match prefix {
            Some(p) => Some(
                self.lookup(Some(p))
                    .ok_or_else(|| Error::UnboundPrefix {
                        prefix: p.to_owned(),
                        position: pos,
                    })?
                    .to_owned(),
            ),
            None => self.lookup(None).map(str::to_owned),
        };

        let mut attributes: Vec<Attribute> = Vec::with_capacity(raw_attrs.len());
        let mut expanded: Option<HashSet<(String, String)>> =
            (raw_attrs.len() > SMALL_LIST).then(HashSet::new);
        for (key, value) in raw_attrs {
            let Some((ap, al)) = split_qname(key) else {
                return Err(Error::InvalidName {
                    name: key.to_owned(),
                    position: pos,
                });
            };
            let ans = match ap {
                Some(p) => Some(
                    self.lookup(Some(p))
                        .ok_or_else(|| Error::UnboundPrefix {
                            prefix: p.to_owned(),
                            position: pos,
                        })?
                        .to_owned(),
                ),
                None => None,
            };
            if let Some(u) = &ans {
                let duplicate = match &mut expanded {
                    Some(set) => !set.insert((u.clone(), al.to_owned())),
                    None => attributes
                        .iter()
                        .any(|b| b.local == al && b.namespace.as_deref() == Some(u.as_str())),
                };
                if duplicate {
                    return Err(Error::DuplicateAttribute {
                        name: key.to_owned(),
                        position: pos,
                    });
                }
            }
            attributes.push(Attribute {
                prefix: ap.map(str::to_owned),
                local: al.to_owned(),
                namespace: ans,
                value,
            });
        }

        let start = pos as usize;
        let element = Element {
            prefix: prefix.map(str::to_owned),
            local: local.to_owned(),
            namespace,
            namespace_decls: decls,
            attributes,
            children: Vec::new(),
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
