//! Secure reading of an evidence into a small namespace-resolved element tree that remembers
//! the byte span of every element, so unmodelled subtrees can be kept verbatim.
//!
//! Refused: DOCTYPE (hence every entity declaration), entities other than the predefined
//! five, undeclared prefixes, encodings other than UTF-8, and input beyond [`Limits`].
//!
//! The tree borrows the input: names are slices of it, and so are namespace URIs, attribute
//! values and text unless reading changed them (references, normalization, merged runs).

use std::borrow::Cow;
use std::ops::Range;
use std::rc::Rc;

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event as XmlEvent};

use super::model::{NamespaceBinding, RawXml};
use crate::rem::Error;
use crate::xml::{is_xml_char, slice_of};

/// The namespace bound to the `xml` prefix by definition.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Bounds on what the evidence reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document, in bytes (default 4 MiB; kit evidences are about 17 KB).
    pub max_bytes: usize,
    /// Deepest element nesting (default 64; kit evidences reach 9).
    pub max_depth: usize,
    /// Most attributes (including namespace declarations) on one element (default 64).
    pub max_attributes: usize,
    /// Most elements in the document (default 100 000).
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 4 << 20,
            max_depth: 64,
            max_attributes: 64,
            max_elements: 100_000,
        }
    }
}

/// A resolved attribute (namespace declarations are not listed).
#[derive(Debug)]
pub(super) struct Attr<'a> {
    /// Namespace URI; `None` for unprefixed attributes.
    pub ns: Option<Cow<'a, str>>,
    /// Local name.
    pub local: &'a str,
    /// Normalized, unescaped value.
    pub value: Cow<'a, str>,
}

/// Content of an element.
#[derive(Debug)]
pub(super) enum Node<'a> {
    /// A child element.
    Element(Element<'a>),
    /// Character data (text, references and CDATA merged).
    Text(Cow<'a, str>),
}

/// An element with its resolved name, attributes, children and byte span.
#[derive(Debug)]
pub(super) struct Element<'a> {
    /// Namespace URI; `None` when unqualified.
    pub ns: Option<Cow<'a, str>>,
    /// Local name.
    pub local: &'a str,
    /// Attributes other than namespace declarations.
    pub attrs: Vec<Attr<'a>>,
    /// Children, in document order.
    pub children: Vec<Node<'a>>,
    /// Bytes from `<` to the end of the end tag.
    pub span: Range<usize>,
    /// The bindings declared on this element.
    pub decls: Vec<NamespaceBinding>,
    /// The bindings in scope at the parent (sorted by prefix).
    pub parent_scope: Rc<Vec<NamespaceBinding>>,
    /// The bindings in scope here, for the children (sorted by prefix; made once).
    pub child_scope: Rc<Vec<NamespaceBinding>>,
}

impl Element<'_> {
    /// `{ns}local`, for messages.
    pub fn clark(&self) -> String {
        clark(self.ns.as_deref(), self.local)
    }

    /// Whether the element is `local` in namespace `ns`.
    pub fn is(&self, ns: Option<&str>, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == ns
    }

    /// The unprefixed attribute `local`.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| &*a.value)
    }

    /// The attribute `local` in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| &*a.value)
    }

    /// The element verbatim, with the bindings it inherited and does not itself re-declare.
    pub fn raw(&self, input: &str) -> RawXml {
        RawXml {
            xml: input.get(self.span.clone()).unwrap_or_default().to_owned(),
            inherited: self
                .parent_scope
                .iter()
                .filter(|b| !self.decls.iter().any(|d| d.prefix == b.prefix))
                .cloned()
                .collect(),
        }
    }
}

/// `{ns}local`, or `local` without a namespace.
pub(super) fn clark(ns: Option<&str>, local: &str) -> String {
    match ns {
        Some(ns) => format!("{{{ns}}}{local}"),
        None => local.to_owned(),
    }
}

