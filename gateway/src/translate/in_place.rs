//! Writing a large output into the buffer of the input it was translated from.
//!
//! A translated dispatch carries the user's message, which is almost all of both the input
//! and the output: the output is a head, the body of that message (a range of the input),
//! and a tail. When the caller gives the input away ([`super::to_rem::translate_owned`],
//! [`super::to_pec::translate_owned`]), the body is moved within the input's buffer to where
//! the output has it and the head and tail are written around it: one buffer of the
//! message's size instead of two.

use std::ops::Range;

/// An output whose middle is a range of the input.
#[derive(Debug)]
pub(crate) struct Spliced {
    head: Vec<u8>,
    body: Range<usize>,
    tail: Vec<u8>,
}

/// Where a translation's large output goes: joined into its own buffer, or (when the
/// caller owns the input and gives it away) kept as a [`Spliced`] to be written into the
/// input's buffer.
#[derive(Debug)]
pub(crate) struct Place<'r> {
    input: Option<&'r [u8]>,
    pending: Option<Spliced>,
}

impl<'r> Place<'r> {
    /// Outputs are joined.
    pub(crate) fn joined() -> Self {
        Place {
            input: None,
            pending: None,
        }
    }

    /// The output whose body is a range of `input` is kept for [`splice`].
    pub(crate) fn of(input: &'r [u8]) -> Self {
        Place {
            input: Some(input),
            pending: None,
        }
    }

    /// The message `head`, `body`, `tail`: joined, or, when `body` lies in the input (and no
    /// other output was kept), kept for [`splice`] and an empty vector returned in its place.
    pub(crate) fn output(&mut self, head: Vec<u8>, body: &[u8], tail: Vec<u8>) -> Vec<u8> {
        if self.pending.is_none()
            && !body.is_empty()
            && let Some(range) = self.input.and_then(|i| range_in(i, body))
        {
            self.pending = Some(Spliced {
                head,
                body: range,
                tail,
            });
            return Vec::new();
        }
        let mut out = Vec::with_capacity(head.len() + body.len() + tail.len());
        out.extend_from_slice(&head);
        out.extend_from_slice(body);
        out.extend_from_slice(&tail);
        out
    }

    /// The output kept, if any.
    pub(crate) fn take(self) -> Option<Spliced> {
        self.pending
    }
}

/// Where `inner` lies in `outer`, when it is a sub-slice of it.
fn range_in(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

/// The outcome of a translation of `raw` made with a [`Place`] of it, whose kept output is
/// `pending`: that output (the first) is written into `raw` itself ([`splice`]).
pub(crate) fn finish(
    outcome: super::report::Outcome,
    pending: Option<Spliced>,
    raw: Vec<u8>,
) -> super::report::Outcome {
    match (outcome, pending) {
        (Ok(Ok(mut t)), Some(s)) => {
            if let Some(o) = t.outputs.first_mut() {
                o.bytes = splice(raw, s);
            }
            Ok(Ok(t))
        }
        (other, _) => other,
    }
}

/// Writes `s` into `buf` (the input it was made from) and returns it: the body moved to its
/// place, the head before it, the tail after it.
pub(crate) fn splice(mut buf: Vec<u8>, s: Spliced) -> Vec<u8> {
    let Spliced { head, body, tail } = s;
    let at = head.len();
    let body_len = body.len();
    let len = at + body_len + tail.len();
    if buf.len() < len {
        buf.resize(len, 0);
    }
    if body.end > buf.len() {
        // Not the buffer the range was taken in (cannot happen through `Place`): joined.
        let mut out = head;
        out.extend_from_slice(&tail);
        return out;
    }
    buf.copy_within(body, at);
    if let Some(h) = buf.get_mut(..at) {
        h.copy_from_slice(&head);
    }
    if let Some(t) = buf.get_mut(at + body_len..len) {
        t.copy_from_slice(&tail);
    }
    buf.truncate(len);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(input: &[u8], head: &[u8], body: Range<usize>, tail: &[u8]) -> Vec<u8> {
        let expected = [head, &input[body.clone()], tail].concat();
        let mut place = Place::of(input);
        let joined = place.output(head.to_vec(), &input[body], tail.to_vec());
        assert!(joined.is_empty());
        let s = place.take().expect("kept");
        let got = splice(input.to_vec(), s);
        assert_eq!(got, expected);
        got
    }

    #[test]
    fn the_body_moves_either_way_and_the_frame_is_written_around_it() {
        let input = b"0123456789abcdefghij";
        through(input, b"HEAD-LONGER-THAN-BEFORE:", 10..16, b":TAIL");
        through(input, b"H", 10..16, b"T");
        through(input, b"", 0..20, b"");
        through(
            input,
            b"0123456789",
            10..20,
            b"+tail much longer than the input",
        );
    }

    #[test]
    fn a_body_outside_the_input_is_joined() {
        let input = b"abc";
        let other = b"xyz";
        let mut place = Place::of(input);
        assert_eq!(place.output(b"<".to_vec(), other, b">".to_vec()), b"<xyz>");
        assert!(place.take().is_none());
        let mut joined = Place::joined();
        assert_eq!(joined.output(b"<".to_vec(), input, b">".to_vec()), b"<abc>");
    }
}
