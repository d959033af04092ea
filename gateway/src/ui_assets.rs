//! The web UI's files (`gateway/ui/`), embedded in the binary: no files to ship, no Node build.

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../ui/", $name)),
        }
    };
}

pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
    asset!("deploy.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("function.js", "text/javascript; charset=utf-8"),
    asset!("list.js", "text/javascript; charset=utf-8"),
    asset!("stats.js", "text/javascript; charset=utf-8"),
];

/// The file for a path below `/ui/`; the empty path is `index.html`.
pub fn find(path: &str) -> Option<&'static Asset> {
    let name = if path.is_empty() { "index.html" } else { path };
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).expect("utf-8");
            for line in text.lines() {
                if let Some(rest) = line.split("from './").nth(1) {
                    let module = rest.split('\'').next().unwrap_or_default();
                    assert!(find(module).is_some(), "{} imports {module}", asset.name);
                }
            }
        }
        assert!(find("").is_some());
        assert!(find("missing.js").is_none());
    }
}
