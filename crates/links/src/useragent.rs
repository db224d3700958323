//! Classifies a `User-Agent` header into browser, OS, device class and bot-ness for click
//! analytics and device-based redirect rules.
//!
//! This runs once per recorded click (millions of them), so it is plain substring scanning
//! over a lowercased copy of the header kept on the stack — no regex, no allocation for any
//! header of ordinary length. It answers "which family", not "which version": the stats show
//! families, and versions would need a maintained database (uap-core) we chose not to carry.
//!
//! Order matters throughout, because user agents lie for compatibility: Edge, Opera and
//! Samsung Internet all say "Chrome", Chrome says "Safari", every iPhone says "like Mac OS X"
//! and Android says "Linux". The most specific token is always tested first.

/// A browser family, as stored in the database and shown in stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Browser {
    Chrome,
    Firefox,
    Safari,
    Edge,
    Opera,
    SamsungInternet,
    Other,
}

impl Browser {
    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Firefox => "firefox",
            Browser::Safari => "safari",
            Browser::Edge => "edge",
            Browser::Opera => "opera",
            Browser::SamsungInternet => "samsung_internet",
            Browser::Other => "other",
        }
    }
}

/// An operating system family, as stored in the database and shown in stats.
// `MacOs` and `ChromeOs` are the systems' names, not a repetition of the type's.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Os {
    Windows,
    MacOs,
    Ios,
    Android,
    Linux,
    ChromeOs,
    Other,
}

impl Os {
    pub fn as_str(self) -> &'static str {
        match self {
            Os::Windows => "windows",
            Os::MacOs => "mac_os",
            Os::Ios => "ios",
            Os::Android => "android",
            Os::Linux => "linux",
            Os::ChromeOs => "chrome_os",
            Os::Other => "other",
        }
    }
}

/// A device class, as stored in the database and shown in stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    Other,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Desktop => "desktop",
            Device::Mobile => "mobile",
            Device::Tablet => "tablet",
            Device::Bot => "bot",
            Device::Other => "other",
        }
    }
}

/// What a user agent says about the client. For bots `device` is [`Device::Bot`]; `browser`
/// and `os` still say what the bot claims to be (Googlebot's smartphone crawler claims
/// Chrome on Android), which is harmless because stats separate bots by `is_bot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agent {
    pub browser: Browser,
    pub os: Os,
    pub device: Device,
    pub is_bot: bool,
}

/// Classifies a `User-Agent` header value. Never fails: unknown parts are `Other`.
pub fn classify(user_agent: &str) -> Agent {
    let user_agent = user_agent.trim();
    // A browser always sends a user agent; no header (or an empty one) is a script.
    if user_agent.is_empty() {
        return Agent {
            browser: Browser::Other,
            os: Os::Other,
            device: Device::Bot,
            is_bot: true,
        };
    }

    // Every token below is matched case-insensitively, so lowercase once. Ordinary headers
    // fit the stack buffer; only an abnormally long one (an attacker's, usually) costs a heap
    // allocation, which is rare enough not to matter and keeps every token visible (Edge's
    // "Edg/" is at the very end, so truncating would misclassify).
    let mut stack = [0u8; 1024];
    let heap: Vec<u8>;
    let lower: &str = if user_agent.len() <= stack.len() {
        let buf = &mut stack[..user_agent.len()];
        buf.copy_from_slice(user_agent.as_bytes());
        buf.make_ascii_lowercase();
        // ASCII lowercasing leaves non-ASCII bytes untouched, so the bytes are still UTF-8.
        std::str::from_utf8(buf).unwrap_or_default()
    } else {
        heap = user_agent.to_ascii_lowercase().into_bytes();
        std::str::from_utf8(&heap).unwrap_or_default()
    };

    let os = os(lower);
    let is_bot = is_bot(lower);
    let device = if is_bot {
        Device::Bot
    } else {
        device(lower, os)
    };
    Agent {
        browser: browser(lower, os),
        os,
        device,
        is_bot,
    }
}

/// The device class that redirect rules match on: `"ios"`, `"android"`, `"desktop"` or
/// `"other"`. iOS and Android are told by the OS (phones and tablets alike, since both get
/// the same app store link); desktop is any non-bot desktop device.
pub fn rule_device(agent: &Agent) -> &'static str {
    match agent.os {
        Os::Ios => "ios",
        Os::Android => "android",
        _ if agent.device == Device::Desktop && !agent.is_bot => "desktop",
        _ => "other",
    }
}

