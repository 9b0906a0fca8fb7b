//! Reading certificates out of files: PEM (one or many `CERTIFICATE` blocks, and
//! `PKCS7`/`CMS` blocks), a single DER certificate, or a DER PKCS#7/CMS bundle
//! (`.p7b`). Input is hostile: every error is a value, nothing panics.
//!
//! Invariants:
//! - certificates come back in file order, byte for byte as the file carries them (so a
//!   fingerprint computed on the result is the fingerprint of what the vendor published);
//! - every returned certificate parsed as X.509 with x509-parser, with no trailing bytes;
//!   the first one that does not is an error naming its index;
//! - work is bounded: [`MAX_INPUT`] bytes and [`MAX_CERTIFICATES`] certificates.
//!
//! What counts as a certificate block: PEM labels `CERTIFICATE` and `X509 CERTIFICATE`;
//! `PKCS7` and `CMS` blocks are read as SignedData bundles; every other block (keys,
//! CSRs, CRLs) and any text around the blocks is ignored.

// `pem-rfc7468`: strict RFC 7468 PEM decoding (RustCrypto), so we do not hand-roll base64.
// `der`: strict DER reader (RustCrypto) used to walk SignedData and cut certificates out
// verbatim. `cms`: the RFC 5652 ContentInfo type, to check a bundle really is SignedData.
use cms::content_info::ContentInfo;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use rustls_pki_types::CertificateDer;

/// Largest input we read: a CA bundle (certifi) is about 250 KB; 32 MiB is generous and
/// keeps a hostile file from costing more than a bounded amount of memory and time.
pub const MAX_INPUT: usize = 32 * 1024 * 1024;

/// Most certificates one file may yield. A public CA bundle holds ~150; a package chain
/// a handful. Beyond this the file is refused rather than silently truncated.
pub const MAX_CERTIFICATES: usize = 4096;

/// id-signedData (RFC 5652 §5.1), also PKCS#7 signedData.
const ID_SIGNED_DATA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("no certificate found: expected PEM CERTIFICATE/PKCS7 blocks, a DER certificate or a DER PKCS#7 bundle")]
    NoCertificates,
    #[error("malformed certificate data: {0}")]
    Malformed(String),
    #[error("certificate #{index} (counting from 0 in file order) is malformed: {reason}")]
    MalformedCertificate { index: usize, reason: String },
    #[error("input too large: {0}")]
    TooLarge(String),
}

