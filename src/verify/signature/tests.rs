//! Signature tests: keys and certificates from rcgen, raw signatures from ring, CMS
//! signatures from the real `openssl cms` CLI (variants vendors use: DER, PEM, -keyid,
//! -noattr, RSA-PSS with OpenSSL's default maximum salt, SHA-384, SHA-1, -stream).

use std::process::Command;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};

use super::*;

struct Signer {
    key: KeyPair,
    cert: CertificateDer<'static>,
}

fn rsa_pem() -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl is needed for these tests");
    String::from_utf8(out.stdout).unwrap()
}

fn signer(alg: &'static rcgen::SignatureAlgorithm) -> Signer {
    let key = if alg == &rcgen::PKCS_RSA_SHA256 {
        KeyPair::from_pem_and_sign_algo(&rsa_pem(), alg).unwrap()
    } else {
        KeyPair::generate_for(alg).unwrap()
    };
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, "Signer");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let cert = p.self_signed(&key).unwrap().der().clone();
    Signer { key, cert }
}

fn ring_sign(
    s: &Signer,
    alg: &'static rcgen::SignatureAlgorithm,
    msg: &[u8],
    pss: bool,
) -> Vec<u8> {
    use ring::signature as rs;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = s.key.serialize_der();
    if alg == &rcgen::PKCS_ED25519 {
        return rs::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
            .unwrap()
            .sign(msg)
            .as_ref()
            .to_vec();
    }
    if alg == &rcgen::PKCS_RSA_SHA256 {
        let kp = rs::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
        let mut out = vec![0; kp.public().modulus_len()];
        let enc: &dyn rs::RsaEncoding = if pss {
            &rs::RSA_PSS_SHA256
        } else {
            &rs::RSA_PKCS1_SHA384
        };
        kp.sign(enc, &rng, msg, &mut out).unwrap();
        return out;
    }
    let ring_alg = if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        &rs::ECDSA_P256_SHA256_ASN1_SIGNING
    } else {
        &rs::ECDSA_P384_SHA384_ASN1_SIGNING
    };
    let kp = rs::EcdsaKeyPair::from_pkcs8(ring_alg, &pkcs8, &rng).unwrap();
    kp.sign(&rng, msg).unwrap().as_ref().to_vec()
}

const ALGS: [&rcgen::SignatureAlgorithm; 4] = [
    &rcgen::PKCS_ECDSA_P256_SHA256,
    &rcgen::PKCS_ECDSA_P384_SHA384,
    &rcgen::PKCS_ED25519,
    &rcgen::PKCS_RSA_SHA256,
];

#[test]
fn raw_signatures_of_every_algorithm() {
    let msg = b"manifest bytes".repeat(100);
    for alg in ALGS {
        let s = signer(alg);
        let other = signer(&rcgen::PKCS_ECDSA_P256_SHA256);
        for pss in [false, true] {
            let sig = ring_sign(&s, alg, &msg, pss);
            let certs = [other.cert.clone(), s.cert.clone()];
            let check = verify_raw(&sig, Content::Bytes(&msg), &certs);
            assert!(
                check.outcome.is_ok(),
                "{alg:?} pss={pss}: {:?}",
                check.outcome
            );
            assert_eq!(check.signer.as_ref(), Some(&s.cert));
            // Streaming a file gives the same answer.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m");
            std::fs::write(&path, &msg).unwrap();
            assert!(verify_raw(&sig, Content::File(&path), &certs)
                .outcome
                .is_ok());
            // Tampered content fails.
            let mut bad = msg.clone();
            bad[0] ^= 1;
            let check = verify_raw(&sig, Content::Bytes(&bad), &certs);
            assert_eq!(check.outcome, Err(SignatureError::BadSignature), "{alg:?}");
        }
    }
    assert_eq!(
        verify_raw(b"sig", Content::Bytes(b"x"), &[]).outcome,
        Err(SignatureError::SignerNotFound)
    );
}

/// `openssl cms -sign` over `content` with extra flags; returns the signature bytes.
fn openssl_cms(s: &Signer, content: &[u8], flags: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("c"), content).unwrap();
    std::fs::write(
        p("cert.pem"),
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &s.cert).unwrap(),
    )
    .unwrap();
    std::fs::write(p("key.pem"), s.key.serialize_pem()).unwrap();
    let out = Command::new("openssl")
        .args(["cms", "-sign", "-binary"])
        .arg("-in")
        .arg(p("c"))
        .arg("-signer")
        .arg(p("cert.pem"))
        .arg("-inkey")
        .arg(p("key.pem"))
        .arg("-out")
        .arg(p("sig"))
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(p("sig")).unwrap()
}

