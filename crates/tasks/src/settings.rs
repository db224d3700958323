//! The tasks app's settings: the `[tasks]` table of the configuration
//! (`CAPSTONE_TASKS__<NAME>` in the environment).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Days a deleted task or project stays in the trash before it is purged.
    pub trash_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { trash_days: 30 }
    }
}

impl Settings {
    pub fn from_config(config: &platform::Config) -> anyhow::Result<Self> {
        let settings: Self = config.app_settings("tasks")?;
        anyhow::ensure!(
            (1..=3650).contains(&settings.trash_days),
            "tasks.trash_days must be between 1 and 3650"
        );
        Ok(settings)
    }
}