/// Reads `input` into its root element, enforcing `limits`.
pub(super) fn read<'a>(input: &'a str, limits: &Limits) -> Result<Element<'a>, Error> {
    if input.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    // XML 1.0 §2.2: only `Char` may occur (quick-xml does not check); a NUL or U+001F in an
    // address would otherwise travel on into PEC headers and daticert.xml.
    if let Some((offset, c)) = input.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        return Err(Error::InvalidChar {
            code: u32::from(c),
            offset,
        });
    }
    let mut reader = Reader::from_str(input);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        config.trim_text_start = false;
        config.trim_text_end = false;
    }
    let mut stack: Vec<Element<'a>> = Vec::new();
    let mut root: Option<Element<'a>> = None;
    // The declarations in scope (prefix, "" for the default; URI), nearest last, and the
    // length of that list when each open element was entered.
    let mut ns: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut elements = 0usize;
    let empty_scope: Rc<Vec<NamespaceBinding>> = Rc::new(Vec::new());
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| Error::Malformed {
            offset: reader.error_position(),
            message: e.to_string(),
        })?;
        let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match event {
            XmlEvent::Start(_) | XmlEvent::Empty(_) if root.is_some() => {
                return Err(Error::ContentAfterRoot { offset: start });
            }
            XmlEvent::Start(s) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(Error::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
                if stack.len() >= limits.max_depth {
                    return Err(Error::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                let scope = stack
                    .last()
                    .map(|e| e.child_scope.clone())
                    .unwrap_or_else(|| empty_scope.clone());
                marks.push(ns.len());
                let el = open(input, &s, start..end, scope, limits, &mut ns)?;
                stack.push(el);
            }
            XmlEvent::Empty(s) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(Error::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
                if stack.len() >= limits.max_depth {
                    return Err(Error::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                let scope = stack
                    .last()
                    .map(|e| e.child_scope.clone())
                    .unwrap_or_else(|| empty_scope.clone());
                let mark = ns.len();
                let el = open(input, &s, start..end, scope, limits, &mut ns)?;
                ns.truncate(mark);
                close(el, &mut stack, &mut root);
            }
            XmlEvent::End(_) => {
                // quick-xml has checked that the name matches the open element.
                let Some(mut el) = stack.pop() else {
                    return Err(Error::Malformed {
                        offset: start as u64,
                        message: "end tag without start tag".into(),
                    });
                };
                el.span.end = end;
                if let Some(mark) = marks.pop() {
                    ns.truncate(mark);
                }
                close(el, &mut stack, &mut root);
            }
            XmlEvent::Text(t) => {
                let text = borrowed(input, t.xml_content(XmlVersion::Implicit1_0));
                push_text(&mut stack, text, start)?;
            }
            XmlEvent::CData(c) => {
                let text = borrowed(input, c.xml_content(XmlVersion::Implicit1_0));
                push_text(&mut stack, text, start)?;
            }
            XmlEvent::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(ch)) => ch,
                    Ok(None) => match predefined(&r.xml_content(XmlVersion::Implicit1_0)) {
                        Some(ch) => ch,
                        None => {
                            return Err(Error::UnknownEntity {
                                name: r.xml_content(XmlVersion::Implicit1_0).into_owned(),
                            });
                        }
                    },
                    Err(e) => {
                        return Err(Error::Malformed {
                            offset: start as u64,
                            message: e.to_string(),
                        });
                    }
                };
                if !is_xml_char(ch) {
                    return Err(Error::InvalidChar {
                        code: u32::from(ch),
                        offset: start,
                    });
                }
                push_text(&mut stack, Cow::Owned(String::from(ch)), start)?;
            }
            XmlEvent::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(|e| Error::Malformed {
                        offset: start as u64,
                        message: e.to_string(),
                    })?;
                    if !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("utf8") {
                        return Err(Error::UnsupportedEncoding {
                            encoding: enc.into_owned(),
                        });
                    }
                }
            }
            XmlEvent::DocType(_) => return Err(Error::Doctype),
            XmlEvent::Comment(_) | XmlEvent::PI(_) => {}
            XmlEvent::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Error::Malformed {
            offset: input.len() as u64,
            message: "document ends inside an element".into(),
        });
    }
    root.ok_or(Error::NoRoot)
}

fn scope_of(el: &Element<'_>) -> Rc<Vec<NamespaceBinding>> {
    if el.decls.is_empty() {
        return el.parent_scope.clone();
    }
    let mut scope: Vec<NamespaceBinding> = el
        .parent_scope
        .iter()
        .filter(|b| !el.decls.iter().any(|d| d.prefix == b.prefix))
        .cloned()
        .collect();
    scope.extend(el.decls.iter().cloned());
    scope.sort();
    Rc::new(scope)
}

