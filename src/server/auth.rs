//! The access token check, as carta_backend does it: the token may come from the `carta-auth-token` cookie,
//! an `Authorization: Bearer` header, the `token` query parameter, or carta-controller's `carta-auth-token`
//! header. Compared in constant time.

use actix_web::HttpRequest;

/// Constant-time equality, so the comparison does not leak how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_token(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "token").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the request carries the expected token (always true when no token is required).
pub fn authorized(req: &HttpRequest, expected: Option<&str>) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let mut candidates: Vec<String> = Vec::new();
    if let Some(c) = req.cookie("carta-auth-token") {
        candidates.push(c.value().to_string());
    }
    if let Some(h) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = h.strip_prefix("Bearer ") {
            candidates.push(t.trim().to_string());
        }
    }
    if let Some(t) = query_token(req.query_string()) {
        candidates.push(t);
    }
    if let Some(h) = req
        .headers()
        .get("carta-auth-token")
        .and_then(|v| v.to_str().ok())
    {
        candidates.push(h.trim().to_string());
    }
    candidates.iter().any(|c| same(c, expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn token_sources() {
        let t = Some("abc-123");
        assert!(authorized(
            &TestRequest::with_uri("/?token=abc-123").to_http_request(),
            t
        ));
        assert!(authorized(
            &TestRequest::with_uri("/?a=1&token=abc%2D123").to_http_request(),
            t
        ));
        assert!(!authorized(
            &TestRequest::with_uri("/?token=abc-124").to_http_request(),
            t
        ));
        assert!(!authorized(
            &TestRequest::with_uri("/").to_http_request(),
            t
        ));
        let bearer = TestRequest::with_uri("/").insert_header(("Authorization", "Bearer abc-123"));
        assert!(authorized(&bearer.to_http_request(), t));
        let cookie =
            TestRequest::with_uri("/").insert_header(("Cookie", "x=1; carta-auth-token=abc-123"));
        assert!(authorized(&cookie.to_http_request(), t));
        let proxy = TestRequest::with_uri("/").insert_header(("carta-auth-token", "abc-123"));
        assert!(authorized(&proxy.to_http_request(), t));
        assert!(authorized(
            &TestRequest::with_uri("/").to_http_request(),
            None
        ));
    }
}
