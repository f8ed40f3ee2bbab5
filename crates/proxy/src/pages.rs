//! The proxy's own error responses: a readable page, never a blank body.

use crate::body::ProxyBody;
use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::{BodyExt, Full};

/// Marks responses the proxy made itself (not the app's), so the app's own
/// error pages can replace them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProxyMade;

/// Replaces the body of a proxy-made page, keeping status and headers.
pub(crate) fn with_body(response: Response<ProxyBody>, html: Vec<u8>) -> Response<ProxyBody> {
    let (parts, _) = response.into_parts();
    Response::from_parts(
        parts,
        Full::new(Bytes::from(html))
            .map_err(|never| match never {})
            .boxed(),
    )
}

/// A complete HTML error response for `status`, saying what happened.
pub(crate) fn error(status: StatusCode, explanation: &str) -> Response<ProxyBody> {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;color:#222}}</style></head>\
         <body><h1>{title}</h1><p>{explanation}</p></body></html>\n"
    );
    let body = Full::new(Bytes::from(html))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        "text/html; charset=utf-8".parse().expect("valid"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    response.extensions_mut().insert(ProxyMade);
    response
}
