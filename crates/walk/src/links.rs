//! The links one HTML page holds, found with a real HTML parser (the
//! html5ever tree builder behind `scraper`), resolved against the page's
//! URL or its `<base href>` as a browser would.

use scraper::{Html, Selector};
use url::Url;

/// Elements and the attribute that holds their link.
const LINKING: &[(&str, &str)] = &[
    ("a[href]", "href"),
    ("area[href]", "href"),
    ("link[href]", "href"),
    ("script[src]", "src"),
    ("img[src]", "src"),
    ("iframe[src]", "src"),
    ("source[src]", "src"),
    ("form[action]", "action"),
];

/// The http(s) links in `html`, resolved against `page` (or the page's
/// `<base href>`), without fragments, in document order, each once.
/// `mailto:`, `javascript:`, `data:` and the like are left out, and so is a
/// link to a fragment of the page itself.
pub fn links(page: &Url, html: &str) -> Vec<Url> {
    let document = Html::parse_document(html);
    let base = base_of(&document, page);
    let mut found: Vec<Url> = Vec::new();
    for (selector, attribute) in LINKING {
        let Ok(selector) = Selector::parse(selector) else {
            continue;
        };
        for element in document.select(&selector) {
            let Some(value) = element.value().attr(attribute) else {
                continue;
            };
            let value = value.trim();
            // A bare fragment is this page again; an empty action posts to it.
            if value.is_empty() || value.starts_with('#') {
                continue;
            }
            let Ok(mut url) = base.join(value) else {
                continue;
            };
            if !matches!(url.scheme(), "http" | "https") {
                continue;
            }
            url.set_fragment(None);
            if !found.contains(&url) {
                found.push(url);
            }
        }
    }
    found
}

/// The first `<base href>`, resolved against the page, else the page.
fn base_of(document: &Html, page: &Url) -> Url {
    let Ok(selector) = Selector::parse("base[href]") else {
        return page.clone();
    };
    document
        .select(&selector)
        .next()
        .and_then(|base| base.value().attr("href"))
        .and_then(|href| page.join(href.trim()).ok())
        .unwrap_or_else(|| page.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_resolve_and_non_http_links_are_left_out() {
        let page: Url = "http://shop.test/docs/guide/index.html".parse().unwrap();
        let html = r##"<html><head><link rel=stylesheet href="../style.css"><script src="/app.js"></script></head>
            <body><a href="intro.html#top">intro</a><a href="#here">here</a><a href="mailto:a@b">mail</a>
            <a href="javascript:void(0)">js</a><img src="//shop.test/logo.png"><form action="/search"></form>
            <a href="intro.html">again</a><a href="HTTP://other.test/x">other</a></body></html>"##;
        let found: Vec<String> = links(&page, html).iter().map(Url::to_string).collect();
        assert_eq!(
            found,
            [
                "http://shop.test/docs/guide/intro.html",
                "http://other.test/x",
                "http://shop.test/docs/style.css",
                "http://shop.test/app.js",
                "http://shop.test/logo.png",
                "http://shop.test/search",
            ]
        );
    }

    #[test]
    fn base_href_moves_relative_links() {
        let page: Url = "http://shop.test/a/b.html".parse().unwrap();
        let html = r#"<head><base href="/root/"></head><body><a href="c.html">c</a></body>"#;
        assert_eq!(
            links(&page, html),
            vec!["http://shop.test/root/c.html".parse::<Url>().unwrap()]
        );
    }
}
