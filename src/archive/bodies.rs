//! The archived messages' bodies, outside the SQLite pages: one append-only file in the
//! data directory. A 35 KB body kept in SQLite is nine overflow pages, each written to the
//! WAL, read back by the checkpoint and written again into the database; here it is written
//! once. The message row keeps where its body lies ([`BodyAt`]).
//!
//! Durability follows the order of writes: the writer appends a batch's bodies and
//! `fdatasync`s them *before* the transaction that records their places commits, so a
//! committed row never points at bytes a crash could lose. A crash between the two leaves
//! unreferenced bytes at the end of the file; the next append overwrites them.
//!
//! Where the file system says it can (`statx`'s direct-I/O alignment, Linux 6.1 on), a
//! batch goes straight to the device (`O_DIRECT`) from one aligned buffer, zero-padded to
//! the alignment, instead of through the page cache: no page to allocate, fill, write back
//! and drop for each 4 KB of every body. The padding lies between batches, where no row
//! points. Anywhere else (tmpfs, an older kernel, a file system that refuses it) the batch
//! is written through the page cache as before. Either way the `fdatasync` follows.
//!
//! A record is `KSM1`, the key's length (u32, little-endian), the key (`root`, a line
//! feed, `extension`), the body's length (u64, little-endian) and the body. Reading checks
//! the magic, the key and the length against the row, so a row pointing at the wrong place
//! (a replaced or truncated file) is refused with where and why, never shown as another
//! message's bytes. The bytes themselves carry no checksum (neither do SQLite's pages); the
//! CDA read from a message is checked against the digest recorded at archiving.

use std::fs::File;
use std::io::{IoSlice, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// The file's name inside the data directory.
pub const BODY_FILE: &str = "kanta-sim.messages";

const MAGIC: &[u8; 4] = b"KSM1";

/// Where a body lies: its record's first byte, and the body's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyAt {
    pub offset: u64,
    pub len: u64,
}

/// Why a body cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The file could not be opened, written, synced or read.
    #[error("message body file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The row points at bytes that are not its message's record.
    #[error("message body file {path}: at byte {offset}: {why}")]
    Misplaced {
        /// The file.
        path: PathBuf,
        /// Where the row says the record starts.
        offset: u64,
        /// What was found instead.
        why: String,
    },
}

fn key(root: &str, extension: &str) -> String {
    format!("{root}\n{extension}")
}

fn header_len(key: &str) -> u64 {
    // 4 magic + 4 key length + key + 8 body length; a key is a message id, far below 4 GB.
    16 + key.len() as u64
}

/// The writer's end of the file (one per store; the writer thread owns it).
#[derive(Debug)]
pub(crate) struct BodyWriter {
    file: File,
    path: PathBuf,
    /// Where the next record goes: the file's length at opening, then past every record
    /// synced since. Bytes past it (a batch whose sync failed, a crash's leftovers) are
    /// overwritten.
    end: u64,
    buf: Vec<u8>,
    /// The direct-I/O handle, where the file system takes one.
    direct: Option<Direct>,
}

/// How much of a batch the direct writer gathers before each write: a bound on the memory
/// it keeps (a batch is up to 256 messages of any allowed size).
const DIRECT_CHUNK: usize = 512 * 1024;

/// A second handle on the file, opened with `O_DIRECT`, and the buffer it writes from.
#[derive(Debug)]
struct Direct {
    file: File,
    /// What the file system asks of a direct write's offset, length and memory (a power of
    /// two, at most [`DIRECT_CHUNK`]).
    align: usize,
    buf: Vec<u8>,
}

