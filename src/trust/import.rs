//! Reading certificates out of files: PEM (one or many `CERTIFICATE` blocks, and
//! `PKCS7`/`CMS` blocks), a single DER certificate, or a DER PKCS#7/CMS bundle
//! (`.p7b`). Input is hostile: every error is a value, nothing panics, and the number of
//! certificates read from one input is bounded.
//!
//! Crates: `pem-rfc7468` (RustCrypto's strict PEM decoder) for the text armour, `cms`
//! for the PKCS#7 container, and x509-parser to check that each certificate parses.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::{Decode, Encode};
use rustls_pki_types::CertificateDer;

/// At most this many certificates from one input (Mozilla's root store has ~150).
pub const MAX_CERTIFICATES: usize = 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("no certificate found: expected PEM CERTIFICATE/PKCS7 blocks, a DER certificate or a DER PKCS#7 bundle")]
    NoCertificates,
    #[error("malformed certificate data: {0}")]
    Malformed(String),
    #[error("more than {MAX_CERTIFICATES} certificates in one file")]
    TooMany,
}

/// Every certificate in `data`, in file order, as DER.
pub fn parse_certificates(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, ImportError> {
    let mut out = Vec::new();
    if looks_like_pem(data) {
        let text = std::str::from_utf8(data)
            .map_err(|_| ImportError::Malformed("PEM text is not UTF-8".into()))?;
        for (index, (label, der)) in pem_blocks(text)?.into_iter().enumerate() {
            match label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                    check(&der, index)?;
                    out.push(CertificateDer::from(der));
                }
                "PKCS7" | "CMS" => out.extend(from_pkcs7(&der)?),
                _ => {} // keys, CRLs, parameters: not ours to import
            }
            if out.len() > MAX_CERTIFICATES {
                return Err(ImportError::TooMany);
            }
        }
    } else if x509_parser::parse_x509_certificate(data).is_ok_and(|(rest, _)| rest.is_empty()) {
        out.push(CertificateDer::from(data.to_vec()));
    } else if !data.is_empty() {
        out.extend(from_pkcs7(data)?);
    }
    if out.is_empty() {
        return Err(ImportError::NoCertificates);
    }
    if out.len() > MAX_CERTIFICATES {
        return Err(ImportError::TooMany);
    }
    Ok(out)
}

fn looks_like_pem(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Split PEM text into (label, DER) blocks; text between blocks is ignored.
pub(crate) fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, ImportError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| ImportError::Malformed("unterminated PEM BEGIN line".into()))?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let end = after
            .find(&end_marker)
            .ok_or_else(|| ImportError::Malformed(format!("PEM block {label} has no END line")))?;
        let block = &rest[start..start + 11 + end + end_marker.len()];
        // pem-rfc7468 wants LF or CRLF line endings and no surrounding noise.
        let normalised = format!("{}\n", block.replace("\r\n", "\n").trim());
        let (decoded_label, der) = pem_rfc7468::decode_vec(normalised.as_bytes())
            .map_err(|e| ImportError::Malformed(format!("PEM block {label}: {e}")))?;
        blocks.push((decoded_label.to_owned(), der));
        rest = &after[end + end_marker.len()..];
        if blocks.len() > MAX_CERTIFICATES {
            return Err(ImportError::TooMany);
        }
    }
    Ok(blocks)
}

fn check(der: &[u8], index: usize) -> Result<(), ImportError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], _)) => Ok(()),
        Ok(_) => Err(ImportError::Malformed(format!(
            "certificate {} has trailing data",
            index + 1
        ))),
        Err(e) => Err(ImportError::Malformed(format!(
            "certificate {} does not parse: {e}",
            index + 1
        ))),
    }
}

/// The certificates of a DER PKCS#7/CMS SignedData (a `.p7b` bundle or a signature).
pub fn from_pkcs7(der: &[u8]) -> Result<Vec<CertificateDer<'static>>, ImportError> {
    let ci = ContentInfo::from_der(der)
        .map_err(|e| ImportError::Malformed(format!("not a certificate or PKCS#7 bundle: {e}")))?;
    if ci.content_type != const_oid::db::rfc5911::ID_SIGNED_DATA {
        return Err(ImportError::Malformed(format!(
            "PKCS#7 content type {} is not signedData",
            ci.content_type
        )));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| ImportError::Malformed(format!("PKCS#7 SignedData: {e}")))?;
    let mut out = Vec::new();
    for (index, choice) in sd.certificates.iter().flat_map(|s| s.0.iter()).enumerate() {
        if let CertificateChoices::Certificate(cert) = choice {
            let der = cert
                .to_der()
                .map_err(|e| ImportError::Malformed(format!("certificate {}: {e}", index + 1)))?;
            check(&der, index)?;
            out.push(CertificateDer::from(der));
            if out.len() > MAX_CERTIFICATES {
                return Err(ImportError::TooMany);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(rel: &str) -> Option<Vec<u8>> {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/certs/").to_owned() + rel;
        match std::fs::read(&p) {
            Ok(b) => Some(b),
            Err(_) => {
                eprintln!("corpus file {p} absent: skipped");
                None
            }
        }
    }

    #[test]
    fn reads_pem_der_and_p7b_from_the_corpus() {
        let Some(pem) = corpus("letsencrypt/isrgrootx1.pem") else {
            return;
        };
        let Some(der) = corpus("letsencrypt/isrgrootx1.der") else {
            return;
        };
        let a = parse_certificates(&pem).unwrap();
        let b = parse_certificates(&der).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a, b);
        if let Some(p7b) = corpus("letsencrypt/trustid-x3-root.p7b") {
            let certs = parse_certificates(&p7b).unwrap();
            assert!(!certs.is_empty());
        }
        if let Some(bundle) = corpus("certifi/cacert.pem") {
            let certs = parse_certificates(&bundle).unwrap();
            assert!(certs.len() > 100, "{}", certs.len());
        }
    }

    #[test]
    fn crlf_and_noise_around_blocks_are_fine() {
        let Some(pem) = corpus("letsencrypt/isrgrootx1.pem") else {
            return;
        };
        let text = String::from_utf8(pem).unwrap();
        let noisy = format!(
            "Subject: whatever\r\n{}\r\ntrailer\n{}",
            text.replace('\n', "\r\n"),
            text
        );
        assert_eq!(parse_certificates(noisy.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            b"hello",
            b"\x30\x82\xff\xff\x00",
            b"\x30\x80\x00\x00",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nMIIB\n",
            b"-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n",
        ] {
            assert!(parse_certificates(input).is_err(), "{input:?}");
        }
    }
}
