//! Social login (GitHub and Google) end to end against `testkit::FakeOAuthProvider`: the
//! test plays the browser, following each redirect by hand and carrying cookies itself, so
//! every hop (our 303 to the provider, its 302 back, our 303 onward) is checked.

use std::collections::HashMap;

use chrono::{TimeDelta, Utc};
use platform::{
    Config,
    auth::{oauth::state_entity, user},
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url, header};
use sea_orm_migration::sea_orm::{
    ColumnTrait, Database, EntityTrait, QueryFilter, sea_query::Expr,
};
use serde_json::{Value, json};
use testkit::{Consent, FakeOAuthProvider, FakeUser, assert_problem, oauth::s256};

use crate::helpers::{
    TestApp, as_basic, as_bearer, create_key, get_json, make_admin, register, spawn_app,
    spawn_app_with,
};

fn use_fake_github(config: &mut Config, fake: &FakeOAuthProvider) {
    config.oauth_github_client_id = Some(fake.client_id().into());
    config.oauth_github_client_secret = Some(fake.client_secret().into());
    config.oauth_github_authorize_url = fake.url("/authorize");
    config.oauth_github_token_url = fake.url("/token");
    config.oauth_github_user_url = fake.url("/user");
    config.oauth_github_emails_url = fake.url("/user/emails");
}

fn use_fake_google(config: &mut Config, fake: &FakeOAuthProvider) {
    config.oauth_google_client_id = Some(fake.client_id().into());
    config.oauth_google_client_secret = Some(fake.client_secret().into());
    config.oauth_google_authorize_url = fake.url("/authorize");
    config.oauth_google_token_url = fake.url("/token");
    config.oauth_google_userinfo_url = fake.url("/userinfo");
}

/// The app with GitHub login pointed at `fake`.
async fn github_app(fake: &FakeOAuthProvider) -> TestApp {
    spawn_app_with(|c| use_fake_github(c, fake)).await
}

/// The `name=value` of the `Set-Cookie` for `name`, and the whole header.
fn set_cookie(response: &Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap().to_owned();
            (pair, v.to_owned())
        })
}