impl Direct {
    /// A direct handle on `path` when its file system takes direct writes, with their
    /// alignment; `None` otherwise.
    fn open(file: &File, path: &Path) -> Option<Self> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let st = rustix::fs::statx(
            file,
            "",
            rustix::fs::AtFlags::EMPTY_PATH,
            rustix::fs::StatxFlags::DIOALIGN,
        )
        .ok()?;
        if !rustix::fs::StatxFlags::from_bits_retain(st.stx_mask)
            .contains(rustix::fs::StatxFlags::DIOALIGN)
        {
            return None;
        }
        // Zero: the file system takes no direct I/O on this file.
        let align = usize::try_from(st.stx_dio_offset_align.max(st.stx_dio_mem_align)).ok()?;
        if align == 0 || !align.is_power_of_two() || align > DIRECT_CHUNK {
            return None;
        }
        let flags = i32::try_from(rustix::fs::OFlags::DIRECT.bits()).ok()?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(flags)
            .open(path)
            .ok()?;
        Some(Self {
            file,
            align,
            buf: Vec::new(),
        })
    }

    fn round_up(&self, n: u64) -> u64 {
        let align = self.align as u64;
        n.div_ceil(align) * align
    }

    /// Writes `pieces` one after another from `offset` (aligned), through the aligned
    /// buffer, [`DIRECT_CHUNK`] at a time, the last write zero-padded to the alignment.
    /// Returns the bytes written, padding included.
    fn write(&mut self, pieces: &[IoSlice<'_>], offset: u64) -> std::io::Result<u64> {
        self.buf.resize(DIRECT_CHUNK + self.align, 0);
        // Where the buffer's first aligned byte is (a byte buffer can always be aligned).
        let start = self.buf.as_ptr().align_offset(self.align);
        if start >= self.align {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        let (mut fill, mut at) = (0, offset);
        for piece in pieces {
            let mut rest: &[u8] = piece;
            while !rest.is_empty() {
                let n = rest.len().min(DIRECT_CHUNK - fill);
                self.buf[start + fill..start + fill + n].copy_from_slice(&rest[..n]);
                fill += n;
                rest = &rest[n..];
                if fill == DIRECT_CHUNK {
                    self.file
                        .write_all_at(&self.buf[start..start + DIRECT_CHUNK], at)?;
                    at += DIRECT_CHUNK as u64;
                    fill = 0;
                }
            }
        }
        if fill > 0 {
            let padded = fill.div_ceil(self.align) * self.align;
            self.buf[start + fill..start + padded].fill(0);
            self.file
                .write_all_at(&self.buf[start..start + padded], at)?;
            at += padded as u64;
        }
        Ok(at - offset)
    }
}

impl BodyWriter {
    /// Opens (creating when needed) the file in `dir`; a new file's directory entry is made
    /// durable before anything refers to it.
    pub fn open(dir: &Path) -> Result<Self, BodyError> {
        let path = dir.join(BODY_FILE);
        let io = |source| BodyError::Io {
            path: path.clone(),
            source,
        };
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if !existed {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        let end = file.metadata().map_err(io)?.len();
        let direct = Direct::open(&file, &path);
        Ok(Self {
            file,
            path,
            end,
            buf: Vec::new(),
            direct,
        })
    }

    /// [`BodyWriter::open`], always through the page cache.
    #[cfg(test)]
    pub fn open_buffered(dir: &Path) -> Result<Self, BodyError> {
        let mut w = Self::open(dir)?;
        w.direct = None;
        Ok(w)
    }

    /// Whether batches go straight to the device.
    #[cfg(test)]
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// The file opened for reading only: every append fails (for tests of what a failed
    /// write leaves behind).
    #[cfg(test)]
    pub fn read_only(dir: &Path) -> Result<Self, BodyError> {
        let mut w = Self::open(dir)?;
        w.file = File::open(&w.path).map_err(|source| BodyError::Io {
            path: w.path.clone(),
            source,
        })?;
        w.direct = None;
        Ok(w)
    }

    /// Appends `bodies` (message id, bytes) with one vectored write and one `fdatasync`;
    /// returns where each lies, in order. On error nothing returned refers to the written
    /// bytes. Only the records' headers are gathered into a buffer: the bodies are written
    /// from where they lie, not copied first.
    pub fn append(&mut self, bodies: &[((&str, &str), &[u8])]) -> Result<Vec<BodyAt>, BodyError> {
        self.buf.clear();
        let mut at = Vec::with_capacity(bodies.len());
        // Where each record's header ends in `buf`.
        let mut header_ends = Vec::with_capacity(bodies.len());
        // A direct write starts aligned (a file last written through the page cache may
        // end anywhere: the gap is never pointed at).
        let start = self
            .direct
            .as_ref()
            .map_or(self.end, |d| d.round_up(self.end));
        let mut offset = start;
        for ((root, extension), body) in bodies {
            let key = key(root, extension);
            at.push(BodyAt {
                offset,
                len: body.len() as u64,
            });
            self.buf.extend_from_slice(MAGIC);
            // A message id is bounded by the profile's limits, far below 4 GB.
            self.buf
                .extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
            self.buf.extend_from_slice(key.as_bytes());
            self.buf
                .extend_from_slice(&(body.len() as u64).to_le_bytes());
            header_ends.push(self.buf.len());
            offset += header_len(&key) + body.len() as u64;
        }
        let mut slices = Vec::with_capacity(2 * bodies.len());
        let mut from = 0;
        for (end, (_, body)) in header_ends.iter().zip(bodies) {
            slices.push(IoSlice::new(&self.buf[from..*end]));
            slices.push(IoSlice::new(body));
            from = *end;
        }
        let io = |source| BodyError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(direct) = &mut self.direct {
            match direct.write(&slices, start) {
                Ok(written) => {
                    self.file.sync_data().map_err(io)?;
                    self.end = start + written;
                    return Ok(at);
                }
                // The file system took the handle but not the write: through the page
                // cache from now on (this batch too, from its own start).
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "message body file: direct writes refused; writing through the page cache");
                    self.direct = None;
                    return self.append(bodies);
                }
                Err(e) => return Err(io(e)),
            }
        }
        write_all_vectored_at(&self.file, &mut slices, self.end).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        let written = self.end..offset;
        self.end = offset;
        self.forget_cached(written);
        Ok(at)
    }
}

