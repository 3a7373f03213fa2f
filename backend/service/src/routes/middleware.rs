//! Security headers on every response, CORS limited to configured origins,
//! and per-client rate limits on writes and heavy endpoints.

use super::error_response;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Origins allowed to call the API from pages served elsewhere.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(pub Vec<String>);

/// The headers added to every response.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    pub csp: HeaderValue,
}

/// The Content-Security-Policy: the page's own scripts, styles, images and API
/// calls, WebAssembly compilation (`'wasm-unsafe-eval'`), and nothing else: no
/// other origin, no eval, no inline code except the inline scripts and styles
/// of the built `index.html`, allowed by their SHA-256 hashes.
pub fn content_security_policy(static_dir: &Path) -> String {
    let (scripts, styles) = std::fs::read_to_string(static_dir.join("index.html"))
        .map(|html| {
            (
                inline_hashes(&html, "script"),
                inline_hashes(&html, "style"),
            )
        })
        .unwrap_or_default();
    let join = |v: &[String]| v.iter().map(|h| format!(" '{h}'")).collect::<String>();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{}; style-src 'self'{}; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
        join(&scripts),
        join(&styles)
    )
}

/// `sha256-...` of the content of each inline `<tag>` element (no `src`).
fn inline_hashes(html: &str, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut from = 0;
    while let Some(i) = lower[from..].find(&open) {
        let start = from + i;
        let Some(gt) = lower[start..].find('>') else {
            break;
        };
        let attrs = &lower[start + open.len()..start + gt];
        let body_start = start + gt + 1;
        let Some(end) = lower[body_start..].find(&close) else {
            break;
        };
        let body = &html[body_start..body_start + end];
        if !attrs.contains("src=") && !body.trim().is_empty() {
            let digest = Sha256::digest(body.as_bytes());
            out.push(format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        from = body_start + end + close.len();
    }
    out
}

fn allowed_origin(req: &ServiceRequest) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    let allowed = req.app_data::<web::Data<AllowedOrigins>>()?;
    let o = origin.to_str().ok()?;
    allowed
        .0
        .iter()
        .any(|a| a.eq_ignore_ascii_case(o))
        .then(|| origin.clone())
}

/// CORS: preflights from configured origins get the allowed methods and
/// headers; others are refused (403). Responses to configured origins carry
/// `Access-Control-Allow-Origin`; other origins get no CORS header, so the
/// browser does not let their pages read the response.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let allow = allowed_origin(&req);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let res = match allow {
            Some(origin) => {
                let mut r = actix_web::HttpResponse::NoContent().finish();
                let h = r.headers_mut();
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, POST"),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("authorization, content-type"),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("3600"),
                );
                add_vary(h, "Origin");
                r
            }
            None => error_response(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "this origin may not call the API (configure allowed_origins)",
            ),
        };
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    if let Some(origin) = allow {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        add_vary(h, "Origin");
    }
    Ok(res.map_into_left_body())
}

/// Add `name` to the response's `Vary`, keeping what is there (gzip's
/// `accept-encoding`): a shared cache must key by both.
pub fn add_vary(h: &mut header::HeaderMap, name: &str) {
    let mut names: Vec<String> = h
        .get_all(header::VARY)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        names.push(name.to_string());
    }
    if let Ok(v) = HeaderValue::from_str(&names.join(", ")) {
        h.insert(header::VARY, v);
    }
}

/// Per-client rate limits (`limits::RateLimits`): `429 rate_limited` with
/// `Retry-After` (whole seconds) when a client has spent its budget.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let wait = req
        .app_data::<web::Data<crate::state::AppState>>()
        .and_then(|state| {
            let limits = state.limits.as_ref()?;
            let class =
                crate::limits::classify(req.method().as_str(), req.path(), req.query_string());
            let client = state.public.client_ip(req.peer_addr(), req.headers());
            limits.check(class, client).err()
        });
    if let Some(wait) = wait {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        let mut r = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from this address; retry in {secs} s"),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(req.into_response(r).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Security headers on every response (pages, files and API alike).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let csp = req
        .app_data::<web::Data<SecurityHeaders>>()
        .map(|s| s.csp.clone());
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    if let Some(csp) = csp {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_inline_scripts_only() {
        let html = r#"<html><head><script src="/a.js"></script>
<script type="module">import init from '/app.js'; init();</script>
<style>body{margin:0}</style></head></html>"#;
        let s = inline_hashes(html, "script");
        assert_eq!(s.len(), 1);
        let expect = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(b"import init from '/app.js'; init();"));
        assert_eq!(s[0], format!("sha256-{expect}"));
        assert_eq!(inline_hashes(html, "style").len(), 1);
    }

    #[test]
    fn csp_allows_wasm_and_nothing_else() {
        let csp = content_security_policy(Path::new("/nonexistent"));
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("'unsafe-eval'"));
        assert!(csp.starts_with("default-src 'none'"));
    }
}