#[test]
fn cms_variants_as_openssl_writes_them() {
    let msg = b"{\"files\": []}\n".to_vec();
    let mut bad = msg.clone();
    bad[3] ^= 1;
    let rsa = signer(&rcgen::PKCS_RSA_SHA256);
    let p256 = signer(&rcgen::PKCS_ECDSA_P256_SHA256);
    let p384 = signer(&rcgen::PKCS_ECDSA_P384_SHA384);
    let cases: Vec<(&str, &Signer, Vec<&str>, &str)> = vec![
        ("rsa der", &rsa, vec!["-outform", "DER"], "PKCS#1"),
        ("rsa pem", &rsa, vec!["-outform", "PEM"], "PKCS#1"),
        (
            "rsa noattr",
            &rsa,
            vec!["-outform", "DER", "-noattr"],
            "PKCS#1",
        ),
        (
            "rsa sha512",
            &rsa,
            vec!["-outform", "DER", "-md", "sha512"],
            "SHA-512",
        ),
        (
            "rsa pss max salt",
            &rsa,
            vec!["-outform", "DER", "-keyopt", "rsa_padding_mode:pss"],
            "salt 222",
        ),
        (
            "rsa pss digest salt",
            &rsa,
            vec![
                "-outform",
                "DER",
                "-keyopt",
                "rsa_padding_mode:pss",
                "-keyopt",
                "rsa_pss_saltlen:digest",
            ],
            "salt 32",
        ),
        (
            "rsa pss noattr",
            &rsa,
            vec![
                "-outform",
                "DER",
                "-noattr",
                "-keyopt",
                "rsa_padding_mode:pss",
            ],
            "RSA-PSS",
        ),
        ("p256", &p256, vec!["-outform", "DER"], "P-256 with SHA-256"),
        (
            "p256 noattr",
            &p256,
            vec!["-outform", "DER", "-noattr"],
            "P-256",
        ),
        (
            "p384 sha384",
            &p384,
            vec!["-outform", "DER", "-md", "sha384"],
            "P-384 with SHA-384",
        ),
    ];
    for (name, s, flags, expect) in cases {
        let sig = openssl_cms(s, &msg, &flags);
        let check = verify_cms(&sig, Content::Bytes(&msg), &[]);
        let alg = check
            .outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(alg.contains(expect), "{name}: {alg}");
        assert_eq!(check.signer.as_ref(), Some(&s.cert), "{name}");
        let check = verify_cms(&sig, Content::Bytes(&bad), &[]);
        let expected = if flags.contains(&"-noattr") {
            SignatureError::BadSignature
        } else {
            SignatureError::DigestMismatch
        };
        assert_eq!(check.outcome, Err(expected), "{name}");
    }
}

#[test]
fn cms_refusals() {
    let msg = b"content".to_vec();
    let rsa = signer(&rcgen::PKCS_RSA_SHA256);
    let sig = openssl_cms(&rsa, &msg, &["-outform", "DER", "-md", "sha1"]);
    let check = verify_cms(&sig, Content::Bytes(&msg), &[]);
    assert!(
        matches!(check.outcome, Err(SignatureError::WeakAlgorithm(_))),
        "{:?}",
        check.outcome
    );

    let sig = openssl_cms(&rsa, &msg, &["-outform", "DER", "-stream"]);
    let check = verify_cms(&sig, Content::Bytes(&msg), &[]);
    match check.outcome {
        Err(SignatureError::Malformed(m)) => assert!(m.contains("-stream"), "{m}"),
        other => panic!("{other:?}"),
    }

    // -nocerts: the signer must come from the package; with the wrong one it is not found.
    let sig = openssl_cms(&rsa, &msg, &["-outform", "DER", "-nocerts"]);
    let other = signer(&rcgen::PKCS_ECDSA_P256_SHA256);
    let check = verify_cms(&sig, Content::Bytes(&msg), &[other.cert.clone()]);
    assert_eq!(check.outcome, Err(SignatureError::SignerNotFound));
    let check = verify_cms(&sig, Content::Bytes(&msg), &[rsa.cert.clone()]);
    assert!(check.outcome.is_ok(), "{:?}", check.outcome);

    // Embedded (non-detached) content is refused.
    let sig = openssl_cms(&rsa, &msg, &["-outform", "DER", "-nodetach"]);
    assert!(matches!(
        verify_cms(&sig, Content::Bytes(&msg), &[]).outcome,
        Err(SignatureError::Malformed(_))
    ));
}

