//! Writes the Mozilla root certificates (`webpki-root-certs`) as one PEM bundle for
//! `config::https_client`. The SDK's trust store takes PEM only; encoding it here, once,
//! keeps that work out of every function's cold start.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

fn main() {
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let text = STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        // RFC 7468: base64 in lines of 64 characters.
        for line in text.as_bytes().chunks(64) {
            let _ = writeln!(pem, "{}", String::from_utf8_lossy(line));
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        panic!("cargo sets OUT_DIR for build scripts");
    };
    let path = std::path::Path::new(&out_dir).join("trusted_roots.pem");
    if let Err(err) = std::fs::write(&path, pem) {
        panic!("cannot write {}: {err}", path.display());
    }
    println!("cargo::rerun-if-changed=build.rs");
}