fn location(response: &Response) -> Url {
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    Url::parse(location).unwrap_or_else(|e| panic!("Location {location:?}: {e}"))
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Where `start` sent the browser, and the state cookie it set.
struct Started {
    authorize: Url,
    /// `capstone_oauth_state=...`, ready for a `Cookie` header.
    cookie: String,
}

impl Started {
    fn param(&self, name: &str) -> String {
        query(&self.authorize).remove(name).unwrap_or_default()
    }
}

/// `GET /start`: a 303 to the fake's authorize page, with PKCE and a state cookie.
async fn start(app: &TestApp, provider: &str, fake: &FakeOAuthProvider) -> Started {
    let response = app
        .get(&format!("/api/v1/auth/oauth/{provider}/start"))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let authorize = location(&response);
    assert!(
        authorize.as_str().starts_with(&fake.url("/authorize?")),
        "{authorize}"
    );
    let (cookie, full) = set_cookie(&response, "capstone_oauth_state").expect("a state cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        &format!("Path=/api/v1/auth/oauth/{provider}"),
    ] {
        assert!(full.contains(attribute), "{full} lacks {attribute}");
    }
    let started = Started { authorize, cookie };
    assert_eq!(started.param("response_type"), "code");
    assert_eq!(started.param("client_id"), fake.client_id());
    assert_eq!(
        started.param("redirect_uri"),
        format!("{}/api/v1/auth/oauth/{provider}/callback", app.base)
    );
    assert_eq!(started.param("code_challenge_method"), "S256");
    assert_eq!(
        started.param("code_challenge").len(),
        43,
        "base64url of 32 bytes, no padding"
    );
    let state = started.param("state");
    assert!(state.len() >= 32, "state {state:?}");
    assert_eq!(
        started.cookie,
        format!("capstone_oauth_state={state}"),
        "the cookie holds the state"
    );
    started
}

/// The browser at the fake's consent page: the URL of the callback it is sent back to.
async fn authorize(app: &TestApp, started: &Started) -> Url {
    let response = app
        .http
        .get(started.authorize.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "the fake redirects back"
    );
    let back = location(&response);
    assert!(back.as_str().starts_with(&app.base), "{back}");
    assert_eq!(query(&back)["state"], started.param("state"));
    back
}

/// `GET` the callback URL, with `cookie` if given.
async fn callback(app: &TestApp, url: &Url, cookie: Option<&str>) -> Response {
    let mut request = app.http.get(url.clone());
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// The whole flow as a browser runs it; returns the callback's answer.
async fn sign_in(app: &TestApp, provider: &str, fake: &FakeOAuthProvider) -> Response {
    let started = start(app, provider, fake).await;
    let back = authorize(app, &started).await;
    callback(app, &back, Some(&started.cookie)).await
}

/// Asserts a successful sign-in (303 onward with a session) and returns the session cookie.
fn signed_in(response: &Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/");
    let (session, full) = set_cookie(response, "capstone_session").expect("a session cookie");
    assert!(full.contains("HttpOnly"), "{full}");
    assert!(set_cookie(response, "capstone_csrf").is_some());
    let (cleared, _) = set_cookie(response, "capstone_oauth_state").expect("state cleared");
    assert_eq!(cleared, "capstone_oauth_state=");
    session
}

async fn me(app: &TestApp, session: &str) -> Value {
    let response = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .header(header::COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn assert_not_signed_in(response: Response, status: StatusCode) -> Value {
    assert!(set_cookie(&response, "capstone_session").is_none());
    assert_problem(response, status).await
}

#[tokio::test]
async fn a_new_user_signs_in_with_github_and_gets_an_account() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;

    let started = start(&app, "github", &fake).await;
    assert_eq!(started.param("scope"), "read:user user:email");
    let back = authorize(&app, &started).await;
    let response = callback(&app, &back, Some(&started.cookie)).await;
    let session = signed_in(&response);

    let user = me(&app, &session).await;
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["display_name"], "ann (fake)");
    assert_eq!(user["role"], "member");

    // PKCE was really used: the verifier we sent hashes to the challenge the fake saw.
    let exchange = &fake.token_requests()[0];
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(
        s256(&exchange["code_verifier"]),
        started.param("code_challenge")
    );
    assert_eq!(exchange["redirect_uri"], started.param("redirect_uri"));
    assert!(
        fake.user_agents()
            .iter()
            .all(|agent| agent.starts_with("capstone/")),
        "{:?}",
        fake.user_agents()
    );

    // A social account has no password to sign in with.
    let basic = as_basic(&app, Method::GET, "/api/v1/me", "ann@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_in_again_with_the_same_identity_reaches_the_same_account() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let first = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;

    // The identity is the provider's id, not the email: a changed address is the same person.
    fake.set_user(FakeUser::new(4242, "ann.new@example.com"));
    let second = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(
        second["email"], "ann@example.com",
        "our account keeps its email"
    );

    // Another GitHub user is another account.
    fake.set_user(FakeUser::new(7, "bob@example.com"));
    let bob = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;
    assert_ne!(bob["id"], first["id"]);
}

#[tokio::test]
async fn a_verified_email_links_an_existing_password_account() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let id = register(&app, "Ann@Example.com").await;

    let user = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;
    assert_eq!(user["id"], id, "linked, not duplicated");
    assert_eq!(user["email_verified"], true, "the provider vouched for it");
    assert_eq!(
        user["display_name"], "Ann Example",
        "the account keeps its name"
    );
    let again = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;
    assert_eq!(again["id"], id);

    // The account's email had never been verified, so whoever registered it may not have
    // been its owner: the password set then no longer works.
    let basic = as_basic(&app, Method::GET, "/api/v1/me", "ann@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn linking_to_an_account_already_verified_keeps_its_password() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let id = register(&app, "ann@example.com").await;
    let db = Database::connect(&app._db.url).await.unwrap();
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(id))
        .exec(&db)
        .await
        .unwrap();

    let user = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;
    assert_eq!(user["id"], id);
    let basic = as_basic(&app, Method::GET, "/api/v1/me", "ann@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
}

/// A signed-in user sees which provider accounts sign in to theirs and can unlink one, but
/// never the last way in.
#[tokio::test]
async fn identities_are_listed_and_unlinked_but_never_the_last_way_in() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let identities = |auth: RequestBuilder| async move {
        let response = auth.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["items"].clone()
    };

    // Ann signed up with GitHub: no password, so GitHub is her only way in.
    let response = sign_in(&app, "github", &fake).await;
    let session = signed_in(&response);
    let (csrf, _) = set_cookie(&response, "capstone_csrf").expect("a CSRF cookie");
    let csrf = csrf.split_once('=').unwrap().1.to_owned();
    let as_ann = |method: Method, path: &str| {
        app.http
            .request(method, format!("{}{path}", app.base))
            .header(header::COOKIE, &session)
            .header("x-csrf-token", &csrf)
    };
    let listed = identities(as_ann(Method::GET, "/api/v1/me/identities")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["provider"], "github");
    assert_eq!(listed[0]["email"], "ann@example.com");
    let refused = as_ann(Method::DELETE, "/api/v1/me/identities/github")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, StatusCode::CONFLICT).await;
    assert_eq!(problem["errors"][0]["field"], "provider", "{problem}");
    signed_in(&sign_in(&app, "github", &fake).await);

    // Bob has a verified address and a password, and linked GitHub: he can unlink it.
    let bob = register(&app, "bob@example.com").await;
    let db = Database::connect(&app._db.url).await.unwrap();
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(bob))
        .exec(&db)
        .await
        .unwrap();
    fake.set_user(FakeUser::new(7, "bob@example.com"));
    signed_in(&sign_in(&app, "github", &fake).await);
    let as_bob = |method| {
        as_basic(
            &app,
            method,
            "/api/v1/me/identities/github",
            "bob@example.com",
        )
    };
    // Not with an API key, even one that may write: keys do not manage the account.
    let key = create_key(
        &app,
        "bob@example.com",
        json!({"name": "ci", "scope": "write"}),
    )
    .await;
    let with_key = as_bearer(
        &app,
        Method::DELETE,
        "/api/v1/me/identities/github",
        key["key"].as_str().unwrap(),
    );
    assert_problem(with_key.send().await.unwrap(), StatusCode::FORBIDDEN).await;
    let unlinked = as_bob(Method::DELETE).send().await.unwrap();
    assert_eq!(unlinked.status(), StatusCode::NO_CONTENT);
    let listed = identities(as_basic(
        &app,
        Method::GET,
        "/api/v1/me/identities",
        "bob@example.com",
    ))
    .await;
    assert_eq!(listed, json!([]));
    assert_problem(
        as_bob(Method::DELETE).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    // Ann's link is hers alone.
    assert_eq!(
        identities(as_ann(Method::GET, "/api/v1/me/identities")).await[0]["provider"],
        "github"
    );
}

/// `POST /me/identities/{provider}` as `email`, then the browser's trip to the provider and
/// back: the callback's answer.
async fn link(app: &TestApp, email: &str) -> Response {
    let response = as_basic(app, Method::POST, "/api/v1/me/identities/github", email)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (cookie, full) = set_cookie(&response, "capstone_oauth_state").expect("a state cookie");
    assert!(full.contains("Path=/api/v1/auth/oauth/github"), "{full}");
    let body: Value = response.json().await.unwrap();
    let started = Started {
        authorize: Url::parse(body["authorize_url"].as_str().unwrap()).unwrap(),
        cookie,
    };
    assert_eq!(started.param("code_challenge_method"), "S256");
    let back = authorize(app, &started).await;
    callback(app, &back, Some(&started.cookie)).await
}

#[tokio::test]
async fn a_signed_in_user_links_a_provider_account_with_another_address() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    register(&app, "ann@example.com").await;
    register(&app, "bob@example.com").await;
    // Ann's GitHub account has another address, which GitHub has not even verified.
    let mut github_ann = FakeUser::new(42, "ann.codes@example.org");
    github_ann.email_verified = false;
    fake.set_user(github_ann);

    let linked = link(&app, "ann@example.com").await;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    assert_eq!(linked.headers()[header::LOCATION], "/");
    assert!(
        set_cookie(&linked, "capstone_session").is_none(),
        "no new session: she is signed in already"
    );
    let identities = get_json(&app, "/api/v1/me/identities", "ann@example.com").await;
    assert_eq!(identities["items"][0]["provider"], "github", "{identities}");
    assert_eq!(identities["items"][0]["email"], "ann.codes@example.org");

    // From now on GitHub signs her in, to her account.
    let session = signed_in(&sign_in(&app, "github", &fake).await);
    assert_eq!(me(&app, &session).await["email"], "ann@example.com");
    // Linking it again changes nothing.
    assert_eq!(
        link(&app, "ann@example.com").await.status(),
        StatusCode::SEE_OTHER
    );

    // Bob cannot take the same GitHub account, and Ann cannot link a second one.
    let refused = link(&app, "bob@example.com").await;
    let problem = assert_not_signed_in(refused, StatusCode::CONFLICT).await;
    assert_eq!(problem["errors"][0]["field"], "provider", "{problem}");
    let bobs = get_json(&app, "/api/v1/me/identities", "bob@example.com").await;
    assert_eq!(bobs["items"], json!([]));
    fake.set_user(FakeUser::new(43, "ann@example.com"));
    assert_problem(link(&app, "ann@example.com").await, StatusCode::CONFLICT).await;

    // Not with an API key, not anonymously, not with a provider that is not configured.
    let key = create_key(
        &app,
        "ann@example.com",
        json!({"name": "ci", "scope": "write"}),
    )
    .await;
    let with_key = as_bearer(
        &app,
        Method::POST,
        "/api/v1/me/identities/github",
        key["key"].as_str().unwrap(),
    );
    assert_problem(with_key.send().await.unwrap(), StatusCode::FORBIDDEN).await;
    let anonymous = app
        .request(Method::POST, "/api/v1/me/identities/github")
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let google = as_basic(
        &app,
        Method::POST,
        "/api/v1/me/identities/google",
        "ann@example.com",
    );
    assert_problem(google.send().await.unwrap(), StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn an_unverified_provider_email_does_not_take_over_an_existing_account() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let id = register(&app, "ann@example.com").await;
    // The fake also lists a verified noreply address: only the primary one counts.
    fake.set_user(FakeUser::new(4242, "ann@example.com").unverified());

    let problem =
        assert_not_signed_in(sign_in(&app, "github", &fake).await, StatusCode::CONFLICT).await;
    assert_eq!(problem["errors"][0]["field"], "email", "{problem}");

    // The owner's account is untouched, and still theirs.
    let owner = as_basic(&app, Method::GET, "/api/v1/me", "ann@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), StatusCode::OK);
    let owner: Value = owner.json().await.unwrap();
    assert_eq!(owner["id"], id);
    assert_eq!(owner["email_verified"], false);
}

#[tokio::test]
async fn an_unverified_email_opens_an_unverified_account() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    fake.set_user(FakeUser::new(9, "cal@example.com").unverified());
    let user = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;
    assert_eq!(user["email"], "cal@example.com");
    assert_eq!(user["email_verified"], false);
}

#[tokio::test]
async fn declining_consent_is_403_and_signs_nobody_in() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    fake.set_consent(Consent::Deny);

    let started = start(&app, "github", &fake).await;
    let back = authorize(&app, &started).await;
    assert_eq!(query(&back)["error"], "access_denied");
    let response = callback(&app, &back, Some(&started.cookie)).await;
    let problem = assert_not_signed_in(response, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("declined"),
        "{problem}"
    );
    assert!(fake.token_requests().is_empty(), "no code was exchanged");
}