#[test]
fn garbage_never_panics() {
    let inputs: [&[u8]; 7] = [
        b"",
        b"\x30",
        b"\x30\x82\xff\xff",
        b"\x30\x80\x06\x09",
        b"-----BEGIN CMS-----\nMAA=\n-----END CMS-----\n",
        b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n",
        &[0x30, 0x03, 0x06, 0x01, 0x00],
    ];
    for input in inputs {
        let check = verify_cms(input, Content::Bytes(b"x"), &[]);
        assert!(
            matches!(check.outcome, Err(SignatureError::Malformed(_))),
            "{input:?}"
        );
        let check = verify_raw(
            input,
            Content::Bytes(b"x"),
            &[CertificateDer::from(b"junk".to_vec())],
        );
        assert!(check.outcome.is_err());
    }
}

/// A detached CMS SignedData built field by field with the `cms` types and signed with
/// ring's Ed25519 (RFC 8419: SHA-512 messageDigest, pure Ed25519 over the signed
/// attributes). OpenSSL 3.0 cannot make one, so this is how the Ed25519 CMS path is
/// exercised.
fn ed25519_cms(s: &Signer, content: &[u8], signers: usize) -> Vec<u8> {
    use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
    use ::cms::content_info::{CmsVersion, ContentInfo};
    use ::cms::signed_data::{
        CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo,
        SignerInfos,
    };
    use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
    use der::{Any, Decode, Encode};
    use spki::AlgorithmIdentifierOwned;
    use x509_cert::attr::Attribute;

    let oid = |s: &str| ObjectIdentifier::new_unwrap(s);
    let id_data = oid("1.2.840.113549.1.7.1");
    let sha512 = AlgorithmIdentifierOwned {
        oid: oid("2.16.840.1.101.3.4.2.3"),
        parameters: None,
    };
    let cert = x509_cert::Certificate::from_der(&s.cert).unwrap();
    let digest = Hash::Sha512.digest(content);
    let attr = |o: &str, v: Any| Attribute {
        oid: oid(o),
        values: SetOfVec::try_from(vec![v]).unwrap(),
    };
    let attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
        attr("1.2.840.113549.1.9.3", Any::encode_from(&id_data).unwrap()),
        attr(
            "1.2.840.113549.1.9.4",
            Any::encode_from(&OctetString::new(digest).unwrap()).unwrap(),
        ),
    ])
    .unwrap();
    let signed = attrs.to_der().unwrap();
    let kp = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&s.key.serialize_der())
        .unwrap();
    let sig = kp.sign(&signed).as_ref().to_vec();
    let info = |sig: Vec<u8>| SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha512.clone(),
        signed_attrs: Some(attrs.clone()),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: oid("1.3.101.112"),
            parameters: None,
        },
        signature: OctetString::new(sig).unwrap(),
        unsigned_attrs: None,
    };
    let mut infos = vec![info(sig.clone())];
    if signers > 1 {
        let mut other = sig;
        other[0] ^= 1;
        infos.push(info(other));
    }
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha512.clone()]).unwrap(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: id_data,
            econtent: None,
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(cert.clone())]).unwrap(),
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(infos).unwrap()),
    };
    ContentInfo {
        content_type: oid("1.2.840.113549.1.7.2"),
        content: Any::encode_from(&sd).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn ed25519_cms_per_rfc_8419() {
    let s = signer(&rcgen::PKCS_ED25519);
    let msg = b"manifest".to_vec();
    let sig = ed25519_cms(&s, &msg, 1);
    let check = verify_cms(&sig, Content::Bytes(&msg), &[]);
    assert_eq!(
        check.outcome.as_deref(),
        Ok("Ed25519"),
        "{:?}",
        check.outcome
    );
    assert_eq!(check.signer.as_ref(), Some(&s.cert));
    assert_eq!(
        verify_cms(&sig, Content::Bytes(b"other"), &[]).outcome,
        Err(SignatureError::DigestMismatch)
    );
    // Two signer infos: refused (one signer per package).
    let two = ed25519_cms(&s, &msg, 2);
    assert!(
        matches!(verify_cms(&two, Content::Bytes(&msg), &[]).outcome, Err(SignatureError::Malformed(m)) if m.contains("exactly one"))
    );
}
