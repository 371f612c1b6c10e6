//! In-process tests of the edge: an axum Router wrapped the way the daemons wrap it, driven
//! with `tower::ServiceExt::oneshot`.

// Test helpers outside `#[test]` functions panic on purpose when the server misbehaves.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::extract::Extension;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use corral_http::{
    encode, message_response, ApiError, ApiRequest, BodyLimitLayer, Encoding, JsonpLayer,
    PathNormalizeLayer, PathRules, RequestedUri,
};
use http::header::{ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, ServiceBuilder, ServiceExt};

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
struct Call {
    #[prost(string, tag = "1")]
    #[serde(rename = "type")]
    kind: String,
    #[prost(bytes = "vec", tag = "2")]
    #[serde(default)]
    data: Vec<u8>,
}

const LIMIT: usize = 1024;

async fn api(request: ApiRequest) -> Result<Response, ApiError> {
    let negotiated = request.negotiated()?;
    let call: Call = request.decode()?;
    Ok(message_response(StatusCode::OK, negotiated.response, &call))
}

async fn state(Extension(requested): Extension<RequestedUri>) -> Response {
    corral_http::json_response(&serde_json::json!({ "requested": requested.0.to_string() }))
}

fn app() -> impl tower::Service<
    Request<Body>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    let router = Router::new()
        .route("/api/v1", any(api))
        .route("/api/v1/scheduler", any(api))
        .route("/state", get(state))
        .route("/frameworks", get(state))
        .route("/monitor/statistics", get(state))
        .route("/text", get(|| async { "plain" }))
        .route(
            "/bytes",
            any(|body: Bytes| async move { body.len().to_string() }),
        );
    ServiceBuilder::new()
        .layer(PathNormalizeLayer::new(PathRules::master()))
        .layer(JsonpLayer)
        .layer(BodyLimitLayer::new(LIMIT))
        .service(router)
}

fn post(
    path: &str,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header(CONTENT_TYPE, content_type);
    }
    if let Some(accept) = accept {
        builder = builder.header(ACCEPT, accept);
    }
    builder
        .header(CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap()
}

fn get_request(path: &str) -> Request<Body> {
    Request::builder().uri(path).body(Body::empty()).unwrap()
}

