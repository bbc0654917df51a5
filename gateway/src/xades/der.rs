//! The few DER shapes XAdES needs beside the certificates themselves: `IssuerSerial`
//! (RFC 5035, carried base64 in `xades:IssuerSerialV2`) and the conversion of an XML-DSig
//! ECDSA value (`r || s`) to the ASN.1 `Ecdsa-Sig-Value` the verifier takes.

/// Appends a DER length.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// A DER TLV with `tag` around `content`.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
/// with the issuer as one `directoryName` (`[4]`, explicit, constructed) holding the issuer
/// `Name` DER exactly as in the certificate, and the serial INTEGER content as encoded there.
pub(crate) fn issuer_serial(issuer_name_der: &[u8], serial: &[u8]) -> Vec<u8> {
    let general_names = tlv(0x30, &tlv(0xa4, issuer_name_der));
    let mut body = general_names;
    body.extend_from_slice(&tlv(0x02, serial));
    tlv(0x30, &body)
}

/// One TLV read from `input`: (tag, content, rest). `None` when truncated, indefinite or
/// longer than the input.
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest.get(n..)?)
    };
    let content = rest.get(..len)?;
    Some((tag, content, rest.get(len..)?))
}

/// Reads an `IssuerSerial` into (issuer `Name` DER, serial INTEGER content) when its issuer is
/// exactly one `directoryName`. `None` for any other shape.
pub(crate) fn parse_issuer_serial(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, body, rest) = read_tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tag, names, rest) = read_tlv(body)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, name, more_names) = read_tlv(names)?;
    if tag != 0xa4 || !more_names.is_empty() {
        return None;
    }
    // `name` is the content of [4]: the Name SEQUENCE TLV itself.
    let (name_tag, _, after_name) = read_tlv(name)?;
    if name_tag != 0x30 || !after_name.is_empty() {
        return None;
    }
    let (tag, serial, rest) = read_tlv(rest)?;
    if tag != 0x02 {
        return None;
    }
    // issuerUID (BIT STRING) may follow; nothing else.
    if !rest.is_empty() {
        let (tag, _, after) = read_tlv(rest)?;
        if tag != 0x03 || !after.is_empty() {
            return None;
        }
    }
    Some((name.to_vec(), serial.to_vec()))
}

/// The DER INTEGER for an unsigned big-endian magnitude.
fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = magnitude.iter().take_while(|b| **b == 0).count();
        magnitude.get(skip..).unwrap_or_default()
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    match trimmed.first() {
        None => content.push(0),
        Some(b) if b & 0x80 != 0 => {
            content.push(0);
            content.extend_from_slice(trimmed);
        }
        Some(_) => content.extend_from_slice(trimmed),
    }
    tlv(0x02, &content)
}

/// Converts an XML-DSig ECDSA signature value (`r || s`, both halves the same length) to the
/// DER `Ecdsa-Sig-Value`. `None` when the length is odd or zero.
pub(crate) fn ecdsa_fixed_to_der(fixed: &[u8]) -> Option<Vec<u8>> {
    if fixed.is_empty() || !fixed.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let mut body = unsigned_integer(r);
    body.extend_from_slice(&unsigned_integer(s));
    Some(tlv(0x30, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_serial_round_trips() {
        let name = tlv(0x30, &tlv(0x31, &[0x30, 0x00]));
        let der = issuer_serial(&name, &[0x48, 0x36, 0xd0, 0x87]);
        let (n, s) = parse_issuer_serial(&der).expect("shape");
        assert_eq!(n, name);
        assert_eq!(s, vec![0x48, 0x36, 0xd0, 0x87]);
        assert!(parse_issuer_serial(&der[..der.len() - 1]).is_none());
    }

    #[test]
    fn long_lengths_are_encoded_in_long_form() {
        let big = vec![7u8; 300];
        let t = tlv(0x04, &big);
        assert_eq!(&t[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (tag, content, rest) = read_tlv(&t).expect("tlv");
        assert_eq!((tag, content.len(), rest.len()), (0x04, 300, 0));
    }

    #[test]
    fn ecdsa_fixed_values_become_der_integers() {
        let mut fixed = vec![0u8; 64];
        fixed[0] = 0x80; // r needs a leading zero
        fixed[63] = 1; // s is 1 after trimming
        let der = ecdsa_fixed_to_der(&fixed).expect("even");
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
        assert!(ecdsa_fixed_to_der(&[1, 2, 3]).is_none());
    }
}
