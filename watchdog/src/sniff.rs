//! The Content-Type Go's `http.ResponseWriter` picks for a body nobody typed: a small subset
//! of `http.DetectContentType` (HTML, XML, a few binary signatures, text vs binary).

/// Go looks at no more than the first 512 bytes.
const SNIFF_LEN: usize = 512;

const HTML_TAGS: &[&[u8]] = &[
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
];

const SIGNATURES: &[(&[u8], &str)] = &[
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    (b"\xFF\xD8\xFF", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1F\x8B\x08", "application/x-gzip"),
];

/// The Content-Type for `body`; `None` for an empty body (Go sets none then).
pub fn content_type(body: &[u8]) -> Option<&'static str> {
    if body.is_empty() {
        return None;
    }
    let head = &body[..body.len().min(SNIFF_LEN)];
    let start = head
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | 0x0C | b'\r' | b' '))
        .unwrap_or(head.len());
    let trimmed = &head[start..];
    if HTML_TAGS.iter().any(|tag| html_tag(trimmed, tag)) {
        return Some("text/html; charset=utf-8");
    }
    if trimmed.starts_with(b"<?xml") {
        return Some("text/xml; charset=utf-8");
    }
    if let Some((_, mime)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return Some(mime);
    }
    let binary = head
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F));
    Some(if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    })
}

/// Case-insensitive `tag` followed by a space or `>`, as Go's `htmlSig`.
fn html_tag(data: &[u8], tag: &[u8]) -> bool {
    data.len() > tag.len()
        && data[..tag.len()].eq_ignore_ascii_case(tag)
        && matches!(data[tag.len()], b' ' | b'>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &[u8], Option<&str>)] = &[
            ("empty", b"", None),
            ("text", b"Hello world\n", Some("text/plain; charset=utf-8")),
            (
                "json is text to Go",
                b"{\"a\":1}",
                Some("text/plain; charset=utf-8"),
            ),
            ("html", b"  <html><body>x", Some("text/html; charset=utf-8")),
            (
                "html comment",
                b"<!-- x -->",
                Some("text/html; charset=utf-8"),
            ),
            ("not a tag", b"<abc>", Some("text/plain; charset=utf-8")),
            (
                "xml",
                b"<?xml version=\"1.0\"?>",
                Some("text/xml; charset=utf-8"),
            ),
            ("png", b"\x89PNG\r\n\x1a\nrest", Some("image/png")),
            ("binary", b"\x00\x01\x02", Some("application/octet-stream")),
        ];
        for (name, body, want) in cases {
            assert_eq!(content_type(body), *want, "{name}");
        }
    }
}