impl BodyWriter {
    /// Lets the kernel drop the page cache's copy of `range`, which is durable now: the file
    /// only grows, so without this every batch is copied into pages never used before,
    /// while the pages of earlier batches stay cached for reads that rarely come. Freed at
    /// once, the same pages take the next batch. Only whole pages are dropped (the last one,
    /// where the next batch continues, is kept); advice that fails changes nothing.
    fn forget_cached(&self, range: std::ops::Range<u64>) {
        const PAGE: u64 = 4096;
        let start = range.start / PAGE * PAGE;
        let end = range.end / PAGE * PAGE;
        if end > start
            && let Some(len) = std::num::NonZeroU64::new(end - start)
        {
            let _ = rustix::fs::fadvise(&self.file, start, Some(len), rustix::fs::Advice::DontNeed);
        }
    }
}

/// Writes every byte of `slices` at `offset` of `file`, as `write_all_at` does for one
/// buffer: `writev` from the offset (the writer alone moves this handle's position), again
/// from where a short write stopped (std passes at most the system's `IOV_MAX` pieces to
/// one call, so a large batch takes several).
fn write_all_vectored_at(
    mut file: &File,
    mut slices: &mut [IoSlice<'_>],
    offset: u64,
) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads the body of message `(root, extension)` at `at` from the file in `dir`, checking
/// that the record there is that message's.
pub(crate) fn read(
    dir: &Path,
    (root, extension): (&str, &str),
    at: BodyAt,
) -> Result<Vec<u8>, BodyError> {
    let path = dir.join(BODY_FILE);
    let key = key(root, extension);
    let misplaced = |why: String| BodyError::Misplaced {
        path: path.clone(),
        offset: at.offset,
        why,
    };
    let header = header_len(&key);
    let total = usize::try_from(header + at.len)
        .map_err(|_| misplaced(format!("a body of {} bytes cannot be held", at.len)))?;
    let file = File::open(&path).map_err(|source| BodyError::Io {
        path: path.clone(),
        source,
    })?;
    let mut record = vec![0; total];
    file.read_exact_at(&mut record, at.offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            misplaced(format!(
                "the file ends before the record's {total} bytes (truncated?)"
            ))
        } else {
            BodyError::Io {
                path: path.clone(),
                source: e,
            }
        }
    })?;
    let (head, body) = record.split_at(total - usize::try_from(at.len).unwrap_or(0));
    let expected_head = {
        let mut h = Vec::with_capacity(head.len());
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
        h.extend_from_slice(key.as_bytes());
        h.extend_from_slice(&at.len.to_le_bytes());
        h
    };
    if head != expected_head.as_slice() {
        let seen = String::from_utf8_lossy(&head[..head.len().min(4 + 4 + key.len())]);
        return Err(misplaced(format!(
            "expected the record of message {root} / {extension} ({} bytes), found {:?}",
            at.len,
            seen.chars().take(80).collect::<String>()
        )));
    }
    Ok(body.to_vec())
}

