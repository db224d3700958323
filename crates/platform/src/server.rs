//! The HTTP server: the platform's own routes (health, metrics, API docs), the middleware
//! stack every request goes through, and serving with a graceful shutdown.

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    middleware,
    response::{IntoResponse, Response},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::{ServiceBuilder, util::MapResponseLayer};
use tower_http::{
    catch_panic::CatchPanicLayer, compression::CompressionLayer, cors::CorsLayer,
    set_header::SetResponseHeaderLayer, timeout::TimeoutLayer,
};
use utoipa::{
    OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    config::Config,
    db,
    error::{AppError, Problem},
    http::{self, Json},
    observability,
};

pub use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Capstone",
        description = "Links (URL shortener with analytics), jobs (job board) and tasks \
            (to-do with due dates) on one platform.\n\nErrors are RFC 9457 \
            `application/problem+json` documents (schema `Problem`); a 422 lists every bad \
            field in `errors`. Lists are paged with `?limit=` and an opaque `?cursor=`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "platform", description = "Health, readiness and metrics"),
        (name = "auth", description = "Accounts and authentication. Four ways to authenticate, \
            one identity: HTTP Basic (scripts), a session cookie (browsers; send `x-csrf-token` \
            on unsafe requests), a JWT bearer token from `/api/v1/auth/token` (apps), and API \
            keys (`Authorization: Bearer cap_...`, integrations)."),
        (name = "admin", description = "Administration; the `admin` role only"),
        (name = "webhooks", description = "Signed webhooks (Standard Webhooks): events POSTed \
            with `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 \
            HMAC-SHA256 of id.timestamp.body>`, retried for about a day with the same \
            `webhook-id`."),
    ),
    components(schemas(Problem)),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