async fn send(request: Request<Body>) -> (StatusCode, http::HeaderMap, Bytes) {
    let response = app().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn text(bytes: &Bytes) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

const SUBSCRIBE: &[u8] = br#"{"type":"SUBSCRIBE","unknown":1}"#;

#[tokio::test]
async fn json_call_round_trips() {
    let (status, headers, body) = send(post(
        "/api/v1/scheduler",
        Some("application/json"),
        None,
        SUBSCRIBE.to_vec(),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "application/json");
    assert_eq!(text(&body), r#"{"type":"SUBSCRIBE","data":[]}"#);
}

#[tokio::test]
async fn protobuf_in_and_out() {
    let call = Call {
        kind: "TEARDOWN".into(),
        data: vec![1, 2],
    };
    let body = encode(Encoding::Protobuf, &call).to_vec();
    let (status, headers, body) = send(post(
        "/api/v1/scheduler",
        Some("application/x-protobuf"),
        Some("application/x-protobuf"),
        body,
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "application/x-protobuf");
    assert_eq!(
        corral_http::decode::<Call>(Encoding::Protobuf, &body).unwrap(),
        call
    );
}

#[tokio::test]
async fn method_must_be_post() {
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/scheduler")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[ALLOW], "POST");
}

#[tokio::test]
async fn content_type_rules() {
    let (status, _, body) = send(post("/api/v1", None, None, SUBSCRIBE.to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text(&body), "Expecting 'Content-Type' to be present");
    let (status, _, _) = send(post("/api/v1", Some("text/xml"), None, SUBSCRIBE.to_vec())).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let with_charset = Some("application/json; charset=utf-8");
    let (status, _, _) = send(post("/api/v1", with_charset, None, SUBSCRIBE.to_vec())).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn accept_rules() {
    let json = Some("application/json");
    for (accept, expected) in [
        (Some("*/*"), StatusCode::OK),
        (Some("application/*"), StatusCode::OK),
        (Some("text/html"), StatusCode::NOT_ACCEPTABLE),
    ] {
        let (status, _, _) = send(post("/api/v1", json, accept, SUBSCRIBE.to_vec())).await;
        assert_eq!(status, expected, "{accept:?}");
    }
}

#[tokio::test]
async fn bad_json_is_400_with_mesos_wording() {
    let (status, headers, body) = send(post(
        "/api/v1",
        Some("application/json"),
        None,
        br#"{"data":[]}"#.to_vec(),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[CONTENT_TYPE], "text/plain; charset=utf-8");
    let body = text(&body);
    assert!(
        body.starts_with("Failed to convert JSON into Call protobuf: "),
        "{body}"
    );
    assert!(body.contains("missing field `type`"), "{body}");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let big = vec![b' '; LIMIT + 1];
    // Declared length: refused before the handler runs.
    let (status, _, body) =
        send(post("/api/v1", Some("application/json"), None, big.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text(&body).contains("1024 bytes"), "{}", text(&body));

    // No declared length (as with chunked encoding): refused while reading.
    let mut request = post("/api/v1", Some("application/json"), None, big.clone());
    request.headers_mut().remove(CONTENT_LENGTH);
    let (status, _, _) = send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // axum's own extractors get the same limit (instead of their 2 MB default).
    let request = Request::builder()
        .method(Method::POST)
        .uri("/bytes")
        .body(Body::from(big))
        .unwrap();
    let (status, _, _) = send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // At the limit is fine.
    let mut exact = SUBSCRIBE.to_vec();
    exact.resize(LIMIT, b' ');
    let (status, _, _) = send(post("/api/v1", Some("application/json"), None, exact)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn path_aliases_reach_the_same_route() {
    for path in [
        "/state",
        "/master/state",
        "/state.json",
        "/master/state.json",
        "/master/state/",
    ] {
        let (status, headers, body) = send(get_request(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert_eq!(text(&body), format!(r#"{{"requested":"{path}"}}"#));
    }
    let (status, _, _) = send(get_request("/master/frameworks/")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(get_request("/monitor/statistics.json")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(get_request("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // pymesos's operator path falls back to /api/v1.
    let request = post(
        "/api/v1/operator",
        Some("application/json"),
        None,
        SUBSCRIBE.to_vec(),
    );
    let (status, _, _) = send(request).await;
    assert_eq!(status, StatusCode::OK);
    let request = post(
        "/master/api/v1/scheduler",
        Some("application/json"),
        None,
        SUBSCRIBE.to_vec(),
    );
    let (status, _, _) = send(request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn jsonp_wraps_legacy_get_endpoints() {
    let (status, headers, body) = send(get_request("/master/state.json?jsonp=cb")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "application/javascript");
    assert_eq!(
        text(&body),
        r#"cb({"requested":"/master/state.json?jsonp=cb"});"#
    );

    let (status, _, _) = send(get_request("/state?jsonp=alert(1)")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Non-JSON answers are left alone.
    let (_, headers, body) = send(get_request("/text?jsonp=cb")).await;
    assert_ne!(headers[CONTENT_TYPE], "application/javascript");
    assert_eq!(text(&body), "plain");
}

#[tokio::test]
async fn layer_order_does_not_matter_for_the_path_rewrite() {
    // Applying the path layer directly with `Layer::layer` works the same way.
    let router = Router::new().route("/state", get(|| async { "ok" }));
    let service = PathNormalizeLayer::new(PathRules::agent()).layer(router);
    let response = service
        .oneshot(get_request("/slave(1)/state"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_layer_replaces_axums_2mb_default() {
    let router = Router::new().route(
        "/bytes",
        any(|body: Bytes| async move { body.len().to_string() }),
    );
    let service = BodyLimitLayer::new(3 << 20).layer(router);
    let body = vec![b'x'; (5 << 20) / 2];
    let request = Request::builder()
        .method(Method::POST)
        .uri("/bytes")
        .body(Body::from(body))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn streamed_requests_are_capped_per_record_not_in_total() {
    async fn attach(body: Body) -> Result<String, ApiError> {
        let mut reader = corral_http::RecordIoReader::new(body, LIMIT);
        let mut count = 0;
        while let Some(_record) = reader
            .next_record()
            .await
            .map_err(|error| ApiError::BadRequest(error.to_string()))?
        {
            count += 1;
        }
        Ok(count.to_string())
    }
    let router = Router::new().route("/api/v1", any(attach));
    let service = BodyLimitLayer::new(LIMIT).layer(router);
    let record = corral_http::encode_record(&[b'x'; 500]);
    let body: Vec<u8> = std::iter::repeat_n(record.to_vec(), 10).flatten().collect();
    assert!(body.len() > LIMIT);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1")
        .header(CONTENT_TYPE, "application/recordio")
        .header("message-content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(text(&body), "10");

    let too_long = corral_http::encode_record(&vec![b'x'; LIMIT + 1]);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1")
        .header(CONTENT_TYPE, "application/recordio")
        .body(Body::from(too_long))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