/// Every certificate in `data`, in file order, as DER.
pub fn parse_certificates(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, ImportError> {
    if data.len() > MAX_INPUT {
        return Err(ImportError::TooLarge(format!(
            "{} bytes; at most {MAX_INPUT} bytes are read",
            data.len()
        )));
    }
    let ders = if find(data, b"-----BEGIN ").is_some() {
        from_pem(data)?
    } else {
        from_der(data)?
    };
    if ders.is_empty() {
        return Err(ImportError::NoCertificates);
    }
    if ders.len() > MAX_CERTIFICATES {
        return Err(ImportError::TooLarge(format!(
            "{} certificates; at most {MAX_CERTIFICATES} are read from one file",
            ders.len()
        )));
    }
    for (index, der) in ders.iter().enumerate() {
        check_certificate(der)
            .map_err(|reason| ImportError::MalformedCertificate { index, reason })?;
    }
    Ok(ders.into_iter().map(CertificateDer::from).collect())
}

/// x509-parser must read the whole certificate, nothing left over.
fn check_certificate(der: &[u8]) -> Result<(), String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], _)) => Ok(()),
        Ok((rest, _)) => Err(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A binary file: a single certificate or a ContentInfo (PKCS#7/CMS bundle). The two are
/// told apart by their first inner element: a Certificate starts with the tbsCertificate
/// SEQUENCE, a ContentInfo with its contentType OID.
fn from_der(data: &[u8]) -> Result<Vec<Vec<u8>>, ImportError> {
    let malformed = |e: der::Error| ImportError::Malformed(format!("not DER: {e}"));
    let mut outer = SliceReader::new(data).map_err(malformed)?;
    let header = der::Header::decode(&mut outer).map_err(|e| {
        if data.is_empty() {
            ImportError::NoCertificates
        } else {
            malformed(e)
        }
    })?;
    if header.tag != Tag::Sequence {
        return Err(ImportError::NoCertificates);
    }
    let body = outer.read_slice(header.length).map_err(malformed)?;
    if !outer.is_finished() {
        return Err(ImportError::Malformed(
            "trailing bytes after the DER structure".into(),
        ));
    }
    let first = SliceReader::new(body)
        .and_then(|r| r.peek_tag())
        .map_err(malformed)?;
    match first {
        Tag::Sequence => Ok(vec![data.to_vec()]),
        Tag::ObjectIdentifier => signed_data_certificates(data),
        other => Err(ImportError::Malformed(format!(
            "DER structure starts with {other}, neither a certificate nor a ContentInfo"
        ))),
    }
}

/// The certificates of a ContentInfo holding SignedData (RFC 5652 §5.1), verbatim and in
/// file order.
///
/// `cms` checks the ContentInfo and its content type. The SignedData is then walked by
/// hand rather than decoded with `cms::signed_data::SignedData`, because `der`'s
/// `SetOfVec` re-sorts the certificate SET on decoding and refuses duplicates, and re-
/// encoding a decoded certificate is not guaranteed to give the original bytes.
pub(crate) fn signed_data_certificates(data: &[u8]) -> Result<Vec<Vec<u8>>, ImportError> {
    let info = ContentInfo::from_der(data)
        .map_err(|e| ImportError::Malformed(format!("not a PKCS#7/CMS ContentInfo: {e}")))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(ImportError::Malformed(format!(
            "PKCS#7/CMS content type {} is not signedData",
            info.content_type
        )));
    }
    if info.content.tag() != Tag::Sequence {
        return Err(ImportError::Malformed(
            "SignedData is not a SEQUENCE".into(),
        ));
    }
    walk_signed_data(info.content.value())
        .map_err(|e| ImportError::Malformed(format!("malformed SignedData: {e}")))
}

/// The body of SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo
/// SEQUENCE, certificates [0] IMPLICIT CertificateSet OPTIONAL, crls [1] OPTIONAL,
/// signerInfos SET }.
fn walk_signed_data(signed_data_body: &[u8]) -> Result<Vec<Vec<u8>>, der::Error> {
    let mut reader = SliceReader::new(signed_data_body)?;
    let sd = &mut reader;
    {
        let _version = sd.tlv_bytes()?;
        let _digest_algorithms = sd.tlv_bytes()?;
        let _encap_content_info = sd.tlv_bytes()?;
        let mut certs = Vec::new();
        let certificates_tag = Tag::ContextSpecific {
            constructed: true,
            number: TagNumber::N0,
        };
        if !sd.is_finished() && sd.peek_tag()? == certificates_tag {
            let header = der::Header::decode(sd)?;
            let set = sd.read_slice(header.length)?;
            let mut choices = SliceReader::new(set)?;
            while !choices.is_finished() {
                let tag = choices.peek_tag()?;
                let tlv = choices.tlv_bytes()?;
                // CertificateChoices: only the plain Certificate (a SEQUENCE) matters;
                // attribute certificates and other formats are skipped.
                if tag == Tag::Sequence {
                    certs.push(tlv.to_vec());
                }
                if certs.len() > MAX_CERTIFICATES {
                    break;
                }
            }
        }
        // The rest (crls, signerInfos) is not ours to judge here; skip it.
        while !sd.is_finished() {
            let _ = sd.tlv_bytes()?;
        }
        Ok(certs)
    }
}

/// Every PEM block, in order. Certificate blocks give one certificate, PKCS7/CMS blocks
/// give their SignedData certificates, other labels are ignored.
fn from_pem(data: &[u8]) -> Result<Vec<Vec<u8>>, ImportError> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut block_no = 0usize;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let after_begin = &rest[start + b"-----BEGIN ".len()..];
        let Some(label_end) = find(after_begin, b"-----") else {
            return Err(ImportError::Malformed(format!(
                "PEM block #{block_no}: unterminated BEGIN line"
            )));
        };
        let label = &after_begin[..label_end];
        if label.len() > 64 || label.contains(&b'\n') {
            return Err(ImportError::Malformed(format!(
                "PEM block #{block_no}: malformed BEGIN line"
            )));
        }
        let body_and_rest = &after_begin[label_end + 5..];
        let mut end_marker = b"-----END ".to_vec();
        end_marker.extend_from_slice(label);
        end_marker.extend_from_slice(b"-----");
        let Some(end) = find(body_and_rest, &end_marker) else {
            return Err(ImportError::Malformed(format!(
                "PEM block #{block_no} ({}): no matching END line",
                String::from_utf8_lossy(label)
            )));
        };
        let body = &body_and_rest[..end];
        rest = &body_and_rest[end + end_marker.len()..];
        match label {
            b"CERTIFICATE" | b"X509 CERTIFICATE" => {
                out.push(decode_pem_body(label, body, block_no)?);
            }
            b"PKCS7" | b"CMS" => {
                let der = decode_pem_body(label, body, block_no)?;
                out.extend(signed_data_certificates(&der)?);
            }
            _ => {}
        }
        block_no += 1;
        if out.len() > MAX_CERTIFICATES {
            break;
        }
    }
    Ok(out)
}

