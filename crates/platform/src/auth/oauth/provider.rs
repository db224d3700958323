//! The providers' side of social login: where to send the browser, how to trade a code for
//! an access token, and how to read who the user is. Everything that differs between GitHub
//! and Google is here; the flow in [`super`] does not ask which one it talks to.

use std::fmt;

use axum::http::header;
use reqwest::Url;
use sea_orm::entity::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};

use crate::{
    auth::user::Email,
    config::Config,
    error::{AppError, AppResult},
    outbound,
};

/// A provider we can sign in with; stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ProviderKind {
    #[sea_orm(string_value = "github")]
    GitHub,
    #[sea_orm(string_value = "google")]
    Google,
}

impl ProviderKind {
    /// The provider named in a URL path (`/auth/oauth/{provider}/...`).
    pub fn from_path(name: &str) -> Option<Self> {
        match name {
            "github" => Some(Self::GitHub),
            "google" => Some(Self::Google),
            _ => None,
        }
    }

    /// As in URLs and in the database.
    pub fn slug(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Google => "google",
        }
    }

    /// As shown to people (in problem details and logs).
    pub fn name(self) -> &'static str {
        match self {
            Self::GitHub => "GitHub",
            Self::Google => "Google",
        }
    }

    /// The least we need: who the user is, and a verified email address.
    fn scope(self) -> &'static str {
        match self {
            Self::GitHub => "read:user user:email",
            Self::Google => "openid email profile",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An enabled provider: its credentials and endpoints, from the configuration.
pub struct Provider {
    pub kind: ProviderKind,
    client_id: String,
    client_secret: SecretString,
    authorize_url: String,
    token_url: String,
    /// GitHub: `/user`; Google: the OpenID Connect userinfo endpoint.
    user_url: String,
    /// GitHub only: `/user/emails`, the one place that says which address is verified.
    emails_url: Option<String>,
}

/// Who the provider says the user is.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The provider's stable id for the person (GitHub's numeric id, Google's `sub`); an
    /// email can change hands, this cannot.
    pub subject: String,
    pub email: Option<Email>,
    /// Whether the provider has checked that the person controls `email`. Only then may
    /// the identity be attached to an existing account with that email.
    pub email_verified: bool,
    /// Names to show, best first (a full name, then a login).
    pub names: Vec<String>,
}

impl Provider {
    /// The provider if it is enabled: both its client id and secret are set (non-empty).
    pub fn enabled(config: &Config, kind: ProviderKind) -> Option<Self> {
        let (id, secret) = credentials(config, kind);
        let client_id = id.filter(|id| !id.trim().is_empty())?.trim().to_owned();
        let client_secret = secret.filter(|s| !s.expose_secret().trim().is_empty())?;
        let (authorize_url, token_url, user_url, emails_url) = match kind {
            ProviderKind::GitHub => (
                &config.oauth_github_authorize_url,
                &config.oauth_github_token_url,
                &config.oauth_github_user_url,
                Some(config.oauth_github_emails_url.clone()),
            ),
            ProviderKind::Google => (
                &config.oauth_google_authorize_url,
                &config.oauth_google_token_url,
                &config.oauth_google_userinfo_url,
                None,
            ),
        };
        Some(Self {
            kind,
            client_id,
            client_secret: client_secret.clone(),
            authorize_url: authorize_url.clone(),
            token_url: token_url.clone(),
            user_url: user_url.clone(),
            emails_url,
        })
    }