#[tokio::test]
async fn a_bad_missing_replayed_or_foreign_state_is_refused() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let started = start(&app, "github", &fake).await;
    let back = authorize(&app, &started).await;
    let code = query(&back)["code"].clone();
    let callback_path = "/api/v1/auth/oauth/github/callback";

    // No state at all.
    let response = app.get(&format!("{callback_path}?code={code}")).await;
    assert_not_signed_in(response, StatusCode::BAD_REQUEST).await;

    // A state we never issued, even with a matching cookie (a forged callback).
    let forged = "A".repeat(43);
    let mut url = Url::parse(&format!("{}{callback_path}", app.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &forged);
    let response = callback(&app, &url, Some(&format!("capstone_oauth_state={forged}"))).await;
    assert_not_signed_in(response, StatusCode::BAD_REQUEST).await;

    // The real callback URL, stolen and opened in another browser: no cookie, or another.
    let response = callback(&app, &back, None).await;
    assert_not_signed_in(response, StatusCode::BAD_REQUEST).await;
    let other = start(&app, "github", &fake).await;
    let response = callback(&app, &back, Some(&other.cookie)).await;
    assert_not_signed_in(response, StatusCode::BAD_REQUEST).await;
    assert!(
        fake.token_requests().is_empty(),
        "no code exchanged for a refused state"
    );

    // The browser that started it still can, once.
    signed_in(&callback(&app, &back, Some(&started.cookie)).await);
    let replay = callback(&app, &back, Some(&started.cookie)).await;
    assert_not_signed_in(replay, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let started = start(&app, "github", &fake).await;
    let back = authorize(&app, &started).await;

    // Eleven minutes at the provider.
    let db = Database::connect(&app._db.url).await.unwrap();
    let expired = state_entity::Entity::update_many()
        .col_expr(
            state_entity::Column::ExpiresAt,
            Expr::value(Utc::now() - TimeDelta::minutes(1)),
        )
        .exec(&db)
        .await
        .unwrap();
    assert_eq!(expired.rows_affected, 1, "one sign-in in progress");
    let response = callback(&app, &back, Some(&started.cookie)).await;
    assert_not_signed_in(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_state_is_good_only_for_the_provider_it_was_made_for() {
    let fake = FakeOAuthProvider::start().await;
    let app = spawn_app_with(|c| {
        use_fake_github(c, &fake);
        use_fake_google(c, &fake);
    })
    .await;
    let started = start(&app, "github", &fake).await;
    let back = authorize(&app, &started).await;
    let mut google = back.clone();
    google.set_path("/api/v1/auth/oauth/google/callback");
    let response = callback(&app, &google, Some(&started.cookie)).await;
    assert_not_signed_in(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_provider_without_credentials_answers_404() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/auth/oauth/github/start",
        "/api/v1/auth/oauth/github/callback?code=x&state=y",
        "/api/v1/auth/oauth/google/start",
    ] {
        assert_problem(app.get(path).await, StatusCode::NOT_FOUND).await;
    }

    // With GitHub configured, Google (not configured) and unknown providers stay 404.
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    for path in [
        "/api/v1/auth/oauth/google/start",
        "/api/v1/auth/oauth/gitlab/start",
    ] {
        assert_problem(app.get(path).await, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn a_google_style_provider_works_too() {
    let fake = FakeOAuthProvider::start().await;
    let app = spawn_app_with(|c| use_fake_google(c, &fake)).await;
    fake.set_user(FakeUser::new(1_000_001, "gail@example.com"));

    let started = start(&app, "google", &fake).await;
    assert_eq!(started.param("scope"), "openid email profile");
    let back = authorize(&app, &started).await;
    let session = signed_in(&callback(&app, &back, Some(&started.cookie)).await);
    let user = me(&app, &session).await;
    assert_eq!(user["email"], "gail@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["display_name"], "gail (fake)");

    let again = me(&app, &signed_in(&sign_in(&app, "google", &fake).await)).await;
    assert_eq!(again["id"], user["id"]);
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_a_provider() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    let ann = me(&app, &signed_in(&sign_in(&app, "github", &fake).await)).await;
    register(&app, "admin@example.com").await;
    make_admin(&app, "admin@example.com").await;
    let disable = as_basic(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/users/{}", ann["id"]),
        "admin@example.com",
    )
    .json(&json!({"disabled": true}))
    .send()
    .await
    .unwrap();
    assert_eq!(disable.status(), StatusCode::OK);

    let problem =
        assert_not_signed_in(sign_in(&app, "github", &fake).await, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("disabled"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_failing_provider_is_502_and_an_unreachable_one_503_without_internals() {
    let fake = FakeOAuthProvider::start().await;
    let app = github_app(&fake).await;
    fake.set_token_failure(Some(StatusCode::INTERNAL_SERVER_ERROR));
    let problem = assert_not_signed_in(
        sign_in(&app, "github", &fake).await,
        StatusCode::BAD_GATEWAY,
    )
    .await;
    let shown = problem.to_string();
    assert!(
        problem["detail"].as_str().unwrap().contains("GitHub"),
        "{shown}"
    );
    assert!(
        !shown.contains("127.0.0.1") && !shown.contains(fake.client_secret()),
        "{shown}"
    );

    // Nothing listens on the discard port: the connection is refused.
    let app = spawn_app_with(|c| {
        use_fake_github(c, &fake);
        c.oauth_github_token_url = "http://127.0.0.1:9/token".into();
    })
    .await;
    let response = sign_in(&app, "github", &fake).await;
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let problem = assert_not_signed_in(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(!problem.to_string().contains("127.0.0.1:9"), "{problem}");
}

#[tokio::test]
async fn the_routes_are_documented() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let start = &doc["paths"]["/api/v1/auth/oauth/{provider}/start"]["get"];
    assert!(start["responses"]["303"].is_object(), "{start}");
    let callback = &doc["paths"]["/api/v1/auth/oauth/{provider}/callback"]["get"];
    for status in ["303", "400", "403", "404", "409", "502", "503"] {
        assert!(
            callback["responses"][status].is_object(),
            "callback does not document {status}"
        );
    }
    assert_eq!(callback["tags"][0], "auth");
}
