//! How an SQLite connection waits for the write lock another connection holds.
//!
//! SQLite's own busy timeout (`sqlite3_busy_timeout`, which sqlx sets) sleeps 1, 2, 5, 10,
//! 15, 20, 25, … up to 100 ms between tries. A write transaction of a request or a job
//! holds the lock for about a millisecond, so a writer that finds it taken sleeps far
//! longer than it waits for, and under many small write transactions at once (sixteen
//! reminder jobs firing) the lock stands free most of the time while every waiter sleeps:
//! the tasks benchmark fired 150 reminders a second on one instance that way, using half a
//! core. This handler tries again after 50 µs, backing off to 1 ms, and gives up after
//! about the same five seconds.
//!
//! Written here rather than taken from a crate: it is one callback of SQLite's C API,
//! installed on sqlx's own connection handle (neither sqlx nor SeaORM exposes it).

use std::{ffi::c_void, os::raw::c_int, time::Duration};

use sea_orm::sqlx::{Error, SqliteConnection};

/// How long a writer waits for the lock before its statement fails with `SQLITE_BUSY`.
const GIVE_UP_AFTER_MICROS: u64 = 5_000_000;

/// Installs [`retry`] as `connection`'s busy handler (replacing the busy timeout).
pub(super) async fn install(connection: &mut SqliteConnection) -> Result<(), Error> {
    let mut handle = connection.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection sqlx holds locked for us; the callback is a plain
    // function that touches no state, so no argument pointer is needed.
    let code =
        unsafe { libsqlite3_sys::sqlite3_busy_handler(db, Some(retry), std::ptr::null_mut()) };
    if code != libsqlite3_sys::SQLITE_OK {
        return Err(Error::Protocol(format!(
            "sqlite3_busy_handler failed with code {code}"
        )));
    }
    Ok(())
}

/// SQLite calls this with how many times it already has for the same lock; nonzero means
/// "try again". It runs on sqlx's worker thread of the connection, so sleeping blocks
/// nothing else.
extern "C" fn retry(_: *mut c_void, tries: c_int) -> c_int {
    let tries = u64::try_from(tries).unwrap_or(0);
    if waited_micros(tries) >= GIVE_UP_AFTER_MICROS {
        return 0;
    }
    std::thread::sleep(Duration::from_micros(pause_micros(tries)));
    1
}

/// The pause before try `tries + 1`: 50 µs for the first 2 ms, 250 µs up to 52 ms, then 1 ms.
fn pause_micros(tries: u64) -> u64 {
    match tries {
        0..40 => 50,
        40..240 => 250,
        _ => 1_000,
    }
}

/// Roughly how long `tries` pauses took.
fn waited_micros(tries: u64) -> u64 {
    tries.min(40) * 50
        + tries.clamp(40, 240).saturating_sub(40) * 250
        + tries.saturating_sub(240) * 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_about_five_seconds_of_pauses() {
        let last = (0..)
            .find(|&t| waited_micros(t) >= GIVE_UP_AFTER_MICROS)
            .unwrap();
        let total: u64 = (0..last).map(pause_micros).sum();
        assert!((4_900_000..=5_100_000).contains(&total), "{total} µs");
    }
}