/// How far the file must reach for every record the database refers to: checked at
/// opening, so a truncated or replaced file is named before a request meets it.
pub(crate) fn check_length(dir: &Path, needed: u64) -> Result<(), BodyError> {
    let path = dir.join(BODY_FILE);
    let have = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(source) => return Err(BodyError::Io { path, source }),
    };
    if have < needed {
        return Err(BodyError::Misplaced {
            path,
            offset: have,
            why: format!(
                "the file is {have} bytes but the archive's messages reach byte {needed}: it was truncated or replaced"
            ),
        });
    }
    Ok(())
}

/// The SQL expression, over a `message` row, of the byte its record ends at (0 for a body
/// kept in the row).
pub(crate) const RECORD_END_SQL: &str = "COALESCE(body_offset + 16 + length(CAST(root AS BLOB)) + 1 + length(CAST(extension AS BLOB)) + body_len, 0)";

#[cfg(test)]
mod tests {
    use super::*;

    type Opener = fn(&Path) -> Result<BodyWriter, BodyError>;

    /// The writer both ways: through the page cache, and straight to the device where this
    /// machine's file system takes it (said, so that a run without it is not mistaken for
    /// one with it).
    fn writers() -> Vec<(&'static str, Opener)> {
        let probe = tempfile::tempdir().unwrap();
        let mut ways: Vec<(&'static str, Opener)> = vec![("buffered", BodyWriter::open_buffered)];
        if BodyWriter::open(probe.path()).unwrap().is_direct() {
            ways.push(("direct", BodyWriter::open));
        } else {
            eprintln!("this file system takes no direct I/O: only the page-cache path is tested");
        }
        ways
    }

    /// The body at `at` is `body` (`way`: which writer wrote it).
    fn reads(dir: &Path, key: (&str, &str), at: BodyAt, body: &[u8], way: &str) {
        assert_eq!(read(dir, key, at).unwrap(), body, "{way}");
    }

    /// One record per id, all under `root`.
    fn batch<'a>(
        root: &'a str,
        ids: &'a [String],
        bodies: &'a [Vec<u8>],
    ) -> Vec<((&'a str, &'a str), &'a [u8])> {
        ids.iter()
            .zip(bodies)
            .map(|(id, b)| ((root, id.as_str()), b.as_slice()))
            .collect()
    }

    fn file_len(dir: &Path) -> u64 {
        std::fs::metadata(dir.join(BODY_FILE)).unwrap().len()
    }

