//! gzip and brotli at their best settings: the bench's download sizes, and
//! the `.gz` / `.br` files written beside the web app's files after each
//! build, which the service sends to browsers that accept them.

use std::io::Write;
use std::path::Path;

use crate::Result;

/// The kinds of file worth compressing once at build time.
const PRECOMPRESSED: [&str; 6] = ["wasm", "js", "css", "html", "svg", "json"];

pub(crate) fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

pub(crate) fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Writes `<file>.br` and `<file>.gz` beside every file of `dir` (and its
/// folders) worth compressing; returns how many files were compressed.
pub(crate) fn precompress(dir: &Path) -> Result<usize> {
    let mut done = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            done += precompress(&path)?;
            continue;
        }
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| PRECOMPRESSED.contains(&e));
        if !wanted {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (suffix, compressed) in [("br", brotli(&bytes)?), ("gz", gzip(&bytes)?)] {
            let mut name = path.as_os_str().to_owned();
            name.push(".");
            name.push(suffix);
            std::fs::write(&name, compressed)
                .map_err(|e| format!("{}: {e}", Path::new(&name).display()))?;
        }
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_sizes_are_smaller_for_repetitive_input() {
        let text = "hello world ".repeat(1000);
        let gzip = gzip(text.as_bytes()).unwrap().len();
        let brotli = brotli(text.as_bytes()).unwrap().len();
        assert!(gzip < text.len() / 10, "gzip {gzip}");
        assert!(brotli < text.len() / 10, "brotli {brotli}");
    }

    #[test]
    fn precompressed_files_decompress_to_the_original() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("phone")).unwrap();
        let wasm = dir.path().join("app-0123456789abcdef_bg.wasm");
        let js = dir.path().join("phone/phone.js");
        std::fs::write(&wasm, [0u8, 97, 115, 109].repeat(500)).unwrap();
        std::fs::write(&js, "export default function init() {}\n".repeat(50)).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not compressed").unwrap();
        assert_eq!(precompress(dir.path()).unwrap(), 2);
        for original in [&wasm, &js] {
            let bytes = std::fs::read(original).unwrap();
            let mut gz = Vec::new();
            let read =
                |suffix: &str| std::fs::read(format!("{}.{suffix}", original.display())).unwrap();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&read("gz")[..]), &mut gz)
                .unwrap();
            let mut br = Vec::new();
            std::io::Read::read_to_end(
                &mut brotli::Decompressor::new(&read("br")[..], 4096),
                &mut br,
            )
            .unwrap();
            assert_eq!(gz, bytes);
            assert_eq!(br, bytes);
        }
        assert!(!dir.path().join("notes.txt.br").exists());
    }
}