/// Tokens of named crawlers, link-preview fetchers and HTTP libraries, lowercase. Most named
/// crawlers also match the generic tokens below; they are listed anyway so that the list
/// documents what we know we must catch and survives edits to the generic rule.
const BOT_TOKENS: &[&str] = &[
    "googlebot",
    "bingbot",
    "slackbot",
    "twitterbot",
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "discordbot",
    "whatsapp",
    "telegrambot",
    "linkedinbot",
    "applebot",
    "duckduckbot",
    "yandexbot",
    "baiduspider",
    "ahrefsbot",
    "semrushbot",
    "mastodon",
    // Generic words crawlers put in their names.
    "crawler",
    "spider",
    "preview",
    // HTTP libraries and headless browsers: scripts, not people.
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "headlesschrome",
];

fn is_bot(ua: &str) -> bool {
    BOT_TOKENS.iter().any(|token| ua.contains(token)) || has_bot_word(ua)
}

/// The generic "bot" token, at the end of a word ("Googlebot/2.1", "Pinterestbot",
/// "bot@example.com"). Plain `contains("bot")` would flag Cubot phones ("CUBOT X30"), and
/// the end-of-word rule alone would not, hence the named exception.
fn has_bot_word(ua: &str) -> bool {
    ua.match_indices("bot").any(|(at, _)| {
        let word_ends = !ua[at + 3..]
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic());
        word_ends && !ua[..at].ends_with("cu")
    })
}

fn os(ua: &str) -> Os {
    // Windows Phone also claims Android and iPhone; it is a (dead) Windows.
    if ua.contains("windows phone") {
        Os::Windows
    // Before macOS: iPhones say "like Mac OS X". iPadOS 13+ in its default desktop mode
    // sends exactly the macOS Safari user agent ("Macintosh; Intel Mac OS X"); it cannot be
    // told apart without JavaScript (touch points), so such iPads count as macOS desktops.
    } else if ua.contains("iphone") || ua.contains("ipad") || ua.contains("ipod") {
        Os::Ios
    // Before Linux: Android says "Linux; Android".
    } else if ua.contains("android") {
        Os::Android
    } else if ua.contains("windows") {
        Os::Windows
    // Before Linux: "X11; CrOS x86_64". The trailing space keeps "microsoft" from matching.
    } else if ua.contains("cros ") {
        Os::ChromeOs
    } else if ua.contains("macintosh") || ua.contains("mac os x") {
        Os::MacOs
    } else if ua.contains("linux") {
        Os::Linux
    } else {
        Os::Other
    }
}

/// Chromium-based browsers that are none of the families we report and would otherwise be
/// counted as Chrome because they carry its token.
const OTHER_CHROMIUM: &[&str] = &[
    "yabrowser/",
    "vivaldi/",
    "ucbrowser/",
    "miuibrowser/",
    "huaweibrowser/",
    "duckduckgo/",
];

fn browser(ua: &str, os: Os) -> Browser {
    // Each of these carries "Chrome/" (and "Safari/"), so they are tested before Chrome.
    if ua.contains("samsungbrowser/") {
        Browser::SamsungInternet
    // Edge: "Edg/" on desktop, "EdgA/" on Android, "EdgiOS/" on iOS, "Edge/" for legacy Edge.
    } else if ua.contains("edg/")
        || ua.contains("edga/")
        || ua.contains("edgios/")
        || ua.contains("edge/")
    {
        Browser::Edge
    // Opera: "OPR/" (Chromium), "OPiOS/" and "OPT/" (iOS), "Opera" (Presto, Opera Mini).
    } else if ua.contains("opr/")
        || ua.contains("opios/")
        || ua.contains("opt/")
        || ua.contains("opera")
    {
        Browser::Opera
    } else if OTHER_CHROMIUM.iter().any(|token| ua.contains(token)) {
        Browser::Other
    // "CriOS/" and "FxiOS/" are Chrome and Firefox on iOS (WebKit underneath, Safari token too).
    } else if ua.contains("firefox/") || ua.contains("fxios/") {
        Browser::Firefox
    } else if ua.contains("chrome/") || ua.contains("crios/") || ua.contains("chromium/") {
        Browser::Chrome
    // Real Safari says "Version/x Safari/y". In-app web views on iOS lack "Version/" and old
    // Android stock browsers have both, so those are not Safari.
    } else if ua.contains("safari/") && ua.contains("version/") && os != Os::Android {
        Browser::Safari
    } else {
        Browser::Other
    }
}

