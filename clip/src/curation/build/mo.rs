//! A reader for GNU gettext `.mo` catalogs (the iso-codes translations, DATA.md §4 b2).
//!
//! Format (GNU gettext manual, "The Format of GNU MO Files"): a magic number `0x950412de` in
//! the file's byte order, a revision, the number of strings N, and the offsets of two tables
//! of N (length, offset) pairs: the original strings and their translations.

/// The (msgid, msgstr) pairs of a catalog, header and empty translations left out; for
/// plural entries, the singular forms. `None` if the bytes are not a `.mo` file.
pub fn parse(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let word = |at: usize, big: bool| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let big = match word(0, false)? {
        0x9504_12de => false,
        0xde12_0495 => true,
        _ => return None,
    };
    let n = word(8, big)? as usize;
    let originals = word(12, big)? as usize;
    let translations = word(16, big)? as usize;
    let string = |table: usize, i: usize| -> Option<String> {
        let len = word(table + 8 * i, big)? as usize;
        let off = word(table + 8 * i + 4, big)? as usize;
        let raw = bytes.get(off..off.checked_add(len)?)?;
        let first = raw.split(|&b| b == 0).next().unwrap_or(raw);
        String::from_utf8(first.to_vec()).ok()
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (Some(id), Some(tr)) = (string(originals, i), string(translations, i)) else {
            continue;
        };
        // A msgid with a context is "context\u{4}msgid": keep the msgid.
        let id = id.rsplit('\u{4}').next().unwrap_or(&id).to_owned();
        if !id.is_empty() && !tr.is_empty() {
            out.push((id, tr));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a little-endian `.mo` file from pairs.
    fn mo(pairs: &[(&str, &str)]) -> Vec<u8> {
        let n = pairs.len() as u32;
        let mut head = Vec::new();
        for w in [0x9504_12de, 0, n, 28, 28 + 8 * n, 0, 0] {
            head.extend_from_slice(&u32::to_le_bytes(w));
        }
        let mut strings = Vec::new();
        let mut tables = (Vec::new(), Vec::new());
        let base = 28 + 16 * n;
        for (table, side) in [(&mut tables.0, 0), (&mut tables.1, 1)] {
            for p in pairs {
                let s = if side == 0 { p.0 } else { p.1 };
                table.extend_from_slice(&(s.len() as u32).to_le_bytes());
                table.extend_from_slice(&(base + strings.len() as u32).to_le_bytes());
                strings.extend_from_slice(s.as_bytes());
                strings.push(0);
            }
        }
        [head, tables.0, tables.1, strings].concat()
    }

    #[test]
    fn reads_pairs_and_skips_header() {
        let bytes = mo(&[
            ("", "Content-Type: text/plain"),
            ("Germany", "Deutschland"),
            ("France", ""),
        ]);
        assert_eq!(
            parse(&bytes).unwrap(),
            [("Germany".to_owned(), "Deutschland".to_owned())]
        );
        assert_eq!(parse(b"not a catalog"), None);
        assert_eq!(parse(&bytes[..20]), Some(vec![]));
    }
}