/// The DER of the first PEM block whose label is one of `labels` (a CMS signature
/// written with `-outform PEM`), or `None` when there is none.
pub(crate) fn pem_block(data: &[u8], labels: &[&[u8]]) -> Result<Option<Vec<u8>>, ImportError> {
    let mut rest = data;
    let mut block_no = 0usize;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let after_begin = &rest[start + b"-----BEGIN ".len()..];
        let Some(label_end) = find(after_begin, b"-----") else {
            return Ok(None);
        };
        let label = &after_begin[..label_end];
        let body_and_rest = &after_begin[label_end + 5..];
        let mut end_marker = b"-----END ".to_vec();
        end_marker.extend_from_slice(label);
        end_marker.extend_from_slice(b"-----");
        let Some(end) = find(body_and_rest, &end_marker) else {
            return Ok(None);
        };
        if labels.contains(&label) {
            return decode_pem_body(label, &body_and_rest[..end], block_no).map(Some);
        }
        rest = &body_and_rest[end + end_marker.len()..];
        block_no += 1;
    }
    Ok(None)
}

/// Decode one block's base64 with `pem-rfc7468`. The body is first re-wrapped at 64
/// columns with LF line ends, so CRLF files, trailing spaces and other line widths (76
/// columns, one long line) are accepted; the base64 alphabet itself stays strict.
fn decode_pem_body(label: &[u8], body: &[u8], block_no: usize) -> Result<Vec<u8>, ImportError> {
    let malformed = |what: String| {
        ImportError::Malformed(format!(
            "PEM block #{block_no} ({}): {what}",
            String::from_utf8_lossy(label)
        ))
    };
    let b64: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if b64.contains(&b':') {
        return Err(malformed(
            "encapsulated headers are not supported in certificate blocks".into(),
        ));
    }
    let mut pem = Vec::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    pem.extend_from_slice(b"-----BEGIN ");
    pem.extend_from_slice(label);
    pem.extend_from_slice(b"-----\n");
    for line in b64.chunks(64) {
        pem.extend_from_slice(line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(b"-----END ");
    pem.extend_from_slice(label);
    pem.extend_from_slice(b"-----\n");
    let (_, der) = pem_rfc7468::decode_vec(&pem).map_err(|e| malformed(e.to_string()))?;
    Ok(der)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The shared corpus sits beside the repository in CI (`../shared`); a git worktree
    /// one level deeper (`/work/wt/<name>`) finds it at `../../shared`.
    pub(crate) fn corpus(rel: &str) -> Option<Vec<u8>> {
        let candidates = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/"),
        ];
        for dir in candidates {
            if let Ok(bytes) = std::fs::read(format!("{dir}{rel}")) {
                return Some(bytes);
            }
        }
        eprintln!("note: skipping, corpus file {rel} not found beside the repository");
        None
    }

    fn self_signed(cn: &str) -> rcgen::Certificate {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.self_signed(&key).unwrap()
    }

    /// A certs-only SignedData (RFC 5652 §5.1) around `certs`, encoded by hand so the
    /// test controls the order.
    fn p7b(certs: &[&[u8]]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            let len = body.len();
            if len < 0x80 {
                out.push(len as u8);
            } else if len < 0x100 {
                out.extend([0x81, len as u8]);
            } else {
                out.extend([0x82, (len >> 8) as u8, len as u8]);
            }
            out.extend_from_slice(body);
            out
        }
        let mut sd = Vec::new();
        sd.extend(tlv(0x02, &[1])); // version
        sd.extend(tlv(0x31, &[])); // digestAlgorithms
        sd.extend(tlv(
            0x30,
            &tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 1]),
        ));
        sd.extend(tlv(0xa0, &certs.concat()));
        sd.extend(tlv(0x31, &[])); // signerInfos
        let oid = tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 2]);
        tlv(0x30, &[oid, tlv(0xa0, &tlv(0x30, &sd))].concat())
    }

    #[test]
    fn pem_many_blocks_with_text_keys_and_crlf() {
        let a = self_signed("A");
        let b = self_signed("B");
        let text = format!(
            "# bundle\r\nsubject=A\r\n{}\r\n-----BEGIN PRIVATE KEY-----\r\nAAAA\r\n-----END PRIVATE KEY-----\r\nnoise\r\n{}",
            a.pem().replace('\n', "\r\n"),
            b.pem()
        );
        let got = parse_certificates(text.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref(), a.der().as_ref());
        assert_eq!(got[1].as_ref(), b.der().as_ref());
    }

    #[test]
    fn der_certificate_and_der_and_pem_pkcs7() {
        let a = self_signed("A");
        let b = self_signed("B");
        assert_eq!(
            parse_certificates(a.der()).unwrap()[0].as_ref(),
            a.der().as_ref()
        );
        // Order is kept even though it is not DER SET OF order.
        let (first, second) = if a.der().as_ref() > b.der().as_ref() {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let bundle = p7b(&[first.der(), second.der()]);
        let got = parse_certificates(&bundle).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref(), first.der().as_ref());
        assert_eq!(got[1].as_ref(), second.der().as_ref());
        let pem =
            pem_rfc7468::encode_string("PKCS7", pem_rfc7468::LineEnding::LF, &bundle).unwrap();
        assert_eq!(parse_certificates(pem.as_bytes()).unwrap(), got);
    }

    #[test]
    fn malformed_certificate_names_its_index() {
        let a = self_signed("A");
        let mut broken = a.der().to_vec();
        let n = broken.len();
        broken[n - 40] ^= 0xff; // inside the signature: still DER? flip a length instead
        broken[1] = 0x80; // indefinite/invalid length
        let bad = pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &broken)
            .unwrap();
        let text = format!("{}{}", a.pem(), bad);
        match parse_certificates(text.as_bytes()) {
            Err(ImportError::MalformedCertificate { index: 1, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let a = self_signed("A");
        let der = a.der().to_vec();
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            b"garbage".to_vec(),
            vec![0x30],
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            vec![0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            der[..der.len() / 2].to_vec(),
            [der.clone(), vec![0]].concat(),
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_vec(),
            b"-----BEGIN CERTIFICATE-----\nAAAA\n".to_vec(),
            b"-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n".to_vec(),
            p7b(&[&der[..10]]),
            b"-----BEGIN ".to_vec(),
        ];
        for case in cases {
            assert!(parse_certificates(&case).is_err(), "{case:?}");
        }
        // Every prefix of a valid bundle fails cleanly.
        let bundle = p7b(&[&der]);
        for n in 0..bundle.len() {
            assert!(parse_certificates(&bundle[..n]).is_err());
        }
    }

    #[test]
    fn pem_without_certificates_is_no_certificates() {
        let only_key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            parse_certificates(only_key),
            Err(ImportError::NoCertificates)
        ));
    }

    #[test]
    fn corpus_letsencrypt_and_certifi() {
        for name in [
            "isrgrootx1.pem",
            "isrgrootx1.der",
            "isrg-root-x2.pem",
            "trustid-x3-root.p7b",
        ] {
            let Some(bytes) = corpus(&format!("certs/letsencrypt/{name}")) else {
                return;
            };
            let certs = parse_certificates(&bytes).unwrap();
            assert_eq!(certs.len(), 1, "{name}");
        }
        if let (Some(pem), Some(der)) = (
            corpus("certs/letsencrypt/isrgrootx1.pem"),
            corpus("certs/letsencrypt/isrgrootx1.der"),
        ) {
            assert_eq!(
                parse_certificates(&pem).unwrap(),
                parse_certificates(&der).unwrap()
            );
        }
        if let Some(p7b) = corpus("certs/letsencrypt/trustid-x3-root.p7b") {
            let fp = crate::trust::Fingerprint::of(parse_certificates(&p7b).unwrap()[0].as_ref());
            assert_eq!(
                fp.to_hex(),
                "0687260331a72403d909f105e69bcf0d32e1bd2493ffc6d9206d11bcd6770739"
            );
        }
        if let Some(bundle) = corpus("certs/certifi/cacert.pem") {
            let certs = parse_certificates(&bundle).unwrap();
            assert!((100..200).contains(&certs.len()), "{}", certs.len());
        }
    }
}