fn device(ua: &str, os: Os) -> Device {
    match os {
        Os::Ios if ua.contains("ipad") => Device::Tablet,
        Os::Ios => Device::Mobile,
        // Android phones say "Mobile" (Firefox: "Android 14; Mobile; rv:"), tablets do not.
        Os::Android if ua.contains("mobile") => Device::Mobile,
        Os::Android => Device::Tablet,
        Os::Windows if ua.contains("windows phone") => Device::Mobile,
        Os::Windows | Os::MacOs | Os::Linux | Os::ChromeOs => Device::Desktop,
        // KaiOS, Firefox OS, HarmonyOS and the like still say what they are.
        Os::Other if ua.contains("tablet") => Device::Tablet,
        Os::Other if ua.contains("mobile") => Device::Mobile,
        Os::Other => Device::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(ua: &str, browser: Browser, os: Os, device: Device) {
        let agent = classify(ua);
        assert_eq!(
            agent,
            Agent {
                browser,
                os,
                device,
                is_bot: false
            },
            "{ua}"
        );
    }

    #[track_caller]
    fn check_bot(ua: &str) {
        let agent = classify(ua);
        assert!(agent.is_bot, "not a bot: {ua}");
        assert_eq!(agent.device, Device::Bot, "{ua}");
        assert_ne!(rule_device(&agent), "desktop", "{ua}");
    }

    #[test]
    fn desktop_browsers() {
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            Browser::Chrome,
            Os::Windows,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            Browser::Chrome,
            Os::MacOs,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            Browser::Chrome,
            Os::Linux,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            Browser::Firefox,
            Os::Windows,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
            Browser::Firefox,
            Os::MacOs,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            Browser::Firefox,
            Os::Linux,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
            Browser::Safari,
            Os::MacOs,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            Browser::Chrome,
            Os::ChromeOs,
            Device::Desktop,
        );
    }

    #[test]
    fn chromium_based_browsers_are_not_counted_as_chrome() {
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
            Browser::Edge,
            Os::Windows,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
            Browser::Edge,
            Os::MacOs,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
            Browser::Opera,
            Os::Windows,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            Browser::SamsungInternet,
            Os::Android,
            Device::Mobile,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36",
            Browser::Other,
            Os::Windows,
            Device::Desktop,
        );
    }

    #[test]
    fn apple_mobile_devices() {
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
            Browser::Safari,
            Os::Ios,
            Device::Mobile,
        );
        // iPad in mobile mode (iPadOS < 13, or "Request Mobile Website").
        check(
            "Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
            Browser::Safari,
            Os::Ios,
            Device::Tablet,
        );
        // iPadOS 13+ by default: byte for byte a Mac; counted as one (see `os`).
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
            Browser::Safari,
            Os::MacOs,
            Device::Desktop,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
            Browser::Chrome,
            Os::Ios,
            Device::Mobile,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
            Browser::Firefox,
            Os::Ios,
            Device::Mobile,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/124.2478.50 Mobile/15E148 Safari/605.1.15",
            Browser::Edge,
            Os::Ios,
            Device::Mobile,
        );
        // An in-app web view (Instagram) has no "Version/ ... Safari/" and is not Safari.
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 327.1.6.30.88",
            Browser::Other,
            Os::Ios,
            Device::Mobile,
        );
    }

    #[test]
    fn android_phones_and_tablets() {
        check(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
            Browser::Chrome,
            Os::Android,
            Device::Mobile,
        );
        // Tablets leave out "Mobile".
        check(
            "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36",
            Browser::Chrome,
            Os::Android,
            Device::Tablet,
        );
        check(
            "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
            Browser::Firefox,
            Os::Android,
            Device::Mobile,
        );
        check(
            "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
            Browser::Firefox,
            Os::Android,
            Device::Tablet,
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.64",
            Browser::Edge,
            Os::Android,
            Device::Mobile,
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 OPR/81.1.4292.78661",
            Browser::Opera,
            Os::Android,
            Device::Mobile,
        );
        // A Cubot phone: its model name contains "bot" but it is a person's phone.
        check(
            "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
            Browser::Chrome,
            Os::Android,
            Device::Mobile,
        );
        // Old stock browser: "Version/4.0 ... Safari" on Android is not Safari.
        check(
            "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; GT-I9100 Build/IML74K) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
            Browser::Other,
            Os::Android,
            Device::Mobile,
        );
    }

    #[test]
    fn crawlers_and_link_preview_fetchers_are_bots() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Twitterbot/1.0",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "WhatsApp/2.23.20.0 A",
            "TelegramBot (like TwitterBot)",
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
            "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
            "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
            "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
            "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
            "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
            "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
            "http.rb/5.1.1 (Mastodon/4.2.8; +https://mastodon.social/)",
        ] {
            check_bot(ua);
        }
    }

    #[test]
    fn http_libraries_and_headless_browsers_are_bots() {
        for ua in [
            "curl/8.5.0",
            "Wget/1.21.4",
            "python-requests/2.31.0",
            "Go-http-client/2.0",
            "okhttp/4.12.0",
            "Java/17.0.10",
            "libwww-perl/6.72",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
        ] {
            check_bot(ua);
        }
    }

    #[test]
    fn missing_user_agent_is_a_bot() {
        for ua in ["", "   "] {
            assert_eq!(
                classify(ua),
                Agent {
                    browser: Browser::Other,
                    os: Os::Other,
                    device: Device::Bot,
                    is_bot: true
                }
            );
        }
    }

    #[test]
    fn bots_keep_the_browser_and_os_they_claim() {
        let agent = classify(
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        );
        assert_eq!(agent.browser, Browser::Chrome);
        assert_eq!(agent.os, Os::Android);
        assert_eq!(agent.device, Device::Bot);
        assert!(agent.is_bot);
    }

    #[test]
    fn matching_ignores_case_and_survives_long_headers() {
        check(
            "MOZILLA/5.0 (WINDOWS NT 10.0; WIN64; X64; RV:125.0) GECKO/20100101 FIREFOX/125.0",
            Browser::Firefox,
            Os::Windows,
            Device::Desktop,
        );
        // Longer than the stack buffer, with the deciding token at the very end.
        let long = format!(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) {} Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
            "x".repeat(2000)
        );
        check(&long, Browser::Edge, Os::Windows, Device::Desktop);
        // Non-ASCII bytes are left alone rather than breaking the scan.
        check(
            "Mozilla/5.0 (Linux; Android 14; Ünïcødé) Chrome/124.0.0.0 Mobile Safari/537.36",
            Browser::Chrome,
            Os::Android,
            Device::Mobile,
        );
    }

    #[test]
    fn rule_devices() {
        let rule = |ua: &str| rule_device(&classify(ua));
        assert_eq!(
            rule(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
            ),
            "ios"
        );
        assert_eq!(
            rule(
                "Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1"
            ),
            "ios"
        );
        assert_eq!(
            rule(
                "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36"
            ),
            "android"
        );
        assert_eq!(
            rule(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
            ),
            "desktop"
        );
        assert_eq!(rule("curl/8.5.0"), "other");
        assert_eq!(rule("HeadlessChrome/124 (X11; Linux x86_64)"), "other");
        assert_eq!(
            rule("Mozilla/5.0 (PlayStation 5 3.20) AppleWebKit/605.1.15"),
            "other"
        );
    }

    #[test]
    fn names_are_the_stored_snake_case_values() {
        assert_eq!(Browser::SamsungInternet.as_str(), "samsung_internet");
        assert_eq!(Browser::Edge.as_str(), "edge");
        assert_eq!(Os::MacOs.as_str(), "mac_os");
        assert_eq!(Os::ChromeOs.as_str(), "chrome_os");
        assert_eq!(Os::Ios.as_str(), "ios");
        assert_eq!(Device::Tablet.as_str(), "tablet");
        assert_eq!(Device::Bot.as_str(), "bot");
    }
}