    #[test]
    fn bodies_read_back_as_written_and_a_wrong_place_is_named() {
        for (way, open) in writers() {
            let dir = tempfile::tempdir().unwrap();
            let mut w = open(dir.path()).unwrap();
            let at = w
                .append(&[(("1.2.3", "a"), b"first"), (("1.2.3", "b"), b"")])
                .unwrap();
            let more = w.append(&[(("1.2.4", "\u{e4}"), b"third body")]).unwrap();
            reads(dir.path(), ("1.2.3", "a"), at[0], b"first", way);
            reads(dir.path(), ("1.2.3", "b"), at[1], b"", way);
            reads(dir.path(), ("1.2.4", "\u{e4}"), more[0], b"third body", way);
            // Another message's record, a wrong length, a wrong place.
            let e = read(dir.path(), ("1.2.3", "b"), at[0]).unwrap_err();
            assert!(
                e.to_string()
                    .contains("expected the record of message 1.2.3 / b"),
                "{way}: {e}"
            );
            let e = read(dir.path(), ("1.2.3", "a"), BodyAt { len: 4, ..at[0] }).unwrap_err();
            assert!(e.to_string().contains("(4 bytes)"), "{way}: {e}");
            let e = read(
                dir.path(),
                ("1.2.4", "\u{e4}"),
                BodyAt {
                    offset: more[0].offset + 1,
                    ..more[0]
                },
            )
            .unwrap_err();
            // Its bytes run past the file's end, or (direct) into the padding after it.
            assert!(matches!(e, BodyError::Misplaced { .. }), "{way}: {e}");
            // Past the file's end.
            let e = read(
                dir.path(),
                ("1.2.4", "\u{e4}"),
                BodyAt {
                    offset: file_len(dir.path()),
                    ..more[0]
                },
            )
            .unwrap_err();
            assert!(e.to_string().contains("truncated"), "{way}: {e}");
            // The database's idea of the end, as SQL computes it, is the last record's end:
            // the file's length, or (direct) that rounded up to the alignment.
            let conn = rusqlite::Connection::open_in_memory().unwrap();
            let end: u64 = conn
                .query_row(
                    &format!("SELECT {RECORD_END_SQL} FROM (SELECT ?1 AS root, ?2 AS extension, ?3 AS body_offset, ?4 AS body_len)"),
                    rusqlite::params!["1.2.4", "\u{e4}", more[0].offset, more[0].len],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                end,
                more[0].offset + header_len(&key("1.2.4", "\u{e4}")) + 10,
                "{way}"
            );
            let padded = w.direct.as_ref().map_or(end, |d| d.round_up(end));
            assert_eq!(file_len(dir.path()), padded, "{way}");
            check_length(dir.path(), end).unwrap();
            let e = check_length(dir.path(), padded + 1).unwrap_err();
            assert!(
                e.to_string().contains("truncated or replaced"),
                "{way}: {e}"
            );
        }
    }

    #[test]
    fn a_batch_past_the_systems_vector_limit_is_written_whole() {
        // 700 records are 1 400 pieces: two `writev` calls of at most 1 024.
        for (way, open) in writers() {
            let dir = tempfile::tempdir().unwrap();
            let mut w = open(dir.path()).unwrap();
            let ids: Vec<String> = (0..700).map(|i| i.to_string()).collect();
            let bodies: Vec<Vec<u8>> = (0..700).map(|i| vec![(i % 251) as u8; i % 97]).collect();
            let at = w.append(&batch("1.2.3", &ids, &bodies)).unwrap();
            for ((id, body), at) in ids.iter().zip(&bodies).zip(&at) {
                reads(dir.path(), ("1.2.3", id), *at, body, way);
            }
            // Record after record, nothing between.
            for (pair, id) in at.windows(2).zip(&ids) {
                assert_eq!(
                    pair[1].offset,
                    pair[0].offset + header_len(&key("1.2.3", id)) + pair[0].len,
                    "{way}"
                );
            }
            let last = w.append(&[(("1.2.4", "x"), b"after")]).unwrap();
            reads(dir.path(), ("1.2.4", "x"), last[0], b"after", way);
            let end = last[0].offset + header_len(&key("1.2.4", "x")) + 5;
            match &w.direct {
                None => assert_eq!(file_len(dir.path()), end, "{way}: no byte after"),
                Some(d) => assert_eq!(file_len(dir.path()), d.round_up(end), "{way}"),
            }
        }
    }