    /// Where to send the browser: the authorization request of RFC 6749 §4.1.1, with the
    /// PKCE challenge of RFC 7636 §4.3.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str, code_challenge: &str) -> Url {
        let mut url = Url::parse(&self.authorize_url)
            .expect("authorize URLs are checked when the configuration is loaded");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", self.kind.scope())
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }

    /// Trades the one-time `code` for an access token (RFC 6749 §4.1.3). The verifier proves
    /// that we are the client that started this sign-in, even if the code was intercepted.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> AppResult<SecretString> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: Option<String>,
            error: Option<String>,
        }
        let response = http
            .post(&self.token_url)
            // GitHub answers a form unless asked for JSON.
            .header(header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", &self.client_id),
                ("client_secret", self.client_secret.expose_secret()),
                ("code_verifier", code_verifier),
            ])
            .send()
            .await
            .map_err(|e| outbound::failure(self.kind.name(), &e))?;
        let answer: TokenAnswer = read_json(self.kind, "token", response).await?;
        match answer {
            TokenAnswer {
                access_token: Some(token),
                ..
            } if !token.is_empty() => Ok(SecretString::from(token)),
            // GitHub reports a refused code (expired, used, wrong verifier) with 200 and an
            // `error` field rather than with 400.
            TokenAnswer { error, .. } => {
                tracing::warn!(provider = %self.kind, error = ?error, "code exchange refused");
                Err(self.refused())
            }
        }
    }

    /// Reads the signed-in person's id, email (and whether it is verified) and name.
    pub async fn profile(
        &self,
        http: &reqwest::Client,
        token: &SecretString,
    ) -> AppResult<Profile> {
        match self.kind {
            ProviderKind::GitHub => self.github_profile(http, token).await,
            ProviderKind::Google => self.google_profile(http, token).await,
        }
    }

    async fn github_profile(
        &self,
        http: &reqwest::Client,
        token: &SecretString,
    ) -> AppResult<Profile> {
        #[derive(Deserialize)]
        struct GitHubUser {
            id: u64,
            login: String,
            name: Option<String>,
            /// The public email, if the user chose one; its verification is not stated.
            email: Option<String>,
        }
        #[derive(Deserialize)]
        struct GitHubEmail {
            email: String,
            primary: bool,
            verified: bool,
        }
        let user: GitHubUser = self.get(http, &self.user_url, token).await?;
        let emails: Vec<GitHubEmail> = match &self.emails_url {
            Some(url) => self.get(http, url, token).await?,
            None => Vec::new(),
        };
        // The primary address, and only it: a secondary one (often a `noreply` address)
        // is not where the person wants mail, even when verified.
        let (email, email_verified) = match emails.into_iter().find(|e| e.primary) {
            Some(primary) => (Some(primary.email), primary.verified),
            None => (user.email, false),
        };
        Ok(Profile {
            subject: user.id.to_string(),
            email: email.and_then(|e| Email::parse(&e).ok()),
            email_verified,
            names: user.name.into_iter().chain([user.login]).collect(),
        })
    }

    async fn google_profile(
        &self,
        http: &reqwest::Client,
        token: &SecretString,
    ) -> AppResult<Profile> {
        #[derive(Deserialize)]
        struct GoogleUser {
            sub: String,
            email: Option<String>,
            #[serde(default, deserialize_with = "bool_or_string")]
            email_verified: bool,
            name: Option<String>,
        }
        let user: GoogleUser = self.get(http, &self.user_url, token).await?;
        if user.sub.is_empty() {
            tracing::warn!(provider = %self.kind, "userinfo without a subject");
            return Err(self.refused());
        }
        Ok(Profile {
            subject: user.sub,
            email: user.email.and_then(|e| Email::parse(&e).ok()),
            email_verified: user.email_verified,
            names: user.name.into_iter().collect(),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        http: &reqwest::Client,
        url: &str,
        token: &SecretString,
    ) -> AppResult<T> {
        let response = http
            .get(url)
            .bearer_auth(token.expose_secret())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| outbound::failure(self.kind.name(), &e))?;
        read_json(self.kind, "user info", response).await
    }

    fn refused(&self) -> AppError {
        AppError::BadGateway(format!(
            "{} did not complete the sign-in; please start again.",
            self.kind
        ))
    }
}

fn credentials(config: &Config, kind: ProviderKind) -> (Option<&String>, Option<&SecretString>) {
    match kind {
        ProviderKind::GitHub => (
            config.oauth_github_client_id.as_ref(),
            config.oauth_github_client_secret.as_ref(),
        ),
        ProviderKind::Google => (
            config.oauth_google_client_id.as_ref(),
            config.oauth_google_client_secret.as_ref(),
        ),
    }
}

/// The body of a successful answer as `T`; a non-2xx status or a body that is not the JSON
/// we expect is the provider's failure (502), logged with what it said.
async fn read_json<T: DeserializeOwned>(
    kind: ProviderKind,
    endpoint: &'static str,
    response: reqwest::Response,
) -> AppResult<T> {
    let status = response.status();
    if !status.is_success() {
        // An error body says why (`invalid_client`, a rate limit); it holds no token.
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(300).collect();
        tracing::warn!(provider = %kind, endpoint, %status, body, "provider answered with an error");
        return Err(AppError::BadGateway(format!(
            "{kind} answered with an error; please try again later."
        )));
    }
    response
        .json::<T>()
        .await
        .map_err(|e| outbound::failure(kind.name(), &e))
}

/// Google documents `email_verified` as a boolean, but older endpoints send `"true"`.
fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(d)? {
        Some(Flag::Bool(b)) => b,
        Some(Flag::Text(s)) => s.eq_ignore_ascii_case("true"),
        None => false,
    })
}

