//! The packages `scripts/package` builds are real Lambda deployment packages: a zip per
//! function holding an executable `bootstrap` built for aarch64 Linux (provided.al2023 on
//! arm64). `scripts/test` packages before testing, so the zips are there.

use std::io::Read;
use std::path::Path;

#[test]
fn every_function_has_an_arm64_bootstrap_in_its_zip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR").map(Into::into).unwrap_or_else(|_| root.join("target"));
    for entry in std::fs::read_dir(root.join("functions")).unwrap() {
        let function = entry.unwrap().file_name().to_string_lossy().into_owned();
        let path = target.join("lambda").join(&function).join("bootstrap.zip");
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (build the packages with scripts/package)", path.display()));
        let mut archive = zip::ZipArchive::new(file).unwrap();
        let mut bootstrap = archive.by_name("bootstrap").unwrap();
        let mode = bootstrap.unix_mode().unwrap_or(0);
        assert!(mode & 0o111 != 0, "{function}: bootstrap is not executable (mode {mode:o})");
        let mut header = [0u8; 20];
        bootstrap.read_exact(&mut header).unwrap();
        assert_eq!(&header[..4], b"\x7fELF", "{function}: bootstrap is not an ELF file");
        assert_eq!(header[4], 2, "{function}: not a 64-bit ELF");
        assert_eq!(header[5], 1, "{function}: not little-endian");
        // ET_EXEC, or ET_DYN for a position-independent executable (Rust's default).
        let kind = u16::from_le_bytes([header[16], header[17]]);
        assert!(kind == 2 || kind == 3, "{function}: not an executable (e_type {kind})");
        assert_eq!(u16::from_le_bytes([header[18], header[19]]), 183, "{function}: not built for aarch64 (EM_AARCH64)");
    }
}