/// `c` borrowed from `input` when it is a slice of it (quick-xml's events borrow it), else
/// owned.
fn borrowed<'a>(input: &'a str, c: Cow<'_, str>) -> Cow<'a, str> {
    match c {
        Cow::Borrowed(b) => match slice_of(input, b) {
            Some(b) => Cow::Borrowed(b),
            None => Cow::Owned(b.to_owned()),
        },
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// A name of the input as a slice of it.
fn name_of<'a>(input: &'a str, name: &str, offset: usize) -> Result<&'a str, Error> {
    slice_of(input, name).ok_or_else(|| Error::Malformed {
        offset: offset as u64,
        message: "the tokenizer returned a name that is not part of the input".into(),
    })
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

fn push_text<'a>(
    stack: &mut [Element<'a>],
    text: Cow<'a, str>,
    offset: usize,
) -> Result<(), Error> {
    match stack.last_mut() {
        Some(el) => {
            if let Some(Node::Text(prev)) = el.children.last_mut() {
                prev.to_mut().push_str(&text);
            } else {
                el.children.push(Node::Text(text));
            }
            Ok(())
        }
        None if text.chars().all(is_xml_space) => Ok(()),
        None => Err(Error::ContentAfterRoot { offset }),
    }
}

/// XML white space (S production).
pub(super) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn close<'a>(el: Element<'a>, stack: &mut [Element<'a>], root: &mut Option<Element<'a>>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

/// The element of start tag `s`; its declarations are pushed on `ns`.
fn open<'a>(
    input: &'a str,
    s: &BytesStart<'_>,
    span: Range<usize>,
    parent_scope: Rc<Vec<NamespaceBinding>>,
    limits: &Limits,
    ns: &mut Vec<(&'a str, Cow<'a, str>)>,
) -> Result<Element<'a>, Error> {
    let name = s.name();
    let qname: &str = name.into_inner();
    let mut decls = Vec::new();
    let mut raw_attrs: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
    for (count, attr) in s.attributes().enumerate() {
        if count >= limits.max_attributes {
            return Err(Error::TooManyAttributes {
                element: qname.to_owned(),
                limit: limits.max_attributes,
            });
        }
        let attr = attr.map_err(|e| Error::Malformed {
            offset: span.start as u64,
            message: e.to_string(),
        })?;
        let key: &str = attr.key.into_inner();
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| Error::Malformed {
                offset: span.start as u64,
                message: format!("attribute {key}: {e}"),
            })?;
        let value = borrowed(input, value);
        let key = name_of(input, key, span.start)?;
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(Error::InvalidChar {
                code: u32::from(c),
                offset: span.start,
            });
        }
        if key == "xmlns" {
            decls.push(NamespaceBinding {
                prefix: String::new(),
                uri: value.to_string(),
            });
            ns.push(("", value));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(Error::Malformed {
                    offset: span.start as u64,
                    message: format!("prefix {prefix:?} un-declared (not allowed in XML 1.0)"),
                });
            }
            decls.push(NamespaceBinding {
                prefix: prefix.to_owned(),
                uri: value.to_string(),
            });
            ns.push((prefix, value));
        } else {
            raw_attrs.push((key, value));
        }
    }
    let qname = name_of(input, qname, span.start)?;
    let (prefix, local) = split_qname(qname);
    let mut el = Element {
        ns: resolve(ns, prefix, true)?,
        local,
        attrs: Vec::with_capacity(raw_attrs.len()),
        children: Vec::new(),
        span,
        decls,
        child_scope: parent_scope.clone(),
        parent_scope,
    };
    el.child_scope = scope_of(&el);
    for (key, value) in raw_attrs {
        let (prefix, local) = split_qname(key);
        let ns = resolve(ns, prefix, false)?;
        if el
            .attrs
            .iter()
            .any(|a: &Attr<'_>| a.ns == ns && a.local == local)
        {
            return Err(Error::Malformed {
                offset: el.span.start as u64,
                message: format!("attribute {key} repeated on {qname}"),
            });
        }
        el.attrs.push(Attr { ns, local, value });
    }
    Ok(el)
}

fn split_qname(qname: &str) -> (Option<&str>, &str) {
    match qname.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, qname),
    }
}

/// The namespace of `prefix` by the declarations in scope, nearest last.
fn resolve<'a>(
    scope: &[(&'a str, Cow<'a, str>)],
    prefix: Option<&str>,
    is_element: bool,
) -> Result<Option<Cow<'a, str>>, Error> {
    match prefix {
        Some("xml") => Ok(Some(Cow::Borrowed(XML_NS))),
        Some(p) => scope
            .iter()
            .rev()
            .find(|(q, _)| *q == p)
            .map(|(_, u)| Some(u.clone()))
            .ok_or_else(|| Error::UnboundPrefix {
                prefix: p.to_owned(),
            }),
        None if is_element => Ok(scope
            .iter()
            .rev()
            .find(|(q, _)| q.is_empty())
            .filter(|(_, u)| !u.is_empty())
            .map(|(_, u)| u.clone())),
        None => Ok(None),
    }
}