/// Checks the providers' settings (when authentication starts, and by
/// [`crate::state::check_settings`]): a provider is either
/// fully configured or not at all, and every endpoint is an absolute http(s) URL.
pub fn validate(config: &Config) -> Result<(), (&'static str, String)> {
    use secrecy::ExposeSecret;
    let set = |s: Option<&str>| s.is_some_and(|s| !s.trim().is_empty());
    for (kind, id_setting) in [
        (ProviderKind::GitHub, "oauth_github_client_id"),
        (ProviderKind::Google, "oauth_google_client_id"),
    ] {
        let (id, secret) = credentials(config, kind);
        if set(id.map(String::as_str)) != set(secret.map(|s| s.expose_secret())) {
            return Err((
                id_setting,
                format!(
                    "set both the client id and the client secret of {kind} to enable it, \
                     or neither to disable it"
                ),
            ));
        }
    }
    for (setting, url) in [
        (
            "oauth_github_authorize_url",
            &config.oauth_github_authorize_url,
        ),
        ("oauth_github_token_url", &config.oauth_github_token_url),
        ("oauth_github_user_url", &config.oauth_github_user_url),
        ("oauth_github_emails_url", &config.oauth_github_emails_url),
        (
            "oauth_google_authorize_url",
            &config.oauth_google_authorize_url,
        ),
        ("oauth_google_token_url", &config.oauth_google_token_url),
        (
            "oauth_google_userinfo_url",
            &config.oauth_google_userinfo_url,
        ),
    ] {
        let ok = Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !ok {
            return Err((
                setting,
                "must be an absolute http:// or https:// URL".into(),
            ));
        }
    }
    let after = &config.oauth_redirect_after_login;
    // A path on this server, or an absolute URL; never `//host` (another site, protocol-
    // relative) or a backslash that some browsers read as a slash.
    let local = after.starts_with('/') && !after.starts_with("//") && !after.contains('\\');
    let absolute = Url::parse(after).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !(local || absolute) {
        return Err((
            "oauth_redirect_after_login",
            "must be a path such as / or an absolute http:// or https:// URL".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(config: &mut Config) {
        config.oauth_github_client_id = Some("id".into());
        config.oauth_github_client_secret = Some("secret".into());
    }

    #[test]
    fn a_provider_is_enabled_by_both_credentials() {
        let mut config = Config::default();
        assert!(Provider::enabled(&config, ProviderKind::GitHub).is_none());
        assert!(validate(&config).is_ok(), "nothing configured is fine");
        config.oauth_github_client_id = Some("id".into());
        assert_eq!(validate(&config).unwrap_err().0, "oauth_github_client_id");
        assert!(Provider::enabled(&config, ProviderKind::GitHub).is_none());
        github(&mut config);
        assert!(validate(&config).is_ok());
        assert!(Provider::enabled(&config, ProviderKind::GitHub).is_some());
        assert!(Provider::enabled(&config, ProviderKind::Google).is_none());
    }

    #[test]
    // figment's Jail returns its own (large) error type; that is its API, not ours.
    #[allow(clippy::result_large_err)]
    fn credentials_come_from_the_environment_and_are_never_shown() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CAPSTONE_OAUTH_GITHUB_CLIENT_ID", "gh-id");
            let half = Config::load(None).unwrap();
            assert_eq!(validate(&half).unwrap_err().0, "oauth_github_client_id");

            jail.set_env("CAPSTONE_OAUTH_GITHUB_CLIENT_SECRET", "gh-secret");
            jail.set_env(
                "CAPSTONE_OAUTH_GITHUB_TOKEN_URL",
                "http://127.0.0.1:1/token",
            );
            let config = Config::load(None).unwrap();
            let github = Provider::enabled(&config, ProviderKind::GitHub).expect("enabled");
            assert_eq!(github.client_id, "gh-id");
            assert_eq!(github.token_url, "http://127.0.0.1:1/token");
            let shown = serde_json::to_value(&config).unwrap();
            assert_eq!(shown["oauth_github_client_secret"], "***");
            assert!(!format!("{config:?}").contains("gh-secret"));
            Ok(())
        });
    }

    #[test]
    fn endpoints_and_the_landing_page_are_checked() {
        let mut config = Config {
            oauth_google_token_url: "oauth2.googleapis.com/token".into(),
            ..Config::default()
        };
        assert_eq!(validate(&config).unwrap_err().0, "oauth_google_token_url");
        config.oauth_google_token_url = "http://127.0.0.1:9999/token".into();
        assert!(validate(&config).is_ok());
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "evil.example",
            "javascript:x",
        ] {
            config.oauth_redirect_after_login = bad.into();
            assert_eq!(
                validate(&config).unwrap_err().0,
                "oauth_redirect_after_login",
                "{bad}"
            );
        }
        for good in ["/", "/app?welcome=1", "https://app.example/signed-in"] {
            config.oauth_redirect_after_login = good.into();
            assert!(validate(&config).is_ok(), "{good}");
        }
    }

    #[test]
    fn the_authorize_url_carries_pkce_and_state() {
        let mut config = Config::default();
        github(&mut config);
        let provider = Provider::enabled(&config, ProviderKind::GitHub).unwrap();
        let url = provider.authorize_url("http://localhost/cb", "st", "ch");
        assert!(
            url.as_str()
                .starts_with("https://github.com/login/oauth/authorize?")
        );
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "id");
        assert_eq!(query["redirect_uri"], "http://localhost/cb");
        assert_eq!(query["scope"], "read:user user:email");
        assert_eq!(query["state"], "st");
        assert_eq!(query["code_challenge"], "ch");
        assert_eq!(query["code_challenge_method"], "S256");
    }

    #[test]
    fn email_verified_as_bool_or_text() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "bool_or_string")]
            v: bool,
        }
        let parse = |json: &str| serde_json::from_str::<T>(json).unwrap().v;
        assert!(parse(r#"{"v": true}"#));
        assert!(parse(r#"{"v": "true"}"#));
        assert!(!parse(r#"{"v": "false"}"#));
        assert!(!parse(r#"{}"#));
    }
}