/// The answers every operation can get from the extractors, whatever its handler says:
/// 400 for a path parameter or body that does not parse, 413, 415 and 422 for a body, 422
/// for query parameters. Added to each operation that does not document them itself, so
/// that generated clients (and schemathesis) know every status they may see.
fn document_common_answers(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        Ref, RefOr, content::Content, path::ParameterIn, response::ResponseBuilder,
    };
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        for (writes, operation) in [
            (false, &mut item.get),
            (true, &mut item.put),
            (true, &mut item.post),
            (true, &mut item.delete),
            (true, &mut item.patch),
        ]
        .into_iter()
        .filter_map(|(writes, operation)| Some((writes, operation.as_mut()?)))
        {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let located = |place: ParameterIn| {
                parameters.iter().any(|p| match p {
                    RefOr::T(p) => p.parameter_in == place,
                    RefOr::Ref(_) => false,
                })
            };
            let (in_path, in_query) = (located(ParameterIn::Path), located(ParameterIn::Query));
            let body = operation.request_body.is_some();
            let mut answers = Vec::new();
            // Every operation that names a way to sign in refuses a caller without one.
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                answers.push(("401", "Not signed in, or credentials that do not check out"));
                if writes {
                    answers.push((
                        "403",
                        "Not allowed: a read-only API key, or a role too low for this",
                    ));
                }
            }
            if in_path || body {
                answers.push(("400", "A path parameter or the body does not parse"));
            }
            if body {
                answers.push(("413", "The body is larger than this server accepts"));
                answers.push(("415", "The body is not of a type this operation reads"));
            }
            if body || in_query {
                answers.push((
                    "422",
                    "Invalid fields or parameters, each named in `errors`",
                ));
            }
            for (status, description) in answers {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description).into());
            }
        }
    }
}

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /api/v1/auth/token`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("cap_...")
                    .description(Some("An API key from `POST /api/v1/me/api-keys`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::session::COOKIE,
                "Set by `POST /api/v1/auth/session`; unsafe requests also need `x-csrf-token`.",
            ))),
        );
    }
}

/// Builds the whole application: `api` (every app's routes, relative to `/api/v1`) under
/// `/api/v1`, the platform routes beside it, the docs, the apps' `public` routes outside
/// the API (a short link's redirect), and the middleware stack around all of them.
/// `unknown_paths` answers the paths no route knows, inside that stack: an app's handler
/// that notes the visit and answers as [`not_found`] does, or else [`not_found`].
pub fn router(
    state: AppState,
    api: OpenApiRouter<AppState>,
    public: Router,
    unknown_paths: Option<Router>,
) -> Router {
    // Installed before the first request, so that no request goes uncounted.
    observability::metrics::handle();
    let (app, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .nest("/api/v1", api)
        .split_for_parts();
    document_common_answers(&mut openapi);

    let docs = Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi)).layer(
        SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(http::security::DOCS_CSP),
        ),
    );

    let config = state.config.clone();
    // What only the API and the platform's pages need: compression and ETags of their
    // bodies, and CORS. The public routes (a redirect: no body) go without.
    // Writes sent with an `Idempotency-Key` answer once (`http::idempotency`).
    let mut api = app
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::idempotency::replay,
        ))
        .route("/metrics", axum::routing::get(metrics))
        .with_state(state)
        .merge(docs)
        .layer(
            ServiceBuilder::new()
                .layer(CompressionLayer::new())
                // Inside the compression, so that the tag is the same for every encoding.
                .layer(middleware::from_fn(http::etag::conditional)),
        );
    if let Some(cors) = cors(&config) {
        api = api.layer(cors);
    }
    // The apps' public routes: the same guarantees in one lean layer (see `http::visitors`).
    let visitors = public.layer(
        ServiceBuilder::new()
            .layer(http::visitors::VisitorLayer {
                request_timeout: config.request_timeout(),
            })
            .layer(DefaultBodyLimit::max(config.body_limit_bytes)),
    );
    // What every other request gets (unknown paths too, tracked lightly: see
    // `http::request`), as one layer: each `Router::layer` call boxes every route once more,
    // a clone and an allocation per request.
    let unknown_paths = unknown_paths.unwrap_or_else(|| Router::new().fallback(not_found));
    api.fallback_service(unknown_paths)
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(http::request::track))
                .layer(middleware::from_fn(http::problems::render))
                .layer(CatchPanicLayer::custom(|_| {
                    AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
                }))
                .layer(MapResponseLayer::new(http::security::apply))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    config.request_timeout(),
                ))
                .layer(DefaultBodyLimit::max(config.body_limit_bytes)),
        )
        .merge(visitors)
}

/// `None` (no CORS headers at all, so browsers refuse cross-origin calls) unless origins
/// are configured.
fn cors(config: &Config) -> Option<CorsLayer> {
    use tower_http::cors::{AllowOrigin, Any};
    if config.cors_allowed_origins.is_empty() {
        return None;
    }
    let origins = if config.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .cors_allowed_origins
                .iter()
                .filter_map(|o| o.parse().ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers(Any)
            .expose_headers([header::LOCATION, header::LINK, header::RETRY_AFTER])
            .max_age(Duration::from_secs(3600)),
    )
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
    /// `up` or `down`, when Redis is configured. Redis is optional, so an instance without
    /// it is still ready: it counts per process and its caches rely on their TTL meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
}

/// Liveness: the process is up and serving. Does not touch the database.
#[utoipa::path(get, path = "/healthz", tag = "platform", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        redis: None,
    })
}

/// Readiness: the database answers (and how Redis is, when configured). Load balancers
/// should route here.
#[utoipa::path(get, path = "/readyz", tag = "platform", responses(
    (status = 200, body = Health),
    (status = 503, description = "The database is unreachable", body = Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    if db::ping(&state.db, Duration::from_secs(2)).await {
        let redis = match state.shared.is_configured() {
            false => None,
            true if state.shared.ping().await => Some("up"),
            true => Some("down"),
        };
        Ok(Json(Health {
            status: "ready",
            redis,
        }))
    } else {
        Err(AppError::Unavailable {
            detail: "The database is unreachable.".into(),
            retry_after: Duration::from_secs(5),
        })
    }
}

/// An unknown path: a problem document, or a page for a browser outside the API (someone
/// who followed a mistyped short link, `/{slug}/more`). Also the links app's answer at `/`
/// without a root redirect.
pub async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    if !uri.path().starts_with("/api/") && http::page::wants_html(&headers) {
        return http::page::page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address.",
        );
    }
    AppError::NotFound.into_response()
}

/// Prometheus text format.
async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        observability::metrics::render(),
    )
        .into_response()
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops accepting
/// connections and lets in-flight requests finish, for at most `grace`.
///
/// A client gets `header_read_timeout` to send a request's head, on a new connection or the
/// next request on a kept-alive one; past it the connection is closed, so that clients that
/// open connections and send nothing, or a byte at a time, cannot hold them (and their
/// memory) for ever. hyper's own connection loop rather than `axum::serve`, which sets no
/// timer, so that hyper's header-read timeout can be set at all.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    use hyper::{body::Incoming, server::conn::http1};
    use hyper_util::{
        rt::{TokioIo, TokioTimer},
        server::graceful::GracefulShutdown,
        service::TowerToHyperService,
    };
    use tower::ServiceExt;

    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connections = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // the listener itself is fine, so wait a moment and go on.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        // Each answer goes out as soon as it is written. With Nagle's algorithm on, a
        // response written in more than one piece (headers, then a body streamed or
        // compressed in chunks) holds its last piece until the client acknowledges the
        // first, and clients delay that acknowledgement by up to 40 ms.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY on a connection");
        }
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request.map(axum::body::Body::new)
            });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(?grace, "requests still running after the shutdown grace period; closing them");
        }
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what `docker stop` and systemd send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
