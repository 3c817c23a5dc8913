//! What a Go binary says it was built from: the build info the Go linker
//! embeds (what `go version -m` prints), read from the ELF section
//! `.go.buildinfo` — without running the binary and without Go, and
//! without reading the whole (100 MB) file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A Go binary's main package path and the modules it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The main package, e.g. `github.com/prometheus/prometheus/cmd/prometheus`.
    pub path: String,
    /// `(module, version)` of the main module and of every dependency.
    pub modules: Vec<(String, String)>,
}

impl BuildInfo {
    /// The version of `module` the binary was built with, when it names it.
    pub fn version_of(&self, module: &str) -> Option<&str> {
        self.modules
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, v)| v.as_str())
    }
}

/// The build info of the Go binary at `path`; None when it is not a 64-bit
/// little-endian ELF Go binary with module information (a script, a C
/// program, a binary built without modules).
pub fn read(path: &Path) -> Option<BuildInfo> {
    let mut f = File::open(path).ok()?;
    let blob = section(&mut f, ".go.buildinfo")?;
    parse(&blob)
}

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?).into())
}

fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?).into())
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn read_at(f: &mut File, offset: u64, len: u64) -> Option<Vec<u8>> {
    // A section larger than this is not build info: a corrupt header.
    if len > 64 << 20 {
        return None;
    }
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0; len as usize];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// The contents of the ELF section `name`.
fn section(f: &mut File, name: &str) -> Option<Vec<u8>> {
    let eh = read_at(f, 0, 64)?;
    // "\x7fELF", 64-bit, little-endian.
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return None;
    }
    let shoff = u64_at(&eh, 0x28)?;
    let shentsize = u16_at(&eh, 0x3a)?;
    let shnum = u16_at(&eh, 0x3c)?;
    let shstrndx = u16_at(&eh, 0x3e)?;
    let headers = read_at(f, shoff, shentsize * shnum)?;
    let header = |i: u64| {
        let at = (i * shentsize) as usize;
        Some((
            u32_at(&headers, at)?,
            u64_at(&headers, at + 0x18)?,
            u64_at(&headers, at + 0x20)?,
        ))
    };
    let (_, str_off, str_size) = header(shstrndx)?;
    let names = read_at(f, str_off, str_size)?;
    (0..shnum).find_map(|i| {
        let (n, off, size) = header(i)?;
        let rest = names.get(n as usize..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        (&rest[..end] == name.as_bytes())
            .then(|| read_at(f, off, size))
            .flatten()
    })
}

const MAGIC: &[u8] = b"\xff Go buildinf:";

/// The section's contents (Go ≥ 1.18): a 32-byte header (magic, pointer
/// size, flags; flag 2 = strings inline), then the Go version and the
/// module info as varint-length strings, the latter between two 16-byte
/// sentinels.
fn parse(blob: &[u8]) -> Option<BuildInfo> {
    if !blob.starts_with(MAGIC) || blob.get(15)? & 2 == 0 {
        return None;
    }
    let mut rest = blob.get(32..)?;
    let mut string = || -> Option<&[u8]> {
        let (len, n) = uvarint(rest)?;
        let s = rest.get(n..n + len as usize)?;
        rest = &rest[n + len as usize..];
        Some(s)
    };
    let _go_version = string()?;
    let info = string()?;
    let info = info.get(16..info.len().checked_sub(16)?)?;
    parse_modinfo(std::str::from_utf8(info).ok()?)
}

fn parse_modinfo(text: &str) -> Option<BuildInfo> {
    let mut path = None;
    let mut modules = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["path", p, ..] => path = Some(p.to_string()),
            ["mod" | "dep", m, v, ..] => modules.push((m.to_string(), v.to_string())),
            _ => {}
        }
    }
    Some(BuildInfo {
        path: path?,
        modules,
    })
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        x |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((x, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(modinfo: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend([8, 2]);
        b.resize(32, 0);
        let info = format!("{}{modinfo}{}", "s".repeat(16), "e".repeat(16));
        for s in ["go1.26.8", info.as_str()] {
            assert!(s.len() < 0x4000);
            let n = s.len();
            if n < 0x80 {
                b.push(n as u8);
            } else {
                b.extend([(n as u8) | 0x80, (n >> 7) as u8]);
            }
            b.extend(s.as_bytes());
        }
        b
    }

    #[test]
    fn the_main_module_and_dependencies_are_read() {
        let info = parse(&blob(
            "path\tgithub.com/thanos-io/thanos/cmd/thanos\nmod\tgithub.com/thanos-io/thanos\tv0.42.4\th1:x=\ndep\tgithub.com/prometheus/prometheus\tv0.305.0\th1:y=\n",
        ))
        .unwrap();
        assert_eq!(info.path, "github.com/thanos-io/thanos/cmd/thanos");
        assert_eq!(
            info.version_of("github.com/thanos-io/thanos"),
            Some("v0.42.4")
        );
        assert_eq!(
            info.version_of("github.com/prometheus/prometheus"),
            Some("v0.305.0")
        );
        assert_eq!(info.version_of("github.com/x/y"), None);
    }

    #[test]
    fn anything_else_has_none() {
        assert_eq!(parse(b"#!/bin/sh\necho hi\n"), None);
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s");
        std::fs::write(&script, "#!/bin/sh\necho 'prometheus, version 2.0.0'\n").unwrap();
        assert_eq!(read(&script), None);
        assert_eq!(read(&dir.path().join("missing")), None);
    }

    #[test]
    fn a_real_go_binary_reads_when_one_is_installed() {
        let Ok(bin) =
            crate::versions::Versions::load_default().and_then(|v| v.binary("prometheus"))
        else {
            eprintln!("skipped: no prometheus binary (scripts/install prometheus)");
            return;
        };
        let info = read(&bin).expect("build info of an installed prometheus");
        assert_eq!(info.path, "github.com/prometheus/prometheus/cmd/prometheus");
        assert!(
            info.version_of("github.com/prometheus/prometheus")
                .is_some(),
            "{info:?}"
        );
    }
}