    #[test]
    fn bodies_larger_than_the_direct_buffer_are_written_in_pieces() {
        for (way, open) in writers() {
            let dir = tempfile::tempdir().unwrap();
            let mut w = open(dir.path()).unwrap();
            // Across the gathering buffer's bound: inside one body, and between two.
            let bodies: Vec<Vec<u8>> = [DIRECT_CHUNK + 333, 17, 2 * DIRECT_CHUNK - 5, 0, 4096]
                .iter()
                .enumerate()
                .map(|(n, len)| (0..*len).map(|i| ((i * 7 + n) % 256) as u8).collect())
                .collect();
            let ids: Vec<String> = (0..bodies.len()).map(|i| i.to_string()).collect();
            let batch = batch("big", &ids, &bodies);
            let at = w.append(&batch).unwrap();
            let again = w.append(&batch[1..2]).unwrap();
            for ((id, body), at) in ids.iter().zip(&bodies).zip(&at) {
                reads(dir.path(), ("big", id), *at, body, way);
            }
            reads(dir.path(), ("big", "1"), again[0], &bodies[1], way);
        }
    }

    #[test]
    fn direct_batches_start_aligned_and_are_padded_with_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BodyWriter::open(dir.path()).unwrap();
        let Some(align) = w.direct.as_ref().map(|d| d.align as u64) else {
            eprintln!("this file system takes no direct I/O: nothing to check here");
            return;
        };
        let first = w.append(&[(("r", "1"), b"one")]).unwrap();
        let second = w
            .append(&[(("r", "2"), b"two"), (("r", "3"), b"three")])
            .unwrap();
        assert_eq!(first[0].offset, 0);
        assert_eq!(
            second[0].offset, align,
            "the second batch starts at the next boundary"
        );
        assert_eq!(file_len(dir.path()) % align, 0);
        let bytes = std::fs::read(dir.path().join(BODY_FILE)).unwrap();
        let first_end = usize::try_from(header_len("r\n1") + 3).unwrap();
        assert!(
            bytes[first_end..usize::try_from(align).unwrap()]
                .iter()
                .all(|b| *b == 0)
        );
        assert_eq!(read(dir.path(), ("r", "3"), second[1]).unwrap(), b"three");
    }

    #[test]
    fn a_refused_direct_write_falls_back_to_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BodyWriter::open(dir.path()).unwrap();
        let Some(d) = w.direct.as_mut() else {
            eprintln!("this file system takes no direct I/O: nothing to check here");
            return;
        };
        // An alignment the device does not have: the kernel refuses the write (EINVAL).
        d.align = 1;
        let first = w.append(&[(("r", "1"), b"one")]).unwrap();
        let second = w.append(&[(("r", "2"), b"two")]).unwrap();
        assert!(!w.is_direct(), "direct writes were given up");
        assert_eq!(read(dir.path(), ("r", "1"), first[0]).unwrap(), b"one");
        assert_eq!(read(dir.path(), ("r", "2"), second[0]).unwrap(), b"two");
        assert_eq!(
            second[0].offset,
            header_len("r\n1") + 3,
            "nothing left between"
        );
    }

    #[test]
    fn a_reopened_file_appends_after_what_it_holds() {
        for (way, open) in writers() {
            let dir = tempfile::tempdir().unwrap();
            let first = open(dir.path())
                .unwrap()
                .append(&[(("r", "1"), b"one")])
                .unwrap();
            // Leftovers of a crash after the write, before the commit: unreferenced bytes
            // (and a length no longer aligned).
            std::io::Write::write_all(
                &mut std::fs::OpenOptions::new()
                    .append(true)
                    .open(dir.path().join(BODY_FILE))
                    .unwrap(),
                b"torn",
            )
            .unwrap();
            let second = open(dir.path())
                .unwrap()
                .append(&[(("r", "2"), b"two")])
                .unwrap();
            assert!(
                second[0].offset >= first[0].offset + header_len("r\n1") + 3,
                "{way}"
            );
            reads(dir.path(), ("r", "1"), first[0], b"one", way);
            reads(dir.path(), ("r", "2"), second[0], b"two", way);
        }
    }
}
