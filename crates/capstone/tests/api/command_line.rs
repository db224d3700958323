//! The command line beside `serve`: what an operator runs before and around a deploy.

use crate::helpers::{capstone_cli_with, spawn_app};

#[tokio::test]
async fn check_config_refuses_what_the_server_would_refuse() {
    let app = spawn_app().await;
    let valid = capstone_cli_with(&app, &["check-config"], &[]).await;
    let out = String::from_utf8_lossy(&valid.stdout);
    assert!(valid.status.success(), "{out}");
    assert!(out.contains("Configuration is valid"), "{out}");

    for (variable, value, named) in [
        ("CAPSTONE_LINKS__SLUG_LENGTH", "99", "links.slug_length"),
        (
            "CAPSTONE_LINKS__UNTRACKED_ADDRESSES",
            "[10.0.0.0/8, nonsense]",
            "links.untracked_addresses",
        ),
        (
            "CAPSTONE_LINKS__ROOT_REDIRECT",
            "javascript:alert(1)",
            "links.root_redirect",
        ),
        // Parsed by the services that use them, and checked before they start.
        ("CAPSTONE_JWT_KEYS", "k1:short", "jwt_keys"),
        ("CAPSTONE_MAIL_FROM", "not an address", "mail_from"),
        ("CAPSTONE_SMTP_URL", "ftp://mail.example.com", "smtp_url"),
        (
            "CAPSTONE_CLIENT_IP_HEADER",
            "not a header",
            "client_ip_header",
        ),
        (
            "CAPSTONE_OAUTH_GITHUB_CLIENT_ID",
            "only-the-id",
            "oauth_github_client_id",
        ),
        // A typo of a setting, and of an app's table.
        ("CAPSTONE_PROT", "8081", "`prot`"),
        ("CAPSTONE_LINSK__SLUG_LENGTH", "8", "`linsk`"),
    ] {
        let refused = capstone_cli_with(&app, &["check-config"], &[(variable, value)]).await;
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{variable}={value} passed");
        assert!(err.contains(named), "{variable}={value}: {err}");
    }
}

#[tokio::test]
async fn check_config_prints_no_secret_of_an_app() {
    let app = spawn_app().await;
    let printed = capstone_cli_with(
        &app,
        &["check-config"],
        &[
            ("CAPSTONE_LINKS__SAFETY_API_KEY", "sk-very-secret-value"),
            (
                "CAPSTONE_LINKS__SAFETY_ENDPOINT",
                "https://safebrowsing.example/v4",
            ),
        ],
    )
    .await;
    let out = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.status.success(), "{out}");
    assert!(!out.contains("sk-very-secret-value"), "{out}");
    assert!(out.contains("safety_api_key"), "{out}");
    // What is not a secret is shown as it is.
    assert!(out.contains("https://safebrowsing.example/v4"), "{out}");
}
