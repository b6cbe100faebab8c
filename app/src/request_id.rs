//! `X-Request-ID`: taken from the client when it is sane, generated (a UUID) otherwise, echoed
//! on every response, recorded on every log line (`telemetry`) and in every error body
//! (`error`). This module owns the header and the layers that set, keep and propagate it;
//! `startup` puts [`layer`] outermost, and the other middleware only read the id with [`of`].

use axum::extract::Request;
use axum::http::HeaderName;
use tower::layer::util::Stack;
use tower::util::MapRequestLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// `x-request-id`, the header the id travels in, both ways.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A client's request id longer than this, or with other characters than `[A-Za-z0-9._:-]`,
/// is replaced by a generated one (it ends up in logs).
const MAX_REQUEST_ID_LEN: usize = 128;

/// The request-id middleware, outermost first: drop an unusable client id, set one (a UUID)
/// if missing, copy it to the response.
pub type RequestIdLayer =
    Stack<PropagateRequestIdLayer, Stack<SetRequestIdLayer<MakeRequestUuid>, MapRequestLayer<fn(Request) -> Request>>>;

/// See [`RequestIdLayer`]. Every middleware inside it sees a request with a usable id.
pub fn layer() -> RequestIdLayer {
    let drop_unusable = MapRequestLayer::new(drop_unusable_request_id as fn(Request) -> Request);
    let set = SetRequestIdLayer::new(REQUEST_ID_HEADER.clone(), MakeRequestUuid);
    let propagate = PropagateRequestIdLayer::new(REQUEST_ID_HEADER.clone());
    // `Stack::new(inner, outer)`: `outer` wraps what `inner` made.
    Stack::new(propagate, Stack::new(set, drop_unusable))
}

/// The request's id (empty if it has none, which cannot happen inside [`layer`]).
pub fn of(request: &Request) -> String {
    request.headers().get(&REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// A client-sent `X-Request-ID` is kept only when short and plain; otherwise it is removed
/// and a fresh one is generated (it is written to every log line of the request).
fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = request.headers().get(&REQUEST_ID_HEADER).is_none_or(|v| is_usable(v.as_bytes()));
    if !usable {
        request.headers_mut().remove(&REQUEST_ID_HEADER);
    }
    request
}

fn is_usable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_plain_client_id_is_kept() {
        assert!(is_usable(b"client-id-42"));
        assert!(is_usable(b"a.b_c:D-9"));
        assert!(is_usable(&[b'x'; MAX_REQUEST_ID_LEN]));
    }

    #[test]
    fn an_empty_long_or_odd_client_id_is_replaced() {
        assert!(!is_usable(b""));
        assert!(!is_usable(&[b'x'; MAX_REQUEST_ID_LEN + 1]));
        assert!(!is_usable(b"a b"));
        assert!(!is_usable(b"a\"c"));
        assert!(!is_usable("é".as_bytes()));
    }

    #[test]
    fn the_id_is_read_from_the_header() {
        let request = Request::builder().header("x-request-id", "abc").body(axum::body::Body::empty()).unwrap();
        assert_eq!(of(&request), "abc");
        let none = Request::builder().body(axum::body::Body::empty()).unwrap();
        assert_eq!(of(&none), "");
        let usable = drop_unusable_request_id(request);
        assert_eq!(of(&usable), "abc");
        let odd = Request::builder().header("x-request-id", "a b").body(axum::body::Body::empty()).unwrap();
        assert_eq!(of(&drop_unusable_request_id(odd)), "");
    }
}
