//! A fake OAuth 2.0 provider on 127.0.0.1, speaking enough of GitHub's and Google's
//! dialects for the app's social login to be tested end to end, with no network.
//!
//! | Path           | Plays                                                   |
//! |----------------|---------------------------------------------------------|
//! | `/authorize`   | the consent page: redirects back with `code` or `error` |
//! | `/token`       | the token endpoint (checks the client and PKCE)         |
//! | `/user`        | GitHub's `GET /user`                                    |
//! | `/user/emails` | GitHub's `GET /user/emails`                             |
//! | `/userinfo`    | Google's OpenID Connect userinfo                        |
//!
//! It is strict where a real provider is, so that a mistake in the app fails a test
//! rather than production: the token endpoint refuses a wrong client secret, a code used
//! twice, a `redirect_uri` that differs from the authorize request's, and a `code_verifier`
//! whose S256 hash is not the `code_challenge` it was shown; like GitHub, it answers a form
//! rather than JSON unless asked for JSON; and the user endpoints want the access token it
//! issued and (as GitHub's API does) a `User-Agent`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::{net::TcpListener, task::JoinHandle};

pub const CLIENT_ID: &str = "fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret";

/// The person signed in at the fake provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// GitHub's numeric `id`; Google's `sub` is the same number as a string.
    pub id: u64,
    /// GitHub's `login`.
    pub login: String,
    pub name: Option<String>,
    pub email: String,
    /// Whether the provider vouches for `email` (GitHub: the primary address's `verified`;
    /// Google: `email_verified`).
    pub email_verified: bool,
}

impl FakeUser {
    /// A user with a verified email and a name.
    pub fn new(id: u64, email: &str) -> Self {
        let login = email.split('@').next().unwrap_or("user").to_owned();
        Self {
            id,
            name: Some(format!("{login} (fake)")),
            login,
            email: email.to_owned(),
            email_verified: true,
        }
    }

    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }
}

/// What the consent page does when the browser arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// The user agrees: back to `redirect_uri` with `code` and `state`.
    Grant,
    /// The user declines: back with `error=access_denied` and `state`.
    Deny,
}

struct Grant {
    redirect_uri: String,
    code_challenge: String,
    user: FakeUser,
}

struct Inner {
    user: FakeUser,
    consent: Consent,
    /// When set, the token endpoint answers this status (a provider outage).
    token_failure: Option<StatusCode>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, FakeUser>,
    authorize_requests: Vec<HashMap<String, String>>,
    token_requests: Vec<HashMap<String, String>>,
    user_agents: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The fake provider, serving until dropped.
pub struct FakeOAuthProvider {
    addr: SocketAddr,
    inner: Shared,
    task: JoinHandle<()>,
}

impl Drop for FakeOAuthProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOAuthProvider {
    /// Starts on a free port of 127.0.0.1, with a verified user `ann@example.com` who
    /// grants consent.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            user: FakeUser::new(4242, "ann@example.com"),
            consent: Consent::Grant,
            token_failure: None,
            codes: HashMap::new(),
            tokens: HashMap::new(),
            authorize_requests: Vec::new(),
            token_requests: Vec::new(),
            user_agents: Vec::new(),
        }));
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .route("/userinfo", get(google_userinfo))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake OAuth provider");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The absolute URL of `path` on the fake (`url("/token")`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub fn client_id(&self) -> &'static str {
        CLIENT_ID
    }

    pub fn client_secret(&self) -> &'static str {
        CLIENT_SECRET
    }

    /// Who signs in from now on.
    pub fn set_user(&self, user: FakeUser) {
        self.lock().user = user;
    }

    pub fn set_consent(&self, consent: Consent) {
        self.lock().consent = consent;
    }

    /// Makes the token endpoint fail with `status` (or work again, with `None`).
    pub fn set_token_failure(&self, status: Option<StatusCode>) {
        self.lock().token_failure = status;
    }

    /// The query of every authorize request, oldest first.
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.lock().authorize_requests.clone()
    }

    /// The form of every token request, oldest first.
    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.lock().token_requests.clone()
    }

    /// The `User-Agent` of every call to the user-info endpoints.
    pub fn user_agents(&self) -> Vec<String> {
        self.lock().user_agents.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake provider state")
    }
}

fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// What an RFC 7636 server computes from the verifier: base64url(SHA-256(verifier)).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn authorize(
    State(inner): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().expect("fake provider state");
    inner.authorize_requests.push(query.clone());
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    // A real provider shows an error page rather than redirecting when the client or the
    // redirect is wrong: redirecting would make it an open redirector.
    if param("client_id") != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let Ok(mut back) = reqwest::Url::parse(param("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    if param("response_type") != "code"
        || param("state").is_empty()
        || param("code_challenge").is_empty()
        || param("code_challenge_method") != "S256"
    {
        back.query_pairs_mut()
            .append_pair("error", "invalid_request")
            .append_pair("state", param("state"));
        return Redirect::to(back.as_str()).into_response();
    }
    match inner.consent {
        Consent::Deny => {
            back.query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("state", param("state"));
        }
        Consent::Grant => {
            let code = random_token();
            let grant = Grant {
                redirect_uri: param("redirect_uri").to_owned(),
                code_challenge: param("code_challenge").to_owned(),
                user: inner.user.clone(),
            };
            inner.codes.insert(code.clone(), grant);
            back.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", param("state"));
        }
    }
    // 302, as GitHub and Google answer.
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

async fn token(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().expect("fake provider state");
    inner.token_requests.push(form.clone());
    if let Some(status) = inner.token_failure {
        return (status, "the fake provider is down").into_response();
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let refuse = |status: StatusCode, error: &str| {
        (
            status,
            Json(json!({ "error": error, "error_description": error })),
        )
            .into_response()
    };
    if field("grant_type") != "authorization_code" {
        return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // Single use: taken out whatever happens next.
    let Some(grant) = inner.codes.remove(field("code")) else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if grant.redirect_uri != field("redirect_uri") {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let verifier = field("code_verifier");
    if verifier.len() < 43 || s256(verifier) != grant.code_challenge {
        return refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access_token = format!("fake_{}", random_token());
    inner.tokens.insert(access_token.clone(), grant.user);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        Json(json!({ "access_token": access_token, "token_type": "bearer", "scope": "" }))
            .into_response()
    } else {
        // GitHub's default, which a client that forgets `Accept` cannot read as JSON.
        (
            [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
            format!("access_token={access_token}&token_type=bearer&scope="),
        )
            .into_response()
    }
}

/// The user behind the request's bearer token, or the refusal to send.
fn user_for(inner: &Shared, headers: &HeaderMap) -> Result<FakeUser, (StatusCode, &'static str)> {
    let mut inner = inner.lock().expect("fake provider state");
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if agent.is_empty() {
        return Err((StatusCode::FORBIDDEN, "a User-Agent header is required"));
    }
    inner.user_agents.push(agent);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    inner
        .tokens
        .get(token)
        .cloned()
        .ok_or((StatusCode::UNAUTHORIZED, "bad credentials"))
}

async fn github_user(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    match user_for(&inner, &headers) {
        // The public profile email is often null; the app must read /user/emails.
        Ok(user) => Json(json!({
            "id": user.id,
            "login": user.login,
            "name": user.name,
            "email": null,
        }))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn github_emails(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    match user_for(&inner, &headers) {
        // Besides the primary address, GitHub always lists a verified `noreply` one: an app
        // that takes any verified address rather than the primary gets this one wrong.
        Ok(user) => Json(json!([
            {
                "email": format!("{}+{}@users.noreply.github.com", user.id, user.login),
                "primary": false,
                "verified": true,
                "visibility": null,
            },
            {
                "email": user.email,
                "primary": true,
                "verified": user.email_verified,
                "visibility": "private",
            },
        ]))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn google_userinfo(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    match user_for(&inner, &headers) {
        Ok(user) => Json(json!({
            "sub": user.id.to_string(),
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
        }))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}
